//! Test helpers for the capture readers: the corpus, owned copies of frames,
//! readers that hand out odd chunks, byte-order conversion of pcap files and a
//! small pcapng writer.

#![allow(dead_code)]

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use exflow::capture::{CaptureError, CaptureStats, FrameSource, SliceReader, StreamReader};
use exflow::capture::{Frame, LinkType, Timestamp};

/// Returns the corpus folder beside the repository.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

pub fn corpus_path(name: &str) -> PathBuf {
    corpus_dir().join(name)
}

pub fn corpus_bytes(name: &str) -> Vec<u8> {
    let path = corpus_path(name);
    fs::read(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// One row of the corpus's provenance.tsv.
#[derive(Clone, Debug)]
pub struct ProvenanceRow {
    pub name: String,
    pub size: u64,
    pub format: String,
    pub linktype: String,
    /// Frames tshark counted; `None` when the column is empty.
    pub packets: Option<u64>,
    /// Set when tshark read the file to its end.
    pub tshark_read_ok: bool,
}

/// Reads provenance.tsv; panics when a column the tests need is missing.
pub fn provenance() -> Vec<ProvenanceRow> {
    let text = fs::read_to_string(corpus_dir().join("provenance.tsv"))
        .expect("provenance.tsv is readable");
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .expect("provenance.tsv has a header")
        .split('\t')
        .collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|column| *column == name)
            .unwrap_or_else(|| panic!("provenance.tsv has no column {name}"))
    };
    let (name, size, format, linktype, packets, tshark) = (
        column("corpus_name"),
        column("size"),
        column("format"),
        column("linktype"),
        column("packets"),
        column("tshark_read"),
    );

    lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            ProvenanceRow {
                name: fields[name].to_string(),
                size: fields[size].parse().expect("size is a number"),
                format: fields[format].to_string(),
                linktype: fields[linktype].to_string(),
                packets: fields[packets].parse().ok(),
                tshark_read_ok: fields[tshark] == "ok",
            }
        })
        .collect()
}

/// A frame copied out of its reader's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedFrame {
    pub ts: Timestamp,
    pub link: LinkType,
    pub data: Vec<u8>,
    pub orig_len: u32,
    pub interface: u32,
    pub offset: u64,
}

impl From<Frame<'_>> for OwnedFrame {
    fn from(frame: Frame<'_>) -> OwnedFrame {
        OwnedFrame {
            ts: frame.ts,
            link: frame.link,
            data: frame.data.to_vec(),
            orig_len: frame.orig_len,
            interface: frame.interface,
            offset: frame.offset,
        }
    }
}

/// Everything a reader yields for one input.
#[derive(Debug)]
pub struct ReadOutcome {
    pub frames: Vec<OwnedFrame>,
    /// The error that ended the input, if one did.
    pub error: Option<CaptureError>,
    pub stats: CaptureStats,
}

/// Drains a frame source, checking that nothing follows its end or its error.
pub fn drain(source: &mut dyn FrameSource) -> ReadOutcome {
    let mut frames = Vec::new();
    let mut error = None;
    while let Some(result) = source.next_frame() {
        match result {
            Ok(frame) => frames.push(OwnedFrame::from(frame)),
            Err(caught) => {
                error = Some(caught);
                break;
            }
        }
    }
    assert!(
        source.next_frame().is_none(),
        "{}: a frame followed the end",
        source.input_name()
    );
    ReadOutcome {
        frames,
        error,
        stats: source.stats().clone(),
    }
}

/// Reads `bytes` with a [`SliceReader`]; returns the constructor's error as `Err`.
pub fn read_slice(bytes: &[u8], name: &str) -> Result<ReadOutcome, CaptureError> {
    let mut reader = SliceReader::new(bytes, name)?;
    Ok(drain(&mut reader))
}

