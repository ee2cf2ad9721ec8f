//! The capture readers over real captures: frame counts, timestamps, byte
//! orders, pcapng sections and interfaces, streaming, truncation and corruption.

#[path = "common/capture_fixtures.rs"]
mod capture_fixtures;

use std::path::Path;

use capture_fixtures::*;
use exflow::capture::error::{CaptureErrorKind, Problem, RecordKind, TruncatedPart};
use exflow::capture::pcapng::BlockType;
use exflow::capture::stats::{ByteOrder, CorruptBlock};
use exflow::capture::{CaptureFormat, CaptureInput, LinkType, Timestamp, TsResolution, open};
use proptest::prelude::*;

/// Corpus files that end in an error, with the frames read before it and the
/// error message after the file name.
const BROKEN_FILES: &[(&str, usize, &str)] = &[
    // tshark counts one packet and then reports the file cut short. The record
    // claims 524501 captured bytes with a snapshot length of 0; libpcap rejects
    // a captured length above 262144 as corrupt, and so does exflow.
    (
        "ndpi__fuzz-2021-10-13.pcap",
        0,
        "invalid packet record at byte offset 24: captured length 524501 exceeds the snapshot length 0 and the maximum 262144",
    ),
    (
        "derived__smtp_truncated_midpacket.pcap",
        40,
        "truncated packet record at byte offset 21740: length in its header: 1506, bytes left: 753",
    ),
    (
        "derived__smtps_pcapng_truncated.pcapng",
        2,
        "truncated enhanced packet block at byte offset 312: length in its header: 604, bytes left: 516",
    ),
];

/// The corpus file that is not a capture at all.
const NOT_A_CAPTURE: &str = "derived__http_corrupt_magic.pcap";

/// Returns the link type provenance.tsv names, for the names this test maps.
fn provenance_link(name: &str) -> Option<LinkType> {
    match name {
        "ether" => Some(LinkType::ETHERNET),
        "linux-sll" => Some(LinkType::LINUX_SLL),
        "null" => Some(LinkType::NULL),
        _ => None,
    }
}

fn is_broken(name: &str) -> bool {
    name == NOT_A_CAPTURE || BROKEN_FILES.iter().any(|(broken, _, _)| *broken == name)
}

#[test]
fn corpus_frame_counts_match_provenance() {
    let rows = provenance();
    assert!(
        rows.len() > 150,
        "provenance.tsv lists {} files",
        rows.len()
    );

    for row in rows.iter().filter(|row| !is_broken(&row.name)) {
        assert!(
            row.tshark_read_ok,
            "{}: tshark failed but the file is not listed as broken",
            row.name
        );
        let outcome = read_slice(&corpus_bytes(&row.name), &row.name).unwrap();

        assert!(outcome.error.is_none(), "{}: {:?}", row.name, outcome.error);
        assert_eq!(
            Some(outcome.frames.len() as u64),
            row.packets,
            "{}",
            row.name
        );
        assert_eq!(
            outcome.stats.frames,
            outcome.frames.len() as u64,
            "{}",
            row.name
        );
        assert_eq!(outcome.stats.bytes_read, row.size, "{}", row.name);
        assert_eq!(outcome.stats.corrupt_blocks, 0, "{}", row.name);
        assert_eq!(outcome.stats.format.to_string(), row.format, "{}", row.name);
        if let Some(link) = provenance_link(&row.linktype) {
            assert!(
                outcome.frames.iter().all(|frame| frame.link == link),
                "{}",
                row.name
            );
        }
    }
}

#[test]
fn broken_corpus_files_end_with_clear_errors() {
    for &(name, frames, message) in BROKEN_FILES {
        let path = corpus_path(name);
        let Ok(CaptureInput::Mapped(capture)) = open(&path) else {
            panic!("{name}: not opened as a mapped file");
        };
        let outcome = drain(&mut capture.reader());

        assert_eq!(outcome.frames.len(), frames, "{name}");
        let error = outcome.error.unwrap_or_else(|| panic!("{name}: no error"));
        assert_eq!(error.to_string(), format!("{}: {message}", path.display()));
    }
}

#[test]
fn opened_file_reads_through_input_reader() {
    let name = "ndpi__smtps.pcapng";
    let mut input = open(&corpus_path(name)).unwrap();
    assert!(matches!(input, CaptureInput::Mapped(_)));

    let outcome = drain(&mut input.reader());

    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(outcome.frames, corpus_frames(name));
    assert_eq!(outcome.stats.frames, 4);
}

