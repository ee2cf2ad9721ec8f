//! Error messages for people, in the language of the run, rendered from the
//! structured error values of the capture readers, the pipeline, the policy
//! loader and the operating system.
//!
//! The English text of an error that has a `Display` impl is that impl, which
//! keeps one English wording per error. The Japanese comes from the `error.*`
//! tables in `locales/errors.yml`. Messages that exist only here (a
//! skipped block, frames of an unsupported link type) have both languages in
//! the tables. Values (file names, offsets, lengths) are inserted as they are
//! and never translated.

use std::io;
use std::path::Path;

use crate::capture::error::{IoOperation, Problem, RecordKind, TruncatedPart, Unsupported};
use crate::capture::pcapng::BlockType;
use crate::capture::reader::STDIN_NAME;
use crate::capture::stats::CorruptBlock;
use crate::capture::{CaptureError, CaptureErrorKind, LinkType};
use crate::i18n::{Lang, message};
use crate::pipeline::InputError;
use crate::policy::{MAX_POLICY_FILE_BYTES, PolicyError};

/// Names an input for people: its path as given, or standard input in `lang`.
pub fn input_name(lang: Lang, name: &str) -> String {
    if name == STDIN_NAME {
        message(lang, "error.stdin", &[])
    } else {
        name.to_string()
    }
}

/// Renders a capture error with the input it came from: `a.pcap: ...`.
pub fn capture_error(lang: Lang, error: &CaptureError) -> String {
    format!(
        "{}: {}",
        input_name(lang, &error.input),
        capture_problem(lang, &error.kind)
    )
}

/// Renders what went wrong in a capture, without the input's name.
pub fn capture_problem(lang: Lang, kind: &CaptureErrorKind) -> String {
    if lang == Lang::En {
        return kind.to_string();
    }
    match kind {
        CaptureErrorKind::Io { operation, source } => {
            let key = match operation {
                IoOperation::Open => "error.capture.open",
                IoOperation::Map => "error.capture.map",
                IoOperation::Read => "error.capture.read",
            };
            message(lang, key, &[("error", &io_error(lang, source))])
        }
        CaptureErrorKind::NotCapture { first_bytes } if first_bytes.is_empty() => {
            message(lang, "error.capture.empty", &[])
        }
        CaptureErrorKind::NotCapture { first_bytes } => {
            let hex: String = first_bytes.iter().map(|b| format!("{b:02x}")).collect();
            message(lang, "error.capture.not_capture", &[("hex", &hex)])
        }
        CaptureErrorKind::Truncated {
            offset,
            record,
            part,
            needed,
            present,
        } => {
            let detail_key = match part {
                TruncatedPart::Header => "error.capture.truncated_header",
                TruncatedPart::Body => "error.capture.truncated_body",
            };
            let detail = message(
                lang,
                detail_key,
                &[
                    ("needed", &needed.to_string()),
                    ("present", &present.to_string()),
                ],
            );
            message(
                lang,
                "error.capture.truncated",
                &[
                    ("offset", &offset.to_string()),
                    ("record", &record_name(lang, *record)),
                    ("detail", &detail),
                ],
            )
        }
        CaptureErrorKind::Corrupt {
            offset,
            record,
            problem,
        } => message(
            lang,
            "error.capture.corrupt",
            &[
                ("offset", &offset.to_string()),
                ("record", &record_name(lang, *record)),
                ("problem", &problem_text(lang, *problem)),
            ],
        ),
        CaptureErrorKind::Unsupported { offset, feature } => {
            unsupported_text(lang, *offset, *feature)
        }
    }
}

/// Renders the error that stopped reading an input, with the input's name.
pub fn input_error(lang: Lang, error: &InputError) -> String {
    match error {
        InputError::Capture(error) => capture_error(lang, error),
        InputError::UnsupportedLink { input, .. } => {
            format!(
                "{}: {}",
                input_name(lang, input),
                input_problem(lang, error)
            )
        }
    }
}

/// Renders the error that stopped reading an input, without the input's name.
pub fn input_problem(lang: Lang, error: &InputError) -> String {
    match error {
        InputError::Capture(error) => capture_problem(lang, &error.kind),
        InputError::UnsupportedLink { link, .. } => message(
            lang,
            "error.link_unsupported",
            &[("link", &link_name(lang, *link))],
        ),
    }
}

