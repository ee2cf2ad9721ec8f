//! LDAP probe and parser on sessions the project recorded itself
//! (tests/fixtures/fingerprint/ldap, see its README): ldapsearch against slapd.

mod fingerprint_binary_support;

use exflow::fingerprint::ldap::{self, LdapErrorKind, LdapParser};
use exflow::fingerprint::{AppInfo, ProbeAnswer, Progress, StreamParser, Upgrade, tls};
use fingerprint_binary_support::TcpFixture;

struct Expected {
    name: &'static str,
    first_operation: &'static str,
    simple_bind: bool,
    sasl_mechanism: Option<&'static str>,
    cleartext_auth: bool,
    upgrade: Upgrade,
}

const NO_UPGRADE: Upgrade = Upgrade {
    offered: false,
    requested: false,
    accepted: false,
    tls_followed: false,
};

/// What each ldapsearch command line did (see
/// scripts/record-fingerprint-fixtures-binary.sh).
const FIXTURES: [Expected; 6] = [
    // -x -D cn=admin -w secret: a simple bind with a password, then a search.
    Expected {
        name: "simple-bind-search",
        first_operation: "bindRequest",
        simple_bind: true,
        sasl_mechanism: None,
        cleartext_auth: true,
        upgrade: NO_UPGRADE,
    },
    // The same on port 50636, where EdgeSync expects TLS.
    Expected {
        name: "cleartext-50636",
        first_operation: "bindRequest",
        simple_bind: true,
        sasl_mechanism: None,
        cleartext_auth: true,
        upgrade: NO_UPGRADE,
    },
    // -x without -D: an anonymous simple bind, no password.
    Expected {
        name: "anonymous-search",
        first_operation: "bindRequest",
        simple_bind: false,
        sasl_mechanism: None,
        cleartext_auth: false,
        upgrade: NO_UPGRADE,
    },
    // -ZZ: StartTLS accepted; the bind happens inside TLS.
    Expected {
        name: "starttls",
        first_operation: "extendedReq",
        simple_bind: false,
        sasl_mechanism: None,
        cleartext_auth: false,
        upgrade: Upgrade {
            offered: false,
            requested: true,
            accepted: true,
            tls_followed: true,
        },
    },
    // -Z against a server without TLS: StartTLS refused, then the simple bind
    // goes in cleartext.
    Expected {
        name: "starttls-rejected",
        first_operation: "extendedReq",
        simple_bind: true,
        sasl_mechanism: None,
        cleartext_auth: true,
        upgrade: Upgrade {
            offered: false,
            requested: true,
            accepted: false,
            tls_followed: false,
        },
    },
    // -Y PLAIN: the password travels inside the SASL credentials; slapd
    // refuses PLAIN without TLS, but the credentials were already sent.
    Expected {
        name: "sasl-plain",
        first_operation: "bindRequest",
        simple_bind: false,
        sasl_mechanism: Some("PLAIN"),
        cleartext_auth: true,
        upgrade: NO_UPGRADE,
    },
];

fn parse_fixture(fixture: &TcpFixture) -> (LdapParser, AppInfo, Progress) {
    let mut parser = LdapParser::default();
    let mut info = AppInfo::default();
    let (progress, _) = fixture.replay(&mut parser, &mut info);
    (parser, info, progress)
}

#[test]
fn fixtures_fill_ldap_info() {
    for expected in &FIXTURES {
        let fixture = TcpFixture::load("ldap", expected.name);
        let (parser, info, _) = parse_fixture(&fixture);
        let name = expected.name;

        assert_eq!(parser.error(), None, "{name}");
        let ldap = info
            .ldap
            .as_deref()
            .unwrap_or_else(|| panic!("{name}: no LDAP info"));
        assert_eq!(
            ldap.first_operation,
            Some(expected.first_operation),
            "{name}"
        );
        assert_eq!(ldap.simple_bind, expected.simple_bind, "{name}");
        assert_eq!(
            ldap.sasl_mechanism.as_deref(),
            expected.sasl_mechanism.map(str::as_bytes),
            "{name}"
        );
        assert_eq!(info.cleartext_auth, expected.cleartext_auth, "{name}");
        assert_eq!(info.upgrade, expected.upgrade, "{name}");
    }
}

