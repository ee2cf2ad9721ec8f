//! Flow table behaviour: caps and eviction, timeouts, port reuse, duplicated
//! frames, UDP flows and VLAN tags.

#[path = "common/flow_packets.rs"]
mod flow_packets;

use std::time::Duration;

use etherparse::{PacketBuilder, TcpOptionElement};
use exflow::capture::{Frame, LinkType, Timestamp};
use exflow::decode::{Decoded, Decoder, DecoderConfig, Transport};
use exflow::fingerprint::App;
use exflow::flow::{
    ConnState, DirectionEvidence, EndReason, FinishedFlow, FlowConfig, FlowStats, FlowTable,
};
use flow_packets::*;

const SECOND: i64 = 1_000_000_000;

fn client(n: usize) -> String {
    format!("10.0.{}.{}:{}", n / 200, n % 200 + 1, 40_000 + n)
}

/// The handshake and one request of connection `n`, starting at second `n`.
fn connection(n: usize, request: &[u8]) -> Vec<Segment> {
    let mut tcp = TcpExchange::new(&client(n), "10.9.0.1:80", 1_000 * n as u32, 7);
    tcp.ts = Timestamp(1_700_000_000 * SECOND + n as i64 * SECOND);
    let mut segments = tcp.handshake();
    segments.push(tcp.data(End::Client, request));
    segments
}

fn by_client(flows: &[FinishedFlow], n: usize) -> &FinishedFlow {
    let address = client(n).parse().unwrap();
    flows
        .iter()
        .find(|flow| flow.client == address)
        .unwrap_or_else(|| panic!("no flow from {address}"))
}

#[test]
fn table_cap_evicts_longest_idle() {
    let config = FlowConfig {
        max_flows: 3,
        ..FlowConfig::default()
    };
    let segments: Vec<Segment> = (0..5).flat_map(|n| connection(n, b"GET /")).collect();

    let (flows, stats) = run(config, &segments);

    assert_eq!(flows.len(), 5);
    assert_eq!(stats.finished.evicted_table_full, 2);
    assert_eq!(stats.evictions(), 2);
    assert_eq!(stats.peak_active, 3);
    assert_eq!(stats.active, 0);
    assert_eq!(by_client(&flows, 0).end, EndReason::EvictedTableFull);
    assert_eq!(by_client(&flows, 1).end, EndReason::EvictedTableFull);
    for n in 2..5 {
        assert_eq!(by_client(&flows, n).end, EndReason::EndOfInput);
    }
    for flow in &flows {
        assert_eq!(flow.to_server.packets, 3);
        assert_eq!(flow.to_server.payload_bytes, 5);
    }
}

#[test]
fn evicted_flow_keeps_counting_as_new() {
    let config = FlowConfig {
        max_flows: 1,
        ..FlowConfig::default()
    };
    let mut first = TcpExchange::new(&client(0), "10.9.0.1:80", 1, 7);
    let mut second = TcpExchange::new(&client(1), "10.9.0.1:80", 1, 7);
    let segments = vec![first.syn(), second.syn(), first.syn_ack()];

    let (flows, stats) = run(config, &segments);

    assert_eq!(flows.len(), 3);
    assert_eq!(stats.finished.evicted_table_full, 2);
    assert_eq!(stats.flows_created, 3);
}

