//! DNS probes and parser on queries and answers the project recorded itself
//! (tests/fixtures/fingerprint/dns, see its README): dig against unbound.

mod fingerprint_binary_support;

use exflow::fingerprint::dns::{self, DnsErrorKind, DnsParser};
use exflow::fingerprint::{AppInfo, ProbeAnswer, Progress, StreamParser};
use fingerprint_binary_support::{TcpFixture, load_datagrams};

struct Expected {
    name: &'static str,
    qname: &'static [u8],
    qtype: u16,
    /// Response code of the first response.
    rcode: u16,
}

fn long_name() -> Vec<u8> {
    let mut name = Vec::new();
    for (letter, count) in [(b'a', 63), (b'b', 63), (b'c', 63), (b'd', 61)] {
        if !name.is_empty() {
            name.push(b'.');
        }
        name.extend(std::iter::repeat_n(letter, count));
    }
    name
}

/// What each recording asked dig for and what unbound's fixture zone answers
/// (see scripts/record-fingerprint-fixtures-binary.sh).
const UDP_FIXTURES: [Expected; 7] = [
    Expected {
        name: "udp-a",
        qname: b"mail.example.test",
        qtype: 1,
        rcode: 0,
    },
    Expected {
        name: "udp-nxdomain",
        qname: b"nosuch.example.test",
        qtype: 28,
        rcode: 3,
    },
    // dig sends EDNS version 1; unbound answers BADVERS (16: header RCODE 0,
    // extended RCODE 1), then dig asks again with version 0.
    Expected {
        name: "udp-badvers",
        qname: b"mail.example.test",
        qtype: 1,
        rcode: 16,
    },
    Expected {
        name: "udp-nonascii",
        qname: "café.example.test".as_bytes(),
        qtype: 1,
        rcode: 0,
    },
    Expected {
        name: "udp-srv",
        qname: b"_ldap._tcp.example.test",
        qtype: 33,
        rcode: 0,
    },
    Expected {
        name: "udp-dotlabel",
        qname: b"a\\.b.example.test",
        qtype: 1,
        rcode: 3,
    },
    Expected {
        name: "udp-root",
        qname: b".",
        qtype: 2,
        rcode: 5,
    },
];

fn read_datagrams(name: &str) -> (DnsParser, AppInfo, Vec<Progress>) {
    let mut parser = DnsParser::default();
    let mut info = AppInfo::default();
    let progress = load_datagrams("dns", name)
        .iter()
        .map(|(from_server, payload)| parser.on_datagram(payload, *from_server, &mut info))
        .collect();
    (parser, info, progress)
}

#[test]
fn udp_fixtures_fill_question_and_rcode() {
    for expected in &UDP_FIXTURES {
        let (parser, info, progress) = read_datagrams(expected.name);
        let name = expected.name;

        assert_eq!(parser.error(), None, "{name}");
        assert_eq!(progress[0], Progress::NeedMore, "{name}: after the query");
        assert_eq!(
            progress[1],
            Progress::Done,
            "{name}: after the first response"
        );
        let dns = info.dns.as_deref().unwrap();
        assert_eq!(dns.qname.as_deref(), Some(expected.qname), "{name}");
        assert_eq!(dns.qtype, Some(expected.qtype), "{name}");
        assert_eq!(dns.rcode, Some(expected.rcode), "{name}");
    }
}

#[test]
fn longest_name_is_accepted() {
    let (parser, info, _) = read_datagrams("udp-longname");
    assert_eq!(parser.error(), None);
    let dns = info.dns.unwrap();
    assert_eq!(dns.qname.as_deref(), Some(&long_name()[..]));
    // Outside the fixture zone: refused.
    assert_eq!(dns.rcode, Some(5));
}

#[test]
fn datagram_probe_is_certain_and_names_sender() {
    for expected in UDP_FIXTURES.iter().map(|e| e.name).chain(["udp-longname"]) {
        for (n, (from_server, payload)) in load_datagrams("dns", expected).iter().enumerate() {
            let result = dns::probe_datagram(payload);
            assert_eq!(
                result.answer,
                ProbeAnswer::Certain,
                "{expected} datagram {n}"
            );
            assert_eq!(
                result.sender_is_server,
                Some(*from_server),
                "{expected} datagram {n}"
            );
        }
    }
}

