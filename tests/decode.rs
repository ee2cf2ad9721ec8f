//! Decoder tests against the real captures of the corpus. Expected values come
//! from tshark 4.0 (`tshark -r FILE -T fields ...`) and from labels.tsv.

#[path = "common/decode_frames.rs"]
mod decode_frames;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use decode_frames::{OwnedFrame, corpus_dir, read_corpus};
use exflow::capture::{LinkType, Timestamp};
use exflow::decode::{
    DecodeErrorKind, Decoded, Decoder, DecoderConfig, Layer, Packet, SkipReason, Transport,
    link_supported,
};

/// An unordered 5-tuple as text: transport, then the two (address, port) ends
/// in text order.
type FlowKey = (String, String, u16, String, u16);

fn flow_key(
    transport: &str,
    a: impl ToString,
    a_port: u16,
    b: impl ToString,
    b_port: u16,
) -> FlowKey {
    let (a, b) = (a.to_string(), b.to_string());
    if (&a, a_port) <= (&b, b_port) {
        (transport.to_string(), a, a_port, b, b_port)
    } else {
        (transport.to_string(), b, b_port, a, a_port)
    }
}

fn packet_key(packet: &Packet<'_>) -> FlowKey {
    flow_key(
        packet.transport.as_str(),
        packet.src,
        packet.src_port,
        packet.dst,
        packet.dst_port,
    )
}

/// Decodes every frame and hands each TCP/UDP packet (reassembled or not) to
/// `on_packet` with its frame index.
fn decode_all(
    decoder: &mut Decoder,
    frames: &[OwnedFrame],
    mut on_packet: impl FnMut(usize, &Packet<'_>),
) {
    for (index, owned) in frames.iter().enumerate() {
        match decoder.decode(&owned.frame()) {
            Decoded::Packet(packet) => on_packet(index, &packet),
            Decoded::Datagram(datagram) => on_packet(index, &datagram.packet()),
            _ => {}
        }
    }
}

fn packets_of(file: &str) -> (Vec<(usize, FlowKey)>, Decoder) {
    let mut decoder = Decoder::default();
    let mut packets = Vec::new();
    decode_all(&mut decoder, &read_corpus(file), |index, packet| {
        packets.push((index, packet_key(packet)));
    });
    (packets, decoder)
}

fn labelled_flows(file: &str) -> BTreeSet<FlowKey> {
    let labels = std::fs::read_to_string(corpus_dir().join("labels.tsv")).unwrap();
    labels
        .lines()
        .skip(1)
        .map(|line| line.split('\t').collect::<Vec<_>>())
        .filter(|fields| fields[0] == file)
        .map(|f| {
            flow_key(
                f[1],
                f[2],
                f[3].parse().unwrap(),
                f[4],
                f[5].parse().unwrap(),
            )
        })
        .collect()
}

/// Decodes each frame and returns the outcomes in a printable form.
fn outcomes(file: &str, config: DecoderConfig) -> (Vec<String>, Decoder) {
    let mut decoder = Decoder::new(config);
    let mut results = Vec::new();
    for owned in read_corpus(file) {
        let outcome = match decoder.decode(&owned.frame()) {
            Decoded::Packet(packet) => format!("packet {:?}", packet_key(&packet)),
            Decoded::Datagram(datagram) => format!("datagram {:?}", packet_key(&datagram.packet())),
            Decoded::Held => "held".to_string(),
            Decoded::Skipped(reason) => format!("skipped {}", reason.as_str()),
            Decoded::Error(error) => format!("error {} at {}", error.layer, error.offset),
        };
        results.push(outcome);
    }
    (results, decoder)
}

fn corpus_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".pcap") || name.ends_with(".pcapng"))
        .collect();
    files.sort();
    files
}

/// Every corpus file decodes without a panic, and its TCP/UDP 5-tuples are the
/// flows labels.tsv lists, except the differences the fixture explains.
#[test]
fn corpus_flows_match_labels() {
    let explained = include_str!("fixtures/decode_flow_differences.tsv");
    let mut explained_missing = BTreeSet::new();
    let mut explained_extra = BTreeSet::new();
    for line in explained.lines().filter(|line| !line.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 8, "fixture line needs 8 fields: {line}");
        let key = (
            f[0].to_string(),
            flow_key(
                f[2],
                f[3],
                f[4].parse().unwrap(),
                f[5],
                f[6].parse().unwrap(),
            ),
        );
        match f[1] {
            "missing" => explained_missing.insert(key),
            "extra" => explained_extra.insert(key),
            side => panic!("unknown side {side} in fixture line: {line}"),
        };
    }

    let files = corpus_files();
    assert!(
        files.len() > 170,
        "corpus not found at {}",
        corpus_dir().display()
    );
    let mut missing = BTreeSet::new();
    let mut extra = BTreeSet::new();
    for file in &files {
        let (packets, _) = packets_of(file);
        let found: BTreeSet<FlowKey> = packets.into_iter().map(|(_, key)| key).collect();
        let expected = labelled_flows(file);
        for key in expected.difference(&found) {
            missing.insert((file.clone(), key.clone()));
        }
        for key in found.difference(&expected) {
            extra.insert((file.clone(), key.clone()));
        }
    }
    let unexplained_missing: Vec<_> = missing.difference(&explained_missing).collect();
    let unexplained_extra: Vec<_> = extra.difference(&explained_extra).collect();
    let stale_missing: Vec<_> = explained_missing.difference(&missing).collect();
    let stale_extra: Vec<_> = explained_extra.difference(&extra).collect();
    assert!(
        unexplained_missing.is_empty(),
        "labelled flows not decoded: {unexplained_missing:#?}"
    );
    assert!(
        unexplained_extra.is_empty(),
        "decoded flows not labelled: {unexplained_extra:#?}"
    );
    assert!(
        stale_missing.is_empty(),
        "fixture lists missing flows that are decoded now: {stale_missing:#?}"
    );
    assert!(
        stale_extra.is_empty(),
        "fixture lists extra flows that are gone now: {stale_extra:#?}"
    );
}

