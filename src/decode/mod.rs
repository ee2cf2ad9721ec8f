//! Packet decoding from the link layer to TCP/UDP over etherparse slices, with
//! IPv4/IPv6 fragment reassembly.
//!
//! The decoder turns a [`Frame`](crate::capture::Frame) into a [`Packet`]: the
//! innermost IP addresses, ports, TCP header fields and a payload slice that
//! borrows the frame. Tunnels (IP in IP, GRE, VXLAN, Geneve, GTP-U, Teredo) are
//! decapsulated down to the innermost IP packet unless
//! [`DecoderConfig::decapsulate_tunnels`] is off.
//!
//! Layout: [`link`] walks link-layer headers to the first IP header, `ip` walks
//! IPv4/IPv6 and their extension headers, `tunnel` parses tunnel headers,
//! `fragment` reassembles IP fragments, `checksum` verifies checksums and
//! `decoder` composes them into [`Decoder::decode`].

use std::net::IpAddr;
use std::time::Duration;

use crate::capture::{LinkType, Timestamp};

mod checksum;
mod decoder;
mod fragment;
mod ip;
pub mod link;
mod tunnel;

pub use decoder::{Decoder, ReassembledDatagram};
pub use link::link_supported;

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

    /// Returns the ids and their count packed in one integer, which is equal
    /// for two values exactly when they are equal.
    pub(crate) fn to_bits(self) -> u64 {
        u64::from(self.ids[0]) | u64::from(self.ids[1]) << 16 | u64::from(self.len) << 32
    }
}

/// A decoded TCP or UDP packet. `payload` borrows the frame, or the decoder's
/// buffer for a reassembled IP datagram.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    pub ts: Timestamp,
    /// The input clock when the packet was decoded: the latest capture time
    /// among the input's frames so far, this one included. Unlike `ts`, it
    /// never goes backwards, so the frames still to come cannot start a flow
    /// before it (see [`Decoder::input_clock`](decoder::Decoder::input_clock)).
    pub input_clock: Timestamp,
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
    /// The IP, TCP or UDP checksum did not verify.
    pub bad_checksum: bool,
    /// This packet's own TCP or UDP checksum failed, and is not the partial
    /// checksum that offload on the capturing host leaves (see
    /// `checksum::is_partial`): the receiving host drops such a packet.
    pub transport_checksum_failed: bool,
    /// The TCP or UDP checksum field as captured, whether or not it verified.
    /// Two copies of one frame carry the same value.
    pub transport_checksum: u16,
    /// Byte offset of the packet's record in its input.
    pub offset: u64,
}

/// The outcome of decoding one frame.
#[derive(Debug)]
pub enum Decoded<'a> {
    /// A TCP or UDP packet that borrows the frame.
    Packet(Packet<'a>),
    /// The frame completed a fragmented IP datagram; the datagram owns its bytes.
    Datagram(ReassembledDatagram),
    /// The frame was an IP fragment and the decoder stored it for reassembly.
    Held,
    /// A well-formed frame that exflow does not track.
    Skipped(SkipReason),
    /// The frame could not be decoded.
    Error(DecodeError),
}

/// The reason a frame was skipped. Each reason has its own counter in
/// [`DecodeStats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// ARP or RARP.
    Arp,
    /// A link-layer protocol other than IP (an ethertype, PPP protocol, address
    /// family or LLC frame that carries no IP).
    NotIp,
    /// ICMP for IPv4.
    Icmp,
    /// ICMPv6.
    Icmpv6,
    /// IPsec ESP: the rest is encrypted.
    Esp,
    /// IPv6 "no next header" (59).
    NoNextHeader,
    /// An IP protocol other than TCP, UDP, ICMP and the tunnels exflow decapsulates.
    OtherIpProtocol,
    /// A tunnel header exflow does not decapsulate (GRE with routing, an unknown
    /// GRE version or protocol type).
    UnsupportedTunnel,
    /// An IP-in-IP or GRE packet while tunnel decapsulation is off.
    TunnelNotDecapsulated,
    /// More nested tunnels than [`DecoderConfig::max_tunnel_depth`].
    TunnelTooDeep,
    /// A header cut by the snapshot length, so the packet cannot be used.
    TruncatedHeader,
    /// An IP fragment that reassembly dropped or ignored; [`FragmentStats`] counts
    /// why.
    FragmentDropped,
}

