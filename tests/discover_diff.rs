//! `exflow rules diff`: two site files compared by meaning, in English and
//! Japanese, with exit status 0 when they agree, 1 when they differ and 2
//! when a file cannot be read or is invalid.

#[path = "common/cli.rs"]
mod cli;

use std::fs;
use std::path::Path;

use cli::{exflow, repo_path, stderr};

fn diff(first: &Path, second: &Path, lang: &str) -> (Option<i32>, String, String) {
    let output = exflow(&[
        "--lang",
        lang,
        "rules",
        "diff",
        first.to_str().unwrap(),
        second.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    (output.status.code(), stdout, stderr(&output))
}

/// Returns the lines of a diff after the `A:` and `B:` header.
fn body(stdout: &str) -> Vec<&str> {
    stdout.lines().skip(2).collect()
}

#[test]
fn example_sites_differ() {
    let first = repo_path("rules/site-edge.example.toml");
    let second = repo_path("rules/site-no-edge.example.toml");
    let (status, stdout, stderr) = diff(&first, &second, "en");
    assert_eq!(status, Some(1), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(
        stdout.lines().next(),
        Some(format!("A: {}", first.display()).as_str())
    );
    assert_eq!(
        body(&stdout),
        [
            "topology.edge_transport: A true, B false",
            "features.imap4: A false, B true",
            "features.pop3: A true, B false",
            "features.front_end_proxy: A false, B true",
            "roles.client_access: only in A: 10.20.0.10, 10.20.0.11, 2001:db8:20::10, 2001:db8:20::11",
            "roles.client_access: only in B: 192.168.10.10, 192.168.10.30, 2001:db8:10::10",
            "roles.mailbox: only in A: 10.20.0.10, 10.20.0.11, 2001:db8:20::10, 2001:db8:20::11",
            "roles.mailbox: only in B: 192.168.10.20, 192.168.10.21, 192.168.10.30, 2001:db8:10::20",
            "roles.edge_transport: only in A: 172.16.50.5, 2001:db8:50::5",
            "roles.dns: only in A: 10.20.0.2, 10.20.0.3",
            "roles.dns: only in B: 192.168.10.53, 2001:db8:10::53",
            "roles.domain_controller: only in A: 10.20.0.2, 10.20.0.3",
            "roles.domain_controller: only in B: 192.168.10.2",
            "roles.lync: only in A: 10.20.0.30",
            "roles.proxy: only in A: 172.16.50.8",
            "sender_reputation.proxy_ports: A 8080, B any port",
            "networks.internal: only in A: 10.0.0.0/8, 2001:db8:20::/48",
            "networks.internal: only in B: 192.168.0.0/16, 2001:db8:10::/48",
            "networks.perimeter: only in A: 172.16.50.0/24, 2001:db8:50::/48",
            "[[allow]] \"backup\": only in A",
            "[[allow]] \"monitoring\": only in A",
            "[[allow]] \"fax-relay\": only in B",
            "Differences: 22.",
        ]
    );
}

#[test]
fn same_file_agrees() {
    for name in [
        "rules/site-edge.example.toml",
        "rules/site-no-edge.example.toml",
        "captures/exchange-edge.site.toml",
    ] {
        let path = repo_path(name);
        let (status, stdout, stderr) = diff(&path, &path, "en");
        assert_eq!(status, Some(0), "{name}: {stderr}");
        assert_eq!(body(&stdout), ["The site files agree: no differences."]);
    }
}

#[test]
fn equal_meaning_agrees() {
    // The edge example rewritten: blocks split and merged, lists reordered,
    // a single address written as /32, ports written as a range, a proxy
    // port repeated, and the comments gone.
    let rewritten = r#"
[topology]
edge_transport = true
[features]
imap4 = false
pop3 = true
front_end_proxy = false
submission_on_port_25 = false
[roles]
client_access = ["2001:db8:20::10/127", "10.20.0.10/31"]
mailbox = ["10.20.0.11", "10.20.0.10/32", "2001:db8:20::11", "2001:db8:20::10"]
edge_transport = ["2001:db8:50::5", "172.16.50.5"]
dns = ["10.20.0.2/31"]
domain_controller = ["10.20.0.3", "10.20.0.2"]
lync = ["10.20.0.30"]
proxy = ["172.16.50.8"]
edge_subscribed_mailbox = []
[sender_reputation]
proxy_ports = [8080, 8080]
[networks]
internal = ["10.0.0.0/9", "10.128.0.0/9", "2001:db8:20::/48"]
perimeter = ["2001:db8:50::/48", "172.16.50.0/25", "172.16.50.128/25"]
[[allow]]
name = "monitoring"
from = ["10.40.0.0/29", "10.40.0.8/29"]
to = ["edge_transport", "mailbox", "client_access"]
ports = ["udp/161-161"]
[[allow]]
name = "backup"
from = ["2001:db8:40::5", "10.40.0.5"]
to = ["mailbox"]
ports = ["tcp/3260"]
"#;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rewritten.toml");
    fs::write(&path, rewritten).unwrap();
    let original = repo_path("rules/site-edge.example.toml");
    let (status, stdout, stderr) = diff(&original, &path, "en");
    assert_eq!(status, Some(0), "{stdout}{stderr}");
}

#[test]
fn allow_fields_and_settings_differ() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        fs::write(&path, text).unwrap();
        path
    };
    let first = write(
        "a.toml",
        r#"
[roles]
mailbox = ["10.0.0.20", "10.0.0.21"]
edge_transport = ["172.16.0.5"]
[topology]
edge_transport = true
[networks]
internal = ["10.0.0.0/16"]
perimeter = ["172.16.0.0/24"]
[[allow]]
name = "admin"
from = ["10.0.9.0/24", "internal"]
to = ["edge_transport"]
ports = ["tcp/22", "tcp/3389"]
"#,
    );
    let second = write(
        "b.toml",
        r#"
[roles]
mailbox = ["10.0.0.20", "10.0.0.21"]
edge_transport = ["172.16.0.5"]
edge_subscribed_mailbox = ["10.0.0.20"]
[topology]
edge_transport = true
[sender_reputation]
proxy_ports = [8080]
[networks]
internal = ["10.0.0.0/16"]
perimeter = ["172.16.0.0/24"]
[[allow]]
name = "admin"
from = ["10.0.9.0/25"]
to = ["edge_transport", "mailbox"]
ports = ["tcp/20-22"]
"#,
    );
    let (status, stdout, stderr) = diff(&first, &second, "en");
    assert_eq!(status, Some(1), "{stderr}");
    // The warning that proxy_ports has no proxy goes to standard error.
    assert!(stderr.contains("proxy_ports"), "{stderr}");
    assert_eq!(
        body(&stdout),
        [
            "roles.edge_subscribed_mailbox: A every Mailbox server, B 10.0.0.20",
            "sender_reputation.proxy_ports: A any port, B 8080",
            "allow.\"admin\".from: only in A: internal, 10.0.9.128/25",
            "allow.\"admin\".to: only in B: mailbox",
            "allow.\"admin\".ports: only in A: tcp/3389",
            "allow.\"admin\".ports: only in B: tcp/20-21",
            "Differences: 6.",
        ]
    );
}