#[test]
fn memory_cap_evicts_flows_with_buffers() {
    let config = FlowConfig {
        reassembly_budget: 2_048,
        reassembly_memory_cap: 4_096,
        ..FlowConfig::default()
    };
    let request = vec![b'r'; 2_000];
    let segments: Vec<Segment> = (0..4).flat_map(|n| connection(n, &request)).collect();

    let (mut table, mut flows) = feed(config, &segments);
    let peak = table.stats().reassembly_bytes_peak;
    table.flush(&mut |flow| flows.push(flow));
    let stats = table.stats();

    assert_eq!(flows.len(), 4);
    assert_eq!(stats.finished.evicted_memory, 2);
    assert_eq!(by_client(&flows, 0).end, EndReason::EvictedMemory);
    assert_eq!(by_client(&flows, 1).end, EndReason::EvictedMemory);
    assert!(peak <= 4_096, "peak {peak}");
    assert!(peak >= 2 * 2_000, "peak {peak}");
    assert_eq!(stats.reassembly_bytes, 0);
    assert_eq!(stats.memory_refusals, 0);
    for flow in &flows {
        assert_eq!(flow.to_server.payload_bytes, 2_000);
    }
}

#[test]
fn memory_cap_refuses_lone_flow() {
    let config = FlowConfig {
        reassembly_budget: 16_384,
        reassembly_memory_cap: 1_024,
        ..FlowConfig::default()
    };
    let mut tcp = TcpExchange::new(&client(0), "10.9.0.1:80", 1, 7);
    let mut segments = tcp.handshake();
    segments.push(tcp.data(End::Client, &[b'a'; 1_000]));
    segments.push(tcp.data(End::Client, &[b'b'; 1_000]));

    let (table, _) = feed(config, &segments);
    let [client_bytes, _] = table.stream_prefixes(&segments[0].packet()).unwrap();

    // The first segment got a 1 KiB buffer; the second may only fill it.
    assert_eq!(client_bytes.len(), 1_024);
    assert_eq!(&client_bytes[1_000..], &[b'b'; 24]);
    assert_eq!(table.stats().memory_refusals, 1);
    assert_eq!(table.stats().reassembly_bytes, 1_024);
}

#[test]
fn udp_idle_timeout_on_expire() {
    let start = Timestamp(1_700_000_000 * SECOND);
    let query = udp(start, "10.0.0.5:40000", "10.0.0.53:53", 1, b"query");
    let mut table = FlowTable::new(FlowConfig::default());
    let mut flows = Vec::new();
    table.process(&query.packet(), &mut |flow| flows.push(flow));

    table.expire(Timestamp(start.0 + 59 * SECOND), &mut |flow| {
        flows.push(flow)
    });
    assert!(flows.is_empty());
    table.expire(Timestamp(start.0 + 61 * SECOND), &mut |flow| {
        flows.push(flow)
    });

    let flow = only(&flows);
    assert_eq!(flow.end, EndReason::IdleTimeout);
    assert_eq!(flow.ts_end, start);
    assert_eq!(table.stats().finished.idle_timeout, 1);
    assert!(table.is_empty());
}

#[test]
fn idle_timeout_noticed_on_next_packet() {
    let start = Timestamp(1_700_000_000 * SECOND);
    let segments = [
        udp(start, "10.0.0.5:40000", "10.0.0.53:53", 1, b"query"),
        udp(
            Timestamp(start.0 + 61 * SECOND),
            "10.0.0.5:40000",
            "10.0.0.53:53",
            2,
            b"again",
        ),
    ];

    let (flows, stats) = run(FlowConfig::default(), &segments);

    assert_eq!(flows.len(), 2);
    assert_eq!(flows[0].end, EndReason::IdleTimeout);
    assert_eq!(flows[1].end, EndReason::EndOfInput);
    assert_eq!(stats.flows_created, 2);
}

