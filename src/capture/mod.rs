//! Capture input: classic pcap and pcapng files, memory-mapped or streamed from
//! standard input, and (with the `live` feature) live interfaces.
//!
//! Readers yield [`Frame`]s: the captured bytes of one packet with its capture
//! timestamp and link type. They never decode past the link-layer header type.
//!
//! [`open`] opens a path or `-`. A regular file is memory-mapped, and a
//! [`SliceReader`] walks the map or a [`StreamReader`] reads the file through
//! `read` calls ([`MappedCapture::stream`]). Anything else is read by a
//! [`StreamReader`]. Both implement [`FrameSource`]. The analysis uses
//! [`open_stream`](reader::open_stream), which reads every input through `read`
//! calls and maps nothing.

use std::fmt;

pub mod error;
#[cfg(feature = "live")]
pub mod live;
pub mod pcap;
pub mod pcapng;
pub mod reader;
pub mod stats;

pub use error::{CaptureError, CaptureErrorKind};
pub use reader::{
    CaptureInput, ChunkPool, FileRange, FrameSource, InputReader, MappedCapture, SliceReader,
    StreamReader, open,
};
pub use stats::{CaptureFormat, CaptureStats, InterfaceInfo, TsResolution};

/// A capture timestamp: nanoseconds since the Unix epoch, UTC.
///
/// Capture time, not wall-clock time, drives every timer in exflow, so a capture
/// gives the same records on every run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const NANOS_PER_SEC: i64 = 1_000_000_000;

    pub fn from_secs_nanos(secs: i64, nanos: u32) -> Timestamp {
        Timestamp(
            secs.saturating_mul(Self::NANOS_PER_SEC)
                .saturating_add(nanos as i64),
        )
    }

    pub fn secs(self) -> i64 {
        self.0.div_euclid(Self::NANOS_PER_SEC)
    }

    pub fn subsec_nanos(self) -> u32 {
        self.0.rem_euclid(Self::NANOS_PER_SEC) as u32
    }

    /// Returns `self - earlier` in nanoseconds, saturating.
    pub fn nanos_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// A link-layer header type, as numbered in the tcpdump.org LINKTYPE_ registry
/// (pcap and pcapng store the same values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const PPP: LinkType = LinkType(9);
    pub const RAW: LinkType = LinkType(101);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// Returns the registry name, or `None` for a value exflow has no name for.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "NULL",
            1 => "ETHERNET",
            9 => "PPP",
            101 => "RAW",
            108 => "LOOP",
            113 => "LINUX_SLL",
            228 => "IPV4",
            229 => "IPV6",
            276 => "LINUX_SLL2",
            _ => return None,
        })
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "LINKTYPE_{name} ({})", self.0),
            None => write!(f, "link type {}", self.0),
        }
    }
}

/// One captured packet as the capture file stores it.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    pub ts: Timestamp,
    pub link: LinkType,
    /// Captured bytes; shorter than `orig_len` when the snapshot length cut the packet.
    pub data: &'a [u8],
    /// Length of the packet on the wire.
    pub orig_len: u32,
    /// Interface index within a pcapng section (0 for classic pcap); in live
    /// capture, the interface's position on the command line.
    pub interface: u32,
    /// Byte offset of the packet's record in its input, for error messages.
    pub offset: u64,
}
