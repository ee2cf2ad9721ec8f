//! Writes the two flood captures of the resource-limit check: a SYN flood and
//! a flood of IP fragments that never complete, each with the project's own
//! recording `captures/exchange-edge.pcap` mixed in as the benign traffic.
//!
//! ```text
//! cargo run --release --example gen-floods -- OUTDIR [SYNS] [FRAGMENTS]
//! ```
//!
//! OUTDIR receives `syn-flood.pcap` (SYNS SYNs, default 2,000,000) and
//! `fragment-flood.pcap` (FRAGMENTS fragments, default 1,000,000). The output
//! depends only on the arguments: a fixed-seed generator picks every address,
//! port, sequence number and fragment, so two runs write identical files.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use etherparse::{
    EtherType, Ethernet2Header, IpFragOffset, IpNumber, Ipv4Header, PacketBuilder, TcpOptionElement,
};
use exflow::capture::{FrameSource, LinkType, Timestamp, open};

/// The benign traffic, recorded by `captures/record.sh`.
const BENIGN_CAPTURE: &str = "captures/exchange-edge.pcap";

/// The server the SYN flood aims at: the Client Access server of the
/// recording's site file, on HTTPS.
const SYN_TARGET: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 20, 0, 10), 443);

/// The host the fragments are addressed to: the same Client Access server.
const FRAGMENT_TARGET: Ipv4Addr = Ipv4Addr::new(10, 20, 0, 10);

/// Flood start: 2026-01-01T00:00:00Z. The benign capture is moved to start
/// [`BENIGN_OFFSET_NANOS`] later, so that its flows cross a full table.
const FLOOD_START_NANOS: i64 = 1_767_225_600 * 1_000_000_000;
const BENIGN_OFFSET_NANOS: i64 = 40 * 1_000_000_000;

/// 20,000 SYNs per second: 2 million SYNs last 100 s, longer than the 60 s a
/// connection attempt is kept, so the default table of 500,000 flows fills.
const SYN_INTERVAL_NANOS: i64 = 50_000;

/// 10,000 fragments per second: 1 million last 100 s, so fragments both time
/// out (30 s) and overflow the pending-datagram and memory caps.
const FRAGMENT_INTERVAL_NANOS: i64 = 100_000;

const CLIENT_MAC: [u8; 6] = [0x02, 0xe5, 0x00, 0x00, 0x00, 0x66];
const ROUTER_MAC: [u8; 6] = [0x02, 0xe5, 0x00, 0x00, 0x00, 0x02];

/// SplitMix64: small, fast and fixed, so the captures never change.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// Returns a random unicast source address outside the lab's own ranges
/// (10/8, 172.16/12, 192.168/16 and the documentation ranges of the
/// recording), so that no flood packet joins a benign flow.
fn random_source(rng: &mut SplitMix64) -> Ipv4Addr {
    loop {
        let address = Ipv4Addr::from(rng.next() as u32);
        let [first, second, third, _] = address.octets();
        let reserved = first == 0
            || first == 10
            || first == 127
            || first >= 224
            || (first == 172 && (16..32).contains(&second))
            || (first == 192 && second == 168)
            || (first == 192 && second == 0 && third == 2)
            || (first == 198 && second == 51 && third == 100)
            || (first == 203 && second == 0 && third == 113);
        if !reserved {
            return address;
        }
    }
}

/// A classic pcap writer (microsecond timestamps, Ethernet).
struct PcapWriter {
    out: BufWriter<File>,
}

impl PcapWriter {
    fn create(path: &Path) -> io::Result<PcapWriter> {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
        out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&262_144u32.to_le_bytes())?;
        out.write_all(&LinkType::ETHERNET.0.to_le_bytes())?;
        Ok(PcapWriter { out })
    }

    fn write(&mut self, ts: Timestamp, frame: &[u8]) -> io::Result<()> {
        let secs = u32::try_from(ts.secs()).map_err(io::Error::other)?;
        let micros = ts.subsec_nanos() / 1_000;
        let len = u32::try_from(frame.len()).map_err(io::Error::other)?;
        self.out.write_all(&secs.to_le_bytes())?;
        self.out.write_all(&micros.to_le_bytes())?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(frame)
    }

    fn finish(mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Returns the benign frames, with timestamps moved into the flood.
fn benign_frames() -> io::Result<Vec<(Timestamp, Vec<u8>)>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(BENIGN_CAPTURE);
    let mut input = open(&path).map_err(io::Error::other)?;
    let mut reader = input.reader();
    let mut frames = Vec::new();
    let mut first = None;
    while let Some(frame) = reader.next_frame() {
        let frame = frame.map_err(io::Error::other)?;
        if frame.link != LinkType::ETHERNET {
            return Err(io::Error::other(format!(
                "{BENIGN_CAPTURE}: {} is not Ethernet",
                frame.link
            )));
        }
        let start = *first.get_or_insert(frame.ts.0);
        let ts = Timestamp(FLOOD_START_NANOS + BENIGN_OFFSET_NANOS + frame.ts.0 - start);
        frames.push((ts, frame.data.to_vec()));
    }
    Ok(frames)
}

