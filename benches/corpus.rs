//! Corpus benchmark: the whole of `exflow analyze` minus the output file, on
//! the benchmark capture. Reports frames per second, Gbit/s of captured bytes,
//! per-packet latency percentiles, the flows open at the peak and the peak
//! resident memory.
//!
//! ```text
//! scripts/bench-capture.sh                  # target/bench/bench.pcap
//! cargo bench --bench corpus
//! ```
//!
//! `EXFLOW_BENCH_CAPTURE` names another capture. Without one and without
//! `target/bench/bench.pcap`, the benchmark builds 20 copies of the corpus in
//! a temporary folder. `EXFLOW_BENCH_THREADS` (default 1 and 2) lists the
//! thread counts of the throughput and packet-path runs, separated by commas.
//!
//! A last run keeps every finished flow in memory and times the parts of a
//! record on its own, per flow: the judgement, the flow id, and the record
//! line with its Community ID. It runs after the peak memory is read, since
//! the flows it keeps would count there.
//!
//! The throughput runs go through `pipeline::analyze_input_with` as `exflow
//! analyze --format jsonl` does: each flow is judged and written into its
//! record line, and the lines are counted instead of written. The
//! packet-path runs repeat them with a sink that keeps only each flow's start
//! time, which leaves out judging and records. The latency run times each
//! frame through the single-threaded engine (decode, flow table,
//! fingerprints, and the records of the flows the frame ends) with a clock
//! read before and after; those reads add about 40 ns per frame, an estimate,
//! so the latency run is slower than the throughput runs.

#[path = "../examples/build-bench-capture/builder.rs"]
#[allow(dead_code)]
mod builder;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use exflow::capture::{FrameSource, open};
use exflow::cli::analyze::flow_id;
use exflow::decode::DecoderConfig;
use exflow::flow::{FinishedFlow, FlowConfig};
use exflow::pipeline::engine::Engine;
use exflow::pipeline::{AnalyzeConfig, FlowSink, analyze_input_with};
use exflow::policy::Policy;
use exflow::report::flow_id::FlowIds;
use exflow::report::line::{LINE_CAPACITY, LineFields, write_record_line};
use hdrhistogram::Histogram;

fn capture_path(dir: &Path) -> PathBuf {
    if let Some(path) = std::env::var_os("EXFLOW_BENCH_CAPTURE") {
        return PathBuf::from(path);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let default = root.join("target/bench/bench.pcap");
    if default.exists() {
        return default;
    }
    let mut sources = Vec::new();
    for folder in [root.join("captures"), root.join("../shared/corpus")] {
        for file in builder::capture_files(&folder).unwrap_or_default() {
            if let Ok(source) = builder::read_source(&file) {
                sources.push(source);
            }
        }
    }
    let path = dir.join("bench.pcap");
    builder::write_copies(&sources, 20, 1, &path).expect("the benchmark capture is written");
    path
}

/// Returns the settings of `exflow analyze` without options, on `threads`
/// threads.
fn default_config(threads: usize) -> AnalyzeConfig<'static> {
    AnalyzeConfig {
        decoder: DecoderConfig::default(),
        flows: FlowConfig::default(),
        threads,
        filter: None,
    }
}

/// Builds a flow's JSON Lines line as `exflow analyze` does.
fn record_line(policy: &Policy, source: &str, flow: &FinishedFlow) -> Vec<u8> {
    let judgement = policy.judge(flow);
    let id = flow_id(source, flow);
    let mut line = Vec::with_capacity(LINE_CAPACITY);
    policy.read_reason_text(&judgement.reason, |reason| {
        let fields = LineFields {
            flow_id: &id,
            source,
            reason,
        };
        write_record_line(&mut line, flow, &judgement, &fields);
    });
    line
}

/// Times the parts of a record, per flow, over every flow of the capture
/// kept in memory. The flows are read from memory rather than from a flow
/// table's hot slot, so each part includes some cache misses that the
/// pipeline does not have.
fn record_parts(path: &Path, policy: &Policy) {
    let config = default_config(1);
    let build = |flow: FinishedFlow| flow;
    let mut flows = Vec::new();
    let mut emit = |flow| {
        flows.push(flow);
        Ok(())
    };
    let mut sink = FlowSink {
        build: &build,
        emit: &mut emit,
        codec: None,
        max_in_memory: usize::MAX,
    };
    analyze_input_with(path, &config, &mut (), &mut sink);
    let source = path.display().to_string();
    let per_flow = |started: Instant| started.elapsed().as_nanos() as f64 / flows.len() as f64;

    let started = Instant::now();
    for flow in &flows {
        black_box(policy.judge(black_box(flow)));
    }
    let judge = per_flow(started);

    let ids = FlowIds::new(&source);
    let started = Instant::now();
    for flow in &flows {
        black_box(ids.hex(black_box(flow)));
    }
    let id = per_flow(started);

    let judgements: Vec<_> = flows.iter().map(|flow| policy.judge(flow)).collect();
    let mut line = Vec::with_capacity(LINE_CAPACITY);
    let started = Instant::now();
    for (flow, judgement) in flows.iter().zip(&judgements) {
        line.clear();
        policy.read_reason_text(&judgement.reason, |reason| {
            let fields = LineFields {
                flow_id: "0123456789abcdef",
                source: &source,
                reason,
            };
            write_record_line(&mut line, flow, judgement, &fields);
        });
        black_box(&line);
    }
    let line_nanos = per_flow(started);
    println!(
        "record parts per flow ({} flows): judgement {judge:.0} ns, flow id {id:.0} ns, \
         line with Community ID {line_nanos:.0} ns",
        flows.len()
    );
}

