//! Fixture loading and replay for the text protocol tests.
//!
//! A fixture session is three files recorded by
//! `scripts/record-fingerprint-fixtures.sh`: the client's bytes, the server's
//! bytes, and the TCP segment sizes in capture order.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use exflow::decode::Transport;
use exflow::fingerprint::{AppInfo, Dissector, Progress, Side};

/// One recorded TCP session.
pub struct Session {
    pub name: String,
    pub client: Vec<u8>,
    pub server: Vec<u8>,
    /// `(from_client, length)` per segment with payload, in capture order.
    pub segments: Vec<(bool, usize)>,
}

pub fn fixture_dir(proto: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fingerprint")
        .join(proto)
}

pub fn load(proto: &str, name: &str) -> Session {
    let stem = fixture_dir(proto).join(name);
    let read = |suffix: &str| {
        let path = stem.with_file_name(format!("{name}.{suffix}"));
        std::fs::read(&path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
    };
    let segments = String::from_utf8(read("segments"))
        .expect("segments file is text")
        .lines()
        .map(|line| {
            let (side, length) = line
                .split_once(' ')
                .expect("segment line is `c N` or `s N`");
            (
                side == "c",
                length.parse().expect("segment length is a number"),
            )
        })
        .collect();
    Session {
        name: format!("{proto}/{name}"),
        client: read("client.bin"),
        server: read("server.bin"),
        segments,
    }
}

/// Every session recorded for `proto`, sorted by name.
pub fn load_all(proto: &str) -> Vec<Session> {
    let mut names: Vec<String> = std::fs::read_dir(fixture_dir(proto))
        .expect("fixture directory exists")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".segments").map(str::to_owned)
        })
        .collect();
    names.sort();
    names.into_iter().map(|name| load(proto, &name)).collect()
}

/// How a replay ended.
pub struct Replay {
    pub info: AppInfo,
    /// The number of segments fed when the dissector returned Done.
    pub done_after: Option<usize>,
}

/// Feeds a session to a dissector segment by segment, as the flow engine does:
/// after each segment, both sides' whole prefixes so far. The client is the
/// originator unless `client_is_responder`.
pub fn replay(session: &Session, client_is_responder: bool, hint: Option<Side>) -> Replay {
    replay_sides(session, client_is_responder, hint, true, true)
}

/// Like [`replay`], with the option to drop a side, as a capture that saw only
/// one direction would.
pub fn replay_sides(
    session: &Session,
    client_is_responder: bool,
    hint: Option<Side>,
    keep_client: bool,
    keep_server: bool,
) -> Replay {
    let ports = if client_is_responder {
        [25, 40000]
    } else {
        [40000, 25]
    };
    let mut dissector = Dissector::new(Transport::Tcp, ports, hint);
    let (mut client_len, mut server_len) = (0, 0);
    let mut done_after = None;
    for (index, &(from_client, length)) in session.segments.iter().enumerate() {
        if from_client && keep_client {
            client_len += length;
        } else if !from_client && keep_server {
            server_len += length;
        } else {
            continue;
        }
        let client = &session.client[..client_len];
        let server = &session.server[..server_len];
        let (originator, responder) = if client_is_responder {
            (server, client)
        } else {
            (client, server)
        };
        if dissector.on_stream(originator, responder) == Progress::Done {
            done_after = Some(index + 1);
            break;
        }
    }
    Replay {
        info: dissector.finish(),
        done_after,
    }
}

/// Feeds a session one byte at a time, alternating sides in segment order, so
/// that every line is split at every position at least once.
pub fn replay_bytewise(session: &Session) -> AppInfo {
    let mut dissector = Dissector::new(Transport::Tcp, [40000, 25], None);
    let (mut client_len, mut server_len) = (0, 0);
    for &(from_client, length) in &session.segments {
        for _ in 0..length {
            if from_client {
                client_len += 1;
            } else {
                server_len += 1;
            }
            let progress =
                dissector.on_stream(&session.client[..client_len], &session.server[..server_len]);
            if progress == Progress::Done {
                return dissector.finish();
            }
        }
    }
    dissector.finish()
}
