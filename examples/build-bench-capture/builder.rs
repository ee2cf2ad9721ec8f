//! Builds a large benchmark capture from small ones. Every Ethernet frame of
//! the sources is written once per copy. Each copy gets its own IPv4 and IPv6
//! addresses, so that its flows stay distinct, and the IP, TCP, UDP and ICMPv6
//! checksums are adjusted to them. Lengths and payloads stay unchanged, and
//! the output depends only on the sources, the copy count and how many copies
//! run at the same time.
//!
//! Shared by `examples/build-bench-capture` and `tests/bench_capture.rs`.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use exflow::capture::{FrameSource, LinkType, open};
use exflow::decode::link::network_offset;

/// Time between the last frame of one source copy and the first frame of the
/// next: longer than every default idle timeout of exflow (TCP 300 s), so no
/// flow of one copy is still open when the next copy starts.
pub const GAP_NANOS: i64 = 600 * 1_000_000_000;

/// First timestamp of the output: 2020-01-01T00:00:00Z.
const START_NANOS: i64 = 1_577_836_800 * 1_000_000_000;

/// Snapshot length written in the output's file header.
const SNAPLEN: u32 = 262_144;

/// One frame of a source, with its time since the source's first frame.
struct SourceFrame {
    offset_nanos: i64,
    orig_len: u32,
    data: Vec<u8>,
}

/// A source capture read into memory.
pub struct Source {
    frames: Vec<SourceFrame>,
    /// Latest frame time, since the first frame, after [`read_source`] shortened long steps.
    span_nanos: i64,
}

impl Source {
    pub fn frames(&self) -> usize {
        self.frames.len()
    }
}

/// Reads a source into memory. Returns why it was left out when a frame is
/// not Ethernet, the file cannot be read to its end, or it contains no frame.
///
/// A step in time between two frames longer than [`GAP_NANOS`], forwards or
/// backwards, is shortened to [`GAP_NANOS`]: flows idle that long time out in
/// exflow either way, and the output then spans months, not decades, so its
/// stamps fit the 32-bit seconds of classic pcap.
pub fn read_source(path: &Path) -> Result<Source, String> {
    let mut input = open(path).map_err(|error| error.to_string())?;
    let mut reader = input.reader();
    let mut frames = Vec::new();
    let mut previous = None;
    let (mut offset_nanos, mut span_nanos) = (0i64, 0i64);
    while let Some(next) = reader.next_frame() {
        let frame = next.map_err(|error| error.to_string())?;
        if frame.link != LinkType::ETHERNET {
            return Err(format!("link type {} is not Ethernet", frame.link.0));
        }
        if let Some(previous) = previous {
            let step = frame.ts.nanos_since(previous).clamp(-GAP_NANOS, GAP_NANOS);
            offset_nanos += step;
        }
        previous = Some(frame.ts);
        span_nanos = span_nanos.max(offset_nanos);
        frames.push(SourceFrame {
            offset_nanos,
            orig_len: frame.orig_len,
            data: frame.data.to_vec(),
        });
    }
    if reader.stats().corrupt_blocks > 0 {
        return Err("corrupt blocks".to_string());
    }
    if frames.is_empty() {
        return Err("no frames".to_string());
    }
    Ok(Source { frames, span_nanos })
}

/// Returns the capture files of `dir` (names containing `.pcap`), sorted.
pub fn capture_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let is_capture = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.contains(".pcap"));
        if is_capture && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Frame and byte counts of a file [`write_copies`] wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub frames: u64,
    pub bytes: u64,
}

