//! Packet decoding from the link layer to TCP/UDP over etherparse slices, with
//! IPv4/IPv6 fragment reassembly.
//!
//! The decoder turns a [`Frame`](crate::capture::Frame) into a [`Packet`]: the
//! innermost IP addresses, ports, TCP header fields and a payload slice that
//! borrows the frame.

use std::net::IpAddr;

use crate::capture::Timestamp;

/// The transport protocol of a packet or flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    Tcp,
    Udp,
}

impl Transport {
    /// Returns the IANA protocol number (6 or 17).
    pub fn protocol_number(self) -> u8 {
        match self {
            Transport::Tcp => 6,
            Transport::Udp => 17,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// TCP header flags (the low eight bits of the flags field).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;

    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

/// TCP fields the flow engine needs; zero for UDP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
}

/// VLAN ids of a packet, outermost first. Holds up to two tags (802.1ad QinQ);
/// deeper stacks keep the outer two.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct VlanIds {
    ids: [u16; 2],
    len: u8,
}

impl VlanIds {
    pub fn push(&mut self, id: u16) {
        if (self.len as usize) < self.ids.len() {
            self.ids[self.len as usize] = id;
            self.len += 1;
        }
    }

    pub fn as_slice(&self) -> &[u16] {
        &self.ids[..self.len as usize]
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A decoded TCP or UDP packet. `payload` borrows the frame, or the decoder's
/// buffer for a reassembled IP datagram.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    pub ts: Timestamp,
    pub vlan: VlanIds,
    /// 4 or 6: the version of the innermost IP header.
    pub ip_version: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IP length on the wire from the innermost IP header (IPv4 total length,
    /// IPv6 40 + payload length).
    pub ip_len: u32,
    /// IPv4 identification, or 0 for IPv6; used to tell a duplicated frame from a
    /// retransmission.
    pub ip_id: u16,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    pub transport: Transport,
    pub src_port: u16,
    pub dst_port: u16,
    pub tcp: TcpInfo,
    /// Captured transport payload; shorter than `payload_len` when the snapshot
    /// length cut the packet.
    pub payload: &'a [u8],
    /// Transport payload length according to the headers.
    pub payload_len: u32,
    /// The IP, TCP or UDP checksum did not verify (the packet is still used).
    pub bad_checksum: bool,
    /// Byte offset of the packet's record in its input.
    pub offset: u64,
}
