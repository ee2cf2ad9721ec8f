//! Link-layer headers: from a frame's link type to the first IP header.
//!
//! Ethernet is walked through any number of VLAN tags (802.1Q, 802.1ad, 0x9100,
//! 0x9200), MPLS label stacks, PPPoE sessions, Cisco FabricPath and VN-Tag
//! headers and LLC/SNAP. The other link types are the ones captures commonly
//! carry: Linux cooked capture v1 and v2, BSD loopback, PPP, raw IP, FDDI, NFLOG,
//! PKTAP and Linux ARCNET.

use nom::IResult;
use nom::Parser;
use nom::bytes::streaming::take;
use nom::number::streaming::{be_u8, be_u16, be_u32, le_u16, le_u32};

use super::decoder::{Region, Stop, take_header};
use super::{DecodeErrorKind, Layer, SkipReason, VlanIds};
use crate::capture::LinkType;

/// Link type values beyond the ones [`LinkType`] names, from the tcpdump.org
/// LINKTYPE_ registry.
pub mod link_types {
    use crate::capture::LinkType;

    pub const FDDI: LinkType = LinkType(10);
    /// DLT_RAW as written by OpenBSD and some BSDs before LINKTYPE_RAW existed.
    pub const RAW_12: LinkType = LinkType(12);
    /// DLT_RAW as written by OpenBSD.
    pub const RAW_14: LinkType = LinkType(14);
    pub const ARCNET_LINUX: LinkType = LinkType(129);
    pub const NFLOG: LinkType = LinkType(239);
    pub const PKTAP: LinkType = LinkType(258);
}

