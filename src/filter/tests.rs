//! Behaviour of whole expressions on hand-built packets, and every error kind
//! with its column.

use std::net::SocketAddr;

use super::*;
use crate::capture::Timestamp;
use crate::decode::{TcpInfo, Transport, VlanIds};
use crate::i18n::Lang;

fn packet(transport: Transport, src: &str, dst: &str) -> Packet<'static> {
    let src: SocketAddr = src.parse().unwrap();
    let dst: SocketAddr = dst.parse().unwrap();
    Packet {
        ts: Timestamp(0),
        input_clock: Timestamp(0),
        vlan: VlanIds::default(),
        ip_version: if src.is_ipv6() { 6 } else { 4 },
        src: src.ip(),
        dst: dst.ip(),
        ip_len: 60,
        ip_id: 0,
        ttl: 64,
        transport,
        src_port: src.port(),
        dst_port: dst.port(),
        tcp: TcpInfo::default(),
        payload: &[],
        payload_len: 0,
        bad_checksum: false,
        transport_checksum_failed: false,
        transport_checksum: 0,
        offset: 0,
    }
}

fn tcp(src: &str, dst: &str) -> Packet<'static> {
    packet(Transport::Tcp, src, dst)
}

fn udp(src: &str, dst: &str) -> Packet<'static> {
    packet(Transport::Udp, src, dst)
}

fn tagged(mut packet: Packet<'static>, ids: &[u16]) -> Packet<'static> {
    for &id in ids {
        packet.vlan.push(id);
    }
    packet
}

fn with_ip_len(mut packet: Packet<'static>, ip_len: u32) -> Packet<'static> {
    packet.ip_len = ip_len;
    packet
}

fn compile(expression: &str) -> Filter {
    Filter::parse(expression)
        .unwrap_or_else(|error| panic!("{}", error.render(expression, Lang::En)))
}

/// Returns which of `packets` the expression selects.
fn selected(expression: &str, packets: &[Packet<'_>]) -> Vec<bool> {
    let filter = compile(expression);
    packets
        .iter()
        .map(|packet| filter.matches(packet))
        .collect()
}

fn error(expression: &str) -> FilterError {
    match Filter::parse(expression) {
        Ok(filter) => panic!("`{expression}` compiled to {filter:?}"),
        Err(error) => error,
    }
}

/// Asserts the error kind and its 1-based column.
fn assert_error(expression: &str, kind: FilterErrorKind, column: usize) {
    let error = error(expression);
    assert_eq!(error.kind(), &kind, "`{expression}`");
    assert_eq!(error.column(), column, "`{expression}`: {error}");
}

// Packets used across tests: SMTP from a client to a server, its reply, DNS
// over UDP, and IPv6 submission.
fn smtp_out() -> Packet<'static> {
    tcp("10.0.0.5:51000", "192.0.2.25:25")
}
fn smtp_reply() -> Packet<'static> {
    tcp("192.0.2.25:25", "10.0.0.5:51000")
}
fn dns_query() -> Packet<'static> {
    udp("10.0.0.5:53000", "10.0.0.53:53")
}
fn submission_v6() -> Packet<'static> {
    tcp("[2001:db8::5]:52000", "[2001:db8:1::25]:587")
}

#[test]
fn empty_expression_matches_all() {
    let filter = compile("  ");
    assert!(filter.matches(&smtp_out()));
    assert!(filter.matches(&submission_v6()));
    assert_eq!(filter.test_count(), 0);
}

#[test]
fn host_directions() {
    let packets = [smtp_out(), smtp_reply(), dns_query()];
    assert_eq!(selected("host 192.0.2.25", &packets), [true, true, false]);
    assert_eq!(
        selected("src host 192.0.2.25", &packets),
        [false, true, false]
    );
    assert_eq!(selected("dst 192.0.2.25", &packets), [true, false, false]);
    assert_eq!(
        selected("src or dst 10.0.0.5", &packets),
        [true, true, true]
    );
    assert_eq!(
        selected("dst or src 10.0.0.53", &packets),
        [false, false, true]
    );
    assert_eq!(
        selected("src and dst host 10.0.0.5", &packets),
        [false, false, false]
    );
    let loopback = tcp("127.0.0.1:1000", "127.0.0.1:2000");
    assert_eq!(selected("dst and src 127.0.0.1", &[loopback]), [true]);
}

