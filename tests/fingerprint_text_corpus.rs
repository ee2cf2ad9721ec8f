//! The text protocol probes and the dissector over the shared capture corpus
//! (`../shared/corpus`, read in place).
//!
//! Streams are cut out of the captures at test time with tshark
//! (`-z follow,tcp,raw`); without tshark or the corpus these tests print why
//! they skipped and pass.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use exflow::decode::Transport;
use exflow::fingerprint::{
    self, App, Dissector, MAX_PROBE_WINDOW, PROBE_ORDER, ProbeAnswer, Progress, Side, http,
};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

/// Checks that the corpus and tshark are there, and prints why not.
fn corpus_available(test: &str) -> bool {
    if !corpus_dir().join("labels.tsv").is_file() {
        eprintln!("SKIPPED {test}: no corpus at {}", corpus_dir().display());
        return false;
    }
    let tshark = Command::new("tshark").arg("--version").output();
    if !tshark.is_ok_and(|output| output.status.success()) {
        eprintln!("SKIPPED {test}: tshark not found (Debian package tshark)");
        return false;
    }
    true
}

/// One row of labels.tsv.
struct Row {
    file: String,
    l4: String,
    client: String,
    server: String,
    labels: [String; 3],
    raw: [String; 3],
}

fn rows() -> Vec<Row> {
    let text = std::fs::read_to_string(corpus_dir().join("labels.tsv")).expect("labels.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let column = |name: &str| header.iter().position(|&field| field == name).expect(name);
    let at = |fields: &[&str], name: &str| fields[column(name)].to_owned();
    let endpoint = |ip: String, port: String| {
        if ip.contains(':') {
            format!("[{ip}]:{port}")
        } else {
            format!("{ip}:{port}")
        }
    };
    lines
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            Row {
                file: at(&fields, "file"),
                l4: at(&fields, "l4"),
                client: endpoint(at(&fields, "client_ip"), at(&fields, "client_port")),
                server: endpoint(at(&fields, "server_ip"), at(&fields, "server_port")),
                labels: [
                    at(&fields, "label_ndpi_expected"),
                    at(&fields, "label_ndpi42"),
                    at(&fields, "label_tshark"),
                ],
                raw: [
                    at(&fields, "ndpi_expected_raw"),
                    at(&fields, "ndpi42_raw"),
                    at(&fields, "tshark_raw"),
                ],
            }
        })
        .collect()
}

/// The text protocol a row's labelers agree on: at least one labeler names
/// it (`+starttls` included) and none names another protocol (`na` and
/// `unknown`, nDPI's port-only guesses, do not count against it). SSH has no
/// label of its own: a row counts when nDPI found SSH in the payload and
/// tshark dissected SSH.
fn agreed_app(row: &Row) -> Option<App> {
    if row.l4 != "tcp" {
        return None;
    }
    let ssh_by_ndpi = row.raw[..2]
        .iter()
        .any(|raw| raw.starts_with("92/SSH (DPI)"));
    if ssh_by_ndpi && row.raw[2] == "ssh" {
        return Some(App::Ssh);
    }
    let base = |label: &str| -> Option<App> {
        match label.split('+').next()? {
            "smtp" => Some(App::Smtp),
            "imap" => Some(App::Imap),
            "pop3" => Some(App::Pop3),
            "http" => Some(App::Http),
            _ => None,
        }
    };
    let named: Vec<&String> = row
        .labels
        .iter()
        .filter(|label| !matches!(label.as_str(), "na" | "unknown"))
        .collect();
    let first = base(named.first()?)?;
    named
        .iter()
        .all(|label| base(label) == Some(first))
        .then_some(first)
}

/// A TCP flow cut out of a capture: each side's bytes and the segment order.
struct Stream {
    client: Vec<u8>,
    server: Vec<u8>,
    /// `(from_client, length)` per segment with payload.
    segments: Vec<(bool, usize)>,
}

fn follow(row: &Row) -> Stream {
    let path = corpus_dir().join(&row.file);
    let spec = format!("follow,tcp,raw,{},{}", row.client, row.server);
    let output = Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args(["-q", "-z", &spec])
        .output()
        .expect("tshark runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut stream = Stream {
        client: Vec::new(),
        server: Vec::new(),
        segments: Vec::new(),
    };
    let mut node0_is_client = true;
    let mut in_data = false;
    for line in text.lines() {
        if let Some(node) = line.strip_prefix("Node 0: ") {
            node0_is_client = node == row.client;
            continue;
        }
        if line.starts_with("Node 1: ") {
            in_data = true;
            continue;
        }
        if !in_data || line.starts_with('=') || line.trim().is_empty() {
            continue;
        }
        let from_node1 = line.starts_with('\t');
        let bytes = decode_hex(line.trim());
        let from_client = from_node1 != node0_is_client;
        stream.segments.push((from_client, bytes.len()));
        if from_client {
            stream.client.extend_from_slice(&bytes);
        } else {
            stream.server.extend_from_slice(&bytes);
        }
    }
    stream
}

fn decode_hex(hex: &str) -> Vec<u8> {
    hex.as_bytes()
        .chunks_exact(2)
        .map(|pair| {
            let digits = std::str::from_utf8(pair).expect("hex digits");
            u8::from_str_radix(digits, 16).expect("hex digits")
        })
        .collect()
}

