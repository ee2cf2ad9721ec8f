//! TLS probe, parser and JA4 on handshakes the project recorded itself
//! (tests/fixtures/fingerprint/tls, see its README).

mod fingerprint_binary_support;

use exflow::fingerprint::tls::{self, TlsErrorKind, TlsParser};
use exflow::fingerprint::{AppInfo, ProbeAnswer, Progress, StreamParser};
use fingerprint_binary_support::{TcpFixture, read_fixture};

struct Expected {
    name: &'static str,
    sni: Option<&'static str>,
    alpn: &'static [&'static str],
    /// The version the ServerHello chose.
    version: u16,
}

/// What each recording asked for: the client's -servername/-alpn options and
/// the version the server chose (see scripts/record-fingerprint-fixtures-binary.sh).
const FIXTURES: [Expected; 8] = [
    Expected {
        name: "tls13-openssl",
        sni: Some("mail.example.test"),
        alpn: &["h2", "http/1.1"],
        version: 0x0304,
    },
    Expected {
        name: "tls13-smallmtu-openssl",
        sni: Some("mail.example.test"),
        alpn: &["h2", "http/1.1"],
        version: 0x0304,
    },
    Expected {
        name: "tls13-nosni-openssl",
        sni: None,
        alpn: &["h2"],
        version: 0x0304,
    },
    Expected {
        name: "tls13-gnutls",
        sni: Some("mail.example.test"),
        alpn: &["h2", "http/1.1"],
        version: 0x0304,
    },
    Expected {
        name: "tls13-curl",
        sni: Some("mail.example.test"),
        alpn: &["h2", "http/1.1"],
        version: 0x0304,
    },
    Expected {
        name: "tls12-openssl",
        sni: Some("mail.example.test"),
        alpn: &["http/1.1"],
        version: 0x0303,
    },
    Expected {
        name: "tls12-fragmented-openssl",
        sni: Some("mail.example.test"),
        alpn: &["http/1.1"],
        version: 0x0303,
    },
    Expected {
        name: "tls10-openssl",
        sni: Some("mail.example.test"),
        alpn: &["http/1.1"],
        version: 0x0301,
    },
];

fn parse_fixture(fixture: &TcpFixture) -> (TlsParser, AppInfo, Progress) {
    let mut parser = TlsParser::default();
    let mut info = AppInfo::default();
    let (progress, _) = fixture.replay(&mut parser, &mut info);
    (parser, info, progress)
}

/// Reads a reference list of JA4 values (fixture name, JA4) that the
/// recording script wrote.
fn reference_values(file: &str) -> Vec<(String, String)> {
    let listing = String::from_utf8(read_fixture("tls", file)).unwrap();
    listing
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| {
            let (name, ja4) = line.split_once('\t').unwrap();
            (name.to_owned(), ja4.to_owned())
        })
        .collect()
}

fn fixture_ja4(name: &str) -> Option<String> {
    let fixture = TcpFixture::load("tls", name);
    let (_, info, _) = parse_fixture(&fixture);
    info.tls.and_then(|tls| tls.ja4)
}

#[test]
fn fixtures_fill_sni_alpn_version() {
    for expected in &FIXTURES {
        let fixture = TcpFixture::load("tls", expected.name);
        let (parser, info, progress) = parse_fixture(&fixture);
        let name = expected.name;

        assert_eq!(progress, Progress::Done, "{name}");
        assert!(parser.handshake_seen(), "{name}");
        assert_eq!(parser.error(), None, "{name}");
        let tls = info
            .tls
            .as_deref()
            .unwrap_or_else(|| panic!("{name}: no TLS info"));
        assert_eq!(
            tls.sni.as_deref(),
            expected.sni.map(str::as_bytes),
            "{name}"
        );
        let alpn: Vec<&[u8]> = tls.alpn.iter().map(|name| &name[..]).collect();
        let expected_alpn: Vec<&[u8]> = expected.alpn.iter().map(|name| name.as_bytes()).collect();
        assert_eq!(alpn, expected_alpn, "{name}");
        assert_eq!(tls.version, Some(expected.version), "{name}");
    }
}