#[test]
fn timeouts_independent_of_expire_calls() {
    // The same packets with `expire` after every packet and without it must
    // give the same flows: a flow's fate depends only on its own packets.
    let mut segments = Vec::new();
    for n in 0..6 {
        let mut conversation = connection(n, b"x");
        for segment in &mut conversation {
            segment.ts = Timestamp(segment.ts.0 + (n as i64 % 3) * 200 * SECOND);
        }
        segments.extend(conversation);
    }
    segments.sort_by_key(|segment| segment.ts);
    let last = segments.last().unwrap().ts;

    let mut eager = FlowTable::new(FlowConfig::default());
    let mut eager_flows = Vec::new();
    for segment in &segments {
        eager.expire(segment.ts, &mut |flow| eager_flows.push(flow));
        eager.process(&segment.packet(), &mut |flow| eager_flows.push(flow));
    }
    eager.expire(last, &mut |flow| eager_flows.push(flow));
    eager.flush(&mut |flow| eager_flows.push(flow));

    let (mut lazy, mut lazy_flows) = feed(FlowConfig::default(), &segments);
    lazy.expire(last, &mut |flow| lazy_flows.push(flow));
    lazy.flush(&mut |flow| lazy_flows.push(flow));

    let summary = |flows: &[FinishedFlow]| {
        let mut rows: Vec<_> = flows
            .iter()
            .map(|f| (f.client, f.ts_start, f.ts_end, f.end, f.to_server.packets))
            .collect();
        rows.sort_by_key(|row| (row.0, row.1));
        rows
    };
    assert_eq!(summary(&eager_flows), summary(&lazy_flows));
    assert!(eager_flows.iter().any(|f| f.end == EndReason::IdleTimeout));
}

#[test]
fn attempt_timeout_shorter_than_idle() {
    let mut tcp = TcpExchange::new(&client(0), "10.9.0.1:80", 1, 7);
    let syn = tcp.syn();
    let mut table = FlowTable::new(FlowConfig::default());
    let mut flows = Vec::new();
    table.process(&syn.packet(), &mut |flow| flows.push(flow));

    table.expire(Timestamp(syn.ts.0 + 61 * SECOND), &mut |flow| {
        flows.push(flow)
    });

    let flow = only(&flows);
    assert_eq!(flow.conn_state, ConnState::S0);
    assert_eq!(flow.end, EndReason::IdleTimeout);
}

#[test]
fn closed_flow_ends_after_linger() {
    let mut tcp = TcpExchange::new(&client(0), "10.9.0.1:80", 1, 7);
    let mut segments = tcp.handshake();
    segments.extend(tcp.close());
    let last = segments.last().unwrap().ts;

    let (mut table, mut flows) = feed(FlowConfig::default(), &segments);
    table.expire(Timestamp(last.0 + SECOND), &mut |flow| flows.push(flow));
    assert!(flows.is_empty());
    table.expire(Timestamp(last.0 + 3 * SECOND), &mut |flow| flows.push(flow));

    let flow = only(&flows);
    assert_eq!(flow.end, EndReason::Closed);
    assert_eq!(flow.conn_state, ConnState::Sf);
}

#[test]
fn port_reuse_after_close_new_flow() {
    let mut tcp = TcpExchange::new(&client(0), "10.9.0.1:80", 1_000, 7);
    let mut segments = tcp.handshake();
    segments.extend(tcp.close());
    // Within the close linger the client opens a new connection from the same
    // port with a new ISN.
    tcp.next_seq = [900_000, 800_000];
    segments.extend(tcp.handshake());
    segments.push(tcp.data(End::Client, b"GET /"));

    let (flows, stats) = run(FlowConfig::default(), &segments);

    assert_eq!(flows.len(), 2);
    assert_eq!(flows[0].end, EndReason::Closed);
    assert_eq!(flows[0].conn_state, ConnState::Sf);
    assert_eq!(flows[0].to_server.packets, 4);
    assert_eq!(flows[1].conn_state, ConnState::Open);
    assert_eq!(flows[1].direction_evidence, DirectionEvidence::Syn);
    assert_eq!(flows[1].to_server.payload_bytes, 5);
    assert_eq!(stats.flows_created, 2);
}