/// Replays a stream into a dissector with the labelled client as originator.
fn dissect(stream: &Stream) -> exflow::fingerprint::AppInfo {
    let mut dissector = Dissector::new(Transport::Tcp, [40000, 25], None);
    let (mut client_len, mut server_len) = (0, 0);
    for &(from_client, length) in &stream.segments {
        if from_client {
            client_len += length;
        } else {
            server_len += length;
        }
        let progress = dissector.on_stream(
            &stream.client[..client_len.min(stream.client.len())],
            &stream.server[..server_len.min(stream.server.len())],
        );
        if progress == Progress::Done {
            break;
        }
    }
    dissector.finish()
}

/// The agreed text protocol flows with their streams, cut once per test run
/// (tshark takes about half a second per flow).
fn agreed_samples() -> &'static [(Row, App, Stream)] {
    static SAMPLES: OnceLock<Vec<(Row, App, Stream)>> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        rows()
            .into_iter()
            .filter_map(|row| {
                let app = agreed_app(&row)?;
                let stream = follow(&row);
                Some((row, app, stream))
            })
            .collect()
    })
}

/// Samples shorter than this may stay Unsure to another probe: the 2-byte
/// length prefix and 12-byte header of DNS over TCP cannot be judged from fewer
/// bytes (the SSH client of ndpi__ssh_unidirectional sends only "\r\n").
const MIN_DECISIVE_LEN: usize = 14;

fn window(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.len().min(MAX_PROBE_WINDOW)]
}

#[test]
fn corpus_samples_not_mine_to_other_probes() {
    if !corpus_available("corpus_samples_not_mine_to_other_probes") {
        return;
    }
    let mut checked: BTreeMap<App, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for (row, app, stream) in agreed_samples() {
        let app = *app;
        for (side, bytes) in [("client", &stream.client), ("server", &stream.server)] {
            if bytes.is_empty() {
                continue;
            }
            *checked.entry(app).or_default() += 1;
            for other in PROBE_ORDER.into_iter().filter(|&other| other != app) {
                let result = fingerprint::probe_stream(other, window(bytes));
                let excused =
                    result.answer == ProbeAnswer::Unsure && bytes.len() < MIN_DECISIVE_LEN;
                if result.answer != ProbeAnswer::NotMine && !excused {
                    failures.push(format!(
                        "{} {} {side}: {app:?} sample is {:?} to {other:?}",
                        row.file, row.client, result.answer
                    ));
                }
            }
        }
    }
    eprintln!("sides checked per protocol: {checked:?}");
    assert!(failures.is_empty(), "{failures:#?}");
    for app in [App::Smtp, App::Imap, App::Pop3, App::Http, App::Ssh] {
        assert!(
            checked.get(&app).is_some_and(|&count| count > 0),
            "no {app:?} sample"
        );
    }
}

#[test]
fn corpus_flows_classified_as_labelled() {
    if !corpus_available("corpus_flows_classified_as_labelled") {
        return;
    }
    let mut failures = Vec::new();
    let mut checked = 0;
    for (row, app, stream) in agreed_samples() {
        let app = *app;
        if stream.segments.is_empty() {
            continue;
        }
        checked += 1;
        let info = dissect(stream);
        if info.app != app {
            failures.push(format!(
                "{} {}: {:?}, labelled {app:?}",
                row.file, row.client, info.app
            ));
        }
    }
    eprintln!("flows checked: {checked}");
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(checked > 0);
}

/// Flows that look like a text protocol and are not one.
#[test]
fn corpus_lookalikes_unknown() {
    if !corpus_available("corpus_lookalikes_unknown") {
        return;
    }
    let cases = [
        // FTP control: a 220 greeting and USER/PASS, like SMTP and POP3.
        ("zeek__ftp__ipv4.pcap", "141.142.220.235:50003"),
        // RTSP: an HTTP-shaped request line with RTSP/1.0.
        ("ndpi__rtsp_setup_http.pcapng", "172.28.5.170:63840"),
        // Redis: `+OK` and `+PONG` replies, like POP3.
        ("tcpdump__resp_1_benchmark.pcap", "127.0.0.1:35901"),
        ("tcpdump__resp_1_benchmark.pcap", "127.0.0.1:35903"),
    ];
    let rows = rows();
    for (file, client) in cases {
        let row = rows
            .iter()
            .find(|row| row.file == file && row.client == client)
            .unwrap_or_else(|| panic!("{file} {client} in labels.tsv"));
        let stream = follow(row);
        assert!(!stream.segments.is_empty(), "{file} has payload");
        let info = dissect(&stream);
        assert_eq!(info.app, App::Unknown, "{file} {client}");
    }
}

#[test]
fn sip_datagrams_not_http() {
    if !corpus_available("sip_datagrams_not_http") {
        return;
    }
    let path = corpus_dir().join("zeek__sip__wireshark.pcap");
    let output = Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args(["-Y", "sip", "-T", "fields", "-e", "udp.payload"])
        .output()
        .expect("tshark runs");
    let payloads: Vec<Vec<u8>> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| decode_hex(&line.replace(':', "")))
        .collect();
    assert!(!payloads.is_empty(), "SIP datagrams in the capture");
    for payload in &payloads {
        // A SIP request line ends in SIP/2.0 and a status line starts with it.
        assert_eq!(http::probe(payload).answer, ProbeAnswer::NotMine);
        // The dissector gives up once both sides sent a datagram that is not
        // DNS, the only protocol it recognises over UDP.
        let mut dissector = Dissector::new(Transport::Udp, [5060, 5060], Some(Side::Originator));
        assert_eq!(
            dissector.on_datagram(Side::Originator, payload),
            Progress::NeedMore
        );
        assert_eq!(
            dissector.on_datagram(Side::Responder, payload),
            Progress::Done
        );
        assert_eq!(dissector.finish().app, App::Unknown);
    }
}