#[test]
fn unbind_ends_the_parse() {
    for name in ["simple-bind-search", "anonymous-search", "cleartext-50636"] {
        let fixture = TcpFixture::load("ldap", name);
        let (parser, _, progress) = parse_fixture(&fixture);
        assert_eq!(progress, Progress::Done, "{name}");
        // bindRequest, bindResponse, searchRequest, searchResEntry,
        // searchResDone, unbindRequest: the entry is skipped by its length.
        assert_eq!(parser.messages_read(), 6, "{name}");
    }
}

#[test]
fn starttls_hands_over_to_tls() {
    let fixture = TcpFixture::load("ldap", "starttls");
    let (parser, info, progress) = parse_fixture(&fixture);
    assert_eq!(progress, Progress::Done);
    assert_eq!(parser.error(), None);
    let tls = info.tls.expect("TLS info after StartTLS");
    // ldapsearch names an address, so it sends no SNI; slapd chose TLS 1.3.
    assert_eq!(tls.sni, None);
    assert_eq!(tls.version, Some(0x0304));
    assert!(
        tls.ja4
            .as_deref()
            .is_some_and(|ja4| ja4.starts_with("t13i"))
    );
}

#[test]
fn starttls_accepted_before_tls_arrives() {
    let fixture = TcpFixture::load("ldap", "starttls");
    // Request (client) and response (server) only.
    let request_len = fixture.segments[0].1;
    let response_len = fixture.segments[1].1;
    assert!(fixture.segments[0].0, "the client speaks first");
    let mut parser = LdapParser::default();
    let mut info = AppInfo::default();
    let progress = parser.on_stream(
        &fixture.client[..request_len],
        &fixture.server[..response_len],
        &mut info,
    );
    assert_eq!(progress, Progress::NeedMore);
    assert!(info.upgrade.requested);
    assert!(info.upgrade.accepted);
    assert!(!info.upgrade.tls_followed);
    assert_eq!(info.tls, None);
}

#[test]
fn probe_names_client_and_server() {
    for expected in &FIXTURES {
        let fixture = TcpFixture::load("ldap", expected.name);
        let client = ldap::probe(&fixture.client);
        let server = ldap::probe(&fixture.server);
        assert_eq!(client.answer, ProbeAnswer::Certain, "{}", expected.name);
        assert_eq!(client.sender_is_server, Some(false), "{}", expected.name);
        assert_eq!(server.answer, ProbeAnswer::Certain, "{}", expected.name);
        assert_eq!(server.sender_is_server, Some(true), "{}", expected.name);
    }
}

#[test]
fn ldaps_is_tls_not_ldap() {
    let fixture = TcpFixture::load("ldap", "ldaps");
    assert_eq!(ldap::probe(&fixture.client).answer, ProbeAnswer::NotMine);
    assert_eq!(ldap::probe(&fixture.server).answer, ProbeAnswer::NotMine);
    assert_eq!(tls::probe(&fixture.client).answer, ProbeAnswer::Certain);
    let mut parser = tls::TlsParser::default();
    let mut info = AppInfo::default();
    assert_eq!(
        parser.on_stream(&fixture.client, &fixture.server, &mut info),
        Progress::Done
    );
    assert_eq!(info.tls.unwrap().version, Some(0x0304));
}

