//! Facts and counters a reader gathers about its input (format, interfaces,
//! frames, skipped and corrupt blocks) for the run summary.

use std::fmt;

use super::error::{CaptureError, CaptureErrorKind, Problem, RecordKind, Unsupported};
use super::{LinkType, Timestamp};

/// Number of corrupt blocks whose offset and problem [`CaptureStats`] keeps; later
/// ones are only counted.
pub const MAX_CORRUPT_NOTES: usize = 16;

/// Number of interfaces [`CaptureStats`] lists, over all sections; later ones
/// are only counted.
pub const MAX_LISTED_INTERFACES: usize = 4096;

/// Byte order of a capture's headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    Little,
    Big,
}

impl ByteOrder {
    /// Returns the short name capture tools use: `le` or `be`.
    pub fn short_name(self) -> &'static str {
        match self {
            ByteOrder::Little => "le",
            ByteOrder::Big => "be",
        }
    }
}

impl From<ByteOrder> for nom::number::Endianness {
    fn from(order: ByteOrder) -> nom::number::Endianness {
        match order {
            ByteOrder::Little => nom::number::Endianness::Little,
            ByteOrder::Big => nom::number::Endianness::Big,
        }
    }
}

/// The container format of a capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureFormat {
    /// Classic pcap; `nanosecond` is set by the 0xA1B23C4D magic.
    Pcap {
        byte_order: ByteOrder,
        nanosecond: bool,
    },
    /// pcapng, with the byte order of its first section.
    Pcapng { byte_order: ByteOrder },
}

impl fmt::Display for CaptureFormat {
    /// Writes names like `pcap-le-usec`, `pcap-be-nsec` or `pcapng-le`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CaptureFormat::Pcap {
                byte_order,
                nanosecond,
            } => {
                let unit = if nanosecond { "nsec" } else { "usec" };
                write!(f, "pcap-{}-{unit}", byte_order.short_name())
            }
            CaptureFormat::Pcapng { byte_order } => {
                write!(f, "pcapng-{}", byte_order.short_name())
            }
        }
    }
}

/// The unit of an interface's timestamps: 10^-n or 2^-n seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TsResolution {
    /// 10^-n seconds.
    Decimal(u8),
    /// 2^-n seconds.
    Binary(u8),
}

impl TsResolution {
    pub const MICROSECONDS: TsResolution = TsResolution::Decimal(6);
    pub const NANOSECONDS: TsResolution = TsResolution::Decimal(9);

    /// Decodes the one-byte `if_tsresol` value: the most significant bit selects
    /// base 2, the other seven bits are the negative exponent (pcapng draft,
    /// section 4.2).
    pub fn from_if_tsresol(value: u8) -> TsResolution {
        let exponent = value & 0x7f;
        if value & 0x80 == 0 {
            TsResolution::Decimal(exponent)
        } else {
            TsResolution::Binary(exponent)
        }
    }
}

impl fmt::Display for TsResolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TsResolution::Decimal(6) => f.write_str("microseconds"),
            TsResolution::Decimal(9) => f.write_str("nanoseconds"),
            TsResolution::Decimal(n) => write!(f, "10^-{n} s"),
            TsResolution::Binary(n) => write!(f, "2^-{n} s"),
        }
    }
}

/// One capture interface: the single implicit one of a pcap file, or one
/// interface description block of a pcapng section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// Index of the pcapng section, counting from 0 (0 for pcap).
    pub section: u32,
    /// Index of the interface within its section, as [`Frame::interface`](super::Frame) carries it.
    pub index: u32,
    pub link: LinkType,
    /// Snapshot length; 0 means no limit.
    pub snaplen: u32,
    pub ts_resolution: TsResolution,
    /// `if_tsoffset`: seconds added to every timestamp of the interface.
    pub ts_offset_secs: i64,
}

/// A corrupt pcapng block that a reader skipped before reading on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CorruptBlock {
    /// Byte offset of the corrupt block.
    pub offset: u64,
    pub record: RecordKind,
    pub problem: Problem,
    /// Byte offset where reading went on: the next block, or the next plausible
    /// block found by resynchronising.
    pub resumed_at: u64,
}

impl CorruptBlock {
    /// Returns the error this block would have been, for display.
    pub fn to_error(&self, input: &str) -> CaptureError {
        CaptureError::new(
            input,
            CaptureErrorKind::Corrupt {
                offset: self.offset,
                record: self.record,
                problem: self.problem,
            },
        )
    }
}