#[test]
fn port_reuse_after_timeout_new_flow() {
    let mut tcp = TcpExchange::new(&client(0), "10.9.0.1:80", 1_000, 7);
    let mut segments = tcp.handshake();
    segments.extend(tcp.close());
    tcp.advance(Duration::from_secs(30));
    tcp.next_seq = [900_000, 800_000];
    segments.extend(tcp.handshake());

    let (flows, _) = run(FlowConfig::default(), &segments);

    assert_eq!(flows.len(), 2);
    assert_eq!(flows[0].end, EndReason::Closed);
    assert_eq!(flows[1].to_server.packets, 2);
}

#[test]
fn new_isn_on_unanswered_syn_new_flow() {
    let mut tcp = TcpExchange::new(&client(0), "10.9.0.1:80", 1_000, 7);
    let first = tcp.syn();
    tcp.next_seq[0] = 5_000;
    let second = tcp.syn();

    let (flows, stats) = run(FlowConfig::default(), &[first, second]);

    assert_eq!(flows.len(), 2);
    assert_eq!(flows[0].end, EndReason::PortReuse);
    assert_eq!(flows[0].conn_state, ConnState::S0);
    assert_eq!(stats.finished.port_reuse, 1);
}

#[test]
fn duplicate_frames_not_double_counted() {
    let mut tcp = TcpExchange::new(&client(0), "10.9.0.1:80", 1_000, 7);
    let mut single = tcp.handshake();
    single.push(tcp.data(End::Client, b"GET / HTTP/1.1\r\n\r\n"));
    single.push(tcp.data(End::Server, b"HTTP/1.1 200 OK\r\n\r\n"));
    single.extend(tcp.close());
    // Each frame seen twice, 20 microseconds apart, as on `-i any` over loopback.
    let doubled: Vec<Segment> = single
        .iter()
        .flat_map(|segment| {
            let copy = segment.clone().at(Timestamp(segment.ts.0 + 20_000));
            [segment.clone(), copy]
        })
        .collect();

    let (once, _) = run(FlowConfig::default(), &single);
    let (twice, stats) = run(FlowConfig::default(), &doubled);
    let (once, twice) = (only(&once), only(&twice));

    assert_eq!(stats.duplicates, single.len() as u64);
    assert_eq!(twice.duplicates, single.len() as u64);
    assert_eq!(twice.to_server, once.to_server);
    assert_eq!(twice.to_client, once.to_client);
    assert_eq!(twice.conn_state, ConnState::Sf);
    assert_eq!(stats.overlaps_differing, 0);
}

#[test]
fn retransmission_not_duplicate() {
    let mut tcp = TcpExchange::new(&client(0), "10.9.0.1:80", 1_000, 7);
    let mut segments = tcp.handshake();
    let data = tcp.data(End::Client, b"GET /");
    // The sender retransmits after its retransmission timeout, with a new IP id.
    let mut retransmission = data.clone().at(Timestamp(data.ts.0 + 300_000_000));
    retransmission.ip_id += 7;
    segments.push(data);
    segments.push(retransmission);

    let (flows, stats) = run(FlowConfig::default(), &segments);

    assert_eq!(stats.duplicates, 0);
    assert_eq!(only(&flows).to_server.packets, 4);
}

#[test]
fn fast_retransmission_new_ip_id_not_duplicate() {
    let mut tcp = TcpExchange::new(&client(0), "10.9.0.1:80", 1_000, 7);
    let mut segments = tcp.handshake();
    let data = tcp.data(End::Client, b"GET /");
    // Within the duplicate window, but the IP id tells a new datagram.
    let mut resent = data.clone().at(Timestamp(data.ts.0 + 100_000));
    resent.ip_id += 1;
    segments.push(data);
    segments.push(resent);

    let (_, stats) = run(FlowConfig::default(), &segments);

    assert_eq!(stats.duplicates, 0);
}