#[test]
fn truncated_pcap_fails_after_last_whole_record() {
    let name = "derived__smtp_truncated_midpacket.pcap";
    let bytes = corpus_bytes(name);

    let outcome = read_slice(&bytes, name).unwrap();

    // The cut record starts where the last whole one ends.
    let last = outcome.frames.last().unwrap();
    let cut_record = last.offset + 16 + last.data.len() as u64;
    let error = outcome.error.unwrap();
    let CaptureErrorKind::Truncated {
        offset,
        part,
        needed,
        present,
        ..
    } = error.kind
    else {
        panic!("{error}");
    };
    assert_eq!(offset, cut_record);
    assert_eq!(part, TruncatedPart::Body);
    assert_eq!(present, bytes.len() as u64 - cut_record - 16);
    assert!(present < needed);
}

#[test]
fn truncated_pcapng_fails_after_last_whole_block() {
    let name = "derived__smtps_pcapng_truncated.pcapng";
    let bytes = corpus_bytes(name);
    let block_len = |at: u64| {
        let at = at as usize + 4;
        u64::from(u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()))
    };

    let outcome = read_slice(&bytes, name).unwrap();

    // The cut block starts where the block of the last whole frame ends.
    let last = outcome.frames.last().unwrap();
    let cut_block = last.offset + block_len(last.offset);
    let error = outcome.error.unwrap();
    let CaptureErrorKind::Truncated {
        offset,
        part,
        needed,
        present,
        ..
    } = error.kind
    else {
        panic!("{error}");
    };
    assert_eq!(offset, cut_block);
    assert_eq!(part, TruncatedPart::Body);
    assert_eq!(needed, block_len(cut_block));
    assert_eq!(present, bytes.len() as u64 - cut_block);
}

#[test]
fn non_capture_file_is_rejected_with_first_bytes() {
    let path = corpus_path(NOT_A_CAPTURE);

    let Err(error) = open(&path) else {
        panic!("{NOT_A_CAPTURE} was accepted");
    };

    assert!(matches!(error.kind, CaptureErrorKind::NotCapture { .. }));
    let expected = format!(
        "{}: not a pcap or pcapng file: first bytes are 0xdeadbeef",
        path.display()
    );
    assert!(error.to_string().starts_with(&expected), "{error}");
}

#[test]
fn missing_file_error_names_the_path() {
    let path = corpus_path("no-such-capture.pcap");

    let Err(error) = open(&path) else {
        panic!("a missing file was opened");
    };

    assert_eq!(error.input, path.display().to_string());
    assert!(matches!(error.kind, CaptureErrorKind::Io { .. }), "{error}");
    assert!(error.to_string().contains("open failed"), "{error}");
}

#[test]
fn character_device_is_read_as_stream() {
    let error = match open(Path::new("/dev/null")) {
        Ok(_) => panic!("/dev/null was accepted as a capture"),
        Err(error) => error,
    };

    assert_eq!(
        error.to_string(),
        "/dev/null: not a pcap or pcapng file: the input is empty"
    );
}

#[test]
fn directory_fails_with_read_error() {
    let folder = corpus_dir();

    let error = match open(&folder) {
        Ok(_) => panic!("a directory was accepted as a capture"),
        Err(error) => error,
    };

    assert_eq!(error.input, folder.display().to_string());
    assert!(matches!(error.kind, CaptureErrorKind::Io { .. }), "{error}");
    assert!(error.to_string().contains("read failed"), "{error}");
}

#[test]
fn empty_captures_have_no_frames() {
    for (name, format) in [
        ("tcpdump__empty.pcap", "pcap-le-usec"),
        ("tcpdump__empty.pcapng", "pcapng-le"),
    ] {
        let bytes = corpus_bytes(name);

        let outcome = read_slice(&bytes, name).unwrap();

        assert!(outcome.frames.is_empty(), "{name}");
        assert!(outcome.error.is_none(), "{name}: {:?}", outcome.error);
        assert_eq!(outcome.stats.format.to_string(), format);
        assert_eq!(outcome.stats.interfaces.len(), 1, "{name}");
        assert_eq!(
            outcome.stats.interfaces[0].link,
            LinkType::ETHERNET,
            "{name}"
        );
        assert_eq!(outcome.stats.bytes_read, bytes.len() as u64, "{name}");
    }
}

#[test]
fn snaplen_cuts_record_data_as_libpcap() {
    // The file's snapshot length is 1 and its record claims 8 captured bytes:
    // tcpdump shows one byte of it.
    let name = "zeek__trunc__trunc-hdr.pcap";
    let outcome = read_slice(&corpus_bytes(name), name).unwrap();

    assert_eq!(outcome.frames.len(), 1);
    assert_eq!(outcome.frames[0].data, [0x00]);
    assert_eq!(outcome.frames[0].orig_len, 78);
    assert_eq!(outcome.stats.frames_cut_to_snaplen, 1);
}

