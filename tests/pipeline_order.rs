//! The pipeline hands out flows in output order while it reads. For every
//! corpus file and the benchmark builder's output, with any thread count and
//! with items spilled to temporary files, the same flows come out, sorted by
//! `flow_order`.

#[path = "../examples/build-bench-capture/builder.rs"]
#[allow(dead_code)]
mod builder;

#[path = "common/cli.rs"]
mod cli;

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::{LazyLock, Mutex};

use exflow::decode::DecoderConfig;
use exflow::flow::{EndReason, FinishedFlow, FlowConfig};
use exflow::pipeline::{
    AnalyzeConfig, FlowOrder, FlowSink, Progress, SpillCodec, analyze_input_with, flow_order,
};

/// A flow as its key and its full debug text, which covers every field.
type Item = (FlowOrder, String);

/// Keeps the debug text in the temporary file and takes the key back from
/// the reorder buffer's own encoding.
struct DebugCodec;

impl SpillCodec<Item> for DebugCodec {
    fn encode(&self, item: &Item, out: &mut Vec<u8>) {
        out.extend_from_slice(format!("{:?}", item.0).as_bytes());
        out.push(0);
        out.extend_from_slice(item.1.as_bytes());
    }

    fn decode(&self, bytes: &[u8]) -> io::Result<Item> {
        let split = bytes.iter().position(|&byte| byte == 0).unwrap();
        let text = String::from_utf8(bytes[split + 1..].to_vec()).unwrap();
        let key = KEYS.lock().unwrap()[&bytes[..split]];
        Ok((key, text))
    }
}

/// Keys by their debug text, so that the codec can decode them on any thread.
static KEYS: LazyLock<Mutex<HashMap<Vec<u8>, FlowOrder>>> = LazyLock::new(Default::default);

/// Returns the flows of `path` in the order the sink received them.
fn streamed(path: &Path, threads: usize, max_in_memory: usize) -> (Vec<Item>, usize) {
    let (items, outcome) = streamed_with(path, threads, max_in_memory, &mut ());
    (items, outcome.runs_spilled)
}

/// Like [`streamed`], with `progress` updated with the reader's place, and
/// returns the whole outcome.
fn streamed_with(
    path: &Path,
    threads: usize,
    max_in_memory: usize,
    progress: &mut dyn Progress,
) -> (Vec<Item>, exflow::pipeline::InputOutcome) {
    let config = AnalyzeConfig {
        decoder: DecoderConfig::default(),
        flows: FlowConfig::default(),
        threads,
        filter: None,
    };
    // A flow still open at the end of the input ends when its worker's clock
    // (the last packet of its shard) passes its timeout, so `end` may differ
    // between thread counts. Records do not show it, and the rest must match.
    let build = |mut flow: FinishedFlow| {
        flow.end = EndReason::EndOfInput;
        (flow_order(&flow), format!("{flow:?}"))
    };
    let mut items = Vec::new();
    let mut emit = |item: Item| {
        items.push(item);
        Ok(())
    };
    let mut sink = FlowSink {
        build: &build,
        emit: &mut emit,
        codec: Some(&DebugCodec),
        max_in_memory,
    };
    let outcome = analyze_input_with(path, &config, progress, &mut sink);
    assert!(outcome.output_error.is_none(), "{:?}", outcome.output_error);
    (items, outcome)
}

fn check_file(path: &Path) -> usize {
    let (reference, _) = streamed(path, 1, usize::MAX);
    let mut known = KEYS.lock().unwrap();
    for (key, _) in &reference {
        known.insert(format!("{key:?}").into_bytes(), *key);
    }
    drop(known);
    let keys: Vec<FlowOrder> = reference.iter().map(|(key, _)| *key).collect();
    assert!(
        keys.is_sorted(),
        "{}: flows out of order with one thread",
        path.display()
    );
    let mut spilled = 0;
    for (threads, max_in_memory) in [(2, usize::MAX), (1, 2), (2, 3), (3, 5)] {
        let (items, runs) = streamed(path, threads, max_in_memory);
        spilled += runs;
        assert!(
            items == reference,
            "{}: flows differ with {threads} threads and {max_in_memory} items in memory",
            path.display()
        );
    }
    spilled
}

