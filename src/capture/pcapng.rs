//! pcapng files, as draft-ietf-opsawg-pcapng describes them: a sequence of
//! blocks, each framed by its type and a total length repeated at its end.
//!
//! A file contains one or more sections. Each section starts with a section
//! header block (SHB) that sets the byte order of the blocks after it. Interface
//! description blocks (IDB) then define the section's interfaces, and packet
//! blocks name their interface by its index within the section.
//!
//! Only the blocks and options that frames need are decoded: SHB, IDB (with
//! `if_tsresol` and `if_tsoffset`), the enhanced (EPB), simple (SPB) and
//! obsolete packet blocks. Other blocks are skipped by their length.
//!
//! A block whose length fields disagree is corrupt: the decoder looks for the next
//! plausible block (a known type whose leading and trailing lengths match),
//! records the damage in [`CaptureStats`] and reads on from there.

use std::fmt;

use nom::IResult;
use nom::bytes::streaming::take;
use nom::number::Endianness;
use nom::number::streaming::i64 as parse_i64;
use nom::number::streaming::u16 as parse_u16;
use nom::number::streaming::u32 as parse_u32;

use super::error::{CaptureErrorKind, Problem, RecordKind, TruncatedPart, Unsupported};
use super::reader::Step;
use super::stats::{
    ByteOrder, CaptureFormat, CaptureStats, CorruptBlock, InterfaceInfo, MAX_CORRUPT_NOTES,
    TsResolution,
};
use super::{Frame, LinkType, Timestamp};

/// The byte-order magic of a section header block, as read in the section's byte order.
pub const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// Length of the block type and leading total length.
pub const BLOCK_HEADER_LEN: usize = 8;

/// Length of the smallest block: type, leading and trailing total length.
pub const MIN_BLOCK_LEN: u32 = 12;

/// Total length above which a block is corrupt: room for a frame of
/// [`MAX_PCAP_CAPTURED_LEN`](super::pcap::MAX_PCAP_CAPTURED_LEN) bytes plus 128 KiB
/// of headers and options. A stream reader must buffer a whole block.
pub const MAX_BLOCK_LEN: u32 = 16 * 1024 * 1024 + 128 * 1024;

/// Interfaces a section may define; an IDB beyond them is corrupt. Packet
/// blocks of the obsolete type name interfaces with 16 bits, so this is that range.
pub const MAX_INTERFACES_PER_SECTION: usize = 65_536;

/// Option code that ends an option list.
const OPT_ENDOFOPT: u16 = 0;
/// IDB option: timestamp resolution (one byte).
const IF_TSRESOL: u16 = 9;
/// IDB option: seconds added to every timestamp (signed 64 bits).
const IF_TSOFFSET: u16 = 14;

/// A pcapng block type code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockType(pub u32);

impl BlockType {
    pub const SECTION_HEADER: BlockType = BlockType(0x0A0D_0D0A);
    pub const INTERFACE_DESCRIPTION: BlockType = BlockType(1);
    /// The obsolete packet block, superseded by the enhanced packet block.
    pub const PACKET: BlockType = BlockType(2);
    pub const SIMPLE_PACKET: BlockType = BlockType(3);
    pub const NAME_RESOLUTION: BlockType = BlockType(4);
    pub const INTERFACE_STATISTICS: BlockType = BlockType(5);
    pub const ENHANCED_PACKET: BlockType = BlockType(6);
    pub const SYSTEMD_JOURNAL_EXPORT: BlockType = BlockType(9);
    pub const DECRYPTION_SECRETS: BlockType = BlockType(0x0A);
    pub const CUSTOM: BlockType = BlockType(0x0BAD);
    pub const CUSTOM_DO_NOT_COPY: BlockType = BlockType(0x4000_0BAD);

    /// Returns the block's name, or `None` for a type the pcapng draft does not
    /// define as above.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            BlockType::SECTION_HEADER => "section header block",
            BlockType::INTERFACE_DESCRIPTION => "interface description block",
            BlockType::PACKET => "packet block",
            BlockType::SIMPLE_PACKET => "simple packet block",
            BlockType::NAME_RESOLUTION => "name resolution block",
            BlockType::INTERFACE_STATISTICS => "interface statistics block",
            BlockType::ENHANCED_PACKET => "enhanced packet block",
            BlockType::SYSTEMD_JOURNAL_EXPORT => "systemd journal export block",
            BlockType::DECRYPTION_SECRETS => "decryption secrets block",
            BlockType::CUSTOM | BlockType::CUSTOM_DO_NOT_COPY => "custom block",
            _ => return None,
        })
    }

    /// Returns the smallest total length a block of this type can have: 12
    /// bytes of framing plus the fixed fields of its body.
    pub fn min_len(self) -> u32 {
        MIN_BLOCK_LEN
            + match self {
                // Byte-order magic, versions, section length.
                BlockType::SECTION_HEADER => 16,
                // Link type, reserved, snaplen.
                BlockType::INTERFACE_DESCRIPTION => 8,
                // Interface, timestamp, captured and original lengths.
                BlockType::PACKET | BlockType::ENHANCED_PACKET => 20,
                // Original length.
                BlockType::SIMPLE_PACKET => 4,
                // Interface and timestamp.
                BlockType::INTERFACE_STATISTICS => 12,
                // Secrets type and length.
                BlockType::DECRYPTION_SECRETS => 8,
                // Private enterprise number.
                BlockType::CUSTOM | BlockType::CUSTOM_DO_NOT_COPY => 4,
                _ => 0,
            }
    }
}