#[test]
fn nanosecond_timestamps_match_tshark() {
    // tshark -T fields -e frame.time_epoch
    let expected = [
        (1_418_145_369, 924_505_488),
        (1_418_145_370, 52_027_262),
        (1_418_145_370, 52_115_157),
    ];
    let name = "tcpdump__tcp-handshake-nano.pcap";
    let outcome = read_slice(&corpus_bytes(name), name).unwrap();

    assert_eq!(
        outcome.stats.format,
        CaptureFormat::Pcap {
            byte_order: ByteOrder::Little,
            nanosecond: true
        }
    );
    let timestamps: Vec<Timestamp> = outcome.frames.iter().map(|frame| frame.ts).collect();
    let expected: Vec<Timestamp> = expected
        .iter()
        .map(|&(secs, nanos)| Timestamp::from_secs_nanos(secs, nanos))
        .collect();
    assert_eq!(timestamps, expected);
    assert_eq!(outcome.stats.time_span, Some((expected[0], expected[2])));
    assert!(
        outcome
            .frames
            .iter()
            .all(|frame| frame.link == LinkType::LINUX_SLL)
    );
}

#[test]
fn big_endian_microsecond_file_matches_tshark() {
    // tshark -T fields -e frame.time_epoch -e frame.cap_len
    let expected = [
        (954_147_395, 148_077_000, 62),
        (954_147_395, 148_207_000, 62),
        (954_147_395, 148_313_000, 62),
        (954_147_395, 148_666_000, 60),
        (954_147_395, 148_886_000, 210),
    ];
    let name = "tcpdump__pptp.pcap";
    let outcome = read_slice(&corpus_bytes(name), name).unwrap();

    assert_eq!(outcome.stats.format.to_string(), "pcap-be-usec");
    assert_eq!(outcome.frames.len(), 23);
    for (frame, &(secs, nanos, len)) in outcome.frames.iter().zip(&expected) {
        assert_eq!(frame.ts, Timestamp::from_secs_nanos(secs, nanos));
        assert_eq!(frame.data.len(), len);
    }
}

#[test]
fn big_endian_copies_read_alike() {
    let little_endian: Vec<ProvenanceRow> = provenance()
        .into_iter()
        .filter(|row| row.format.starts_with("pcap-le") && !is_broken(&row.name))
        .collect();
    assert!(little_endian.len() > 100);

    for row in little_endian {
        let bytes = corpus_bytes(&row.name);
        let swapped = pcap_to_big_endian(&bytes);
        let original = read_slice(&bytes, &row.name).unwrap();

        let converted = read_slice(&swapped, &row.name).unwrap();

        assert!(
            converted.error.is_none(),
            "{}: {:?}",
            row.name,
            converted.error
        );
        assert_eq!(converted.frames, original.frames, "{}", row.name);
        let CaptureFormat::Pcap { byte_order, .. } = converted.stats.format else {
            panic!("{}: not read as pcap", row.name);
        };
        assert_eq!(byte_order, ByteOrder::Big, "{}", row.name);
    }
}

#[test]
fn pcapng_with_many_interfaces_matches_tshark() {
    // The file defines 126 interfaces of three link types; tshark puts all 17
    // packets on interface 48.
    let name = "zeek__ldap__modify-request.pcapng";
    let outcome = read_slice(&corpus_bytes(name), name).unwrap();
    let interfaces = &outcome.stats.interfaces;

    assert_eq!(interfaces.len(), 126);
    assert_eq!(interfaces[9].link, LinkType::LINUX_SLL);
    assert_eq!(interfaces[23].link, LinkType(274));
    assert_eq!(interfaces[3].ts_resolution, TsResolution::NANOSECONDS);
    assert_eq!(interfaces[7].ts_resolution, TsResolution::MICROSECONDS);
    assert!(
        interfaces
            .iter()
            .enumerate()
            .all(|(index, info)| info.index == index as u32)
    );
    assert_eq!(outcome.frames.len(), 17);
    assert!(outcome.frames.iter().all(|frame| frame.interface == 48));
    assert!(
        outcome
            .frames
            .iter()
            .all(|frame| frame.link == LinkType::ETHERNET)
    );
    assert_eq!(
        outcome.frames[0].ts,
        Timestamp::from_secs_nanos(1_725_966_551, 231_155_000)
    );
    assert_eq!(
        outcome.frames[16].ts,
        Timestamp::from_secs_nanos(1_725_966_551, 239_887_000)
    );
    assert_eq!(outcome.stats.blocks_skipped, 5);
}

#[test]
fn concatenated_pcapng_files_read_as_sections() {
    let (first, second) = ("ndpi__smtps.pcapng", "ndpi__http2.pcapng");
    let (first_bytes, second_bytes) = (corpus_bytes(first), corpus_bytes(second));
    let joined = [first_bytes.clone(), second_bytes].concat();
    let mut expected = corpus_frames(first);
    for mut frame in corpus_frames(second) {
        frame.offset += first_bytes.len() as u64;
        expected.push(frame);
    }

    let outcome = read_slice(&joined, "joined").unwrap();

    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(outcome.frames, expected);
    assert_eq!(outcome.stats.sections, 2);
    let interfaces: Vec<(u32, u32, LinkType)> = outcome
        .stats
        .interfaces
        .iter()
        .map(|info| (info.section, info.index, info.link))
        .collect();
    assert_eq!(
        interfaces,
        [(0, 0, LinkType::ETHERNET), (1, 0, LinkType::LINUX_SLL)]
    );
}