/// Each supported link type in the corpus: the TCP/UDP packet count and the
/// first packet's source, as tshark shows them.
#[test]
fn link_types_decode_like_tshark() {
    let cases: [(&str, u32, usize, &str, u16); 15] = [
        ("ndpi__smtp.pcap", 1, 95, "194.7.248.153", 2127),
        ("ndpi__selfsigned.pcap", 0, 20, "127.0.0.1", 51607),
        ("ndpi__openvpn-tlscrypt.pcap", 0, 13, "::1", 56256),
        ("ndpi__dlt_ppp.pcap", 9, 1, "193.167.0.252", 44083),
        ("ndpi__hls.pcapng", 101, 13, "10.215.173.1", 41644),
        (
            "zeek__dns__ech.pcap",
            101,
            4,
            "2a02:6bf:8080:165::1:12",
            55941,
        ),
        (
            "tcpdump__LINKTYPE_IPV4.pcap",
            228,
            1,
            "192.168.1.100",
            12345,
        ),
        ("tcpdump__LINKTYPE_IPV6.pcap", 229, 1, "2001:db8::1", 12345),
        ("ndpi__http2.pcapng", 113, 10, "127.0.0.1", 37824),
        (
            "zeek__tls__openjdk-25.0.2-zeek.org.pcap",
            276,
            6,
            "192.168.64.6",
            55058,
        ),
        (
            "zeek__dns-inverse-query.pcap",
            10,
            11,
            "212.180.42.100",
            25000,
        ),
        ("tcpdump__nflog.pcap", 239, 4, "74.82.42.42", 53),
        ("tcpdump__LINKTYPE_PKTAP.pcap", 258, 1, "10.32.4.27", 63538),
        (
            "tcpdump__arcnet-rfc1051-arp-icmp-http.pcap",
            129,
            18,
            "10.80.131.1",
            1024,
        ),
        (
            "tcpdump__arcnet-rfc1201-arp-icmp-http.pcap",
            129,
            18,
            "10.80.131.1",
            1024,
        ),
    ];
    for (file, link, count, src, src_port) in cases {
        let frames = read_corpus(file);
        assert_eq!(frames[0].link, LinkType(link), "{file}: link type");
        assert!(
            link_supported(LinkType(link)),
            "{file}: link type {link} supported"
        );

        let mut decoder = Decoder::default();
        let mut first: Option<(IpAddr, u16)> = None;
        let mut packets = 0;
        decode_all(&mut decoder, &frames, |_, packet| {
            packets += 1;
            first.get_or_insert((packet.src, packet.src_port));
        });
        assert_eq!(packets, count, "{file}: TCP/UDP packets");
        assert_eq!(
            first,
            Some((src.parse().unwrap(), src_port)),
            "{file}: first packet source"
        );
        assert_eq!(
            decoder.stats().total_errors(),
            0,
            "{file}: errors {:?}",
            decoder.stats().errors
        );
    }
}

#[test]
fn unsupported_link_types_are_reported() {
    for link in [
        LinkType(147),
        LinkType(127),
        LinkType(105),
        LinkType(u32::MAX),
    ] {
        assert!(!link_supported(link), "{link}");
    }
    let frames = read_corpus("ndpi__smtp.pcap");
    let mut frame = frames[0].frame();
    frame.link = LinkType(147);
    let Decoded::Error(error) = Decoder::default().decode(&frame) else {
        panic!("expected an error for link type 147");
    };
    assert_eq!(error.layer, Layer::Link);
    assert_eq!(
        error.kind,
        DecodeErrorKind::UnsupportedLinkType(LinkType(147))
    );
    assert_eq!(error.frame_offset, frames[0].offset);
}

/// Collects the VLAN ids of every packet of a file.
fn vlan_sets(file: &str) -> BTreeSet<Vec<u16>> {
    let mut decoder = Decoder::default();
    let mut vlans = BTreeSet::new();
    decode_all(&mut decoder, &read_corpus(file), |_, packet| {
        vlans.insert(packet.vlan.as_slice().to_vec());
    });
    vlans
}

