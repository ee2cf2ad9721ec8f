//! The error messages `exflow` prints, in English and Japanese. They cover
//! usage errors and captures that are not captures, are cut short, are
//! corrupt or are in a format exflow does not read. They also cover files
//! that cannot be opened or written, and site files that cannot be read. Damaged captures are made in a temporary
//! directory from the project's own recordings in captures/.

#[path = "common/capture_fixtures.rs"]
mod capture_fixtures;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use capture_fixtures::{Order, OwnedFrame, PcapngWriter, read_slice};
use exflow::capture::LinkType;
use tempfile::TempDir;

/// Runs exflow with `args`; `lang` goes into LANG, so the environment path
/// of language selection is what these tests exercise.
fn run(args: &[&str], lang: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_exflow"))
        .args(args)
        .env("LANG", lang)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("failed to start exflow")
}

const EN: &str = "C";
const JA: &str = "ja_JP.UTF-8";

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is not UTF-8")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is not UTF-8")
}

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Writes `bytes` to `name` in `dir` and returns the path as a string.
fn write_file(dir: &TempDir, name: &str, bytes: &[u8]) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_string()
}

/// A classic pcap file header, little-endian, with the given version and
/// link type.
fn pcap_header(major: u16, minor: u16, link: u32) -> Vec<u8> {
    let mut header = Vec::new();
    header.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    header.extend_from_slice(&major.to_le_bytes());
    header.extend_from_slice(&minor.to_le_bytes());
    header.extend_from_slice(&0i32.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());
    header.extend_from_slice(&65535u32.to_le_bytes());
    header.extend_from_slice(&link.to_le_bytes());
    header
}

fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stderr: {}",
        stderr(output)
    );
}

#[test]
fn usage_error_in_japanese() {
    let output = run(&["analyze", "--formt", "csv", "a.pcap"], JA);
    assert_exit(&output, 2);
    let text = stderr(&output);
    assert!(
        text.starts_with("エラー: 予期しない引数 '--formt' があります"),
        "{text}"
    );
    assert!(
        text.contains("ヒント: 似た引数があります: '--format'"),
        "{text}"
    );
    assert!(
        text.contains("詳しくは '--help' を付けて実行してください。"),
        "{text}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn usage_error_in_english_is_clap_text() {
    let output = run(&["analyze", "--formt", "csv", "a.pcap"], EN);
    assert_exit(&output, 2);
    let text = stderr(&output);
    assert!(
        text.starts_with("error: unexpected argument '--formt' found"),
        "{text}"
    );
    assert!(
        text.contains("For more information, try '--help'."),
        "{text}"
    );
}

#[test]
fn lang_flag_localises_usage_error() {
    let output = run(&["--lang", "ja", "analyse"], EN);
    assert_exit(&output, 2);
    let text = stderr(&output);
    assert!(
        text.starts_with("エラー: サブコマンド 'analyse' はありません"),
        "{text}"
    );
}

#[test]
fn invalid_lang_value_is_reported_in_environment_language() {
    let output = run(&["--lang", "fr", "rules", "show"], JA);
    assert_exit(&output, 2);
    let text = stderr(&output);
    assert!(
        text.starts_with("エラー: 'fr' は '--lang <LANG>' に指定できない値です"),
        "{text}"
    );
    assert!(text.contains("[指定できる値: en、ja]"), "{text}");
}

#[test]
fn not_a_capture_in_both_languages() {
    let dir = TempDir::new().unwrap();
    let path = write_file(&dir, "notes.txt", b"hello, world\n");

    let output = run(&["analyze", &path], EN);
    assert_exit(&output, 2);
    assert!(
        stderr(&output).starts_with(&format!(
            "exflow: {path}: not a pcap or pcapng file: first bytes are 0x68656c6c;"
        )),
        "{}",
        stderr(&output)
    );

    let output = run(&["analyze", &path], JA);
    assert_exit(&output, 2);
    assert_eq!(
        stderr(&output),
        format!(
            "exflow: {path}: pcap ファイルでも pcapng ファイルでもありません。\
             先頭のバイトは 0x68656c6c です。exflow が読み込めるのは pcap と pcapng です \
             (ほかの形式は `editcap -F pcapng` で変換してください)\n"
        )
    );
}

#[test]
fn standard_input_is_named_in_japanese() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_exflow"))
        .args(["analyze", "-"])
        .env("LANG", JA)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("failed to start exflow");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"GIF89a").unwrap();
    let output = child.wait_with_output().unwrap();
    assert_exit(&output, 2);
    assert!(
        stderr(&output).starts_with(
            "exflow: 標準入力: pcap ファイルでも pcapng ファイルでもありません。先頭のバイトは 0x47494638 です。"
        ),
        "{}",
        stderr(&output)
    );
}