#[test]
fn protocols_alone() {
    let packets = [smtp_out(), dns_query(), submission_v6()];
    assert_eq!(selected("tcp", &packets), [true, false, true]);
    assert_eq!(selected("udp", &packets), [false, true, false]);
    assert_eq!(selected("ip", &packets), [true, true, false]);
    assert_eq!(selected("ip6", &packets), [false, false, true]);
    assert_eq!(selected("icmp or icmp6 or sctp", &packets), [false; 3]);
    assert_eq!(selected("not icmp", &packets), [true; 3]);
}

#[test]
fn proto_numbers_and_names() {
    let packets = [smtp_out(), dns_query(), submission_v6()];
    assert_eq!(selected("proto 6", &packets), [true, false, true]);
    assert_eq!(selected("proto tcp", &packets), [true, false, true]);
    assert_eq!(selected("proto \\udp", &packets), [false, true, false]);
    assert_eq!(selected("ip proto 6", &packets), [true, false, false]);
    assert_eq!(selected("ip6 proto tcp", &packets), [false, false, true]);
    assert_eq!(selected("ip proto 0x11", &packets), [false, true, false]);
    assert_eq!(selected("proto 1", &packets), [false; 3]);

    // `proto 6 or 17` repeats `proto`, while `proto 6 or udp` reads `udp` as a
    // primitive: both select the same packets.
    assert_eq!(selected("proto 6 or 17", &packets), [true; 3]);
    assert_eq!(selected("proto 6 or udp", &packets), [true; 3]);
}

#[test]
fn ports_and_services() {
    let packets = [
        smtp_out(),
        dns_query(),
        submission_v6(),
        udp("10.0.0.5:25", "10.0.0.6:9"),
    ];

    assert_eq!(selected("port 25", &packets), [true, false, false, true]);
    assert_eq!(
        selected("tcp port 25", &packets),
        [true, false, false, false]
    );
    assert_eq!(
        selected("udp port 25", &packets),
        [false, false, false, true]
    );

    // `smtp` is registered for TCP only, so the name restricts the transport.
    assert_eq!(selected("port smtp", &packets), [true, false, false, false]);
    assert_eq!(
        selected("port domain", &packets),
        [false, true, false, false]
    );
    assert_eq!(
        selected("dst port submission", &packets),
        [false, false, true, false]
    );
    assert_eq!(
        selected("src port 25", &packets),
        [false, false, false, true]
    );
    assert_eq!(
        selected("port 0x19", &packets),
        selected("port 031", &packets)
    );
    assert_eq!(selected("sctp port 25", &packets), [false; 4]);
}

#[test]
fn port_ranges() {
    let packets = [
        tcp("10.0.0.1:1023", "10.0.0.2:80"),
        tcp("10.0.0.1:1024", "10.0.0.2:80"),
        tcp("10.0.0.1:65535", "10.0.0.2:80"),
        udp("10.0.0.1:2000", "10.0.0.2:53"),
    ];

    assert_eq!(
        selected("src portrange 1024-65535", &packets),
        [false, true, true, true]
    );
    assert_eq!(
        selected("src portrange 65535-1024", &packets),
        [false, true, true, true]
    );
    assert_eq!(
        selected("tcp portrange 1-1023", &packets),
        [true, true, true, false]
    );
    assert_eq!(
        selected("udp portrange 53", &packets),
        [false, false, false, true]
    );
    assert_eq!(selected("portrange 0-0", &packets), [false; 4]);
    assert_eq!(
        selected("dst portrange domain-http", &packets),
        [true, true, true, true]
    );

    // Both names are TCP only, so the range is TCP only.
    assert_eq!(
        selected("portrange ssh-http", &packets),
        [true, true, true, false]
    );
}