/// ja4plus.tsv: JA4 as the `ja4plus` package (PyPI, version in the file)
/// computed it from the captures, an implementation independent of this crate.
#[test]
fn ja4_matches_ja4plus() {
    let values = reference_values("ja4plus.tsv");
    assert_eq!(values.len(), FIXTURES.len());
    for (name, ja4plus) in values {
        let ja4 = fixture_ja4(&name);
        if name == "tls12-fragmented-openssl" {
            // ja4plus 1.4.0 joins the TCP payload without removing the second
            // record's header, so its signature algorithms for a hello that
            // spans records include "1603,0100,...". The tshark reference
            // below covers this fixture.
            assert_ne!(ja4.as_deref(), Some(ja4plus.as_str()), "{name}");
            continue;
        }
        assert_eq!(ja4.as_deref(), Some(ja4plus.as_str()), "{name}");
    }
}

/// ja4-tshark.tsv: JA4 computed by the recording script from the fields that
/// tshark 4.0 dissected (tshark reassembles a hello that spans records).
#[test]
fn ja4_matches_tshark_fields() {
    let values = reference_values("ja4-tshark.tsv");
    assert_eq!(values.len(), FIXTURES.len());
    for (name, reference) in values {
        assert_eq!(
            fixture_ja4(&name).as_deref(),
            Some(reference.as_str()),
            "{name}"
        );
    }
}

#[test]
fn client_hello_version_without_server_hello() {
    // Only the client side: the version is the highest one offered.
    let fixture = TcpFixture::load("tls", "tls13-openssl");
    let mut parser = TlsParser::default();
    let mut info = AppInfo::default();
    let progress = parser.on_stream(&fixture.client, &[], &mut info);
    assert_eq!(progress, Progress::NeedMore);
    assert_eq!(info.tls.unwrap().version, Some(0x0304));
}

#[test]
fn sides_given_the_wrong_way_round() {
    let fixture = TcpFixture::load("tls", "tls12-openssl");
    let mut parser = TlsParser::default();
    let mut info = AppInfo::default();
    let progress = parser.on_stream(&fixture.server, &fixture.client, &mut info);
    assert_eq!(progress, Progress::Done);
    let tls = info.tls.unwrap();
    assert_eq!(tls.sni.as_deref(), Some(&b"mail.example.test"[..]));
    assert_eq!(tls.version, Some(0x0303));
}

#[test]
fn probe_names_client_and_server() {
    for expected in &FIXTURES {
        let fixture = TcpFixture::load("tls", expected.name);
        let client = tls::probe(&fixture.client);
        let server = tls::probe(&fixture.server);
        assert_eq!(client.answer, ProbeAnswer::Certain, "{}", expected.name);
        assert_eq!(client.sender_is_server, Some(false), "{}", expected.name);
        assert_eq!(server.answer, ProbeAnswer::Certain, "{}", expected.name);
        assert_eq!(server.sender_is_server, Some(true), "{}", expected.name);
    }
}

#[test]
fn probe_certain_from_eleven_bytes() {
    // Record header (5), handshake header (4), hello version (2).
    let fixture = TcpFixture::load("tls", "tls13-openssl");
    assert_eq!(
        tls::probe(&fixture.client[..11]).answer,
        ProbeAnswer::Certain
    );
    for len in 1..11 {
        let result = tls::probe(&fixture.client[..len]);
        assert_eq!(result.answer, ProbeAnswer::Unsure, "prefix of {len} bytes");
    }
}