#[test]
fn empty_input_in_japanese() {
    let dir = TempDir::new().unwrap();
    let path = write_file(&dir, "empty.pcap", b"");
    let output = run(&["analyze", &path], JA);
    assert_exit(&output, 2);
    assert_eq!(
        stderr(&output),
        format!("exflow: {path}: pcap ファイルでも pcapng ファイルでもありません。入力が空です\n")
    );
}

#[test]
fn capture_cut_inside_magic_is_truncated() {
    let dir = TempDir::new().unwrap();
    let pcap = std::fs::read(repo_path("captures/exchange-edge.pcap")).unwrap();
    let pcapng = std::fs::read(repo_path("captures/exchange-clients.pcapng")).unwrap();

    let formats = [
        (&pcap, "cut.pcap", "pcap file header", 24),
        (&pcapng, "cut.pcapng", "section header block", 12),
    ];
    for len in 2..4 {
        for (bytes, name, header, needed) in formats {
            let path = write_file(&dir, name, &bytes[..len]);
            let output = run(&["analyze", &path], EN);
            assert_exit(&output, 2);
            assert_eq!(
                stderr(&output),
                format!(
                    "exflow: {path}: truncated {header} at byte offset 0: \
                     its header needs {needed} bytes, bytes left: {len}\n"
                )
            );
        }
    }

    // A lone newline (`echo > x.pcap`) begins the pcapng magic, but one byte
    // is too little to call the file a cut capture.
    let path = write_file(&dir, "newline.pcap", b"\n");
    let output = run(&["analyze", &path], EN);
    assert_exit(&output, 2);
    assert!(
        stderr(&output).starts_with(&format!("exflow: {path}: not a pcap or pcapng file")),
        "{}",
        stderr(&output)
    );

    let path = write_file(&dir, "cut.pcap", &pcap[..3]);
    let output = run(&["analyze", &path], JA);
    assert_exit(&output, 2);
    assert_eq!(
        stderr(&output),
        format!(
            "exflow: {path}: pcap ファイル ヘッダーが途中で切れています (バイト オフセット 0)。\
             ヘッダーには 24 バイト必要ですが、残りは 3 バイトです\n"
        )
    );
}

#[test]
fn missing_capture_in_japanese() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("absent.pcap");
    let path = path.to_str().unwrap();
    let output = run(&["analyze", path], JA);
    assert_exit(&output, 2);
    assert_eq!(
        stderr(&output),
        format!(
            "exflow: {path}: ファイルを開けません: \
             ファイルまたはディレクトリが見つかりません (OS エラー 2)\n"
        )
    );
}

/// Returns the byte offset and captured length of the last record of a
/// little-endian pcap file.
fn last_pcap_record(bytes: &[u8]) -> (usize, usize) {
    let mut offset = 24;
    let mut last = (0, 0);
    while offset + 16 <= bytes.len() {
        let captured =
            u32::from_le_bytes(bytes[offset + 8..offset + 12].try_into().unwrap()) as usize;
        last = (offset, captured);
        offset += 16 + captured;
    }
    assert_eq!(
        offset,
        bytes.len(),
        "the records do not end at the end of the file"
    );
    last
}