#[test]
fn discovered_against_hand_written() {
    let dir = tempfile::tempdir().unwrap();
    let discovered = dir.path().join("discovered.toml");
    let capture = repo_path("captures/exchange-no-edge.pcap");
    let output = exflow(&[
        "discover",
        capture.to_str().unwrap(),
        "-o",
        discovered.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    let hand_written = repo_path("captures/exchange-no-edge.site.toml");
    let (status, stdout, stderr) = diff(&hand_written, &discovered, "en");
    assert_eq!(status, Some(1), "{stderr}");
    // Where the traffic departs from the documentation: IMAP and POP3 are in
    // use, 10.20.0.11 shows no Client Access behaviour, and the networks are
    // only the blocks the capture shows.
    assert_eq!(
        body(&stdout),
        [
            "features.imap4: A false, B true",
            "features.pop3: A false, B true",
            "roles.client_access: only in A: 10.20.0.11",
            "networks.internal: only in A: 10.20.1.0-10.20.255.255",
            "networks.perimeter: only in A: 172.16.50.0/24",
            "Differences: 5.",
        ]
    );

    let (status, stdout, _) = diff(&hand_written, &discovered, "ja");
    assert_eq!(status, Some(1));
    assert_eq!(
        body(&stdout),
        [
            "features.imap4: A は false、B は true",
            "features.pop3: A は false、B は true",
            "roles.client_access: A だけ: 10.20.0.11",
            "networks.internal: A だけ: 10.20.1.0-10.20.255.255",
            "networks.perimeter: A だけ: 172.16.50.0/24",
            "相違 5 件。",
        ]
    );
}

#[test]
fn japanese_agreement() {
    let path = repo_path("rules/site-no-edge.example.toml");
    let (status, stdout, _) = diff(&path, &path, "ja");
    assert_eq!(status, Some(0));
    assert_eq!(
        body(&stdout),
        ["2 つのサイト ファイルは一致しています (相違はありません)。"]
    );
}

#[test]
fn invalid_files_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    fs::write(&bad, "[roles]\nmailbox = [\"10.0.0.300\"]\ncas = []\n").unwrap();
    let good = repo_path("captures/exchange-edge.site.toml");

    let (status, stdout, stderr) = diff(&good, &bad, "en");
    assert_eq!(status, Some(2));
    assert!(stdout.is_empty(), "{stdout}");
    let bad_name = bad.display().to_string();
    assert!(stderr.contains(&format!("{bad_name}:2:")), "{stderr}");
    assert!(stderr.contains("10.0.0.300"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{bad_name}:3:1: error: roles.cas: unknown role `cas`"
        )),
        "{stderr}"
    );

    let missing = dir.path().join("missing.toml");
    let (status, _, stderr) = diff(&missing, &good, "en");
    assert_eq!(status, Some(2));
    assert!(
        stderr.contains(&format!("failed to read {}", missing.display())),
        "{stderr}"
    );
}