#[test]
fn qinq_records_outer_vlan_first() {
    // tshark: vlan.id 3704 (802.1ad) then 2474 (802.1Q), PPPoE inside.
    assert_eq!(
        vlan_sets("zeek__pppoe-over-qinq.pcap"),
        BTreeSet::from([vec![3704, 2474]])
    );
    // tshark: one flow untagged, one QinQ 421 then 785, PPPoE inside.
    assert_eq!(
        vlan_sets("ndpi__dns.pcap"),
        BTreeSet::from([vec![], vec![421, 785]])
    );
}

#[test]
fn qinq_priority_tags_are_no_vlan() {
    // Both tags carry VID 0 (priority only, IEEE 802.1Q section 9.6); the 14
    // packets still decode through both tags.
    let (packets, decoder) = packets_of("zeek__http-qinq-0.pcap");
    assert_eq!(packets.len(), 14);
    assert_eq!(
        vlan_sets("zeek__http-qinq-0.pcap"),
        BTreeSet::from([vec![]])
    );
    assert_eq!(decoder.stats().skipped(SkipReason::NotIp), 0);
}

#[test]
fn mixed_vlan_and_mpls() {
    // tshark: 22 plain IPv4, 11 in MPLS, 14 in VLAN 4093, all TCP.
    let (packets, decoder) = packets_of("zeek__mixed-vlan-mpls.pcap");
    assert_eq!(packets.len(), 47);
    assert_eq!(
        vlan_sets("zeek__mixed-vlan-mpls.pcap"),
        BTreeSet::from([vec![], vec![4093]])
    );
    let telnet = flow_key("tcp", "10.1.2.1", 11001, "10.34.0.1", 23);
    assert_eq!(packets.iter().filter(|(_, key)| *key == telnet).count(), 11);
    assert_eq!(decoder.stats().total_errors(), 0);
}

#[test]
fn fabric_path_and_plain_frames_decode_alike() {
    // tshark: 65 frames in FabricPath, 65 without; of each, 16 TCP, 16 UDP,
    // 16 SCTP, 16 IP protocol 99 and one frame that is not IP.
    let (packets, decoder) = packets_of("zeek__cisco-fabric-path.pcap");
    assert_eq!(packets.len(), 64);
    assert_eq!(decoder.stats().skipped(SkipReason::OtherIpProtocol), 64);
    assert_eq!(decoder.stats().skipped(SkipReason::NotIp), 2);
}

#[test]
fn vntag_reaches_ip() {
    // Three IPv4 packets of protocol 253 behind a VN-Tag and VLAN 11.
    let (results, _) = outcomes("zeek__vntag.pcap", DecoderConfig::default());
    assert_eq!(results, vec!["skipped other_ip_protocol"; 3]);
}

#[test]
fn ipv4_fragments_reassemble_dns() {
    // tshark: frames 2 and 3 reassemble a UDP datagram of 1710 bytes (DNS id
    // 0xd43f), frames 16 and 17 one of 1710 bytes (id 0x15a8), frames 11 and 12
    // one of 1498 bytes (id 0xa17d).
    let mut decoder = Decoder::default();
    let mut datagrams = Vec::new();
    for (index, owned) in read_corpus("ndpi__dns_fragmented.pcap").iter().enumerate() {
        if let Decoded::Datagram(datagram) = decoder.decode(&owned.frame()) {
            let packet = datagram.packet();
            datagrams.push((
                index + 1,
                packet.ip_version,
                packet.payload_len,
                packet.payload.len(),
                u16::from_be_bytes([packet.payload[0], packet.payload[1]]),
                packet.bad_checksum,
            ));
        }
    }
    // Frames 41 and 42 one of 1738 bytes (id 0x89ce).
    let ipv4: Vec<_> = datagrams.iter().filter(|d| d.1 == 4).cloned().collect();
    assert_eq!(
        ipv4,
        vec![
            (3, 4, 1702, 1702, 0xd43f, false),
            (12, 4, 1490, 1490, 0xa17d, false),
            (17, 4, 1702, 1702, 0x15a8, false),
            (42, 4, 1730, 1730, 0x89ce, false),
        ]
    );
    // IPv6: frames 5-6 (UDP 1509 bytes, id 0xe9c4), 8-9 (1498, id 0x0a32) and
    // 38-39 (1738, id 0xc2a0).
    let ipv6: Vec<_> = datagrams.iter().filter(|d| d.1 == 6).cloned().collect();
    assert_eq!(
        ipv6,
        vec![
            (6, 6, 1501, 1501, 0xe9c4, false),
            (9, 6, 1490, 1490, 0x0a32, false),
            (39, 6, 1730, 1730, 0xc2a0, false)
        ]
    );
    assert_eq!(decoder.stats().fragments.reassembled, 7);
    // Every fragment is stored, the one that completes its datagram included.
    assert_eq!(decoder.stats().fragments.held, 14);
    assert_eq!(decoder.pending_datagrams(), 0);
    assert_eq!(decoder.fragment_memory(), 0);
}

