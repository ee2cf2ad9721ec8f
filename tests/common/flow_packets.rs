//! Builds decoded packets of TCP and UDP exchanges for the flow engine's tests,
//! with sequence and acknowledgement numbers, IP ids and timestamps advancing
//! as a real stack's would.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use exflow::capture::Timestamp;
use exflow::decode::{Packet, TcpFlags, TcpInfo, Transport, VlanIds};
use exflow::flow::{FinishedFlow, FlowConfig, FlowStats, FlowTable};

pub const FIN: u8 = TcpFlags::FIN;
pub const SYN: u8 = TcpFlags::SYN;
pub const RST: u8 = TcpFlags::RST;
pub const PSH: u8 = TcpFlags::PSH;
pub const ACK: u8 = TcpFlags::ACK;

/// One packet, owning its payload; [`Segment::packet`] lends it as a [`Packet`].
#[derive(Clone, Debug)]
pub struct Segment {
    pub ts: Timestamp,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub transport: Transport,
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    pub ip_id: u16,
    /// Captured payload.
    pub payload: Vec<u8>,
    /// Payload length on the wire when the capture cut the packet.
    pub wire_len: Option<u32>,
    pub vlan: Vec<u16>,
    pub offset: u64,
    pub checksum: Checksum,
}

/// What the decoder found in a segment's checksum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Checksum {
    #[default]
    Good,
    /// Failed, as the receiving host would find it.
    Failed,
    /// The partial checksum that offload on the capturing host leaves.
    Partial,
}

impl Segment {
    pub fn packet(&self) -> Packet<'_> {
        let mut vlan = VlanIds::default();
        for &id in &self.vlan {
            vlan.push(id);
        }
        let payload_len = self.wire_len.unwrap_or(self.payload.len() as u32);
        let ip_header = if self.src.is_ipv4() { 20 } else { 40 };
        let transport_header = match self.transport {
            Transport::Tcp => 20,
            Transport::Udp => 8,
        };
        Packet {
            ts: self.ts,
            input_clock: self.ts,
            vlan,
            ip_version: if self.src.is_ipv4() { 4 } else { 6 },
            src: self.src.ip(),
            dst: self.dst.ip(),
            ip_len: ip_header + transport_header + payload_len,
            ip_id: if self.src.is_ipv4() { self.ip_id } else { 0 },
            ttl: 64,
            transport: self.transport,
            src_port: self.src.port(),
            dst_port: self.dst.port(),
            tcp: TcpInfo {
                seq: self.seq,
                ack: self.ack,
                flags: TcpFlags(self.flags),
                window: self.window,
            },
            payload: &self.payload,
            payload_len,
            bad_checksum: self.checksum != Checksum::Good,
            transport_checksum_failed: self.checksum == Checksum::Failed,
            transport_checksum: 0,
            offset: self.offset,
        }
    }

    pub fn with_vlan(mut self, ids: &[u16]) -> Segment {
        self.vlan = ids.to_vec();
        self
    }

    pub fn at(mut self, ts: Timestamp) -> Segment {
        self.ts = ts;
        self
    }

    pub fn with_checksum(mut self, checksum: Checksum) -> Segment {
        self.checksum = checksum;
        self
    }
}

/// Which end of a [`TcpExchange`] sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Client,
    Server,
}

impl End {
    fn index(self) -> usize {
        match self {
            End::Client => 0,
            End::Server => 1,
        }
    }

    fn other(self) -> End {
        match self {
            End::Client => End::Server,
            End::Server => End::Client,
        }
    }
}

/// A TCP connection between two endpoints. Each method returns the next packet
/// and advances the sender's sequence number, its IP id, and the clock by
/// `step`.
#[derive(Clone, Debug)]
pub struct TcpExchange {
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Next sequence number of the client and of the server.
    pub next_seq: [u32; 2],
    pub ts: Timestamp,
    pub step: Duration,
    ip_id: [u16; 2],
    offset: u64,
}

impl TcpExchange {
    pub fn new(client: &str, server: &str, client_isn: u32, server_isn: u32) -> TcpExchange {
        TcpExchange {
            client: client.parse().expect("client address"),
            server: server.parse().expect("server address"),
            next_seq: [client_isn, server_isn],
            ts: Timestamp::from_secs_nanos(1_700_000_000, 0),
            step: Duration::from_millis(1),
            ip_id: [0x1000, 0x8000],
            offset: 24,
        }
    }

    pub fn advance(&mut self, by: Duration) {
        self.ts = Timestamp(self.ts.0 + by.as_nanos() as i64);
    }