impl fmt::Display for BlockType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "block of type 0x{:08x}", self.0),
        }
    }
}

/// The type and total length that start every block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    pub block_type: BlockType,
    pub total_len: u32,
}

/// The fixed fields of a section header block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionHeader {
    pub byte_order: ByteOrder,
    pub total_len: u32,
    pub version_major: u16,
    pub version_minor: u16,
    /// Length of the section after this block, or -1 when the writer did not know it.
    pub section_len: i64,
}

/// The fixed fields of an interface description block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterfaceDescription {
    pub link: LinkType,
    /// 0 means no limit.
    pub snaplen: u32,
}

/// The fixed fields of an enhanced packet block or an obsolete packet block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketHeader {
    pub interface: u32,
    /// Timestamp in units of the interface's resolution since the Unix epoch.
    pub ts_units: u64,
    pub captured_len: u32,
    pub original_len: u32,
}

/// One option of a block: its code and its value without padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcapngOption<'a> {
    pub code: u16,
    pub value: &'a [u8],
}

/// Returns the byte order a section header block's byte-order magic stands for.
pub fn byte_order_from_magic(bytes: [u8; 4]) -> Option<ByteOrder> {
    match u32::from_le_bytes(bytes) {
        BYTE_ORDER_MAGIC => Some(ByteOrder::Little),
        magic if magic == BYTE_ORDER_MAGIC.swap_bytes() => Some(ByteOrder::Big),
        _ => None,
    }
}

/// Parses the block type and leading total length.
#[inline]
pub fn parse_pcapng_block_header(i: &[u8], endian: Endianness) -> IResult<&[u8], BlockHeader> {
    let (i, block_type) = parse_u32(endian)(i)?;
    let (i, total_len) = parse_u32(endian)(i)?;
    let header = BlockHeader {
        block_type: BlockType(block_type),
        total_len,
    };
    Ok((i, header))
}

/// Parses a section header block from its first byte up to its options. The
/// block type is a palindrome and the byte-order magic comes before any other
/// number, so this needs no byte order to start with.
pub fn parse_pcapng_section_header(i: &[u8]) -> IResult<&[u8], SectionHeader> {
    let fail = |i| nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Verify));

    let (i, block_type) = take(4usize)(i)?;
    if block_type != BlockType::SECTION_HEADER.0.to_be_bytes() {
        return Err(fail(block_type));
    }
    let (i, total_len) = take(4usize)(i)?;
    let (i, magic) = take(4usize)(i)?;
    let Some(byte_order) = magic.try_into().ok().and_then(byte_order_from_magic) else {
        return Err(fail(magic));
    };
    let endian = Endianness::from(byte_order);
    let (_, total_len) = parse_u32(endian)(total_len)?;
    let (i, version_major) = parse_u16(endian)(i)?;
    let (i, version_minor) = parse_u16(endian)(i)?;
    let (i, section_len) = parse_i64(endian)(i)?;

    let header = SectionHeader {
        byte_order,
        total_len,
        version_major,
        version_minor,
        section_len,
    };
    Ok((i, header))
}

/// Parses the body of an interface description block up to its options.
pub fn parse_pcapng_interface_description(
    i: &[u8],
    endian: Endianness,
) -> IResult<&[u8], InterfaceDescription> {
    let (i, link) = parse_u16(endian)(i)?;
    let (i, _reserved) = parse_u16(endian)(i)?;
    let (i, snaplen) = parse_u32(endian)(i)?;
    let description = InterfaceDescription {
        link: LinkType(u32::from(link)),
        snaplen,
    };
    Ok((i, description))
}

/// Parses the body of an enhanced packet block up to its packet data.
#[inline]
pub fn parse_pcapng_enhanced_packet(i: &[u8], endian: Endianness) -> IResult<&[u8], PacketHeader> {
    let (i, interface) = parse_u32(endian)(i)?;
    let (i, ts_high) = parse_u32(endian)(i)?;
    let (i, ts_low) = parse_u32(endian)(i)?;
    let (i, captured_len) = parse_u32(endian)(i)?;
    let (i, original_len) = parse_u32(endian)(i)?;
    let header = PacketHeader {
        interface,
        ts_units: u64::from(ts_high) << 32 | u64::from(ts_low),
        captured_len,
        original_len,
    };
    Ok((i, header))
}

/// Parses the body of an obsolete packet block (type 2, pcapng draft appendix)
/// up to its packet data.
pub fn parse_pcapng_packet(i: &[u8], endian: Endianness) -> IResult<&[u8], PacketHeader> {
    let (i, interface) = parse_u16(endian)(i)?;
    let (i, _drops_count) = parse_u16(endian)(i)?;
    let (i, ts_high) = parse_u32(endian)(i)?;
    let (i, ts_low) = parse_u32(endian)(i)?;
    let (i, captured_len) = parse_u32(endian)(i)?;
    let (i, original_len) = parse_u32(endian)(i)?;
    let header = PacketHeader {
        interface: u32::from(interface),
        ts_units: u64::from(ts_high) << 32 | u64::from(ts_low),
        captured_len,
        original_len,
    };
    Ok((i, header))
}

/// Parses the body of a simple packet block up to its packet data; returns the
/// original packet length.
pub fn parse_pcapng_simple_packet(i: &[u8], endian: Endianness) -> IResult<&[u8], u32> {
    parse_u32(endian)(i)
}

