//! TCP corner cases of the flow engine, on packets built like real exchanges.

#[path = "common/flow_packets.rs"]
mod flow_packets;

use std::time::Duration;

use exflow::capture::Timestamp;
use exflow::flow::{ConnState, DirectionEvidence, EndReason, FlowConfig};
use flow_packets::*;

const CLIENT: &str = "10.0.0.5:51234";
const SERVER: &str = "10.0.0.1:25";

fn exchange() -> TcpExchange {
    TcpExchange::new(CLIENT, SERVER, 1_000, 50_000)
}

#[test]
fn full_connection_is_sf() {
    let mut tcp = exchange();
    let mut segments = tcp.handshake();
    segments.push(tcp.data(End::Server, b"220 mail.example.com ESMTP\r\n"));
    segments.push(tcp.data(End::Client, b"EHLO client\r\n"));
    segments.extend(tcp.close());

    let (flows, stats) = run(FlowConfig::default(), &segments);
    let flow = only(&flows);

    assert_eq!(flow.conn_state, ConnState::Sf);
    assert_eq!(flow.direction_evidence, DirectionEvidence::Syn);
    assert_eq!(flow.client, CLIENT.parse().unwrap());
    assert_eq!(flow.server, SERVER.parse().unwrap());
    assert_eq!(flow.to_server.packets, 5);
    assert_eq!(flow.to_client.packets, 4);
    assert_eq!(flow.to_server.payload_bytes, 13);
    assert_eq!(flow.to_client.payload_bytes, 28);
    assert_eq!(flow.to_server.bytes, 5 * 40 + 13);
    assert_eq!(flow.missed_bytes, 0);
    assert_eq!(flow.end, EndReason::Closed);
    assert_eq!(flow.ts_start, segments[0].ts);
    assert_eq!(flow.ts_end, segments.last().unwrap().ts);
    assert_eq!(stats.finished.closed, 1);
}

#[test]
fn stream_prefixes_hold_both_sides() {
    let mut tcp = exchange();
    let mut segments = tcp.handshake();
    segments.push(tcp.data(End::Server, b"220 ready\r\n"));
    segments.push(tcp.data(End::Client, b"EHLO a\r\n"));
    segments.push(tcp.data(End::Client, b"MAIL FROM:<>\r\n"));

    let (table, _) = feed(FlowConfig::default(), &segments);
    let [client, server] = table.stream_prefixes(&segments[0].packet()).unwrap();

    assert_eq!(client, b"EHLO a\r\nMAIL FROM:<>\r\n");
    assert_eq!(server, b"220 ready\r\n");
}

#[test]
fn syn_retransmission_same_flow() {
    let mut tcp = exchange();
    let syn = tcp.syn();
    let mut retransmitted = syn.clone();
    retransmitted.ts = Timestamp(syn.ts.0 + 1_000_000_000);
    retransmitted.ip_id += 1;
    let mut segments = vec![syn, retransmitted];
    tcp.advance(Duration::from_secs(1));
    segments.push(tcp.syn_ack());
    segments.push(tcp.ack(End::Client));
    segments.extend(tcp.close());

    let (flows, stats) = run(FlowConfig::default(), &segments);
    let flow = only(&flows);

    assert_eq!(flow.conn_state, ConnState::Sf);
    assert_eq!(flow.to_server.packets, 5);
    assert_eq!(stats.finished.port_reuse, 0);
    assert_eq!(stats.duplicates, 0);
}

#[test]
fn unanswered_syn_is_s0() {
    let mut tcp = exchange();
    let syn = tcp.syn();
    let mut retry = syn.clone();
    retry.ts = Timestamp(syn.ts.0 + 3_000_000_000);
    retry.ip_id += 1;

    let (flows, _) = run(FlowConfig::default(), &[syn, retry]);
    let flow = only(&flows);

    assert_eq!(flow.conn_state, ConnState::S0);
    assert_eq!(flow.direction_evidence, DirectionEvidence::Syn);
    assert_eq!(flow.to_server.packets, 2);
    assert_eq!(flow.to_client.packets, 0);
    assert_eq!(flow.end, EndReason::EndOfInput);
}

