//! The fingerprints allocate nothing per call: a recorded session fed one byte
//! at a time makes exactly the allocations it makes when fed segment by
//! segment, although it calls the dissector many times more. What allocations
//! there are happen once per flow: the chosen protocol's parser, the record
//! fields copied out of the payload, and the buffer of a TLS hello that spans
//! records.
//!
//! This test binary counts allocations with a global allocator from the
//! `allocation-counter` crate, so it lives apart from the other tests.

use std::path::{Path, PathBuf};

use exflow::decode::Transport;
use exflow::fingerprint::{AppInfo, Dissector, Progress};

/// Allocations one flow's dissection may make, whatever its length. The most a
/// recorded session makes is about 30 (an SMTP session with STARTTLS: the EHLO
/// name and AUTH mechanisms, then the TLS fields and the JA4 computation).
const MAX_ALLOCATIONS_PER_FLOW: u64 = 64;

struct Session {
    name: String,
    client: Vec<u8>,
    server: Vec<u8>,
    /// `(from_client, length)` per TCP segment with payload, in capture order.
    segments: Vec<(bool, usize)>,
}

fn fixture_dir(protocol: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fingerprint")
        .join(protocol)
}

/// Loads every TCP session recorded for `protocol`. The recording scripts
/// write segment lines as `c 25` / `s 36` or `client 517` / `server 1362`.
fn sessions(protocol: &str) -> Vec<Session> {
    let mut names: Vec<String> = std::fs::read_dir(fixture_dir(protocol))
        .unwrap()
        .filter_map(|entry| {
            entry
                .ok()?
                .file_name()
                .into_string()
                .ok()?
                .strip_suffix(".segments")
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let read = |suffix: &str| {
                std::fs::read(fixture_dir(protocol).join(format!("{name}.{suffix}"))).unwrap()
            };
            let segments = String::from_utf8(read("segments"))
                .unwrap()
                .lines()
                .map(|line| {
                    let (side, length) = line.split_once(' ').unwrap();
                    (
                        matches!(side, "c" | "client"),
                        length.trim().parse().unwrap(),
                    )
                })
                .collect();
            Session {
                name: format!("{protocol}/{name}"),
                client: read("client.bin"),
                server: read("server.bin"),
                segments,
            }
        })
        .collect()
}

/// Feeds the session in steps of at most `step` bytes of a segment, and
/// returns what the dissector found, the number of calls and the allocations.
fn dissect(session: &Session, step: Option<usize>) -> (AppInfo, usize, u64) {
    let mut calls = 0;
    let mut info = AppInfo::default();
    let measured = allocation_counter::measure(|| {
        let mut dissector = Dissector::new(Transport::Tcp, [40000, 25], None);
        let (mut client_len, mut server_len) = (0, 0);
        'segments: for &(from_client, length) in &session.segments {
            let mut left = length;
            while left > 0 {
                let taken = step.map_or(left, |step| step.min(left));
                left -= taken;
                if from_client {
                    client_len += taken;
                } else {
                    server_len += taken;
                }
                calls += 1;
                let client = &session.client[..client_len.min(session.client.len())];
                let server = &session.server[..server_len.min(session.server.len())];
                if dissector.on_stream(client, server) == Progress::Done {
                    break 'segments;
                }
            }
        }
        info = dissector.finish();
    });
    (info, calls, measured.count_total)
}

#[test]
fn counter_sees_allocations() {
    let measured = allocation_counter::measure(|| {
        std::hint::black_box(vec![0u8; 16]);
    });
    assert_eq!(measured.count_total, 1);
}

#[test]
fn dissectors_allocate_once_per_flow() {
    let mut checked = 0;
    let mut most = 0;
    for protocol in ["smtp", "imap", "pop3", "http", "ssh", "tls", "ldap", "dns"] {
        for session in sessions(protocol) {
            let (by_segment, segment_calls, segment_allocations) = dissect(&session, None);
            let (by_byte, byte_calls, byte_allocations) = dissect(&session, Some(1));

            assert_eq!(
                by_byte, by_segment,
                "{}: the result depends on how bytes arrive",
                session.name
            );
            assert!(
                byte_calls > segment_calls,
                "{}: no extra calls",
                session.name
            );
            assert_eq!(
                byte_allocations, segment_allocations,
                "{}: {byte_calls} one-byte calls allocated {byte_allocations} times, {segment_calls} segment calls {segment_allocations} times",
                session.name
            );
            assert!(
                segment_allocations <= MAX_ALLOCATIONS_PER_FLOW,
                "{}: {segment_allocations} allocations",
                session.name
            );
            most = most.max(segment_allocations);
            checked += 1;
        }
    }
    eprintln!("{checked} sessions; the most allocations in one: {most}");
    assert!(checked >= 40, "only {checked} sessions found");
}
