//! The decoder: walks one frame from the link layer through IP, tunnels and
//! fragments to TCP or UDP, and keeps the counters.
//!
//! The walk works on offsets into one buffer (the frame, or a reassembled
//! datagram) and allocates nothing unless a fragment is stored.

use etherparse::{TcpHeaderSlice, UdpHeaderSlice};

use super::fragment::{Fragment, FragmentKey, Insert, Reassembler};
use super::ip::{self, IpInfo};
use super::link::{self, Network, NetworkStart};
use super::tunnel::{self, Inner, TunnelPayload};
use super::{
    DecodeError, DecodeErrorKind, DecodeStats, Decoded, DecoderConfig, Layer, Packet, SkipReason,
    TcpFlags, TcpInfo, Transport, VlanIds,
};
use crate::capture::{Frame, Timestamp};

/// The bytes of the buffer a layer may read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Region {
    /// Index one past the last captured byte of the layer.
    pub end: usize,
    /// Index one past the layer's last byte according to the enclosing headers;
    /// beyond `end` when the snapshot length cut the packet.
    pub claimed_end: usize,
}

impl Region {
    fn of_frame(frame: &Frame<'_>) -> Region {
        let end = frame.data.len();
        Region {
            end,
            claimed_end: end.max(frame.orig_len as usize),
        }
    }

    /// Returns the region of an inner layer that ends at `claimed_end`.
    pub(super) fn narrowed(self, claimed_end: usize) -> Region {
        Region {
            end: self.end.min(claimed_end),
            claimed_end,
        }
    }

    /// Returns the region relative to a buffer that starts `by` bytes later.
    pub(super) fn shifted(self, by: usize) -> Region {
        Region {
            end: self.end.saturating_sub(by),
            claimed_end: self.claimed_end.saturating_sub(by),
        }
    }
}

/// The reason the walk of a frame stopped short of a packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Stop {
    Skip(SkipReason),
    Error {
        layer: Layer,
        offset: usize,
        kind: DecodeErrorKind,
    },
}

impl Stop {
    pub(super) fn error(layer: Layer, offset: usize, kind: DecodeErrorKind) -> Stop {
        Stop::Error {
            layer,
            offset,
            kind,
        }
    }

    /// Returns the stop for a header at `offset` that needs `needed` bytes but
    /// runs past the captured bytes. It is a snapshot-length cut when the
    /// enclosing layer claims those bytes, and a malformed frame otherwise.
    pub(super) fn truncated(layer: Layer, offset: usize, needed: usize, region: Region) -> Stop {
        let cut_by_snaplen = offset.saturating_add(needed) <= region.claimed_end;
        if cut_by_snaplen {
            Stop::Skip(SkipReason::TruncatedHeader)
        } else {
            Stop::error(
                layer,
                offset,
                DecodeErrorKind::Truncated {
                    needed,
                    available: region.end.saturating_sub(offset),
                },
            )
        }
    }
}

/// Returns `data[offset..offset + len]` when the region captured it.
pub(super) fn take_header(
    data: &[u8],
    offset: usize,
    len: usize,
    region: Region,
    layer: Layer,
) -> Result<&[u8], Stop> {
    let end = offset.saturating_add(len);
    match data.get(offset..end) {
        Some(header) if end <= region.end => Ok(header),
        _ => Err(Stop::truncated(layer, offset, len, region)),
    }
}

/// The fields of the 20-byte fixed TCP header the flow engine uses.
struct FixedTcpHeader {
    source_port: u16,
    destination_port: u16,
    info: TcpInfo,
}

impl FixedTcpHeader {
    fn from_slice(tcp: &TcpHeaderSlice<'_>) -> FixedTcpHeader {
        FixedTcpHeader {
            source_port: tcp.source_port(),
            destination_port: tcp.destination_port(),
            info: TcpInfo {
                seq: tcp.sequence_number(),
                ack: tcp.acknowledgment_number(),
                flags: TcpFlags(tcp.slice()[13]),
                window: tcp.window_size(),
            },
        }
    }

