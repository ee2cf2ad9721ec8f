//! Classic pcap files, as draft-ietf-opsawg-pcap describes them: a 24-byte file
//! header, then packet records of a 16-byte header and the captured bytes.
//!
//! Every header field is in the byte order of the host that wrote the file; the
//! magic number tells which, and whether timestamps carry microseconds or
//! nanoseconds.

use nom::IResult;
use nom::bytes::streaming::take;
use nom::number::Endianness;
use nom::number::streaming::u16 as parse_u16;
use nom::number::streaming::u32 as parse_u32;

use super::error::{CaptureErrorKind, Problem, RecordKind, TruncatedPart, Unsupported};
use super::reader::Step;
use super::stats::{ByteOrder, CaptureFormat, CaptureStats, InterfaceInfo, TsResolution};
use super::{Frame, LinkType, Timestamp};

/// Length of the file header.
pub const PCAP_FILE_HEADER_LEN: usize = 24;

/// Length of a packet record header.
pub const PCAP_RECORD_HEADER_LEN: usize = 16;

/// Magic number of files with microsecond timestamps, as read in the writer's byte order.
pub const PCAP_MAGIC_MICROSECONDS: u32 = 0xA1B2_C3D4;

/// Magic number of files with nanosecond timestamps, as read in the writer's byte order.
pub const PCAP_MAGIC_NANOSECONDS: u32 = 0xA1B2_3C4D;

/// Captured length a record may have whatever the file's snapshot length: libpcap's
/// MAXIMUM_SNAPLEN (pcap-int.h, libpcap 1.10). libpcap rejects larger records as
/// corrupt unless the file header allows them.
pub const MAX_PCAP_SNAPLEN: u32 = 262_144;

/// Captured length above which a record is corrupt even when the snapshot length
/// allows it. No link layer carries frames this large, and a stream reader must
/// buffer a whole record.
pub const MAX_PCAP_CAPTURED_LEN: u32 = 16 * 1024 * 1024;

/// Bit of the LinkType field that says the FCS length bits are valid.
const LINKTYPE_FCS_PRESENT: u32 = 0x0400_0000;

/// The file header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcapHeader {
    pub byte_order: ByteOrder,
    /// Set by the 0xA1B23C4D magic: record timestamps carry nanoseconds, not microseconds.
    pub nanosecond: bool,
    pub version_major: u16,
    pub version_minor: u16,
    pub snaplen: u32,
    /// The link-layer type: the low 16 bits of the LinkType field.
    pub link: LinkType,
    /// Length of the frame check sequence at the end of every packet, in 16-bit
    /// words, when the writer recorded it in the LinkType field's upper bits.
    pub fcs_words: Option<u8>,
}

/// A packet record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcapRecordHeader {
    pub ts_sec: u32,
    /// Microseconds or nanoseconds past `ts_sec`, as the file header says.
    pub ts_fraction: u32,
    pub captured_len: u32,
    pub original_len: u32,
}

/// Returns the byte order and the nanosecond flag that a magic number stands for.
pub fn pcap_magic(bytes: [u8; 4]) -> Option<(ByteOrder, bool)> {
    match u32::from_be_bytes(bytes) {
        PCAP_MAGIC_MICROSECONDS => Some((ByteOrder::Big, false)),
        PCAP_MAGIC_NANOSECONDS => Some((ByteOrder::Big, true)),
        magic if magic == PCAP_MAGIC_MICROSECONDS.swap_bytes() => Some((ByteOrder::Little, false)),
        magic if magic == PCAP_MAGIC_NANOSECONDS.swap_bytes() => Some((ByteOrder::Little, true)),
        _ => None,
    }
}

/// Returns true when `bytes` begin one of the magic numbers in either byte
/// order. The format detection reads a file of two or three such bytes as a
/// pcap file cut short, not another format.
pub fn is_pcap_magic_prefix(bytes: &[u8]) -> bool {
    [PCAP_MAGIC_MICROSECONDS, PCAP_MAGIC_NANOSECONDS]
        .into_iter()
        .flat_map(|magic| [magic.to_be_bytes(), magic.to_le_bytes()])
        .any(|magic| magic.starts_with(bytes))
}

