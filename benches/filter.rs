//! Per-packet cost of `Filter::matches`, and the one-time cost of compiling an
//! expression, on the packets of real SMTP, POP3 and IPv6 captures.
//!
//! Run with `cargo bench --bench filter`. Each evaluation benchmark runs the
//! filter over every packet once per iteration; criterion reports the time per
//! packet as the inverse of its element throughput.

#[path = "../tests/common/filter_frames.rs"]
mod filter_frames;

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use exflow::decode::Packet;
use exflow::filter::Filter;

use filter_frames::{decode_ethernet, read_pcap};

const CAPTURES: &[&str] = &[
    "zeek__smtp.pcap",
    "zeek__pop3__pop3.pcap",
    "ndpi__smtp-starttls.pcap",
    "zeek__wikipedia.pcap",
];

/// Expressions an Exchange audit would use, from one primitive to a mix of
/// hosts, ports, networks and negation.
const EXPRESSIONS: &[(&str, &str)] = &[
    ("port", "tcp port 25"),
    (
        "typical",
        "tcp and (port 25 or 587 or 465) and not net 10.0.0.0/8",
    ),
    (
        "exchange",
        "host 192.168.133.100 or 10.10.1.4 or 2003:de:2016:120::a08:53 and \
         (tcp port smtp or submission or https or imap or pop3) and not vlan 999",
    ),
];

fn load_captures(files: &[Vec<u8>]) -> Vec<Packet<'_>> {
    let mut packets = Vec::new();
    for bytes in files {
        let file = read_pcap(bytes).expect("corpus capture is a classic pcap");
        packets.extend(file.records.iter().filter_map(decode_ethernet));
    }
    packets
}

fn bench_filter(c: &mut Criterion) {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let files: Vec<Vec<u8>> = CAPTURES
        .iter()
        .map(|name| std::fs::read(corpus.join(name)).expect("corpus capture is readable"))
        .collect();
    let packets = load_captures(&files);

    let mut group = c.benchmark_group("filter/matches");
    group.throughput(Throughput::Elements(packets.len() as u64));
    for (name, expression) in EXPRESSIONS {
        let filter = Filter::parse(expression).expect("benchmark expression compiles");
        group.bench_function(*name, |b| {
            b.iter(|| {
                packets
                    .iter()
                    .filter(|packet| filter.matches(black_box(packet)))
                    .count()
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("filter/parse");
    for (name, expression) in EXPRESSIONS {
        group.bench_function(*name, |b| b.iter(|| Filter::parse(black_box(expression))));
    }
    group.finish();
}

criterion_group!(benches, bench_filter);
criterion_main!(benches);