#[test]
fn corpus_flows_stream_in_order() {
    let mut spilled = 0;
    for path in cli::corpus_captures() {
        spilled += check_file(&path);
    }
    assert!(spilled > 0, "no corpus file spilled a run");
}

/// Builds a capture of 4 copies of the project's own captures, `together`
/// copies at a time.
fn project_capture(dir: &Path, together: u16) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sources: Vec<builder::Source> = builder::capture_files(&root.join("captures"))
        .unwrap()
        .iter()
        .filter_map(|file| builder::read_source(file).ok())
        .collect();
    let path = dir.join("bench.pcap");
    builder::write_copies(&sources, 4, together, &path).unwrap();
    path
}

#[test]
fn bench_capture_streams_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = project_capture(dir.path(), 1);
    assert!(check_file(&path) > 0, "the runs were never spilled");
}

/// Copies that run together start flows at the same instants, so the order
/// of their records rests on the tie-breaks of `flow_order`.
#[test]
fn copies_together_stream_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = project_capture(dir.path(), 4);
    assert!(check_file(&path) > 0, "the runs were never spilled");
}

/// Builds a capture of 8 copies of the corpus: over 20,000 flows.
fn large_capture(dir: &Path) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sources: Vec<builder::Source> = builder::capture_files(&root.join("../shared/corpus"))
        .unwrap()
        .iter()
        .filter_map(|file| builder::read_source(file).ok())
        .collect();
    let path = dir.join("large.pcap");
    builder::write_copies(&sources, 8, 1, &path).unwrap();
    path
}

#[test]
fn stdin_matches_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = large_capture(dir.path());
    let path_text = path.to_str().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    for format in ["jsonl", "csv"] {
        let from_file = cli::exflow(&["analyze", "--threads", "2", "--format", format, path_text]);
        assert_eq!(
            from_file.status.code(),
            Some(0),
            "{}",
            cli::stderr(&from_file)
        );
        let from_stdin =
            cli::exflow_with_input(&["analyze", "--format", format, "-"], Some(&bytes));
        assert_eq!(
            from_stdin.status.code(),
            Some(0),
            "{}",
            cli::stderr(&from_stdin)
        );

        let lines = from_file.stdout.split(|&byte| byte == b'\n').count();
        assert!(lines > 20_000, "{format}: only {lines} lines");
        // Flow ids and the source column name the input, which differs.
        let file_text = String::from_utf8(from_file.stdout).unwrap();
        let stdin_text = String::from_utf8(from_stdin.stdout).unwrap();
        let without_source = |text: &str, source: &str| text.replace(source, "SOURCE");
        let file_lines: Vec<String> = without_source(&file_text, path_text)
            .lines()
            .map(strip_flow_id)
            .collect();
        let stdin_lines: Vec<String> = without_source(&stdin_text, "standard input")
            .lines()
            .map(strip_flow_id)
            .collect();
        assert!(file_lines == stdin_lines, "{format}: records differ");
    }
}

/// Removes the flow id, which hashes the input's name.
fn strip_flow_id(line: &str) -> String {
    match line.find("\"flow_id\":\"") {
        Some(at) => format!("{}{}", &line[..at], &line[at + 28..]),
        None => line
            .split_once(',')
            .map_or(line, |(_, rest)| rest)
            .to_string(),
    }
}