/// Returns whether [`Decoder::decode`](super::Decoder::decode) understands `link`.
pub fn link_supported(link: LinkType) -> bool {
    matches!(
        link,
        LinkType::NULL
            | LinkType::ETHERNET
            | LinkType::PPP
            | LinkType::RAW
            | LinkType::LOOP
            | LinkType::LINUX_SLL
            | LinkType::IPV4
            | LinkType::IPV6
            | LinkType::LINUX_SLL2
            | link_types::FDDI
            | link_types::RAW_12
            | link_types::RAW_14
            | link_types::ARCNET_LINUX
            | link_types::NFLOG
            | link_types::PKTAP
    )
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_ARP: u16 = 0x0806;
const ETHERTYPE_RARP: u16 = 0x8035;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_MPLS_UNICAST: u16 = 0x8847;
const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
const ETHERTYPE_PROVIDER_BRIDGING: u16 = 0x88a8;
const ETHERTYPE_FABRICPATH: u16 = 0x8903;
const ETHERTYPE_VNTAG: u16 = 0x8926;
/// Pre-standard QinQ tags some switches still use.
const ETHERTYPE_QINQ_9100: u16 = 0x9100;
const ETHERTYPE_QINQ_9200: u16 = 0x9200;
/// Values up to 1500 in the type field are an 802.3 length, and LLC follows.
const ETHERNET_MAX_LENGTH_FIELD: u16 = 1500;

const ETHERNET_HEADER_LEN: usize = 14;

/// The network layer found after the link-layer headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Network {
    Ipv4,
    Ipv6,
    /// Bare IP: the version nibble selects IPv4 or IPv6.
    Ip,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct NetworkStart {
    pub kind: Network,
    pub offset: usize,
}

impl NetworkStart {
    fn at(kind: Network, offset: usize) -> Result<NetworkStart, Stop> {
        Ok(NetworkStart { kind, offset })
    }
}

/// Returns the offset of the first IP header in a frame of type `link`, after
/// the link-layer headers, tags and shims that the decoder walks, or `None`
/// when the frame carries no IP or is cut before it.
pub fn network_offset(link: LinkType, data: &[u8]) -> Option<usize> {
    let region = Region {
        end: data.len(),
        claimed_end: data.len(),
    };
    let mut vlan = VlanIds::default();
    locate_network(link, data, region, &mut vlan)
        .ok()
        .map(|start| start.offset)
}

/// Walks the link-layer headers of a frame of type `link` to its IP header,
/// recording VLAN ids in `vlan`.
pub(super) fn locate_network(
    link: LinkType,
    data: &[u8],
    region: Region,
    vlan: &mut VlanIds,
) -> Result<NetworkStart, Stop> {
    match link {
        LinkType::ETHERNET => walk_ethernet(data, 0, region, vlan),
        LinkType::RAW
        | LinkType::IPV4
        | LinkType::IPV6
        | link_types::RAW_12
        | link_types::RAW_14 => {
            // LINKTYPE_IPV4 and LINKTYPE_IPV6 promise one version, but some writers
            // put the other in; the version nibble decides, as Wireshark does.
            NetworkStart::at(Network::Ip, 0)
        }
        LinkType::NULL | LinkType::LOOP => walk_loopback(link, data, region),
        LinkType::LINUX_SLL => walk_linux_sll(data, region, vlan),
        LinkType::LINUX_SLL2 => walk_linux_sll2(data, region, vlan),
        LinkType::PPP => walk_ppp(data, 0, region, vlan),
        link_types::FDDI => walk_fddi(data, region, vlan),
        link_types::NFLOG => walk_nflog(data, region),
        link_types::PKTAP => walk_pktap(data, region, vlan),
        link_types::ARCNET_LINUX => walk_arcnet_linux(data, region),
        _ => Err(Stop::error(
            Layer::Link,
            0,
            DecodeErrorKind::UnsupportedLinkType(link),
        )),
    }
}

/// Walks an Ethernet II (or 802.3) header at `offset` and what follows it.
pub(super) fn walk_ethernet(
    data: &[u8],
    offset: usize,
    region: Region,
    vlan: &mut VlanIds,
) -> Result<NetworkStart, Stop> {
    let header = take_header(data, offset, ETHERNET_HEADER_LEN, region, Layer::Ethernet)?;
    let ethertype = u16::from_be_bytes([header[12], header[13]]);
    walk_ethertype(ethertype, data, offset + ETHERNET_HEADER_LEN, region, vlan)
}

/// Follows `ethertype` and the tags and shims it leads to, starting at `offset`.
pub(super) fn walk_ethertype(
    mut ethertype: u16,
    data: &[u8],
    mut offset: usize,
    region: Region,
    vlan: &mut VlanIds,
) -> Result<NetworkStart, Stop> {
    // Every branch either returns or moves `offset` forward, so the loop ends
    // within the frame.
    loop {
        match ethertype {
            ETHERTYPE_IPV4 => return NetworkStart::at(Network::Ipv4, offset),
            ETHERTYPE_IPV6 => return NetworkStart::at(Network::Ipv6, offset),
            ETHERTYPE_VLAN
            | ETHERTYPE_PROVIDER_BRIDGING
            | ETHERTYPE_QINQ_9100
            | ETHERTYPE_QINQ_9200 => {
                // IEEE 802.1Q section 9.6: TCI (PCP, DEI, 12-bit VID), then the
                // next type.
                let tag = take_header(data, offset, 4, region, Layer::Vlan)?;
                let id = u16::from_be_bytes([tag[0], tag[1]]) & 0x0fff;
                // VID 0 marks a priority-tagged frame that belongs to no VLAN.
                if id != 0 {
                    vlan.push(id);
                }
                ethertype = u16::from_be_bytes([tag[2], tag[3]]);
                offset += 4;
            }
            ETHERTYPE_MPLS_UNICAST | ETHERTYPE_MPLS_MULTICAST => {
                return walk_mpls(data, offset, region, vlan);
            }
            ETHERTYPE_PPPOE_SESSION => return walk_pppoe_session(data, offset, region, vlan),
            ETHERTYPE_FABRICPATH => {
                // Cisco FabricPath: the outer MAC header is followed by a 2-byte
                // FTag/TTL field and then the original Ethernet frame.
                take_header(data, offset, 2, region, Layer::FabricPath)?;
                return walk_ethernet(data, offset + 2, region, vlan);
            }
            ETHERTYPE_VNTAG => {
                // IEEE 802.1Qbh VN-Tag: 4 bytes of tag, then the next type.
                let tag = take_header(data, offset, 6, region, Layer::VnTag)?;
                ethertype = u16::from_be_bytes([tag[4], tag[5]]);
                offset += 6;
            }
            ETHERTYPE_ARP | ETHERTYPE_RARP => return Err(Stop::Skip(SkipReason::Arp)),
            length if length <= ETHERNET_MAX_LENGTH_FIELD => {
                return walk_llc(data, offset, region, vlan);
            }
            _ => return Err(Stop::Skip(SkipReason::NotIp)),
        }
    }
}

/// Walks an IEEE 802.2 LLC header; only SNAP with an ethertype can carry IP here.
fn walk_llc(
    data: &[u8],
    offset: usize,
    region: Region,
    vlan: &mut VlanIds,
) -> Result<NetworkStart, Stop> {
    const SNAP_SAP: u8 = 0xaa;
    const UNNUMBERED_INFORMATION: u8 = 0x03;

    let llc = take_header(data, offset, 3, region, Layer::Llc)?;
    if llc[0] != SNAP_SAP || llc[1] != SNAP_SAP || llc[2] != UNNUMBERED_INFORMATION {
        return Err(Stop::Skip(SkipReason::NotIp));
    }
    // RFC 1042: a 3-byte OUI, 0 for an encapsulated ethertype, then the type.
    let snap = take_header(data, offset, 8, region, Layer::Llc)?;
    if snap[3..6] != [0, 0, 0] {
        return Err(Stop::Skip(SkipReason::NotIp));
    }
    let ethertype = u16::from_be_bytes([snap[6], snap[7]]);
    walk_ethertype(ethertype, data, offset + 8, region, vlan)
}

/// Walks an MPLS label stack (RFC 3032) to its bottom entry and guesses the
/// payload from its first nibble, as MPLS itself does not say what it carries.
fn walk_mpls(
    data: &[u8],
    mut offset: usize,
    region: Region,
    vlan: &mut VlanIds,
) -> Result<NetworkStart, Stop> {
    loop {
        let entry = take_header(data, offset, 4, region, Layer::Mpls)?;
        offset += 4;
        let bottom_of_stack = entry[2] & 0x01 != 0;
        if bottom_of_stack {
            break;
        }
    }
    let first = take_header(data, offset, 1, region, Layer::Mpls)?[0];
    match first >> 4 {
        4 => NetworkStart::at(Network::Ipv4, offset),
        6 => NetworkStart::at(Network::Ipv6, offset),
        // RFC 4385 pseudowire control word (first nibble 0), then an Ethernet
        // frame (RFC 4448).
        0 => {
            take_header(data, offset, 4, region, Layer::Mpls)?;
            walk_ethernet(data, offset + 4, region, vlan)
        }
        _ => Err(Stop::Skip(SkipReason::NotIp)),
    }
}

/// A PPPoE session header (RFC 2516 section 4).
struct PppoeHeader {
    version_type: u8,
    code: u8,
}

fn parse_pppoe_header(i: &[u8]) -> IResult<&[u8], PppoeHeader> {
    let (i, version_type) = be_u8(i)?;
    let (i, code) = be_u8(i)?;
    let (i, _session_id) = be_u16(i)?;
    let (i, _length) = be_u16(i)?;
    Ok((i, PppoeHeader { version_type, code }))
}

fn walk_pppoe_session(
    data: &[u8],
    offset: usize,
    region: Region,
    vlan: &mut VlanIds,
) -> Result<NetworkStart, Stop> {
    let (header, after) = run(parse_pppoe_header, data, offset, region, Layer::Pppoe)?;
    // Version 1, type 1, code 0 for session data.
    if header.version_type != 0x11 || header.code != 0 {
        return Err(Stop::error(
            Layer::Pppoe,
            offset,
            DecodeErrorKind::InvalidField {
                field: "version/type",
                value: u32::from(header.version_type) << 8 | u32::from(header.code),
            },
        ));
    }
    let (protocol, after) = run(parse_ppp_protocol, data, after, region, Layer::Ppp)?;
    follow_ppp_protocol(protocol, data, after, region, vlan)
}

/// Parses a PPP protocol field, which may be compressed to one byte (RFC 1661
/// section 6.5: a protocol whose first byte is odd is a one-byte field).
fn parse_ppp_protocol(i: &[u8]) -> IResult<&[u8], u16> {
    let (_, first) = be_u8(i)?;
    if first & 0x01 != 0 {
        let (i, protocol) = be_u8(i)?;
        Ok((i, u16::from(protocol)))
    } else {
        be_u16(i)
    }
}

fn follow_ppp_protocol(
    protocol: u16,
    data: &[u8],
    offset: usize,
    region: Region,
    vlan: &mut VlanIds,
) -> Result<NetworkStart, Stop> {
    const PPP_IPV4: u16 = 0x0021;
    const PPP_IPV6: u16 = 0x0057;
    const PPP_MPLS_UNICAST: u16 = 0x0281;
    const PPP_MPLS_MULTICAST: u16 = 0x0283;

    match protocol {
        PPP_IPV4 => NetworkStart::at(Network::Ipv4, offset),
        PPP_IPV6 => NetworkStart::at(Network::Ipv6, offset),
        PPP_MPLS_UNICAST | PPP_MPLS_MULTICAST => walk_mpls(data, offset, region, vlan),
        _ => Err(Stop::Skip(SkipReason::NotIp)),
    }
}

/// Walks a PPP frame (LINKTYPE_PPP, or PPP inside PPTP's GRE): an optional HDLC
/// address and control field (0xff 0x03, RFC 1662), then the protocol.
pub(super) fn walk_ppp(
    data: &[u8],
    mut offset: usize,
    region: Region,
    vlan: &mut VlanIds,
) -> Result<NetworkStart, Stop> {
    let start = take_header(data, offset, 2, region, Layer::Ppp)?;
    if start == [0xff, 0x03] {
        offset += 2;
    }
    let (protocol, after) = run(parse_ppp_protocol, data, offset, region, Layer::Ppp)?;
    follow_ppp_protocol(protocol, data, after, region, vlan)
}

/// Walks the 4-byte address family of LINKTYPE_NULL (host byte order) and
/// LINKTYPE_LOOP (network byte order).
fn walk_loopback(link: LinkType, data: &[u8], region: Region) -> Result<NetworkStart, Stop> {
    const AF_INET: u32 = 2;
    // AF_INET6 differs by system: 24 on NetBSD, OpenBSD and BSD/OS, 28 on FreeBSD
    // and DragonFly BSD, 30 on macOS (tcpdump.org LINKTYPE_NULL).
    const AF_INET6_BSD: u32 = 24;
    const AF_INET6_FREEBSD: u32 = 28;
    const AF_INET6_DARWIN: u32 = 30;

    let header = take_header(data, 0, 4, region, Layer::Loopback)?;
    let bytes = [header[0], header[1], header[2], header[3]];
    let mut family = if link == LinkType::LOOP {
        u32::from_be_bytes(bytes)
    } else {
        u32::from_le_bytes(bytes)
    };
    // The writer's byte order is not recorded. Every family value fits in 16
    // bits, so a value with upper bits set was written in the other order.
    if family > 0xffff {
        family = family.swap_bytes();
    }
    match family {
        AF_INET => NetworkStart::at(Network::Ipv4, 4),
        AF_INET6_BSD | AF_INET6_FREEBSD | AF_INET6_DARWIN => NetworkStart::at(Network::Ipv6, 4),
        _ => Err(Stop::Skip(SkipReason::NotIp)),
    }
}

/// The Linux "cooked" capture header, version 1 (16 bytes).
struct LinuxSllHeader {
    hardware_type: u16,
    protocol: u16,
}

fn parse_linux_sll_header(i: &[u8]) -> IResult<&[u8], LinuxSllHeader> {
    let (i, _packet_type) = be_u16(i)?;
    let (i, hardware_type) = be_u16(i)?;
    let (i, _address_len) = be_u16(i)?;
    let (i, _address) = take(8usize)(i)?;
    let (i, protocol) = be_u16(i)?;
    Ok((
        i,
        LinuxSllHeader {
            hardware_type,
            protocol,
        },
    ))
}

/// The Linux "cooked" capture header, version 2 (20 bytes).
fn parse_linux_sll2_header(i: &[u8]) -> IResult<&[u8], LinuxSllHeader> {
    let (i, protocol) = be_u16(i)?;
    let (i, _reserved) = be_u16(i)?;
    let (i, _interface_index) = be_u32(i)?;
    let (i, hardware_type) = be_u16(i)?;
    let (i, _packet_type) = be_u8(i)?;
    let (i, _address_len) = be_u8(i)?;
    let (i, _address) = take(8usize)(i)?;
    Ok((
        i,
        LinuxSllHeader {
            hardware_type,
            protocol,
        },
    ))
}

fn walk_linux_sll(data: &[u8], region: Region, vlan: &mut VlanIds) -> Result<NetworkStart, Stop> {
    let (header, after) = run(parse_linux_sll_header, data, 0, region, Layer::LinuxSll)?;
    follow_sll_protocol(&header, data, after, region, vlan)
}

fn walk_linux_sll2(data: &[u8], region: Region, vlan: &mut VlanIds) -> Result<NetworkStart, Stop> {
    let (header, after) = run(parse_linux_sll2_header, data, 0, region, Layer::LinuxSll2)?;
    follow_sll_protocol(&header, data, after, region, vlan)
}

fn follow_sll_protocol(
    header: &LinuxSllHeader,
    data: &[u8],
    offset: usize,
    region: Region,
    vlan: &mut VlanIds,
) -> Result<NetworkStart, Stop> {
    // Linux ARPHRD_NETLINK: the payload is a netlink message, not a packet.
    const ARPHRD_NETLINK: u16 = 824;
    // Linux ETH_P_802_2: an 802.2 LLC frame follows.
    const ETH_P_802_2: u16 = 0x0004;

    if header.hardware_type == ARPHRD_NETLINK {
        return Err(Stop::Skip(SkipReason::NotIp));
    }
    match header.protocol {
        ETH_P_802_2 => walk_llc(data, offset, region, vlan),
        // Other values below 0x0600 are Linux pseudo-protocols (ETH_P_802_3,
        // ETH_P_CAN, ...), none of them IP.
        protocol if protocol < 0x0600 => Err(Stop::Skip(SkipReason::NotIp)),
        protocol => walk_ethertype(protocol, data, offset, region, vlan),
    }
}

/// Walks an FDDI frame: frame control, two 6-byte addresses, then LLC.
fn walk_fddi(data: &[u8], region: Region, vlan: &mut VlanIds) -> Result<NetworkStart, Stop> {
    const FDDI_HEADER_LEN: usize = 13;

    let header = take_header(data, 0, FDDI_HEADER_LEN, region, Layer::Fddi)?;
    // Frame control 0101 0xxx: an asynchronous LLC frame; the rest are MAC and
    // station management frames.
    if header[0] & 0xf8 != 0x50 {
        return Err(Stop::Skip(SkipReason::NotIp));
    }
    walk_llc(data, FDDI_HEADER_LEN, region, vlan)
}

/// A netlink attribute of an NFLOG record.
struct NflogTlv<'a> {
    kind: u16,
    value: &'a [u8],
}