/// Renders a corrupt pcapng block that the reader skipped, without the input's
/// name: what was wrong and where reading went on.
pub fn corrupt_block_skipped(lang: Lang, block: &CorruptBlock) -> String {
    let kind = CaptureErrorKind::Corrupt {
        offset: block.offset,
        record: block.record,
        problem: block.problem,
    };
    message(
        lang,
        "error.capture.skipped",
        &[
            ("error", &capture_problem(lang, &kind)),
            ("resumed_at", &block.resumed_at.to_string()),
        ],
    )
}

/// Renders a pcapng section of an unsupported version, found at `offset`,
/// whose blocks were skipped up to the next section header.
pub fn section_skipped(lang: Lang, offset: u64, version: Unsupported) -> String {
    message(
        lang,
        "error.capture.section_skipped",
        &[(
            "error",
            &capture_problem(
                lang,
                &CaptureErrorKind::Unsupported {
                    offset,
                    feature: version,
                },
            ),
        )],
    )
}

/// Renders the count of frames whose timestamps were clamped to the range of
/// a timestamp, with the byte offset of the first.
pub fn timestamps_clamped(lang: Lang, count: u64, offset: u64) -> String {
    message(
        lang,
        "error.capture.timestamps_clamped",
        &[
            ("count", &count.to_string()),
            ("offset", &offset.to_string()),
        ],
    )
}

/// Renders the count of skipped sections beyond those listed one by one.
pub fn sections_unlisted(lang: Lang, count: u64) -> String {
    message(
        lang,
        "error.capture.sections_skipped_more",
        &[("count", &count.to_string())],
    )
}

/// Renders the count of corrupt blocks skipped beyond those listed one by one.
pub fn corrupt_blocks_unlisted(lang: Lang, count: u64) -> String {
    message(
        lang,
        "error.capture.skipped_more",
        &[("count", &count.to_string())],
    )
}

/// Renders the frames of a pcapng interface whose link type exflow cannot
/// decode, which were skipped.
pub fn unsupported_link_frames(lang: Lang, link: LinkType, frames: u64) -> String {
    message(
        lang,
        "error.link_frames_skipped",
        &[
            ("frames", &frames.to_string()),
            ("link", &link_name(lang, link)),
        ],
    )
}

/// Renders a rules or site file error that has no diagnostics (the file could
/// not be read, or is too large). Returns `None` for an invalid file, whose
/// diagnostics render themselves.
pub fn policy_error(lang: Lang, error: &PolicyError) -> Option<String> {
    if lang == Lang::En {
        return match error {
            PolicyError::Invalid { .. } => None,
            _ => Some(error.to_string()),
        };
    }
    match error {
        PolicyError::Read { path, source } => Some(message(
            lang,
            "error.policy.read",
            &[
                ("path", &path.display().to_string()),
                ("error", &io_error(lang, source)),
            ],
        )),
        PolicyError::TooLarge { path } => Some(message(
            lang,
            "error.policy.too_large",
            &[
                ("path", &path.display().to_string()),
                ("max", &MAX_POLICY_FILE_BYTES.to_string()),
            ],
        )),
        PolicyError::Invalid { .. } => None,
    }
}

/// Renders a failure to create an output file (`-o`, `--report`).
pub fn output_open_failed(lang: Lang, path: &Path, error: &io::Error) -> String {
    message(
        lang,
        "cli.error.output",
        &[
            ("path", &path.display().to_string()),
            ("error", &io_error(lang, error)),
        ],
    )
}

/// Renders a failure to write an output: the file `path`, or standard output
/// for `None` or "-".
pub fn output_write_failed(lang: Lang, path: Option<&Path>, error: &io::Error) -> String {
    let target = match path.filter(|path| path.as_os_str() != "-") {
        Some(path) => path.display().to_string(),
        None => message(lang, "cli.error.stdout", &[]),
    };
    // A descriptor open only for reading (`1</dev/null`) gives EBADF, which
    // has no `io::ErrorKind` of its own, so the message explains it.
    let key = if error.raw_os_error() == Some(EBADF) {
        "cli.error.write_bad_descriptor"
    } else {
        "cli.error.write"
    };
    message(
        lang,
        key,
        &[("target", &target), ("error", &io_error(lang, error))],
    )
}

/// The error number of a bad file descriptor on Linux and the BSDs.
const EBADF: i32 = 9;

