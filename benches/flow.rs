//! Flow engine throughput: per-packet lookup and update in a populated table,
//! whole connections through a fresh table, and stream reassembly.
//!
//! Run with `cargo bench --bench flow`.

#[path = "../tests/common/flow_packets.rs"]
mod flow_packets;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use exflow::capture::Timestamp;
use exflow::flow::{FlowConfig, FlowTable, StreamReassembler};
use flow_packets::{End, Segment, TcpExchange};

const FLOWS: usize = 10_000;
const ROUNDS: usize = 8;

fn exchange(n: usize) -> TcpExchange {
    let client = format!(
        "10.{}.{}.{}:{}",
        n >> 16 & 0xff,
        n >> 8 & 0xff,
        n & 0xff,
        20_000 + n % 40_000
    );
    TcpExchange::new(&client, "192.0.2.10:443", n as u32 * 7_919, 99)
}

/// Handshakes of `FLOWS` connections, then `ROUNDS` ACKs on each, interleaved.
fn established_traffic() -> (Vec<Segment>, Vec<Segment>) {
    let mut exchanges: Vec<TcpExchange> = (0..FLOWS).map(exchange).collect();
    let handshakes = exchanges
        .iter_mut()
        .flat_map(|tcp| tcp.handshake())
        .collect();
    let mut acks = Vec::with_capacity(FLOWS * ROUNDS);
    for _ in 0..ROUNDS {
        for tcp in &mut exchanges {
            tcp.advance(Duration::from_millis(50));
            acks.push(tcp.ack(End::Client));
        }
    }
    (handshakes, acks)
}

fn bench_table(c: &mut Criterion) {
    let mut group = c.benchmark_group("flow_table");

    let (handshakes, acks) = established_traffic();
    let mut table = FlowTable::new(FlowConfig::default());
    for segment in &handshakes {
        table.process(&segment.packet(), &mut |_| {});
    }
    let packets: Vec<_> = acks.iter().map(Segment::packet).collect();
    group.throughput(Throughput::Elements(packets.len() as u64));
    group.bench_function("lookup_update_established", |b| {
        b.iter(|| {
            for packet in &packets {
                table.process(black_box(packet), &mut |flow| {
                    black_box(flow);
                });
            }
        })
    });

    // Whole connections with payload: creation, handshake, one request and
    // response through the stub dissector, teardown and the records.
    let mut connections = Vec::new();
    for n in 0..1_000 {
        let mut tcp = exchange(n);
        connections.extend(tcp.handshake());
        connections.push(tcp.data(End::Client, &[b'q'; 300]));
        connections.push(tcp.data(End::Server, &[b'r'; 1_400]));
        connections.extend(tcp.close());
    }
    let packets: Vec<_> = connections.iter().map(Segment::packet).collect();
    group.throughput(Throughput::Elements(packets.len() as u64));
    group.bench_function("connections_with_payload", |b| {
        b.iter(|| {
            let mut table = FlowTable::new(FlowConfig::default());
            let mut records = 0;
            for packet in &packets {
                table.process(black_box(packet), &mut |_| records += 1);
            }
            table.flush(&mut |_| records += 1);
            black_box(records)
        })
    });
    group.finish();
}

fn bench_reassembly(c: &mut Criterion) {
    const BUDGET: usize = 16 * 1024;
    const SEGMENT: usize = 1_460;
    let stream: Vec<u8> = (0..BUDGET).map(|i| (i * 31 % 251) as u8).collect();
    let segments: Vec<(u32, &[u8])> = stream
        .chunks(SEGMENT)
        .enumerate()
        .map(|(i, chunk)| ((i * SEGMENT) as u32, chunk))
        .collect();
    // Each pair of segments swapped: every other segment waits for its hole.
    let mut swapped = segments.clone();
    for pair in swapped.chunks_mut(2) {
        pair.reverse();
    }

    let mut group = c.benchmark_group("reassembly");
    group.throughput(Throughput::Bytes(BUDGET as u64));
    for (name, order) in [("in_order_16k", &segments), ("pairs_swapped_16k", &swapped)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut reassembler = StreamReassembler::new(BUDGET);
                reassembler.set_base(0);
                for &(seq, bytes) in order.iter() {
                    reassembler.insert(seq, bytes, bytes.len() as u32, Timestamp(0), BUDGET);
                }
                assert_eq!(reassembler.prefix().len(), BUDGET);
                black_box(reassembler.prefix().len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_table, bench_reassembly);
criterion_main!(benches);