#[test]
fn syn_answered_by_rst_is_rej() {
    let mut tcp = exchange();
    let syn = tcp.syn();
    // RFC 9293 §3.10.7.1: a closed port answers a SYN with seq 0 and
    // ack = ISN + 1.
    let rst = tcp.raw(End::Server, RST | ACK, 0, 1_001, &[]);

    let (flows, stats) = run(FlowConfig::default(), &[syn, rst]);
    let flow = only(&flows);

    assert_eq!(flow.conn_state, ConnState::Rej);
    assert_eq!(flow.end, EndReason::Closed);
    assert_eq!(stats.rst_ignored, 0);
}

#[test]
fn rst_after_establishment_is_rst() {
    let mut tcp = exchange();
    let mut segments = tcp.handshake();
    segments.push(tcp.data(End::Client, b"hello"));
    segments.push(tcp.rst(End::Server));

    let (flows, _) = run(FlowConfig::default(), &segments);
    let flow = only(&flows);

    assert_eq!(flow.conn_state, ConnState::Rst);
    assert_eq!(flow.end, EndReason::Closed);
}

#[test]
fn rst_after_both_fins_is_sf() {
    // A TLS client closes before the server's close_notify arrives: both FINs
    // are exchanged, then the client's stack answers the late record with RST.
    let mut tcp = exchange();
    let mut segments = tcp.handshake();
    segments.push(tcp.data(End::Client, b"hello"));
    segments.extend(tcp.close());
    segments.push(tcp.rst(End::Client));

    let (flows, _) = run(FlowConfig::default(), &segments);
    let flow = only(&flows);

    assert_eq!(flow.conn_state, ConnState::Sf);
}

#[test]
fn rst_before_second_fin_is_rst() {
    let mut tcp = exchange();
    let mut segments = tcp.handshake();
    segments.push(tcp.data(End::Client, b"hello"));
    segments.push(tcp.fin(End::Client));
    segments.push(tcp.rst(End::Server));

    let (flows, _) = run(FlowConfig::default(), &segments);
    let flow = only(&flows);

    assert_eq!(flow.conn_state, ConnState::Rst);
}

#[test]
fn midstream_flow_is_oth_by_port() {
    let mut tcp = exchange();
    // The capture starts after the handshake, with the server's reply.
    let segments = vec![
        tcp.data(End::Server, b"250 OK\r\n"),
        tcp.data(End::Client, b"DATA\r\n"),
        tcp.ack(End::Server),
    ];

    let (flows, _) = run(FlowConfig::default(), &segments);
    let flow = only(&flows);

    assert_eq!(flow.conn_state, ConnState::Oth);
    assert_eq!(flow.direction_evidence, DirectionEvidence::Port);
    assert_eq!(flow.client, CLIENT.parse().unwrap());
    assert_eq!(flow.to_client.packets, 2);
}

#[test]
fn midstream_stream_starts_at_first_seq() {
    let mut tcp = exchange();
    tcp.next_seq = [7_000_000, 9_000_000];
    let segments = vec![
        tcp.ack(End::Client),
        tcp.data(End::Server, b"250 OK\r\n"),
        tcp.data(End::Client, b"QUIT\r\n"),
    ];

    let (table, _) = feed(FlowConfig::default(), &segments);
    let [client, server] = table.stream_prefixes(&segments[0].packet()).unwrap();

    assert_eq!(client, b"QUIT\r\n");
    assert_eq!(server, b"250 OK\r\n");
}

#[test]
fn first_seen_syn_ack_gives_client() {
    let mut tcp = exchange();
    let _unseen_syn = tcp.syn();
    let segments = vec![
        tcp.syn_ack(),
        tcp.ack(End::Client),
        tcp.data(End::Client, b"x"),
    ];

    let (flows, _) = run(FlowConfig::default(), &segments);
    let flow = only(&flows);

    assert_eq!(flow.direction_evidence, DirectionEvidence::SynAck);
    assert_eq!(flow.client, CLIENT.parse().unwrap());
    assert_eq!(flow.conn_state, ConnState::Open);
}

#[test]
fn simultaneous_open_first_syn_client() {
    let mut tcp = exchange();
    let client_isn = tcp.next_seq[0];
    let server_isn = tcp.next_seq[1];
    let segments = vec![
        tcp.raw(End::Client, SYN, client_isn, 0, &[]),
        tcp.raw(End::Server, SYN, server_isn, 0, &[]),
        tcp.raw(End::Client, SYN | ACK, client_isn, server_isn + 1, &[]),
        tcp.raw(End::Server, SYN | ACK, server_isn, client_isn + 1, &[]),
    ];
    tcp.next_seq = [client_isn + 1, server_isn + 1];
    let mut segments = segments;
    segments.push(tcp.data(End::Server, b"hi"));
    segments.extend(tcp.close());

    let (flows, stats) = run(FlowConfig::default(), &segments);
    let flow = only(&flows);

    assert_eq!(flow.direction_evidence, DirectionEvidence::Syn);
    assert_eq!(flow.client, CLIENT.parse().unwrap());
    assert_eq!(flow.conn_state, ConnState::Sf);
    assert_eq!(stats.finished.port_reuse, 0);
}