/// Records of standard input come out while it is read: the first half of a
/// capture yields records before the second half is written.
#[test]
fn stdin_records_stream_before_the_end() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};
    use std::sync::mpsc;
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(large_capture(dir.path())).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_exflow"))
        .args(["analyze", "--threads", "1", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    let counter = std::thread::spawn(move || {
        let mut count = 0usize;
        for line in BufReader::new(stdout).lines() {
            line.unwrap();
            count += 1;
            let _ = lines.send(count);
        }
        count
    });

    let half = bytes.len() / 2;
    stdin.write_all(&bytes[..half]).unwrap();
    stdin.flush().unwrap();
    // The wait ends at the first line; the limit only keeps a broken build
    // from hanging the test.
    let first = received.recv_timeout(Duration::from_secs(120));
    stdin.write_all(&bytes[half..]).unwrap();
    drop(stdin);
    let status = child.wait().unwrap();
    let total = counter.join().unwrap();
    assert!(status.success());
    assert!(
        first.is_ok(),
        "no record before the second half of the input was written ({total} in all)"
    );
    assert!(total > 20_000, "only {total} records");
}

/// Cuts a file short, mid-record, a few MiB past the reader's place at its
/// first progress update.
struct Truncator<'a> {
    path: &'a Path,
    cut_at: Option<u64>,
}

impl Progress for Truncator<'_> {
    fn update(&mut self, bytes_read: u64, _frames: u64) {
        if self.cut_at.is_none() && bytes_read > 0 {
            // Past the bytes the reader may hold already (one buffer), and
            // an odd length so that the cut falls inside a record.
            let cut = bytes_read + 3 * 1024 * 1024 + 7;
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(self.path)
                .unwrap();
            file.set_len(cut).unwrap();
            self.cut_at = Some(cut);
        }
    }
}

/// A file that another process truncates while worker threads read it ends
/// in a truncation error, and every flow read before the cut still comes
/// out: the same flows as from a copy cut at that length beforehand.
#[test]
fn file_truncated_while_read_keeps_flows() {
    let dir = tempfile::tempdir().unwrap();
    let path = large_capture(dir.path());
    let copy = dir.path().join("copy.pcap");
    std::fs::copy(&path, &copy).unwrap();

    let mut truncator = Truncator {
        path: &path,
        cut_at: None,
    };
    let (items, outcome) = streamed_with(&path, 2, usize::MAX, &mut truncator);
    let cut = truncator.cut_at.expect("the reader reported progress");
    assert!(cut < std::fs::metadata(&copy).unwrap().len());
    let error = outcome.error.expect("a truncation error").to_string();
    assert!(error.contains("truncated"), "{error}");
    assert!(!items.is_empty());

    let file = std::fs::OpenOptions::new().write(true).open(&copy).unwrap();
    file.set_len(cut).unwrap();
    let (reference, reference_outcome) = streamed_with(&copy, 2, usize::MAX, &mut ());
    assert!(reference_outcome.error.is_some());
    assert!(
        items == reference,
        "flows differ from the copy cut beforehand"
    );
}

/// A file is read through `read` calls, never mapped, so its size does not
/// count against an address-space limit: a 160 MB capture under a 128 MiB
/// `ulimit -v` gives all its flows. A mapped file fails with "memory map
/// failed".
#[test]
fn file_larger_than_address_limit_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large-frames.pcap");
    padded_frames(&path, 110_000, 1_500);
    assert!(std::fs::metadata(&path).unwrap().len() > 160_000_000);

    let script = "ulimit -v 131072 && exec \"$0\" analyze --threads 1 --no-progress \
                  --format jsonl -o /dev/null \"$1\"";
    let output = std::process::Command::new("bash")
        .args(["-c", script, env!("CARGO_BIN_EXE_exflow")])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("memory map"), "{stderr}");
}