#[test]
fn response_alone_gives_question() {
    // One-sided capture: only the answer was seen.
    let datagrams = load_datagrams("dns", "udp-nxdomain");
    let mut parser = DnsParser::default();
    let mut info = AppInfo::default();
    assert_eq!(
        parser.on_datagram(&datagrams[1].1, true, &mut info),
        Progress::Done
    );
    let dns = info.dns.unwrap();
    assert_eq!(dns.qname.as_deref(), Some(&b"nosuch.example.test"[..]));
    assert_eq!(dns.rcode, Some(3));
}

#[test]
fn tcp_single_query() {
    let fixture = TcpFixture::load("dns", "tcp-a");
    let mut parser = DnsParser::default();
    let mut info = AppInfo::default();
    let (progress, _) = fixture.replay(&mut parser, &mut info);
    assert_eq!(progress, Progress::Done);
    assert_eq!(parser.error(), None);
    let dns = info.dns.unwrap();
    assert_eq!(dns.qname.as_deref(), Some(&b"mail.example.test"[..]));
    assert_eq!(dns.qtype, Some(1));
    assert_eq!(dns.rcode, Some(0));
}

#[test]
fn tcp_keepopen_reads_every_message() {
    // dig +keepopen sent three queries on one connection; given at once, each
    // side holds three frames back to back.
    let fixture = TcpFixture::load("dns", "tcp-keepopen");
    assert_eq!(fixture.segments.len(), 6);
    let mut parser = DnsParser::default();
    let mut info = AppInfo::default();
    let progress = parser.on_stream(&fixture.client, &fixture.server, &mut info);
    assert_eq!(progress, Progress::Done);
    assert_eq!(parser.messages_read(), 6);
    let dns = info.dns.unwrap();
    assert_eq!(dns.qname.as_deref(), Some(&b"mail.example.test"[..]));
    assert_eq!(dns.qtype, Some(1));
    assert_eq!(dns.rcode, Some(0));
}

#[test]
fn tcp_every_prefix_needs_more() {
    for name in ["tcp-a", "tcp-keepopen"] {
        let fixture = TcpFixture::load("dns", name);
        let first_query_len =
            2 + usize::from(u16::from_be_bytes([fixture.client[0], fixture.client[1]]));
        for len in 0..=fixture.client.len() {
            let mut parser = DnsParser::default();
            let mut info = AppInfo::default();
            let progress = parser.on_stream(&fixture.client[..len], &[], &mut info);
            assert_eq!(progress, Progress::NeedMore, "{name} prefix {len}");
            assert_eq!(parser.error(), None, "{name} prefix {len}");
            let has_question = info.dns.is_some_and(|dns| dns.qname.is_some());
            assert_eq!(has_question, len >= first_query_len, "{name} prefix {len}");
        }
        for len in 0..=fixture.server.len() {
            let result = dns::probe_stream(&fixture.server[..len]);
            assert_ne!(
                result.answer,
                ProbeAnswer::NotMine,
                "{name} server prefix {len}"
            );
        }
    }
}

#[test]
fn tcp_message_split_over_calls() {
    let fixture = TcpFixture::load("dns", "tcp-a");
    let mut parser = DnsParser::default();
    let mut info = AppInfo::default();
    let half = fixture.server.len() / 2;
    assert_eq!(
        parser.on_stream(&fixture.client, &fixture.server[..half], &mut info),
        Progress::NeedMore
    );
    assert_eq!(info.dns.as_ref().unwrap().rcode, None);
    assert_eq!(
        parser.on_stream(&fixture.client, &fixture.server, &mut info),
        Progress::Done
    );
    assert_eq!(info.dns.unwrap().rcode, Some(0));
}

#[test]
fn stream_probe_is_certain_and_names_sender() {
    for name in ["tcp-a", "tcp-keepopen"] {
        let fixture = TcpFixture::load("dns", name);
        let client = dns::probe_stream(&fixture.client);
        let server = dns::probe_stream(&fixture.server);
        assert_eq!(client.answer, ProbeAnswer::Certain, "{name}");
        assert_eq!(client.sender_is_server, Some(false), "{name}");
        assert_eq!(server.answer, ProbeAnswer::Certain, "{name}");
        assert_eq!(server.sender_is_server, Some(true), "{name}");
    }
}

