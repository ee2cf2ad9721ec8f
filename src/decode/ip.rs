//! IPv4 and IPv6 headers: lengths checked against the enclosing layer, IPv6
//! extension headers walked to the upper-layer protocol, fragments described for
//! reassembly.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{Ipv4HeaderSlice, Ipv6HeaderSlice};

use super::checksum;
use super::decoder::{Region, Stop, take_header};
use super::{DecodeErrorKind, Layer};

/// Extension headers walked before giving up. RFC 8200 sets no limit; real
/// packets carry one or two, and RFC 7112 requires the whole chain in the first
/// fragment anyway.
pub(super) const MAX_IPV6_EXTENSION_HEADERS: usize = 16;

const IPV4_MIN_HEADER_LEN: usize = 20;
const IPV6_HEADER_LEN: usize = 40;

pub(super) const PROTOCOL_HOP_BY_HOP: u8 = 0;
pub(super) const PROTOCOL_ICMP: u8 = 1;
pub(super) const PROTOCOL_IPV4: u8 = 4;
pub(super) const PROTOCOL_TCP: u8 = 6;
pub(super) const PROTOCOL_UDP: u8 = 17;
pub(super) const PROTOCOL_IPV6: u8 = 41;
const PROTOCOL_ROUTING: u8 = 43;
const PROTOCOL_FRAGMENT: u8 = 44;
pub(super) const PROTOCOL_GRE: u8 = 47;
pub(super) const PROTOCOL_ESP: u8 = 50;
const PROTOCOL_AH: u8 = 51;
pub(super) const PROTOCOL_ICMPV6: u8 = 58;
pub(super) const PROTOCOL_NO_NEXT_HEADER: u8 = 59;
const PROTOCOL_DESTINATION_OPTIONS: u8 = 60;

/// A fragment of a larger IP datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct FragmentInfo {
    /// Position of the fragment's data in the datagram, in bytes.
    pub offset: u32,
    pub more: bool,
    /// IPv4 identification, or the IPv6 Fragment header's identification.
    pub id: u32,
    /// End of the header part that reassembly keeps from the first fragment: the
    /// IPv4 header, or the IPv6 header with the extension headers before the
    /// Fragment header. The fragment's data starts at the IP payload offset.
    pub header_end: usize,
    /// IPv6: the byte that names the Fragment header as the next header; the
    /// reassembled datagram puts the Fragment header's next header there.
    pub next_header_field: usize,
}

/// The fields of one IP header that the decoder uses.
#[derive(Clone, Copy, Debug)]
pub(super) struct IpInfo {
    pub version: u8,
    pub start: usize,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Length of the packet on the wire according to its header.
    pub ip_len: u32,
    /// IPv4 identification; 0 for IPv6.
    pub ip_id: u16,
    pub ttl: u8,
    /// The upper-layer protocol, after any IPv6 extension headers.
    pub protocol: u8,
    pub payload_offset: usize,
    pub payload_region: Region,
    /// The length field was 0 and the captured length stood in (TCP segmentation
    /// offload and Linux BIG TCP captures), so transport checksums cannot verify.
    pub length_from_capture: bool,
    /// The IPv4 header checksum did not verify.
    pub bad_header_checksum: bool,
    pub fragment: Option<FragmentInfo>,
    /// The first fragment of a datagram that cannot be reassembled because the
    /// capture cut it; its transport header describes the whole datagram.
    pub partial_datagram: bool,
}

impl IpInfo {
    /// Returns the partial checksum of the transport pseudo header.
    pub(super) fn pseudo_header_sum(&self, protocol: u8, length: u32) -> u64 {
        checksum::pseudo_header_sum(self.src, self.dst, protocol, length)
    }
}