#[test]
fn truncated_capture_keeps_flows_and_says_where() {
    let dir = TempDir::new().unwrap();
    let original = std::fs::read(repo_path("captures/exchange-edge.pcap")).unwrap();
    // Cut the last record 10 bytes short: its header is whole, its data is not.
    let path = write_file(&dir, "cut.pcap", &original[..original.len() - 10]);

    let (offset, captured) = last_pcap_record(&original);

    let output = run(&["analyze", &path, "--format", "jsonl"], JA);
    assert_exit(&output, 2);
    assert!(
        !output.stdout.is_empty(),
        "flows read before the cut are lost"
    );
    assert_eq!(
        stderr(&output),
        format!(
            "exflow: {path}: パケット レコードが途中で切れています (バイト オフセット {offset})。\
             ヘッダーでは {captured} バイトとされていますが、残りは {} バイトです\n",
            captured - 10
        )
    );

    let output = run(&["analyze", &path, "--format", "jsonl"], EN);
    assert_eq!(
        stderr(&output),
        format!(
            "exflow: {path}: truncated packet record at byte offset {offset}: \
             length in its header: {captured}, bytes left: {}\n",
            captured - 10
        )
    );
}

#[test]
fn summary_lists_error_once_in_japanese() {
    let dir = TempDir::new().unwrap();
    let original = std::fs::read(repo_path("captures/exchange-edge.pcap")).unwrap();
    let path = write_file(&dir, "cut.pcap", &original[..original.len() - 10]);

    let output = run(&["analyze", &path, "--format", "summary"], JA);
    assert_exit(&output, 2);
    let summary = stdout(&output);
    assert!(summary.contains("エラー: 1 件"), "{summary}");
    let line = summary
        .lines()
        .find(|line| line.contains("途中で切れています"))
        .unwrap_or_else(|| panic!("no error line in {summary}"));
    assert_eq!(line.matches("cut.pcap").count(), 1, "{line}");
    assert!(line.contains("(オフセット "), "{line}");
}

#[test]
fn unsupported_pcap_version_in_japanese() {
    let dir = TempDir::new().unwrap();
    let path = write_file(&dir, "v3.pcap", &pcap_header(3, 1, 1));
    let output = run(&["analyze", &path], JA);
    assert_exit(&output, 2);
    assert_eq!(
        stderr(&output),
        format!(
            "exflow: {path}: pcap バージョン 3.1 には対応していません \
             (読み込めるのは 2.x だけです。バイト オフセット 4)。\
             `editcap -F pcapng` でファイルを変換してください\n"
        )
    );
}

#[test]
fn unsupported_link_type_in_both_languages() {
    let dir = TempDir::new().unwrap();
    // 105 is IEEE 802.11, which exflow does not decode.
    let path = write_file(&dir, "wifi.pcap", &pcap_header(2, 4, 105));

    let output = run(&["analyze", &path], JA);
    assert_exit(&output, 2);
    assert!(
        stderr(&output).starts_with(&format!(
            "exflow: {path}: リンク タイプ 105 には対応していません。\
             exflow がデコードできるのは Ethernet、"
        )),
        "{}",
        stderr(&output)
    );

    let output = run(&["analyze", &path], EN);
    assert!(
        stderr(&output).starts_with(&format!(
            "exflow: {path}: link type 105 is not supported; exflow decodes Ethernet,"
        )),
        "{}",
        stderr(&output)
    );
}

/// Link type 147 (LINKTYPE_USER0), which exflow does not decode.
const USER0: LinkType = LinkType(147);

/// Returns the Ethernet frames of a recording in captures/.
fn ethernet_frames() -> Vec<OwnedFrame> {
    let bytes = std::fs::read(repo_path("captures/exchange-edge.pcap")).unwrap();
    read_slice(&bytes, "exchange-edge.pcap").unwrap().frames
}

/// Builds a pcapng file with one interface per link type and the frames
/// given as (interface, frame) pairs.
fn pcapng_file(links: &[LinkType], frames: &[(u32, &OwnedFrame)]) -> Vec<u8> {
    let mut writer = PcapngWriter::new();
    writer.section(Order::Little);
    for &link in links {
        writer.interface(link, 262_144, None, None);
    }
    for &(interface, frame) in frames {
        let micros = (frame.ts.0 / 1_000) as u64;
        writer.enhanced_packet(interface, micros, &frame.data, frame.orig_len);
    }
    writer.bytes()
}