/// Builds a pure ACK from 10.0.0.5 with IP id 0, as hosts that set Don't
/// Fragment send it, whose SACK block ends at `sack_end`. Checksums are set.
fn sack_ack_frame(sack_end: u32) -> Vec<u8> {
    let sack = TcpOptionElement::SelectiveAcknowledgement((9_000, sack_end), [None; 3]);
    let builder = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 0, 0, 5], [10, 9, 0, 1], 64)
        .tcp(40_000, 443, 1_000, 4_096)
        .ack(5_000)
        .options(&[TcpOptionElement::Noop, TcpOptionElement::Noop, sack])
        .unwrap();
    let mut frame = Vec::new();
    builder.write(&mut frame, &[]).unwrap();
    frame
}

#[test]
fn acks_differing_in_options_not_duplicates() {
    // Three duplicate ACKs within the window whose headers differ only in
    // their SACK blocks, then an exact copy of the last one.
    let frames = [
        sack_ack_frame(9_100),
        sack_ack_frame(9_200),
        sack_ack_frame(9_300),
    ];

    let (flows, duplicates) = track_three_then_copy(&frames);

    assert_eq!(duplicates, 1);
    assert_eq!(only(&flows).to_server.packets, 3);
}

/// Builds an IPv6 UDP datagram from [2001:db8::5]:5353 with `payload`.
fn udp6_frame(payload: &[u8]) -> Vec<u8> {
    let source = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5];
    let mut destination = source;
    destination[15] = 1;
    let builder = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv6(source, destination, 64)
        .udp(5_353, 53);
    let mut frame = Vec::new();
    builder.write(&mut frame, payload).unwrap();
    frame
}

/// Decodes Ethernet frames that arrive at the given delays in nanoseconds
/// and tracks them in one table. Returns the flows and the duplicate count.
fn track_frames(arrivals: &[(&[u8], i64)]) -> (Vec<FinishedFlow>, u64) {
    let whole: Vec<(&[u8], i64, usize)> = arrivals
        .iter()
        .map(|&(data, delay)| (data, delay, data.len()))
        .collect();
    track_cut_frames(&whole)
}

/// Tracks three frames 100 µs apart and a copy of the third 10 µs after it,
/// all within the duplicate window.
fn track_three_then_copy(frames: &[Vec<u8>; 3]) -> (Vec<FinishedFlow>, u64) {
    track_frames(&[
        (&frames[0], 0),
        (&frames[1], 100_000),
        (&frames[2], 200_000),
        (&frames[2], 210_000),
    ])
}

/// Tracks frames like [`track_frames`] when each was `wire_len` bytes long on
/// the wire, which can be more than was captured.
fn track_cut_frames(arrivals: &[(&[u8], i64, usize)]) -> (Vec<FinishedFlow>, u64) {
    let start = 1_700_000_000 * SECOND;
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut table = FlowTable::new(FlowConfig::default());
    let mut flows = Vec::new();
    for (offset, &(data, delay, wire_len)) in (0u64..).zip(arrivals) {
        let frame = Frame {
            ts: Timestamp(start + delay),
            link: LinkType::ETHERNET,
            data,
            orig_len: wire_len as u32,
            interface: 0,
            offset: offset * 100,
        };
        let Decoded::Packet(packet) = decoder.decode(&frame) else {
            panic!("frame {offset} did not decode to a packet");
        };
        assert!(!packet.bad_checksum, "frame {offset}");
        table.process(&packet, &mut |flow| flows.push(flow));
    }
    table.flush(&mut |flow| flows.push(flow));
    (flows, table.stats().duplicates)
}

#[test]
fn copy_cut_by_snaplen_still_duplicate() {
    // A span port copies a segment once untagged and once with a VLAN tag,
    // and the snapshot length cuts only the longer, tagged copy, so only the
    // first copy's checksum can be verified.
    let builder = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 0, 0, 5], [10, 9, 0, 1], 64)
        .tcp(40_000, 443, 1_000, 4_096)
        .ack(5_000);
    let mut untagged = Vec::new();
    builder.write(&mut untagged, &[0x17; 64]).unwrap();
    let mut tagged = untagged[..12].to_vec();
    tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]);
    tagged.extend_from_slice(&untagged[12..]);
    let cut = &tagged[..tagged.len() - 8];
    let arrivals: [(&[u8], i64, usize); 2] =
        [(&untagged, 0, untagged.len()), (cut, 20_000, tagged.len())];

    let (flows, duplicates) = track_cut_frames(&arrivals);

    assert_eq!(duplicates, 1);
    assert_eq!(only(&flows).to_server.packets, 1);
}