/// Reads `bytes` with a [`StreamReader`] of `buffer_len` bytes that receives
/// them in chunks of 1 to 7 bytes; returns the constructor's error as `Err`.
pub fn read_stream_chunked(
    bytes: &[u8],
    name: &str,
    buffer_len: usize,
) -> Result<ReadOutcome, CaptureError> {
    let mut reader = StreamReader::with_buffer_len(OddChunks::new(bytes), name, buffer_len)?;
    Ok(drain(&mut reader))
}

/// A reader that returns 1 to 7 bytes per call, in a fixed pseudo-random order.
pub struct OddChunks<'a> {
    bytes: &'a [u8],
    state: u32,
}

impl<'a> OddChunks<'a> {
    pub fn new(bytes: &'a [u8]) -> OddChunks<'a> {
        OddChunks {
            bytes,
            state: 0x9e37_79b9,
        }
    }
}

impl Read for OddChunks<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        // xorshift32: a fixed sequence, so failures repeat.
        self.state ^= self.state << 13;
        self.state ^= self.state >> 17;
        self.state ^= self.state << 5;
        let chunk = 1 + (self.state % 7) as usize;
        let count = chunk.min(buffer.len()).min(self.bytes.len());
        buffer[..count].copy_from_slice(&self.bytes[..count]);
        self.bytes = &self.bytes[count..];
        Ok(count)
    }
}

/// Rewrites a little-endian classic pcap file with big-endian headers; packet
/// data stays as it is. Panics on input that is not a whole little-endian pcap.
pub fn pcap_to_big_endian(bytes: &[u8]) -> Vec<u8> {
    assert!(matches!(
        bytes[..4],
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1]
    ));
    let mut out = bytes.to_vec();
    let swap = |out: &mut [u8], at: usize, width: usize| out[at..at + width].reverse();

    swap(&mut out, 0, 4);
    swap(&mut out, 4, 2);
    swap(&mut out, 6, 2);
    for at in [8, 12, 16, 20] {
        swap(&mut out, at, 4);
    }
    let mut position = 24;
    while position < bytes.len() {
        let captured =
            u32::from_le_bytes(bytes[position + 8..position + 12].try_into().unwrap()) as usize;
        for at in [0, 4, 8, 12] {
            swap(&mut out, position + at, 4);
        }
        position += 16 + captured;
    }
    assert_eq!(position, bytes.len(), "the file ends inside a record");
    out
}

/// Byte order of a [`PcapngWriter`] section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Little,
    Big,
}

/// A test-only pcapng writer: appends blocks in the byte order of the current
/// section.
pub struct PcapngWriter {
    bytes: Vec<u8>,
    order: Order,
}

impl PcapngWriter {
    pub fn new() -> PcapngWriter {
        PcapngWriter {
            bytes: Vec::new(),
            order: Order::Little,
        }
    }

