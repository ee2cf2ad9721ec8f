//! Errors of the capture readers.
//!
//! Every error names its input and, where a byte of it is at fault, the byte
//! offset. The variants keep the raw values (lengths, offsets, codes) rather than
//! finished sentences, so that another language can render the same data.

use std::fmt;
use std::io;

use super::pcapng::BlockType;

/// An error reading a capture: the input it came from and what went wrong.
#[derive(Debug, thiserror::Error)]
#[error("{input}: {kind}")]
pub struct CaptureError {
    /// The file name as given, or `standard input`.
    pub input: String,
    pub kind: CaptureErrorKind,
}

impl CaptureError {
    pub fn new(input: impl Into<String>, kind: CaptureErrorKind) -> CaptureError {
        CaptureError {
            input: input.into(),
            kind,
        }
    }

    /// Returns the byte offset the error refers to, if it refers to one.
    pub fn offset(&self) -> Option<u64> {
        match self.kind {
            CaptureErrorKind::Truncated { offset, .. }
            | CaptureErrorKind::Corrupt { offset, .. }
            | CaptureErrorKind::Unsupported { offset, .. } => Some(offset),
            CaptureErrorKind::Io { .. } | CaptureErrorKind::NotCapture { .. } => None,
        }
    }
}

/// The cause of a capture error.
#[derive(Debug, thiserror::Error)]
pub enum CaptureErrorKind {
    /// The operating system failed to open, map or read the input.
    #[error("{operation} failed: {source}")]
    Io {
        operation: IoOperation,
        source: io::Error,
    },

    /// The input starts with neither a pcap nor a pcapng magic number.
    #[error("{}", not_capture_message(first_bytes))]
    NotCapture {
        /// Up to the first four bytes of the input (fewer when the input is shorter).
        first_bytes: Vec<u8>,
    },

    /// The input ends inside a header, record or block.
    #[error("truncated {record} at byte offset {offset}: {}", truncation_detail(*part, *needed, *present))]
    Truncated {
        /// Byte offset of the start of the record or block.
        offset: u64,
        record: RecordKind,
        part: TruncatedPart,
        /// For [`TruncatedPart::Header`]: bytes the header needs. For
        /// [`TruncatedPart::Body`]: bytes the header announces (a pcap record's
        /// captured length, a pcapng block's total length).
        needed: u64,
        /// Bytes present where `needed` were expected.
        present: u64,
    },

    /// A header, record or block holds values that cannot be right.
    #[error("invalid {record} at byte offset {offset}: {problem}")]
    Corrupt {
        offset: u64,
        record: RecordKind,
        problem: Problem,
    },

    /// A valid capture file in a version exflow does not read.
    #[error(
        "{feature} at byte offset {offset} is not supported; convert the file with `editcap -F pcapng`"
    )]
    Unsupported { offset: u64, feature: Unsupported },
}

fn not_capture_message(first_bytes: &[u8]) -> String {
    if first_bytes.is_empty() {
        return "not a pcap or pcapng file: the input is empty".to_string();
    }
    let hex: String = first_bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "not a pcap or pcapng file: first bytes are 0x{hex}; exflow reads pcap and pcapng \
         (convert other formats with `editcap -F pcapng`)"
    )
}

fn truncation_detail(part: TruncatedPart, needed: u64, present: u64) -> String {
    match part {
        TruncatedPart::Header => format!("its header needs {needed} bytes, bytes left: {present}"),
        TruncatedPart::Body => format!("length in its header: {needed}, bytes left: {present}"),
    }
}

/// The system call behind an I/O error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoOperation {
    Open,
    Map,
    Read,
}

impl fmt::Display for IoOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IoOperation::Open => "open",
            IoOperation::Map => "memory map",
            IoOperation::Read => "read",
        })
    }
}

/// The part of a record in which the input ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TruncatedPart {
    /// The fixed-size header that carries the length.
    Header,
    /// The bytes the header announced.
    Body,
}

/// The kind of header, record or block an error refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    /// The 24-byte header of a classic pcap file.
    PcapFileHeader,
    /// A classic pcap packet record (16-byte header and packet data).
    PcapRecord,
    /// A pcapng block of the given type.
    PcapngBlock(BlockType),
    /// A pcapng block cut off before its type.
    PcapngBlockOfUnknownType,
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordKind::PcapFileHeader => f.write_str("pcap file header"),
            RecordKind::PcapRecord => f.write_str("packet record"),
            RecordKind::PcapngBlock(block_type) => write!(f, "{block_type}"),
            RecordKind::PcapngBlockOfUnknownType => f.write_str("pcapng block"),
        }
    }
}