/// Parses the IPv4 header at `offset`.
pub(super) fn parse_ipv4(
    data: &[u8],
    offset: usize,
    region: Region,
    verify_checksum: bool,
) -> Result<IpInfo, Stop> {
    take_header(data, offset, IPV4_MIN_HEADER_LEN, region, Layer::Ipv4)?;
    let input = &data[offset..region.end];
    let header = match Ipv4HeaderSlice::from_slice(input) {
        Ok(header) => header,
        Err(etherparse::err::ipv4::HeaderSliceError::Content(content)) => {
            let kind = match content {
                etherparse::err::ipv4::HeaderError::UnexpectedVersion { version_number } => {
                    DecodeErrorKind::InvalidVersion(version_number)
                }
                etherparse::err::ipv4::HeaderError::HeaderLengthSmallerThanHeader { ihl } => {
                    DecodeErrorKind::InvalidHeaderLength {
                        length: usize::from(ihl) * 4,
                        min: IPV4_MIN_HEADER_LEN,
                    }
                }
            };
            return Err(Stop::error(Layer::Ipv4, offset, kind));
        }
        Err(etherparse::err::ipv4::HeaderSliceError::Len(_)) => {
            let header_len = usize::from(input[0] & 0x0f) * 4;
            return Err(Stop::truncated(Layer::Ipv4, offset, header_len, region));
        }
    };
    let header_len = header.slice().len();

    // RFC 791: total length covers header and data. A zero total length comes
    // from segmentation offload, where the NIC fills it in after capture.
    let total_len = usize::from(header.total_len());
    let length_from_capture = total_len == 0;
    let claimed_len = if length_from_capture {
        region.claimed_end - offset
    } else {
        total_len
    };
    if claimed_len < header_len {
        return Err(Stop::error(
            Layer::Ipv4,
            offset,
            DecodeErrorKind::LengthBelowHeader {
                length: claimed_len,
                header: header_len,
            },
        ));
    }
    // A total length beyond what the link layer carried is used as far as the
    // bytes go, like a snapshot-length cut: the addresses and ports are still
    // sound, and Wireshark and nDPI keep such packets too.
    let claimed_end = offset + claimed_len;

    let bad_header_checksum = verify_checksum && !checksum::ipv4_header_ok(header.slice());
    let fragment_offset = u32::from(header.fragments_offset().value()) * 8;
    let fragment = (header.more_fragments() || fragment_offset != 0).then(|| FragmentInfo {
        offset: fragment_offset,
        more: header.more_fragments(),
        id: u32::from(header.identification()),
        header_end: offset + header_len,
        next_header_field: offset + 9,
    });

    Ok(IpInfo {
        version: 4,
        start: offset,
        src: IpAddr::V4(Ipv4Addr::from(header.source())),
        dst: IpAddr::V4(Ipv4Addr::from(header.destination())),
        ip_len: claimed_len as u32,
        ip_id: header.identification(),
        ttl: header.ttl(),
        protocol: header.protocol().0,
        payload_offset: offset + header_len,
        payload_region: region.narrowed(claimed_end),
        length_from_capture,
        bad_header_checksum,
        fragment,
        partial_datagram: false,
    })
}

/// Parses the IPv6 header at `offset` and walks its extension headers.
pub(super) fn parse_ipv6(data: &[u8], offset: usize, region: Region) -> Result<IpInfo, Stop> {
    take_header(data, offset, IPV6_HEADER_LEN, region, Layer::Ipv6)?;
    let header = match Ipv6HeaderSlice::from_slice(&data[offset..region.end]) {
        Ok(header) => header,
        Err(_) => {
            // The length was checked above, so only the version can be wrong.
            return Err(Stop::error(
                Layer::Ipv6,
                offset,
                DecodeErrorKind::InvalidVersion(data[offset] >> 4),
            ));
        }
    };

    let payload_length = usize::from(header.payload_length());
    let mut walk = ExtensionWalk {
        next_header: header.next_header().0,
        next_header_field: offset + 6,
        offset: offset + IPV6_HEADER_LEN,
        jumbo_length: None,
        fragment: None,
    };
    // Extension headers must lie within the payload length, unless the length is
    // 0 (a jumbogram or an offloaded segment) and not known yet.
    let provisional_end = if payload_length == 0 {
        region.claimed_end
    } else {
        (offset + IPV6_HEADER_LEN + payload_length).min(region.claimed_end)
    };
    walk.run(data, region.narrowed(provisional_end))?;

    // RFC 2675: a jumbogram has payload length 0 and its length in the
    // hop-by-hop Jumbo Payload option.
    let (claimed_payload, length_from_capture) = match (payload_length, walk.jumbo_length) {
        (0, Some(jumbo)) => (jumbo as usize, false),
        (0, None) => (region.claimed_end - offset - IPV6_HEADER_LEN, true),
        (length, _) => (length, false),
    };
    // As for IPv4, a payload length beyond the enclosing layer is a cut packet.
    let claimed_end = offset + IPV6_HEADER_LEN + claimed_payload;
    if walk.offset > claimed_end {
        return Err(Stop::error(
            Layer::Ipv6Extension,
            walk.offset,
            DecodeErrorKind::LengthExceedsEnclosing {
                length: walk.offset - offset - IPV6_HEADER_LEN,
                available: claimed_payload,
            },
        ));
    }

    Ok(IpInfo {
        version: 6,
        start: offset,
        src: IpAddr::V6(Ipv6Addr::from(header.source())),
        dst: IpAddr::V6(Ipv6Addr::from(header.destination())),
        // A Jumbo Payload length near 2^32 takes the total past u32, so it
        // saturates rather than wrapping to a few bytes.
        ip_len: u32::try_from(IPV6_HEADER_LEN + claimed_payload).unwrap_or(u32::MAX),
        ip_id: 0,
        ttl: header.hop_limit(),
        protocol: walk.next_header,
        payload_offset: walk.offset,
        payload_region: region.narrowed(claimed_end),
        length_from_capture,
        bad_header_checksum: false,
        fragment: walk.fragment,
        partial_datagram: false,
    })
}