#[test]
fn net_forms_ipv4() {
    let packets = [
        tcp("10.1.2.3:1000", "192.0.2.1:80"),
        tcp("172.16.9.9:1000", "192.0.2.1:80"),
        tcp("192.168.1.77:1000", "192.0.2.1:80"),
        submission_v6(),
    ];

    assert_eq!(
        selected("net 10.0.0.0/8", &packets),
        [true, false, false, false]
    );
    assert_eq!(selected("net 10", &packets), [true, false, false, false]);
    assert_eq!(selected("net 10/8", &packets), [true, false, false, false]);
    assert_eq!(
        selected("net 172.16", &packets),
        [false, true, false, false]
    );
    assert_eq!(
        selected("net 172.16.0.0/12", &packets),
        [false, true, false, false]
    );
    assert_eq!(
        selected("src net 192.168.1", &packets),
        [false, false, true, false]
    );
    assert_eq!(
        selected("net 192.168.1.77", &packets),
        [false, false, true, false]
    );
    assert_eq!(
        selected("net 10.0.0.0 mask 255.0.0.0", &packets),
        [true, false, false, false]
    );

    // A non-contiguous mask is allowed, as in libpcap.
    assert_eq!(
        selected("net 10.0.2.0 mask 255.0.255.0", &packets),
        [true, false, false, false]
    );
    assert_eq!(
        selected("net 0.0.0.0/0", &packets),
        [true, true, true, false]
    );
    assert_eq!(
        selected("dst net 192.0.2.1/32", &packets),
        [true, true, true, false]
    );
    assert_eq!(
        selected("ip net 10.0.0.0/8", &packets),
        [true, false, false, false]
    );
}

#[test]
fn ipv6_addresses_and_networks() {
    let packets = [
        submission_v6(),
        tcp("[2001:db8::5]:52000", "[fe80::1]:22"),
        smtp_out(),
    ];

    assert_eq!(selected("host 2001:db8::5", &packets), [true, true, false]);
    assert_eq!(
        selected("ip6 host 2001:DB8::5", &packets),
        [true, true, false]
    );
    assert_eq!(
        selected("dst host 2001:db8:1::25", &packets),
        [true, false, false]
    );
    assert_eq!(selected("net 2001:db8::/32", &packets), [true, true, false]);
    assert_eq!(
        selected("dst net 2001:db8::/32", &packets),
        [true, false, false]
    );
    assert_eq!(
        selected("dst net 2001:db8:1::/48", &packets),
        [true, false, false]
    );
    assert_eq!(selected("net fe80::/10", &packets), [false, true, false]);
    assert_eq!(selected("net ::/0", &packets), [true, true, false]);

    // Without a length an IPv6 network is one address.
    assert_eq!(
        selected("net 2001:db8:1::25", &packets),
        [true, false, false]
    );

    // An IPv4-mapped address is IPv6 and does not match the IPv4 packet.
    assert_eq!(
        selected("host ::ffff:10.0.0.5", &packets),
        [false, false, false]
    );
}

#[test]
fn cidr_host_bits_rejected() {
    let cases = [
        ("net 10.0.0.1/8", "10.0.0.1/8", "10.0.0.0/8"),
        ("net 192.168.1.1/24", "192.168.1.1/24", "192.168.1.0/24"),
        (
            "net 10.0.0.1 mask 255.0.0.0",
            "10.0.0.1 mask 255.0.0.0",
            "10.0.0.0 mask 255.0.0.0",
        ),
        ("net 2001:db8::1/32", "2001:db8::1/32", "2001:db8::/32"),
        ("net 10.0.0.1/0", "10.0.0.1/0", "0.0.0.0/0"),
    ];

    for (expression, network, suggestion) in cases {
        assert_error(
            expression,
            FilterErrorKind::HostBitsSet {
                network: network.into(),
                suggestion: suggestion.into(),
            },
            5,
        );
    }
    let error = error("net 10.0.0.1/8");
    assert_eq!(error.span(), 4..14);
    assert_eq!(error.caret_line("net 10.0.0.1/8"), "    ^^^^^^^^^^");
}

