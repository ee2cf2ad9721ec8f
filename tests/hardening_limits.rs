//! Caps that no other test overflows. Each test goes past the cap and checks
//! that the excess is dropped (and counted where the cap's documentation
//! promises it), and stays at or below the cap to check that nothing is lost.

use exflow::decode::Transport;
use exflow::fingerprint::ldap::{LdapParser, MAX_LDAP_MESSAGES};
use exflow::fingerprint::smtp::MAX_AUTH_MECHANISMS;
use exflow::fingerprint::ssh::{MAX_SSH_LINES_BEFORE_IDENT, SshParser};
use exflow::fingerprint::{
    App, AppInfo, Dissector, MAX_DNS_DATAGRAMS, MAX_PROBE_DATAGRAMS, MAX_PROBE_WINDOW, Progress,
    Side, StreamParser,
};
use exflow::policy::{MAX_POLICY_FILE_BYTES, Policy};

/// Runs an SMTP session whose server offers `count` AUTH mechanisms.
fn smtp_with_mechanisms(count: usize) -> AppInfo {
    let mechanisms: Vec<String> = (0..count).map(|n| format!("X-MECH-{n}")).collect();
    let server = format!(
        "220 mail.example.com ESMTP\r\n250-mail.example.com\r\n250 AUTH {}\r\n",
        mechanisms.join(" ")
    );
    let client = b"EHLO client.example.org\r\n";
    let mut dissector = Dissector::new(Transport::Tcp, [51_000, 25], Some(Side::Originator));
    dissector.on_stream(client, server.as_bytes());
    dissector.finish()
}

#[test]
fn smtp_auth_mechanisms_capped() {
    let at_cap = smtp_with_mechanisms(MAX_AUTH_MECHANISMS);
    assert_eq!(at_cap.app, App::Smtp);
    assert_eq!(at_cap.smtp.unwrap().auth_offered.len(), MAX_AUTH_MECHANISMS);
    assert_eq!(at_cap.truncated_fields, 0);

    let over = smtp_with_mechanisms(MAX_AUTH_MECHANISMS + 5);
    let offered = &over.smtp.as_ref().unwrap().auth_offered;
    assert_eq!(offered.len(), MAX_AUTH_MECHANISMS);
    assert_eq!(&*offered[0], b"X-MECH-0");
    assert_eq!(over.truncated_fields, 5);
}

/// Returns the server's SSH banner after `junk` lines before it.
fn ssh_banner_after(junk: usize) -> Option<Box<[u8]>> {
    let mut server = "Welcome\r\n".repeat(junk);
    server.push_str("SSH-2.0-OpenSSH_9.2\r\n");
    let mut info = AppInfo::default();
    SshParser::default().on_stream(b"SSH-2.0-client\r\n", server.as_bytes(), &mut info);
    info.ssh_banner
}

#[test]
fn ssh_lines_before_ident_capped() {
    let banner = ssh_banner_after(MAX_SSH_LINES_BEFORE_IDENT);
    assert_eq!(banner.as_deref(), Some(&b"SSH-2.0-OpenSSH_9.2"[..]));
    assert_eq!(ssh_banner_after(MAX_SSH_LINES_BEFORE_IDENT + 1), None);
}

/// Returns a DNS query for `example.net` (type A) with the given id.
fn dns_query(id: u16) -> Vec<u8> {
    let mut query = id.to_be_bytes().to_vec();
    query.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    query.extend_from_slice(b"\x07example\x03net\x00\x00\x01\x00\x01");
    query
}

#[test]
fn dns_datagrams_capped() {
    let mut dissector = Dissector::new(Transport::Udp, [53_000, 53], None);
    for n in 1..MAX_DNS_DATAGRAMS {
        let progress = dissector.on_datagram(Side::Originator, &dns_query(n as u16));
        assert_eq!(progress, Progress::NeedMore, "datagram {n}");
    }
    let last = dissector.on_datagram(Side::Originator, &dns_query(0));
    assert_eq!(last, Progress::Done, "datagram {MAX_DNS_DATAGRAMS}");
    let info = dissector.finish();
    assert_eq!(info.app, App::Dns);
    assert_eq!(&**info.dns.unwrap().qname.as_ref().unwrap(), b"example.net");
}