#[test]
fn sections_may_differ_in_byte_order() {
    let first = "ndpi__smtps.pcapng";
    let first_bytes = corpus_bytes(first);
    let nano = corpus_frames("tcpdump__tcp-handshake-nano.pcap");
    let mut writer = PcapngWriter::new();
    writer.raw(&first_bytes);
    writer.section(Order::Big);
    writer.interface(LinkType::LINUX_SLL, 262_144, Some(9), None);
    let mut expected = corpus_frames(first);
    for frame in &nano {
        let offset = writer.len() as u64;
        writer.enhanced_packet(0, frame.ts.0 as u64, &frame.data, frame.orig_len);
        expected.push(OwnedFrame {
            offset,
            interface: 0,
            ..frame.clone()
        });
    }

    let outcome = read_slice(&writer.bytes(), "mixed").unwrap();

    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(outcome.frames, expected);
    assert_eq!(outcome.stats.sections, 2);
    assert_eq!(
        outcome.stats.format,
        CaptureFormat::Pcapng {
            byte_order: ByteOrder::Little
        }
    );
}

/// Builds a file with two interfaces that differ in link type and timestamp
/// resolution. It holds every packet block type and blocks to skip. Returns the
/// file and the frames a reader must yield.
fn two_interface_capture(order: Order) -> (Vec<u8>, Vec<OwnedFrame>) {
    const OFFSET_SECS: i64 = 1_000_000_000;
    // Units of 2^-9 s are 1953125 ns.
    const BINARY_UNIT_NANOS: i64 = 1_953_125;
    let ethernet = corpus_frames("ndpi__imap.pcap");
    let sll = corpus_frames("tcpdump__tcp-handshake-nano.pcap");

    let mut writer = PcapngWriter::new();
    writer.section(order);
    writer.interface(LinkType::ETHERNET, 65_535, Some(9), Some(OFFSET_SECS));
    writer.block(4, &[0; 4]);
    writer.interface(LinkType::LINUX_SLL, 262_144, Some(0x80 | 9), None);
    let mut expected = Vec::new();

    for (index, frame) in ethernet.iter().take(12).enumerate() {
        let offset = writer.len() as u64;
        let units = (frame.ts.0 - OFFSET_SECS * 1_000_000_000) as u64;
        match index {
            3 => {
                writer.packet(0, units, &frame.data, frame.orig_len);
            }
            _ => {
                writer.enhanced_packet(0, units, &frame.data, frame.orig_len);
            }
        }
        expected.push(OwnedFrame {
            offset,
            interface: 0,
            ..frame.clone()
        });

        if let Some(frame) = sll.get(index) {
            let offset = writer.len() as u64;
            let units = frame.ts.0 / BINARY_UNIT_NANOS;
            writer.enhanced_packet(1, units as u64, &frame.data, frame.orig_len);
            expected.push(OwnedFrame {
                ts: Timestamp(frame.ts.0 - frame.ts.0 % BINARY_UNIT_NANOS),
                offset,
                interface: 1,
                ..frame.clone()
            });
        }
        if index == 5 {
            // Interface statistics, decryption secrets, a custom block and a
            // block type for local use.
            writer.block(5, &[0; 12]);
            writer.block(0x0A, &[0; 8]);
            writer.block(0x0BAD, &[0; 8]);
            writer.block(0x8000_0001, &[1, 2, 3]);
        }
    }

    // A simple packet block belongs to interface 0 and keeps the last timestamp.
    let frame = &ethernet[12];
    let offset = writer.len() as u64;
    writer.simple_packet(&frame.data, frame.orig_len);
    let last_ts = expected.last().unwrap().ts;
    expected.push(OwnedFrame {
        ts: last_ts,
        offset,
        interface: 0,
        ..frame.clone()
    });
    (writer.bytes(), expected)
}

#[test]
fn pcapng_interfaces_differ_in_link_and_resolution() {
    for order in [Order::Little, Order::Big] {
        let (bytes, expected) = two_interface_capture(order);

        let outcome = read_slice(&bytes, "two-interfaces").unwrap();

        assert!(outcome.error.is_none(), "{order:?}: {:?}", outcome.error);
        assert_eq!(outcome.frames, expected, "{order:?}");
        assert_eq!(outcome.stats.blocks_skipped, 5, "{order:?}");
        let interfaces = &outcome.stats.interfaces;
        assert_eq!(interfaces.len(), 2);
        assert_eq!(interfaces[0].ts_resolution, TsResolution::Decimal(9));
        assert_eq!(interfaces[0].ts_offset_secs, 1_000_000_000);
        assert_eq!(interfaces[1].ts_resolution, TsResolution::Binary(9));
        assert_eq!(interfaces[1].link, LinkType::LINUX_SLL);
    }
}