/// Writes `count` flood frames that `flood` builds, one every `interval`, with the
/// benign frames merged in by timestamp.
fn write_merged(
    path: &Path,
    count: u64,
    interval: i64,
    mut flood: impl FnMut(&mut Vec<u8>),
) -> io::Result<()> {
    let benign = benign_frames()?;
    let mut benign = benign.iter().peekable();
    let mut writer = PcapWriter::create(path)?;
    let mut frame = Vec::with_capacity(128);
    for index in 0..count {
        let ts = Timestamp(FLOOD_START_NANOS + index as i64 * interval);
        while let Some((benign_ts, bytes)) = benign.next_if(|(benign_ts, _)| *benign_ts <= ts) {
            writer.write(*benign_ts, bytes)?;
        }
        frame.clear();
        flood(&mut frame);
        writer.write(ts, &frame)?;
    }
    for (benign_ts, bytes) in benign {
        writer.write(*benign_ts, bytes)?;
    }
    writer.finish()
}

/// Writes SYNs from random sources and ports, with the options a Linux client
/// sends (MSS, SACK permitted, timestamps, window scale).
fn write_syn_flood(path: &Path, count: u64) -> io::Result<()> {
    let mut rng = SplitMix64(0x5359_4e5f_666c_6f6f);
    let (target, port) = SYN_TARGET;
    write_merged(path, count, SYN_INTERVAL_NANOS, |frame| {
        let source = random_source(&mut rng);
        let source_port = 1024 + rng.below(64_512) as u16;
        let isn = rng.next() as u32;
        let tsval = rng.next() as u32;
        let builder = PacketBuilder::ethernet2(CLIENT_MAC, ROUTER_MAC)
            .ipv4(source.octets(), target.octets(), 64)
            .tcp(source_port, port, isn, 64_240)
            .syn()
            .options(&[
                TcpOptionElement::MaximumSegmentSize(1460),
                TcpOptionElement::SelectiveAcknowledgementPermitted,
                TcpOptionElement::Timestamp(tsval, 0),
                TcpOptionElement::Noop,
                TcpOptionElement::WindowScale(7),
            ])
            .expect("the options fit in 40 bytes");
        builder
            .write(frame, &[])
            .expect("writing to a Vec cannot fail");
    })
}

/// Writes IPv4 fragments of UDP datagrams that never complete: each has more
/// fragments to come (MF set) that never arrive. A third are first fragments
/// (offset 0), the rest sit at random offsets up to 65,000 bytes, so that
/// reassembly buffers grow to their maximum size.
fn write_fragment_flood(path: &Path, count: u64) -> io::Result<()> {
    let mut rng = SplitMix64(0x4652_4147_5f66_6c6f);
    let mut payload = [0u8; 64];
    write_merged(path, count, FRAGMENT_INTERVAL_NANOS, |frame| {
        let source = random_source(&mut rng);
        let offset_units = if rng.below(3) == 0 {
            0
        } else {
            rng.below(65_000 / 8) as u16
        };
        let payload_len = 8 * (1 + rng.below(8) as usize);
        for byte in &mut payload[..payload_len] {
            *byte = rng.next() as u8;
        }
        let mut ip = Ipv4Header::new(
            payload_len as u16,
            64,
            IpNumber::UDP,
            source.octets(),
            FRAGMENT_TARGET.octets(),
        )
        .expect("the payload fits");
        ip.identification = rng.next() as u16;
        ip.more_fragments = true;
        ip.fragment_offset = IpFragOffset::try_new(offset_units).expect("below 8192");

        let ethernet = Ethernet2Header {
            source: CLIENT_MAC,
            destination: ROUTER_MAC,
            ether_type: EtherType::IPV4,
        };
        ethernet.write(frame).expect("writing to a Vec cannot fail");
        ip.write(frame).expect("writing to a Vec cannot fail");
        frame.extend_from_slice(&payload[..payload_len]);
    })
}

fn parse_count(argument: Option<&String>, default: u64) -> Result<u64, String> {
    match argument {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|error| format!("invalid count {text:?}: {error}")),
    }
}

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let Some(outdir) = arguments.first().map(PathBuf::from) else {
        eprintln!("usage: gen-floods OUTDIR [SYNS] [FRAGMENTS]");
        return ExitCode::from(2);
    };
    let counts = parse_count(arguments.get(1), 2_000_000)
        .and_then(|syns| Ok((syns, parse_count(arguments.get(2), 1_000_000)?)));
    let (syns, fragments) = match counts {
        Ok(counts) => counts,
        Err(message) => {
            eprintln!("gen-floods: {message}");
            return ExitCode::from(2);
        }
    };

    let written = std::fs::create_dir_all(&outdir)
        .and_then(|()| write_syn_flood(&outdir.join("syn-flood.pcap"), syns))
        .and_then(|()| write_fragment_flood(&outdir.join("fragment-flood.pcap"), fragments));
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gen-floods: cannot write to {}: {error}", outdir.display());
            ExitCode::FAILURE
        }
    }
}