/// Returns the peak resident set of this process, in MiB (Linux only).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn throughput(path: &Path, policy: &Policy, threads: usize) {
    let config = default_config(threads);
    let source = path.display().to_string();
    let build = |flow: FinishedFlow| record_line(policy, &source, &flow);
    let (mut lines, mut line_bytes) = (0u64, 0u64);
    let mut emit = |line: Vec<u8>| {
        lines += 1;
        line_bytes += line.len() as u64;
        black_box(line);
        Ok(())
    };
    let mut sink = FlowSink {
        build: &build,
        emit: &mut emit,
        codec: None,
        max_in_memory: usize::MAX,
    };
    let started = Instant::now();
    let outcome = analyze_input_with(path, &config, &mut (), &mut sink);
    let seconds = started.elapsed().as_secs_f64();
    let capture = outcome.capture.expect("the capture was read");
    println!(
        "throughput, {threads} thread(s): {:.2} s, {} frames, {} records ({:.0} MB), \
         {:.2} M frames/s, {:.2} Gbit/s",
        seconds,
        capture.frames,
        lines,
        line_bytes as f64 / 1e6,
        capture.frames as f64 / seconds / 1e6,
        capture.bytes_read as f64 * 8.0 / seconds / 1e9,
    );
}

/// Runs the pipeline with a sink that keeps only each flow's start time, so
/// that the time is that of the packet path: capture walk, decoder, flow
/// tables, fingerprints and output order, without records.
fn packet_path(path: &Path, threads: usize) {
    let config = default_config(threads);
    let build = |flow: FinishedFlow| flow.ts_start;
    let mut flows = 0u64;
    let mut emit = |start| {
        flows += 1;
        black_box(start);
        Ok(())
    };
    let mut sink = FlowSink {
        build: &build,
        emit: &mut emit,
        codec: None,
        max_in_memory: usize::MAX,
    };
    let started = Instant::now();
    let outcome = analyze_input_with(path, &config, &mut (), &mut sink);
    let seconds = started.elapsed().as_secs_f64();
    let capture = outcome.capture.expect("the capture was read");
    println!(
        "packet path without records, {threads} thread(s): {:.2} s, {} frames, {flows} flows, \
         {:.2} M frames/s",
        seconds,
        capture.frames,
        capture.frames as f64 / seconds / 1e6,
    );
}

fn latency(path: &Path, policy: &Policy) {
    let mut input = open(path).expect("the capture opens");
    let mut reader = input.reader();
    let source = path.display().to_string();
    let mut engine = Engine::new(DecoderConfig::default(), FlowConfig::default(), None);
    let mut histogram =
        Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds");
    let mut records = 0u64;
    let mut out = |flow: FinishedFlow| {
        black_box(record_line(policy, &source, &flow));
        records += 1;
    };
    while let Some(next) = reader.next_frame() {
        let frame = next.expect("the benchmark capture reads without error");
        let started = Instant::now();
        engine.on_frame(&frame, &mut out);
        let nanos = started.elapsed().as_nanos() as u64;
        histogram.saturating_record(nanos.max(1));
    }
    engine.finish(&mut out);
    let peak_open = engine.flows().table().stats().peak_active;
    println!(
        "latency per frame, one thread ({} frames, {records} records): \
         p50 {} ns, p90 {} ns, p99 {} ns, p99.9 {} ns, max {} ns",
        histogram.len(),
        histogram.value_at_quantile(0.5),
        histogram.value_at_quantile(0.9),
        histogram.value_at_quantile(0.99),
        histogram.value_at_quantile(0.999),
        histogram.max(),
    );
    println!("flows open at the peak, one thread: {peak_open}");
}

fn main() {
    // `cargo test --benches` runs every benchmark once with `--test`; this one
    // is too long for that.
    if std::env::args().any(|arg| arg == "--test") {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = capture_path(dir.path());
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!("capture: {} ({:.0} MB)", path.display(), size as f64 / 1e6);
    let policy = Policy::load(None, None).expect("the built-in rules load");

    let threads: Vec<usize> = std::env::var("EXFLOW_BENCH_THREADS")
        .ok()
        .map(|list| {
            list.split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect()
        })
        .unwrap_or_else(|| vec![1, 2]);
    for &count in &threads {
        throughput(&path, &policy, count.max(1));
    }
    for &count in &threads {
        packet_path(&path, count.max(1));
    }
    latency(&path, &policy);
    match peak_rss_mib() {
        Some(mib) => println!("peak resident memory of the benchmark process: {mib:.0} MiB"),
        None => println!("peak resident memory: not available on this system"),
    }
    record_parts(&path, &policy);
}