/// Parses an option's code and length.
pub fn parse_pcapng_option_header(i: &[u8], endian: Endianness) -> IResult<&[u8], (u16, u16)> {
    let (i, code) = parse_u16(endian)(i)?;
    let (i, length) = parse_u16(endian)(i)?;
    Ok((i, (code, length)))
}

/// Parses one option and the padding that aligns the next to 32 bits. Padding
/// cut off by the end of the options is accepted.
pub fn parse_pcapng_option(i: &[u8], endian: Endianness) -> IResult<&[u8], PcapngOption<'_>> {
    let (i, (code, length)) = parse_pcapng_option_header(i, endian)?;
    let (i, value) = take(length)(i)?;
    let padding = (4 - usize::from(length) % 4) % 4;
    let (i, _padding) = take(padding.min(i.len()))(i)?;
    Ok((i, PcapngOption { code, value }))
}

/// Converts timestamp units of one interface into nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TsScale {
    /// Units of 10^-n s with n <= 9: nanoseconds per unit.
    Multiply(u64),
    /// Units of 10^-n s with n > 9: units per nanosecond.
    Divide(u64),
    /// Units of 2^-n s.
    Shift(u8),
    /// Units so fine that no 64-bit count reaches a nanosecond.
    Zero,
}

impl TsScale {
    fn new(resolution: TsResolution) -> TsScale {
        match resolution {
            TsResolution::Decimal(n) if n <= 9 => TsScale::Multiply(10u64.pow(9 - u32::from(n))),
            // 10^19 is the largest power of ten a u64 holds.
            TsResolution::Decimal(n) if n <= 9 + 19 => TsScale::Divide(10u64.pow(u32::from(n) - 9)),
            TsResolution::Decimal(_) => TsScale::Zero,
            // The exponent has seven bits, so the shift stays below 128.
            TsResolution::Binary(n) => TsScale::Shift(n),
        }
    }

    /// Returns `units` in nanoseconds, rounded down. The result stays below
    /// 2^64 * 10^9, so it fits an `i128` too.
    #[inline]
    fn nanos(self, units: u64) -> u128 {
        match self {
            TsScale::Multiply(factor) => u128::from(units) * u128::from(factor),
            TsScale::Divide(divisor) => u128::from(units / divisor),
            TsScale::Shift(n) => (u128::from(units) * 1_000_000_000) >> n,
            TsScale::Zero => 0,
        }
    }
}

/// An interface of the current section, as packet blocks need it.
#[derive(Clone, Copy, Debug)]
struct Interface {
    link: LinkType,
    snaplen: u32,
    scale: TsScale,
    offset_nanos: i128,
}

impl Interface {
    /// Returns the time of a count of `units`, and whether it was clamped.
    /// The offset applies before the result is clamped to the `i64`
    /// nanoseconds of [`Timestamp`] (years 1677 to 2262), so a negative offset
    /// brings a large count back into range.
    #[inline]
    fn timestamp(&self, units: u64) -> (Timestamp, bool) {
        let nanos = self.scale.nanos(units) as i128 + self.offset_nanos;
        let clamped = nanos.clamp(i128::from(i64::MIN), i128::from(i64::MAX));
        (Timestamp(clamped as i64), clamped != nanos)
    }
}

/// The reason the decoder looks for the next plausible block.
#[derive(Clone, Copy, Debug)]
enum ResyncCause {
    /// The block's length fields are invalid or disagree.
    Corrupt(Problem),
    /// The block's total length runs past the end of the input.
    PastEnd { total_len: u32, present: u64 },
}

#[derive(Clone, Copy, Debug)]
struct Resync {
    offset: u64,
    block_type: BlockType,
    cause: ResyncCause,
}

/// The framing of the block at the start of the input.
enum Framing {
    Block {
        block_type: BlockType,
        total_len: u32,
        endian: Endianness,
    },
    /// The input ends before the type and length could be read.
    Short { needed: usize },
    Invalid {
        block_type: BlockType,
        problem: Problem,
    },
}

/// The result of checking whether a plausible block starts the input.
enum Candidate {
    Plausible,
    Implausible,
    /// More input is needed to decide.
    Undecided {
        needed: usize,
    },
    /// The input ends before another block could start.
    NoneLeft,
}

/// Walks the blocks of a pcapng file.
#[derive(Clone, Debug)]
pub(crate) struct PcapngDecoder {
    endian: Endianness,
    /// Set while blocks of a section with an unsupported version are skipped.
    skipping_section: bool,
    interfaces: Vec<Interface>,
    /// Timestamp of the last enhanced or obsolete packet block, which simple
    /// packet blocks inherit.
    last_ts: Timestamp,
    /// Whether `last_ts` was clamped, so that the simple packet blocks that
    /// inherit it are counted as clamped too.
    last_ts_clamped: bool,
    resync: Option<Resync>,
}