#[test]
fn pcapng_without_supported_frames_is_error() {
    let dir = TempDir::new().unwrap();
    let frames = ethernet_frames();
    let on_user0: Vec<(u32, &OwnedFrame)> = frames.iter().map(|frame| (1, frame)).collect();
    let cases = [
        ("only-user0.pcapng", pcapng_file(&[USER0, USER0], &on_user0)),
        // The Ethernet interface carries no frame.
        (
            "idle-ethernet.pcapng",
            pcapng_file(&[LinkType::ETHERNET, USER0], &on_user0),
        ),
        ("no-frames.pcapng", pcapng_file(&[USER0], &[])),
    ];

    for (name, bytes) in cases {
        let path = write_file(&dir, name, &bytes);
        for threads in ["1", "2"] {
            let case = format!("{name} with {threads} threads");
            let output = run(
                &["analyze", "--format", "jsonl", "--threads", threads, &path],
                EN,
            );
            assert_exit(&output, 2);
            assert!(output.stdout.is_empty(), "{case}");
            let text = stderr(&output);
            let expected =
                format!("exflow: {path}: link type 147 is not supported; exflow decodes Ethernet,");
            assert!(
                text.lines().any(|line| line.starts_with(&expected)),
                "{case}: {text}"
            );
        }
    }

    let path = dir.path().join("only-user0.pcapng");
    let path = path.to_str().unwrap();
    let output = run(&["analyze", "--format", "jsonl", path], JA);
    assert_exit(&output, 2);
    let expected = format!("exflow: {path}: リンク タイプ 147 には対応していません。");
    assert!(
        stderr(&output)
            .lines()
            .any(|line| line.starts_with(&expected)),
        "{}",
        stderr(&output)
    );
}

#[test]
fn pcapng_with_supported_frames_reads() {
    let dir = TempDir::new().unwrap();
    let frames = ethernet_frames();
    // Every frame on the Ethernet interface, and the first again on USER0.
    let mut mixed: Vec<(u32, &OwnedFrame)> = frames.iter().map(|frame| (0, frame)).collect();
    mixed.insert(0, (1, &frames[0]));
    let path = write_file(
        &dir,
        "mixed.pcapng",
        &pcapng_file(&[LinkType::ETHERNET, USER0], &mixed),
    );
    let empty = write_file(
        &dir,
        "empty.pcapng",
        &pcapng_file(&[LinkType::ETHERNET], &[]),
    );

    for threads in ["1", "2"] {
        let output = run(
            &["analyze", "--format", "jsonl", "--threads", threads, &path],
            EN,
        );
        assert_exit(&output, 0);
        assert!(!output.stdout.is_empty(), "{threads} threads");
        assert_eq!(
            stderr(&output),
            format!(
                "exflow: {path}: frames of link type 147 skipped, \
                 because the link type is not supported: 1\n"
            ),
            "{threads} threads"
        );

        let output = run(
            &["analyze", "--format", "jsonl", "--threads", threads, &empty],
            EN,
        );
        assert_exit(&output, 0);
        assert!(output.stdout.is_empty(), "{threads} threads");
        assert_eq!(stderr(&output), "", "{threads} threads");
    }
}

#[test]
fn unsupported_section_is_named_and_skipped() {
    let dir = TempDir::new().unwrap();
    let frames = ethernet_frames();
    let (first, second) = frames.split_at(frames.len() / 2);
    let on_ethernet = |frames: &[OwnedFrame]| -> Vec<u8> {
        let pairs: Vec<(u32, &OwnedFrame)> = frames.iter().map(|frame| (0, frame)).collect();
        pcapng_file(&[LinkType::ETHERNET], &pairs)
    };
    // The section header's major version (bytes 12 and 13) set to 2.
    let mut unsupported = on_ethernet(first);
    unsupported[12..14].copy_from_slice(&2u16.to_le_bytes());
    let supported = on_ethernet(second);
    let second_offset = unsupported.len();
    let both = write_file(
        &dir,
        "v2-then-v1.pcapng",
        &[unsupported, supported.clone()].concat(),
    );
    let alone = write_file(&dir, "v1.pcapng", &supported);

    let expected = run(&["analyze", "--format", "jsonl", &alone], EN);
    assert_exit(&expected, 0);
    let records = stdout(&expected).replace("v1.pcapng", "v2-then-v1.pcapng");
    assert!(records.lines().count() > 5, "{records}");
    for (lang, text) in [
        (
            EN,
            "pcapng section version 2.0 (only 1.0 and 1.2 are read) at byte offset 0 is not supported; convert the file with `editcap -F pcapng`; its blocks were skipped up to the next section header",
        ),
        (
            JA,
            "pcapng セクション バージョン 2.0 には対応していません (読み込めるのは 1.0 と 1.2 だけです。バイト オフセット 0)。`editcap -F pcapng` でファイルを変換してください。次のセクション ヘッダーまで、このセクションのブロックをスキップしました",
        ),
    ] {
        let output = run(&["analyze", "--format", "jsonl", &both], lang);
        assert_exit(&output, 2);
        assert_eq!(stderr(&output), format!("exflow: {both}: {text}\n"));
        // Flow ids hash the offset of each flow's first packet, which moved.
        let without_id = |text: &str| -> Vec<String> {
            text.lines()
                .map(|line| line.split_once(",\"source\"").unwrap().1.to_string())
                .collect()
        };
        assert_eq!(
            without_id(&stdout(&output)),
            without_id(&records),
            "records after offset {second_offset}"
        );
    }
}