#[test]
fn simple_packet_length_is_smallest_of_three() {
    let data = &corpus_frames("ndpi__smtp.pcap")[3].data;
    assert!(data.len() > 100);
    let mut writer = PcapngWriter::new();
    writer.section(Order::Little);
    writer.interface(LinkType::ETHERNET, 64, None, None);
    // Limited by the snapshot length, by the original length (below the
    // padded room), and by the room in the block.
    writer.simple_packet(&data[..100], 1500);
    writer.simple_packet(&data[..30], 30);
    writer.simple_packet(&data[..52], 5000);

    let outcome = read_slice(&writer.bytes(), "simple").unwrap();

    let lengths: Vec<usize> = outcome
        .frames
        .iter()
        .map(|frame| frame.data.len())
        .collect();
    assert_eq!(lengths, [64, 30, 52]);
    assert_eq!(outcome.frames[1].data, data[..30]);
    assert_eq!(outcome.frames[0].orig_len, 1500);
}

/// A simple packet block has no time of its own and takes the last enhanced
/// packet block's. After a clamped one it carries the clamped time, so it is
/// counted with the clamped frames; after an in-range one it is not.
#[test]
fn simple_packets_after_clamped_time_are_counted() {
    let data = &corpus_frames("ndpi__smtp.pcap")[3].data;
    let mut writer = PcapngWriter::new();
    writer.section(Order::Little);
    writer.interface(LinkType::ETHERNET, 0, None, None);
    writer.simple_packet(data, data.len() as u32);
    let first_clamped = writer.len() as u64;
    // Microseconds since 1970: about 585,000 years, past the range.
    writer.enhanced_packet(0, u64::MAX, data, data.len() as u32);
    writer.simple_packet(data, data.len() as u32);
    writer.simple_packet(data, data.len() as u32);
    writer.enhanced_packet(0, 1_000_000, data, data.len() as u32);
    writer.simple_packet(data, data.len() as u32);

    let outcome = read_slice(&writer.bytes(), "clamped").unwrap();

    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(outcome.frames.len(), 6);
    let clamped_frames = outcome
        .frames
        .iter()
        .filter(|frame| frame.ts == Timestamp(i64::MAX))
        .count();
    assert_eq!(clamped_frames, 3);
    assert_eq!(outcome.stats.timestamps_clamped, 3);
    assert_eq!(outcome.stats.first_clamped_offset, Some(first_clamped));
}

#[test]
fn unsupported_section_version_is_skipped() {
    let frames = corpus_frames("ndpi__smtp.pcap");
    let mut writer = PcapngWriter::new();
    writer.section_version(Order::Little, 2, 0);
    writer.interface(LinkType::ETHERNET, 0, None, None);
    writer.enhanced_packet(0, 1, &frames[0].data, frames[0].orig_len);
    writer.section(Order::Big);
    writer.interface(LinkType::ETHERNET, 0, None, None);
    let offset = writer.len() as u64;
    writer.enhanced_packet(0, 7, &frames[1].data, frames[1].orig_len);

    let outcome = read_slice(&writer.bytes(), "versions").unwrap();

    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(outcome.frames.len(), 1);
    assert_eq!(outcome.frames[0].offset, offset);
    assert_eq!(outcome.frames[0].ts, Timestamp(7_000));
    assert_eq!(outcome.stats.sections, 2);
    assert_eq!(outcome.stats.sections_skipped, 1);
    assert_eq!(outcome.stats.blocks_skipped, 2);
}

#[test]
fn packet_block_naming_unknown_interface_is_skipped() {
    let frames = corpus_frames("ndpi__smtp.pcap");
    let mut writer = PcapngWriter::new();
    writer.section(Order::Little);
    writer.interface(LinkType::ETHERNET, 0, None, None);
    let bad_offset = writer.len() as u64;
    writer.enhanced_packet(5, 1, &frames[0].data, frames[0].orig_len);
    let next_offset = writer.len() as u64;
    writer.enhanced_packet(0, 2, &frames[1].data, frames[1].orig_len);

    let outcome = read_slice(&writer.bytes(), "interfaces").unwrap();

    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(outcome.frames.len(), 1);
    assert_eq!(outcome.frames[0].data, frames[1].data);
    assert_eq!(
        outcome.stats.corrupt_notes,
        [CorruptBlock {
            offset: bad_offset,
            record: RecordKind::PcapngBlock(BlockType::ENHANCED_PACKET),
            problem: Problem::UnknownInterface {
                interface: 5,
                defined: 1
            },
            resumed_at: next_offset,
        }]
    );
}