/// Renders an operating system error. English keeps the system's own text;
/// Japanese names the common kinds and keeps the error number, and falls back
/// to the system's English text for the rare ones.
pub fn io_error(lang: Lang, error: &io::Error) -> String {
    if lang == Lang::En {
        return error.to_string();
    }
    let key = match error.raw_os_error() {
        Some(EBADF) => Some("error.io.bad_descriptor"),
        _ => io_kind_key(error.kind()),
    };
    let Some(key) = key else {
        return error.to_string();
    };
    let text = message(lang, key, &[]);
    match error.raw_os_error() {
        Some(code) => message(
            lang,
            "error.io.with_code",
            &[("text", &text), ("code", &code.to_string())],
        ),
        None => text,
    }
}

/// Returns the message key of an I/O error kind that has its own wording.
fn io_kind_key(kind: io::ErrorKind) -> Option<&'static str> {
    use io::ErrorKind;

    Some(match kind {
        ErrorKind::NotFound => "error.io.not_found",
        ErrorKind::PermissionDenied => "error.io.permission_denied",
        ErrorKind::IsADirectory => "error.io.is_a_directory",
        ErrorKind::NotADirectory => "error.io.not_a_directory",
        ErrorKind::AlreadyExists => "error.io.already_exists",
        ErrorKind::StorageFull => "error.io.storage_full",
        ErrorKind::ReadOnlyFilesystem => "error.io.read_only",
        ErrorKind::FileTooLarge => "error.io.file_too_large",
        ErrorKind::UnexpectedEof => "error.io.unexpected_eof",
        ErrorKind::BrokenPipe => "error.io.broken_pipe",
        ErrorKind::Interrupted => "error.io.interrupted",
        ErrorKind::TimedOut => "error.io.timed_out",
        ErrorKind::OutOfMemory => "error.io.out_of_memory",
        ErrorKind::InvalidData => "error.io.invalid_data",
        ErrorKind::WouldBlock => "error.io.would_block",
        _ => return None,
    })
}

/// Names a header, record or block for a sentence.
fn record_name(lang: Lang, record: RecordKind) -> String {
    if lang == Lang::En {
        return record.to_string();
    }
    let key = match record {
        RecordKind::PcapFileHeader => "error.record.pcap_file_header",
        RecordKind::PcapRecord => "error.record.pcap_record",
        RecordKind::PcapngBlockOfUnknownType => "error.record.pcapng_block",
        RecordKind::PcapngBlock(block_type) => match block_type {
            BlockType::SECTION_HEADER => "error.block.section_header",
            BlockType::INTERFACE_DESCRIPTION => "error.block.interface_description",
            BlockType::PACKET => "error.block.packet",
            BlockType::SIMPLE_PACKET => "error.block.simple_packet",
            BlockType::NAME_RESOLUTION => "error.block.name_resolution",
            BlockType::INTERFACE_STATISTICS => "error.block.interface_statistics",
            BlockType::ENHANCED_PACKET => "error.block.enhanced_packet",
            BlockType::SYSTEMD_JOURNAL_EXPORT => "error.block.systemd_journal_export",
            BlockType::DECRYPTION_SECRETS => "error.block.decryption_secrets",
            BlockType::CUSTOM | BlockType::CUSTOM_DO_NOT_COPY => "error.block.custom",
            BlockType(code) => {
                return message(
                    lang,
                    "error.block.other",
                    &[("code", &format!("{code:08x}"))],
                );
            }
        },
    };
    message(lang, key, &[])
}