/// Returns the byte offsets of the blocks of a little-endian pcapng file.
fn pcapng_blocks(bytes: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut offset = 0;
    while offset + 12 <= bytes.len() {
        offsets.push(offset);
        let length = u32::from_le_bytes(bytes[offset + 4..offset + 8].try_into().unwrap());
        offset += length as usize;
    }
    offsets
}

#[test]
fn corrupt_block_is_skipped_and_named_in_japanese() {
    let dir = TempDir::new().unwrap();
    let mut bytes = std::fs::read(repo_path("captures/exchange-clients.pcapng")).unwrap();
    assert_eq!(
        &bytes[8..12],
        &0x1a2b_3c4du32.to_le_bytes(),
        "not little-endian"
    );
    let blocks = pcapng_blocks(&bytes);
    // The fifth block is a packet block well after the section and interface
    // headers; spoil its trailing length.
    let offset = blocks[4];
    let block_type = u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap());
    assert_eq!(
        block_type, 6,
        "block {offset} is not an enhanced packet block"
    );
    let length = u32::from_le_bytes(bytes[offset + 4..offset + 8].try_into().unwrap()) as usize;
    bytes[offset + length - 4..offset + length].copy_from_slice(&7u32.to_le_bytes());
    let path = write_file(&dir, "spoilt.pcapng", &bytes);

    let output = run(&["analyze", &path, "--format", "jsonl"], JA);
    assert_exit(&output, 2);
    assert!(!output.stdout.is_empty());
    let text = stderr(&output);
    let expected = format!(
        "exflow: {path}: 拡張パケット ブロックが正しくありません (バイト オフセット {offset})。\
         先頭のブロック全長 {length} が末尾のブロック全長 7 と一致しません。\
         このブロックをスキップし、バイト オフセット "
    );
    assert!(text.starts_with(&expected), "{text}");
    assert!(text.contains(" から読み込みを続けました"), "{text}");
}

#[test]
fn output_that_cannot_be_created_in_japanese() {
    let dir = TempDir::new().unwrap();
    let target = dir.path().join("missing-dir/flows.jsonl");
    let target = target.to_str().unwrap();
    let capture = repo_path("captures/exchange-edge.pcap");
    let output = run(&["analyze", capture.to_str().unwrap(), "-o", target], JA);
    assert_exit(&output, 2);
    assert_eq!(
        stderr(&output),
        format!(
            "exflow: 出力先 {target} を開けません: \
             ファイルまたはディレクトリが見つかりません (OS エラー 2)\n"
        )
    );
}

#[test]
fn report_that_cannot_be_written_in_japanese() {
    let dir = TempDir::new().unwrap();
    let capture = repo_path("captures/exchange-edge.pcap");
    // The directory itself is not a file that can be created.
    let report = dir.path().to_str().unwrap();
    let output = run(
        &[
            "analyze",
            capture.to_str().unwrap(),
            "--format",
            "jsonl",
            "--report",
            report,
        ],
        JA,
    );
    assert_exit(&output, 2);
    assert!(
        output.stdout.is_empty(),
        "the report file is created before any input is read"
    );
    assert_eq!(
        stderr(&output),
        format!(
            "exflow: 出力先 {report} を開けません: ファイルではなくディレクトリです (OS エラー 21)\n"
        )
    );
}