impl PcapngDecoder {
    /// Reads the byte order of the first section header block; returns the
    /// decoder and the stats it starts with. The block itself is decoded by
    /// [`decode`](Self::decode).
    pub(crate) fn start(input: &[u8], at_eof: bool) -> Result<(PcapngDecoder, CaptureStats), Step> {
        let Some(magic) = input.get(8..12) else {
            if !at_eof {
                return Err(Step::NeedMore(12));
            }
            return Err(Step::Fatal(CaptureErrorKind::Truncated {
                offset: 0,
                record: RecordKind::PcapngBlock(BlockType::SECTION_HEADER),
                part: TruncatedPart::Header,
                needed: 12,
                present: input.len() as u64,
            }));
        };
        let magic: [u8; 4] = magic.try_into().unwrap_or_default();
        let Some(byte_order) = byte_order_from_magic(magic) else {
            return Err(Step::Fatal(CaptureErrorKind::Corrupt {
                offset: 0,
                record: RecordKind::PcapngBlock(BlockType::SECTION_HEADER),
                problem: Problem::ByteOrderMagicInvalid {
                    value: u32::from_be_bytes(magic),
                },
            }));
        };

        let decoder = PcapngDecoder {
            endian: byte_order.into(),
            skipping_section: false,
            interfaces: Vec::new(),
            last_ts: Timestamp::default(),
            last_ts_clamped: false,
            resync: None,
        };
        let stats = CaptureStats::new(CaptureFormat::Pcapng { byte_order });
        Ok((decoder, stats))
    }