/// State of the walk along an IPv6 extension header chain.
struct ExtensionWalk {
    next_header: u8,
    /// Position of the byte that contains `next_header`.
    next_header_field: usize,
    /// Start of the header `next_header` names.
    offset: usize,
    jumbo_length: Option<u32>,
    fragment: Option<FragmentInfo>,
}

impl ExtensionWalk {
    /// Walks extension headers until an upper-layer protocol, or a Fragment header
    /// of a real fragment, whose data only makes sense after reassembly.
    fn run(&mut self, data: &[u8], region: Region) -> Result<(), Stop> {
        for _ in 0..MAX_IPV6_EXTENSION_HEADERS {
            match self.next_header {
                PROTOCOL_HOP_BY_HOP | PROTOCOL_ROUTING | PROTOCOL_DESTINATION_OPTIONS => {
                    // RFC 8200 section 4.3: length in 8-byte units, not counting the
                    // first 8 bytes.
                    let start = take_header(data, self.offset, 2, region, Layer::Ipv6Extension)?;
                    let len = (usize::from(start[1]) + 1) * 8;
                    let header = take_header(data, self.offset, len, region, Layer::Ipv6Extension)?;
                    if self.next_header == PROTOCOL_HOP_BY_HOP {
                        self.jumbo_length = find_jumbo_payload(&header[2..]);
                    }
                    self.advance(header[0], len);
                }
                PROTOCOL_AH => {
                    // RFC 4302 section 2.2: length in 4-byte units, minus 2.
                    let start = take_header(data, self.offset, 2, region, Layer::Ipv6Extension)?;
                    let len = (usize::from(start[1]) + 2) * 4;
                    let header = take_header(data, self.offset, len, region, Layer::Ipv6Extension)?;
                    self.advance(header[0], len);
                }
                PROTOCOL_FRAGMENT => {
                    let header = take_header(data, self.offset, 8, region, Layer::Ipv6Extension)?;
                    let offset_and_flags = u16::from_be_bytes([header[2], header[3]]);
                    let fragment_offset = u32::from(offset_and_flags & 0xfff8);
                    let more = offset_and_flags & 0x0001 != 0;
                    let id = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
                    let fragment_header = self.offset;
                    let before = self.next_header_field;
                    self.advance(header[0], 8);
                    // RFC 6946: an atomic fragment (offset 0, no more fragments) is
                    // processed as a whole packet.
                    if fragment_offset != 0 || more {
                        self.fragment = Some(FragmentInfo {
                            offset: fragment_offset,
                            more,
                            id,
                            header_end: fragment_header,
                            next_header_field: before,
                        });
                        return Ok(());
                    }
                }
                _ => return Ok(()),
            }
        }
        Err(Stop::error(
            Layer::Ipv6Extension,
            self.offset,
            DecodeErrorKind::TooManyExtensionHeaders(MAX_IPV6_EXTENSION_HEADERS),
        ))
    }

    fn advance(&mut self, next_header: u8, len: usize) {
        self.next_header = next_header;
        self.next_header_field = self.offset;
        self.offset += len;
    }
}