    /// Builds a packet from `from` without touching the sequence numbers.
    pub fn raw(&mut self, from: End, flags: u8, seq: u32, ack: u32, payload: &[u8]) -> Segment {
        self.advance(self.step);
        let index = from.index();
        self.ip_id[index] = self.ip_id[index].wrapping_add(1);
        self.offset += 16 + 54 + payload.len() as u64;
        let (src, dst) = match from {
            End::Client => (self.client, self.server),
            End::Server => (self.server, self.client),
        };
        Segment {
            ts: self.ts,
            src,
            dst,
            transport: Transport::Tcp,
            flags,
            seq,
            ack: if flags & ACK != 0 { ack } else { 0 },
            window: 64_240,
            ip_id: self.ip_id[index],
            payload: payload.to_vec(),
            wire_len: None,
            vlan: Vec::new(),
            offset: self.offset,
            checksum: Checksum::Good,
        }
    }

    fn next(&self, end: End) -> u32 {
        self.next_seq[end.index()]
    }

    pub fn syn(&mut self) -> Segment {
        let seq = self.next(End::Client);
        self.next_seq[0] = seq.wrapping_add(1);
        self.raw(End::Client, SYN, seq, 0, &[])
    }

    pub fn syn_ack(&mut self) -> Segment {
        let (seq, ack) = (self.next(End::Server), self.next(End::Client));
        self.next_seq[1] = seq.wrapping_add(1);
        self.raw(End::Server, SYN | ACK, seq, ack, &[])
    }

    pub fn ack(&mut self, from: End) -> Segment {
        let (seq, ack) = (self.next(from), self.next(from.other()));
        self.raw(from, ACK, seq, ack, &[])
    }

    pub fn data(&mut self, from: End, bytes: &[u8]) -> Segment {
        let (seq, ack) = (self.next(from), self.next(from.other()));
        self.next_seq[from.index()] = seq.wrapping_add(bytes.len() as u32);
        self.raw(from, PSH | ACK, seq, ack, bytes)
    }

    pub fn fin(&mut self, from: End) -> Segment {
        let (seq, ack) = (self.next(from), self.next(from.other()));
        self.next_seq[from.index()] = seq.wrapping_add(1);
        self.raw(from, FIN | ACK, seq, ack, &[])
    }

    pub fn rst(&mut self, from: End) -> Segment {
        let (seq, ack) = (self.next(from), self.next(from.other()));
        self.raw(from, RST | ACK, seq, ack, &[])
    }

    /// SYN, SYN-ACK, ACK.
    pub fn handshake(&mut self) -> Vec<Segment> {
        vec![self.syn(), self.syn_ack(), self.ack(End::Client)]
    }

    /// FIN from the client, ACK, FIN from the server, ACK.
    pub fn close(&mut self) -> Vec<Segment> {
        vec![
            self.fin(End::Client),
            self.ack(End::Server),
            self.fin(End::Server),
            self.ack(End::Client),
        ]
    }
}

/// A UDP datagram.
pub fn udp(ts: Timestamp, src: &str, dst: &str, ip_id: u16, payload: &[u8]) -> Segment {
    Segment {
        ts,
        src: src.parse().expect("source address"),
        dst: dst.parse().expect("destination address"),
        transport: Transport::Udp,
        flags: 0,
        seq: 0,
        ack: 0,
        window: 0,
        ip_id,
        payload: payload.to_vec(),
        wire_len: None,
        vlan: Vec::new(),
        offset: 0,
        checksum: Checksum::Good,
    }
}

/// Runs the segments through a table, then flushes it.
pub fn run(config: FlowConfig, segments: &[Segment]) -> (Vec<FinishedFlow>, FlowStats) {
    let mut table = FlowTable::new(config);
    let mut finished = Vec::new();
    for segment in segments {
        table.process(&segment.packet(), &mut |flow| finished.push(flow));
    }
    table.flush(&mut |flow| finished.push(flow));
    let stats = table.stats().clone();
    (finished, stats)
}

/// Runs the segments through a table without flushing it, and returns the table.
/// The table keeps its stream prefixes after the dissector is done, so tests can
/// read what reassembly produced.
pub fn feed(config: FlowConfig, segments: &[Segment]) -> (FlowTable, Vec<FinishedFlow>) {
    let config = FlowConfig {
        keep_streams: true,
        ..config
    };
    let mut table = FlowTable::new(config);
    let mut finished = Vec::new();
    for segment in segments {
        table.process(&segment.packet(), &mut |flow| finished.push(flow));
    }
    (table, finished)
}

/// Returns the one flow of a run, failing the test when there are more or none.
pub fn only(flows: &[FinishedFlow]) -> &FinishedFlow {
    assert_eq!(flows.len(), 1, "expected one flow, got {flows:#?}");
    &flows[0]
}