/// Writes `copies` copies of every source, one source copy after another in
/// time, as a classic pcap file with nanosecond stamps.
///
/// Copies run in groups of `together` (the last group may be smaller): each
/// frame is written once for every copy of its group, with the same stamp,
/// before the next frame. The frames and bytes are those of `together = 1`,
/// but `together` times as many flows are open at once. Copies that run
/// together can meet: a source whose flows differ only in the low address
/// bits that [`readdress_ethernet`] changes (a host and its broadcast
/// address) gives two copies one flow. With the default sources and all 196
/// copies together, 0.8% of the flows merge.
pub fn write_copies(
    sources: &[Source],
    copies: u16,
    together: u16,
    path: &Path,
) -> io::Result<Written> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    out.write_all(&0xa1b2_3c4du32.to_le_bytes())?;
    out.write_all(&2u16.to_le_bytes())?;
    out.write_all(&4u16.to_le_bytes())?;
    out.write_all(&0i32.to_le_bytes())?;
    out.write_all(&0u32.to_le_bytes())?;
    out.write_all(&SNAPLEN.to_le_bytes())?;
    out.write_all(&LinkType::ETHERNET.0.to_le_bytes())?;
    let mut written = Written {
        frames: 0,
        bytes: 24,
    };

    let mut cursor = START_NANOS;
    let mut data = Vec::new();
    let together = together.max(1);
    for first in (0..copies).step_by(usize::from(together)) {
        let group = first..first.saturating_add(together).min(copies);
        for source in sources {
            for frame in &source.frames {
                let ts = cursor + frame.offset_nanos;
                let secs = u32::try_from(ts.div_euclid(1_000_000_000)).map_err(io::Error::other)?;
                let nanos = ts.rem_euclid(1_000_000_000) as u32;
                for copy in group.clone() {
                    data.clear();
                    data.extend_from_slice(&frame.data);
                    readdress_ethernet(&mut data, copy);
                    let captured = u32::try_from(data.len()).map_err(io::Error::other)?;
                    out.write_all(&secs.to_le_bytes())?;
                    out.write_all(&nanos.to_le_bytes())?;
                    out.write_all(&captured.to_le_bytes())?;
                    out.write_all(&frame.orig_len.to_le_bytes())?;
                    out.write_all(&data)?;
                    written.frames += 1;
                    written.bytes += 16 + u64::from(captured);
                }
            }
            cursor += source.span_nanos + GAP_NANOS;
        }
    }
    out.flush()?;
    Ok(written)
}

/// Changes the addresses of the first IPv4 or IPv6 header of an Ethernet
/// frame (found past VLAN tags, MPLS, PPPoE, FabricPath and the other headers
/// exflow's decoder walks) for `copy`, and adjusts the checksums that cover
/// them. Copy 0 and frames without IP are left as they are.
pub fn readdress_ethernet(frame: &mut [u8], copy: u16) {
    if copy == 0 {
        return;
    }
    let Some(offset) = network_offset(LinkType::ETHERNET, frame) else {
        return;
    };
    let ip = &mut frame[offset..];
    match ip.first().map(|byte| byte >> 4) {
        Some(4) => readdress_ipv4(ip, copy),
        Some(6) => readdress_ipv6(ip, copy),
        _ => {}
    }
}

/// XORs `copy` into the last 16 bits of each address: the network part of
/// every address stays, so private and multicast addresses stay what they are.
fn readdress_ipv4(ip: &mut [u8], copy: u16) {
    if ip.len() < 20 || ip[0] >> 4 != 4 {
        return;
    }
    let header_len = usize::from(ip[0] & 0x0f) * 4;
    if header_len < 20 || ip.len() < header_len {
        return;
    }
    let old = [word(ip, 14), word(ip, 18)];
    let new = [old[0] ^ copy, old[1] ^ copy];
    put_word(ip, 14, new[0]);
    put_word(ip, 18, new[1]);
    adjust_checksum(ip, 10, &old, &new, false, None);

    let fragment_offset = word(ip, 6) & 0x1fff;
    if fragment_offset != 0 {
        return;
    }
    let protocol = ip[9];
    let total_len = usize::from(word(ip, 2));
    let length = total_len.saturating_sub(header_len) as u32;
    let addresses = [word(ip, 12), word(ip, 14), word(ip, 16), word(ip, 18)];
    // The pseudo header before the change: the new words, back to the old.
    let before = pseudo_sum(&addresses, &old, &new, length, protocol);
    let payload = &mut ip[header_len..];
    match protocol {
        6 => adjust_checksum(payload, 16, &old, &new, false, Some(before)),
        17 => adjust_checksum(payload, 6, &old, &new, true, Some(before)),
        _ => {}
    }
}