#[test]
fn udp_same_checksum_not_duplicates() {
    // Swapped 16-bit words give the same checksum, and the third datagram
    // shares the first one's first 16 bytes. Only the last is a copy.
    let mut first = [0u8; 24];
    first[..4].copy_from_slice(&[1, 2, 3, 4]);
    let mut swapped = first;
    swapped[..4].copy_from_slice(&[3, 4, 1, 2]);
    let mut late_change = first;
    late_change[20] = 9;
    let frames = [
        udp6_frame(&first),
        udp6_frame(&swapped),
        udp6_frame(&late_change),
    ];

    let (flows, duplicates) = track_three_then_copy(&frames);

    assert_eq!(duplicates, 1);
    assert_eq!(only(&flows).to_server.packets, 3);
}

#[test]
fn ipv6_duplicate_by_time_window() {
    let mut tcp = TcpExchange::new("[2001:db8::5]:51000", "[2001:db8::1]:443", 1_000, 7);
    let mut segments = tcp.handshake();
    let data = tcp.data(End::Client, b"\x16\x03\x01");
    let copy = data.clone().at(Timestamp(data.ts.0 + 10_000));
    let retransmission = data.clone().at(Timestamp(data.ts.0 + 250_000_000));
    segments.extend([data, copy, retransmission]);

    let (flows, stats) = run(FlowConfig::default(), &segments);

    assert_eq!(stats.duplicates, 1);
    assert_eq!(only(&flows).to_server.packets, 4);
    assert_eq!(only(&flows).ip_version, 6);
}

#[test]
fn duplicate_detection_off() {
    let config = FlowConfig {
        duplicate_window: Duration::ZERO,
        ..FlowConfig::default()
    };
    let start = Timestamp(1_700_000_000 * SECOND);
    let query = udp(start, "10.0.0.5:40000", "10.0.0.53:53", 1, b"query");
    let copy = query.clone().at(Timestamp(start.0 + 1_000));

    let (flows, stats) = run(config, &[query, copy]);

    assert_eq!(stats.duplicates, 0);
    assert_eq!(only(&flows).to_server.packets, 2);
}

#[test]
fn udp_first_sender_is_client() {
    let start = Timestamp(1_700_000_000 * SECOND);
    let segments = [
        udp(start, "10.0.0.5:40000", "10.0.0.53:53", 1, b"query"),
        udp(
            Timestamp(start.0 + 1_000_000),
            "10.0.0.53:53",
            "10.0.0.5:40000",
            9,
            b"answer!",
        ),
    ];

    let (flows, _) = run(FlowConfig::default(), &segments);
    let flow = only(&flows);

    assert_eq!(flow.transport, Transport::Udp);
    assert_eq!(flow.direction_evidence, DirectionEvidence::FirstPacket);
    assert_eq!(flow.client, "10.0.0.5:40000".parse().unwrap());
    assert_eq!(flow.to_server.payload_bytes, 5);
    assert_eq!(flow.to_client.payload_bytes, 7);
    assert_eq!(flow.to_client.bytes, 20 + 8 + 7);
    assert_eq!(flow.conn_state, ConnState::Sf);
    assert_eq!(flow.missed_bytes, 0);
}

#[test]
fn udp_one_way_is_s0() {
    let start = Timestamp(1_700_000_000 * SECOND);
    let (flows, _) = run(
        FlowConfig::default(),
        &[udp(start, "10.0.0.5:40000", "10.0.0.53:53", 1, b"query")],
    );
    assert_eq!(only(&flows).conn_state, ConnState::S0);
}