/// Parses one NFLOG TLV. Length and type are in the capturing host's byte
/// order, which the file does not record. The parser reads little-endian first
/// and falls back to big-endian when the little-endian length cannot be right.
// NOTE: a big-endian capture whose length also reads as a valid little-endian
// length is misread.
fn parse_nflog_tlv(i: &[u8]) -> IResult<&[u8], NflogTlv<'_>> {
    let (_, length_le) = le_u16(i)?;
    let (rest, (length, kind)) = if length_le >= 4 && usize::from(length_le) <= i.len() {
        (le_u16, le_u16).parse(i)?
    } else {
        (be_u16, be_u16).parse(i)?
    };
    if length < 4 {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Verify,
        )));
    }
    let (rest, value) = take(usize::from(length) - 4)(rest)?;
    // Attributes are padded to 4 bytes; the last one may lack its padding.
    let padding = (4 - usize::from(length) % 4) % 4;
    let rest = rest.get(padding..).unwrap_or(&[]);
    // The top two bits are the NLA_F_NESTED and NLA_F_NET_BYTEORDER flags.
    Ok((
        rest,
        NflogTlv {
            kind: kind & 0x3fff,
            value,
        },
    ))
}

/// Walks a Linux NFLOG record: a 4-byte header (address family, version,
/// resource id), then TLVs. The NFULA_PAYLOAD attribute contains the IP packet.
fn walk_nflog(data: &[u8], region: Region) -> Result<NetworkStart, Stop> {
    const NFULA_PAYLOAD: u16 = 9;
    const AF_INET: u8 = 2;
    const AF_INET6: u8 = 10;

    let header = take_header(data, 0, 4, region, Layer::Nflog)?;
    let family = header[0];
    let mut offset = 4;
    while offset < region.end {
        let input = &data[offset..region.end];
        match parse_nflog_tlv(input) {
            Ok((rest, tlv)) => {
                if tlv.kind == NFULA_PAYLOAD && !tlv.value.is_empty() {
                    let value_offset = offset + 4;
                    let kind = match family {
                        AF_INET => Network::Ipv4,
                        AF_INET6 => Network::Ipv6,
                        _ => Network::Ip,
                    };
                    return NetworkStart::at(kind, value_offset);
                }
                offset = region.end - rest.len();
            }
            Err(nom::Err::Incomplete(_)) => {
                return Err(Stop::truncated(Layer::Nflog, offset, 4, region));
            }
            Err(_) => {
                return Err(Stop::error(
                    Layer::Nflog,
                    offset,
                    DecodeErrorKind::InvalidField {
                        field: "TLV length",
                        value: u32::from(input[0]) | u32::from(input[1]) << 8,
                    },
                ));
            }
        }
    }
    // A record without a payload attribute (a log entry with no packet copied).
    Err(Stop::Skip(SkipReason::NotIp))
}