impl SkipReason {
    /// Number of reasons; the length of [`DecodeStats::skipped`].
    pub const COUNT: usize = 12;

    /// Every reason, in the order of [`DecodeStats::skipped`].
    pub const ALL: [SkipReason; SkipReason::COUNT] = [
        SkipReason::Arp,
        SkipReason::NotIp,
        SkipReason::Icmp,
        SkipReason::Icmpv6,
        SkipReason::Esp,
        SkipReason::NoNextHeader,
        SkipReason::OtherIpProtocol,
        SkipReason::UnsupportedTunnel,
        SkipReason::TunnelNotDecapsulated,
        SkipReason::TunnelTooDeep,
        SkipReason::TruncatedHeader,
        SkipReason::FragmentDropped,
    ];

    /// Returns a stable snake_case name for summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Arp => "arp",
            SkipReason::NotIp => "not_ip",
            SkipReason::Icmp => "icmp",
            SkipReason::Icmpv6 => "icmpv6",
            SkipReason::Esp => "esp",
            SkipReason::NoNextHeader => "no_next_header",
            SkipReason::OtherIpProtocol => "other_ip_protocol",
            SkipReason::UnsupportedTunnel => "unsupported_tunnel",
            SkipReason::TunnelNotDecapsulated => "tunnel_not_decapsulated",
            SkipReason::TunnelTooDeep => "tunnel_too_deep",
            SkipReason::TruncatedHeader => "truncated_header",
            SkipReason::FragmentDropped => "fragment_dropped",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A protocol layer, as named in decode errors and error counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layer {
    /// The link type itself (an unsupported link type).
    Link,
    Ethernet,
    /// An 802.1Q, 802.1ad or 0x9100 VLAN tag.
    Vlan,
    Mpls,
    Pppoe,
    Ppp,
    /// An IEEE 802.2 LLC/SNAP header (802.3 and FDDI frames).
    Llc,
    FabricPath,
    VnTag,
    LinuxSll,
    LinuxSll2,
    /// BSD loopback (NULL and LOOP link types).
    Loopback,
    Fddi,
    Nflog,
    Pktap,
    Arcnet,
    /// A bare IP header whose version selects IPv4 or IPv6.
    Ip,
    Ipv4,
    Ipv6,
    Ipv6Extension,
    Gre,
    Vxlan,
    Geneve,
    GtpU,
    Teredo,
    Tcp,
    Udp,
}

impl Layer {
    /// Number of layers; the length of [`DecodeStats::errors`].
    pub const COUNT: usize = 27;

    /// Every layer, in the order of [`DecodeStats::errors`].
    pub const ALL: [Layer; Layer::COUNT] = [
        Layer::Link,
        Layer::Ethernet,
        Layer::Vlan,
        Layer::Mpls,
        Layer::Pppoe,
        Layer::Ppp,
        Layer::Llc,
        Layer::FabricPath,
        Layer::VnTag,
        Layer::LinuxSll,
        Layer::LinuxSll2,
        Layer::Loopback,
        Layer::Fddi,
        Layer::Nflog,
        Layer::Pktap,
        Layer::Arcnet,
        Layer::Ip,
        Layer::Ipv4,
        Layer::Ipv6,
        Layer::Ipv6Extension,
        Layer::Gre,
        Layer::Vxlan,
        Layer::Geneve,
        Layer::GtpU,
        Layer::Teredo,
        Layer::Tcp,
        Layer::Udp,
    ];