#[test]
fn cidr_prefix_limits() {
    let packets = [smtp_out()];
    assert_eq!(selected("net 10.0.0.5/32", &packets), [true]);
    assert_eq!(selected("net 10.0.0.4/31", &packets), [true]);
    assert_eq!(
        selected("net 10.0.0.4/31 and not net 10.0.0.4/32", &packets),
        [true]
    );
    assert_error(
        "net 10.0.0.0/33",
        FilterErrorKind::OutOfRange {
            field: Field::PrefixLength,
            value: "33".into(),
            max: 32,
        },
        14,
    );
    assert_error(
        "net 2001:db8::/129",
        FilterErrorKind::OutOfRange {
            field: Field::PrefixLength,
            value: "129".into(),
            max: 128,
        },
        16,
    );
}

#[test]
fn precedence_is_left_to_right() {
    // a = host 10.0.0.5, b = udp, c = port 25.
    let packets = [
        smtp_out(),
        dns_query(),
        tcp("10.0.0.9:1", "10.0.0.8:2"),
        udp("10.0.0.9:25", "10.0.0.8:2"),
    ];

    // pcap-filter(7): `and` and `or` have equal precedence, left to right.
    assert_eq!(
        selected("host 10.0.0.5 or udp and port 25", &packets),
        selected("(host 10.0.0.5 or udp) and port 25", &packets)
    );
    assert_eq!(
        selected("host 10.0.0.5 or udp and port 25", &packets),
        [true, false, false, true]
    );
    assert_eq!(
        selected("host 10.0.0.5 or (udp and port 25)", &packets),
        [true, true, false, true]
    );
    assert_eq!(
        selected("port 25 and udp or host 10.0.0.5", &packets),
        [true, true, false, true]
    );
}

#[test]
fn not_binds_tightest() {
    let packets = [smtp_out(), dns_query(), tcp("10.0.0.9:1", "10.0.0.8:2")];
    assert_eq!(
        selected("not udp and port 25", &packets),
        [true, false, false]
    );
    assert_eq!(
        selected("not (udp and port 53)", &packets),
        [true, false, true]
    );
    assert_eq!(
        selected("! udp && ! port 25", &packets),
        [false, false, true]
    );
    assert_eq!(selected("not not tcp", &packets), [true, false, true]);
    assert_eq!(selected("!tcp||port 25", &packets), [true, true, false]);
}

#[test]
fn bare_values_repeat_qualifiers() {
    let packets = [
        smtp_out(),
        dns_query(),
        submission_v6(),
        tcp("10.0.0.7:40000", "10.0.0.8:587"),
    ];

    assert_eq!(
        selected("host 192.0.2.25 or 10.0.0.53", &packets),
        [true, true, false, false]
    );
    assert_eq!(
        selected("port 25 or 587", &packets),
        [true, false, true, true]
    );
    assert_eq!(
        selected("tcp dst port 25 or 53", &packets),
        [true, false, false, false]
    );
    assert_eq!(
        selected("port 25 or 53 or 587", &packets),
        [true, true, true, true]
    );

    // The repeated qualifiers include the direction.
    assert_eq!(
        selected("src port 25 or 53", &packets),
        [false, false, false, false]
    );

    // Only the first value is negated, as the man page's `not host vs and ace`.
    assert_eq!(
        selected("not host 10.0.0.5 and 10.0.0.53", &packets),
        selected("not host 10.0.0.5 and host 10.0.0.53", &packets)
    );
    assert_eq!(
        selected("host 10.0.0.5 and not 10.0.0.53", &packets),
        [true, false, false, false]
    );

    // A group of values after `and` takes the qualifiers before it.
    assert_eq!(
        selected("dst port 587 and (52000 or 40000)", &packets),
        [false; 4]
    );
    assert_eq!(
        selected("port 587 and (52000 or 40000)", &packets),
        [false, false, true, true]
    );

    // A parenthesised term passes on the qualifiers before its `(`, so
    // 10.0.0.53 is a host.
    assert_eq!(
        selected("host 10.0.0.8 or (port 25) or 10.0.0.53", &packets),
        [true, true, false, true]
    );

    // Each primitive replaces the qualifiers: here `net` sets them after `tcp`
    // left none.
    assert_eq!(
        selected("tcp and net 10.0.0.0/8 or 2001:db8::/32", &packets),
        [true, false, true, true]
    );
}