/// Returns the DNS message's length by walking its header and sections
/// (RFC 1035 section 4.1), or `None` when it does not parse.
fn dns_message_len(message: &[u8]) -> Option<usize> {
    fn skip_name(message: &[u8], mut at: usize) -> Option<usize> {
        loop {
            let len = *message.get(at)? as usize;
            if len == 0 {
                return Some(at + 1);
            }
            if len & 0xc0 == 0xc0 {
                return Some(at + 2);
            }
            at += 1 + len;
        }
    }
    let count =
        |at: usize| Some(u16::from_be_bytes([*message.get(at)?, *message.get(at + 1)?]) as usize);
    let questions = count(4)?;
    let records = count(6)? + count(8)? + count(10)?;
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(message, at)? + 4;
    }
    for _ in 0..records {
        at = skip_name(message, at)? + 8;
        at += count(at)? + 2;
    }
    (at <= message.len()).then_some(at)
}

#[test]
fn ipv6_fragments_reassemble_dns() {
    // tshark: frames 6, 7 and 8 (identification 2) reassemble a 3238-byte UDP
    // datagram, a DNS response with id 0x9f91. Frame 4 is the lone last fragment
    // of identification 1 and never completes.
    let frames = read_corpus("zeek__ipv6-fragmented-dns.pcap");
    let mut decoder = Decoder::default();
    let mut outcomes = Vec::new();
    for owned in &frames {
        let outcome = match decoder.decode(&owned.frame()) {
            Decoded::Packet(_) => "packet".to_string(),
            Decoded::Held => "held".to_string(),
            Decoded::Datagram(datagram) => {
                let packet = datagram.packet();
                assert_eq!(packet.transport, Transport::Udp);
                assert_eq!(packet.src_port, 53);
                assert_eq!(packet.payload_len, 3230);
                assert_eq!(&packet.payload[..2], &[0x9f, 0x91]);
                assert_eq!(dns_message_len(packet.payload), Some(3230));
                assert!(!packet.bad_checksum);
                assert_eq!(packet.ts, owned.ts);
                assert_eq!(packet.offset, owned.offset);
                assert_eq!(datagram.bytes().len(), 40 + 3238);
                "datagram".to_string()
            }
            other => format!("{other:?}"),
        };
        outcomes.push(outcome);
    }
    assert_eq!(
        outcomes,
        [
            "packet", "packet", "packet", "held", "packet", "held", "held", "datagram"
        ]
    );

    // The lone fragment times out 30 s after it arrived, by capture time.
    assert_eq!(decoder.pending_datagrams(), 1);
    let arrived = frames[3].ts;
    decoder.expire(Timestamp(arrived.0 + 30 * Timestamp::NANOS_PER_SEC));
    assert_eq!(decoder.stats().fragments.timed_out, 0);
    decoder.expire(Timestamp(arrived.0 + 31 * Timestamp::NANOS_PER_SEC));
    assert_eq!(decoder.stats().fragments.timed_out, 1);
    assert_eq!(decoder.pending_datagrams(), 0);
    assert_eq!(decoder.fragment_memory(), 0);
}

#[test]
fn fragment_timeout_drops_slow_datagram() {
    // Frame 7 arrives 0.46 ms after frame 6 and frame 8 0.23 ms after frame 7.
    // With a 1 ms timeout the datagram completes and only frame 4's lone
    // fragment times out (at frame 5, 5 s later). With 0.1 ms, frame 7 finds
    // frame 6's datagram expired and frame 8 finds frame 7's expired.
    let frames = read_corpus("zeek__ipv6-fragmented-dns.pcap");
    for (timeout, reassembled, timed_out) in [
        (Duration::from_millis(1), 1, 1),
        (Duration::from_micros(100), 0, 3),
    ] {
        let config = DecoderConfig {
            fragment_timeout: timeout,
            ..DecoderConfig::default()
        };
        let mut decoder = Decoder::new(config);
        for owned in &frames {
            decoder.decode(&owned.frame());
        }
        let stats = &decoder.stats().fragments;
        assert_eq!(stats.reassembled, reassembled, "timeout {timeout:?}");
        assert_eq!(stats.timed_out, timed_out, "timeout {timeout:?}");
    }
}

/// Frames 2 and 3 of ndpi__dns_fragmented.pcap are an IPv4 datagram, frames 5
/// and 6 an IPv6 one. Returns them interleaved: both first fragments, then both
/// last fragments.
fn interleaved_fragments() -> Vec<OwnedFrame> {
    let mut frames: Vec<Option<OwnedFrame>> = read_corpus("ndpi__dns_fragmented.pcap")
        .into_iter()
        .map(Some)
        .collect();
    [1, 4, 2, 5]
        .iter()
        .map(|&index| frames[index].take().unwrap())
        .collect()
}

fn decode_with(config: DecoderConfig, frames: &[OwnedFrame]) -> (Vec<String>, Decoder) {
    let max_memory = config.max_fragment_memory;
    let mut decoder = Decoder::new(config);
    let mut results = Vec::new();
    for owned in frames {
        let result = match decoder.decode(&owned.frame()) {
            Decoded::Held => "held".to_string(),
            Decoded::Datagram(_) => "datagram".to_string(),
            other => format!("{other:?}"),
        };
        results.push(result);
        assert!(decoder.fragment_memory() <= max_memory);
    }
    (results, decoder)
}