/// The fault found in a corrupt header, record or block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A pcap record's captured length exceeds both the file's snapshot length and
    /// the maximum a reader accepts.
    CapturedLengthTooLarge {
        captured: u32,
        snaplen: u32,
        max: u32,
    },
    /// A pcapng block's total length is below the minimum for its type or not a
    /// multiple of 4.
    BlockLengthInvalid { length: u32, min: u32 },
    /// A pcapng block's total length exceeds the maximum a reader accepts.
    BlockTooLarge { length: u32, max: u32 },
    /// A pcapng block's leading and trailing total lengths differ.
    BlockLengthMismatch { leading: u32, trailing: u32 },
    /// A pcapng block's total length runs past the end of the input, and a valid
    /// block follows further on.
    BlockLengthBeyondInput { length: u32, remaining: u64 },
    /// A section header block's byte-order magic is not 0x1A2B3C4D in either
    /// byte order.
    ByteOrderMagicInvalid { value: u32 },
    /// A packet block's captured length exceeds the room its block leaves for data.
    CapturedLengthExceedsBlock { captured: u32, room: u32 },
    /// A packet block names an interface that no interface description block of
    /// its section defined.
    UnknownInterface { interface: u32, defined: u32 },
    /// A section defines more interfaces than a reader keeps.
    TooManyInterfaces { max: u32 },
    /// An option's length runs past the end of its block's options.
    OptionOverrun { code: u16, length: u16, room: u32 },
    /// An option has a length its code does not allow.
    OptionLengthInvalid { code: u16, length: u16 },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Problem::CapturedLengthTooLarge {
                captured,
                snaplen,
                max,
            } => write!(
                f,
                "captured length {captured} exceeds the snapshot length {snaplen} and the maximum {max}"
            ),
            Problem::BlockLengthInvalid { length, min } => write!(
                f,
                "block total length {length} is invalid: it must be a multiple of 4 and at least {min}"
            ),
            Problem::BlockTooLarge { length, max } => {
                write!(f, "block total length {length} exceeds the maximum {max}")
            }
            Problem::BlockLengthMismatch { leading, trailing } => write!(
                f,
                "leading block total length {leading} differs from the trailing one {trailing}"
            ),
            Problem::BlockLengthBeyondInput { length, remaining } => write!(
                f,
                "block total length {length} runs past the end of the input (bytes left: {remaining})"
            ),
            Problem::ByteOrderMagicInvalid { value } => {
                write!(f, "byte-order magic 0x{value:08x} is not 0x1a2b3c4d")
            }
            Problem::CapturedLengthExceedsBlock { captured, room } => write!(
                f,
                "captured length {captured} exceeds the {room} bytes the block holds"
            ),
            Problem::UnknownInterface { interface, defined } => write!(
                f,
                "interface {interface} is not defined (the section defines {defined})"
            ),
            Problem::TooManyInterfaces { max } => {
                write!(f, "the section defines more than {max} interfaces")
            }
            Problem::OptionOverrun { code, length, room } => write!(
                f,
                "option {code} of length {length} runs past the end of the options (bytes left: {room})"
            ),
            Problem::OptionLengthInvalid { code, length } => {
                write!(f, "option {code} has invalid length {length}")
            }
        }
    }
}

/// A capture format version exflow does not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsupported {
    /// A classic pcap major version other than 2.
    PcapVersion { major: u16, minor: u16 },
    /// A pcapng section with a major version other than 1.
    PcapngVersion { major: u16, minor: u16 },
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Unsupported::PcapVersion { major, minor } => {
                write!(f, "pcap version {major}.{minor} (only 2.x is read)")
            }
            Unsupported::PcapngVersion { major, minor } => {
                write!(
                    f,
                    "pcapng section version {major}.{minor} (only 1.0 and 1.2 are read)"
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_message_names_input_and_offset() {
        let error = CaptureError::new(
            "captures/x.pcap",
            CaptureErrorKind::Truncated {
                offset: 1234,
                record: RecordKind::PcapRecord,
                part: TruncatedPart::Body,
                needed: 1514,
                present: 700,
            },
        );

        assert_eq!(
            error.to_string(),
            "captures/x.pcap: truncated packet record at byte offset 1234: length in its header: 1514, bytes left: 700"
        );
        assert_eq!(error.offset(), Some(1234));
    }

    #[test]
    fn not_capture_message_shows_first_bytes() {
        let error = CaptureError::new(
            "x.bin",
            CaptureErrorKind::NotCapture {
                first_bytes: vec![0xde, 0xad, 0xbe, 0xef],
            },
        );

        assert!(
            error
                .to_string()
                .starts_with("x.bin: not a pcap or pcapng file: first bytes are 0xdeadbeef;")
        );
    }

    #[test]
    fn not_capture_message_for_empty_input() {
        let error = CaptureError::new(
            "standard input",
            CaptureErrorKind::NotCapture {
                first_bytes: Vec::new(),
            },
        );

        assert_eq!(
            error.to_string(),
            "standard input: not a pcap or pcapng file: the input is empty"
        );
    }

    #[test]
    fn corrupt_block_message_names_block_type() {
        let error = CaptureError::new(
            "a.pcapng",
            CaptureErrorKind::Corrupt {
                offset: 96,
                record: RecordKind::PcapngBlock(BlockType::ENHANCED_PACKET),
                problem: Problem::BlockLengthMismatch {
                    leading: 120,
                    trailing: 7,
                },
            },
        );

        assert_eq!(
            error.to_string(),
            "a.pcapng: invalid enhanced packet block at byte offset 96: \
             leading block total length 120 differs from the trailing one 7"
        );
    }
}