/// Walks Apple's PKTAP header: its length and the link type of the packet that
/// follows, both little-endian, then that packet.
fn walk_pktap(data: &[u8], region: Region, vlan: &mut VlanIds) -> Result<NetworkStart, Stop> {
    const PKTAP_MIN_HEADER_LEN: u32 = 8;

    let (length, _) = run(le_u32, data, 0, region, Layer::Pktap)?;
    let (inner_link, _) = run(le_u32, data, 4, region, Layer::Pktap)?;
    if length < PKTAP_MIN_HEADER_LEN {
        return Err(Stop::error(
            Layer::Pktap,
            0,
            DecodeErrorKind::InvalidHeaderLength {
                length: length as usize,
                min: PKTAP_MIN_HEADER_LEN as usize,
            },
        ));
    }
    let inner_link = LinkType(inner_link);
    // A PKTAP header inside PKTAP would let a frame recurse without limit.
    if inner_link == link_types::PKTAP || !link_supported(inner_link) {
        return Err(Stop::error(
            Layer::Pktap,
            4,
            DecodeErrorKind::UnsupportedLinkType(inner_link),
        ));
    }
    let length = length as usize;
    take_header(data, 0, length, region, Layer::Pktap)?;
    let inner = locate_network(inner_link, &data[length..], region.shifted(length), vlan)?;
    NetworkStart::at(inner.kind, inner.offset + length)
}