    /// Decodes the block at the start of `input`, which sits at byte `offset` of
    /// the file. A frame is written to `frame`.
    #[inline(always)]
    pub(crate) fn decode<'a>(
        &mut self,
        input: &'a [u8],
        offset: u64,
        at_eof: bool,
        stats: &mut CaptureStats,
        frame: &mut Frame<'a>,
    ) -> Step {
        if self.resync.is_some() {
            return self.resync_step(input, offset, at_eof, stats);
        }

        let (block_type, total_len, endian) = match self.frame_block(input) {
            Framing::Block {
                block_type,
                total_len,
                endian,
            } => (block_type, total_len, endian),
            Framing::Short { needed } => {
                return if input.is_empty() && at_eof {
                    Step::End
                } else if !at_eof {
                    Step::NeedMore(needed)
                } else {
                    Step::Fatal(CaptureErrorKind::Truncated {
                        offset,
                        record: self.peek_block_kind(input),
                        part: TruncatedPart::Header,
                        needed: needed as u64,
                        present: input.len() as u64,
                    })
                };
            }
            Framing::Invalid {
                block_type,
                problem,
            } => {
                return self.start_resync(offset, block_type, ResyncCause::Corrupt(problem));
            }
        };

        let Some(block) = input.get(..total_len as usize) else {
            if !at_eof {
                return Step::NeedMore(total_len as usize);
            }
            let cause = ResyncCause::PastEnd {
                total_len,
                present: input.len() as u64,
            };
            return self.start_resync(offset, block_type, cause);
        };
        let trailing = trailing_len(block, endian);
        if trailing != total_len {
            let problem = Problem::BlockLengthMismatch {
                leading: total_len,
                trailing,
            };
            return self.start_resync(offset, block_type, ResyncCause::Corrupt(problem));
        }

        let body = block
            .get(BLOCK_HEADER_LEN..block.len() - 4)
            .unwrap_or_default();
        let span = BlockSpan {
            block_type,
            offset,
            len: block.len(),
        };
        self.decode_block(span, block, body, stats, frame)
    }

    /// Reads a block's type and total length and checks the length against the
    /// limits of its type.
    #[inline(always)]
    fn frame_block(&self, input: &[u8]) -> Framing {
        let Ok((_, header)) = parse_pcapng_block_header(input, self.endian) else {
            return Framing::Short {
                needed: BLOCK_HEADER_LEN,
            };
        };
        let (block_type, total_len, endian) = if header.block_type == BlockType::SECTION_HEADER {
            // A new section may switch byte order: its magic decides how to read
            // the length.
            match parse_pcapng_section_header(input) {
                Ok((_, section)) => (
                    BlockType::SECTION_HEADER,
                    section.total_len,
                    Endianness::from(section.byte_order),
                ),
                Err(nom::Err::Incomplete(_)) => {
                    return Framing::Short {
                        needed: BlockType::SECTION_HEADER.min_len() as usize - 4,
                    };
                }
                Err(_) => {
                    let value = input
                        .get(8..12)
                        .and_then(|bytes| bytes.try_into().ok())
                        .map(u32::from_be_bytes)
                        .unwrap_or_default();
                    return Framing::Invalid {
                        block_type: BlockType::SECTION_HEADER,
                        problem: Problem::ByteOrderMagicInvalid { value },
                    };
                }
            }
        } else {
            (header.block_type, header.total_len, self.endian)
        };

        let min = block_type.min_len();
        if total_len < min || total_len % 4 != 0 {
            let problem = Problem::BlockLengthInvalid {
                length: total_len,
                min,
            };
            return Framing::Invalid {
                block_type,
                problem,
            };
        }
        if total_len > MAX_BLOCK_LEN {
            let problem = Problem::BlockTooLarge {
                length: total_len,
                max: MAX_BLOCK_LEN,
            };
            return Framing::Invalid {
                block_type,
                problem,
            };
        }
        Framing::Block {
            block_type,
            total_len,
            endian,
        }
    }

    fn peek_block_kind(&self, input: &[u8]) -> RecordKind {
        match parse_u32::<_, nom::error::Error<&[u8]>>(self.endian)(input) {
            Ok((_, block_type)) => RecordKind::PcapngBlock(BlockType(block_type)),
            Err(_) => RecordKind::PcapngBlockOfUnknownType,
        }
    }

    /// Decodes a well-framed block: returns its frame, or skips it. A corrupt
    /// block is counted and skipped.
    ///
    #[inline(always)]
    fn decode_block<'a>(
        &mut self,
        span: BlockSpan,
        block: &'a [u8],
        body: &'a [u8],
        stats: &mut CaptureStats,
        frame: &mut Frame<'a>,
    ) -> Step {
        let BlockSpan {
            block_type,
            offset,
            len: consumed,
        } = span;
        // The minimum lengths checked while framing leave room for every fixed
        // field, so this only guards against the parsers' `Incomplete` result.
        let body_too_short = Problem::BlockLengthInvalid {
            length: consumed as u32,
            min: block_type.min_len(),
        };

        if block_type == BlockType::SECTION_HEADER {
            if self.start_section(block, offset, stats).is_err() {
                return skip_corrupt(stats, span, body_too_short);
            }
            return Step::Skip(consumed);
        }
        if self.skipping_section {
            stats.blocks_skipped += 1;
            return Step::Skip(consumed);
        }
        match block_type {
            BlockType::ENHANCED_PACKET => match parse_pcapng_enhanced_packet(body, self.endian) {
                Ok((rest, header)) => self.packet_frame(header, rest, span, stats, frame),
                Err(_) => skip_corrupt(stats, span, body_too_short),
            },
            BlockType::SIMPLE_PACKET => match parse_pcapng_simple_packet(body, self.endian) {
                Ok((rest, original_len)) => {
                    self.simple_packet_frame(original_len, rest, span, stats, frame)
                }
                Err(_) => skip_corrupt(stats, span, body_too_short),
            },
            BlockType::PACKET => match parse_pcapng_packet(body, self.endian) {
                Ok((rest, header)) => self.packet_frame(header, rest, span, stats, frame),
                Err(_) => skip_corrupt(stats, span, body_too_short),
            },
            BlockType::INTERFACE_DESCRIPTION => {
                let Ok((options, description)) =
                    parse_pcapng_interface_description(body, self.endian)
                else {
                    return skip_corrupt(stats, span, body_too_short);
                };
                if let Err(problem) =
                    self.add_interface(description, options, offset, consumed, stats)
                {
                    return skip_corrupt(stats, span, problem);
                }
                Step::Skip(consumed)
            }
            _ => {
                stats.blocks_skipped += 1;
                Step::Skip(consumed)
            }
        }
    }

    #[cold]
    fn start_section<'a>(
        &mut self,
        block: &'a [u8],
        offset: u64,
        stats: &mut CaptureStats,
    ) -> Result<(), nom::Err<nom::error::Error<&'a [u8]>>> {
        let (_, section) = parse_pcapng_section_header(block)?;
        stats.sections += 1;
        self.endian = section.byte_order.into();
        self.interfaces.clear();

        // Minor version 2 was written by some tools for files that equal 1.0
        // (pcapng draft, section 4.1). A section of another version must be
        // skipped up to the next section header.
        let supported = section.version_major == 1 && matches!(section.version_minor, 0 | 2);
        self.skipping_section = !supported;
        if !supported {
            let version = Unsupported::PcapngVersion {
                major: section.version_major,
                minor: section.version_minor,
            };
            log::debug!("capture: skipping pcapng section at byte offset {offset}: {version}");
            stats.sections_skipped += 1;
            if stats.skipped_section_notes.len() < MAX_CORRUPT_NOTES {
                stats.skipped_section_notes.push((offset, version));
            }
        }
        Ok(())
    }

    #[cold]
    fn add_interface(
        &mut self,
        description: InterfaceDescription,
        options: &[u8],
        offset: u64,
        block_len: usize,
        stats: &mut CaptureStats,
    ) -> Result<(), Problem> {
        if self.interfaces.len() >= MAX_INTERFACES_PER_SECTION {
            return Err(Problem::TooManyInterfaces {
                max: MAX_INTERFACES_PER_SECTION as u32,
            });
        }

        // An interface with a malformed option keeps the options read before it,
        // so that the interface numbering of later packet blocks stays right.
        let mut settings = InterfaceOptions::default();
        if let Err(problem) = settings.read(options, self.endian) {
            stats.add_corrupt(CorruptBlock {
                offset,
                record: RecordKind::PcapngBlock(BlockType::INTERFACE_DESCRIPTION),
                problem,
                resumed_at: offset + block_len as u64,
            });
        }

        let index = self.interfaces.len() as u32;
        self.interfaces.push(Interface {
            link: description.link,
            snaplen: description.snaplen,
            scale: TsScale::new(settings.resolution),
            offset_nanos: i128::from(settings.offset_secs) * i128::from(Timestamp::NANOS_PER_SEC),
        });
        stats.add_interface(InterfaceInfo {
            section: stats.sections.saturating_sub(1),
            index,
            link: description.link,
            snaplen: description.snaplen,
            ts_resolution: settings.resolution,
            ts_offset_secs: settings.offset_secs,
        });
        Ok(())
    }

    /// Builds the frame of an enhanced or obsolete packet block; `rest` is the
    /// body after the fixed fields: packet data, padding and options.
    #[inline(always)]
    fn packet_frame<'a>(
        &mut self,
        header: PacketHeader,
        rest: &'a [u8],
        span: BlockSpan,
        stats: &mut CaptureStats,
        frame: &mut Frame<'a>,
    ) -> Step {
        let Some(&interface) = self.interfaces.get(header.interface as usize) else {
            let problem = self.unknown_interface(header.interface);
            return skip_corrupt(stats, span, problem);
        };
        let Some(data) = rest.get(..header.captured_len as usize) else {
            let problem = Problem::CapturedLengthExceedsBlock {
                captured: header.captured_len,
                room: rest.len() as u32,
            };
            return skip_corrupt(stats, span, problem);
        };

        let data = if interface.snaplen != 0 && header.captured_len > interface.snaplen {
            stats.frames_cut_to_snaplen += 1;
            data.get(..interface.snaplen as usize).unwrap_or(data)
        } else {
            data
        };
        let (ts, clamped) = interface.timestamp(header.ts_units);
        if clamped {
            stats.add_clamped_timestamp(span.offset);
        }
        self.last_ts = ts;
        self.last_ts_clamped = clamped;
        *frame = Frame {
            ts,
            link: interface.link,
            data,
            // The draft lets a reader raise an original length below the captured one.
            orig_len: header.original_len.max(header.captured_len),
            interface: header.interface,
            offset: span.offset,
        };
        Step::Frame(span.len)
    }

    /// Builds the frame of a simple packet block. It belongs to interface 0, and
    /// its captured length is the smallest of the original length, the
    /// interface's snapshot length and the room in the block.
    ///
    /// NOTE: the block carries no timestamp. Its frame takes the timestamp of the
    /// last enhanced or obsolete packet block (0 before any), so that capture time
    /// never runs backwards.
    fn simple_packet_frame<'a>(
        &self,
        original_len: u32,
        rest: &'a [u8],
        span: BlockSpan,
        stats: &mut CaptureStats,
        frame: &mut Frame<'a>,
    ) -> Step {
        let Some(&interface) = self.interfaces.first() else {
            let problem = self.unknown_interface(0);
            return skip_corrupt(stats, span, problem);
        };

        let mut captured = (original_len as usize).min(rest.len());
        if interface.snaplen != 0 {
            captured = captured.min(interface.snaplen as usize);
        }
        let data = rest.get(..captured).unwrap_or(rest);
        if self.last_ts_clamped {
            stats.add_clamped_timestamp(span.offset);
        }
        *frame = Frame {
            ts: self.last_ts,
            link: interface.link,
            data,
            orig_len: original_len,
            interface: 0,
            offset: span.offset,
        };
        Step::Frame(span.len)
    }

    #[cold]
    fn unknown_interface(&self, index: u32) -> Problem {
        Problem::UnknownInterface {
            interface: index,
            defined: self.interfaces.len() as u32,
        }
    }

    /// Starts looking for the next plausible block after the corrupt block at
    /// `offset`. The search moves one byte at a time: blocks are 32-bit
    /// aligned in a sound file, but garbage of any length may come before
    /// the next block of a damaged one.
    #[cold]
    fn start_resync(&mut self, offset: u64, block_type: BlockType, cause: ResyncCause) -> Step {
        log::debug!(
            "capture: corrupt pcapng {block_type} at byte offset {offset}; looking for the next block"
        );
        self.resync = Some(Resync {
            offset,
            block_type,
            cause,
        });
        Step::Skip(1)
    }

    #[cold]
    fn resync_step(
        &mut self,
        input: &[u8],
        offset: u64,
        at_eof: bool,
        stats: &mut CaptureStats,
    ) -> Step {
        let Some(resync) = self.resync else {
            return Step::Skip(0);
        };
        match self.check_candidate(input, at_eof) {
            Candidate::Plausible => {
                let problem = match resync.cause {
                    ResyncCause::Corrupt(problem) => problem,
                    ResyncCause::PastEnd { total_len, present } => {
                        Problem::BlockLengthBeyondInput {
                            length: total_len,
                            remaining: present,
                        }
                    }
                };
                stats.add_corrupt(CorruptBlock {
                    offset: resync.offset,
                    record: RecordKind::PcapngBlock(resync.block_type),
                    problem,
                    resumed_at: offset,
                });
                self.resync = None;
                Step::Skip(0)
            }
            Candidate::Implausible => Step::Skip(1),
            Candidate::Undecided { needed } => Step::NeedMore(needed),
            Candidate::NoneLeft => {
                let record = RecordKind::PcapngBlock(resync.block_type);
                let kind = match resync.cause {
                    ResyncCause::Corrupt(problem) => CaptureErrorKind::Corrupt {
                        offset: resync.offset,
                        record,
                        problem,
                    },
                    ResyncCause::PastEnd { total_len, present } => CaptureErrorKind::Truncated {
                        offset: resync.offset,
                        record,
                        part: TruncatedPart::Body,
                        needed: u64::from(total_len),
                        present,
                    },
                };
                Step::Fatal(kind)
            }
        }
    }

    /// Decides whether a plausible block starts the input: a type the draft
    /// defines, a total length valid for that type, inside the input, and repeated
    /// at the block's end.
    fn check_candidate(&self, input: &[u8], at_eof: bool) -> Candidate {
        if input.len() < MIN_BLOCK_LEN as usize {
            return if at_eof {
                Candidate::NoneLeft
            } else {
                Candidate::Undecided {
                    needed: MIN_BLOCK_LEN as usize,
                }
            };
        }
        let (block_type, total_len, endian) = match self.frame_block(input) {
            Framing::Block {
                block_type,
                total_len,
                endian,
            } => (block_type, total_len, endian),
            Framing::Short { needed } if !at_eof => return Candidate::Undecided { needed },
            Framing::Short { .. } | Framing::Invalid { .. } => return Candidate::Implausible,
        };
        if block_type.name().is_none() {
            return Candidate::Implausible;
        }
        let Some(block) = input.get(..total_len as usize) else {
            if at_eof {
                return Candidate::Implausible;
            }
            return Candidate::Undecided {
                needed: total_len as usize,
            };
        };
        if trailing_len(block, endian) != total_len {
            return Candidate::Implausible;
        }
        Candidate::Plausible
    }
}

