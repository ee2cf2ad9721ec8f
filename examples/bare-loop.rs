//! The comparison point of the throughput goals: a bare
//! single-threaded loop that memory-maps a classic pcap file, slices every
//! packet with etherparse and counts it into a hash map keyed by the 5-tuple.
//! It does no reassembly, no fingerprinting, no verdicts and no output beyond
//! two counts; exflow does all of that and is measured against it.
//!
//! ```text
//! cargo run --release --example bare-loop -- FILE.pcap
//! ```
//!
//! Prints the frames read, the packets sliced to a TCP or UDP 5-tuple and the
//! distinct 5-tuples. Only classic pcap with Ethernet frames is read, in
//! either byte order and with microsecond or nanosecond stamps.

use std::collections::HashMap;
use std::fs::File;
use std::net::IpAddr;
use std::process::ExitCode;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use exflow_mmap::MappedFile;

/// A 5-tuple as seen on the wire: source, destination, ports, IP protocol.
type FiveTuple = (IpAddr, IpAddr, u16, u16, u8);

/// Length of the classic pcap file header and of a record header.
const FILE_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;
/// Link type of Ethernet in a pcap file header.
const LINKTYPE_ETHERNET: u32 = 1;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: bare-loop FILE.pcap");
        return ExitCode::from(2);
    };
    let map = match File::open(&path).and_then(|file| MappedFile::map(&file)) {
        Ok(map) => map,
        Err(error) => {
            eprintln!("bare-loop: {}: {error}", path.to_string_lossy());
            return ExitCode::from(2);
        }
    };
    let bytes = map.bytes();
    if bytes.len() < FILE_HEADER_LEN {
        eprintln!(
            "bare-loop: {}: shorter than a pcap header",
            path.to_string_lossy()
        );
        return ExitCode::from(2);
    }
    let little_endian = match bytes[..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => {
            eprintln!(
                "bare-loop: {}: not a classic pcap file",
                path.to_string_lossy()
            );
            return ExitCode::from(2);
        }
    };
    let read_u32 = |at: usize| {
        let word: [u8; 4] = bytes[at..at + 4].try_into().expect("four bytes");
        if little_endian {
            u32::from_le_bytes(word)
        } else {
            u32::from_be_bytes(word)
        }
    };
    if read_u32(20) != LINKTYPE_ETHERNET {
        eprintln!(
            "bare-loop: {}: link type is not Ethernet",
            path.to_string_lossy()
        );
        return ExitCode::from(2);
    }

    let mut counts: HashMap<FiveTuple, u64> = HashMap::new();
    let (mut frames, mut sliced) = (0u64, 0u64);
    let mut at = FILE_HEADER_LEN;
    while at + RECORD_HEADER_LEN <= bytes.len() {
        let captured = read_u32(at + 8) as usize;
        let start = at + RECORD_HEADER_LEN;
        let Some(data) = bytes.get(start..start + captured) else {
            break;
        };
        at = start + captured;
        frames += 1;
        let Ok(packet) = SlicedPacket::from_ethernet(data) else {
            continue;
        };
        let (source, destination, protocol) = match &packet.net {
            Some(NetSlice::Ipv4(ip)) => (
                IpAddr::V4(ip.header().source_addr()),
                IpAddr::V4(ip.header().destination_addr()),
                ip.header().protocol().0,
            ),
            Some(NetSlice::Ipv6(ip)) => (
                IpAddr::V6(ip.header().source_addr()),
                IpAddr::V6(ip.header().destination_addr()),
                ip.payload().ip_number.0,
            ),
            _ => continue,
        };
        let (source_port, destination_port) = match &packet.transport {
            Some(TransportSlice::Tcp(tcp)) => (tcp.source_port(), tcp.destination_port()),
            Some(TransportSlice::Udp(udp)) => (udp.source_port(), udp.destination_port()),
            _ => continue,
        };
        sliced += 1;
        *counts
            .entry((source, destination, source_port, destination_port, protocol))
            .or_insert(0) += 1;
    }
    println!("frames {frames}");
    println!("packets {sliced}");
    println!("5-tuples {}", counts.len());
    ExitCode::SUCCESS
}