    /// Reads the fixed header alone, for a segment whose options were not
    /// captured.
    fn from_fixed(fixed: &[u8]) -> FixedTcpHeader {
        let u16_at = |at: usize| u16::from_be_bytes([fixed[at], fixed[at + 1]]);
        let u32_at = |at: usize| {
            u32::from_be_bytes([fixed[at], fixed[at + 1], fixed[at + 2], fixed[at + 3]])
        };
        FixedTcpHeader {
            source_port: u16_at(0),
            destination_port: u16_at(2),
            info: TcpInfo {
                seq: u32_at(4),
                ack: u32_at(8),
                flags: TcpFlags(fixed[13]),
                window: u16_at(14),
            },
        }
    }
}

/// State carried along the walk of one frame.
#[derive(Clone, Copy, Debug, Default)]
struct Walk {
    ts: Timestamp,
    vlan: VlanIds,
    bad_checksum: bool,
    /// Tunnel headers removed so far.
    depth: u8,
    /// The walk is inside a reassembled datagram rather than the frame.
    reassembled: bool,
}

/// A decoded packet without its buffer: `payload` is a range of the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PacketMeta {
    vlan: VlanIds,
    ip_version: u8,
    src: std::net::IpAddr,
    dst: std::net::IpAddr,
    ip_len: u32,
    ip_id: u16,
    ttl: u8,
    transport: Transport,
    src_port: u16,
    dst_port: u16,
    tcp: TcpInfo,
    payload_start: usize,
    payload_end: usize,
    payload_len: u32,
    bad_checksum: bool,
    transport_checksum_failed: bool,
    transport_checksum: u16,
}

impl PacketMeta {
    fn packet<'a>(&self, buffer: &'a [u8], at: FrameTime, offset: u64) -> Packet<'a> {
        Packet {
            ts: at.ts,
            input_clock: at.input_clock,
            vlan: self.vlan,
            ip_version: self.ip_version,
            src: self.src,
            dst: self.dst,
            ip_len: self.ip_len,
            ip_id: self.ip_id,
            ttl: self.ttl,
            transport: self.transport,
            src_port: self.src_port,
            dst_port: self.dst_port,
            tcp: self.tcp,
            payload: buffer
                .get(self.payload_start..self.payload_end)
                .unwrap_or(&[]),
            payload_len: self.payload_len,
            bad_checksum: self.bad_checksum,
            transport_checksum_failed: self.transport_checksum_failed,
            transport_checksum: self.transport_checksum,
            offset,
        }
    }

    /// Returns true when the snapshot length cut the payload or, for TCP, the
    /// options (then the payload starts past the captured bytes).
    fn is_truncated(&self) -> bool {
        self.payload_start > self.payload_end
            || ((self.payload_end - self.payload_start) as u64) < u64::from(self.payload_len)
    }
}

/// A fragmented IP datagram put back together. It owns its bytes, so it
/// outlives the frame that completed it.
#[derive(Clone, Debug)]
pub struct ReassembledDatagram {
    bytes: Vec<u8>,
    meta: PacketMeta,
    at: FrameTime,
    offset: u64,
}

/// The capture time of a frame and the input clock after it.
#[derive(Clone, Copy, Debug, Default)]
struct FrameTime {
    ts: Timestamp,
    input_clock: Timestamp,
}

impl ReassembledDatagram {
    /// Returns the innermost TCP/UDP packet of the datagram, with the capture
    /// time and input offset of the frame that completed it.
    pub fn packet(&self) -> Packet<'_> {
        self.meta.packet(&self.bytes, self.at, self.offset)
    }

    /// Returns the reassembled IP datagram, from its IP header on.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// The result of a frame's walk that produced something.