#[test]
fn missing_site_file_in_japanese() {
    let dir = TempDir::new().unwrap();
    let site = dir.path().join("site.toml");
    let site = site.to_str().unwrap();
    let output = run(&["rules", "show", "--site", site], JA);
    assert_exit(&output, 2);
    assert_eq!(
        stderr(&output),
        format!(
            "exflow: {site} を読み込めません: ファイルまたはディレクトリが見つかりません \
             (OS エラー 2)。パスとアクセス許可を確認してください\n"
        )
    );
}

#[test]
fn report_to_standard_output_is_rejected() {
    let dir = TempDir::new().unwrap();
    let capture = repo_path("captures/exchange-edge.pcap");
    let output = Command::new(env!("CARGO_BIN_EXE_exflow"))
        .args([
            Path::new("analyze"),
            &capture,
            Path::new("--report"),
            Path::new("-"),
        ])
        .current_dir(dir.path())
        .env("LANG", EN)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .stdin(Stdio::null())
        .output()
        .expect("failed to start exflow");
    assert_exit(&output, 2);
    assert_eq!(
        stderr(&output),
        "exflow: --report needs a file name: the HTML report is written beside the \
         records, not to standard output\n"
    );
    assert!(output.stdout.is_empty());
    assert!(!dir.path().join("-").exists(), "a file named - was written");
}

#[test]
fn max_flows_out_of_range_is_usage_error() {
    // Flows live in slots numbered by 32 bits, and a table needs one slot.
    let capture = repo_path("captures/exchange-edge.pcap");
    let capture = capture.to_str().unwrap();
    for value in ["0", "4294967296"] {
        let output = run(&["analyze", "--max-flows", value, capture], JA);
        assert_exit(&output, 2);
        assert!(output.stdout.is_empty(), "{value}");
        assert!(
            stderr(&output).contains("1 から 4294967295 までの整数を指定してください"),
            "{value}: {}",
            stderr(&output)
        );
    }
    let output = run(&["analyze", "--max-flows", "1", capture], EN);
    assert_exit(&output, 0);
}

#[test]
fn zero_engine_limits_are_usage_errors() {
    // With nothing reassembled, every TCP flow would look payload-free
    // (`none`), which every rule accepts: SSH on 443 would pass as HTTPS. A
    // timeout of 0 would end a flow at its next packet, where a user may
    // expect no timeout, and a fragment cap of 0 would drop every fragmented
    // datagram.
    let capture = repo_path("captures/exchange-edge.pcap");
    let capture = capture.to_str().unwrap();
    for option in [
        "--reassembly-budget",
        "--max-reassembly-mib",
        "--tcp-timeout",
        "--udp-timeout",
        "--fragment-timeout",
        "--max-fragment-mib",
    ] {
        // Negative and overlong numbers get the range too, not a parse error.
        for value in [
            "0",
            "-1",
            "4294967296",
            "99999999999999999999999999999999999999999",
        ] {
            let output = run(&["analyze", &format!("{option}={value}"), capture], JA);
            assert_exit(&output, 2);
            assert!(output.stdout.is_empty(), "{option}={value}");
            assert!(
                stderr(&output).contains("1 から 4294967295 までの整数を指定してください"),
                "{option}={value}: {}",
                stderr(&output)
            );
        }
        // A negative number after a space is taken as the value, and the
        // English message gives the range as the help does.
        let output = run(&["analyze", option, "-1", capture], EN);
        assert_exit(&output, 2);
        assert!(
            stderr(&output).contains(&format!("invalid value '-1' for '{option} <")),
            "{option}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("expected a whole number from 1 to 4294967295"),
            "{option}: {}",
            stderr(&output)
        );
        let output = run(&["analyze", &format!("{option}=0x10"), capture], EN);
        assert_exit(&output, 2);
        assert!(
            stderr(&output).contains("not a whole number"),
            "{option}: {}",
            stderr(&output)
        );
        let output = run(&["analyze", option, "1", capture], EN);
        assert_exit(&output, 0);
    }
}