#[test]
fn stream_reader_matches_slice_reader_on_corpus() {
    for row in provenance() {
        let bytes = corpus_bytes(&row.name);
        let slice = read_slice(&bytes, &row.name);

        for buffer_len in [64, 1 << 20] {
            let stream = read_stream_chunked(&bytes, &row.name, buffer_len);

            assert_same_outcome(
                &slice,
                &stream,
                &format!("{} (buffer {buffer_len})", row.name),
            );
        }
    }
}

fn assert_same_outcome(
    slice: &Result<ReadOutcome, exflow::capture::CaptureError>,
    stream: &Result<ReadOutcome, exflow::capture::CaptureError>,
    context: &str,
) {
    match (slice, stream) {
        (Ok(slice), Ok(stream)) => {
            assert_eq!(stream.frames, slice.frames, "{context}");
            assert_eq!(
                stream.error.as_ref().map(ToString::to_string),
                slice.error.as_ref().map(ToString::to_string),
                "{context}"
            );
            assert_eq!(stream.stats, slice.stats, "{context}");
        }
        (Err(slice), Err(stream)) => assert_eq!(stream.to_string(), slice.to_string(), "{context}"),
        _ => panic!("{context}: only one reader opened the input: {slice:?} / {stream:?}"),
    }
}

/// Returns the (start, length) of every record of a little-endian pcap file.
fn pcap_records(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut records = Vec::new();
    let mut position = 24;
    while position < bytes.len() {
        let captured =
            u32::from_le_bytes(bytes[position + 8..position + 12].try_into().unwrap()) as usize;
        records.push((position, 16 + captured));
        position += 16 + captured;
    }
    records
}

/// Returns the (start, length) of every block of a little-endian pcapng file.
fn pcapng_blocks(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut blocks = Vec::new();
    let mut position = 0;
    while position < bytes.len() {
        let length =
            u32::from_le_bytes(bytes[position + 4..position + 8].try_into().unwrap()) as usize;
        blocks.push((position, length));
        position += length;
    }
    blocks
}

#[test]
fn pcap_cut_at_every_offset() {
    let name = "ndpi__imap.pcap";
    let bytes = corpus_bytes(name);
    let records = pcap_records(&bytes);
    let all_frames = corpus_frames(name);

    for cut in 0..=bytes.len() {
        let prefix = &bytes[..cut];
        let slice = read_slice(prefix, name);
        let stream = read_stream_chunked(prefix, name, 64);
        assert_same_outcome(&slice, &stream, &format!("{name} cut at {cut}"));

        if cut < 24 {
            let error = slice.unwrap_err();
            // One byte is too little to tell a cut capture from another file.
            if cut < 2 {
                assert!(
                    matches!(error.kind, CaptureErrorKind::NotCapture { .. }),
                    "{cut}: {error}"
                );
            } else {
                assert_eq!(error.offset(), Some(0), "{cut}");
                assert!(matches!(
                    error.kind,
                    CaptureErrorKind::Truncated {
                        record: RecordKind::PcapFileHeader,
                        needed: 24,
                        ..
                    }
                ));
            }
            continue;
        }

        let outcome = slice.unwrap();
        let whole = records
            .iter()
            .filter(|(start, len)| start + len <= cut)
            .count();
        assert_eq!(outcome.frames, all_frames[..whole], "cut at {cut}");
        let Some(&(start, len)) = records.get(whole).filter(|(start, _)| *start < cut) else {
            assert!(outcome.error.is_none(), "cut at {cut}: {:?}", outcome.error);
            continue;
        };
        let error = outcome
            .error
            .unwrap_or_else(|| panic!("cut at {cut}: no error"));
        let CaptureErrorKind::Truncated {
            offset,
            record,
            part,
            needed,
            present,
        } = error.kind
        else {
            panic!("cut at {cut}: {error}");
        };
        assert_eq!(
            (offset, record),
            (start as u64, RecordKind::PcapRecord),
            "cut at {cut}"
        );
        let present_bytes = cut - start;
        if present_bytes < 16 {
            assert_eq!(
                (part, needed, present),
                (TruncatedPart::Header, 16, present_bytes as u64)
            );
        } else {
            let expected = (
                TruncatedPart::Body,
                len as u64 - 16,
                present_bytes as u64 - 16,
            );
            assert_eq!((part, needed, present), expected, "cut at {cut}");
        }
    }
}