#[test]
fn vlan_on_one_direction_same_flow() {
    let mut tcp = TcpExchange::new(&client(0), "10.9.0.1:80", 1_000, 7);
    let segments = vec![
        tcp.syn().with_vlan(&[100]),
        tcp.syn_ack(),
        tcp.ack(End::Client).with_vlan(&[100]),
    ];

    let (flows, _) = run(FlowConfig::default(), &segments);
    assert_eq!(only(&flows).vlan.as_slice(), &[100]);

    let vlan_in_key = FlowConfig {
        vlan_in_key: true,
        ..FlowConfig::default()
    };
    let (split, _) = run(vlan_in_key, &segments);
    assert_eq!(split.len(), 2);
}

#[test]
fn community_id_of_record() {
    // The specification's baseline flow 128.232.110.120:34855 -> 66.35.250.204:80.
    let mut tcp = TcpExchange::new("128.232.110.120:34855", "66.35.250.204:80", 1, 7);
    let (flows, _) = run(FlowConfig::default(), &tcp.handshake());

    assert_eq!(
        only(&flows).community_id(),
        "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
    );
}

#[test]
fn flush_order_longest_idle_first() {
    let mut segments: Vec<Segment> = (0..3).flat_map(|n| connection(n, b"x")).collect();
    // Connection 0 is active again after the others.
    let mut late = segments[3]
        .clone()
        .at(Timestamp(segments[11].ts.0 + SECOND));
    late.ip_id += 100;
    late.seq += 1;
    segments.push(late);

    let (flows, _) = run(FlowConfig::default(), &segments);
    let clients: Vec<_> = flows.iter().map(|flow| flow.client).collect();

    let expected: Vec<_> = [1, 2, 0]
        .iter()
        .map(|&n| client(n).parse().unwrap())
        .collect();
    assert_eq!(clients, expected);
}

#[test]
fn stats_count_flows() {
    let segments: Vec<Segment> = (0..4).flat_map(|n| connection(n, b"x")).collect();

    let (flows, stats) = run(FlowConfig::default(), &segments);

    assert_eq!(stats.packets, segments.len() as u64);
    assert_eq!(stats.flows_created, 4);
    assert_eq!(stats.peak_active, 4);
    assert_eq!(stats.finished.end_of_input, 4);
    assert_eq!(stats.finished.total(), flows.len() as u64);
    assert_eq!(stats.reassembly_bytes, 0);
    assert!(stats.reassembly_bytes_peak > 0);
}

#[test]
fn first_offset_names_first_packet() {
    let segments = connection(0, b"x");
    let (flows, _) = run(FlowConfig::default(), &segments);
    assert_eq!(only(&flows).first_offset, segments[0].offset);
}

/// Runs an SSH session on 443 whose client first sends a segment with the
/// start of a TLS ClientHello, at the sequence number the SSH banner then
/// takes. That segment's checksum is `injected`, the client's other packets
/// have `client`, and the server's verify.
fn ssh_with_insertion(injected: Checksum, client: Checksum) -> (FinishedFlow, FlowStats) {
    let mut tcp = TcpExchange::new("10.0.0.5:50000", "10.9.0.1:443", 100, 900);
    let mut segments = tcp.handshake();
    let hello = [
        0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x3c, 0x03, 0x03, 0, 0, 0, 0, 0,
    ];
    let (seq, ack) = (tcp.next_seq[0], tcp.next_seq[1]);
    segments.push(
        tcp.raw(End::Client, PSH | ACK, seq, ack, &hello)
            .with_checksum(injected),
    );
    segments.push(tcp.data(End::Client, b"SSH-2.0-OpenSSH_9.6\r\n"));
    segments.push(tcp.data(End::Server, b"SSH-2.0-OpenSSH_9.6\r\n"));
    for segment in &mut segments {
        let from_client = segment.src.port() == 50000;
        if from_client && segment.checksum == Checksum::Good {
            segment.checksum = client;
        }
    }
    let (flows, stats) = run(FlowConfig::default(), &segments);
    (only(&flows).clone(), stats)
}