/// Walks the Linux ARCNET header: source, destination, a 2-byte offset and the
/// protocol id; RFC 1201 protocol ids add a split flag and a sequence number.
fn walk_arcnet_linux(data: &[u8], region: Region) -> Result<NetworkStart, Stop> {
    // RFC 1051 ("old") protocol ids.
    const ARC_IP_OLD: u8 = 0xf0;
    const ARC_ARP_OLD: u8 = 0xf1;
    // RFC 1201 protocol ids; 0xc4 is IPv6 over ARCNET (RFC 2497).
    const ARC_IP: u8 = 0xd4;
    const ARC_ARP: u8 = 0xd5;
    const ARC_RARP: u8 = 0xd6;
    const ARC_IPV6: u8 = 0xc4;
    // RFC 1201 section 2.3: an exception packet repeats the flag after 4 filler
    // bytes.
    const EXCEPTION_FLAG: u8 = 0xff;

    let header = take_header(data, 0, 5, region, Layer::Arcnet)?;
    let protocol = header[4];
    match protocol {
        ARC_IP_OLD => NetworkStart::at(Network::Ipv4, 5),
        ARC_ARP_OLD | ARC_ARP | ARC_RARP => Err(Stop::Skip(SkipReason::Arp)),
        ARC_IP | ARC_IPV6 => {
            let header = take_header(data, 0, 8, region, Layer::Arcnet)?;
            let mut offset = 8;
            if header[5] == EXCEPTION_FLAG {
                take_header(data, 0, 12, region, Layer::Arcnet)?;
                offset = 12;
            }
            // NOTE: RFC 1201 packets split into ARCNET fragments are not
            // reassembled, so their later fragments fail IP decoding.
            let kind = if protocol == ARC_IP {
                Network::Ipv4
            } else {
                Network::Ipv6
            };
            NetworkStart::at(kind, offset)
        }
        _ => Err(Stop::Skip(SkipReason::NotIp)),
    }
}

