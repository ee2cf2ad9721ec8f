//! The benchmark capture builder (`examples/build-bench-capture`): its output
//! is the same on every run. exflow finds every flow and every bad checksum of
//! its sources once per copy, so readdressing kept the flows apart and
//! adjusted each checksum to the new addresses.

#[path = "../examples/build-bench-capture/builder.rs"]
#[allow(dead_code)]
mod builder;

use std::path::{Path, PathBuf};

use exflow::decode::DecoderConfig;
use exflow::flow::FlowConfig;
use exflow::pipeline::{AnalyzeConfig, InputOutcome, analyze_input};

const COPIES: u16 = 3;

fn sources() -> (Vec<PathBuf>, Vec<builder::Source>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = builder::capture_files(&root.join("captures")).unwrap();
    files.extend(builder::capture_files(&root.join("../shared/corpus")).unwrap());
    let mut readable = Vec::new();
    let mut sources = Vec::new();
    for file in files {
        if let Ok(source) = builder::read_source(&file) {
            readable.push(file);
            sources.push(source);
        }
    }
    (readable, sources)
}

fn config(threads: usize) -> AnalyzeConfig<'static> {
    AnalyzeConfig {
        decoder: DecoderConfig::default(),
        flows: FlowConfig::default(),
        threads,
        filter: None,
    }
}

fn bad_checksums(outcome: &InputOutcome) -> u64 {
    let checksums = outcome.decode.bad_checksums;
    checksums.ipv4_header + checksums.tcp + checksums.udp
}

#[test]
fn bench_capture_is_deterministic() {
    let (files, sources) = sources();
    assert!(files.len() > 100, "only {} sources were read", files.len());
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.pcap");
    let second = dir.path().join("second.pcap");

    let written = builder::write_copies(&sources, COPIES, 1, &first).unwrap();
    builder::write_copies(&sources, COPIES, 1, &second).unwrap();

    let source_frames: usize = sources.iter().map(builder::Source::frames).sum();
    assert_eq!(written.frames, COPIES as u64 * source_frames as u64);
    assert_eq!(
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap()
    );
}

#[test]
fn bench_capture_has_flows_per_copy() {
    let (files, sources) = sources();
    let (mut source_flows, mut source_bad_checksums, mut source_ignored) = (0, 0, 0);
    for file in &files {
        let outcome = analyze_input(file, &config(1), &mut ());
        assert!(
            outcome.error.is_none(),
            "{}: {:?}",
            file.display(),
            outcome.error
        );
        source_flows += outcome.flows.len();
        source_bad_checksums += bad_checksums(&outcome);
        source_ignored += outcome.flow_stats.bad_checksums_ignored;
    }
    assert!(source_flows > 1000, "only {source_flows} source flows");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.pcap");
    let written = builder::write_copies(&sources, COPIES, 1, &path).unwrap();

    for threads in [1, 2] {
        let outcome = analyze_input(&path, &config(threads), &mut ());
        assert!(outcome.error.is_none(), "{:?}", outcome.error);
        assert_eq!(outcome.capture.as_ref().unwrap().frames, written.frames);
        assert_eq!(
            outcome.flows.len(),
            COPIES as usize * source_flows,
            "flows with {threads} threads"
        );
        assert_eq!(
            bad_checksums(&outcome),
            COPIES as u64 * source_bad_checksums,
            "bad checksums with {threads} threads"
        );
        // Partial checksums of captures with checksum offload stay partial,
        // so the copies leave out the same packets as the sources.
        assert_eq!(
            outcome.flow_stats.bad_checksums_ignored,
            COPIES as u64 * source_ignored,
            "ignored bad checksums with {threads} threads"
        );
    }
}

#[test]
fn copies_together_open_flows_at_once() {
    let (_, sources) = sources();
    let dir = tempfile::tempdir().unwrap();
    let apart = dir.path().join("apart.pcap");
    let together = dir.path().join("together.pcap");
    let written_apart = builder::write_copies(&sources, COPIES, 1, &apart).unwrap();
    let written_together = builder::write_copies(&sources, COPIES, COPIES, &together).unwrap();
    assert_eq!(written_apart, written_together);

    let apart = analyze_input(&apart, &config(1), &mut ());
    let together = analyze_input(&together, &config(1), &mut ());
    for outcome in [&apart, &together] {
        assert!(outcome.error.is_none(), "{:?}", outcome.error);
        assert_eq!(outcome.flow_stats.evictions(), 0);
    }
    assert_eq!(bad_checksums(&apart), bad_checksums(&together));
    // Copies that run together can meet: a source whose flows differ only
    // in the low address bits that readdressing changes (a host beside its
    // broadcast address) gives one flow to two copies. Few flows do.
    let (flows_apart, flows_together) = (apart.flows.len(), together.flows.len());
    assert!(
        flows_together <= flows_apart && flows_together >= flows_apart - flows_apart / 100,
        "{flows_together} flows together, {flows_apart} apart"
    );

    // Copies one after another never overlap. Copies together each hold
    // their flows open at the same moments.
    let (peak_apart, peak_together) = (
        apart.flow_stats.peak_active,
        together.flow_stats.peak_active,
    );
    assert!(
        peak_together > peak_apart * (u64::from(COPIES) - 1),
        "{peak_together} flows open at the peak together, {peak_apart} apart"
    );
}