    /// Returns the protocol's usual name.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Link => "link-layer",
            Layer::Ethernet => "Ethernet",
            Layer::Vlan => "VLAN",
            Layer::Mpls => "MPLS",
            Layer::Pppoe => "PPPoE",
            Layer::Ppp => "PPP",
            Layer::Llc => "LLC",
            Layer::FabricPath => "FabricPath",
            Layer::VnTag => "VN-Tag",
            Layer::LinuxSll => "Linux cooked (SLL)",
            Layer::LinuxSll2 => "Linux cooked (SLL2)",
            Layer::Loopback => "BSD loopback",
            Layer::Fddi => "FDDI",
            Layer::Nflog => "NFLOG",
            Layer::Pktap => "PKTAP",
            Layer::Arcnet => "ARCNET",
            Layer::Ip => "IP",
            Layer::Ipv4 => "IPv4",
            Layer::Ipv6 => "IPv6",
            Layer::Ipv6Extension => "IPv6 extension",
            Layer::Gre => "GRE",
            Layer::Vxlan => "VXLAN",
            Layer::Geneve => "Geneve",
            Layer::GtpU => "GTP-U",
            Layer::Teredo => "Teredo",
            Layer::Tcp => "TCP",
            Layer::Udp => "UDP",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A frame that could not be decoded: the layer, where its header starts and what
/// was wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{layer} header at byte {offset} of {} at input offset {frame_offset}: {kind}; the frame was skipped",
    if *.reassembled { "a reassembled IP datagram completed by the frame" } else { "the frame" }
)]
pub struct DecodeError {
    pub layer: Layer,
    /// Byte offset of the layer's header within the frame, or within the
    /// reassembled datagram when `reassembled` is set.
    pub offset: usize,
    /// The offset is within a reassembled IP datagram, not the frame.
    pub reassembled: bool,
    /// Byte offset of the frame's record in its input ([`Frame::offset`](crate::capture::Frame)).
    pub frame_offset: u64,
    pub kind: DecodeErrorKind,
}

/// The fault found in a header.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    /// The frame ends inside the header although the capture did not cut it.
    #[error("truncated: the header needs {needed} bytes but {available} are left")]
    Truncated { needed: usize, available: usize },
    #[error("invalid IP version {0}")]
    InvalidVersion(u8),
    #[error("invalid header length {length} bytes (minimum {min})")]
    InvalidHeaderLength { length: usize, min: usize },
    /// A length field shorter than the header it belongs to.
    #[error("invalid length {length} bytes, shorter than the {header}-byte header")]
    LengthBelowHeader { length: usize, header: usize },
    /// A length field larger than what the enclosing layer carries.
    #[error("invalid length {length} bytes, but the enclosing layer carries {available}")]
    LengthExceedsEnclosing { length: usize, available: usize },
    #[error("more than {0} IPv6 extension headers")]
    TooManyExtensionHeaders(usize),
    /// A field whose value makes the rest unreadable.
    #[error("invalid {field} {value:#x}")]
    InvalidField { field: &'static str, value: u32 },
    #[error("{0} is not supported")]
    UnsupportedLinkType(LinkType),
}

/// Counters of a [`Decoder`], for the run summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Frames passed to [`Decoder::decode`].
    pub frames: u64,
    /// TCP/UDP packets returned (as [`Decoded::Packet`] or [`Decoded::Datagram`]).
    pub packets: u64,
    /// Skipped frames (and reassembled datagrams) by [`SkipReason`], indexed as
    /// [`SkipReason::ALL`].
    pub skipped: [u64; SkipReason::COUNT],
    /// Decode errors by the [`Layer`] that failed, indexed as [`Layer::ALL`].
    pub errors: [u64; Layer::COUNT],
    /// Packets returned whose payload was cut, by the snapshot length or by an IP
    /// length beyond the bytes the link layer carried.
    pub truncated: u64,
    /// Packets whose UDP length exceeded the IP payload; the IP payload length
    /// was used instead.
    pub bad_lengths: u64,
    pub bad_checksums: ChecksumStats,
    pub fragments: FragmentStats,
    pub tunnels: TunnelStats,
}

impl DecodeStats {
    /// Returns the number of frames skipped for `reason`.
    pub fn skipped(&self, reason: SkipReason) -> u64 {
        self.skipped[reason.index()]
    }

