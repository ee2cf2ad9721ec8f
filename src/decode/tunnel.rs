//! Tunnel headers: GRE (in IP) and VXLAN, Geneve, GTP-U and Teredo (in UDP).
//!
//! Each parser returns where the inner packet starts and what it is; the
//! decoder walks the inner packet with the link and IP walkers. A UDP payload
//! that does not parse as its port's tunnel is left to be an ordinary UDP flow.

use nom::IResult;
use nom::bytes::streaming::take;
use nom::number::streaming::{be_u8, be_u16, be_u24, be_u32};

use super::Layer;
use super::SkipReason;
use super::decoder::{Region, Stop};
use super::link::run;

pub(super) const VXLAN_PORT: u16 = 4789;
pub(super) const GENEVE_PORT: u16 = 6081;
pub(super) const GTP_U_PORT: u16 = 2152;
pub(super) const TEREDO_PORT: u16 = 3544;

/// Ethertype for transparent Ethernet bridging (an Ethernet frame follows).
const ETHERTYPE_TRANSPARENT_BRIDGING: u16 = 0x6558;
/// PPP, carried by enhanced GRE in PPTP (RFC 2637 section 4.1).
const GRE_PROTOCOL_PPP: u16 = 0x880b;
const GRE_PROTOCOL_ERSPAN_2: u16 = 0x88be;
const GRE_PROTOCOL_ERSPAN_3: u16 = 0x22eb;

/// The protocol a tunnel header encapsulates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Inner {
    Ethernet,
    /// A payload named by an ethertype.
    Ethertype(u16),
    Ppp,
    /// Bare IP; the version nibble selects IPv4 or IPv6.
    Ip,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TunnelPayload {
    pub inner: Inner,
    pub offset: usize,
    pub region: Region,
}

/// The fixed part of a GRE header (RFC 2784 section 2, RFC 2637 section 4.1).
struct GreHeader {
    flags_version: u16,
    protocol: u16,
}

fn parse_gre_header(i: &[u8]) -> IResult<&[u8], GreHeader> {
    let (i, flags_version) = be_u16(i)?;
    let (i, protocol) = be_u16(i)?;
    Ok((
        i,
        GreHeader {
            flags_version,
            protocol,
        },
    ))
}

/// Parses a GRE header and any ERSPAN header after it.
pub(super) fn parse_gre(data: &[u8], offset: usize, region: Region) -> Result<TunnelPayload, Stop> {
    const CHECKSUM_PRESENT: u16 = 0x8000;
    const ROUTING_PRESENT: u16 = 0x4000;
    const KEY_PRESENT: u16 = 0x2000;
    const SEQUENCE_PRESENT: u16 = 0x1000;
    const ACK_PRESENT: u16 = 0x0080;
    const VERSION_MASK: u16 = 0x0007;

    let (header, mut after) = run(parse_gre_header, data, offset, region, Layer::Gre)?;
    let flags = header.flags_version;
    // RFC 1701 source routing is deprecated (RFC 2784) and not decoded.
    if flags & ROUTING_PRESENT != 0 {
        return Err(Stop::Skip(SkipReason::UnsupportedTunnel));
    }
    let optional_len = match flags & VERSION_MASK {
        0 => {
            let mut len = 0;
            if flags & CHECKSUM_PRESENT != 0 {
                len += 4;
            }
            if flags & KEY_PRESENT != 0 {
                len += 4;
            }
            if flags & SEQUENCE_PRESENT != 0 {
                len += 4;
            }
            len
        }
        // Enhanced GRE (PPTP) always has the key field (payload length and call
        // id), optionally a sequence and an acknowledgment number.
        1 if header.protocol == GRE_PROTOCOL_PPP && flags & KEY_PRESENT != 0 => {
            let mut len = 4;
            if flags & SEQUENCE_PRESENT != 0 {
                len += 4;
            }
            if flags & ACK_PRESENT != 0 {
                len += 4;
            }
            len
        }
        _ => return Err(Stop::Skip(SkipReason::UnsupportedTunnel)),
    };
    super::decoder::take_header(data, after, optional_len, region, Layer::Gre)?;
    after += optional_len;

    let inner = match header.protocol {
        ETHERTYPE_TRANSPARENT_BRIDGING => Inner::Ethernet,
        GRE_PROTOCOL_PPP => {
            // A PPTP packet with only an acknowledgment carries no payload.
            if after == region.claimed_end {
                return Err(Stop::Skip(SkipReason::NotIp));
            }
            Inner::Ppp
        }
        GRE_PROTOCOL_ERSPAN_2 => {
            // ERSPAN type I has no sequence number and no header of its own; type
            // II has both (draft-foschiano-erspan section 4.1).
            if flags & SEQUENCE_PRESENT != 0 {
                super::decoder::take_header(data, after, 8, region, Layer::Gre)?;
                after += 8;
            }
            Inner::Ethernet
        }
        GRE_PROTOCOL_ERSPAN_3 => {
            // ERSPAN type III: 12 bytes, and an 8-byte platform subheader when the
            // O bit (the last bit of the header) is set.
            let erspan = super::decoder::take_header(data, after, 12, region, Layer::Gre)?;
            let len = if erspan[11] & 0x01 != 0 { 20 } else { 12 };
            super::decoder::take_header(data, after, len, region, Layer::Gre)?;
            after += len;
            Inner::Ethernet
        }
        0x0800 | 0x86dd | 0x8847 | 0x8848 => Inner::Ethertype(header.protocol),
        _ => return Err(Stop::Skip(SkipReason::UnsupportedTunnel)),
    };
    Ok(TunnelPayload {
        inner,
        offset: after,
        region,
    })
}

