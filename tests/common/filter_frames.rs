//! TEST-ONLY GLUE for the filter tests: a classic pcap walker and an
//! Ethernet/VLAN/IPv4/IPv6/TCP/UDP decoder over etherparse slices that builds
//! `exflow::decode::Packet` values. exflow's own capture reader and decoder
//! replace both outside the tests; this glue keeps the filter tests independent
//! of them.
//!
//! The decoder returns a packet only where libpcap's filter and exflow's see
//! the same headers, so that their decisions can be compared: unfragmented
//! IPv4, and IPv6 whose first next header is TCP or UDP. It skips IP
//! fragments, IPv6 extension headers, more than two VLAN tags, truncated
//! frames and everything that is not TCP or UDP.

#![allow(dead_code)]

use std::net::IpAddr;

use etherparse::{LinkExtSlice, NetSlice, SlicedPacket, TransportSlice};
use exflow::capture::Timestamp;
use exflow::decode::{Packet, TcpFlags, TcpInfo, Transport, VlanIds};

/// Length of the classic pcap file header.
const PCAP_HEADER_LEN: usize = 24;
/// Length of a classic pcap record header.
const RECORD_HEADER_LEN: usize = 16;

/// One record of a classic pcap file.
#[derive(Clone, Debug)]
pub struct Record<'a> {
    pub ts: Timestamp,
    pub data: &'a [u8],
    pub orig_len: u32,
    /// Byte offset of the record header in the file.
    pub offset: u64,
}

/// A classic pcap file split into records.
#[derive(Debug)]
pub struct PcapFile<'a> {
    pub link_type: u32,
    pub records: Vec<Record<'a>>,
}

/// Splits a classic pcap file (either byte order, microsecond or nanosecond
/// timestamps) into records. Returns an error for pcapng, an unknown magic or
/// a record that runs past the end of the file.
pub fn read_pcap(bytes: &[u8]) -> Result<PcapFile<'_>, String> {
    let header = bytes
        .get(..PCAP_HEADER_LEN)
        .ok_or("file shorter than the pcap header")?;
    let magic = [header[0], header[1], header[2], header[3]];
    let (big_endian, nanos) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (false, false),
        [0xa1, 0xb2, 0xc3, 0xd4] => (true, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (false, true),
        [0xa1, 0xb2, 0x3c, 0x4d] => (true, true),
        _ => return Err(format!("not a classic pcap file (magic {magic:02x?})")),
    };
    let read_u32 = |field: &[u8]| {
        let field = [field[0], field[1], field[2], field[3]];
        if big_endian {
            u32::from_be_bytes(field)
        } else {
            u32::from_le_bytes(field)
        }
    };
    let link_type = read_u32(&header[20..24]) & 0x0fff_ffff;

    let mut records = Vec::new();
    let mut offset = PCAP_HEADER_LEN;
    while offset < bytes.len() {
        let record_header = bytes
            .get(offset..offset + RECORD_HEADER_LEN)
            .ok_or_else(|| format!("record header truncated at offset {offset}"))?;
        let secs = read_u32(&record_header[0..4]);
        let fraction = read_u32(&record_header[4..8]);
        let incl_len = read_u32(&record_header[8..12]) as usize;
        let orig_len = read_u32(&record_header[12..16]);

        let start = offset + RECORD_HEADER_LEN;
        let data = bytes
            .get(start..start + incl_len)
            .ok_or_else(|| format!("record data truncated at offset {offset}"))?;
        let nanos = if nanos {
            fraction
        } else {
            fraction.saturating_mul(1000)
        };
        records.push(Record {
            ts: Timestamp::from_secs_nanos(i64::from(secs), nanos),
            data,
            orig_len,
            offset: offset as u64,
        });
        offset = start + incl_len;
    }
    Ok(PcapFile { link_type, records })
}

/// Decodes an Ethernet frame into a packet, or returns `None` for a frame the
/// filter comparison skips (see the module documentation).
pub fn decode_ethernet<'a>(record: &Record<'a>) -> Option<Packet<'a>> {
    let sliced = SlicedPacket::from_ethernet(record.data).ok()?;

    // exflow keeps two VLAN tags per packet; a deeper stack would not compare.
    if sliced.link_exts.len() > 2 {
        return None;
    }
    let mut vlan = VlanIds::default();
    for ext in &sliced.link_exts {
        match ext {
            LinkExtSlice::Vlan(tag) => vlan.push(tag.vlan_identifier().value()),
            LinkExtSlice::Macsec(_) => return None,
        }
    }

    let (ip_version, src, dst, ip_len, ip_id, ttl, ip_payload_len) = match sliced.net? {
        NetSlice::Ipv4(ipv4) => {
            if ipv4.is_payload_fragmented() {
                return None;
            }
            let header = ipv4.header();
            let total_len = u32::from(header.total_len());
            let header_len = u32::from(header.ihl()) * 4;
            (
                4,
                IpAddr::V4(header.source_addr()),
                IpAddr::V4(header.destination_addr()),
                total_len,
                header.identification(),
                header.ttl(),
                total_len.saturating_sub(header_len),
            )
        }
        NetSlice::Ipv6(ipv6) => {
            let header = ipv6.header();
            // libpcap's `tcp`, `udp` and `port` read only the first next-header
            // field, so packets with extension headers are not comparable.
            if !matches!(header.next_header().0, 6 | 17) || ipv6.is_payload_fragmented() {
                return None;
            }
            let payload_len = u32::from(header.payload_length());
            (
                6,
                IpAddr::V6(header.source_addr()),
                IpAddr::V6(header.destination_addr()),
                40 + payload_len,
                0,
                header.hop_limit(),
                payload_len,
            )
        }
        NetSlice::Arp(_) => return None,
    };

    let (transport, src_port, dst_port, tcp, payload, transport_header_len) =
        match sliced.transport? {
            TransportSlice::Tcp(segment) => {
                let flags = segment.header_slice().get(13).copied().unwrap_or(0);
                let tcp = TcpInfo {
                    seq: segment.sequence_number(),
                    ack: segment.acknowledgment_number(),
                    flags: TcpFlags(flags),
                    window: segment.window_size(),
                };
                (
                    Transport::Tcp,
                    segment.source_port(),
                    segment.destination_port(),
                    tcp,
                    segment.payload(),
                    segment.header_slice().len() as u32,
                )
            }
            TransportSlice::Udp(datagram) => (
                Transport::Udp,
                datagram.source_port(),
                datagram.destination_port(),
                TcpInfo::default(),
                datagram.payload(),
                8,
            ),
            _ => return None,
        };

    Some(Packet {
        ts: record.ts,
        input_clock: record.ts,
        vlan,
        ip_version,
        src,
        dst,
        ip_len,
        ip_id,
        ttl,
        transport,
        src_port,
        dst_port,
        tcp,
        payload,
        payload_len: ip_payload_len.saturating_sub(transport_header_len),
        // NOTE: the glue verifies no checksums; the filter never reads them.
        bad_checksum: false,
        transport_checksum_failed: false,
        transport_checksum: 0,
        offset: record.offset,
    })
}