#[test]
fn pcapng_cut_at_every_offset() {
    let name = "ndpi__smtps.pcapng";
    let bytes = corpus_bytes(name);
    let blocks = pcapng_blocks(&bytes);
    let all_frames = corpus_frames(name);

    for cut in 0..=bytes.len() {
        let prefix = &bytes[..cut];
        let slice = read_slice(prefix, name);
        let stream = read_stream_chunked(prefix, name, 64);
        assert_same_outcome(&slice, &stream, &format!("{name} cut at {cut}"));

        if cut < 12 {
            let error = slice.unwrap_err();
            // One byte is too little to tell a cut capture from another file.
            if cut < 2 {
                assert!(
                    matches!(error.kind, CaptureErrorKind::NotCapture { .. }),
                    "{cut}: {error}"
                );
            } else {
                let section = RecordKind::PcapngBlock(BlockType::SECTION_HEADER);
                assert!(
                    matches!(error.kind, CaptureErrorKind::Truncated { offset: 0, record, .. } if record == section),
                    "{cut}: {error}"
                );
            }
            continue;
        }

        let outcome = slice.unwrap();
        let frames_before = all_frames.iter().filter(|frame| {
            let (start, len) = blocks
                .iter()
                .find(|(start, _)| *start as u64 == frame.offset)
                .unwrap();
            start + len <= cut
        });
        assert_eq!(
            outcome.frames,
            frames_before.cloned().collect::<Vec<_>>(),
            "cut at {cut}"
        );
        let Some(&(start, len)) = blocks
            .iter()
            .find(|(start, len)| *start < cut && cut < start + len)
        else {
            assert!(outcome.error.is_none(), "cut at {cut}: {:?}", outcome.error);
            continue;
        };
        let error = outcome
            .error
            .unwrap_or_else(|| panic!("cut at {cut}: no error"));
        assert_eq!(error.offset(), Some(start as u64), "cut at {cut}: {error}");
        let CaptureErrorKind::Truncated {
            part,
            needed,
            present,
            ..
        } = error.kind
        else {
            panic!("cut at {cut}: {error}");
        };
        let present_bytes = (cut - start) as u64;
        assert_eq!(present, present_bytes, "cut at {cut}");
        let header_len = if start == 0 { 24 } else { 8 };
        if present_bytes < header_len {
            assert_eq!(
                (part, needed),
                (TruncatedPart::Header, header_len),
                "cut at {cut}"
            );
        } else {
            assert_eq!(
                (part, needed),
                (TruncatedPart::Body, len as u64),
                "cut at {cut}"
            );
        }
    }
}

/// Reads a copy of a pcapng corpus file with one block's length fields
/// changed; returns the outcome and the changed block's (start, length, next start).
fn read_with_block_changed(
    name: &str,
    block: usize,
    change: impl Fn(&mut [u8], usize, usize),
) -> (ReadOutcome, (usize, usize, usize), Vec<OwnedFrame>) {
    let mut bytes = corpus_bytes(name);
    let (start, len) = pcapng_blocks(&bytes)[block];
    let intact: Vec<OwnedFrame> = corpus_frames(name)
        .into_iter()
        .filter(|frame| frame.offset != start as u64)
        .collect();
    change(&mut bytes, start, len);

    let slice = read_slice(&bytes, name);
    let stream = read_stream_chunked(&bytes, name, 64);
    assert_same_outcome(&slice, &stream, name);
    (slice.unwrap(), (start, len, start + len), intact)
}

fn put_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

/// A change to a block's bytes, given the block's start and length.
type BlockChange = Box<dyn Fn(&mut [u8], usize, usize)>;

/// The problem a reader must report, given the block's start and length.
type ExpectedProblem = Box<dyn Fn(usize, usize) -> Problem>;

#[test]
fn corrupt_pcapng_block_is_skipped_and_reported() {
    let name = "ndpi__tls_2_reasms.pcapng";
    let file_len = corpus_bytes(name).len();
    // Block 7 is an enhanced packet block in the middle of the file.
    let block = 7;
    let epb = RecordKind::PcapngBlock(BlockType::ENHANCED_PACKET);

    let cases: Vec<(&str, BlockChange, ExpectedProblem)> = vec![
        (
            "trailing length differs",
            Box::new(|bytes, start, len| put_u32(bytes, start + len - 4, len as u32 + 4)),
            Box::new(|_, len| Problem::BlockLengthMismatch {
                leading: len as u32,
                trailing: len as u32 + 4,
            }),
        ),
        (
            "leading length runs past the end",
            Box::new(|bytes, start, _| put_u32(bytes, start + 4, 0x00ff_fff0)),
            Box::new(move |start, _| Problem::BlockLengthBeyondInput {
                length: 0x00ff_fff0,
                remaining: (file_len - start) as u64,
            }),
        ),
        (
            "leading length not a multiple of 4",
            Box::new(|bytes, start, _| put_u32(bytes, start + 4, 45)),
            Box::new(|_, _| Problem::BlockLengthInvalid {
                length: 45,
                min: 32,
            }),
        ),
        (
            "leading length above the maximum",
            Box::new(|bytes, start, _| put_u32(bytes, start + 4, 0xffff_fff0)),
            Box::new(|_, _| Problem::BlockTooLarge {
                length: 0xffff_fff0,
                max: exflow::capture::pcapng::MAX_BLOCK_LEN,
            }),
        ),
    ];

    for (case, change, problem) in cases {
        let (outcome, (start, len, next), intact) = read_with_block_changed(name, block, change);

        assert!(outcome.error.is_none(), "{case}: {:?}", outcome.error);
        assert_eq!(outcome.frames, intact, "{case}");
        assert_eq!(outcome.stats.corrupt_blocks, 1, "{case}");
        assert_eq!(outcome.stats.corrupt_bytes, len as u64, "{case}");
        let expected = CorruptBlock {
            offset: start as u64,
            record: epb,
            problem: problem(start, len),
            resumed_at: next as u64,
        };
        assert_eq!(outcome.stats.corrupt_notes, [expected], "{case}");
        let message = expected.to_error(name).to_string();
        assert!(
            message.contains(&format!("at byte offset {start}")),
            "{message}"
        );
    }
}