/// The type and place of a well-framed block.
#[derive(Clone, Copy, Debug)]
struct BlockSpan {
    block_type: BlockType,
    offset: u64,
    len: usize,
}

/// Counts a corrupt but well-framed block and skips it.
#[cold]
fn skip_corrupt(stats: &mut CaptureStats, span: BlockSpan, problem: Problem) -> Step {
    stats.add_corrupt(CorruptBlock {
        offset: span.offset,
        record: RecordKind::PcapngBlock(span.block_type),
        problem,
        resumed_at: span.offset + span.len as u64,
    });
    Step::Skip(span.len)
}

/// Reads the trailing total length of a complete block.
#[inline]
fn trailing_len(block: &[u8], endian: Endianness) -> u32 {
    let start = block.len().saturating_sub(4);
    let tail = block.get(start..).unwrap_or_default();
    match parse_u32::<_, nom::error::Error<&[u8]>>(endian)(tail) {
        Ok((_, length)) => length,
        Err(_) => 0,
    }
}

/// The IDB options a reader needs.
#[derive(Clone, Copy, Debug)]
struct InterfaceOptions {
    resolution: TsResolution,
    offset_secs: i64,
}

impl Default for InterfaceOptions {
    fn default() -> Self {
        // Without `if_tsresol`, timestamps count microseconds (pcapng draft, section 4.2).
        InterfaceOptions {
            resolution: TsResolution::MICROSECONDS,
            offset_secs: 0,
        }
    }
}