/// Parses the 24-byte file header.
pub fn parse_pcap_header(i: &[u8]) -> IResult<&[u8], PcapHeader> {
    let (i, magic) = take(4usize)(i)?;
    let Some((byte_order, nanosecond)) = magic.try_into().ok().and_then(pcap_magic) else {
        return Err(nom::Err::Error(nom::error::Error::new(
            magic,
            nom::error::ErrorKind::Tag,
        )));
    };
    let endian = Endianness::from(byte_order);

    let (i, version_major) = parse_u16(endian)(i)?;
    let (i, version_minor) = parse_u16(endian)(i)?;
    let (i, _reserved1) = parse_u32(endian)(i)?;
    let (i, _reserved2) = parse_u32(endian)(i)?;
    let (i, snaplen) = parse_u32(endian)(i)?;
    let (i, link_info) = parse_u32(endian)(i)?;

    // The LinkType field carries the link type in its low 16 bits; its top four
    // bits hold the FCS length when the P bit is set. Other bits are reserved.
    let fcs_words = (link_info & LINKTYPE_FCS_PRESENT != 0).then_some((link_info >> 28) as u8);
    let header = PcapHeader {
        byte_order,
        nanosecond,
        version_major,
        version_minor,
        snaplen,
        link: LinkType(link_info & 0xffff),
        fcs_words,
    };
    Ok((i, header))
}

/// Parses a 16-byte packet record header.
#[inline]
pub fn parse_pcap_record_header(i: &[u8], endian: Endianness) -> IResult<&[u8], PcapRecordHeader> {
    let (i, ts_sec) = parse_u32(endian)(i)?;
    let (i, ts_fraction) = parse_u32(endian)(i)?;
    let (i, captured_len) = parse_u32(endian)(i)?;
    let (i, original_len) = parse_u32(endian)(i)?;
    let header = PcapRecordHeader {
        ts_sec,
        ts_fraction,
        captured_len,
        original_len,
    };
    Ok((i, header))
}

/// Walks the packet records after the file header.
#[derive(Clone, Debug)]
pub(crate) struct PcapDecoder {
    endian: Endianness,
    nanos_per_unit: i64,
    link: LinkType,
    snaplen: u32,
    max_captured: u32,
}

impl PcapDecoder {
    /// Reads the file header at the start of `input`; returns the decoder and the
    /// stats it starts with.
    pub(crate) fn start(input: &[u8], at_eof: bool) -> Result<(PcapDecoder, CaptureStats), Step> {
        let header = match parse_pcap_header(input) {
            Ok((_, header)) => header,
            Err(nom::Err::Incomplete(_)) if !at_eof => {
                return Err(Step::NeedMore(PCAP_FILE_HEADER_LEN));
            }
            Err(nom::Err::Incomplete(_)) => {
                return Err(Step::Fatal(CaptureErrorKind::Truncated {
                    offset: 0,
                    record: RecordKind::PcapFileHeader,
                    part: TruncatedPart::Header,
                    needed: PCAP_FILE_HEADER_LEN as u64,
                    present: input.len() as u64,
                }));
            }
            Err(_) => {
                return Err(Step::Fatal(CaptureErrorKind::NotCapture {
                    first_bytes: input.iter().take(4).copied().collect(),
                }));
            }
        };
        if header.version_major != 2 {
            return Err(Step::Fatal(CaptureErrorKind::Unsupported {
                offset: 4,
                feature: Unsupported::PcapVersion {
                    major: header.version_major,
                    minor: header.version_minor,
                },
            }));
        }

        let decoder = PcapDecoder::new(&header);
        let mut stats = CaptureStats::new(CaptureFormat::Pcap {
            byte_order: header.byte_order,
            nanosecond: header.nanosecond,
        });
        stats.add_interface(InterfaceInfo {
            section: 0,
            index: 0,
            link: header.link,
            snaplen: header.snaplen,
            ts_resolution: if header.nanosecond {
                TsResolution::NANOSECONDS
            } else {
                TsResolution::MICROSECONDS
            },
            ts_offset_secs: 0,
        });
        stats.bytes_read = PCAP_FILE_HEADER_LEN as u64;
        Ok((decoder, stats))
    }

    pub(crate) fn new(header: &PcapHeader) -> PcapDecoder {
        PcapDecoder {
            endian: header.byte_order.into(),
            nanos_per_unit: if header.nanosecond { 1 } else { 1_000 },
            link: header.link,
            snaplen: header.snaplen,
            max_captured: header
                .snaplen
                .clamp(MAX_PCAP_SNAPLEN, MAX_PCAP_CAPTURED_LEN),
        }
    }

