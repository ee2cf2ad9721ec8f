//! A minimal classic pcap and pcapng walker for the decode tests, so they can run
//! before the capture readers exist. It reads whole files into memory, stops at
//! the first damaged record and reads only the blocks that contain packets.
// TODO: replace with the crate's capture reader once it lands.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use exflow::capture::{Frame, LinkType, Timestamp};

/// One frame with its bytes copied out of the file.
pub struct OwnedFrame {
    pub ts: Timestamp,
    pub link: LinkType,
    pub data: Vec<u8>,
    pub orig_len: u32,
    pub interface: u32,
    pub offset: u64,
}

impl OwnedFrame {
    pub fn frame(&self) -> Frame<'_> {
        Frame {
            ts: self.ts,
            link: self.link,
            data: &self.data,
            orig_len: self.orig_len,
            interface: self.interface,
            offset: self.offset,
        }
    }
}

pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

/// Reads every frame of a corpus file.
pub fn read_corpus(name: &str) -> Vec<OwnedFrame> {
    let path = corpus_dir().join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    read_frames(&bytes)
}

pub fn read_frames(bytes: &[u8]) -> Vec<OwnedFrame> {
    match bytes.get(..4) {
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => read_pcapng(bytes),
        Some(_) => read_pcap(bytes),
        None => Vec::new(),
    }
}

fn u16_at(bytes: &[u8], at: usize, big_endian: bool) -> Option<u16> {
    let b: [u8; 2] = bytes.get(at..at + 2)?.try_into().ok()?;
    Some(if big_endian {
        u16::from_be_bytes(b)
    } else {
        u16::from_le_bytes(b)
    })
}

fn u32_at(bytes: &[u8], at: usize, big_endian: bool) -> Option<u32> {
    let b: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    })
}

fn read_pcap(bytes: &[u8]) -> Vec<OwnedFrame> {
    let (big_endian, nanos) = match bytes.get(..4) {
        Some([0xd4, 0xc3, 0xb2, 0xa1]) => (false, false),
        Some([0xa1, 0xb2, 0xc3, 0xd4]) => (true, false),
        Some([0x4d, 0x3c, 0xb2, 0xa1]) => (false, true),
        Some([0xa1, 0xb2, 0x3c, 0x4d]) => (true, true),
        _ => return Vec::new(),
    };
    // The upper bits of the link type field carry FCS information.
    let Some(link) = u32_at(bytes, 20, big_endian).map(|l| LinkType(l & 0xffff)) else {
        return Vec::new();
    };
    let mut frames = Vec::new();
    let mut at = 24;
    while let (Some(secs), Some(frac), Some(caplen), Some(orig_len)) = (
        u32_at(bytes, at, big_endian),
        u32_at(bytes, at + 4, big_endian),
        u32_at(bytes, at + 8, big_endian),
        u32_at(bytes, at + 12, big_endian),
    ) {
        let Some(data) = bytes.get(at + 16..at + 16 + caplen as usize) else {
            break;
        };
        let nanos_part = if nanos {
            frac
        } else {
            frac.saturating_mul(1000)
        };
        frames.push(OwnedFrame {
            ts: Timestamp::from_secs_nanos(i64::from(secs), nanos_part),
            link,
            data: data.to_vec(),
            orig_len,
            interface: 0,
            offset: at as u64,
        });
        at += 16 + caplen as usize;
    }
    frames
}

fn read_pcapng(bytes: &[u8]) -> Vec<OwnedFrame> {
    let mut frames = Vec::new();
    let mut interfaces: Vec<(LinkType, u64)> = Vec::new();
    let mut big_endian = false;
    let mut at = 0;
    while let Some(kind) = u32_at(bytes, at, big_endian) {
        if kind == 0x0a0d0d0a {
            big_endian = bytes.get(at + 8..at + 12) == Some(&[0x1a, 0x2b, 0x3c, 0x4d]);
            interfaces.clear();
        }
        let Some(len) = u32_at(bytes, at + 4, big_endian).map(|l| l as usize) else {
            break;
        };
        let Some(body) = bytes.get(at + 8..(at + len).saturating_sub(4)) else {
            break;
        };
        if len < 12 {
            break;
        }
        match kind {
            1 => {
                let link = LinkType(u32::from(u16_at(body, 0, big_endian).unwrap_or(0)));
                interfaces.push((link, ts_units(body.get(8..).unwrap_or(&[]), big_endian)));
            }
            6 => {
                let (Some(id), Some(high), Some(low), Some(caplen), Some(orig_len)) = (
                    u32_at(body, 0, big_endian),
                    u32_at(body, 4, big_endian),
                    u32_at(body, 8, big_endian),
                    u32_at(body, 12, big_endian),
                    u32_at(body, 16, big_endian),
                ) else {
                    break;
                };
                let Some(data) = body.get(20..20 + caplen as usize) else {
                    break;
                };
                let Some(&(link, units)) = interfaces.get(id as usize) else {
                    break;
                };
                let raw = (u64::from(high) << 32) | u64::from(low);
                let nanos = (raw as u128 * 1_000_000_000 / units as u128) as i64;
                frames.push(OwnedFrame {
                    ts: Timestamp(nanos),
                    link,
                    data: data.to_vec(),
                    orig_len,
                    interface: id,
                    offset: at as u64,
                });
            }
            3 => {
                let Some(orig_len) = u32_at(body, 0, big_endian) else {
                    break;
                };
                let Some(&(link, _)) = interfaces.first() else {
                    break;
                };
                let data = &body[4..body.len().min(4 + orig_len as usize)];
                frames.push(OwnedFrame {
                    ts: Timestamp(0),
                    link,
                    data: data.to_vec(),
                    orig_len,
                    interface: 0,
                    offset: at as u64,
                });
            }
            _ => {}
        }
        at += len;
    }
    frames
}

/// Returns the timestamp units per second from an interface's options
/// (if_tsresol, option 9; default microseconds).
fn ts_units(mut options: &[u8], big_endian: bool) -> u64 {
    while let (Some(code), Some(len)) = (
        u16_at(options, 0, big_endian),
        u16_at(options, 2, big_endian),
    ) {
        if code == 0 {
            break;
        }
        if code == 9 && len >= 1 {
            let resolution = options.get(4).copied().unwrap_or(6);
            return if resolution & 0x80 != 0 {
                1u64 << (resolution & 0x7f).min(63)
            } else {
                10u64.saturating_pow(u32::from(resolution))
            };
        }
        let padded = 4 + usize::from(len).div_ceil(4) * 4;
        options = options.get(padded..).unwrap_or(&[]);
    }
    1_000_000
}