#[test]
fn out_of_window_rst_ignored() {
    let mut tcp = exchange();
    let mut segments = tcp.handshake();
    segments.push(tcp.data(End::Client, b"hello"));
    let far = tcp.next_seq[1].wrapping_add(0x8000_0000);
    let ack = tcp.next_seq[0];
    segments.push(tcp.raw(End::Server, RST | ACK, far, ack, &[]));
    segments.push(tcp.data(End::Server, b"world"));
    segments.extend(tcp.close());

    let (flows, stats) = run(FlowConfig::default(), &segments);
    let flow = only(&flows);

    assert_eq!(stats.rst_ignored, 1);
    assert_eq!(flow.conn_state, ConnState::Sf);
    assert_eq!(flow.to_client.packets, 5);
}

#[test]
fn injected_rst_before_syn_ack_ignored() {
    // As in the rst-inject capture of Zeek's tests: a RST answers the SYN with
    // an acknowledgement of the ISN itself (not ISN + 1), then the real SYN-ACK
    // arrives and the connection goes on.
    let mut tcp = exchange();
    let syn = tcp.syn();
    let injected = tcp.raw(End::Server, RST | ACK, 0, 1_000, &[]);
    let mut segments = vec![syn, injected];
    segments.push(tcp.syn_ack());
    segments.push(tcp.ack(End::Client));
    segments.push(tcp.data(End::Client, b"GET / HTTP/1.1\r\n\r\n"));
    segments.push(tcp.rst(End::Server));

    let (flows, stats) = run(FlowConfig::default(), &segments);
    let flow = only(&flows);

    assert_eq!(stats.rst_ignored, 1);
    assert_eq!(flow.conn_state, ConnState::Rst);
    assert_eq!(flow.direction_evidence, DirectionEvidence::Syn);
}

#[test]
fn in_window_rst_late_packets_same_flow() {
    let mut tcp = exchange();
    let mut segments = tcp.handshake();
    segments.push(tcp.data(End::Client, b"hello"));
    segments.push(tcp.rst(End::Client));
    // A late ACK from the server within the close linger.
    segments.push(tcp.ack(End::Server));

    let (flows, _) = run(FlowConfig::default(), &segments);
    let flow = only(&flows);

    assert_eq!(flow.conn_state, ConnState::Rst);
    assert_eq!(flow.to_client.packets, 2);
}

#[test]
fn sequence_wraps_around_zero() {
    let mut tcp = TcpExchange::new(CLIENT, SERVER, u32::MAX - 3, u32::MAX - 1);
    let mut segments = tcp.handshake();
    segments.push(tcp.data(End::Server, b"220 wrap\r\n"));
    segments.push(tcp.data(End::Client, b"EHLO a\r\n"));
    segments.push(tcp.data(End::Client, b"QUIT\r\n"));

    let (table, _) = feed(FlowConfig::default(), &segments);
    let [client, server] = table.stream_prefixes(&segments[0].packet()).unwrap();

    assert_eq!(client, b"EHLO a\r\nQUIT\r\n");
    assert_eq!(server, b"220 wrap\r\n");
    assert!(tcp.next_seq[0] < 100);
    assert_eq!(table.stats().gaps, 0);
}