/// Returns the folded sum of a TCP or UDP pseudo header (RFC 9293 §3.1, RFC
/// 8200 §8.1) whose address words are `addresses` with the words `new` put
/// back to `old`.
fn pseudo_sum(addresses: &[u16], old: &[u16], new: &[u16], length: u32, protocol: u8) -> u16 {
    let mut sum: u32 = addresses.iter().map(|&word| u32::from(word)).sum();
    for (&before, &after) in old.iter().zip(new) {
        sum += u32::from(before) + u32::from(!after);
    }
    sum += (length >> 16) + (length & 0xffff) + u32::from(protocol);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// IPv6 version of [`readdress_ipv4`]: the last 16 bits of each address
/// change, and the upper-layer checksum after the extension headers follows.
fn readdress_ipv6(ip: &mut [u8], copy: u16) {
    if ip.len() < 40 || ip[0] >> 4 != 6 {
        return;
    }
    let old = [word(ip, 22), word(ip, 38)];
    let new = [old[0] ^ copy, old[1] ^ copy];
    put_word(ip, 22, new[0]);
    put_word(ip, 38, new[1]);

    // The pseudo-header of a packet with a routing header contains the final
    // destination, which stays, so only the source change counts then.
    let mut changed = 2;
    let mut next = ip[6];
    let mut at = 40;
    loop {
        match next {
            0 | 60 | 43 => {
                let Some(&len) = ip.get(at + 1) else { return };
                if next == 43 && ip.get(at + 3).is_some_and(|&left| left > 0) {
                    changed = 1;
                }
                next = ip[at];
                at += (usize::from(len) + 1) * 8;
            }
            44 => {
                let Some(offset) = read_u16(ip, at + 2) else {
                    return;
                };
                if offset >> 3 != 0 {
                    return;
                }
                next = ip[at];
                at += 8;
            }
            51 => {
                let Some(&len) = ip.get(at + 1) else { return };
                next = ip[at];
                at += (usize::from(len) + 2) * 4;
            }
            _ => break,
        }
    }
    let payload_len = usize::from(word(ip, 4)) + 40;
    let length = payload_len.saturating_sub(at) as u32;
    let addresses: Vec<u16> = (8..40).step_by(2).map(|at| word(ip, at)).collect();
    let (old, new) = (&old[..changed], &new[..changed]);
    // With a routing header the pseudo header contains another destination.
    let before = (changed == 2).then(|| pseudo_sum(&addresses, old, new, length, next));
    let Some(payload) = ip.get_mut(at..) else {
        return;
    };
    match next {
        6 => adjust_checksum(payload, 16, old, new, false, before),
        17 => adjust_checksum(payload, 6, old, new, true, before),
        58 => adjust_checksum(payload, 2, old, new, false, before),
        _ => {}
    }
}

/// Updates the one's complement checksum at `at` for 16-bit words that changed
/// from `old` to `new` (RFC 1624, equation 3). A checksum that was wrong stays
/// wrong by the same amount. A UDP checksum of 0 means none and stays 0. A
/// field equal to `partial`, the pseudo header's sum before the change, is the
/// partial checksum of a capture with checksum offload: it becomes the new
/// pseudo header's sum, so that it stays partial.
fn adjust_checksum(
    bytes: &mut [u8],
    at: usize,
    old: &[u16],
    new: &[u16],
    udp: bool,
    partial: Option<u16>,
) {
    let Some(checksum) = read_u16(bytes, at) else {
        return;
    };
    if udp && checksum == 0 {
        return;
    }
    if Some(checksum) == partial {
        let mut sum = u32::from(checksum);
        for (&before, &after) in old.iter().zip(new) {
            sum += u32::from(!before) + u32::from(after);
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        put_word(bytes, at, sum as u16);
        return;
    }
    let mut sum = u32::from(!checksum);
    for (&before, &after) in old.iter().zip(new) {
        sum += u32::from(!before) + u32::from(after);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let mut adjusted = !(sum as u16);
    if udp && adjusted == 0 {
        adjusted = 0xffff;
    }
    put_word(bytes, at, adjusted);
}

fn read_u16(bytes: &[u8], at: usize) -> Option<u16> {
    let pair = bytes.get(at..at + 2)?;
    Some(u16::from_be_bytes([pair[0], pair[1]]))
}

fn word(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

fn put_word(bytes: &mut [u8], at: usize, value: u16) {
    bytes[at..at + 2].copy_from_slice(&value.to_be_bytes());
}
