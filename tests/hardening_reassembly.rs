//! TCP reassembly through the whole flow table, on real recorded sessions: the
//! client's bytes of a connection from the project's captures are cut at
//! random points and delivered after the real handshake in any order, with
//! duplicates and overlapping segments. The flow table's in-order prefix must
//! equal the recorded stream, up to the reassembly budget.
//!
//! `flow_reassembly.rs` checks the stream reassembler alone against a model;
//! this checks the path around it: sequence numbers from a real handshake
//! (anywhere in the 32-bit space), the TCP state machine, and the table.

#[path = "common/decode_frames.rs"]
mod decode_frames;

use std::net::IpAddr;
use std::sync::OnceLock;

use exflow::capture::Timestamp;
use exflow::decode::{Decoded, Decoder, Packet, TcpFlags, TcpInfo, Transport, VlanIds};
use exflow::flow::reassembly::MAX_PENDING_RANGES;
use exflow::flow::{FlowConfig, FlowTable};
use proptest::prelude::*;

/// The captures the sessions come from.
const CAPTURES: [&str; 2] = [
    "captures/exchange-no-edge.pcap",
    "captures/exchange-edge.pcap",
];

/// Client bytes kept per session: enough for several segments, within the
/// default reassembly budget.
const MAX_STREAM: usize = 6 * 1024;

/// One end of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct End {
    ip: IpAddr,
    port: u16,
}

/// A recorded connection: its handshake and its client's bytes.
#[derive(Clone, Debug)]
struct Session {
    client: End,
    server: End,
    client_isn: u32,
    server_isn: u32,
    /// The client's payload in sequence order, cut to [`MAX_STREAM`].
    stream: Vec<u8>,
}

/// An owned TCP packet, lent to the flow table as a [`Packet`].
struct Owned {
    from: End,
    to: End,
    tcp: TcpInfo,
    payload: Vec<u8>,
    ts: Timestamp,
}

impl Owned {
    fn packet(&self) -> Packet<'_> {
        Packet {
            ts: self.ts,
            input_clock: self.ts,
            vlan: VlanIds::default(),
            ip_version: if self.from.ip.is_ipv4() { 4 } else { 6 },
            src: self.from.ip,
            dst: self.to.ip,
            ip_len: 40 + self.payload.len() as u32,
            ip_id: 0,
            ttl: 64,
            transport: Transport::Tcp,
            src_port: self.from.port,
            dst_port: self.to.port,
            tcp: self.tcp,
            payload: &self.payload,
            payload_len: self.payload.len() as u32,
            bad_checksum: false,
            transport_checksum_failed: false,
            transport_checksum: 0,
            offset: 0,
        }
    }
}

/// Returns the recorded TCP connections that opened with a full handshake
/// and whose client sent at least 200 bytes in order.
fn sessions() -> &'static [Session] {
    static SESSIONS: OnceLock<Vec<Session>> = OnceLock::new();
    SESSIONS.get_or_init(|| {
        let mut sessions: Vec<Session> = Vec::new();
        for capture in CAPTURES {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(capture);
            let frames = decode_frames::read_frames(&std::fs::read(path).unwrap());
            let mut decoder = Decoder::default();
            let mut open: Vec<(Session, u32)> = Vec::new();
            for owned in &frames {
                let Decoded::Packet(packet) = decoder.decode(&owned.frame()) else {
                    continue;
                };
                if packet.transport != Transport::Tcp {
                    continue;
                }
                let from = End {
                    ip: packet.src,
                    port: packet.src_port,
                };
                let to = End {
                    ip: packet.dst,
                    port: packet.dst_port,
                };
                let flags = packet.tcp.flags;
                if flags.syn() && !flags.ack() {
                    open.retain(|(session, _)| session.client != from || session.server != to);
                    open.push((
                        Session {
                            client: from,
                            server: to,
                            client_isn: packet.tcp.seq,
                            server_isn: 0,
                            stream: Vec::new(),
                        },
                        packet.tcp.seq.wrapping_add(1),
                    ));
                    continue;
                }
                let Some((session, next)) = open.iter_mut().find(|(s, _)| {
                    (s.client, s.server) == (from, to) || (s.client, s.server) == (to, from)
                }) else {
                    continue;
                };
                if flags.syn() && flags.ack() && from == session.server {
                    session.server_isn = packet.tcp.seq;
                } else if from == session.client
                    && !packet.payload.is_empty()
                    && packet.tcp.seq == *next
                    && session.stream.len() < MAX_STREAM
                {
                    let room = MAX_STREAM - session.stream.len();
                    session
                        .stream
                        .extend_from_slice(&packet.payload[..packet.payload.len().min(room)]);
                    *next = next.wrapping_add(packet.payload.len() as u32);
                }
            }
            sessions.extend(
                open.into_iter()
                    .map(|(session, _)| session)
                    .filter(|session| session.stream.len() >= 200),
            );
        }
        assert!(sessions.len() >= 20, "{} sessions", sessions.len());
        sessions
    })
}

