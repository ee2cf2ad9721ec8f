//! Capture walk speed: frames and bytes per second over real corpus files held
//! in memory, and over a big file read through a memory map or through plain
//! large reads.
//!
//! The big files repeat the packets of one corpus file until they reach
//! `EXFLOW_BENCH_BIG_MB` MiB (default 512). They are written to the system
//! temporary folder when the benchmark starts and deleted when it ends. The
//! first walk brings them into the page cache, so the numbers compare two ways
//! of reading cached pages, not disk speed. With `EXFLOW_BENCH_ROUNDS=N`, each
//! big file is also walked N times in turn through the map and through reads,
//! and the medians are printed.

use std::fs::{self, File};
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use exflow::capture::{CaptureInput, FrameSource, SliceReader, StreamReader, open};

/// Corpus files walked in memory: a classic pcap and a pcapng file.
const SMALL_FILES: &[&str] = &[
    "ndpi__whatsapp_login_call.pcap",
    "ndpi__tls_with_huge_ch.pcapng",
];

/// Corpus files whose packets the big files repeat: classic pcap with 900-byte
/// packets on average, and pcapng with 515-byte packets on average.
const BIG_PCAP_SOURCE: &str = "zeek__tls__tls-fragmented-handshake.pcap";
const BIG_PCAPNG_SOURCE: &str = "ndpi__fuzz-2020-02-16-11740.pcap";

fn corpus_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus")
        .join(name)
}

/// Walks every frame; returns the frame count and the captured bytes.
fn walk(source: &mut dyn FrameSource) -> (u64, u64) {
    let (mut frames, mut bytes) = (0u64, 0u64);
    while let Some(result) = source.next_frame() {
        let frame = result.expect("benchmark inputs read without error");
        frames += 1;
        bytes += frame.data.len() as u64;
    }
    (frames, bytes)
}

/// Walks every frame and reads its first 64 bytes, as a decoder of the link,
/// network and transport headers would. Returns the frame count and a checksum
/// of those bytes.
fn walk_touching_headers(source: &mut dyn FrameSource) -> (u64, u64) {
    let (mut frames, mut sum) = (0u64, 0u64);
    while let Some(result) = source.next_frame() {
        let frame = result.expect("benchmark inputs read without error");
        frames += 1;
        for &byte in frame.data.iter().take(64) {
            sum = sum.wrapping_add(u64::from(byte));
        }
    }
    (frames, sum)
}

fn walk_slice(bytes: &[u8]) -> (u64, u64) {
    let mut reader = SliceReader::new(bytes, "bench").expect("a capture");
    walk(&mut reader)
}

fn bench_small_files(c: &mut Criterion) {
    for name in SMALL_FILES {
        let bytes = fs::read(corpus_path(name)).expect("corpus file");
        let (frames, _) = walk_slice(&bytes);

        let mut group = c.benchmark_group("capture_walk_frames");
        group.throughput(Throughput::Elements(frames));
        group.bench_function(*name, |b| b.iter(|| walk_slice(black_box(&bytes))));
        group.finish();

        let mut group = c.benchmark_group("capture_walk_bytes");
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(*name, |b| b.iter(|| walk_slice(black_box(&bytes))));
        group.finish();
    }
}

/// Writes `header` once, then `records` again and again until the file
/// reaches `target_len` bytes.
fn write_big_file(path: &Path, header: &[u8], records: &[u8], target_len: u64) {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).expect("temporary file"));
    out.write_all(header).expect("write");
    let mut written = header.len() as u64;
    while written < target_len {
        out.write_all(records).expect("write");
        written += records.len() as u64;
    }
    out.flush().expect("write");
}

/// Splits a capture into its file header (pcap) or section and interface
/// blocks (pcapng), and its packet records or blocks.
fn split_header(bytes: &[u8]) -> (&[u8], &[u8]) {
    let mut reader = SliceReader::new(bytes, "bench").expect("a capture");
    let first = reader.next().expect("a frame").expect("no error");
    bytes.split_at(first.offset as usize)
}

type Walk = fn(&mut dyn FrameSource) -> (u64, u64);

/// One timed way to walk a file.
type WalkRun<'a> = dyn Fn() -> (u64, u64) + 'a;

fn walk_mapped(path: &Path, walk: Walk) -> (u64, u64) {
    match open(path).expect("big file opens") {
        CaptureInput::Mapped(capture) => walk(&mut capture.reader()),
        CaptureInput::Stream(_) => panic!("a regular file is mapped"),
    }
}

fn walk_read(path: &Path, buffer_len: usize, walk: Walk) -> (u64, u64) {
    let file = File::open(path).expect("big file opens");
    let mut reader = StreamReader::with_buffer_len(file, "bench", buffer_len).expect("a capture");
    walk(&mut reader)
}

/// Times `rounds` alternating runs of each way to walk the file and prints the
/// median of each, so that a change in machine load during the benchmark
/// affects every way alike.
fn compare_interleaved(path: &Path, rounds: usize) {
    let ways: [(&str, Box<WalkRun>); 4] = [
        ("mmap, headers only", Box::new(|| walk_mapped(path, walk))),
        (
            "read 1 MiB, headers only",
            Box::new(|| walk_read(path, 1 << 20, walk)),
        ),
        (
            "mmap, first 64 bytes read",
            Box::new(|| walk_mapped(path, walk_touching_headers)),
        ),
        (
            "read 1 MiB, first 64 bytes read",
            Box::new(|| walk_read(path, 1 << 20, walk_touching_headers)),
        ),
    ];
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); ways.len()];
    for _ in 0..rounds {
        for (index, (_, run)) in ways.iter().enumerate() {
            let start = Instant::now();
            black_box(run());
            times[index].push(start.elapsed());
        }
    }
    for ((name, _), mut samples) in ways.iter().zip(times) {
        samples.sort();
        eprintln!(
            "{}: {name}: median {:?} over {rounds} rounds",
            path.file_name().unwrap_or_default().to_string_lossy(),
            samples[samples.len() / 2]
        );
    }
}

fn bench_big_files(c: &mut Criterion) {
    let target_mib: u64 = std::env::var("EXFLOW_BENCH_BIG_MB")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(512);
    let folder = tempfile::tempdir().expect("temporary folder");

    for source in [BIG_PCAP_SOURCE, BIG_PCAPNG_SOURCE] {
        let bytes = fs::read(corpus_path(source)).expect("corpus file");
        let (header, records) = split_header(&bytes);
        let path = folder.path().join(source);
        write_big_file(&path, header, records, target_mib << 20);
        let file_len = fs::metadata(&path).expect("big file").len();
        let (frames, _) = walk_mapped(&path, walk);
        assert_eq!(walk_read(&path, 1 << 20, walk).0, frames);
        if let Some(rounds) = std::env::var("EXFLOW_BENCH_ROUNDS")
            .ok()
            .and_then(|value| value.parse().ok())
        {
            compare_interleaved(&path, rounds);
        }

        let mut group = c.benchmark_group(format!("capture_big_{source}"));
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(20));
        group.throughput(Throughput::Bytes(file_len));
        group.bench_function(BenchmarkId::new("mmap", frames), |b| {
            b.iter(|| walk_mapped(&path, walk))
        });
        for buffer_len in [1 << 20, 16 << 20] {
            let id = BenchmarkId::new(format!("read_{}MiB", buffer_len >> 20), frames);
            group.bench_function(id, |b| b.iter(|| walk_read(&path, buffer_len, walk)));
        }
        group.finish();
    }
}

criterion_group!(benches, bench_small_files, bench_big_files);
criterion_main!(benches);
