//! Regression tests for what fuzzing found: every input under
//! `tests/fixtures/hardening/<target>/` runs through the harness of the fuzz
//! target of that name (`fuzz/src/lib.rs`, shared with the fuzz targets), which
//! panics on a crash or a broken invariant. The harnesses also run over the
//! project's recordings, so their checks hold on real traffic too.

#[path = "../fuzz/src/lib.rs"]
mod harness;

use std::fs;
use std::path::{Path, PathBuf};

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Returns the harness of a fuzz target, by the target's name.
fn harness_of(target: &str) -> Option<fn(&[u8])> {
    use exflow::fingerprint::{App, http, imap, ldap, pop3, smtp, ssh, tls};

    Some(match target {
        "capture" => harness::capture,
        "pipeline" => harness::pipeline,
        "decode" => harness::decode,
        "reassembly" => harness::reassembly,
        "fingerprint_tls" => |data| harness::fingerprint::<tls::TlsParser>(App::Tls, data),
        "fingerprint_ssh" => |data| harness::fingerprint::<ssh::SshParser>(App::Ssh, data),
        "fingerprint_http" => |data| harness::fingerprint::<http::HttpParser>(App::Http, data),
        "fingerprint_smtp" => |data| harness::fingerprint::<smtp::SmtpParser>(App::Smtp, data),
        "fingerprint_imap" => |data| harness::fingerprint::<imap::ImapParser>(App::Imap, data),
        "fingerprint_pop3" => |data| harness::fingerprint::<pop3::Pop3Parser>(App::Pop3, data),
        "fingerprint_ldap" => |data| harness::fingerprint::<ldap::LdapParser>(App::Ldap, data),
        "fingerprint_dns" => harness::dns,
        _ => return None,
    })
}

fn files_in(directory: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(directory)
        .map(|entries| entries.map(|entry| entry.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn fuzz_findings_stay_fixed() {
    let fixtures = repository().join("tests/fixtures/hardening");
    let mut inputs = 0;
    for directory in files_in(&fixtures) {
        let target = directory
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let harness = harness_of(&target)
            .unwrap_or_else(|| panic!("{}: no fuzz target of that name", directory.display()));
        for input in files_in(&directory) {
            println!("{}", input.display());
            harness(&fs::read(&input).unwrap());
            inputs += 1;
        }
    }
    assert!(
        inputs >= 1,
        "no regression input under {}",
        fixtures.display()
    );
}

#[test]
fn harnesses_accept_recordings() {
    let captures: Vec<PathBuf> = files_in(&repository().join("captures"))
        .into_iter()
        .filter(|path| {
            let name = path.to_string_lossy();
            name.ends_with(".pcap") || name.ends_with(".pcapng")
        })
        .collect();
    assert!(captures.len() >= 3, "{captures:?}");
    for path in captures {
        let bytes = fs::read(&path).unwrap();
        harness::capture(&bytes);
        harness::pipeline(&bytes);
    }
}

#[test]
fn harnesses_accept_fingerprint_fixtures() {
    let fixtures = repository().join("tests/fixtures/fingerprint");
    let mut inputs = 0;
    for protocol in ["tls", "ssh", "http", "smtp", "imap", "pop3", "ldap", "dns"] {
        let harness = harness_of(&format!("fingerprint_{protocol}")).unwrap();
        for client in files_in(&fixtures.join(protocol)) {
            let name = client.to_string_lossy();
            let Some(stem) = name.strip_suffix(".client.bin") else {
                continue;
            };
            let client_bytes = fs::read(&client).unwrap();
            let server_bytes = fs::read(format!("{stem}.server.bin")).unwrap_or_default();
            // The fuzz input layout: client length, prefix growth step, bytes.
            let mut input = (client_bytes.len() as u16).to_le_bytes().to_vec();
            input.push(7);
            input.extend_from_slice(&client_bytes);
            input.extend_from_slice(&server_bytes);
            harness(&input);
            inputs += 1;
        }
    }
    assert!(inputs >= 30, "{inputs} fixtures");
}