    /// Returns the number of decode errors in `layer`.
    pub fn errors(&self, layer: Layer) -> u64 {
        self.errors[layer.index()]
    }

    pub fn total_skipped(&self) -> u64 {
        self.skipped.iter().sum()
    }

    pub fn total_errors(&self) -> u64 {
        self.errors.iter().sum()
    }
}

/// Checksums that did not verify, by kind. A packet with a bad checksum is still
/// used: captures taken on the sending host carry checksums the NIC fills in later.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChecksumStats {
    pub ipv4_header: u64,
    pub tcp: u64,
    pub udp: u64,
}

/// IP fragment reassembly counters. "Fragments" count frames, "datagrams" count
/// the datagrams being reassembled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FragmentStats {
    /// Fragments stored for reassembly, the one that completes a datagram
    /// included.
    pub held: u64,
    /// Datagrams completed.
    pub reassembled: u64,
    /// Datagrams dropped because they were not complete within
    /// [`DecoderConfig::fragment_timeout`].
    pub timed_out: u64,
    /// Datagrams dropped because two of their fragments overlapped.
    pub overlapping: u64,
    /// Fragments ignored because an identical fragment (same offset and length)
    /// was already stored.
    pub duplicates: u64,
    /// Datagrams dropped because they would exceed 65535 bytes.
    pub too_large: u64,
    /// Datagrams dropped because they had more than
    /// [`DecoderConfig::max_fragments_per_datagram`] fragments.
    pub too_many_fragments: u64,
    /// Fragments dropped because they disagreed with the datagram length already
    /// known, or because a fragment other than the last was not a multiple of 8
    /// bytes (RFC 8200 section 4.5).
    pub invalid: u64,
    /// Fragments dropped because the snapshot length cut them.
    pub truncated: u64,
    /// Oldest datagrams dropped to stay within [`DecoderConfig::max_fragment_memory`].
    pub memory_cap: u64,
    /// Oldest datagrams dropped to stay within [`DecoderConfig::max_pending_datagrams`].
    pub pending_cap: u64,
}

/// Tunnels decapsulated, by kind (one count per tunnel header removed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TunnelStats {
    /// IPv4 or IPv6 directly in IPv4 or IPv6 (IP protocols 4 and 41).
    pub ip_in_ip: u64,
    pub gre: u64,
    pub vxlan: u64,
    pub geneve: u64,
    pub gtp_u: u64,
    pub teredo: u64,
}

/// Decoder settings. [`Default`] gives the documented defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecoderConfig {
    /// Decapsulate tunnels down to the innermost IP packet. Default: on. Off, an
    /// IP-in-IP or GRE packet is skipped and a UDP tunnel is an ordinary UDP flow.
    pub decapsulate_tunnels: bool,
    /// Maximum number of tunnel headers removed from one frame. Default: 4.
    pub max_tunnel_depth: u8,
    /// Verify IPv4 header, TCP and UDP checksums. Default: on.
    pub verify_checksums: bool,
    /// Maximum capture time a fragmented datagram waits for its missing
    /// fragments, counted from its first fragment. Default: 30 s.
    pub fragment_timeout: Duration,
    /// Bytes held in reassembly buffers, all pending datagrams together. A
    /// buffer is as long as the highest fragment end seen. Default: 4 MiB.
    pub max_fragment_memory: usize,
    /// Fragments one datagram may have. Default: 128, enough for a 65535-byte
    /// datagram in 576-byte IPv4 fragments.
    pub max_fragments_per_datagram: usize,
    /// Datagrams being reassembled at once. Default: 1024.
    pub max_pending_datagrams: usize,
}

impl Default for DecoderConfig {
    fn default() -> DecoderConfig {
        DecoderConfig {
            decapsulate_tunnels: true,
            max_tunnel_depth: 4,
            verify_checksums: true,
            fragment_timeout: Duration::from_secs(30),
            max_fragment_memory: 4 * 1024 * 1024,
            max_fragments_per_datagram: 128,
            max_pending_datagrams: 1024,
        }
    }
}