/// Runs a nom parser on `data[offset..region.end]` and returns its output with
/// the offset after it. Short input is truncation at `layer`; any other parser
/// error is an invalid header.
pub(super) fn run<'i, T>(
    mut parser: impl FnMut(&'i [u8]) -> IResult<&'i [u8], T>,
    data: &'i [u8],
    offset: usize,
    region: Region,
    layer: Layer,
) -> Result<(T, usize), Stop> {
    let input = data.get(offset..region.end).unwrap_or(&[]);
    match parser(input) {
        Ok((rest, value)) => Ok((value, region.end - rest.len())),
        Err(nom::Err::Incomplete(needed)) => {
            let missing = match needed {
                nom::Needed::Size(size) => size.get(),
                nom::Needed::Unknown => 1,
            };
            Err(Stop::truncated(
                layer,
                offset,
                input.len() + missing,
                region,
            ))
        }
        Err(_) => Err(Stop::error(
            layer,
            offset,
            DecodeErrorKind::InvalidField {
                field: "header",
                value: 0,
            },
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(data: &[u8]) -> Region {
        Region {
            end: data.len(),
            claimed_end: data.len(),
        }
    }

    fn locate(link: LinkType, data: &[u8]) -> (Result<NetworkStart, Stop>, VlanIds) {
        let mut vlan = VlanIds::default();
        let found = locate_network(link, data, whole(data), &mut vlan);
        (found, vlan)
    }

    const MACS: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

    fn ethernet(rest: &[u8]) -> Vec<u8> {
        let mut frame = MACS.to_vec();
        frame.extend_from_slice(rest);
        frame
    }

    #[test]
    fn ethernet_qinq_records_outer_first() {
        let frame = ethernet(&[
            0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x20, 0xc8, 0x08, 0x00, 0x45,
        ]);
        let (found, vlan) = locate(LinkType::ETHERNET, &frame);
        assert_eq!(
            found.unwrap(),
            NetworkStart {
                kind: Network::Ipv4,
                offset: 22
            }
        );
        assert_eq!(vlan.as_slice(), &[100, 200]);
    }

    #[test]
    fn ethernet_three_tags_keep_outer_two() {
        let frame = ethernet(&[
            0x91, 0x00, 0x00, 0x01, 0x81, 0x00, 0x00, 0x02, 0x81, 0x00, 0x00, 0x03, 0x86, 0xdd,
        ]);
        let (found, vlan) = locate(LinkType::ETHERNET, &frame);
        assert_eq!(
            found.unwrap(),
            NetworkStart {
                kind: Network::Ipv6,
                offset: 26
            }
        );
        assert_eq!(vlan.as_slice(), &[1, 2]);
    }

    #[test]
    fn ethernet_priority_tag_is_not_a_vlan() {
        let frame = ethernet(&[0x81, 0x00, 0xa0, 0x00, 0x08, 0x00]);
        let (found, vlan) = locate(LinkType::ETHERNET, &frame);
        assert_eq!(found.unwrap().offset, 18);
        assert!(vlan.is_empty());
    }

    #[test]
    fn ethernet_mpls_stack_to_ipv6() {
        let frame = ethernet(&[
            0x88, 0x47, 0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40, 0x60,
        ]);
        let (found, _) = locate(LinkType::ETHERNET, &frame);
        assert_eq!(
            found.unwrap(),
            NetworkStart {
                kind: Network::Ipv6,
                offset: 22
            }
        );
    }

    #[test]
    fn ethernet_mpls_control_word_then_ethernet() {
        let mut frame = ethernet(&[0x88, 0x47, 0x00, 0x01, 0x01, 0x40, 0x00, 0x00, 0x00, 0x00]);
        frame.extend_from_slice(&MACS);
        frame.extend_from_slice(&[0x08, 0x00]);
        let (found, _) = locate(LinkType::ETHERNET, &frame);
        assert_eq!(
            found.unwrap(),
            NetworkStart {
                kind: Network::Ipv4,
                offset: 36
            }
        );
    }

    #[test]
    fn ethernet_pppoe_session_ipv6() {
        let frame = ethernet(&[0x88, 0x64, 0x11, 0x00, 0x12, 0x34, 0x00, 0x30, 0x00, 0x57]);
        let (found, _) = locate(LinkType::ETHERNET, &frame);
        assert_eq!(
            found.unwrap(),
            NetworkStart {
                kind: Network::Ipv6,
                offset: 22
            }
        );
    }

    #[test]
    fn ethernet_pppoe_lcp_is_not_ip() {
        let frame = ethernet(&[0x88, 0x64, 0x11, 0x00, 0x12, 0x34, 0x00, 0x30, 0xc0, 0x21]);
        let (found, _) = locate(LinkType::ETHERNET, &frame);
        assert_eq!(found.unwrap_err(), Stop::Skip(SkipReason::NotIp));
    }

    #[test]
    fn ethernet_llc_snap_ipv4() {
        let frame = ethernet(&[0x00, 0x40, 0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
        let (found, _) = locate(LinkType::ETHERNET, &frame);
        assert_eq!(
            found.unwrap(),
            NetworkStart {
                kind: Network::Ipv4,
                offset: 22
            }
        );
    }

    #[test]
    fn ethernet_spanning_tree_is_not_ip() {
        let frame = ethernet(&[0x00, 0x26, 0x42, 0x42, 0x03, 0, 0]);
        let (found, _) = locate(LinkType::ETHERNET, &frame);
        assert_eq!(found.unwrap_err(), Stop::Skip(SkipReason::NotIp));
    }

    #[test]
    fn ethernet_short_header_is_error() {
        let (found, _) = locate(LinkType::ETHERNET, &MACS);
        match found.unwrap_err() {
            Stop::Error { layer, offset, .. } => {
                assert_eq!(layer, Layer::Ethernet);
                assert_eq!(offset, 0);
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn ethernet_cut_tag_is_truncation() {
        let frame = ethernet(&[0x81, 0x00, 0x00]);
        let mut vlan = VlanIds::default();
        let region = Region {
            end: frame.len(),
            claimed_end: 60,
        };
        let found = locate_network(LinkType::ETHERNET, &frame, region, &mut vlan);
        assert_eq!(found.unwrap_err(), Stop::Skip(SkipReason::TruncatedHeader));
    }

    #[test]
    fn loopback_families_in_both_orders() {
        let cases: [(LinkType, [u8; 4], Network); 6] = [
            (LinkType::NULL, [2, 0, 0, 0], Network::Ipv4),
            (LinkType::NULL, [0, 0, 0, 2], Network::Ipv4),
            (LinkType::NULL, [24, 0, 0, 0], Network::Ipv6),
            (LinkType::NULL, [0, 0, 0, 28], Network::Ipv6),
            (LinkType::LOOP, [0, 0, 0, 30], Network::Ipv6),
            (LinkType::LOOP, [30, 0, 0, 0], Network::Ipv6),
        ];
        for (link, family, kind) in cases {
            let (found, _) = locate(link, &family);
            assert_eq!(
                found.unwrap(),
                NetworkStart { kind, offset: 4 },
                "{link} {family:?}"
            );
        }
    }

    #[test]
    fn loopback_other_family_is_not_ip() {
        let (found, _) = locate(LinkType::NULL, &[7, 0, 0, 0]);
        assert_eq!(found.unwrap_err(), Stop::Skip(SkipReason::NotIp));
    }

    #[test]
    fn ppp_with_and_without_hdlc_framing() {
        let cases: [(&[u8], Network, usize); 4] = [
            (&[0xff, 0x03, 0x00, 0x21], Network::Ipv4, 4),
            (&[0x00, 0x57], Network::Ipv6, 2),
            (&[0x21, 0x45], Network::Ipv4, 1),
            (&[0xff, 0x03, 0x57, 0x60], Network::Ipv6, 3),
        ];
        for (frame, kind, offset) in cases {
            let (found, _) = locate(LinkType::PPP, frame);
            assert_eq!(found.unwrap(), NetworkStart { kind, offset }, "{frame:?}");
        }
    }

    #[test]
    fn linux_sll2_ipv4() {
        let mut frame = vec![0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6];
        frame.extend_from_slice(&[0; 8]);
        let (found, _) = locate(LinkType::LINUX_SLL2, &frame);
        assert_eq!(
            found.unwrap(),
            NetworkStart {
                kind: Network::Ipv4,
                offset: 20
            }
        );
    }

    #[test]
    fn linux_sll_netlink_is_not_ip() {
        let mut frame = vec![0, 0, 0x03, 0x38, 0, 0];
        frame.extend_from_slice(&[0; 8]);
        frame.extend_from_slice(&[0x08, 0x00]);
        let (found, _) = locate(LinkType::LINUX_SLL, &frame);
        assert_eq!(found.unwrap_err(), Stop::Skip(SkipReason::NotIp));
    }

    #[test]
    fn nflog_finds_payload_after_tlvs() {
        let mut frame = vec![10, 0, 0, 1];
        // NFULA_PACKET_HDR (type 1, 8 bytes), then NFULA_PREFIX (type 10, 5 bytes
        // and 3 of padding), then NFULA_PAYLOAD (type 9).
        frame.extend_from_slice(&[8, 0, 1, 0, 0x86, 0xdd, 3, 0]);
        frame.extend_from_slice(&[5, 0, 10, 0, b'x', 0, 0, 0]);
        frame.extend_from_slice(&[6, 0, 9, 0, 0x60, 0, 0, 0]);
        let (found, _) = locate(link_types::NFLOG, &frame);
        assert_eq!(
            found.unwrap(),
            NetworkStart {
                kind: Network::Ipv6,
                offset: 24
            }
        );
    }

    #[test]
    fn nflog_zero_length_tlv_is_error() {
        let frame = [2, 0, 0, 1, 0, 0, 1, 0];
        let (found, _) = locate(link_types::NFLOG, &frame);
        assert!(matches!(
            found.unwrap_err(),
            Stop::Error {
                layer: Layer::Nflog,
                offset: 4,
                ..
            }
        ));
    }

    #[test]
    fn pktap_nested_pktap_is_rejected() {
        let frame = [8, 0, 0, 0, 0x02, 0x01, 0, 0];
        let (found, _) = locate(link_types::PKTAP, &frame);
        assert!(matches!(
            found.unwrap_err(),
            Stop::Error {
                layer: Layer::Pktap,
                ..
            }
        ));
    }

    #[test]
    fn unsupported_link_type_is_error() {
        assert!(!link_supported(LinkType(147)));
        let (found, _) = locate(LinkType(147), &[0; 20]);
        assert!(matches!(
            found.unwrap_err(),
            Stop::Error {
                layer: Layer::Link,
                ..
            }
        ));
    }
}