impl InterfaceOptions {
    /// Reads `if_tsresol` and `if_tsoffset` from an IDB's options. The list may
    /// end without `opt_endofopt`; fewer than 4 bytes left over are ignored.
    fn read(&mut self, mut options: &[u8], endian: Endianness) -> Result<(), Problem> {
        while options.len() >= 4 {
            let option = match parse_pcapng_option(options, endian) {
                Ok((rest, option)) => {
                    options = rest;
                    option
                }
                Err(_) => {
                    let (rest, (code, length)) =
                        parse_pcapng_option_header(options, endian).unwrap_or((&[], (0, 0)));
                    return Err(Problem::OptionOverrun {
                        code,
                        length,
                        room: rest.len() as u32,
                    });
                }
            };
            let invalid_length = Problem::OptionLengthInvalid {
                code: option.code,
                length: option.value.len() as u16,
            };
            match option.code {
                OPT_ENDOFOPT => break,
                IF_TSRESOL => {
                    let [value] = option.value else {
                        return Err(invalid_length);
                    };
                    self.resolution = TsResolution::from_if_tsresol(*value);
                }
                IF_TSOFFSET => {
                    if option.value.len() != 8 {
                        return Err(invalid_length);
                    }
                    let Ok((_, seconds)) =
                        parse_i64::<_, nom::error::Error<&[u8]>>(endian)(option.value)
                    else {
                        return Err(invalid_length);
                    };
                    self.offset_secs = seconds;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_resolutions_convert_exactly() {
        let cases = [
            (
                TsResolution::Decimal(6),
                1_700_000_000_123_456u64,
                1_700_000_000_123_456_000i64,
            ),
            (
                TsResolution::Decimal(9),
                1_700_000_000_123_456_789,
                1_700_000_000_123_456_789,
            ),
            (
                TsResolution::Decimal(0),
                1_700_000_000,
                1_700_000_000_000_000_000,
            ),
            (TsResolution::Decimal(3), 1_500, 1_500_000_000),
            // Picoseconds: rounded down to whole nanoseconds.
            (TsResolution::Decimal(12), 1_234_567, 1_234),
        ];
        for (resolution, units, nanos) in cases {
            assert_eq!(
                TsScale::new(resolution).nanos(units),
                nanos as u128,
                "{resolution:?}"
            );
        }
    }

    #[test]
    fn binary_resolutions_convert_exactly() {
        // 1.5 s in units of 2^-10 s, and 0.25 s in units of 2^-30 s.
        assert_eq!(
            TsScale::new(TsResolution::Binary(10)).nanos(1536),
            1_500_000_000
        );
        assert_eq!(
            TsScale::new(TsResolution::Binary(30)).nanos(1 << 28),
            250_000_000
        );
        // 1 unit of 2^-10 s is 976562.5 ns, rounded down.
        assert_eq!(TsScale::new(TsResolution::Binary(10)).nanos(1), 976_562);
    }

    fn interface(resolution: TsResolution, offset_secs: i64) -> Interface {
        Interface {
            link: LinkType(1),
            snaplen: 0,
            scale: TsScale::new(resolution),
            offset_nanos: i128::from(offset_secs) * 1_000_000_000,
        }
    }

    #[test]
    fn extreme_resolutions_saturate_without_panic() {
        let max_units = u128::from(u64::MAX);
        assert_eq!(
            TsScale::new(TsResolution::Decimal(0)).nanos(u64::MAX),
            max_units * 1_000_000_000
        );
        assert_eq!(TsScale::new(TsResolution::Decimal(127)).nanos(u64::MAX), 0);
        assert_eq!(TsScale::new(TsResolution::Decimal(28)).nanos(u64::MAX), 1);
        assert_eq!(TsScale::new(TsResolution::Binary(127)).nanos(u64::MAX), 0);
        assert_eq!(
            TsScale::new(TsResolution::Binary(0)).nanos(u64::MAX),
            max_units * 1_000_000_000
        );
        let seconds = interface(TsResolution::Decimal(0), i64::MAX);
        assert_eq!(seconds.timestamp(u64::MAX), (Timestamp(i64::MAX), true));
        let seconds = interface(TsResolution::Decimal(0), i64::MIN);
        assert_eq!(seconds.timestamp(0), (Timestamp(i64::MIN), true));
    }

    #[test]
    fn offset_applies_before_clamp() {
        // 10^16 µs is 10^10 s, past 2262; an offset of -8 * 10^9 s brings it
        // to 2 * 10^9 s (2033).
        let micros = interface(TsResolution::Decimal(6), -8_000_000_000);
        assert_eq!(
            micros.timestamp(10_000_000_000_000_000),
            (Timestamp(2_000_000_000 * 1_000_000_000), false)
        );
    }

    #[test]
    fn option_parser_skips_padding() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&9u16.to_le_bytes());
        bytes.extend_from_slice(&1u16.to_le_bytes());
        bytes.extend_from_slice(&[0x89, 0, 0, 0]);
        bytes.extend_from_slice(&0u16.to_le_bytes());
        bytes.extend_from_slice(&0u16.to_le_bytes());

        let (rest, option) = parse_pcapng_option(&bytes, Endianness::Little).unwrap();

        assert_eq!(option.code, IF_TSRESOL);
        assert_eq!(option.value, &[0x89]);
        assert_eq!(rest.len(), 4);
    }

    #[test]
    fn interface_options_read_resolution_and_offset() {
        let mut bytes = Vec::new();
        for (code, value) in [
            (IF_TSRESOL, vec![0x94u8]),
            (IF_TSOFFSET, (-5i64).to_be_bytes().to_vec()),
        ] {
            bytes.extend_from_slice(&code.to_be_bytes());
            bytes.extend_from_slice(&(value.len() as u16).to_be_bytes());
            bytes.extend_from_slice(&value);
            bytes.resize(bytes.len().next_multiple_of(4), 0);
        }
        let mut options = InterfaceOptions::default();

        options.read(&bytes, Endianness::Big).unwrap();

        assert_eq!(options.resolution, TsResolution::Binary(20));
        assert_eq!(options.offset_secs, -5);
    }

    #[test]
    fn interface_option_overrun_is_reported() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&IF_TSOFFSET.to_le_bytes());
        bytes.extend_from_slice(&8u16.to_le_bytes());
        bytes.extend_from_slice(&[1, 2, 3, 4]);
        let mut options = InterfaceOptions::default();

        let result = options.read(&bytes, Endianness::Little);

        assert_eq!(
            result,
            Err(Problem::OptionOverrun {
                code: IF_TSOFFSET,
                length: 8,
                room: 4
            })
        );
    }