/// Renders the fault found in a corrupt header, record or block.
fn problem_text(lang: Lang, problem: Problem) -> String {
    let number = |value: u64| value.to_string();
    let (key, args): (&str, Vec<(&str, String)>) = match problem {
        Problem::CapturedLengthTooLarge {
            captured,
            snaplen,
            max,
        } => (
            "error.problem.captured_length_too_large",
            vec![
                ("captured", number(captured.into())),
                ("snaplen", number(snaplen.into())),
                ("max", number(max.into())),
            ],
        ),
        Problem::BlockLengthInvalid { length, min } => (
            "error.problem.block_length_invalid",
            vec![
                ("length", number(length.into())),
                ("min", number(min.into())),
            ],
        ),
        Problem::BlockTooLarge { length, max } => (
            "error.problem.block_too_large",
            vec![
                ("length", number(length.into())),
                ("max", number(max.into())),
            ],
        ),
        Problem::BlockLengthMismatch { leading, trailing } => (
            "error.problem.block_length_mismatch",
            vec![
                ("leading", number(leading.into())),
                ("trailing", number(trailing.into())),
            ],
        ),
        Problem::BlockLengthBeyondInput { length, remaining } => (
            "error.problem.block_length_beyond_input",
            vec![
                ("length", number(length.into())),
                ("remaining", number(remaining)),
            ],
        ),
        Problem::ByteOrderMagicInvalid { value } => (
            "error.problem.byte_order_magic_invalid",
            vec![("value", format!("{value:08x}"))],
        ),
        Problem::CapturedLengthExceedsBlock { captured, room } => (
            "error.problem.captured_length_exceeds_block",
            vec![
                ("captured", number(captured.into())),
                ("room", number(room.into())),
            ],
        ),
        Problem::UnknownInterface { interface, defined } => (
            "error.problem.unknown_interface",
            vec![
                ("interface", number(interface.into())),
                ("defined", number(defined.into())),
            ],
        ),
        Problem::TooManyInterfaces { max } => (
            "error.problem.too_many_interfaces",
            vec![("max", number(max.into()))],
        ),
        Problem::OptionOverrun { code, length, room } => (
            "error.problem.option_overrun",
            vec![
                ("code", number(code.into())),
                ("length", number(length.into())),
                ("room", number(room.into())),
            ],
        ),
        Problem::OptionLengthInvalid { code, length } => (
            "error.problem.option_length_invalid",
            vec![
                ("code", number(code.into())),
                ("length", number(length.into())),
            ],
        ),
    };
    let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
    message(lang, key, &args)
}

/// Renders a capture format version exflow does not read, found at `offset`.
fn unsupported_text(lang: Lang, offset: u64, feature: Unsupported) -> String {
    let (key, major, minor) = match feature {
        Unsupported::PcapVersion { major, minor } => ("error.unsupported.pcap", major, minor),
        Unsupported::PcapngVersion { major, minor } => ("error.unsupported.pcapng", major, minor),
    };
    message(
        lang,
        key,
        &[
            ("offset", &offset.to_string()),
            ("major", &major.to_string()),
            ("minor", &minor.to_string()),
        ],
    )
}