#[test]
fn vlan_levels() {
    let untagged = smtp_out();
    let single = tagged(smtp_out(), &[100]);
    let double = tagged(smtp_out(), &[100, 200]);
    let other = tagged(dns_query(), &[200]);
    let packets = [untagged, single, double, other];
    assert_eq!(selected("vlan", &packets), [false, true, true, true]);
    assert_eq!(selected("not vlan", &packets), [true, false, false, false]);
    assert_eq!(selected("vlan 100", &packets), [false, true, true, false]);
    assert_eq!(selected("vlan 200", &packets), [false, false, false, true]);
    assert_eq!(
        selected("vlan and vlan", &packets),
        [false, false, true, false]
    );
    assert_eq!(
        selected("vlan 100 and vlan 200", &packets),
        [false, false, true, false]
    );

    // libpcap's rule: the second `vlan` tests the inner tag even after `or`.
    assert_eq!(
        selected("vlan 200 or vlan 200", &packets),
        [false, false, true, true]
    );
    assert_eq!(
        selected("vlan 0x64", &packets),
        selected("vlan 100", &packets)
    );

    // Other primitives see through the tags.
    assert_eq!(selected("tcp port 25", &packets), [true, true, true, false]);
    assert_eq!(
        selected("vlan and udp", &packets),
        [false, false, false, true]
    );
}

#[test]
fn vlan_limits() {
    assert_error(
        "vlan 1 and vlan 2 and vlan 3",
        FilterErrorKind::TooManyVlans { max: 2 },
        23,
    );
    assert_error(
        "vlan 4096",
        FilterErrorKind::OutOfRange {
            field: Field::VlanId,
            value: "4096".into(),
            max: 4095,
        },
        6,
    );
    assert_eq!(
        selected("vlan 4095", &[tagged(smtp_out(), &[4095])]),
        [true]
    );
}

#[test]
fn less_and_greater_use_ip_length() {
    let packets = [
        with_ip_len(smtp_out(), 40),
        with_ip_len(smtp_out(), 576),
        with_ip_len(smtp_out(), 1500),
    ];

    assert_eq!(selected("less 576", &packets), [true, true, false]);
    assert_eq!(selected("greater 576", &packets), [false, true, true]);
    assert_eq!(selected("less 575", &packets), [true, false, false]);
    assert_eq!(selected("greater 0x5dc", &packets), [false, false, true]);
}

#[test]
fn long_host_list_stays_flat() {
    let hosts: Vec<String> = (0..2000)
        .map(|i| format!("10.{}.{}.1", i / 256, i % 256))
        .collect();
    let expression = format!("host {}", hosts.join(" or "));
    let filter = compile(&expression);
    assert_eq!(filter.test_count(), 2000);
    assert!(filter.matches(&tcp("10.7.207.1:1", "192.0.2.1:2")));
    assert!(!filter.matches(&tcp("10.8.0.2:1", "192.0.2.1:2")));
}

#[test]
fn nesting_limit() {
    let deep_not = format!("{}tcp", "not ".repeat(MAX_NESTING));
    assert_eq!(compile(&deep_not).test_count(), 1);
    let too_deep = format!("{}tcp", "not ".repeat(MAX_NESTING + 1));
    assert_error(
        &too_deep,
        FilterErrorKind::TooDeep { max: MAX_NESTING },
        4 * MAX_NESTING + 1,
    );

    let parens = format!(
        "{}tcp{}",
        "(".repeat(MAX_NESTING + 1),
        ")".repeat(MAX_NESTING + 1)
    );
    assert_error(
        &parens,
        FilterErrorKind::TooDeep { max: MAX_NESTING },
        MAX_NESTING + 1,
    );

    // Alternating operators nest one level each.
    let alternating: Vec<&str> = (0..=MAX_NESTING + 1)
        .map(|i| if i % 2 == 0 { "tcp" } else { "udp" })
        .collect();
    let mut expression = String::from("ip");
    for (i, primitive) in alternating.iter().enumerate() {
        expression.push_str(if i % 2 == 0 { " and " } else { " or " });
        expression.push_str(primitive);
    }
    let error = error(&expression);
    assert_eq!(error.kind(), &FilterErrorKind::TooDeep { max: MAX_NESTING });
}