/// A pcapng timestamp past 2262 cannot be held in 64 bits of nanoseconds. The
/// frame is still read, with the latest time that fits, and the run reports
/// the file, the count and the first record's offset.
#[test]
fn out_of_range_timestamps_are_reported() {
    let dir = TempDir::new().unwrap();
    let frames = ethernet_frames();
    let (last, earlier) = frames.split_last().unwrap();
    let mut writer = PcapngWriter::new();
    writer
        .section(Order::Little)
        .interface(LinkType::ETHERNET, 262_144, None, None);
    for frame in earlier {
        let micros = (frame.ts.0 / 1_000) as u64;
        writer.enhanced_packet(0, micros, &frame.data, frame.orig_len);
    }
    let offset = writer.bytes().len();
    // Microseconds since 1970: about 585,000 years.
    writer.enhanced_packet(0, u64::MAX, &last.data, last.orig_len);
    let path = write_file(&dir, "far-future.pcapng", &writer.bytes());

    let intact_pairs: Vec<(u32, &OwnedFrame)> = frames.iter().map(|frame| (0, frame)).collect();
    let intact = write_file(
        &dir,
        "intact.pcapng",
        &pcapng_file(&[LinkType::ETHERNET], &intact_pairs),
    );
    let expected = run(&["analyze", "--format", "jsonl", &intact], EN);
    assert_exit(&expected, 0);

    for (lang, text) in [
        (
            EN,
            format!(
                "frames with timestamps outside the years 1677 to 2262, set to the nearer end: 1; the first at byte offset {offset}"
            ),
        ),
        (
            JA,
            format!(
                "タイムスタンプが 1677 年から 2262 年の範囲外のフレーム 1 個を、近い方の端の時刻にしました (最初はバイト オフセット {offset})"
            ),
        ),
    ] {
        let output = run(&["analyze", "--format", "jsonl", &path], lang);
        assert_exit(&output, 2);
        assert_eq!(stderr(&output), format!("exflow: {path}: {text}\n"));
        // The last frame, centuries after its flow's other packets, starts a
        // flow of its own.
        let records = stdout(&output);
        assert_eq!(
            records.lines().count(),
            stdout(&expected).lines().count() + 1,
            "{records}"
        );
        let far = records.lines().last().unwrap();
        assert!(
            far.contains("\"ts_start\":\"2262-04-11T23:47:16.854775Z\""),
            "{far}"
        );
    }
}

/// Returns a little-endian classic pcap file with every record cut to
/// `snaplen` captured bytes, as `tcpdump -s SNAPLEN` would have written it,
/// and the number of records that were cut.
fn cut_to_snaplen(bytes: &[u8], snaplen: u32) -> (Vec<u8>, usize) {
    assert_eq!(bytes[..4], [0xd4, 0xc3, 0xb2, 0xa1], "a little-endian pcap");
    let mut out = bytes[..24].to_vec();
    out[16..20].copy_from_slice(&snaplen.to_le_bytes());
    let mut cut = 0;
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let captured = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
        let kept = captured.min(snaplen);
        cut += usize::from(kept < captured);
        out.extend_from_slice(&bytes[at..at + 8]);
        out.extend_from_slice(&kept.to_le_bytes());
        out.extend_from_slice(&bytes[at + 12..at + 16]);
        let data = at + 16;
        out.extend_from_slice(&bytes[data..data + kept as usize]);
        at = data + captured as usize;
    }
    (out, cut)
}