#[test]
fn every_prefix_needs_more() {
    for expected in &FIXTURES {
        let fixture = TcpFixture::load("tls", expected.name);
        let hello_end = first_hello_end(&fixture.client);
        for len in 0..hello_end {
            let prefix = &fixture.client[..len];
            let mut parser = TlsParser::default();
            let mut info = AppInfo::default();
            let progress = parser.on_stream(prefix, &[], &mut info);
            assert_eq!(
                progress,
                Progress::NeedMore,
                "{} prefix {len}",
                expected.name
            );
            assert_eq!(parser.error(), None, "{} prefix {len}", expected.name);
            assert!(!parser.handshake_seen(), "{} prefix {len}", expected.name);
            assert_ne!(
                tls::probe(prefix).answer,
                ProbeAnswer::NotMine,
                "{} prefix {len}",
                expected.name
            );
        }
    }
}

#[test]
fn byte_by_byte_feeding_matches_whole() {
    for expected in &FIXTURES {
        let fixture = TcpFixture::load("tls", expected.name);
        let (_, whole, _) = parse_fixture(&fixture);

        let mut parser = TlsParser::default();
        let mut info = AppInfo::default();
        for len in 0..=fixture.client.len() {
            parser.on_stream(&fixture.client[..len], &[], &mut info);
        }
        for len in 0..=fixture.server.len() {
            parser.on_stream(&fixture.client, &fixture.server[..len], &mut info);
        }
        assert_eq!(parser.error(), None, "{}", expected.name);
        assert_eq!(info.tls, whole.tls, "{}", expected.name);
    }
}

/// Returns the stream offset just past the records that hold the first
/// handshake message, read with plain arithmetic.
fn first_hello_end(stream: &[u8]) -> usize {
    let mut offset = 0;
    let mut collected = 0;
    let mut needed = usize::MAX;
    while collected < needed {
        let len = usize::from(u16::from_be_bytes([stream[offset + 3], stream[offset + 4]]));
        let fragment = &stream[offset + 5..offset + 5 + len];
        if collected == 0 {
            needed = 4
                + usize::from(u16::from_be_bytes([fragment[2], fragment[3]]))
                + (usize::from(fragment[1]) << 16);
        }
        collected += len;
        offset += 5 + len;
    }
    offset
}

#[test]
fn fragmented_hello_spans_records() {
    let fixture = TcpFixture::load("tls", "tls12-fragmented-openssl");
    // The recording asked for 512-byte records: the first one holds only part
    // of the ClientHello.
    let first_record_len = usize::from(u16::from_be_bytes([fixture.client[3], fixture.client[4]]));
    assert_eq!(first_record_len, 512);
    assert!(first_hello_end(&fixture.client) > 5 + first_record_len);

    let (parser, info, _) = parse_fixture(&fixture);
    assert!(parser.handshake_seen());
    assert_eq!(
        info.tls.unwrap().sni.as_deref(),
        Some(&b"mail.example.test"[..])
    );
}

#[test]
fn split_hello_spans_segments() {
    let fixture = TcpFixture::load("tls", "tls13-smallmtu-openssl");
    let (from_client, first_len) = fixture.segments[0];
    assert!(from_client);
    assert!(
        first_len < first_hello_end(&fixture.client),
        "the hello fits one segment"
    );

    let mut parser = TlsParser::default();
    let mut info = AppInfo::default();
    let (progress, calls) = fixture.replay(&mut parser, &mut info);
    assert_eq!(progress, Progress::Done);
    assert!(calls > 2);
    assert_eq!(info.tls.unwrap().alpn.len(), 2);
}

#[test]
fn over_long_record_length_is_error() {
    let mut client = TcpFixture::load("tls", "tls12-openssl").client;
    client[3] = 0xff;
    client[4] = 0xff;
    let mut parser = TlsParser::default();
    let mut info = AppInfo::default();
    parser.on_stream(&client, &[], &mut info);
    let error = parser.error().expect("an error");
    assert_eq!(error.kind, TlsErrorKind::RecordTooLong(0xffff));
    assert_eq!(error.offset, 0);
    assert_eq!(tls::probe(&client).answer, ProbeAnswer::NotMine);
    // The direction is given up, so one empty server side finishes the parse.
    assert_eq!(
        parser.on_stream(&client, &[0x15, 0x03, 0x03, 0x00, 0x02, 2, 40], &mut info),
        Progress::Done
    );
}

