//! Fixture loading shared by the `fingerprint_binary*` tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use exflow::fingerprint::{AppInfo, Progress, StreamParser};

pub fn fixture_dir(proto: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fingerprint")
        .join(proto)
}

pub fn read_fixture(proto: &str, name: &str) -> Vec<u8> {
    let path = fixture_dir(proto).join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// One TCP conversation as recorded: each side's bytes and the segments in
/// capture order.
pub struct TcpFixture {
    pub name: String,
    pub client: Vec<u8>,
    pub server: Vec<u8>,
    /// `(from_client, length)` per payload-carrying segment.
    pub segments: Vec<(bool, usize)>,
}

impl TcpFixture {
    pub fn load(proto: &str, name: &str) -> TcpFixture {
        let client = read_fixture(proto, &format!("{name}.client.bin"));
        let server = read_fixture(proto, &format!("{name}.server.bin"));
        let listing = String::from_utf8(read_fixture(proto, &format!("{name}.segments"))).unwrap();
        let segments: Vec<(bool, usize)> = listing
            .lines()
            .map(|line| {
                let (side, len) = line.split_once(' ').unwrap();
                (side == "client", len.parse().unwrap())
            })
            .collect();
        let client_total: usize = segments.iter().filter(|s| s.0).map(|s| s.1).sum();
        let server_total: usize = segments.iter().filter(|s| !s.0).map(|s| s.1).sum();
        assert_eq!(
            client_total,
            client.len(),
            "{name}: client segments do not add up"
        );
        assert_eq!(
            server_total,
            server.len(),
            "{name}: server segments do not add up"
        );
        TcpFixture {
            name: name.to_owned(),
            client,
            server,
            segments,
        }
    }

    /// Feeds the parser segment by segment, in capture order, as the flow
    /// engine would; stops at `Done`. Returns the progress after the last call
    /// and the number of calls made.
    pub fn replay(&self, parser: &mut dyn StreamParser, info: &mut AppInfo) -> (Progress, usize) {
        let (mut client_len, mut server_len) = (0, 0);
        let mut progress = Progress::NeedMore;
        let mut calls = 0;
        for &(from_client, len) in &self.segments {
            if from_client {
                client_len += len;
            } else {
                server_len += len;
            }
            calls += 1;
            progress =
                parser.on_stream(&self.client[..client_len], &self.server[..server_len], info);
            if progress == Progress::Done {
                break;
            }
        }
        (progress, calls)
    }
}

/// The datagrams of one UDP exchange, in capture order: `(from_server, payload)`.
pub fn load_datagrams(proto: &str, name: &str) -> Vec<(bool, Vec<u8>)> {
    let dir = fixture_dir(proto).join(name);
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    entries
        .into_iter()
        .map(|path| {
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            (file.ends_with("-server.bin"), std::fs::read(&path).unwrap())
        })
        .collect()
}