/// A VXLAN header (RFC 7348 section 5).
struct VxlanHeader {
    flags: u8,
}

fn parse_vxlan_header(i: &[u8]) -> IResult<&[u8], VxlanHeader> {
    let (i, flags) = be_u8(i)?;
    let (i, _reserved) = be_u24(i)?;
    let (i, _vni) = be_u24(i)?;
    let (i, _reserved) = be_u8(i)?;
    Ok((i, VxlanHeader { flags }))
}

/// Parses a VXLAN header; `None` when the I flag (a valid VNI) is missing.
pub(super) fn parse_vxlan(data: &[u8], offset: usize, region: Region) -> Option<TunnelPayload> {
    const VNI_VALID: u8 = 0x08;

    let (header, after) = run(parse_vxlan_header, data, offset, region, Layer::Vxlan).ok()?;
    (header.flags & VNI_VALID != 0).then_some(TunnelPayload {
        inner: Inner::Ethernet,
        offset: after,
        region,
    })
}

/// A Geneve header (RFC 8926 section 3.4).
struct GeneveHeader {
    version: u8,
    protocol: u16,
}

fn parse_geneve_header(i: &[u8]) -> IResult<&[u8], GeneveHeader> {
    let (i, version_options) = be_u8(i)?;
    let (i, _flags) = be_u8(i)?;
    let (i, protocol) = be_u16(i)?;
    let (i, _vni) = be_u24(i)?;
    let (i, _reserved) = be_u8(i)?;
    let options_len = usize::from(version_options & 0x3f) * 4;
    let (i, _options) = take(options_len)(i)?;
    Ok((
        i,
        GeneveHeader {
            version: version_options >> 6,
            protocol,
        },
    ))
}

/// Parses a Geneve header; `None` for a version other than 0.
pub(super) fn parse_geneve(data: &[u8], offset: usize, region: Region) -> Option<TunnelPayload> {
    let (header, after) = run(parse_geneve_header, data, offset, region, Layer::Geneve).ok()?;
    if header.version != 0 {
        return None;
    }
    let inner = match header.protocol {
        ETHERTYPE_TRANSPARENT_BRIDGING => Inner::Ethernet,
        protocol => Inner::Ethertype(protocol),
    };
    Some(TunnelPayload {
        inner,
        offset: after,
        region,
    })
}

/// A GTP-U header (3GPP TS 29.281 section 5.1) up to its extension headers.
struct GtpHeader {
    flags: u8,
    message_type: u8,
    length: u16,
    next_extension: u8,
}

fn parse_gtp_u_header(i: &[u8]) -> IResult<&[u8], GtpHeader> {
    const OPTIONAL_FIELDS: u8 = 0x07;

    let (i, flags) = be_u8(i)?;
    let (i, message_type) = be_u8(i)?;
    let (i, length) = be_u16(i)?;
    let (i, _teid) = be_u32(i)?;
    if flags & OPTIONAL_FIELDS == 0 {
        return Ok((
            i,
            GtpHeader {
                flags,
                message_type,
                length,
                next_extension: 0,
            },
        ));
    }
    let (i, _sequence) = be_u16(i)?;
    let (i, _n_pdu) = be_u8(i)?;
    let (i, next_extension) = be_u8(i)?;
    Ok((
        i,
        GtpHeader {
            flags,
            message_type,
            length,
            next_extension,
        },
    ))
}