#[test]
fn every_prefix_needs_more() {
    for expected in &FIXTURES {
        let fixture = TcpFixture::load("ldap", expected.name);
        let first_len = fixture.segments[0].1;
        for len in 0..first_len {
            let prefix = &fixture.client[..len];
            let mut parser = LdapParser::default();
            let mut info = AppInfo::default();
            let progress = parser.on_stream(prefix, &[], &mut info);
            assert_eq!(
                progress,
                Progress::NeedMore,
                "{} prefix {len}",
                expected.name
            );
            assert_eq!(parser.error(), None, "{} prefix {len}", expected.name);
            assert_eq!(info.ldap, None, "{} prefix {len}", expected.name);
            assert_eq!(
                ldap::probe(prefix).answer,
                ProbeAnswer::Unsure,
                "{} prefix {len}",
                expected.name
            );
        }
        for len in 0..=fixture.server.len() {
            let result = ldap::probe(&fixture.server[..len]);
            assert_ne!(
                result.answer,
                ProbeAnswer::NotMine,
                "{} server prefix {len}",
                expected.name
            );
        }
    }
}

#[test]
fn byte_by_byte_feeding_matches_replay() {
    for expected in &FIXTURES {
        let fixture = TcpFixture::load("ldap", expected.name);
        let (_, replayed, _) = parse_fixture(&fixture);
        let mut parser = LdapParser::default();
        let mut info = AppInfo::default();
        let (mut client_len, mut server_len) = (0, 0);
        // Each segment, one byte at a time, in capture order.
        for &(from_client, len) in &fixture.segments {
            for _ in 0..len {
                if from_client {
                    client_len += 1;
                } else {
                    server_len += 1;
                }
                parser.on_stream(
                    &fixture.client[..client_len],
                    &fixture.server[..server_len],
                    &mut info,
                );
            }
        }
        assert_eq!(parser.error(), None, "{}", expected.name);
        assert_eq!(info.ldap, replayed.ldap, "{}", expected.name);
        assert_eq!(info.upgrade, replayed.upgrade, "{}", expected.name);
        assert_eq!(info.tls, replayed.tls, "{}", expected.name);
    }
}

fn bind_request() -> Vec<u8> {
    let fixture = TcpFixture::load("ldap", "simple-bind-search");
    fixture.client[..fixture.segments[0].1].to_vec()
}

fn client_error(client: &[u8]) -> LdapErrorKind {
    let mut parser = LdapParser::default();
    parser.on_stream(client, &[], &mut AppInfo::default());
    parser.error().expect("an error").kind
}

#[test]
fn indefinite_length_is_error() {
    let mut client = bind_request();
    assert_eq!(client[0], 0x30);
    client[1] = 0x80;
    assert_eq!(client_error(&client), LdapErrorKind::IndefiniteLength);
    assert_eq!(ldap::probe(&client).answer, ProbeAnswer::NotMine);
}

#[test]
fn length_of_five_octets_is_error() {
    let mut client = bind_request();
    client[1] = 0x85;
    assert_eq!(client_error(&client), LdapErrorKind::LengthTooLong(5));
    assert_eq!(ldap::probe(&client).answer, ProbeAnswer::NotMine);
}

#[test]
fn over_long_message_is_error() {
    let mut client = bind_request();
    // Long form, four octets: 0x7fffffff.
    let mut mutated = vec![0x30, 0x84, 0x7f, 0xff, 0xff, 0xff];
    mutated.extend_from_slice(&client[2..]);
    client = mutated;
    assert_eq!(
        client_error(&client),
        LdapErrorKind::ElementTooLong(0x7fff_ffff)
    );
    assert_eq!(ldap::probe(&client).answer, ProbeAnswer::NotMine);
}

#[test]
fn unknown_operation_is_error() {
    let mut client = bind_request();
    // SEQUENCE header (2), messageID (3), then the bindRequest identifier.
    assert_eq!(client[5], 0x60);
    client[5] = 0x7e;
    assert_eq!(client_error(&client), LdapErrorKind::UnknownOperation(0x7e));
    assert_eq!(ldap::probe(&client).answer, ProbeAnswer::NotMine);
}

#[test]
fn operation_overrunning_message_is_error() {
    let mut client = bind_request();
    client[6] += 1;
    assert_eq!(
        client_error(&client),
        LdapErrorKind::Truncated("protocolOp")
    );
    assert_eq!(ldap::probe(&client).answer, ProbeAnswer::NotMine);
}