#[test]
fn failed_checksum_cannot_decide_app() {
    // The server drops the crafted segment, so it must not make SSH look
    // like TLS.
    let (flow, stats) = ssh_with_insertion(Checksum::Failed, Checksum::Good);
    assert_eq!(flow.app.app, App::Ssh);
    assert_eq!(stats.bad_checksums_ignored, 1);
    // It still counts on the wire.
    assert_eq!(flow.to_server.packets, 4);
}

#[test]
fn offloaded_checksums_are_used() {
    // A partial checksum is offload on the capturing host, and so is a side
    // whose checksums all fail: both are used as captured.
    for (injected, client) in [
        (Checksum::Partial, Checksum::Good),
        (Checksum::Failed, Checksum::Failed),
    ] {
        let (flow, stats) = ssh_with_insertion(injected, client);
        assert_eq!(stats.bad_checksums_ignored, 0, "{injected:?}, {client:?}");
        assert_eq!(flow.app.app, App::Tls, "{injected:?}, {client:?}");
    }
}

#[test]
fn failed_copy_hides_no_frame() {
    // A crafted copy of the client's banner segment, with other bytes and so a
    // failing checksum, 1 ms ahead of it: the real segment is no duplicate.
    let mut tcp = TcpExchange::new("10.0.0.5:50000", "10.9.0.1:443", 100, 900);
    let mut segments = tcp.handshake();
    let banner = tcp.data(End::Client, b"SSH-2.0-OpenSSH_9.6\r\n");
    let mut copy = banner.clone().with_checksum(Checksum::Failed);
    copy.payload = b"\x16\x03\x01\x00\x40\x01\x00\x00\x3c\x03\x03\0\0\0\0\0\0\0\0\0\0".to_vec();
    copy.ts = Timestamp(banner.ts.0 - 1_000_000);
    segments.push(copy);
    segments.push(banner);
    segments.push(tcp.data(End::Server, b"SSH-2.0-OpenSSH_9.6\r\n"));

    let (flows, stats) = run(FlowConfig::default(), &segments);
    assert_eq!(only(&flows).app.app, App::Ssh);
    assert_eq!(stats.duplicates, 0);
    assert_eq!(stats.bad_checksums_ignored, 1);
}

#[test]
fn failed_syn_starts_no_connection() {
    // A crafted SYN with another sequence number while the real one waits for
    // its SYN-ACK, then crafted data in that sequence space.
    let mut tcp = TcpExchange::new("10.0.0.5:50000", "10.9.0.1:443", 100, 900);
    let mut segments = vec![tcp.syn()];
    segments.push(
        tcp.raw(End::Client, SYN, 900_000, 0, &[])
            .with_checksum(Checksum::Failed),
    );
    let hello = [
        0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x3c, 0x03, 0x03, 0, 0,
    ];
    segments.push(
        tcp.raw(End::Client, PSH | ACK, 900_001, 901, &hello)
            .with_checksum(Checksum::Failed),
    );
    segments.push(tcp.syn_ack());
    segments.push(tcp.ack(End::Client));
    segments.push(tcp.data(End::Client, b"SSH-2.0-OpenSSH_9.6\r\n"));
    segments.push(tcp.data(End::Server, b"SSH-2.0-OpenSSH_9.6\r\n"));

    let (flows, stats) = run(FlowConfig::default(), &segments);
    assert_eq!(flows.len(), 1);
    assert_eq!(only(&flows).app.app, App::Ssh);
    assert_eq!(stats.bad_checksums_ignored, 2);
}