/// Returns the Jumbo Payload length from hop-by-hop options (RFC 2675 section 2).
fn find_jumbo_payload(mut options: &[u8]) -> Option<u32> {
    const PAD1: u8 = 0;
    const JUMBO_PAYLOAD: u8 = 0xc2;

    while let Some((&kind, rest)) = options.split_first() {
        if kind == PAD1 {
            options = rest;
            continue;
        }
        let (&len, rest) = rest.split_first()?;
        let value = rest.get(..usize::from(len))?;
        if kind == JUMBO_PAYLOAD && value.len() == 4 {
            return Some(u32::from_be_bytes([value[0], value[1], value[2], value[3]]));
        }
        options = &rest[usize::from(len)..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::SkipReason;

    fn whole(data: &[u8]) -> Region {
        Region {
            end: data.len(),
            claimed_end: data.len(),
        }
    }

    /// A 20-byte IPv4 header with a valid checksum.
    fn ipv4_header(total_len: u16, flags_offset: u16, protocol: u8) -> Vec<u8> {
        let mut header = vec![
            0x45, 0, 0, 0, 0x12, 0x34, 0, 0, 64, protocol, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        header[2..4].copy_from_slice(&total_len.to_be_bytes());
        header[6..8].copy_from_slice(&flags_offset.to_be_bytes());
        let sum = checksum::internet_checksum(&header);
        header[10..12].copy_from_slice(&sum.to_be_bytes());
        header
    }

    #[test]
    fn ipv4_padding_is_not_payload() {
        let mut packet = ipv4_header(28, 0, 17);
        packet.extend_from_slice(&[0; 8 + 18]);
        let ip = parse_ipv4(&packet, 0, whole(&packet), true).unwrap();
        assert_eq!(ip.ip_len, 28);
        assert_eq!(ip.payload_offset, 20);
        assert_eq!(ip.payload_region.end, 28);
        assert!(!ip.bad_header_checksum);
        assert!(ip.fragment.is_none());
    }

    #[test]
    fn ipv4_bad_header_checksum_is_flagged() {
        let mut packet = ipv4_header(20, 0, 17);
        packet[8] = 63;
        let ip = parse_ipv4(&packet, 0, whole(&packet), true).unwrap();
        assert!(ip.bad_header_checksum);
    }

    #[test]
    fn ipv4_header_length_below_minimum_is_error() {
        let mut packet = ipv4_header(20, 0, 17);
        packet[0] = 0x44;
        let stop = parse_ipv4(&packet, 0, whole(&packet), true).unwrap_err();
        assert_eq!(
            stop,
            Stop::error(
                Layer::Ipv4,
                0,
                DecodeErrorKind::InvalidHeaderLength {
                    length: 16,
                    min: 20
                }
            )
        );
    }

    #[test]
    fn ipv4_header_length_beyond_frame_is_error() {
        let mut packet = ipv4_header(20, 0, 17);
        packet[0] = 0x4f;
        let stop = parse_ipv4(&packet, 0, whole(&packet), true).unwrap_err();
        assert!(matches!(
            stop,
            Stop::Error {
                layer: Layer::Ipv4,
                kind: DecodeErrorKind::Truncated {
                    needed: 60,
                    available: 20
                },
                ..
            }
        ));
    }

    #[test]
    fn ipv4_total_length_below_header_is_error() {
        let packet = ipv4_header(12, 0, 17);
        let stop = parse_ipv4(&packet, 0, whole(&packet), true).unwrap_err();
        assert_eq!(
            stop,
            Stop::error(
                Layer::Ipv4,
                0,
                DecodeErrorKind::LengthBelowHeader {
                    length: 12,
                    header: 20
                }
            )
        );
    }

    #[test]
    fn ipv4_total_length_beyond_frame_is_a_cut() {
        let mut packet = ipv4_header(100, 0, 17);
        packet.extend_from_slice(&[0; 8]);
        let ip = parse_ipv4(&packet, 0, whole(&packet), true).unwrap();
        assert_eq!(ip.ip_len, 100);
        assert_eq!(
            ip.payload_region,
            Region {
                end: 28,
                claimed_end: 100
            }
        );
    }

    #[test]
    fn ipv4_cut_by_snaplen_keeps_claimed_length() {
        let mut packet = ipv4_header(100, 0, 17);
        packet.extend_from_slice(&[0; 8]);
        let region = Region {
            end: packet.len(),
            claimed_end: 100,
        };
        let ip = parse_ipv4(&packet, 0, region, true).unwrap();
        assert_eq!(ip.ip_len, 100);
        assert_eq!(
            ip.payload_region,
            Region {
                end: 28,
                claimed_end: 100
            }
        );
    }

    #[test]
    fn ipv4_cut_header_is_skipped() {
        let packet = ipv4_header(100, 0, 17);
        let region = Region {
            end: 12,
            claimed_end: 100,
        };
        let stop = parse_ipv4(&packet[..12], 0, region, true).unwrap_err();
        assert_eq!(stop, Stop::Skip(SkipReason::TruncatedHeader));
    }

    #[test]
    fn ipv4_fragment_offset_in_bytes() {
        let mut packet = ipv4_header(28, 0x2000 | 185, 17);
        packet.extend_from_slice(&[0; 8]);
        let ip = parse_ipv4(&packet, 0, whole(&packet), true).unwrap();
        let fragment = ip.fragment.unwrap();
        assert_eq!(fragment.offset, 1480);
        assert!(fragment.more);
        assert_eq!(fragment.id, 0x1234);
    }

    fn ipv6_header(payload_length: u16, next_header: u8) -> Vec<u8> {
        let mut header = vec![0x60, 0, 0, 0, 0, 0, next_header, 64];
        header[4..6].copy_from_slice(&payload_length.to_be_bytes());
        header.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        header.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        header
    }

    #[test]
    fn ipv6_walks_extension_headers() {
        let mut packet = ipv6_header(8 + 16 + 8, PROTOCOL_HOP_BY_HOP);
        // Hop-by-hop (8 bytes of PadN), destination options (16 bytes), then UDP.
        packet.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
        packet.extend_from_slice(&[17, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        packet.extend_from_slice(&[0; 8]);
        let ip = parse_ipv6(&packet, 0, whole(&packet)).unwrap();
        assert_eq!(ip.protocol, PROTOCOL_UDP);
        assert_eq!(ip.payload_offset, 64);
        assert_eq!(ip.ip_len, 72);
    }

    #[test]
    fn ipv6_atomic_fragment_is_not_a_fragment() {
        let mut packet = ipv6_header(16, PROTOCOL_FRAGMENT);
        packet.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0, 7]);
        packet.extend_from_slice(&[0; 8]);
        let ip = parse_ipv6(&packet, 0, whole(&packet)).unwrap();
        assert!(ip.fragment.is_none());
        assert_eq!(ip.protocol, PROTOCOL_TCP);
        assert_eq!(ip.payload_offset, 48);
    }

    #[test]
    fn ipv6_fragment_stops_the_walk() {
        let mut packet = ipv6_header(16, PROTOCOL_FRAGMENT);
        packet.extend_from_slice(&[17, 0, 0x05, 0x01, 0, 0, 0, 7]);
        packet.extend_from_slice(&[0; 8]);
        let ip = parse_ipv6(&packet, 0, whole(&packet)).unwrap();
        let fragment = ip.fragment.unwrap();
        assert_eq!(fragment.offset, 0x0500);
        assert!(fragment.more);
        assert_eq!(fragment.id, 7);
        assert_eq!(fragment.header_end, 40);
        assert_eq!(fragment.next_header_field, 6);
        assert_eq!(ip.payload_offset, 48);
    }

    #[test]
    fn ipv6_extension_chain_is_capped() {
        let count = MAX_IPV6_EXTENSION_HEADERS + 1;
        let mut packet = ipv6_header((count * 8) as u16, PROTOCOL_DESTINATION_OPTIONS);
        for _ in 0..count {
            packet.extend_from_slice(&[PROTOCOL_DESTINATION_OPTIONS, 0, 1, 4, 0, 0, 0, 0]);
        }
        let stop = parse_ipv6(&packet, 0, whole(&packet)).unwrap_err();
        assert!(matches!(
            stop,
            Stop::Error {
                layer: Layer::Ipv6Extension,
                kind: DecodeErrorKind::TooManyExtensionHeaders(_),
                ..
            }
        ));
    }

    #[test]
    fn ipv6_jumbo_payload_length() {
        let mut packet = ipv6_header(0, PROTOCOL_HOP_BY_HOP);
        let payload: u32 = 8 + 8;
        let jumbo = payload.to_be_bytes();
        packet.extend_from_slice(&[17, 0, 0xc2, 4, jumbo[0], jumbo[1], jumbo[2], jumbo[3]]);
        packet.extend_from_slice(&[0; 8]);
        let ip = parse_ipv6(&packet, 0, whole(&packet)).unwrap();
        assert_eq!(ip.ip_len, 56);
        assert!(!ip.length_from_capture);
    }

    #[test]
    fn ipv6_largest_jumbo_length_saturates() {
        let mut packet = ipv6_header(0, PROTOCOL_HOP_BY_HOP);
        let jumbo = u32::MAX.to_be_bytes();
        packet.extend_from_slice(&[17, 0, 0xc2, 4, jumbo[0], jumbo[1], jumbo[2], jumbo[3]]);
        packet.extend_from_slice(&[0; 8]);
        let ip = parse_ipv6(&packet, 0, whole(&packet)).unwrap();
        assert_eq!(ip.ip_len, u32::MAX);
    }

    #[test]
    fn ipv6_bad_version_is_error() {
        let mut packet = ipv6_header(0, PROTOCOL_NO_NEXT_HEADER);
        packet[0] = 0x50;
        let stop = parse_ipv6(&packet, 0, whole(&packet)).unwrap_err();
        assert_eq!(
            stop,
            Stop::error(Layer::Ipv6, 0, DecodeErrorKind::InvalidVersion(5))
        );
    }
}