#[test]
fn fragment_memory_cap_evicts_oldest() {
    let frames = interleaved_fragments();
    let (results, decoder) = decode_with(DecoderConfig::default(), &frames);
    assert_eq!(results, ["held", "held", "datagram", "datagram"]);
    assert_eq!(decoder.stats().fragments.memory_cap, 0);

    // 2000 bytes hold one first fragment (1480 + 20 or 1448 + 40 bytes) but not
    // two, and a last fragment needs a buffer as long as its datagram. Each
    // fragment evicts the datagram before it.
    let config = DecoderConfig {
        max_fragment_memory: 2000,
        ..DecoderConfig::default()
    };
    let (results, decoder) = decode_with(config, &frames);
    assert_eq!(results, ["held"; 4]);
    assert_eq!(decoder.stats().fragments.memory_cap, 3);
    assert_eq!(decoder.stats().fragments.reassembled, 0);
    assert_eq!(decoder.pending_datagrams(), 1);
}

#[test]
fn fragment_memory_cap_below_one_fragment() {
    let config = DecoderConfig {
        max_fragment_memory: 1000,
        ..DecoderConfig::default()
    };
    let (results, decoder) = decode_with(config, &interleaved_fragments());
    // Both first fragments are over the cap alone; the last fragments, 1724 and
    // 1509 bytes as buffers, are too.
    assert_eq!(results, ["Skipped(FragmentDropped)"; 4]);
    assert_eq!(decoder.stats().fragments.memory_cap, 4);
    assert_eq!(decoder.pending_datagrams(), 0);
}

#[test]
fn fragment_pending_cap_evicts_oldest() {
    let config = DecoderConfig {
        max_pending_datagrams: 1,
        ..DecoderConfig::default()
    };
    let (results, decoder) = decode_with(config, &interleaved_fragments());
    assert_eq!(results, ["held"; 4]);
    assert_eq!(decoder.stats().fragments.pending_cap, 3);
    assert_eq!(decoder.pending_datagrams(), 1);
}

#[test]
fn overlapping_fragment_discards_datagram() {
    // Frame 3 is the last fragment at offset 1480; moved to offset 1472 it
    // overlaps the first fragment by 8 bytes. The header checksum is fixed so
    // that only the overlap differs.
    let mut frames = interleaved_fragments();
    let last = &mut frames[2].data;
    let ip = 14;
    last[ip + 6..ip + 8].copy_from_slice(&(1472u16 / 8).to_be_bytes());
    last[ip + 10..ip + 12].copy_from_slice(&[0, 0]);
    let sum: u32 = last[ip..ip + 20]
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    let folded = (sum & 0xffff) + (sum >> 16);
    let checksum = !(((folded & 0xffff) + (folded >> 16)) as u16);
    last[ip + 10..ip + 12].copy_from_slice(&checksum.to_be_bytes());

    let (results, decoder) = decode_with(DecoderConfig::default(), &frames);
    assert_eq!(
        results,
        ["held", "held", "Skipped(FragmentDropped)", "datagram"]
    );
    assert_eq!(decoder.stats().fragments.overlapping, 1);
    assert_eq!(decoder.stats().bad_checksums.ipv4_header, 0);
}

#[test]
fn ipv4_fragmented_syn() {
    // tshark: a 44-byte first fragment (24 bytes of TCP header) and a 36-byte
    // last fragment at offset 24 make a SYN with a 40-byte header and no data.
    let (results, decoder) = outcomes("zeek__ipv4__fragmented-syn.pcap", DecoderConfig::default());
    let expected = flow_key("tcp", "192.168.1.100", 12345, "10.0.0.5", 80);
    let (packets, _) = packets_of("zeek__ipv4__fragmented-syn.pcap");
    assert_eq!(results[0], "held");
    assert_eq!(results[1], format!("datagram {expected:?}"));
    assert_eq!(packets, vec![(1, expected)]);
    assert_eq!(decoder.stats().fragments.reassembled, 1);

    let mut decoder = Decoder::default();
    let frames = read_corpus("zeek__ipv4__fragmented-syn.pcap");
    decoder.decode(&frames[0].frame());
    let Decoded::Datagram(datagram) = decoder.decode(&frames[1].frame()) else {
        panic!("expected the SYN to complete");
    };
    let packet = datagram.packet();
    assert!(packet.tcp.flags.syn());
    assert_eq!(packet.payload_len, 0);
    assert_eq!(packet.ip_len, 60);
}