    #[test]
    fn tsresol_of_wrong_length_is_invalid() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&IF_TSRESOL.to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&[6, 6, 0, 0]);
        let mut options = InterfaceOptions::default();

        let result = options.read(&bytes, Endianness::Little);

        assert_eq!(
            result,
            Err(Problem::OptionLengthInvalid {
                code: IF_TSRESOL,
                length: 2
            })
        );
        assert_eq!(options.resolution, TsResolution::MICROSECONDS);
    }

    #[test]
    fn section_header_reads_either_byte_order() {
        for order in [ByteOrder::Little, ByteOrder::Big] {
            let mut bytes = Vec::new();
            let put32 = |v: u32| match order {
                ByteOrder::Little => v.to_le_bytes(),
                ByteOrder::Big => v.to_be_bytes(),
            };
            bytes.extend_from_slice(&put32(BlockType::SECTION_HEADER.0));
            bytes.extend_from_slice(&put32(28));
            bytes.extend_from_slice(&put32(BYTE_ORDER_MAGIC));
            bytes.extend_from_slice(&put32(1));
            bytes.extend_from_slice(&[0xff; 8]);
            bytes.extend_from_slice(&put32(28));

            let (rest, header) = parse_pcapng_section_header(&bytes).unwrap();

            assert_eq!(header.byte_order, order);
            assert_eq!(header.total_len, 28);
            assert_eq!(header.section_len, -1);
            assert_eq!(rest.len(), 4);
            let (major, minor) = (header.version_major, header.version_minor);
            match order {
                ByteOrder::Little => assert_eq!((major, minor), (1, 0)),
                ByteOrder::Big => assert_eq!((major, minor), (0, 1)),
            }
        }
    }

    #[test]
    fn block_type_names_and_minimum_lengths() {
        assert_eq!(
            BlockType::ENHANCED_PACKET.to_string(),
            "enhanced packet block"
        );
        assert_eq!(
            BlockType(0x1234_5678).to_string(),
            "block of type 0x12345678"
        );
        assert_eq!(BlockType::SECTION_HEADER.min_len(), 28);
        assert_eq!(BlockType::ENHANCED_PACKET.min_len(), 32);
        assert_eq!(BlockType::SIMPLE_PACKET.min_len(), 16);
        assert_eq!(BlockType(0x1234_5678).min_len(), 12);
    }
}
