//! Decode throughput over real corpus frames, in frames per second.
//!
//! `cargo bench --bench decode`. Frames are read into memory first, so only
//! `Decoder::decode` is timed.

#[path = "../tests/common/decode_frames.rs"]
mod decode_frames;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use decode_frames::{OwnedFrame, corpus_dir, read_corpus};
use exflow::decode::{Decoded, Decoder, DecoderConfig};

/// Reads every frame of every corpus capture, in file order.
fn corpus_frames() -> Vec<OwnedFrame> {
    let mut names: Vec<String> = std::fs::read_dir(corpus_dir())
        .expect("corpus directory")
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .into_string()
                .expect("file name")
        })
        .filter(|name| name.ends_with(".pcap") || name.ends_with(".pcapng"))
        .collect();
    names.sort();
    names.iter().flat_map(|name| read_corpus(name)).collect()
}

fn decode_frames(decoder: &mut Decoder, frames: &[OwnedFrame]) -> u64 {
    let mut packets = 0;
    for owned in frames {
        if let Decoded::Packet(_) | Decoded::Datagram(_) = decoder.decode(&owned.frame()) {
            packets += 1;
        }
    }
    packets
}

fn bench_decode(c: &mut Criterion) {
    let corpus = corpus_frames();
    let smtp = read_corpus("ndpi__smtp.pcap");
    let tls = read_corpus("ndpi__tls_with_huge_ch.pcapng");

    let mut group = c.benchmark_group("decode");
    let cases: [(&str, &[OwnedFrame], bool); 4] = [
        ("corpus", &corpus, true),
        ("corpus_no_checksums", &corpus, false),
        ("smtp_ethernet_tcp", &smtp, true),
        ("tls_ethernet_tcp", &tls, true),
    ];
    for (name, frames, verify_checksums) in cases {
        group.throughput(Throughput::Elements(frames.len() as u64));
        group.bench_function(name, |b| {
            let config = DecoderConfig {
                verify_checksums,
                ..DecoderConfig::default()
            };
            let mut decoder = Decoder::new(config);
            b.iter(|| decode_frames(&mut decoder, std::hint::black_box(frames)));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_decode);
criterion_main!(benches);