#[test]
fn ipv6_atomic_fragments_are_packets() {
    // RFC 6946: frames 13, 15, 16, 20 and 21 carry a Fragment header with offset
    // 0 and M clear; each is a whole packet. Frame 16 carries 15 bytes of data.
    let frames = read_corpus("zeek__ipv6-http-atomic-frag.pcap");
    let mut decoder = Decoder::default();
    for (index, owned) in frames.iter().enumerate() {
        let number = index + 1;
        let decoded = decoder.decode(&owned.frame());
        if ![13, 15, 16, 20, 21].contains(&number) {
            continue;
        }
        let Decoded::Packet(packet) = decoded else {
            panic!("frame {number}: expected a packet, got {decoded:?}");
        };
        assert_eq!(packet.transport, Transport::Tcp);
        if number == 16 {
            assert_eq!(packet.payload_len, 15);
            assert_eq!(packet.payload.len(), 15);
        }
    }
    assert_eq!(decoder.stats().fragments.held, 0);
    assert_eq!(decoder.pending_datagrams(), 0);
}

#[test]
fn many_tiny_fragments_hit_fragment_cap() {
    // Datagrams cut into hundreds of 16-byte fragments: each is dropped once it
    // has more than 128 fragments.
    let (_, decoder) = packets_of("ndpi__ip_fragmented_garbage.pcap");
    let stats = &decoder.stats().fragments;
    assert_eq!(stats.too_many_fragments, 9, "{stats:?}");
    assert_eq!(stats.reassembled, 0, "{stats:?}");
    assert_eq!(decoder.stats().packets, 0);
}

/// Returns the innermost flows of a file with the tunnel switch set.
fn flows_with_tunnels(file: &str, decapsulate_tunnels: bool) -> (BTreeSet<FlowKey>, Decoder) {
    let mut decoder = Decoder::new(DecoderConfig {
        decapsulate_tunnels,
        ..DecoderConfig::default()
    });
    let mut flows = BTreeSet::new();
    decode_all(&mut decoder, &read_corpus(file), |_, packet| {
        flows.insert(packet_key(packet));
    });
    (flows, decoder)
}

#[test]
fn tunnels_yield_innermost_flows() {
    // 6in4: every labelled flow is the inner IPv6 one.
    let (flows, decoder) = flows_with_tunnels("ndpi__6in4tunnel.pcap", true);
    assert_eq!(flows, labelled_flows("ndpi__6in4tunnel.pcap"));
    assert!(decoder.stats().tunnels.ip_in_ip > 0);

    // GTP-U with an IPv4 datagram fragmented outside the tunnel.
    let file = "zeek__tunnels__gtp__gtp1_gn_normal_incl_fragmentation.pcap";
    let (flows, decoder) = flows_with_tunnels(file, true);
    assert_eq!(flows, labelled_flows(file));
    // tshark reassembles 36 datagrams.
    assert_eq!(decoder.stats().fragments.reassembled, 36);
    assert_eq!(decoder.stats().tunnels.gtp_u, decoder.stats().packets);

    // Geneve carrying VXLAN carrying DNS, cut by the snapshot length.
    let file = "zeek__tunnels__geneve-vxlan-dns-truncated.pcap";
    let (flows, decoder) = flows_with_tunnels(file, true);
    assert_eq!(flows, labelled_flows(file));
    assert_eq!(decoder.stats().tunnels.geneve, 2);
    assert_eq!(decoder.stats().tunnels.vxlan, 2);
    assert_eq!(decoder.stats().truncated, 2);

    // VXLAN: the labelled inner flows (tshark's) are found, the outer ones are not.
    let (flows, decoder) = flows_with_tunnels("ndpi__vxlan.pcap", true);
    let inner: BTreeSet<FlowKey> = labelled_flows("ndpi__vxlan.pcap")
        .into_iter()
        .filter(|key| key.2 != 4789 && key.4 != 4789)
        .collect();
    assert_eq!(inner.len(), 4);
    assert_eq!(flows, inner);
    assert_eq!(decoder.stats().tunnels.vxlan, decoder.stats().packets);

    // IPv6 in GTP-U over VLANs.
    let (flows, _) = flows_with_tunnels("ndpi__ipv6_in_gtp.pcap", true);
    let inner = flow_key(
        "udp",
        "2607:fc20:4052:39e:490a:ea4d:17fe:e09c",
        49120,
        "fd00:976a:bc67:193e::7",
        25658,
    );
    assert_eq!(flows, BTreeSet::from([inner]));
}

#[test]
fn teredo_decapsulates_only_port_3544() {
    // Teredo to the server on 3544 carries ICMPv6; the client's traffic with its
    // peer on port 32900 is not on 3544 and stays an ordinary UDP flow, as in
    // labels.tsv.
    let (flows, decoder) = flows_with_tunnels("zeek__tunnels__Teredo.pcap", true);
    let stats = decoder.stats();
    assert!(stats.tunnels.teredo > 0);
    assert_eq!(
        stats.tunnels.teredo,
        stats.skipped(SkipReason::Icmpv6) + stats.skipped(SkipReason::NoNextHeader)
    );
    assert!(flows.contains(&flow_key("udp", "192.168.2.16", 3797, "83.170.1.38", 32900)));
    assert!(!flows.iter().any(|key| key.2 == 3544 || key.4 == 3544));
}