/// A capture whose snapshot length cut the payload leaves the probes with a
/// few bytes of each packet, so its flows come out `unknown` and the rules
/// judge an unrecognised protocol. The run warns once per input with the
/// counts, and still writes every record with status 0.
#[test]
fn cut_payload_is_warned_about() {
    let dir = TempDir::new().unwrap();
    let original = std::fs::read(repo_path("captures/exchange-edge.pcap")).unwrap();
    let site = repo_path("captures/exchange-edge.site.toml");
    let site = site.to_str().unwrap();
    let (bytes, cut_frames) = cut_to_snaplen(&original, 68);
    let path = write_file(&dir, "cut.pcap", &bytes);

    let output = run(&["analyze", "--site", site, "--format", "jsonl", &path], EN);
    assert_exit(&output, 0);
    let records: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let cut_unknown = records
        .iter()
        .filter(|record| record["app"] == "unknown" && record["missed_bytes"].as_u64() > Some(0))
        .count();
    assert!(cut_unknown > 0);
    assert_eq!(
        stderr(&output),
        format!(
            "exflow: warning: {path}: the capture's snapshot length cut frames short \
             ({cut_frames}), and flows whose payload was cut show app `unknown` ({cut_unknown}), \
             which the rules judge as an unrecognised protocol; capture whole packets (for \
             example tcpdump -s 0) to check protocols\n"
        )
    );
    let japanese = run(&["analyze", "--site", site, "--format", "jsonl", &path], JA);
    assert!(
        stderr(&japanese).contains(&format!(
            "キャプチャのスナップショット長で {cut_frames} 個のフレームが途中で切れています"
        )),
        "{}",
        stderr(&japanese)
    );
    assert_eq!(stdout(&japanese).lines().count(), records.len());

    let quiet = run(
        &["analyze", "-q", "--site", site, "--format", "jsonl", &path],
        EN,
    );
    assert_exit(&quiet, 0);
    assert_eq!(stderr(&quiet), "");

    // Discovery finds no protocol in those flows to infer a role from.
    let proposed = dir.path().join("site.toml");
    let discover = run(&["discover", "-o", proposed.to_str().unwrap(), &path], EN);
    assert_exit(&discover, 0);
    assert!(
        stderr(&discover).starts_with(&format!(
            "exflow: warning: {path}: the capture's snapshot length cut frames short \
             ({cut_frames}), and flows whose payload was cut show app `unknown` \
             ({cut_unknown}), which gives no protocol to infer a role from"
        )),
        "{}",
        stderr(&discover)
    );

    // The whole capture: same flows, no warning.
    let whole = repo_path("captures/exchange-edge.pcap");
    let whole = whole.to_str().unwrap();
    let analyzed = run(&["analyze", "--site", site, "--format", "jsonl", whole], EN);
    assert_exit(&analyzed, 0);
    assert_eq!(stderr(&analyzed), "");
    assert_eq!(stdout(&analyzed).lines().count(), records.len());
    let discover = run(&["discover", "-o", proposed.to_str().unwrap(), whole], EN);
    assert_exit(&discover, 0);
    assert!(
        !stderr(&discover).contains("warning"),
        "{}",
        stderr(&discover)
    );
}

/// A summary whose run could not read all of its input names the errors in
/// its first lines, because its counts cover only what was read. A clean
/// run's summary does not.
#[test]
fn summary_headline_names_errors() {
    let capture = repo_path("captures/exchange-edge.pcap");
    let capture = capture.to_str().unwrap();
    let headline = |output: &Output| {
        let text = stdout(output);
        let first: Vec<&str> = text.lines().take_while(|line| !line.is_empty()).collect();
        first.join(" ")
    };

    let with_error = [
        "analyze",
        "--format",
        "summary",
        capture,
        "/nonexistent.pcap",
    ];
    let output = run(&with_error, EN);
    assert_exit(&output, 2);
    let first = headline(&output);
    assert!(first.starts_with("exflow summary: 24 flows on "), "{first}");
    assert!(
        first.ends_with("Errors: 1, listed at the end; the counts cover only what was read."),
        "{first}"
    );

    let output = run(&with_error, JA);
    assert!(
        headline(&output).contains("エラーが 1 件あります (末尾に示します)"),
        "{}",
        headline(&output)
    );

    let output = run(&["analyze", "--format", "summary", capture], EN);
    assert_exit(&output, 0);
    assert!(
        !headline(&output).contains("Errors"),
        "{}",
        headline(&output)
    );
}

/// `exflow man COMMAND` prints that command's page; an unknown command is a
/// usage error that names it, in both languages.
#[test]
fn man_pages_by_command() {
    let output = run(&["man", "rules", "check"], EN);
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains(".TH exflow-rules-check 1"),
        "{}",
        stdout(&output)
    );

    let output = run(&["man", "bogus"], EN);
    assert_exit(&output, 2);
    assert!(output.stdout.is_empty());
    assert!(
        stderr(&output).starts_with("exflow: no manual page for 'bogus'"),
        "{}",
        stderr(&output)
    );
    let output = run(&["man", "bogus"], JA);
    assert!(
        stderr(&output).starts_with("exflow: 'bogus' のマニュアル ページはありません"),
        "{}",
        stderr(&output)
    );
}