fn query(name: &str) -> Vec<u8> {
    load_datagrams("dns", name).remove(0).1
}

#[test]
fn label_over_63_is_error() {
    let mut bytes = query("udp-a");
    // The first label ("mail") starts right after the 12-byte header.
    assert_eq!(bytes[12], 4);
    bytes[12] = 0x40;
    let mut parser = DnsParser::default();
    parser.on_datagram(&bytes, false, &mut AppInfo::default());
    let error = parser.error().unwrap();
    assert_eq!(error.kind, DnsErrorKind::InvalidLabelType(0x40));
    assert_eq!(error.offset, 12);
    // The header is still a plausible query's.
    assert_eq!(dns::probe_datagram(&bytes).answer, ProbeAnswer::Unsure);
}

#[test]
fn name_over_255_octets_is_error() {
    let mut bytes = query("udp-longname");
    // The 255-octet name ends with its root octet at 12 + 254; turning it into
    // a one-octet label makes the name 257 octets.
    assert_eq!(bytes[12 + 254], 0);
    bytes[12 + 254] = 1;
    let mut parser = DnsParser::default();
    parser.on_datagram(&bytes, false, &mut AppInfo::default());
    assert_eq!(parser.error().unwrap().kind, DnsErrorKind::NameTooLong);
    assert_eq!(dns::probe_datagram(&bytes).answer, ProbeAnswer::Unsure);
}

/// Returns the offset of the first answer's name in a response with one
/// question.
fn first_answer_offset(bytes: &[u8]) -> usize {
    let mut at = 12;
    while bytes[at] != 0 {
        at += 1 + usize::from(bytes[at]);
    }
    at + 1 + 4
}

#[test]
fn compressed_answer_name_is_followed() {
    let response = load_datagrams("dns", "udp-a").remove(1).1;
    let at = first_answer_offset(&response);
    // unbound compresses the answer's owner name to a pointer to the question.
    assert_eq!(&response[at..at + 2], &[0xc0, 0x0c]);
    let (_, record) = dns::parse_dns_record(&response, &response[at..]).unwrap();
    assert_eq!(record.name.to_presentation(), b"mail.example.test");
    assert_eq!(record.rtype, 1);
    assert_eq!(record.rdata, &[127, 0, 0, 10]);
}

#[test]
fn pointer_not_backwards_is_error() {
    let mut response = load_datagrams("dns", "udp-a").remove(1).1;
    let at = first_answer_offset(&response);
    // Point the answer's name at itself: a loop without the backwards rule.
    let [high, low] = (0xc000 | at as u16).to_be_bytes();
    response[at] = high;
    response[at + 1] = low;
    let mut parser = DnsParser::default();
    let mut info = AppInfo::default();
    parser.on_datagram(&response, true, &mut info);
    let error = parser.error();
    assert_eq!(
        error, None,
        "damaged records still give the header and question"
    );
    let dns = info.dns.unwrap();
    assert_eq!(dns.rcode, Some(0));
    assert_eq!(dns.qname.as_deref(), Some(&b"mail.example.test"[..]));
    assert_eq!(dns::probe_datagram(&response).answer, ProbeAnswer::Unsure);
    assert!(matches!(
        dns::parse_dns_message(&response),
        Err(nom::Err::Error(dns::DnsParseError {
            kind: DnsErrorKind::PointerNotBackwards { target },
            ..
        })) if target == at
    ));
}

#[test]
fn tcp_frame_shorter_than_header_is_error() {
    let mut client = TcpFixture::load("dns", "tcp-a").client;
    client[0] = 0;
    client[1] = 5;
    let mut parser = DnsParser::default();
    let mut info = AppInfo::default();
    parser.on_stream(&client, &[], &mut info);
    assert_eq!(
        parser.error().unwrap().kind,
        DnsErrorKind::MessageTooShort(5)
    );
    assert_eq!(dns::probe_stream(&client).answer, ProbeAnswer::NotMine);
}

#[test]
fn truncated_datagram_is_unsure() {
    let response = load_datagrams("dns", "udp-srv").remove(1).1;
    let cut = &response[..response.len() - 3];
    assert_eq!(dns::probe_datagram(cut).answer, ProbeAnswer::Unsure);
    assert_eq!(
        dns::probe_datagram(&response[..8]).answer,
        ProbeAnswer::NotMine
    );
}