#[test]
fn tunnel_switch_off_keeps_outer_packets() {
    let (flows, decoder) = flows_with_tunnels("ndpi__6in4tunnel.pcap", false);
    assert!(flows.is_empty());
    assert_eq!(
        decoder.stats().skipped(SkipReason::TunnelNotDecapsulated),
        decoder.stats().frames
    );

    let (flows, decoder) = flows_with_tunnels("ndpi__vxlan.pcap", false);
    let outer: BTreeSet<FlowKey> = labelled_flows("ndpi__vxlan.pcap")
        .into_iter()
        .filter(|key| key.2 == 4789 || key.4 == 4789)
        .collect();
    assert_eq!(flows, outer);
    assert_eq!(decoder.stats().tunnels.vxlan, 0);
}

#[test]
fn tunnel_depth_cap_is_counted() {
    let config = DecoderConfig {
        max_tunnel_depth: 1,
        ..DecoderConfig::default()
    };
    let (_, decoder) = outcomes("zeek__tunnels__geneve-vxlan-dns-truncated.pcap", config);
    assert_eq!(decoder.stats().skipped(SkipReason::TunnelTooDeep), 2);
    assert_eq!(decoder.stats().packets, 0);
}

#[test]
fn bad_checksums_are_flagged_and_counted() {
    let cases = [
        ("zeek__chksums__ip4-tcp-bad-chksum.pcap", Transport::Tcp),
        ("zeek__chksums__ip4-udp-bad-chksum.pcap", Transport::Udp),
    ];
    for (file, transport) in cases {
        let frames = read_corpus(file);
        let mut decoder = Decoder::default();
        let Decoded::Packet(packet) = decoder.decode(&frames[0].frame()) else {
            panic!("{file}: expected a packet");
        };
        assert!(packet.bad_checksum, "{file}");
        assert_eq!(packet.transport, transport);
        let stats = decoder.stats().bad_checksums;
        assert_eq!(
            (stats.tcp, stats.udp, stats.ipv4_header),
            match transport {
                Transport::Tcp => (1, 0, 0),
                Transport::Udp => (0, 1, 0),
            }
        );

        let mut unverified = Decoder::new(DecoderConfig {
            verify_checksums: false,
            ..DecoderConfig::default()
        });
        let Decoded::Packet(packet) = unverified.decode(&frames[0].frame()) else {
            panic!("{file}: expected a packet");
        };
        assert!(!packet.bad_checksum, "{file}: verification off");
        assert_eq!(unverified.stats().bad_checksums, Default::default());
    }
}

#[test]
fn checksum_counts_match_tshark() {
    // tshark -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE: bad TCP and
    // UDP checksums per file (the GTP file's are the outer UDP headers).
    let cases = [
        ("ndpi__smtp.pcap", 0, 0),
        ("tcpdump__dns_udp.pcap", 0, 0),
        ("zeek__ipv6-fragmented-dns.pcap", 0, 0),
        ("ndpi__dns_fragmented.pcap", 12, 15),
        ("zeek__ipv6-http-atomic-frag.pcap", 4, 0),
        // tshark counts a third in frame 45, but that TCP header is quoted
        // inside an ICMPv6 Packet Too Big message, which exflow skips.
        ("ndpi__6in4tunnel.pcap", 2, 0),
        (
            "zeek__tunnels__gtp__gtp1_gn_normal_incl_fragmentation.pcap",
            0,
            36,
        ),
    ];
    for (file, tcp, udp) in cases {
        let (_, decoder) = packets_of(file);
        let stats = decoder.stats().bad_checksums;
        assert_eq!(
            (stats.tcp, stats.udp, stats.ipv4_header),
            (tcp, udp, 0),
            "{file}"
        );
        assert!(decoder.stats().packets > 0, "{file}");
    }
}

#[test]
fn snaplen_cut_tcp_options_keep_fixed_header() {
    // tshark: frame 1 has 68 of 74 bytes, so 34 of its 40-byte TCP header; frame
    // 4 has 54 of 138 bytes, a whole header and none of its 84 bytes of data.
    let frames = read_corpus("zeek__tcp__truncated-header.pcap");
    let mut decoder = Decoder::default();
    let Decoded::Packet(syn) = decoder.decode(&frames[0].frame()) else {
        panic!("frame 1: a SYN whose options were cut is still a packet");
    };
    assert!(syn.tcp.flags.syn());
    assert_eq!(syn.src_port, 60827);
    assert_eq!(syn.dst_port, 25);
    assert!(syn.payload.is_empty());
    assert_eq!(syn.payload_len, 0);
    decoder.decode(&frames[1].frame());
    decoder.decode(&frames[2].frame());
    let Decoded::Packet(packet) = decoder.decode(&frames[3].frame()) else {
        panic!("frame 4: expected a packet");
    };
    assert_eq!(packet.payload_len, 84);
    assert!(packet.payload.is_empty());
    assert_eq!(packet.ip_len, 124);
    assert!(!packet.bad_checksum);
    assert_eq!(decoder.stats().truncated, 2);
    assert_eq!(decoder.stats().skipped(SkipReason::TruncatedHeader), 0);
}