    /// Appends bytes written by another writer, such as a whole real file.
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(bytes);
        self
    }

    /// Starts a section of version 1.0 in `order`.
    pub fn section(&mut self, order: Order) -> &mut Self {
        self.section_version(order, 1, 0)
    }

    pub fn section_version(&mut self, order: Order, major: u16, minor: u16) -> &mut Self {
        self.order = order;
        let mut body = Vec::new();
        body.extend(self.u32(0x1A2B_3C4D));
        body.extend(self.u16(major));
        body.extend(self.u16(minor));
        body.extend(self.u64(u64::MAX));
        self.block(0x0A0D_0D0A, &body)
    }

    /// Appends an interface description block; `tsresol` and `tsoffset` become
    /// options when given.
    pub fn interface(
        &mut self,
        link: LinkType,
        snaplen: u32,
        tsresol: Option<u8>,
        tsoffset: Option<i64>,
    ) -> &mut Self {
        let mut body = Vec::new();
        body.extend(self.u16(link.0 as u16));
        body.extend(self.u16(0));
        body.extend(self.u32(snaplen));
        // An if_name option that the reader has to skip.
        body.extend(self.option(2, b"eth-test"));
        if let Some(resolution) = tsresol {
            body.extend(self.option(9, &[resolution]));
        }
        if let Some(offset) = tsoffset {
            let value = self.u64(offset as u64);
            body.extend(self.option(14, &value));
        }
        body.extend(self.option(0, &[]));
        self.block(1, &body)
    }

    pub fn enhanced_packet(
        &mut self,
        interface: u32,
        ts_units: u64,
        data: &[u8],
        orig_len: u32,
    ) -> &mut Self {
        let mut body = Vec::new();
        body.extend(self.u32(interface));
        body.extend(self.u32((ts_units >> 32) as u32));
        body.extend(self.u32(ts_units as u32));
        body.extend(self.u32(data.len() as u32));
        body.extend(self.u32(orig_len));
        body.extend_from_slice(data);
        pad(&mut body);
        // An epb_flags option that the reader has to skip.
        body.extend(self.option(2, &self.u32(1)));
        body.extend(self.option(0, &[]));
        self.block(6, &body)
    }

    /// Appends an obsolete packet block (type 2).
    pub fn packet(
        &mut self,
        interface: u16,
        ts_units: u64,
        data: &[u8],
        orig_len: u32,
    ) -> &mut Self {
        let mut body = Vec::new();
        body.extend(self.u16(interface));
        body.extend(self.u16(0));
        body.extend(self.u32((ts_units >> 32) as u32));
        body.extend(self.u32(ts_units as u32));
        body.extend(self.u32(data.len() as u32));
        body.extend(self.u32(orig_len));
        body.extend_from_slice(data);
        pad(&mut body);
        self.block(2, &body)
    }

    /// Appends a simple packet block holding `data` and claiming `orig_len`.
    pub fn simple_packet(&mut self, data: &[u8], orig_len: u32) -> &mut Self {
        let mut body = Vec::new();
        body.extend(self.u32(orig_len));
        body.extend_from_slice(data);
        pad(&mut body);
        self.block(3, &body)
    }

    /// Appends a block of any type with `body` padded to 32 bits.
    pub fn block(&mut self, block_type: u32, body: &[u8]) -> &mut Self {
        let mut body = body.to_vec();
        pad(&mut body);
        let total = (body.len() + 12) as u32;
        let (type_bytes, total_bytes) = (self.u32(block_type), self.u32(total));
        self.bytes.extend(type_bytes);
        self.bytes.extend(total_bytes);
        self.bytes.extend(body);
        self.bytes.extend(total_bytes);
        self
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.bytes.clone()
    }

    fn option(&self, code: u16, value: &[u8]) -> Vec<u8> {
        let mut option = Vec::new();
        option.extend(self.u16(code));
        option.extend(self.u16(value.len() as u16));
        option.extend_from_slice(value);
        pad(&mut option);
        option
    }

    fn u16(&self, value: u16) -> [u8; 2] {
        match self.order {
            Order::Little => value.to_le_bytes(),
            Order::Big => value.to_be_bytes(),
        }
    }

    fn u32(&self, value: u32) -> [u8; 4] {
        match self.order {
            Order::Little => value.to_le_bytes(),
            Order::Big => value.to_be_bytes(),
        }
    }

    fn u64(&self, value: u64) -> [u8; 8] {
        match self.order {
            Order::Little => value.to_le_bytes(),
            Order::Big => value.to_be_bytes(),
        }
    }
}

fn pad(bytes: &mut Vec<u8>) {
    bytes.resize(bytes.len().next_multiple_of(4), 0);
}

/// Returns the frames of a corpus file that must read without error.
pub fn corpus_frames(name: &str) -> Vec<OwnedFrame> {
    let outcome = read_slice(&corpus_bytes(name), name).expect("corpus file opens");
    assert!(outcome.error.is_none(), "{name}: {:?}", outcome.error);
    outcome.frames
}
