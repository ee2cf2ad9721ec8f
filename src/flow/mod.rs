//! Flow tracking: the flow table keyed on the 5-tuple, client and server sides,
//! TCP state and reassembly of each direction's first bytes, idle timeouts by
//! capture time, and eviction under memory caps.
//!
//! The table feeds each flow's reassembled bytes to its
//! [`Dissector`](crate::fingerprint::Dissector) and hands out a [`FinishedFlow`]
//! when the flow ends.
//!
//! - [`key`]: the canonical 5-tuple key and the symmetric hash that shards flows.
//! - [`community_id`]: the Community ID v1 flow hash of the record.
//! - [`table`]: the [`FlowTable`], its [`FlowConfig`] and [`FlowStats`].
//! - [`reassembly`]: the per-direction [`StreamReassembler`].
//! - `tcp`: handshake, teardown, connection state and client side of a TCP flow.

use std::net::SocketAddr;

use crate::capture::Timestamp;
use crate::decode::{Transport, VlanIds};
use crate::fingerprint::AppInfo;

pub mod community_id;
mod duplicate;
mod index;
pub mod key;
mod lru;
pub mod reassembly;
pub mod table;
mod tcp;

pub use community_id::community_id_v1;
pub use key::FlowKey;
pub use reassembly::StreamReassembler;
pub use table::{EndReasonCounts, FlowConfig, FlowStats, FlowTable, OpenFlow};

/// What decided which side of a flow is the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DirectionEvidence {
    /// The client sent the first SYN.
    Syn,
    /// Only the SYN-ACK was seen; its receiver is the client.
    SynAck,
    /// UDP: the client sent the first packet.
    FirstPacket,
    /// The payload showed the server (a greeting, a DNS response).
    Payload,
    /// The server port is a well-known or lower port than the client's.
    Port,
}

impl DirectionEvidence {
    pub fn as_str(self) -> &'static str {
        match self {
            DirectionEvidence::Syn => "syn",
            DirectionEvidence::SynAck => "syn_ack",
            DirectionEvidence::FirstPacket => "first_packet",
            DirectionEvidence::Payload => "payload",
            DirectionEvidence::Port => "port",
        }
    }
}

/// The connection state of a flow when its record was written, in Zeek's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnState {
    /// A SYN with no reply.
    S0,
    /// The SYN was answered with a RST.
    Rej,
    /// Opened and closed normally.
    Sf,
    /// Reset after it was established.
    Rst,
    /// Picked up mid-stream, no handshake seen.
    Oth,
    /// Still open when the input ended or the flow was evicted.
    Open,
}

impl ConnState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::S0 => "S0",
            ConnState::Rej => "REJ",
            ConnState::Sf => "SF",
            ConnState::Rst => "RST",
            ConnState::Oth => "OTH",
            ConnState::Open => "open",
        }
    }
}

/// Why a flow's record was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// FIN or RST teardown.
    Closed,
    /// No packet for longer than the transport's idle timeout.
    IdleTimeout,
    /// The flow table was full; the oldest idle flow made room.
    EvictedTableFull,
    /// The reassembly memory cap was reached; the flow's buffers were dropped.
    EvictedMemory,
    /// The input ended while the flow was open.
    EndOfInput,
    /// A SYN with a new initial sequence number reused the 5-tuple of a
    /// connection attempt that got no answer; the attempt ended there. (A closed
    /// flow whose 5-tuple is reused ends as `Closed`.)
    PortReuse,
}

impl EndReason {
    pub const ALL: [EndReason; 6] = [
        EndReason::Closed,
        EndReason::IdleTimeout,
        EndReason::EvictedTableFull,
        EndReason::EvictedMemory,
        EndReason::EndOfInput,
        EndReason::PortReuse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Closed => "closed",
            EndReason::IdleTimeout => "idle_timeout",
            EndReason::EvictedTableFull => "evicted_table_full",
            EndReason::EvictedMemory => "evicted_memory",
            EndReason::EndOfInput => "end_of_input",
            EndReason::PortReuse => "port_reuse",
        }
    }
}

/// Packet, byte and payload counters of one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirectionCounters {
    pub packets: u64,
    /// IP length on the wire.
    pub bytes: u64,
    /// Transport payload length.
    pub payload_bytes: u64,
}

/// A flow whose record is due, oriented client to server.
#[derive(Clone, Debug)]
pub struct FinishedFlow {
    pub transport: Transport,
    pub ip_version: u8,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub direction_evidence: DirectionEvidence,
    pub conn_state: ConnState,
    pub vlan: VlanIds,
    pub ts_start: Timestamp,
    pub ts_end: Timestamp,
    pub to_server: DirectionCounters,
    pub to_client: DirectionCounters,
    /// Bytes lost in sequence gaps, both directions.
    pub missed_bytes: u64,
    pub app: AppInfo,
    pub end: EndReason,
    /// Byte offset of the flow's first packet in its input: with the source it
    /// names the flow the same way on every run of the same input.
    pub first_offset: u64,
    /// The input clock at the flow's first packet
    /// ([`Packet::input_clock`](crate::decode::Packet::input_clock)): the
    /// start time, unless an earlier frame of the input carried a later time.
    pub start_clock: Timestamp,
    /// Duplicated frames (the same frame captured twice) left out of the counters.
    pub duplicates: u64,
}

impl FinishedFlow {
    /// Returns the Community ID v1 (seed 0) of the flow's 5-tuple.
    pub fn community_id(&self) -> String {
        community_id_v1(self.transport, self.client, self.server)
    }
}