/// Feeds the handshake and then `segments` (stream offset, length) of the
/// session's client bytes, and returns the table's client prefix.
fn reassemble(session: &Session, segments: &[(usize, usize)], budget: usize) -> Vec<u8> {
    let config = FlowConfig {
        reassembly_budget: budget,
        keep_streams: true,
        ..FlowConfig::default()
    };
    let mut table = FlowTable::new(config);
    let (client, server) = (session.client, session.server);
    let tcp = |seq: u32, ack: u32, flags: u8| TcpInfo {
        seq,
        ack,
        flags: TcpFlags(flags),
        window: 65_535,
    };
    let client_next = session.client_isn.wrapping_add(1);
    let server_next = session.server_isn.wrapping_add(1);
    let mut packets = vec![
        Owned {
            from: client,
            to: server,
            tcp: tcp(session.client_isn, 0, TcpFlags::SYN),
            payload: Vec::new(),
            ts: Timestamp(1_000_000),
        },
        Owned {
            from: server,
            to: client,
            tcp: tcp(
                session.server_isn,
                client_next,
                TcpFlags::SYN | TcpFlags::ACK,
            ),
            payload: Vec::new(),
            ts: Timestamp(2_000_000),
        },
        Owned {
            from: client,
            to: server,
            tcp: tcp(client_next, server_next, TcpFlags::ACK),
            payload: Vec::new(),
            ts: Timestamp(3_000_000),
        },
    ];
    for (index, &(start, len)) in segments.iter().enumerate() {
        packets.push(Owned {
            from: client,
            to: server,
            tcp: tcp(
                client_next.wrapping_add(start as u32),
                server_next,
                TcpFlags::ACK | TcpFlags::PSH,
            ),
            payload: session.stream[start..start + len].to_vec(),
            ts: Timestamp(4_000_000 + index as i64 * 1_000),
        });
    }

    let mut finished = Vec::new();
    let mut last = None;
    for owned in &packets {
        let packet = owned.packet();
        table.process(&packet, &mut |flow| finished.push(flow));
        last = Some(owned);
    }
    assert!(finished.is_empty(), "a flow ended early: {finished:?}");
    let packet = last.expect("the handshake").packet();
    let [client_side, _] = table
        .stream_prefixes(&packet)
        .expect("the flow holds its streams");
    client_side.to_vec()
}

/// A session, a budget, and up to [`MAX_PENDING_RANGES`] segments: a
/// partition of the client stream into pieces plus overlapping extras, in a
/// random order with some delivered twice.
fn deliveries() -> impl Strategy<Value = (usize, usize, Vec<(usize, usize)>)> {
    (0..sessions().len(), 256usize..8 * 1024)
        .prop_flat_map(|(index, budget)| {
            let len = sessions()[index].stream.len();
            let cuts = proptest::collection::btree_set(1..len, 0..5);
            let extras = proptest::collection::vec((0..len, 1..1500usize), 0..3);
            (Just(index), Just(budget), Just(len), cuts, extras)
        })
        .prop_flat_map(|(index, budget, len, cuts, extras)| {
            let bounds: Vec<usize> = std::iter::once(0)
                .chain(cuts)
                .chain(std::iter::once(len))
                .collect();
            let mut segments: Vec<(usize, usize)> = bounds
                .windows(2)
                .map(|pair| (pair[0], pair[1] - pair[0]))
                .collect();
            for (start, extra) in extras {
                segments.push((start, extra.min(len - start)));
            }
            segments.truncate(MAX_PENDING_RANGES);
            let count = segments.len();
            let order = Just((0..count).collect::<Vec<_>>()).prop_shuffle();
            let repeats = proptest::collection::vec(0..count, 0..3);
            (Just(index), Just(budget), Just(segments), order, repeats)
        })
        .prop_map(|(index, budget, segments, mut order, repeats)| {
            order.extend(repeats);
            let delivered = order.into_iter().map(|at| segments[at]).collect();
            (index, budget, delivered)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn table_prefix_is_recorded_stream((index, budget, segments) in deliveries()) {
        let session = &sessions()[index];
        let prefix = reassemble(session, &segments, budget);
        let whole = session.stream.len().min(budget);
        prop_assert_eq!(prefix.len(), whole);
        prop_assert!(prefix == session.stream[..whole], "the prefix differs from the recorded stream");
    }
}

#[test]
fn in_order_delivery_gives_recorded_stream() {
    // Without reordering every session comes back whole, so the property
    // above is not vacuous.
    for session in sessions() {
        let segments = [(0, session.stream.len())];
        assert_eq!(reassemble(session, &segments, 16 * 1024), session.stream);
    }
}