/// Parses one GTP-U extension header: its length in 4-byte units (counting the
/// length and next-type bytes), content, then the next extension type.
fn parse_gtp_u_extension(i: &[u8]) -> IResult<&[u8], u8> {
    let (i, units) = be_u8(i)?;
    if units == 0 {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Verify,
        )));
    }
    let (i, _content) = take(usize::from(units) * 4 - 2)(i)?;
    let (i, next_extension) = be_u8(i)?;
    Ok((i, next_extension))
}

/// Parses a GTP-U G-PDU header; `None` for other messages (echo, error
/// indication, end marker) and for payloads that are not IP.
pub(super) fn parse_gtp_u(data: &[u8], offset: usize, region: Region) -> Option<TunnelPayload> {
    const VERSION_1: u8 = 1;
    const PROTOCOL_TYPE_GTP: u8 = 0x10;
    const G_PDU: u8 = 0xff;
    const MANDATORY_LEN: usize = 8;
    // Extension headers one G-PDU may chain; 3GPP defines about a dozen types.
    const MAX_GTP_U_EXTENSIONS: usize = 16;

    let (header, mut after) = run(parse_gtp_u_header, data, offset, region, Layer::GtpU).ok()?;
    if header.flags >> 5 != VERSION_1
        || header.flags & PROTOCOL_TYPE_GTP == 0
        || header.message_type != G_PDU
    {
        return None;
    }
    let mut next_extension = header.next_extension;
    for _ in 0..MAX_GTP_U_EXTENSIONS {
        if next_extension == 0 {
            break;
        }
        let (next, end) = run(parse_gtp_u_extension, data, after, region, Layer::GtpU).ok()?;
        next_extension = next;
        after = end;
    }
    if next_extension != 0 {
        return None;
    }

    // The length counts everything after the mandatory 8 bytes.
    let claimed_end = offset + MANDATORY_LEN + usize::from(header.length);
    if claimed_end > region.claimed_end || after > claimed_end {
        return None;
    }
    let version = data.get(after).filter(|_| after < region.end)? >> 4;
    (version == 4 || version == 6).then_some(TunnelPayload {
        inner: Inner::Ip,
        offset: after,
        region: region.narrowed(claimed_end),
    })
}

/// Parses the Teredo authentication and origin indication headers (RFC 4380
/// section 5.1.1) that may precede the IPv6 packet.
fn parse_teredo_headers(mut i: &[u8]) -> IResult<&[u8], ()> {
    const AUTHENTICATION: u16 = 0x0001;
    const ORIGIN_INDICATION: u16 = 0x0000;

    let (_, indicator) = be_u16(i)?;
    if indicator == AUTHENTICATION {
        let (rest, _indicator) = be_u16(i)?;
        let (rest, client_id_len) = be_u8(rest)?;
        let (rest, auth_value_len) = be_u8(rest)?;
        let (rest, _client_id) = take(client_id_len)(rest)?;
        let (rest, _auth_value) = take(auth_value_len)(rest)?;
        let (rest, _nonce) = take(8usize)(rest)?;
        let (rest, _confirmation) = be_u8(rest)?;
        i = rest;
    }
    let (_, indicator) = be_u16(i)?;
    if indicator == ORIGIN_INDICATION {
        let (rest, _indicator) = be_u16(i)?;
        let (rest, _port) = be_u16(rest)?;
        let (rest, _address) = be_u32(rest)?;
        i = rest;
    }
    Ok((i, ()))
}