enum Found {
    Packet(PacketMeta),
    Held,
    Datagram(ReassembledDatagram),
}

/// Decodes frames into packets; keeps fragments for reassembly and counters.
///
/// One decoder serves one sequence of frames (one input, or one shard of it):
/// fragments of a datagram must reach the same decoder.
pub struct Decoder {
    config: DecoderConfig,
    stats: DecodeStats,
    fragments: Reassembler,
    input_clock: Timestamp,
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder::new(DecoderConfig::default())
    }
}

impl Decoder {
    pub fn new(config: DecoderConfig) -> Decoder {
        Decoder {
            config,
            stats: DecodeStats::default(),
            fragments: Reassembler::default(),
            input_clock: Timestamp(i64::MIN),
        }
    }

    pub fn config(&self) -> &DecoderConfig {
        &self.config
    }

    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }

    /// Bytes held for fragment reassembly.
    pub fn fragment_memory(&self) -> usize {
        self.fragments.memory()
    }

    /// Datagrams waiting for fragments.
    pub fn pending_datagrams(&self) -> usize {
        self.fragments.pending()
    }

    /// Returns the latest capture time among the frames decoded so far, or
    /// the start of time before the first. Every packet decoded later carries
    /// an [`input_clock`](Packet::input_clock) at or above it, whatever the
    /// capture times of the frames still to come.
    pub fn input_clock(&self) -> Timestamp {
        self.input_clock
    }

    /// Drops fragmented datagrams still incomplete [`DecoderConfig::fragment_timeout`]
    /// after their first fragment, by capture time. [`Decoder::decode`] calls it
    /// with each frame's time; call it at the end of the input too.
    pub fn expire(&mut self, now: Timestamp) {
        self.fragments
            .expire(now, &self.config, &mut self.stats.fragments);
    }

    /// Decodes one frame.
    pub fn decode<'a>(&mut self, frame: &Frame<'a>) -> Decoded<'a> {
        self.stats.frames += 1;
        self.input_clock = self.input_clock.max(frame.ts);
        self.expire(frame.ts);
        let at = FrameTime {
            ts: frame.ts,
            input_clock: self.input_clock,
        };

        let region = Region::of_frame(frame);
        let mut walk = Walk {
            ts: frame.ts,
            ..Walk::default()
        };
        let found = link::locate_network(frame.link, frame.data, region, &mut walk.vlan)
            .and_then(|start| self.decode_network(frame.data, start, region, &mut walk));

        match found {
            Ok(Found::Packet(meta)) => {
                self.count_packet(&meta);
                Decoded::Packet(meta.packet(frame.data, at, frame.offset))
            }
            Ok(Found::Datagram(mut datagram)) => {
                self.count_packet(&datagram.meta);
                datagram.at = at;
                datagram.offset = frame.offset;
                Decoded::Datagram(datagram)
            }
            Ok(Found::Held) => Decoded::Held,
            Err(Stop::Skip(reason)) => {
                self.stats.skipped[reason.index()] += 1;
                Decoded::Skipped(reason)
            }
            Err(Stop::Error {
                layer,
                offset,
                kind,
            }) => {
                self.stats.errors[layer.index()] += 1;
                let error = DecodeError {
                    layer,
                    offset,
                    reassembled: walk.reassembled,
                    frame_offset: frame.offset,
                    kind,
                };
                log::trace!("decode: {error}");
                Decoded::Error(error)
            }
        }
    }

    fn count_packet(&mut self, meta: &PacketMeta) {
        self.stats.packets += 1;
        if meta.is_truncated() {
            self.stats.truncated += 1;
        }
    }

    fn decode_network(
        &mut self,
        data: &[u8],
        start: NetworkStart,
        region: Region,
        walk: &mut Walk,
    ) -> Result<Found, Stop> {
        let offset = start.offset;
        let ip = match start.kind {
            Network::Ipv4 => self.parse_ipv4(data, offset, region, walk)?,
            Network::Ipv6 => ip::parse_ipv6(data, offset, region)?,
            Network::Ip => match take_header(data, offset, 1, region, Layer::Ip)?[0] >> 4 {
                4 => self.parse_ipv4(data, offset, region, walk)?,
                6 => ip::parse_ipv6(data, offset, region)?,
                version => {
                    return Err(Stop::error(
                        Layer::Ip,
                        offset,
                        DecodeErrorKind::InvalidVersion(version),
                    ));
                }
            },
        };
        self.decode_ip_payload(data, &ip, walk)
    }

    fn parse_ipv4(
        &mut self,
        data: &[u8],
        offset: usize,
        region: Region,
        walk: &mut Walk,
    ) -> Result<IpInfo, Stop> {
        let ip = ip::parse_ipv4(data, offset, region, self.config.verify_checksums)?;
        if ip.bad_header_checksum {
            self.stats.bad_checksums.ipv4_header += 1;
            walk.bad_checksum = true;
        }
        Ok(ip)
    }

    fn decode_ip_payload(
        &mut self,
        data: &[u8],
        ip: &IpInfo,
        walk: &mut Walk,
    ) -> Result<Found, Stop> {
        if ip.fragment.is_some() {
            return self.decode_fragment(data, ip, walk);
        }
        match ip.protocol {
            ip::PROTOCOL_TCP => self.decode_tcp(data, ip, walk),
            ip::PROTOCOL_UDP => self.decode_udp(data, ip, walk),
            ip::PROTOCOL_IPV4 | ip::PROTOCOL_IPV6 => {
                self.enter_tunnel(walk)?;
                self.stats.tunnels.ip_in_ip += 1;
                let kind = if ip.protocol == ip::PROTOCOL_IPV4 {
                    Network::Ipv4
                } else {
                    Network::Ipv6
                };
                let inner = NetworkStart {
                    kind,
                    offset: ip.payload_offset,
                };
                self.decode_network(data, inner, ip.payload_region, walk)
            }
            ip::PROTOCOL_GRE => {
                self.enter_tunnel(walk)?;
                let tunnel = tunnel::parse_gre(data, ip.payload_offset, ip.payload_region)?;
                self.stats.tunnels.gre += 1;
                self.decode_tunnel_payload(data, tunnel, walk)
            }
            ip::PROTOCOL_ICMP => Err(Stop::Skip(SkipReason::Icmp)),
            ip::PROTOCOL_ICMPV6 => Err(Stop::Skip(SkipReason::Icmpv6)),
            ip::PROTOCOL_ESP => Err(Stop::Skip(SkipReason::Esp)),
            ip::PROTOCOL_NO_NEXT_HEADER => Err(Stop::Skip(SkipReason::NoNextHeader)),
            _ => Err(Stop::Skip(SkipReason::OtherIpProtocol)),
        }
    }

    /// Counts one more tunnel level, or stops when tunnels are off or too deep.
    fn enter_tunnel(&self, walk: &mut Walk) -> Result<(), Stop> {
        if !self.config.decapsulate_tunnels {
            return Err(Stop::Skip(SkipReason::TunnelNotDecapsulated));
        }
        if walk.depth >= self.config.max_tunnel_depth {
            return Err(Stop::Skip(SkipReason::TunnelTooDeep));
        }
        walk.depth += 1;
        Ok(())
    }

    fn decode_tunnel_payload(
        &mut self,
        data: &[u8],
        tunnel: TunnelPayload,
        walk: &mut Walk,
    ) -> Result<Found, Stop> {
        let start = match tunnel.inner {
            Inner::Ethernet => {
                link::walk_ethernet(data, tunnel.offset, tunnel.region, &mut walk.vlan)?
            }
            Inner::Ethertype(ethertype) => link::walk_ethertype(
                ethertype,
                data,
                tunnel.offset,
                tunnel.region,
                &mut walk.vlan,
            )?,
            Inner::Ppp => link::walk_ppp(data, tunnel.offset, tunnel.region, &mut walk.vlan)?,
            Inner::Ip => NetworkStart {
                kind: Network::Ip,
                offset: tunnel.offset,
            },
        };
        self.decode_network(data, start, tunnel.region, walk)
    }

    fn decode_fragment(
        &mut self,
        data: &[u8],
        ip: &IpInfo,
        walk: &mut Walk,
    ) -> Result<Found, Stop> {
        let Some(fragment) = ip.fragment else {
            return Err(Stop::Skip(SkipReason::FragmentDropped));
        };
        // Reassembly needs every byte of every fragment. A cut first fragment
        // still has the ports, so it becomes a truncated packet, the way a cut
        // unfragmented packet does. Later fragments of its datagram time out.
        let region = ip.payload_region;
        if region.end < region.claimed_end {
            self.stats.fragments.truncated += 1;
            if fragment.offset != 0 {
                return Err(Stop::Skip(SkipReason::FragmentDropped));
            }
            let partial = IpInfo {
                fragment: None,
                partial_datagram: true,
                ..*ip
            };
            return self.decode_ip_payload(data, &partial, walk);
        }

        let piece = Fragment {
            key: FragmentKey::new(ip.src, ip.dst, ip.protocol, fragment.id),
            offset: fragment.offset,
            more: fragment.more,
            header: &data[ip.start..fragment.header_end],
            ipv6_next_header: (ip.version == 6)
                .then_some((fragment.next_header_field - ip.start, ip.protocol)),
            data: &data[ip.payload_offset..region.end],
            bad_checksum: ip.bad_header_checksum,
        };
        let inserted =
            self.fragments
                .insert(piece, walk.ts, &self.config, &mut self.stats.fragments);
        let (bytes, bad_checksum) = match inserted {
            Insert::Held => return Ok(Found::Held),
            Insert::Dropped => return Err(Stop::Skip(SkipReason::FragmentDropped)),
            Insert::Complete {
                datagram,
                bad_checksum,
            } => (datagram, bad_checksum),
        };

        // Walk the datagram as if it had arrived whole.
        walk.bad_checksum |= bad_checksum;
        walk.reassembled = true;
        let region = Region {
            end: bytes.len(),
            claimed_end: bytes.len(),
        };
        let kind = if ip.version == 4 {
            Network::Ipv4
        } else {
            Network::Ipv6
        };
        let start = NetworkStart { kind, offset: 0 };
        match self.decode_network(&bytes, start, region, walk)? {
            Found::Packet(meta) => Ok(Found::Datagram(ReassembledDatagram {
                bytes,
                meta,
                at: FrameTime {
                    ts: walk.ts,
                    input_clock: walk.ts,
                },
                offset: 0,
            })),
            // A tunnel inside the datagram carried another fragment.
            nested => Ok(nested),
        }
    }

    fn decode_tcp(&mut self, data: &[u8], ip: &IpInfo, walk: &mut Walk) -> Result<Found, Stop> {
        const TCP_MIN_HEADER_LEN: usize = 20;

        let offset = ip.payload_offset;
        let region = ip.payload_region;
        let segment_len = region.claimed_end - offset;
        if segment_len < TCP_MIN_HEADER_LEN {
            return Err(Stop::error(
                Layer::Tcp,
                offset,
                DecodeErrorKind::LengthBelowHeader {
                    length: segment_len,
                    header: TCP_MIN_HEADER_LEN,
                },
            ));
        }
        let fixed = take_header(data, offset, TCP_MIN_HEADER_LEN, region, Layer::Tcp)?;
        let header_len = usize::from(fixed[12] >> 4) * 4;
        if header_len < TCP_MIN_HEADER_LEN {
            return Err(Stop::error(
                Layer::Tcp,
                offset,
                DecodeErrorKind::InvalidHeaderLength {
                    length: header_len,
                    min: TCP_MIN_HEADER_LEN,
                },
            ));
        }
        if header_len > segment_len {
            return Err(Stop::error(
                Layer::Tcp,
                offset,
                DecodeErrorKind::LengthBelowHeader {
                    length: segment_len,
                    header: header_len,
                },
            ));
        }
        let (tcp, payload_start) = match take_header(data, offset, header_len, region, Layer::Tcp) {
            Ok(header) => {
                let Ok(tcp) = TcpHeaderSlice::from_slice(header) else {
                    // The checks above are the ones from_slice makes.
                    return Err(Stop::Skip(SkipReason::TruncatedHeader));
                };
                (FixedTcpHeader::from_slice(&tcp), offset + header_len)
            }
            // The snapshot length cut the options (a 68-byte snaplen does this to
            // a SYN with options): the fixed header still gives the ports,
            // sequence numbers and flags the flow engine needs.
            Err(Stop::Skip(SkipReason::TruncatedHeader)) => {
                (FixedTcpHeader::from_fixed(fixed), offset + header_len)
            }
            Err(stop) => return Err(stop),
        };

        let whole_segment = region.end == region.claimed_end && !ip.length_from_capture;
        let checksum_field = u16::from_be_bytes([fixed[16], fixed[17]]);
        let mut bad_checksum = walk.bad_checksum;
        let mut transport_checksum_failed = false;
        if self.config.verify_checksums && whole_segment {
            let pseudo = ip.pseudo_header_sum(ip::PROTOCOL_TCP, segment_len as u32);
            if !super::checksum::transport_ok(pseudo, &data[offset..region.end]) {
                self.stats.bad_checksums.tcp += 1;
                bad_checksum = true;
                transport_checksum_failed = !super::checksum::is_partial(pseudo, checksum_field);
            }
        }

        Ok(Found::Packet(PacketMeta {
            vlan: walk.vlan,
            ip_version: ip.version,
            src: ip.src,
            dst: ip.dst,
            ip_len: ip.ip_len,
            ip_id: ip.ip_id,
            ttl: ip.ttl,
            transport: Transport::Tcp,
            src_port: tcp.source_port,
            dst_port: tcp.destination_port,
            tcp: tcp.info,
            payload_start,
            payload_end: region.end,
            payload_len: (segment_len - header_len) as u32,
            bad_checksum,
            transport_checksum_failed,
            transport_checksum: checksum_field,
        }))
    }

    fn decode_udp(&mut self, data: &[u8], ip: &IpInfo, walk: &mut Walk) -> Result<Found, Stop> {
        const UDP_HEADER_LEN: usize = 8;

        let offset = ip.payload_offset;
        let segment_len = ip.payload_region.claimed_end - offset;
        if segment_len < UDP_HEADER_LEN {
            return Err(Stop::error(
                Layer::Udp,
                offset,
                DecodeErrorKind::LengthBelowHeader {
                    length: segment_len,
                    header: UDP_HEADER_LEN,
                },
            ));
        }
        let header = take_header(data, offset, UDP_HEADER_LEN, ip.payload_region, Layer::Udp)?;
        let Ok(udp) = UdpHeaderSlice::from_slice(header) else {
            return Err(Stop::Skip(SkipReason::TruncatedHeader));
        };

        // RFC 768: the length covers header and data. RFC 2675 section 4: it is
        // 0 in a jumbogram, and the IP length is used instead. Offloaded
        // segments also carry 0.
        let mut udp_len = usize::from(udp.length());
        if udp_len == 0 && (ip.length_from_capture || segment_len > usize::from(u16::MAX)) {
            udp_len = segment_len;
        }
        if udp_len < UDP_HEADER_LEN {
            return Err(Stop::error(
                Layer::Udp,
                offset,
                DecodeErrorKind::LengthBelowHeader {
                    length: udp_len,
                    header: UDP_HEADER_LEN,
                },
            ));
        }
        // A UDP length beyond the IP payload is wrong in one of the two headers.
        // The IP length is the one the wire carried, so it wins. In a lone first
        // fragment the UDP length is the datagram's, and correct.
        if udp_len > segment_len && !ip.partial_datagram {
            self.stats.bad_lengths += 1;
            udp_len = segment_len;
        }
        let region = ip.payload_region.narrowed(offset + udp_len);

        let whole_datagram = region.end == region.claimed_end && !ip.length_from_capture;
        let mut transport_checksum_failed = false;
        if self.config.verify_checksums && whole_datagram {
            let bad = match udp.checksum() {
                // No checksum: allowed over IPv4 (RFC 768); RFC 8200 section 8.1
                // forbids it over IPv6 except for tunnels (RFC 6935).
                0 => ip.version == 6,
                field => {
                    let pseudo = ip.pseudo_header_sum(ip::PROTOCOL_UDP, udp_len as u32);
                    let ok = super::checksum::transport_ok(pseudo, &data[offset..region.end]);
                    transport_checksum_failed = !ok && !super::checksum::is_partial(pseudo, field);
                    !ok
                }
            };
            if bad {
                self.stats.bad_checksums.udp += 1;
                walk.bad_checksum = true;
            }
        }

        let src_port = udp.source_port();
        let dst_port = udp.destination_port();
        let tunnel = if self.config.decapsulate_tunnels {
            udp_tunnel(data, offset + UDP_HEADER_LEN, region, src_port, dst_port)
        } else {
            None
        };
        if let Some((tunnel, kind)) = tunnel {
            self.enter_tunnel(walk)?;
            let counter = match kind {
                Layer::Vxlan => &mut self.stats.tunnels.vxlan,
                Layer::Geneve => &mut self.stats.tunnels.geneve,
                Layer::GtpU => &mut self.stats.tunnels.gtp_u,
                _ => &mut self.stats.tunnels.teredo,
            };
            *counter += 1;
            return self.decode_tunnel_payload(data, tunnel, walk);
        }

        Ok(Found::Packet(PacketMeta {
            vlan: walk.vlan,
            ip_version: ip.version,
            src: ip.src,
            dst: ip.dst,
            ip_len: ip.ip_len,
            ip_id: ip.ip_id,
            ttl: ip.ttl,
            transport: Transport::Udp,
            src_port,
            dst_port,
            tcp: TcpInfo::default(),
            payload_start: offset + UDP_HEADER_LEN,
            payload_end: region.end,
            // A lone first fragment carries only its share of the datagram that
            // its UDP length counts; the rest never arrived.
            payload_len: (udp_len.min(segment_len) - UDP_HEADER_LEN) as u32,
            bad_checksum: walk.bad_checksum,
            transport_checksum_failed,
            transport_checksum: udp.checksum(),
        }))
    }
}

/// Returns the tunnel a UDP payload carries, chosen by port, with the layer
/// that names its kind.
fn udp_tunnel(
    data: &[u8],
    offset: usize,
    region: Region,
    src_port: u16,
    dst_port: u16,
) -> Option<(TunnelPayload, Layer)> {
    let either = |port| src_port == port || dst_port == port;
    if dst_port == tunnel::VXLAN_PORT {
        tunnel::parse_vxlan(data, offset, region).map(|t| (t, Layer::Vxlan))
    } else if dst_port == tunnel::GENEVE_PORT {
        tunnel::parse_geneve(data, offset, region).map(|t| (t, Layer::Geneve))
    } else if either(tunnel::GTP_U_PORT) {
        tunnel::parse_gtp_u(data, offset, region).map(|t| (t, Layer::GtpU))
    } else if either(tunnel::TEREDO_PORT) {
        tunnel::parse_teredo(data, offset, region).map(|t| (t, Layer::Teredo))
    } else {
        None
    }
}
