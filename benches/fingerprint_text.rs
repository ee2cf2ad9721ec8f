//! Dissector throughput on the recorded text protocol sessions
//! (tests/fixtures/fingerprint): one benchmark per protocol, each replaying one
//! session segment by segment as the flow engine feeds it, from the first
//! segment to Done or the end of the session.

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use exflow::decode::Transport;
use exflow::fingerprint::{Dissector, Progress};

struct Session {
    client: Vec<u8>,
    server: Vec<u8>,
    segments: Vec<(bool, usize)>,
}

fn load(proto: &str, name: &str) -> Session {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fingerprint")
        .join(proto);
    let read = |suffix: &str| std::fs::read(dir.join(format!("{name}.{suffix}"))).expect("fixture");
    let segments = String::from_utf8(read("segments"))
        .expect("segments file is text")
        .lines()
        .map(|line| {
            let (side, length) = line.split_once(' ').expect("`c N` or `s N`");
            (side == "c", length.parse().expect("segment length"))
        })
        .collect();
    Session {
        client: read("client.bin"),
        server: read("server.bin"),
        segments,
    }
}

/// Replays a session and returns the bytes the dissector was offered.
fn replay(session: &Session) -> usize {
    let mut dissector = Dissector::new(Transport::Tcp, [40000, 25], None);
    let (mut client_len, mut server_len) = (0, 0);
    for &(from_client, length) in &session.segments {
        if from_client {
            client_len += length;
        } else {
            server_len += length;
        }
        let progress =
            dissector.on_stream(&session.client[..client_len], &session.server[..server_len]);
        if progress == Progress::Done {
            break;
        }
    }
    std::hint::black_box(dissector.finish());
    client_len + server_len
}

fn dissector(c: &mut Criterion) {
    let sessions = [
        ("smtp", "auth-plain"),
        ("smtp", "starttls"),
        ("imap", "login"),
        ("pop3", "user-pass"),
        ("http", "owa-get"),
        ("ssh", "openssh"),
    ];
    let mut group = c.benchmark_group("dissector");
    for (proto, name) in sessions {
        let session = load(proto, name);
        let offered = replay(&session);
        group.throughput(Throughput::Bytes(offered as u64));
        group.bench_function(format!("{proto}/{name}"), |b| b.iter(|| replay(&session)));
    }
    group.finish();
}

criterion_group!(benches, dissector);
criterion_main!(benches);