/// Parses a Teredo payload; `None` unless an IPv6 header follows whose payload
/// length accounts for exactly the rest of the UDP payload. That check separates
/// Teredo from other traffic on port 3544.
pub(super) fn parse_teredo(data: &[u8], offset: usize, region: Region) -> Option<TunnelPayload> {
    const IPV6_HEADER_LEN: usize = 40;

    let (_, after) = run(parse_teredo_headers, data, offset, region, Layer::Teredo).ok()?;
    let ipv6 = data.get(after..region.end)?.get(..IPV6_HEADER_LEN)?;
    let payload_length = usize::from(u16::from_be_bytes([ipv6[4], ipv6[5]]));
    if ipv6[0] >> 4 != 6 || after + IPV6_HEADER_LEN + payload_length != region.claimed_end {
        return None;
    }
    Some(TunnelPayload {
        inner: Inner::Ip,
        offset: after,
        region,
    })
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

    #[test]
    fn gre_with_key_and_sequence() {
        let packet = [0x30, 0x00, 0x08, 0x00, 0, 0, 0, 1, 0, 0, 0, 2, 0x45];
        let tunnel = parse_gre(&packet, 0, whole(&packet)).unwrap();
        assert_eq!(tunnel.inner, Inner::Ethertype(0x0800));
        assert_eq!(tunnel.offset, 12);
    }

    #[test]
    fn gre_routing_is_unsupported() {
        let packet = [0x40, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0, 0];
        let stop = parse_gre(&packet, 0, whole(&packet)).unwrap_err();
        assert_eq!(stop, Stop::Skip(SkipReason::UnsupportedTunnel));
    }

    #[test]
    fn gre_pptp_with_sequence_and_ack() {
        let packet = [
            0x30, 0x81, 0x88, 0x0b, 0, 4, 0, 1, 0, 0, 0, 5, 0, 0, 0, 4, 0xff, 0x03,
        ];
        let tunnel = parse_gre(&packet, 0, whole(&packet)).unwrap();
        assert_eq!(tunnel.inner, Inner::Ppp);
        assert_eq!(tunnel.offset, 16);
    }

    #[test]
    fn gre_transparent_bridging_is_ethernet() {
        let packet = [0x00, 0x00, 0x65, 0x58, 0];
        let tunnel = parse_gre(&packet, 0, whole(&packet)).unwrap();
        assert_eq!(tunnel.inner, Inner::Ethernet);
        assert_eq!(tunnel.offset, 4);
    }

    #[test]
    fn vxlan_requires_vni_flag() {
        let packet = [0x08, 0, 0, 0, 0, 0, 1, 0, 0xff];
        assert_eq!(parse_vxlan(&packet, 0, whole(&packet)).unwrap().offset, 8);
        let packet = [0x00, 0, 0, 0, 0, 0, 1, 0, 0xff];
        assert!(parse_vxlan(&packet, 0, whole(&packet)).is_none());
    }

    #[test]
    fn geneve_skips_options() {
        let packet = [
            0x02, 0, 0x65, 0x58, 0, 0, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0xaa,
        ];
        let tunnel = parse_geneve(&packet, 0, whole(&packet)).unwrap();
        assert_eq!(tunnel.inner, Inner::Ethernet);
        assert_eq!(tunnel.offset, 16);
    }

    #[test]
    fn gtp_u_with_extension_header() {
        // Flags: version 1, PT, E; G-PDU; length 4 + 4 + 20; TEID; sequence, N-PDU,
        // next extension 0x85; one 4-byte extension; then an IPv4 header.
        let mut packet = vec![0x34, 0xff, 0, 28, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0x10, 0, 0];
        packet.push(0x45);
        packet.extend_from_slice(&[0; 19]);
        let tunnel = parse_gtp_u(&packet, 0, whole(&packet)).unwrap();
        assert_eq!(tunnel.inner, Inner::Ip);
        assert_eq!(tunnel.offset, 16);
        assert_eq!(tunnel.region.claimed_end, 36);
    }

    #[test]
    fn gtp_u_echo_is_not_a_tunnel() {
        let packet = [0x32, 0x01, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0];
        assert!(parse_gtp_u(&packet, 0, whole(&packet)).is_none());
    }

    #[test]
    fn teredo_origin_indication_then_ipv6() {
        let mut packet = vec![0, 0, 0x12, 0x34, 1, 2, 3, 4];
        packet.extend_from_slice(&[0x60, 0, 0, 0, 0, 0, 59, 64]);
        packet.extend_from_slice(&[0; 32]);
        let tunnel = parse_teredo(&packet, 0, whole(&packet)).unwrap();
        assert_eq!(tunnel.offset, 8);
    }

    #[test]
    fn teredo_length_mismatch_is_not_a_tunnel() {
        let mut packet = vec![0x60, 0, 0, 0, 0, 8, 59, 64];
        packet.extend_from_slice(&[0; 32]);
        assert!(parse_teredo(&packet, 0, whole(&packet)).is_none());
    }
}