#[test]
fn probe_datagrams_capped() {
    // Queries cut inside their question: a plausible DNS header keeps the
    // probe unsure, and the dissector gives up after the cap.
    let mut dissector = Dissector::new(Transport::Udp, [40_000, 40_001], None);
    let cut = |n: u32| {
        let query = dns_query(n as u16);
        query[..query.len() - 3].to_vec()
    };
    for n in 1..MAX_PROBE_DATAGRAMS {
        let progress = dissector.on_datagram(Side::Originator, &cut(n));
        assert_eq!(progress, Progress::NeedMore, "datagram {n}");
    }
    let last = dissector.on_datagram(Side::Originator, &cut(MAX_PROBE_DATAGRAMS));
    assert_eq!(last, Progress::Done);
    assert_eq!(dissector.finish().app, App::Unknown);
}

/// Returns `count` LDAP abandonRequest messages (RFC 4511 section 4.11), each
/// 8 bytes: SEQUENCE { messageID 1, [APPLICATION 16] 5 }.
fn ldap_messages(count: usize) -> Vec<u8> {
    [0x30, 0x06, 0x02, 0x01, 0x01, 0x50, 0x01, 0x05].repeat(count)
}

#[test]
fn ldap_messages_capped() {
    let mut info = AppInfo::default();
    let below =
        LdapParser::default().on_stream(&ldap_messages(MAX_LDAP_MESSAGES - 1), b"", &mut info);
    assert_eq!(below, Progress::NeedMore);

    let mut info = AppInfo::default();
    let at_cap =
        LdapParser::default().on_stream(&ldap_messages(MAX_LDAP_MESSAGES + 40), b"", &mut info);
    assert_eq!(at_cap, Progress::Done);
    assert_eq!(info.ldap.unwrap().first_operation, Some("abandonRequest"));
}

#[test]
fn policy_file_over_cap_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("site.toml");
    // A valid site file padded with comments to one byte past the cap.
    let mut site = String::from("[networks]\ninternal = [\"10.0.0.0/8\"]\n");
    let padding = MAX_POLICY_FILE_BYTES as usize + 1 - site.len();
    site.push('#');
    site.push_str(&"x".repeat(padding - 2));
    site.push('\n');
    assert_eq!(site.len() as u64, MAX_POLICY_FILE_BYTES + 1);
    std::fs::write(&path, &site).unwrap();

    let error = Policy::load(None, Some(&path)).expect_err("over the cap");
    assert!(error.to_string().contains("larger than"), "{error}");

    site.truncate(site.len() - 2);
    site.push('\n');
    std::fs::write(&path, &site).unwrap();
    assert!(Policy::load(None, Some(&path)).is_ok());
}

#[test]
fn probe_window_capped() {
    // An LDAP message header that promises 1 MiB keeps the LDAP probe unsure
    // however many bytes follow. Past the probe window it counts as not LDAP.
    let mut stream = vec![
        0x30, 0x84, 0x00, 0x10, 0x00, 0x00, 0x02, 0x01, 0x01, 0x60, 0x84, 0x00, 0x0f, 0xff, 0xf0,
    ];
    stream.resize(MAX_PROBE_WINDOW - 1, 0);
    let mut dissector = Dissector::new(Transport::Tcp, [51_000, 389], Some(Side::Originator));
    assert_eq!(dissector.on_stream(&stream, b""), Progress::NeedMore);

    // Past the window every probe is out for this side, so the dissector
    // only waits for the silent side. Once that side ends, it is done.
    stream.resize(MAX_PROBE_WINDOW + 100, 0);
    assert_eq!(dissector.on_stream(&stream, b""), Progress::NeedMore);
    dissector.on_gap(Side::Responder);
    assert_eq!(dissector.on_stream(&stream, b""), Progress::Done);
    assert_eq!(dissector.finish().app, App::Unknown);
}
