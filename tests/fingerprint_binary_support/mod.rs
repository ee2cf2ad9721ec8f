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

/// The shared corpus beside the repository, if it is there.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    dir.join("labels.tsv").is_file().then_some(dir)
}

/// Tells whether tshark can be run.
pub fn tshark_available() -> bool {
    std::process::Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// One row of the corpus's labels.tsv.
#[derive(Clone, Debug)]
pub struct LabelRow {
    pub file: String,
    pub l4: String,
    pub client_ip: String,
    pub client_port: u16,
    pub server_ip: String,
    pub server_port: u16,
    /// The labels of nDPI's expected output, nDPI 4.2 and tshark (`na` when
    /// a labeler gave none).
    pub labels: [String; 3],
    pub agree: bool,
    pub tshark_raw: String,
    pub flow_tags: String,
}

impl LabelRow {
    /// Returns the agreed label (the first given one), when the labelers agree.
    pub fn agreed_label(&self) -> Option<&str> {
        if !self.agree {
            return None;
        }
        self.labels
            .iter()
            .map(String::as_str)
            .find(|label| *label != "na")
    }

    pub fn has_label(&self, wanted: &[&str]) -> bool {
        self.labels
            .iter()
            .any(|label| wanted.contains(&label.as_str()))
    }

    pub fn describe(&self) -> String {
        format!(
            "{} {} {}:{} -> {}:{}",
            self.file, self.l4, self.client_ip, self.client_port, self.server_ip, self.server_port
        )
    }
}

pub fn read_labels(corpus: &Path) -> Vec<LabelRow> {
    let text = std::fs::read_to_string(corpus.join("labels.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (file, l4) = (column("file"), column("l4"));
    let (client_ip, client_port) = (column("client_ip"), column("client_port"));
    let (server_ip, server_port) = (column("server_ip"), column("server_port"));
    let labels = [
        column("label_ndpi_expected"),
        column("label_ndpi42"),
        column("label_tshark"),
    ];
    let (agree, tshark_raw, flow_tags) =
        (column("agree"), column("tshark_raw"), column("flow_tags"));
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split('\t').collect();
            let cell = |n: usize| cells.get(n).copied().unwrap_or("").to_owned();
            LabelRow {
                file: cell(file),
                l4: cell(l4),
                client_ip: cell(client_ip),
                client_port: cell(client_port).parse().unwrap_or(0),
                server_ip: cell(server_ip),
                server_port: cell(server_port).parse().unwrap_or(0),
                labels: labels.map(cell),
                agree: cell(agree) == "yes",
                tshark_raw: cell(tshark_raw),
                flow_tags: cell(flow_tags),
            }
        })
        .collect()
}

/// The payload of one flow as tshark's "follow" gives it: for TCP each side's
/// in-order bytes, for UDP each side's datagrams.
#[derive(Clone, Debug, Default)]
pub struct FlowBytes {
    pub client: Vec<Vec<u8>>,
    pub server: Vec<Vec<u8>>,
}

impl FlowBytes {
    pub fn client_stream(&self) -> Vec<u8> {
        self.client.concat()
    }

    pub fn server_stream(&self) -> Vec<u8> {
        self.server.concat()
    }
}

fn run_tshark(args: &[String]) -> String {
    let output = std::process::Command::new("tshark")
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("cannot run tshark: {error}"));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Extracts the payload of the given flows of one capture with tshark: one
/// pass maps each flow to its tshark stream, a second follows those streams.
/// Flows tshark does not show are left out of the result.
pub fn extract_flows(path: &Path, rows: &[&LabelRow]) -> Vec<(LabelRow, FlowBytes)> {
    let file = path.to_string_lossy().into_owned();
    let fields = [
        "tcp.stream",
        "udp.stream",
        "ip.src",
        "ip.dst",
        "ipv6.src",
        "ipv6.dst",
        "tcp.srcport",
        "tcp.dstport",
        "udp.srcport",
        "udp.dstport",
        "udp.payload",
    ];
    let mut args: Vec<String> = [
        "-r",
        &file,
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "separator=/t",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for field in fields {
        args.push("-e".into());
        args.push(field.into());
    }
    let listing = run_tshark(&args);

    // (l4, stream id) for each row, from the first packet that matches it.
    // UDP datagrams are taken from this pass: the innermost payload of each
    // packet ("follow" of a tunnelled UDP stream also shows the outer layer).
    let last = |cell: &str| cell.rsplit(',').next().unwrap_or("").to_owned();
    let mut streams: Vec<Option<(String, u32)>> = vec![None; rows.len()];
    // Per UDP stream: (source port, innermost source addresses, payload).
    type Datagram = (u16, [String; 2], Vec<u8>);
    let mut datagrams: std::collections::HashMap<u32, Vec<Datagram>> = Default::default();
    for line in listing.lines() {
        let cells: Vec<&str> = line.split('\t').collect();
        if cells.len() < fields.len() {
            continue;
        }
        let addresses: Vec<&str> = cells[2..6]
            .iter()
            .flat_map(|cell| cell.split(','))
            .collect();
        let (l4, stream, ports) = if !cells[0].is_empty() {
            ("tcp", last(cells[0]), (last(cells[6]), last(cells[7])))
        } else if !cells[1].is_empty() {
            ("udp", last(cells[1]), (last(cells[8]), last(cells[9])))
        } else {
            continue;
        };
        let Ok(stream) = stream.parse::<u32>() else {
            continue;
        };
        let ports: (u16, u16) = (ports.0.parse().unwrap_or(0), ports.1.parse().unwrap_or(0));
        if l4 == "udp"
            && let Some(payload) =
                decode_hex(&last(cells[10])).filter(|payload| !payload.is_empty())
        {
            let sources = [last(cells[2]), last(cells[4])];
            datagrams
                .entry(stream)
                .or_default()
                .push((ports.0, sources, payload));
        }
        for (row, slot) in rows.iter().zip(streams.iter_mut()) {
            let ports_match = (ports.0 == row.client_port && ports.1 == row.server_port)
                || (ports.1 == row.client_port && ports.0 == row.server_port);
            let addresses_match = addresses.contains(&row.client_ip.as_str())
                && addresses.contains(&row.server_ip.as_str());
            if slot.is_none() && row.l4 == l4 && ports_match && addresses_match {
                *slot = Some((l4.to_owned(), stream));
            }
        }
    }

    let mut follow_args: Vec<String> = vec!["-r".into(), file.clone(), "-q".into()];
    let mut wanted: Vec<(String, u32)> = streams
        .iter()
        .flatten()
        .filter(|(l4, _)| l4 == "tcp")
        .cloned()
        .collect();
    wanted.sort();
    wanted.dedup();
    for (l4, stream) in &wanted {
        follow_args.push("-z".into());
        follow_args.push(format!("follow,{l4},raw,{stream}"));
    }
    let followed = if wanted.is_empty() {
        Followed::new()
    } else {
        parse_follow(&run_tshark(&follow_args))
    };

    rows.iter()
        .zip(streams)
        .filter_map(|(row, stream)| {
            let (l4, id) = stream?;
            if l4 == "udp" {
                let mut bytes = FlowBytes::default();
                for (source_port, sources, payload) in datagrams.get(&id)? {
                    let from_client = if row.client_port == row.server_port {
                        sources.contains(&row.client_ip)
                    } else {
                        *source_port == row.client_port
                    };
                    if from_client {
                        bytes.client.push(payload.clone());
                    } else {
                        bytes.server.push(payload.clone());
                    }
                }
                return Some(((*row).clone(), bytes));
            }
            let (node0, chunks) = followed.get(&(l4, id))?;
            // Node 0 is the first sender; the label names the client.
            let node0_is_client = node0.ends_with(&format!(":{}", row.client_port))
                && (row.client_port != row.server_port || node0.contains(&row.client_ip));
            let mut bytes = FlowBytes::default();
            for (from_node0, chunk) in chunks {
                if *from_node0 == node0_is_client {
                    bytes.client.push(chunk.clone());
                } else {
                    bytes.server.push(chunk.clone());
                }
            }
            Some(((*row).clone(), bytes))
        })
        .collect()
}

type Followed = std::collections::HashMap<(String, u32), (String, Vec<(bool, Vec<u8>)>)>;

/// Parses the output of tshark's `-z follow,<l4>,raw,<n>`: per stream, the
/// node 0 address and each chunk with whether node 0 sent it.
fn parse_follow(text: &str) -> Followed {
    let mut result = Followed::new();
    let mut current: Option<(String, u32)> = None;
    let mut node0 = String::new();
    let mut chunks = Vec::new();
    let mut in_data = false;
    for line in text.lines() {
        if line.starts_with("=====") {
            if let Some(key) = current.take() {
                result.insert(
                    key,
                    (std::mem::take(&mut node0), std::mem::take(&mut chunks)),
                );
            }
            in_data = false;
        } else if let Some(rest) = line.strip_prefix("Follow: ") {
            let l4 = rest.split(',').next().unwrap_or("").to_owned();
            current = Some((l4, 0));
        } else if let Some(rest) = line.strip_prefix("Filter: ") {
            let id = rest
                .rsplit(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            if let Some(key) = current.as_mut() {
                key.1 = id;
            }
        } else if let Some(rest) = line.strip_prefix("Node 0: ") {
            node0 = rest.to_owned();
        } else if line.starts_with("Node 1: ") {
            in_data = true;
        } else if in_data && !line.trim().is_empty() {
            let from_node0 = !line.starts_with('\t');
            if let Some(chunk) = decode_hex(line.trim()) {
                chunks.push((from_node0, chunk));
            }
        }
    }
    result
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|n| u8::from_str_radix(text.get(n..n + 2)?, 16).ok())
        .collect()
}