/// Garbage between two blocks of any length, not only whole 32-bit words, is
/// skipped and reported, and every frame after it is still read.
#[test]
fn pcapng_garbage_of_any_length_skipped() {
    let name = "ndpi__tls_2_reasms.pcapng";
    let bytes = corpus_bytes(name);
    let (insert_at, _) = pcapng_blocks(&bytes)[7];
    let intact = corpus_frames(name);

    for garbage_len in (1..=9).chain([36, 37, 38, 39]) {
        let mut changed = bytes[..insert_at].to_vec();
        changed.extend(std::iter::repeat_n(0xab, garbage_len));
        changed.extend_from_slice(&bytes[insert_at..]);
        let case = format!("{garbage_len} bytes of garbage");

        let slice = read_slice(&changed, name);
        let stream = read_stream_chunked(&changed, name, 64);
        assert_same_outcome(&slice, &stream, &case);
        let outcome = slice.unwrap();
        assert!(outcome.error.is_none(), "{case}: {:?}", outcome.error);
        let data = |frames: &[OwnedFrame]| -> Vec<Vec<u8>> {
            frames.iter().map(|frame| frame.data.clone()).collect()
        };
        assert_eq!(data(&outcome.frames), data(&intact), "{case}");
        assert_eq!(outcome.stats.corrupt_blocks, 1, "{case}");
        assert_eq!(outcome.stats.corrupt_bytes, garbage_len as u64, "{case}");
        let note = &outcome.stats.corrupt_notes[0];
        assert_eq!(note.offset, insert_at as u64, "{case}");
        assert_eq!(note.resumed_at, (insert_at + garbage_len) as u64, "{case}");
    }
}

#[test]
fn corrupt_last_block_without_resync_point_is_fatal() {
    let name = "ndpi__tls_2_reasms.pcapng";
    let last = pcapng_blocks(&corpus_bytes(name)).len() - 1;

    let (outcome, (start, len, _), intact) =
        read_with_block_changed(name, last, |bytes, start, len| {
            put_u32(bytes, start + len - 4, 8);
        });

    assert_eq!(outcome.frames, intact);
    let error = outcome
        .error
        .expect("the corrupt last block ends the input");
    let CaptureErrorKind::Corrupt {
        offset,
        record,
        problem,
    } = error.kind
    else {
        panic!("{error}");
    };
    assert_eq!(offset, start as u64);
    assert_eq!(record, RecordKind::PcapngBlock(BlockType::ENHANCED_PACKET));
    assert_eq!(
        problem,
        Problem::BlockLengthMismatch {
            leading: len as u32,
            trailing: 8
        }
    );
}

/// Corpus files small enough to mutate many times in one test.
fn small_corpus_files() -> Vec<String> {
    provenance()
        .into_iter()
        .filter(|row| row.size < 8_000 && row.name != NOT_A_CAPTURE)
        .map(|row| row.name)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Damaged copies of real captures never panic either reader, and both
    /// readers agree on them.
    #[test]
    fn damaged_captures_read_alike_without_panic(
        file in any::<prop::sample::Index>(),
        changes in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
        buffer_len in 64usize..4096,
    ) {
        let files = small_corpus_files();
        let name = &files[file.index(files.len())];
        let mut bytes = corpus_bytes(name);
        for (position, value) in changes {
            let at = position.index(bytes.len());
            bytes[at] = value;
        }
        let keep = bytes.len() - cut.index(bytes.len() / 4 + 1);
        bytes.truncate(keep);

        let slice = read_slice(&bytes, name);
        let stream = read_stream_chunked(&bytes, name, buffer_len);

        assert_same_outcome(&slice, &stream, name);
    }
}