#[test]
fn errors_name_position() {
    use FilterErrorKind as K;

    let cases: Vec<(&str, FilterErrorKind, usize)> = vec![
        (
            "host 10.0.0.1 $",
            K::UnexpectedCharacter { character: '$' },
            15,
        ),
        (
            "host",
            K::UnexpectedEnd {
                expected: Expected::Address,
            },
            5,
        ),
        (
            "tcp and",
            K::UnexpectedEnd {
                expected: Expected::Primitive,
            },
            8,
        ),
        (
            "less",
            K::UnexpectedEnd {
                expected: Expected::Number,
            },
            5,
        ),
        (
            "net 10.0.0.0/",
            K::UnexpectedEnd {
                expected: Expected::PrefixLength,
            },
            14,
        ),
        (
            "net 10.0.0.0 mask",
            K::UnexpectedEnd {
                expected: Expected::Netmask,
            },
            18,
        ),
        (
            "port 25 587",
            K::UnexpectedToken {
                found: "587".into(),
                expected: Expected::Operator,
            },
            9,
        ),
        (
            "host and",
            K::UnexpectedToken {
                found: "and".into(),
                expected: Expected::Address,
            },
            6,
        ),
        (
            "port or 25",
            K::UnexpectedToken {
                found: "or".into(),
                expected: Expected::Port,
            },
            6,
        ),
        (
            "()",
            K::UnexpectedToken {
                found: ")".into(),
                expected: Expected::Primitive,
            },
            2,
        ),
        (
            "(tcp udp)",
            K::UnexpectedToken {
                found: "udp".into(),
                expected: Expected::OperatorOrParen,
            },
            6,
        ),
        (
            "host 10.0.0.1 and gateway snup",
            K::Unsupported {
                word: "gateway".into(),
            },
            19,
        ),
        (
            "ether host 00:11:22:33:44:55",
            K::Unsupported {
                word: "ether".into(),
            },
            1,
        ),
        ("tcp[13] & 2 != 0", K::Unsupported { word: "[".into() }, 4),
        (
            "ip and broadcast",
            K::Unsupported {
                word: "broadcast".into(),
            },
            8,
        ),
        ("len <= 100", K::Unsupported { word: "len".into() }, 1),
        (
            "tcp[tcpflags] & tcp-syn != 0",
            K::Unsupported { word: "[".into() },
            4,
        ),
        (
            "HOST 10.0.0.1",
            K::KeywordCase {
                word: "HOST".into(),
                keyword: "host",
            },
            1,
        ),
        (
            "tcp AND udp",
            K::KeywordCase {
                word: "AND".into(),
                keyword: "and",
            },
            5,
        ),
        (
            "10.0.0.1",
            K::MissingQualifier {
                value: "10.0.0.1".into(),
            },
            1,
        ),
        ("tcp or 25", K::MissingQualifier { value: "25".into() }, 8),
        (
            "vlan 100 or 200",
            K::MissingQualifier {
                value: "200".into(),
            },
            13,
        ),
        (
            "(host 10.0.0.1) or 10.0.0.2",
            K::MissingQualifier {
                value: "10.0.0.2".into(),
            },
            20,
        ),
        (
            "tcp and not 25",
            K::MissingQualifier { value: "25".into() },
            13,
        ),
        (
            "host mail.example.com",
            K::HostName {
                name: "mail.example.com".into(),
            },
            6,
        ),
        (
            "port smtp-relay",
            K::UnknownService {
                name: "smtp-relay".into(),
            },
            6,
        ),
        ("proto gre", K::UnknownProtocol { name: "gre".into() }, 7),
        ("port 08", K::InvalidNumber { text: "08".into() }, 6),
        (
            "less 0xfg",
            K::InvalidNumber {
                text: "0xfg".into(),
            },
            6,
        ),
        (
            "host 10.0.0.256",
            K::InvalidAddress {
                text: "10.0.0.256".into(),
            },
            6,
        ),
        (
            "host 10.1",
            K::InvalidAddress {
                text: "10.1".into(),
            },
            6,
        ),
        (
            "src port 25 or dst 26",
            K::InvalidAddress { text: "26".into() },
            20,
        ),
        (
            "net 2001:db8::g/32",
            K::InvalidAddress {
                text: "2001:db8::g".into(),
            },
            5,
        ),
        (
            "net 10.0.0.0 mask 255",
            K::InvalidAddress { text: "255".into() },
            19,
        ),
        (
            "portrange 1-",
            K::InvalidPortRange { text: "1-".into() },
            11,
        ),
        (
            "portrange 1-2-3",
            K::InvalidPortRange {
                text: "1-2-3".into(),
            },
            11,
        ),
        (
            "port 70000",
            K::OutOfRange {
                field: Field::Port,
                value: "70000".into(),
                max: 65535,
            },
            6,
        ),
        (
            "portrange 0-65536",
            K::OutOfRange {
                field: Field::Port,
                value: "65536".into(),
                max: 65535,
            },
            11,
        ),
        (
            "proto 256",
            K::OutOfRange {
                field: Field::Protocol,
                value: "256".into(),
                max: 255,
            },
            7,
        ),
        (
            "less 4294967296",
            K::OutOfRange {
                field: Field::Number,
                value: "4294967296".into(),
                max: u32::MAX.into(),
            },
            6,
        ),
        ("host 10.0.0.0/8", K::MaskNeedsNet, 14),
        ("host 10.0.0.0 mask 255.0.0.0", K::MaskNeedsNet, 15),
        ("net 2001:db8:: mask ffff::", K::MaskNotIpv4, 16),
        (
            "tcp host 10.0.0.1",
            K::InvalidQualifier {
                qualifier: "tcp",
                primitive: "host",
            },
            1,
        ),
        (
            "ip port 80",
            K::InvalidQualifier {
                qualifier: "ip",
                primitive: "port",
            },
            1,
        ),
        (
            "udp net 10.0.0.0/8",
            K::InvalidQualifier {
                qualifier: "udp",
                primitive: "net",
            },
            1,
        ),
        (
            "tcp proto 6",
            K::InvalidQualifier {
                qualifier: "tcp",
                primitive: "proto",
            },
            1,
        ),
        (
            "ip6 host 10.0.0.1",
            K::AddressFamily {
                qualifier: "ip6",
                address: "10.0.0.1".into(),
            },
            10,
        ),
        (
            "ip host 2001:db8::1",
            K::AddressFamily {
                qualifier: "ip",
                address: "2001:db8::1".into(),
            },
            9,
        ),
        (
            "ip net 2001:db8::/32",
            K::AddressFamily {
                qualifier: "ip",
                address: "2001:db8::".into(),
            },
            8,
        ),
        (
            "udp port smtp",
            K::ServiceTransport {
                name: "smtp".into(),
                port: 25,
                transport: "TCP",
                qualifier: "udp",
            },
            10,
        ),
        ("(tcp or udp", K::UnclosedParen, 1),
        ("tcp and (port 25 or (udp)", K::UnclosedParen, 9),
        ("tcp)", K::UnmatchedParen, 4),
    ];

    for (expression, kind, column) in cases {
        assert_error(expression, kind, column);
    }
}

#[test]
fn error_rendering_with_caret() {
    let expression = "host 10.0.0.1 and gateway snup";
    let error = error(expression);
    assert_eq!(
        error.render(expression, Lang::En),
        "error in filter expression at column 19: `gateway` is not supported by exflow's \
         offline filter; it supports host, net, port, portrange, proto, ip, ip6, tcp, udp, \
         icmp, icmp6, sctp, vlan, less and greater\n  \
         host 10.0.0.1 and gateway snup\n                    ^^^^^^^"
    );
    let japanese = error.render(expression, Lang::Ja);
    assert!(
        japanese.starts_with("フィルター式の 19 文字目にエラーがあります: `gateway` は"),
        "{japanese}"
    );
    assert!(
        japanese.ends_with("\n                    ^^^^^^^"),
        "{japanese}"
    );
}

#[test]
fn expression_kept_for_display() {
    let filter: Filter = "tcp port 25".parse().unwrap();
    assert_eq!(filter.to_string(), "tcp port 25");
    assert_eq!(filter.expression(), "tcp port 25");
}