    /// Decodes the record at the start of `input`, which sits at byte `offset` of
    /// the file. A frame is written to `frame`.
    #[inline(always)]
    pub(crate) fn decode<'a>(
        &self,
        input: &'a [u8],
        offset: u64,
        at_eof: bool,
        stats: &mut CaptureStats,
        frame: &mut Frame<'a>,
    ) -> Step {
        let Ok((rest, record)) = parse_pcap_record_header(input, self.endian) else {
            // A fixed-size header fails only for want of bytes.
            return if input.is_empty() && at_eof {
                Step::End
            } else if !at_eof {
                Step::NeedMore(PCAP_RECORD_HEADER_LEN)
            } else {
                Step::Fatal(CaptureErrorKind::Truncated {
                    offset,
                    record: RecordKind::PcapRecord,
                    part: TruncatedPart::Header,
                    needed: PCAP_RECORD_HEADER_LEN as u64,
                    present: input.len() as u64,
                })
            };
        };

        if record.captured_len > self.max_captured {
            return Step::Fatal(CaptureErrorKind::Corrupt {
                offset,
                record: RecordKind::PcapRecord,
                problem: Problem::CapturedLengthTooLarge {
                    captured: record.captured_len,
                    snaplen: self.snaplen,
                    max: self.max_captured,
                },
            });
        }
        let captured = record.captured_len as usize;
        let Some(data) = rest.get(..captured) else {
            if !at_eof {
                return Step::NeedMore(PCAP_RECORD_HEADER_LEN + captured);
            }
            return Step::Fatal(CaptureErrorKind::Truncated {
                offset,
                record: RecordKind::PcapRecord,
                part: TruncatedPart::Body,
                needed: captured as u64,
                present: rest.len() as u64,
            });
        };

        // libpcap reads a record longer than the snapshot length but hands out only
        // the first snaplen bytes; a snaplen of 0 is invalid and limits nothing.
        let data = if self.snaplen != 0 && record.captured_len > self.snaplen {
            stats.frames_cut_to_snaplen += 1;
            data.get(..self.snaplen as usize).unwrap_or(data)
        } else {
            data
        };
        let ts = Timestamp(
            i64::from(record.ts_sec) * Timestamp::NANOS_PER_SEC
                + i64::from(record.ts_fraction) * self.nanos_per_unit,
        );
        *frame = Frame {
            ts,
            link: self.link,
            data,
            // The draft lets a reader raise an original length below the captured one.
            orig_len: record.original_len.max(record.captured_len),
            interface: 0,
            offset,
        };
        Step::Frame(PCAP_RECORD_HEADER_LEN + captured)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::reader::empty_frame;

    /// Builds a file header with the given fields in the given byte order.
    fn header_bytes(order: ByteOrder, magic: u32, snaplen: u32, link_info: u32) -> Vec<u8> {
        let put32 = |v: u32| match order {
            ByteOrder::Little => v.to_le_bytes(),
            ByteOrder::Big => v.to_be_bytes(),
        };
        let put16 = |v: u16| match order {
            ByteOrder::Little => v.to_le_bytes(),
            ByteOrder::Big => v.to_be_bytes(),
        };
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&put32(magic));
        bytes.extend_from_slice(&put16(2));
        bytes.extend_from_slice(&put16(4));
        bytes.extend_from_slice(&put32(0));
        bytes.extend_from_slice(&put32(0));
        bytes.extend_from_slice(&put32(snaplen));
        bytes.extend_from_slice(&put32(link_info));
        bytes
    }

    #[test]
    fn header_parses_all_four_magics() {
        let cases = [
            (ByteOrder::Little, PCAP_MAGIC_MICROSECONDS, false),
            (ByteOrder::Big, PCAP_MAGIC_MICROSECONDS, false),
            (ByteOrder::Little, PCAP_MAGIC_NANOSECONDS, true),
            (ByteOrder::Big, PCAP_MAGIC_NANOSECONDS, true),
        ];
        for (order, magic, nanosecond) in cases {
            let bytes = header_bytes(order, magic, 65535, 113);

            let (rest, header) = parse_pcap_header(&bytes).unwrap();

            assert!(rest.is_empty());
            assert_eq!(header.byte_order, order);
            assert_eq!(header.nanosecond, nanosecond);
            assert_eq!(header.snaplen, 65535);
            assert_eq!(header.link, LinkType::LINUX_SLL);
            assert_eq!((header.version_major, header.version_minor), (2, 4));
        }
    }

    #[test]
    fn header_keeps_only_link_type_of_linktype_field() {
        // FCS length 2 words with the P bit set, plus a reserved bit.
        let bytes = header_bytes(
            ByteOrder::Little,
            PCAP_MAGIC_MICROSECONDS,
            1500,
            0x2401_0001,
        );

        let (_, header) = parse_pcap_header(&bytes).unwrap();

        assert_eq!(header.link, LinkType::ETHERNET);
        assert_eq!(header.fcs_words, Some(2));
    }

    #[test]
    fn header_without_p_bit_has_no_fcs_length() {
        let bytes = header_bytes(
            ByteOrder::Little,
            PCAP_MAGIC_MICROSECONDS,
            1500,
            0x3000_0001,
        );

        let (_, header) = parse_pcap_header(&bytes).unwrap();

        assert_eq!(header.link, LinkType::ETHERNET);
        assert_eq!(header.fcs_words, None);
    }

    #[test]
    fn short_header_is_incomplete() {
        let bytes = header_bytes(ByteOrder::Big, PCAP_MAGIC_MICROSECONDS, 1500, 1);

        let result = parse_pcap_header(&bytes[..23]);

        assert!(matches!(result, Err(nom::Err::Incomplete(_))));
    }

    #[test]
    fn unknown_magic_is_an_error() {
        let mut bytes = header_bytes(ByteOrder::Big, PCAP_MAGIC_MICROSECONDS, 1500, 1);
        bytes[..4].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);

        assert!(matches!(parse_pcap_header(&bytes), Err(nom::Err::Error(_))));
    }

    #[test]
    fn record_header_reads_fields_in_wire_order() {
        let mut bytes = Vec::new();
        for value in [1_700_000_000u32, 999_999, 60, 1514] {
            bytes.extend_from_slice(&value.to_be_bytes());
        }

        let (rest, record) = parse_pcap_record_header(&bytes, Endianness::Big).unwrap();

        assert!(rest.is_empty());
        assert_eq!(record.ts_sec, 1_700_000_000);
        assert_eq!(record.ts_fraction, 999_999);
        assert_eq!(record.captured_len, 60);
        assert_eq!(record.original_len, 1514);
    }

    #[test]
    fn decoder_converts_timestamps_exactly() {
        let mut stats = CaptureStats::new(CaptureFormat::Pcap {
            byte_order: ByteOrder::Little,
            nanosecond: false,
        });
        let mut record = Vec::new();
        for value in [1_700_000_000u32, 123_456, 4, 4] {
            record.extend_from_slice(&value.to_le_bytes());
        }
        record.extend_from_slice(b"abcd");

        for (nanosecond, expected) in [
            (false, 1_700_000_000_123_456_000i64),
            (true, 1_700_000_000_000_123_456i64),
        ] {
            let bytes = header_bytes(
                ByteOrder::Little,
                if nanosecond {
                    PCAP_MAGIC_NANOSECONDS
                } else {
                    PCAP_MAGIC_MICROSECONDS
                },
                65535,
                1,
            );
            let (_, header) = parse_pcap_header(&bytes).unwrap();
            let decoder = PcapDecoder::new(&header);

            let mut frame = empty_frame();
            let Step::Frame(consumed) = decoder.decode(&record, 24, true, &mut stats, &mut frame)
            else {
                panic!("no frame decoded");
            };

            assert_eq!(frame.ts, Timestamp(expected));
            assert_eq!(frame.data, b"abcd");
            assert_eq!(consumed, 20);
        }
    }

    #[test]
    fn decoder_cuts_record_to_snaplen() {
        let mut stats = CaptureStats::new(CaptureFormat::Pcap {
            byte_order: ByteOrder::Little,
            nanosecond: false,
        });
        let bytes = header_bytes(ByteOrder::Little, PCAP_MAGIC_MICROSECONDS, 2, 1);
        let (_, header) = parse_pcap_header(&bytes).unwrap();
        let decoder = PcapDecoder::new(&header);
        let mut record = Vec::new();
        for value in [0u32, 0, 4, 60] {
            record.extend_from_slice(&value.to_le_bytes());
        }
        record.extend_from_slice(b"abcd");

        let mut frame = empty_frame();
        let Step::Frame(consumed) = decoder.decode(&record, 24, true, &mut stats, &mut frame)
        else {
            panic!("no frame decoded");
        };

        assert_eq!(frame.data, b"ab");
        assert_eq!(frame.orig_len, 60);
        assert_eq!(consumed, 20);
        assert_eq!(stats.frames_cut_to_snaplen, 1);
    }

    #[test]
    fn decoder_rejects_captured_length_above_both_limits() {
        let mut stats = CaptureStats::new(CaptureFormat::Pcap {
            byte_order: ByteOrder::Little,
            nanosecond: false,
        });
        let bytes = header_bytes(ByteOrder::Little, PCAP_MAGIC_MICROSECONDS, 65535, 1);
        let (_, header) = parse_pcap_header(&bytes).unwrap();
        let decoder = PcapDecoder::new(&header);
        let mut record = Vec::new();
        for value in [0u32, 0, MAX_PCAP_SNAPLEN + 1, 60] {
            record.extend_from_slice(&value.to_le_bytes());
        }

        let step = decoder.decode(&record, 40, true, &mut stats, &mut empty_frame());

        let Step::Fatal(CaptureErrorKind::Corrupt {
            offset, problem, ..
        }) = step
        else {
            panic!("captured length above the maximum was accepted");
        };
        assert_eq!(offset, 40);
        assert_eq!(
            problem,
            Problem::CapturedLengthTooLarge {
                captured: MAX_PCAP_SNAPLEN + 1,
                snaplen: 65535,
                max: MAX_PCAP_SNAPLEN,
            }
        );
    }
}