#[test]
fn syn_with_payload_fast_open() {
    // TCP Fast Open (RFC 7413): the SYN carries the request; the client then
    // retransmits it after the SYN-ACK, which must not duplicate the bytes.
    let mut tcp = exchange();
    let isn = tcp.next_seq[0];
    let syn = tcp.raw(End::Client, SYN, isn, 0, b"GET / HTTP/1.1\r\n");
    tcp.next_seq[0] = isn + 1 + 16;
    let syn_ack = tcp.syn_ack();
    let retransmitted = tcp.raw(
        End::Client,
        PSH | ACK,
        isn + 1,
        tcp.next_seq[1],
        b"GET / HTTP/1.1\r\n",
    );
    let more = tcp.data(End::Client, b"Host: a\r\n\r\n");
    let segments = vec![syn, syn_ack, retransmitted, more];

    let (table, _) = feed(FlowConfig::default(), &segments);
    let [client, _] = table.stream_prefixes(&segments[0].packet()).unwrap();

    assert_eq!(client, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(table.stats().overlaps_differing, 0);
}

#[test]
fn payload_in_syn_ack() {
    let mut tcp = exchange();
    let syn = tcp.syn();
    let isn = tcp.next_seq[1];
    let syn_ack = tcp.raw(
        End::Server,
        SYN | ACK,
        isn,
        tcp.next_seq[0],
        b"220 early\r\n",
    );
    tcp.next_seq[1] = isn + 1 + 11;
    let segments = vec![
        syn,
        syn_ack,
        tcp.ack(End::Client),
        tcp.data(End::Server, b"more"),
    ];

    let (table, _) = feed(FlowConfig::default(), &segments);
    let [_, server] = table.stream_prefixes(&segments[0].packet()).unwrap();

    assert_eq!(server, b"220 early\r\nmore");
}

#[test]
fn keepalive_not_stream_data() {
    let mut tcp = exchange();
    let mut segments = tcp.handshake();
    segments.push(tcp.data(End::Client, b"hello"));
    // A keep-alive carries one garbage byte one below the next sequence number.
    let seq = tcp.next_seq[0] - 1;
    let ack = tcp.next_seq[1];
    segments.push(tcp.raw(End::Client, ACK, seq, ack, b"\0"));
    segments.push(tcp.data(End::Client, b" world"));

    let (table, _) = feed(FlowConfig::default(), &segments);
    let [client, _] = table.stream_prefixes(&segments[0].packet()).unwrap();

    assert_eq!(client, b"hello world");
    assert_eq!(table.stats().keepalives, 1);
    assert_eq!(table.stats().overlaps_differing, 0);
}

#[test]
fn zero_window_probe_then_retransmission() {
    let mut tcp = exchange();
    let mut segments = tcp.handshake();
    segments.push(tcp.data(End::Server, b"abc"));
    // The client's window closes: the server probes twice with the next byte
    // (RFC 9293 §3.8.6.1), then sends it again with the rest once the window
    // opens.
    let mut closed = tcp.ack(End::Client);
    closed.window = 0;
    segments.push(closed);
    let seq = tcp.next_seq[1];
    let ack = tcp.next_seq[0];
    segments.push(tcp.raw(End::Server, ACK, seq, ack, b"d"));
    segments.push(tcp.raw(End::Server, ACK, seq, ack, b"d"));
    segments.push(tcp.ack(End::Client));
    segments.push(tcp.raw(End::Server, PSH | ACK, seq, ack, b"defg"));

    let (table, _) = feed(FlowConfig::default(), &segments);
    let [_, server] = table.stream_prefixes(&segments[0].packet()).unwrap();

    assert_eq!(server, b"abcdefg");
    assert_eq!(table.stats().overlaps_differing, 0);
    assert_eq!(table.stats().keepalives, 0);
}

#[test]
fn fin_carrying_data() {
    let mut tcp = exchange();
    let mut segments = tcp.handshake();
    let (seq, ack) = (tcp.next_seq[1], tcp.next_seq[0]);
    segments.push(tcp.raw(End::Server, FIN | PSH | ACK, seq, ack, b"221 bye\r\n"));
    tcp.next_seq[1] = seq + 9 + 1;
    segments.push(tcp.ack(End::Client));
    segments.push(tcp.fin(End::Client));
    segments.push(tcp.ack(End::Server));

    let (table, _) = feed(FlowConfig::default(), &segments);
    let [_, server] = table.stream_prefixes(&segments[0].packet()).unwrap();
    assert_eq!(server, b"221 bye\r\n");

    let (flows, _) = run(FlowConfig::default(), &segments);
    let flow = only(&flows);
    assert_eq!(flow.conn_state, ConnState::Sf);
    assert_eq!(flow.missed_bytes, 0);
}

#[test]
fn data_after_fin_counted_not_streamed() {
    let mut tcp = exchange();
    let mut segments = tcp.handshake();
    segments.push(tcp.data(End::Client, b"QUIT\r\n"));
    segments.push(tcp.fin(End::Client));
    segments.push(tcp.data(End::Client, b"late"));

    let (table, _) = feed(FlowConfig::default(), &segments);
    let [client, _] = table.stream_prefixes(&segments[0].packet()).unwrap();

    assert_eq!(client, b"QUIT\r\n");
    assert_eq!(table.stats().data_after_fin, 1);

    let (flows, _) = run(FlowConfig::default(), &segments);
    assert_eq!(only(&flows).to_server.payload_bytes, 10);
}

#[test]
fn multiple_syn_acks_latest_wins() {
    // As in nDPI's tls_multiple_synack_different_seq capture: the server's
    // SYN-ACK is seen with three sequence numbers, the client acknowledges the
    // last one, and the server's data follows it.
    let mut tcp = TcpExchange::new("192.168.0.1:59927", "10.10.10.1:443", 3_420_771_758, 0);
    let _unseen_syn = tcp.syn();
    let client_next = tcp.next_seq[0];
    let segments = vec![
        tcp.raw(End::Server, SYN | ACK, 238_755_595, client_next, &[]),
        tcp.raw(End::Server, SYN | ACK, 238_755_595, client_next, &[]),
        tcp.raw(End::Server, SYN | ACK, 2_859_879_429, client_next, &[]),
        tcp.raw(End::Server, SYN | ACK, 2_829_651_200, client_next, &[]),
        tcp.raw(
            End::Client,
            PSH | ACK,
            client_next,
            2_829_651_201,
            b"\x16\x03\x01",
        ),
        tcp.raw(
            End::Server,
            PSH | ACK,
            2_829_651_201,
            client_next + 3,
            b"\x16\x03\x03",
        ),
    ];

    let (table, _) = feed(FlowConfig::default(), &segments);
    let [server, client] = table.stream_prefixes(&segments[0].packet()).unwrap();
    assert_eq!(server, b"\x16\x03\x03");
    assert_eq!(client, b"\x16\x03\x01");

    let (flows, _) = run(FlowConfig::default(), &segments);
    let flow = only(&flows);
    assert_eq!(flow.direction_evidence, DirectionEvidence::SynAck);
    assert_eq!(flow.client, "192.168.0.1:59927".parse().unwrap());
    assert_eq!(flow.missed_bytes, 0);
    assert_eq!(flow.to_client.packets, 5);
}

#[test]
fn out_of_order_segment_placed() {
    let mut tcp = exchange();
    let mut segments = tcp.handshake();
    let first = tcp.data(End::Server, b"220 ");
    let second = tcp.data(End::Server, b"ready\r\n");
    segments.push(second);
    segments.push(first);

    let (table, _) = feed(FlowConfig::default(), &segments);
    let [_, server] = table.stream_prefixes(&segments[0].packet()).unwrap();

    assert_eq!(server, b"220 ready\r\n");
    assert_eq!(table.stats().gaps, 0);
}

#[test]
fn acked_hole_counts_missed_bytes() {
    let mut tcp = exchange();
    let mut segments = tcp.handshake();
    segments.push(tcp.data(End::Server, b"220 "));
    let _lost = tcp.data(End::Server, b"lost bytes");
    segments.push(tcp.data(End::Server, b"\r\n"));
    segments.push(tcp.ack(End::Client));

    let (table, _) = feed(FlowConfig::default(), &segments);
    let [_, server] = table.stream_prefixes(&segments[0].packet()).unwrap();
    assert_eq!(server, b"220 ");
    assert_eq!(table.stats().gaps, 1);

    let (flows, _) = run(FlowConfig::default(), &segments);
    assert_eq!(only(&flows).missed_bytes, 10);
}

#[test]
fn unacked_hole_given_up_at_end() {
    let mut tcp = exchange();
    let mut segments = tcp.handshake();
    segments.push(tcp.data(End::Server, b"220 "));
    let _lost = tcp.data(End::Server, b"lost");
    segments.push(tcp.data(End::Server, b"\r\n"));

    let (flows, stats) = run(FlowConfig::default(), &segments);

    assert_eq!(only(&flows).missed_bytes, 4);
    assert_eq!(stats.gaps, 1);
}

#[test]
fn hole_timeout_gives_up() {
    let config = FlowConfig {
        gap_timeout: Duration::from_secs(1),
        ..FlowConfig::default()
    };
    let mut tcp = exchange();
    let mut segments = tcp.handshake();
    segments.push(tcp.data(End::Server, b"220 "));
    let _lost = tcp.data(End::Server, b"lost");
    segments.push(tcp.data(End::Server, b"more"));
    tcp.advance(Duration::from_secs(2));
    segments.push(tcp.data(End::Server, b"again"));

    let (table, _) = feed(config, &segments);

    assert_eq!(table.stats().gaps, 1);
}

#[test]
fn one_sided_acks_count_missed() {
    // Only the client's side was captured: its ACKs show the server sent bytes
    // the capture never saw.
    let mut tcp = exchange();
    let syn = tcp.syn();
    let _syn_ack = tcp.syn_ack();
    let mut segments = vec![syn, tcp.ack(End::Client)];
    let _unseen = tcp.data(End::Server, &[b'x'; 1_000]);
    segments.push(tcp.data(End::Client, b"EHLO a\r\n"));
    let _unseen = tcp.data(End::Server, &[b'y'; 500]);
    segments.push(tcp.ack(End::Client));

    let (flows, _) = run(FlowConfig::default(), &segments);

    assert_eq!(only(&flows).missed_bytes, 1_500);
}

#[test]
fn one_sided_acks_without_payload_count_missed() {
    let mut tcp = exchange();
    let syn = tcp.syn();
    let _syn_ack = tcp.syn_ack();
    let mut segments = vec![syn, tcp.ack(End::Client)];
    let _unseen = tcp.data(End::Server, &[b'x'; 700]);
    segments.push(tcp.ack(End::Client));

    let (flows, _) = run(FlowConfig::default(), &segments);

    assert_eq!(only(&flows).missed_bytes, 700);
}

#[test]
fn snaplen_cut_payload_missed() {
    let mut tcp = exchange();
    let mut segments = tcp.handshake();
    let mut cut = tcp.data(End::Server, &[b'z'; 1_400]);
    cut.payload.truncate(200);
    cut.wire_len = Some(1_400);
    segments.push(cut);
    segments.push(tcp.data(End::Server, b"next"));

    let (table, _) = feed(FlowConfig::default(), &segments);
    let [_, server] = table.stream_prefixes(&segments[0].packet()).unwrap();
    assert_eq!(server.len(), 200);

    let (flows, _) = run(FlowConfig::default(), &segments);
    let flow = only(&flows);
    assert_eq!(flow.missed_bytes, 1_200);
    assert_eq!(flow.to_client.payload_bytes, 1_404);
}

#[test]
fn overlap_with_different_bytes_counted() {
    let mut tcp = exchange();
    let mut segments = tcp.handshake();
    let (seq, ack) = (tcp.next_seq[0], tcp.next_seq[1]);
    segments.push(tcp.raw(End::Client, PSH | ACK, seq, ack, b"USER alice\r\n"));
    segments.push(tcp.raw(End::Client, PSH | ACK, seq + 5, ack, b"mallory\r\n"));

    let (table, _) = feed(FlowConfig::default(), &segments);
    let [client, _] = table.stream_prefixes(&segments[0].packet()).unwrap();

    assert_eq!(client, b"USER alice\r\n\r\n");
    assert_eq!(table.stats().overlaps_differing, 1);
}

#[test]
fn budget_limits_stream_bytes() {
    let config = FlowConfig {
        reassembly_budget: 100,
        ..FlowConfig::default()
    };
    let mut tcp = exchange();
    let mut segments = tcp.handshake();
    for _ in 0..10 {
        segments.push(tcp.data(End::Server, &[b'a'; 60]));
    }
    segments.push(tcp.ack(End::Client));

    let (table, _) = feed(config.clone(), &segments);
    let [_, server] = table.stream_prefixes(&segments[0].packet()).unwrap();
    assert_eq!(server.len(), 100);
    assert!(table.stats().reassembly_bytes <= 100);

    let (flows, _) = run(config, &segments);
    let flow = only(&flows);
    assert_eq!(flow.missed_bytes, 0);
    assert_eq!(flow.to_client.payload_bytes, 600);
}

#[test]
fn hole_past_budget_counted() {
    let config = FlowConfig {
        reassembly_budget: 100,
        ..FlowConfig::default()
    };
    let mut tcp = exchange();
    let mut segments = tcp.handshake();
    segments.push(tcp.data(End::Server, &[b'a'; 150]));
    let _lost = tcp.data(End::Server, &[b'b'; 30]);
    segments.push(tcp.data(End::Server, &[b'c'; 20]));
    segments.push(tcp.ack(End::Client));

    let (flows, stats) = run(config, &segments);

    assert_eq!(only(&flows).missed_bytes, 30);
    assert_eq!(stats.gaps, 1);
}