#[test]
fn over_long_handshake_length_is_error() {
    let mut client = TcpFixture::load("tls", "tls12-openssl").client;
    // A handshake length of 0x02xxxx is over MAX_HANDSHAKE_LEN.
    client[6] = 0x02;
    let length = u32::from_be_bytes([0, client[6], client[7], client[8]]) as usize;
    assert!(length > tls::MAX_HANDSHAKE_LEN);
    let mut parser = TlsParser::default();
    parser.on_stream(&client, &[], &mut AppInfo::default());
    assert_eq!(
        parser.error().unwrap().kind,
        TlsErrorKind::HandshakeTooLong(length)
    );
    assert_eq!(tls::probe(&client).answer, ProbeAnswer::NotMine);
}

#[test]
fn extension_overrunning_hello_is_error() {
    let mut client = TcpFixture::load("tls", "tls12-openssl").client;
    // Offsets: record 5 + handshake header 4 + version 2 + random 32.
    let mut at = 5 + 4 + 2 + 32;
    at += 1 + usize::from(client[at]);
    at += 2 + usize::from(u16::from_be_bytes([client[at], client[at + 1]]));
    at += 1 + usize::from(client[at]);
    let extensions_len = u16::from_be_bytes([client[at], client[at + 1]]);
    let [high, low] = (extensions_len + 1).to_be_bytes();
    client[at] = high;
    client[at + 1] = low;

    let mut parser = TlsParser::default();
    parser.on_stream(&client, &[], &mut AppInfo::default());
    let error = parser.error().expect("an error");
    assert_eq!(error.kind, TlsErrorKind::Truncated("ClientHello"));
    assert!(!parser.handshake_seen());
}

#[test]
fn probe_rejects_after_one_wrong_byte() {
    let client = TcpFixture::load("tls", "tls12-openssl").client;
    // Content type 25 does not exist; a first byte of 0x30 is LDAP's.
    for first in [0x19, 0x30] {
        let mut bytes = client.clone();
        bytes[0] = first;
        assert_eq!(
            tls::probe(&bytes[..1]).answer,
            ProbeAnswer::NotMine,
            "{first:#04x}"
        );
        let mut parser = TlsParser::default();
        parser.on_stream(&bytes, &[], &mut AppInfo::default());
        assert_eq!(
            parser.error().unwrap().kind,
            TlsErrorKind::UnknownContentType(first)
        );
    }
    // Record version 0x0203 is not SSL 3.0 to TLS 1.3.
    let mut bytes = client.clone();
    bytes[1] = 0x02;
    assert_eq!(tls::probe(&bytes[..3]).answer, ProbeAnswer::NotMine);
    assert_eq!(tls::probe(&bytes[..2]).answer, ProbeAnswer::Unsure);
}

#[test]
fn probe_certain_on_whole_encrypted_alert() {
    // An AES-GCM alert: 8-byte nonce, 2 encrypted bytes, 16-byte tag.
    let mut record = vec![0x15, 0x03, 0x03, 0x00, 26];
    record.extend((0..26).map(|byte| byte * 7));
    assert_eq!(tls::probe(&record).answer, ProbeAnswer::Certain);
    for len in 1..record.len() {
        assert_eq!(
            tls::probe(&record[..len]).answer,
            ProbeAnswer::Unsure,
            "prefix of {len} bytes"
        );
    }

    // Longer than any encrypted alert, or with a record version past TLS 1.2.
    let mut long = vec![0x15, 0x03, 0x03, 0x00, 81];
    long.extend([0u8; 81]);
    assert_eq!(tls::probe(&long).answer, ProbeAnswer::Unsure);
    let mut future = record.clone();
    future[2] = 0x05;
    assert_eq!(tls::probe(&future).answer, ProbeAnswer::Unsure);
}