/// Names a link-layer header type: its registry name and number, or the bare
/// number when exflow has no name for it.
fn link_name(lang: Lang, link: LinkType) -> String {
    match link.name() {
        Some(_) => link.to_string(),
        None => message(lang, "error.link_type", &[("code", &link.0.to_string())]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_problems() -> Vec<Problem> {
        vec![
            Problem::CapturedLengthTooLarge {
                captured: 70000,
                snaplen: 65535,
                max: 262144,
            },
            Problem::BlockLengthInvalid {
                length: 13,
                min: 32,
            },
            Problem::BlockTooLarge {
                length: 90_000_000,
                max: 16_908_288,
            },
            Problem::BlockLengthMismatch {
                leading: 120,
                trailing: 7,
            },
            Problem::BlockLengthBeyondInput {
                length: 4096,
                remaining: 300,
            },
            Problem::ByteOrderMagicInvalid { value: 0xdead_beef },
            Problem::CapturedLengthExceedsBlock {
                captured: 1514,
                room: 64,
            },
            Problem::UnknownInterface {
                interface: 3,
                defined: 1,
            },
            Problem::TooManyInterfaces { max: 65536 },
            Problem::OptionOverrun {
                code: 9,
                length: 40,
                room: 8,
            },
            Problem::OptionLengthInvalid { code: 9, length: 3 },
        ]
    }

    /// Builds one error of every kind, each with distinctive numbers.
    fn all_kinds() -> Vec<CaptureErrorKind> {
        let mut kinds = vec![
            CaptureErrorKind::Io {
                operation: IoOperation::Open,
                source: io::Error::from_raw_os_error(2),
            },
            CaptureErrorKind::Io {
                operation: IoOperation::Map,
                source: io::Error::from_raw_os_error(12),
            },
            CaptureErrorKind::Io {
                operation: IoOperation::Read,
                source: io::Error::from_raw_os_error(21),
            },
            CaptureErrorKind::NotCapture {
                first_bytes: vec![0x3c, 0x68, 0x74, 0x6d],
            },
            CaptureErrorKind::NotCapture {
                first_bytes: Vec::new(),
            },
            CaptureErrorKind::Truncated {
                offset: 1234,
                record: RecordKind::PcapRecord,
                part: TruncatedPart::Body,
                needed: 1514,
                present: 700,
            },
            CaptureErrorKind::Truncated {
                offset: 0,
                record: RecordKind::PcapFileHeader,
                part: TruncatedPart::Header,
                needed: 24,
                present: 10,
            },
            CaptureErrorKind::Unsupported {
                offset: 0,
                feature: Unsupported::PcapVersion { major: 3, minor: 1 },
            },
            CaptureErrorKind::Unsupported {
                offset: 0,
                feature: Unsupported::PcapngVersion { major: 2, minor: 0 },
            },
        ];
        for (index, problem) in all_problems().into_iter().enumerate() {
            kinds.push(CaptureErrorKind::Corrupt {
                offset: 4096 + index as u64,
                record: RecordKind::PcapngBlock(BlockType::ENHANCED_PACKET),
                problem,
            });
        }
        kinds
    }

    #[test]
    fn english_is_the_display_text() {
        for kind in all_kinds() {
            assert_eq!(capture_problem(Lang::En, &kind), kind.to_string());
        }
        let error = InputError::UnsupportedLink {
            input: "wifi.pcap".to_string(),
            link: LinkType(105),
        };
        assert_eq!(input_error(Lang::En, &error), error.to_string());
    }

    #[test]
    fn japanese_covers_every_kind() {
        for kind in all_kinds() {
            let english = capture_problem(Lang::En, &kind);
            let japanese = capture_problem(Lang::Ja, &kind);
            assert!(!japanese.contains("error."), "missing text: {japanese}");
            assert!(!japanese.contains("%{"), "unfilled value: {japanese}");
            assert_ne!(japanese, english, "{kind:?} has no Japanese");
            assert!(
                japanese
                    .chars()
                    .any(|c| ('\u{3040}'..='\u{30ff}').contains(&c)),
                "{japanese} has no kana"
            );
        }
    }

    #[test]
    fn japanese_keeps_every_number() {
        for kind in all_kinds() {
            let english = capture_problem(Lang::En, &kind);
            let japanese = capture_problem(Lang::Ja, &kind);
            let numbers = |text: &str| -> Vec<String> {
                let mut numbers: Vec<String> = text
                    .split(|c: char| !c.is_ascii_hexdigit())
                    .filter(|word| word.len() > 1 && word.chars().any(|c| c.is_ascii_digit()))
                    .map(str::to_string)
                    .collect();
                numbers.sort();
                numbers
            };
            // The system's English text for an I/O error carries no numbers
            // beyond the error code, which both languages keep.
            assert_eq!(numbers(&japanese), numbers(&english), "{kind:?}");
        }
    }

    #[test]
    fn truncated_record_in_japanese() {
        let kind = CaptureErrorKind::Truncated {
            offset: 1234,
            record: RecordKind::PcapRecord,
            part: TruncatedPart::Body,
            needed: 1514,
            present: 700,
        };
        assert_eq!(
            capture_problem(Lang::Ja, &kind),
            "パケット レコードが途中で切れています (バイト オフセット 1234)。\
             ヘッダーでは 1514 バイトとされていますが、残りは 700 バイトです"
        );
    }

    #[test]
    fn unknown_block_type_shows_code() {
        let record = RecordKind::PcapngBlock(BlockType(0x0000_0bee));
        assert_eq!(record_name(Lang::Ja, record), "種類 0x00000bee のブロック");
    }

    #[test]
    fn not_found_in_japanese_keeps_code() {
        let error = io::Error::from_raw_os_error(2);
        assert_eq!(
            io_error(Lang::Ja, &error),
            "ファイルまたはディレクトリが見つかりません (OS エラー 2)"
        );
    }

    #[test]
    fn rare_io_error_falls_back_to_system_text() {
        let error = io::Error::other("device on fire");
        assert_eq!(io_error(Lang::Ja, &error), "device on fire");
    }

    #[test]
    fn unnamed_link_type_in_both_languages() {
        let error = InputError::UnsupportedLink {
            input: "x.pcap".to_string(),
            link: LinkType(147),
        };
        assert!(
            input_error(Lang::En, &error).starts_with("x.pcap: link type 147 is not supported")
        );
        assert!(
            input_error(Lang::Ja, &error)
                .starts_with("x.pcap: リンク タイプ 147 には対応していません")
        );
    }

    #[test]
    fn policy_read_error_in_japanese() {
        let error = PolicyError::Read {
            path: "site.toml".into(),
            source: io::Error::from_raw_os_error(13),
        };
        let text = policy_error(Lang::Ja, &error).unwrap();
        assert!(
            text.starts_with("site.toml を読み込めません: アクセスが拒否されました (OS エラー 13)"),
            "{text}"
        );
        assert_eq!(policy_error(Lang::En, &error).unwrap(), error.to_string());
    }
}