/// Counters and facts a reader gathers while it walks its input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureStats {
    pub format: CaptureFormat,
    /// Frames yielded.
    pub frames: u64,
    /// Captured bytes of the frames yielded.
    pub frame_bytes: u64,
    /// Earliest and latest frame timestamps; `None` before the first frame.
    /// Frames need not be in time order, so these are a minimum and a maximum.
    pub time_span: Option<(Timestamp, Timestamp)>,
    /// Bytes of input consumed: headers, frames, skipped blocks.
    pub bytes_read: u64,
    /// pcapng sections started (0 for pcap).
    pub sections: u32,
    /// pcapng sections of an unsupported version, whose blocks were skipped.
    pub sections_skipped: u32,
    /// The byte offset and version of the first [`MAX_CORRUPT_NOTES`] sections
    /// skipped.
    pub skipped_section_notes: Vec<(u64, Unsupported)>,
    /// Interfaces seen, in order, up to [`MAX_LISTED_INTERFACES`].
    pub interfaces: Vec<InterfaceInfo>,
    /// Interfaces seen beyond [`MAX_LISTED_INTERFACES`].
    pub interfaces_unlisted: u64,
    /// Frames whose captured length exceeded their snapshot length and whose data
    /// was cut to it, as libpcap does.
    pub frames_cut_to_snaplen: u64,
    /// pcapng blocks without packets that were passed over: name resolution,
    /// interface statistics, decryption secrets, custom and unknown blocks.
    pub blocks_skipped: u64,
    /// Corrupt pcapng blocks skipped.
    pub corrupt_blocks: u64,
    /// Bytes passed over because they were part of a corrupt block.
    pub corrupt_bytes: u64,
    /// The first [`MAX_CORRUPT_NOTES`] corrupt blocks.
    pub corrupt_notes: Vec<CorruptBlock>,
    /// Frames whose timestamp lay outside the years 1677 to 2262, the range of
    /// a [`Timestamp`], and was set to the nearer end.
    pub timestamps_clamped: u64,
    /// The byte offset of the first such frame's record.
    pub first_clamped_offset: Option<u64>,
}

impl CaptureStats {
    pub fn new(format: CaptureFormat) -> CaptureStats {
        CaptureStats {
            format,
            frames: 0,
            frame_bytes: 0,
            time_span: None,
            bytes_read: 0,
            sections: 0,
            sections_skipped: 0,
            skipped_section_notes: Vec::new(),
            interfaces: Vec::new(),
            interfaces_unlisted: 0,
            frames_cut_to_snaplen: 0,
            blocks_skipped: 0,
            corrupt_blocks: 0,
            corrupt_bytes: 0,
            corrupt_notes: Vec::new(),
            timestamps_clamped: 0,
            first_clamped_offset: None,
        }
    }

    /// Counts a frame, at the record at byte `offset`, whose timestamp was
    /// clamped to the range of [`Timestamp`].
    #[cold]
    pub(crate) fn add_clamped_timestamp(&mut self, offset: u64) {
        self.timestamps_clamped += 1;
        self.first_clamped_offset.get_or_insert(offset);
    }

    /// Counts a frame yielded with `len` captured bytes.
    #[inline(always)]
    pub(crate) fn add_frame(&mut self, ts: Timestamp, len: usize) {
        self.frames += 1;
        self.frame_bytes += len as u64;
        self.time_span = match self.time_span {
            None => Some((ts, ts)),
            Some((earliest, latest)) => Some((earliest.min(ts), latest.max(ts))),
        };
    }

    pub(crate) fn add_interface(&mut self, interface: InterfaceInfo) {
        if self.interfaces.len() < MAX_LISTED_INTERFACES {
            self.interfaces.push(interface);
        } else {
            self.interfaces_unlisted += 1;
        }
    }

    pub(crate) fn add_corrupt(&mut self, block: CorruptBlock) {
        log::debug!(
            "capture: skipped corrupt {} at byte offset {}: {}",
            block.record,
            block.offset,
            block.problem
        );
        self.corrupt_blocks += 1;
        self.corrupt_bytes += block.resumed_at.saturating_sub(block.offset);
        if self.corrupt_notes.len() < MAX_CORRUPT_NOTES {
            self.corrupt_notes.push(block);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_match_capture_tools() {
        let pcap = CaptureFormat::Pcap {
            byte_order: ByteOrder::Big,
            nanosecond: true,
        };
        let pcapng = CaptureFormat::Pcapng {
            byte_order: ByteOrder::Little,
        };

        assert_eq!(pcap.to_string(), "pcap-be-nsec");
        assert_eq!(pcapng.to_string(), "pcapng-le");
    }

    #[test]
    fn if_tsresol_selects_base_by_top_bit() {
        assert_eq!(TsResolution::from_if_tsresol(6), TsResolution::Decimal(6));
        assert_eq!(
            TsResolution::from_if_tsresol(0x8a),
            TsResolution::Binary(10)
        );
    }

    #[test]
    fn corrupt_notes_are_capped_but_counted() {
        let mut stats = CaptureStats::new(CaptureFormat::Pcapng {
            byte_order: ByteOrder::Little,
        });
        let block = CorruptBlock {
            offset: 100,
            record: RecordKind::PcapRecord,
            problem: Problem::TooManyInterfaces { max: 1 },
            resumed_at: 132,
        };

        for _ in 0..MAX_CORRUPT_NOTES + 3 {
            stats.add_corrupt(block);
        }

        assert_eq!(stats.corrupt_blocks, MAX_CORRUPT_NOTES as u64 + 3);
        assert_eq!(stats.corrupt_notes.len(), MAX_CORRUPT_NOTES);
        assert_eq!(stats.corrupt_bytes, 32 * (MAX_CORRUPT_NOTES as u64 + 3));
    }
}