#[test]
fn malformed_headers_are_errors_or_skips() {
    let cases: [(&str, &[&str]); 6] = [
        // 8 of 78 bytes captured: the Ethernet header itself is cut.
        ("zeek__trunc__trunc-hdr.pcap", &["skipped truncated_header"]),
        // Header length 60 in a 20-byte packet that was not cut.
        (
            "zeek__trunc__ipv4-truncated-broken-header.pcap",
            &["error IPv4 at 14"],
        ),
        // MPLS, IPv6 in IPv6 twice, then IPv4 whose header the frame cuts.
        (
            "zeek__trunc__mpls-6in6-6in6-4in6-trunc.pcap",
            &["skipped truncated_header"],
        ),
        // A bad IPv4 header checksum on an ICMP packet.
        ("zeek__ip-bogus-header-len.pcap", &["skipped icmp"]),
        // Frames 2 and 4 claim IPv6 but have version 0.
        (
            "tcpdump__ipv6-bad-version.pcap",
            &[
                "skipped icmpv6",
                "error IPv6 at 14",
                "skipped icmpv6",
                "error IPv6 at 14",
            ],
        ),
        // IPv4 total length 12336 in a 46-byte capture of a 262144-byte frame:
        // 12 bytes of a TCP header.
        (
            "tcpdump__tcp_header_heapoverflow.pcap",
            &["skipped truncated_header"],
        ),
    ];
    for (file, expected) in cases {
        let (results, _) = outcomes(file, DecoderConfig::default());
        assert_eq!(results, expected, "{file}");
    }

    let frames = read_corpus("zeek__trunc__ipv4-truncated-broken-header.pcap");
    let Decoded::Error(error) = Decoder::default().decode(&frames[0].frame()) else {
        panic!("expected an error");
    };
    assert_eq!(
        error.kind,
        DecodeErrorKind::Truncated {
            needed: 60,
            available: 20
        }
    );
    assert_eq!(error.frame_offset, 24);
    assert!(!error.reassembled);
    assert_eq!(
        error.to_string(),
        "IPv4 header at byte 14 of the frame at input offset 24: truncated: the header needs 60 bytes but 20 are left; the frame was skipped"
    );
}

#[test]
fn cut_first_fragment_becomes_truncated_packet() {
    // Each frame is the first 257 or so bytes of the first fragment of a DNS
    // response; the ports are there, the rest of the datagram is not.
    let (packets, decoder) = packets_of("ndpi__badpackets.pcap");
    assert_eq!(packets.len(), 93);
    assert_eq!(decoder.stats().fragments.truncated, 93);
    assert_eq!(decoder.stats().truncated, 93);
}

#[test]
fn cut_first_fragment_counts_its_own_payload() {
    // The UDP length of a first fragment counts the whole datagram (1,498 to
    // 3,635 bytes here), but the fragment carries only its own IP length (1,500
    // or 1,404 bytes): a 20-byte header, the 8-byte UDP header and the rest
    // payload.
    let mut decoder = Decoder::default();
    let mut lengths = Vec::new();
    decode_all(
        &mut decoder,
        &read_corpus("ndpi__badpackets.pcap"),
        |_, packet| lengths.push((packet.ip_len, packet.payload_len)),
    );
    assert_eq!(lengths.len(), 93);
    for (ip_len, payload_len) in lengths {
        assert!(ip_len == 1500 || ip_len == 1404, "{ip_len}");
        assert_eq!(payload_len, ip_len - 20 - 8);
    }
}

#[test]
fn stats_add_up() {
    // Every frame ends in exactly one outcome.
    for file in corpus_files() {
        let (results, decoder) = outcomes(&file, DecoderConfig::default());
        let stats = decoder.stats();
        let held = results.iter().filter(|r| *r == "held").count() as u64;
        assert_eq!(stats.frames, results.len() as u64, "{file}");
        assert_eq!(
            stats.packets + stats.total_skipped() + stats.total_errors() + held,
            stats.frames,
            "{file}: {stats:?}"
        );
    }
}

#[test]
fn offload_checksums_are_partial() {
    // Captured on the sending host with checksum offload: the bad checksums
    // of its data segments, and of the segments its card merged on receipt,
    // contain the pseudo header's sum. A capture edited by hand contains
    // other values.
    for (file, bad, failed) in [
        ("ndpi__tls-appdata.pcap", true, false),
        ("ndpi__tls_invalid_reads.pcap", true, true),
        // Windows Large Send Offload: a segment longer than the MSS has an
        // IPv4 total length of 0, so its length comes from the capture and
        // its checksum is not verified.
        (
            "zeek__ldap__missing_krbtgt_ldap_request.pcapng",
            true,
            false,
        ),
    ] {
        let mut decoder = Decoder::default();
        let mut checks = Vec::new();
        decode_all(&mut decoder, &read_corpus(file), |_, packet| {
            checks.push((packet.bad_checksum, packet.transport_checksum_failed));
        });
        assert_eq!(checks.iter().any(|check| check.0), bad, "{file}");
        assert_eq!(checks.iter().any(|check| check.1), failed, "{file}");
        assert!(checks.iter().all(|check| check.0 || !check.1), "{file}");
    }
}