/// Writes a classic pcap file of `count` TCP frames from a few flows, each
/// padded to `frame_len` bytes after its IP packet.
fn padded_frames(path: &Path, count: u32, frame_len: usize) {
    let mut bytes = Vec::new();
    for word in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, frame_len as u32, 1] {
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    for index in 0..count {
        let flow = (index % 5) as u8;
        let payload = [b'x'; 200];
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        let ip_len = (20 + 20 + payload.len()) as u16;
        frame.extend_from_slice(&[0x45, 0]);
        frame.extend_from_slice(&ip_len.to_be_bytes());
        frame.extend_from_slice(&(index as u16).to_be_bytes());
        frame.extend_from_slice(&[0, 0, 64, 6, 0, 0, 10, 0, 0, flow, 10, 1, 0, 1]);
        frame.extend_from_slice(&(20_000 + u16::from(flow)).to_be_bytes());
        frame.extend_from_slice(&443u16.to_be_bytes());
        frame.extend_from_slice(&(1_000 + index * 200).to_be_bytes());
        frame.extend_from_slice(&1u32.to_be_bytes());
        frame.extend_from_slice(&[0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
        frame.extend_from_slice(&payload);
        frame.resize(frame_len, 0);
        for word in [1_600_000_000 + index, 0, frame_len as u32, frame_len as u32] {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        bytes.extend_from_slice(&frame);
    }
    std::fs::write(path, bytes).unwrap();
}

/// Frames larger than the read buffer make chunks larger than usual, and may
/// make the reader wait for the workers. The flows stay the same for any
/// thread count.
#[test]
fn large_frames_stream_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large-frames.pcap");
    padded_frames(&path, 24, 3 * 1024 * 1024);
    let (reference, outcome) = streamed_with(&path, 1, usize::MAX, &mut ());
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(reference.len(), 5);
    for threads in [2, 3] {
        let (items, outcome) = streamed_with(&path, threads, usize::MAX, &mut ());
        assert!(outcome.error.is_none(), "{:?}", outcome.error);
        assert!(items == reference, "flows differ with {threads} threads");
    }
}

/// Rewrites a little-endian classic pcap file so that its capture times go
/// backwards: `"reverse"` reverses the records, `"halves"` puts the second
/// half first, and `"future"` stamps the middle record in the year 2100.
/// Returns `None` for other formats.
fn backwards(bytes: &[u8], mode: &str) -> Option<Vec<u8>> {
    if bytes.get(..4)? != [0xd4, 0xc3, 0xb2, 0xa1] {
        return None;
    }
    let mut records: Vec<&[u8]> = Vec::new();
    let mut at = 24;
    while let Some(header) = bytes.get(at..at + 16) {
        let len = u32::from_le_bytes(header[8..12].try_into().unwrap()) as usize;
        let record = bytes.get(at..at + 16 + len)?;
        records.push(record);
        at += 16 + len;
    }
    let mut records: Vec<Vec<u8>> = records.into_iter().map(<[u8]>::to_vec).collect();
    let middle = records.len() / 2;
    match mode {
        "reverse" => records.reverse(),
        "halves" => records.rotate_left(middle),
        _ => {
            records.get_mut(middle)?[..4].copy_from_slice(&4_102_444_800u32.to_le_bytes());
        }
    }
    let mut out = bytes[..24].to_vec();
    for record in records {
        out.extend_from_slice(&record);
    }
    Some(out)
}

/// Capture times that go backwards split flows the same way for any thread
/// count: timeouts count on the input clock, which every packet carries.
#[test]
fn backwards_times_split_flows_alike() {
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for path in cli::corpus_captures() {
        let bytes = std::fs::read(&path).unwrap();
        for mode in ["reverse", "halves", "future"] {
            let Some(rewritten) = backwards(&bytes, mode) else {
                continue;
            };
            let copy = dir.path().join(format!("{mode}.pcap"));
            std::fs::write(&copy, rewritten).unwrap();
            let (reference, _) = streamed(&copy, 1, usize::MAX);
            for threads in [2, 3] {
                let (items, _) = streamed(&copy, threads, usize::MAX);
                assert!(
                    items == reference,
                    "{} ({mode}): flows differ with {threads} threads",
                    path.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} rewritten captures");
}

/// Builds an Ethernet frame around an IPv4 packet; `more_fragments` sets the
/// MF flag of a first fragment.
fn ipv4_frame(source: u8, ident: u16, more_fragments: bool, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0u8; 12];
    frame.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
    frame.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    frame.extend_from_slice(&ident.to_be_bytes());
    frame.extend_from_slice(if more_fragments { &[0x20, 0] } else { &[0, 0] });
    frame.extend_from_slice(&[64, 17, 0, 0, 10, 0, 0, source, 10, 0, 0, 99]);
    frame.extend_from_slice(payload);
    frame
}

/// A fragment still held at the end of the input times out the same way
/// for any thread count, also when it came after a later frame.
#[test]
fn held_fragment_expires_for_any_thread_count() {
    let mut udp = Vec::new();
    for word in [1234u16, 53, 8 + 16, 0] {
        udp.extend_from_slice(&word.to_be_bytes());
    }
    udp.extend_from_slice(&[b'A'; 16]);
    let frames = [
        (1000u32, ipv4_frame(1, 7, false, &udp)),
        (0, ipv4_frame(3, 9, true, &[b'B'; 16])),
    ];
    let mut bytes = Vec::new();
    for word in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    for (ts, frame) in &frames {
        for word in [*ts, 0, frame.len() as u32, frame.len() as u32] {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        bytes.extend_from_slice(frame);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fragment.pcap");
    std::fs::write(&path, bytes).unwrap();

    let (_, one) = streamed_with(&path, 1, usize::MAX, &mut ());
    assert_eq!(one.decode.fragments.timed_out, 1);
    let (_, two) = streamed_with(&path, 2, usize::MAX, &mut ());
    assert_eq!(format!("{:?}", two.decode), format!("{:?}", one.decode));
}

/// Runs `exflow analyze --threads THREADS --format jsonl CAPTURE` with
/// `TMPDIR` set to `temp_dir`.
fn analyze_with_temp_dir(capture: &Path, threads: &str, temp_dir: &Path) -> std::process::Output {
    let args = [
        "analyze",
        "--threads",
        threads,
        "--format",
        "jsonl",
        "--no-progress",
    ];
    cli::exflow_command(&args)
        .arg(capture)
        .env("TMPDIR", temp_dir)
        .output()
        .unwrap()
}

#[test]
fn spill_failure_keeps_every_record() {
    // Sixteen copies of every source at once leave more records waiting
    // behind long flows than fit in memory, so some go to temporary files.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = builder::capture_files(&root.join("captures")).unwrap();
    files.extend(builder::capture_files(&root.join("../shared/corpus")).unwrap());
    let sources: Vec<builder::Source> = files
        .iter()
        .filter_map(|file| builder::read_source(file).ok())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("together.pcap");
    builder::write_copies(&sources, 16, 16, &capture).unwrap();
    let missing = dir.path().join("missing");

    let expected = analyze_with_temp_dir(&capture, "1", dir.path());
    assert_eq!(
        expected.status.code(),
        Some(0),
        "{}",
        cli::stderr(&expected)
    );
    // Corpus captures cut by their snapshot length are warned about; the
    // temporary folder works, so no other line is written.
    let expected_stderr = cli::stderr(&expected);
    assert!(
        expected_stderr
            .lines()
            .all(|line| line.contains("the capture's snapshot length cut frames short")),
        "{expected_stderr}"
    );
    for threads in ["1", "2"] {
        let output = analyze_with_temp_dir(&capture, threads, &missing);
        let stderr = cli::stderr(&output);
        assert_eq!(output.status.code(), Some(0), "{threads} threads: {stderr}");
        assert!(
            stderr.contains("temporary file in"),
            "{threads} threads: {stderr}"
        );
        assert!(
            stderr.contains("stay in memory"),
            "{threads} threads: {stderr}"
        );
        assert!(
            output.stdout == expected.stdout,
            "{threads} threads: records differ"
        );
    }
}
