//! exflow's `app` against the reference labels of the shared corpus.
//!
//! `../shared/corpus/labels.tsv` labels every TCP and UDP flow of the corpus
//! with what nDPI and Wireshark recognised, and whether those labelers
//! agree. On every flow where they agree, `exflow analyze` must give the same
//! answer, or the flow must be listed in
//! `tests/fixtures/corpus/app_differences.tsv` with its cause. A listed flow
//! that exflow now gets right fails the test too, so the list stays true.
//! Every labelled protocol must reach 98% agreement on its own rows, listed
//! differences included.
//!
//! Run `cargo test --test fingerprint_labels -- --nocapture` to see the
//! agreement table.

#[path = "common/cli.rs"]
mod cli;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use cli::{corpus_captures, corpus_dir, exflow, records, repo_path, stderr};
use exflow::capture::{FrameSource, SliceReader};
use exflow::decode::{Decoded, Decoder, Transport};
use exflow::fingerprint::{ProbeAnswer, dns};
use serde_json::Value;

/// The app differences the test accepts, with their causes.
const DIFFERENCES: &str = "tests/fixtures/corpus/app_differences.tsv";
/// Flows the decoder does not report, owned by the decoder's tests.
const DECODE_DIFFERENCES: &str = "tests/fixtures/decode_flow_differences.tsv";

/// Minimum share of a protocol's agreed rows on which exflow must agree. Rows
/// listed as `capture_damaged` stay out of the share, because no label is
/// right for damaged bytes.
const MIN_AGREEMENT: f64 = 0.98;

/// Causes a listed difference may give.
const CAUSES: [&str; 3] = ["reference_wrong", "capture_damaged", "vocabulary"];

/// Labels of the corpus vocabulary that name no protocol exflow names.
const UNNAMED_LABELS: [&str; 2] = ["other", "unknown"];

/// Implicit-TLS labels and the server port that the corpus rules give them:
/// a TLS flow on one of these ports is labelled by the port's protocol.
const IMPLICIT_TLS_PORTS: [(&str, u64); 4] = [
    ("smtps", 465),
    ("imaps", 993),
    ("pop3s", 995),
    ("ldaps", 636),
];

/// A flow without direction: file, transport and the two "ip:port" ends in
/// sorted order.
type FlowKey = (String, String, [String; 2]);

fn flow_key(file: &str, transport: &str, a: String, b: String) -> FlowKey {
    let ends = if a <= b { [a, b] } else { [b, a] };
    (file.to_string(), transport.to_string(), ends)
}

/// One row of labels.tsv that the test reads.
struct LabelRow {
    key: FlowKey,
    /// The flow as labels.tsv spells it, for messages and fixture rows.
    columns: [String; 6],
    label: String,
    agreed: bool,
}

/// Reads a tab-separated table with a header line; lines starting with `#`
/// are comments. Returns the rows as maps from column name to value.
fn read_table(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let mut lines = text.lines().filter(|line| !line.starts_with('#'));
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_else(|| panic!("{} has no header", path.display()))
        .split('\t')
        .collect();
    lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(
                fields.len(),
                header.len(),
                "{}: wrong number of columns in {line:?}",
                path.display()
            );
            header
                .iter()
                .zip(fields)
                .map(|(name, value)| (name.to_string(), value.to_string()))
                .collect()
        })
        .collect()
}

fn read_labels() -> Vec<LabelRow> {
    read_table(&corpus_dir().join("labels.tsv"))
        .into_iter()
        .map(|row| {
            let columns = [
                "file",
                "l4",
                "client_ip",
                "client_port",
                "server_ip",
                "server_port",
            ]
            .map(|name| row[name].clone());
            let [file, l4, client_ip, client_port, server_ip, server_port] = &columns;
            let key = flow_key(
                file,
                l4,
                format!("{client_ip}:{client_port}"),
                format!("{server_ip}:{server_port}"),
            );
            // Every labeler that gave a label gave this one when they agree.
            let label = ["label_tshark", "label_ndpi42", "label_ndpi_expected"]
                .iter()
                .map(|name| row[*name].clone())
                .find(|label| label != "na")
                .unwrap_or_else(|| "na".to_string());
            LabelRow {
                key,
                columns,
                label,
                agreed: row["agree"] == "yes",
            }
        })
        .collect()
}

fn endpoint(record: &Value, side: &str) -> String {
    cli::endpoint(record, side)
}

fn record_file(record: &Value) -> String {
    let source = record["source"].as_str().expect("source is a string");
    Path::new(source)
        .file_name()
        .expect("source names a file")
        .to_string_lossy()
        .into_owned()
}

/// Runs `exflow analyze` once over the whole corpus and returns, per flow,
/// the record that stands for it.
///
/// A flow that exflow split into several records (a timeout, packets after
/// the close) is represented by its first record that carried payload,
/// because the labelers name the first protocol in the flow's payload.
fn exflow_records() -> BTreeMap<FlowKey, Value> {
    let captures: Vec<String> = corpus_captures()
        .iter()
        .map(|path| path.to_str().expect("corpus paths are UTF-8").to_string())
        .collect();
    let mut args = vec!["analyze", "--format", "jsonl", "--threads", "2"];
    args.extend(captures.iter().map(String::as_str));
    let output = exflow(&args);
    // Damaged corpus files end with status 2 after their records are written.
    assert!(
        matches!(output.status.code(), Some(0) | Some(2)),
        "exflow analyze failed: {:?}, {}",
        output.status,
        stderr(&output)
    );

    let mut by_flow: BTreeMap<FlowKey, Vec<Value>> = BTreeMap::new();
    for record in records(&output) {
        let key = flow_key(
            &record_file(&record),
            record["transport"].as_str().expect("transport is a string"),
            endpoint(&record, "client"),
            endpoint(&record, "server"),
        );
        by_flow.entry(key).or_default().push(record);
    }
    by_flow
        .into_iter()
        .map(|(key, mut flow_records)| {
            flow_records.sort_by(|a, b| a["ts_start"].as_str().cmp(&b["ts_start"].as_str()));
            let chosen = flow_records
                .iter()
                .position(|record| record["app"] != "none")
                .unwrap_or(0);
            (key, flow_records.swap_remove(chosen))
        })
        .collect()
}

/// Translates a record into the corpus vocabulary.
///
/// - `smtp`, `imap`, `pop3`, `ldap` with `starttls` true are
///   `<app>+starttls`. The corpus gives `+starttls` only when TLS followed
///   the clear text, and so does exflow's `starttls`. The flag is therefore
///   checked both ways: an upgrade exflow misses and one it invents are both
///   differences.
/// - `tls` on server port 465, 993, 995 or 636 is `smtps`, `imaps`, `pop3s`
///   or `ldaps`, as the corpus rules do, with exflow's server port.
/// - `ssh` is `other`, a protocol the vocabulary does not name.
/// - `unknown` and `none` are `unknown`.
fn exflow_label(record: &Value) -> String {
    let app = record["app"].as_str().expect("app is a string");
    let starttls = record["starttls"].as_bool().expect("starttls is a boolean");
    let server_port = record["server"]["port"]
        .as_u64()
        .expect("server.port is a number");
    match app {
        "smtp" | "imap" | "pop3" | "ldap" if starttls => format!("{app}+starttls"),
        "tls" => IMPLICIT_TLS_PORTS
            .iter()
            .find(|(_, port)| *port == server_port)
            .map_or("tls", |(label, _)| label)
            .to_string(),
        "ssh" => "other".to_string(),
        "unknown" | "none" => "unknown".to_string(),
        named => named.to_string(),
    }
}

/// Whether exflow's label, in the corpus vocabulary, agrees with the labelers'.
/// A protocol the vocabulary calls `other` is one that exflow may not name
/// either, so `unknown` agrees with it.
fn agrees(label: &str, exflow: &str) -> bool {
    label == exflow || (label == "other" && exflow == "unknown")
}

/// One listed difference: the flow, the labelers' label and exflow's.
type Difference = (FlowKey, String, String);

fn read_differences() -> BTreeMap<Difference, String> {
    read_table(&repo_path(DIFFERENCES))
        .into_iter()
        .map(|row| {
            let cause = &row["cause"];
            assert!(
                CAUSES.contains(&cause.as_str()),
                "{DIFFERENCES}: unknown cause {cause:?} in {row:?}; use one of {CAUSES:?}"
            );
            assert!(
                !row["reason"].trim().is_empty(),
                "{DIFFERENCES}: no reason in {row:?}"
            );
            let key = flow_key(
                &row["file"],
                &row["l4"],
                format!("{}:{}", row["client_ip"], row["client_port"]),
                format!("{}:{}", row["server_ip"], row["server_port"]),
            );
            (
                (key, row["label"].clone(), row["exflow"].clone()),
                cause.clone(),
            )
        })
        .collect()
}

/// Flows that the decoder's fixture lists as not reported by exflow.
fn flows_without_record() -> BTreeSet<FlowKey> {
    let text = fs::read_to_string(repo_path(DECODE_DIFFERENCES)).unwrap();
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            (fields[1] == "missing").then(|| {
                flow_key(
                    fields[0],
                    fields[2],
                    format!("{}:{}", fields[3], fields[4]),
                    format!("{}:{}", fields[5], fields[6]),
                )
            })
        })
        .collect()
}

/// Counts for one label of the vocabulary.
#[derive(Default)]
struct LabelCounts {
    rows: usize,
    agree: usize,
    listed: usize,
    /// Listed rows whose cause is `capture_damaged`.
    damaged: usize,
    no_record: usize,
}

impl LabelCounts {
    fn share(&self) -> f64 {
        self.agree as f64 / (self.rows - self.damaged) as f64
    }
}

fn print_table(counts: &BTreeMap<String, LabelCounts>) {
    println!("| label | agreed rows | exflow agrees | listed | no record | agreement |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let (mut rows, mut agree) = (0, 0);
    for (label, count) in counts {
        println!(
            "| {label} | {} | {} | {} | {} | {:.1}% |",
            count.rows,
            count.agree,
            count.listed,
            count.no_record,
            100.0 * count.share()
        );
        rows += count.rows;
        agree += count.agree;
    }
    println!(
        "| all | {rows} | {agree} | | | {:.1}% |",
        100.0 * agree as f64 / rows as f64
    );
}

#[test]
fn app_agrees_with_reference_labels() {
    let labels = read_labels();
    let records = exflow_records();
    let listed = read_differences();
    let without_record = flows_without_record();

    let mut counts: BTreeMap<String, LabelCounts> = BTreeMap::new();
    let mut unlisted = Vec::new();
    let mut unexplained_missing = Vec::new();
    let mut seen = BTreeSet::new();
    for row in labels.iter().filter(|row| row.agreed) {
        let count = counts.entry(row.label.clone()).or_default();
        count.rows += 1;
        let Some(record) = records.get(&row.key) else {
            count.no_record += 1;
            if !without_record.contains(&row.key) {
                unexplained_missing.push(row.columns.join("\t"));
            }
            continue;
        };
        let exflow = exflow_label(record);
        if agrees(&row.label, &exflow) {
            count.agree += 1;
            continue;
        }
        let difference = (row.key.clone(), row.label.clone(), exflow.clone());
        if let Some(cause) = listed.get(&difference) {
            count.listed += 1;
            count.damaged += usize::from(cause == "capture_damaged");
            seen.insert(difference);
        } else {
            unlisted.push(format!(
                "{}\t{}\t{exflow}\t?\t?",
                row.columns.join("\t"),
                row.label
            ));
        }
    }
    print_table(&counts);

    assert!(
        counts.values().map(|count| count.rows).sum::<usize>() > 2000,
        "labels.tsv looks incomplete"
    );
    assert!(
        unexplained_missing.is_empty(),
        "labelled flows with no exflow record and no row in {DECODE_DIFFERENCES}:\n{}",
        unexplained_missing.join("\n")
    );
    assert!(
        unlisted.is_empty(),
        "{} differences not listed in {DIFFERENCES}; find the cause, fix exflow or add \
         the rows (cause and reason in place of the question marks):\n{}",
        unlisted.len(),
        unlisted.join("\n")
    );
    let stale: Vec<String> = listed
        .keys()
        .filter(|difference| !seen.contains(*difference))
        .map(|(key, label, exflow)| format!("{key:?}: labelled {label}, listed as {exflow}"))
        .collect();
    assert!(
        stale.is_empty(),
        "{DIFFERENCES} lists differences that no longer occur; remove them:\n{}",
        stale.join("\n")
    );
    for (label, count) in &counts {
        if UNNAMED_LABELS.contains(&label.as_str()) {
            continue;
        }
        assert!(
            count.share() >= MIN_AGREEMENT,
            "{label}: exflow agrees on {} of {} rows, below {:.0}%",
            count.agree,
            count.rows,
            100.0 * MIN_AGREEMENT
        );
    }
}

/// Returns the UDP payloads of a corpus capture whose source or destination
/// port is `port`, decoded by exflow's own reader and decoder.
fn udp_payloads(file: &str, port: u16) -> Vec<Vec<u8>> {
    let bytes = fs::read(corpus_dir().join(file)).unwrap();
    let mut reader = SliceReader::new(&bytes, file).unwrap();
    let mut decoder = Decoder::default();
    let mut payloads = Vec::new();
    while let Some(frame) = reader.next_frame() {
        let frame = frame.unwrap();
        if let Decoded::Packet(packet) = decoder.decode(&frame)
            && packet.transport == Transport::Udp
            && (packet.src_port == port || packet.dst_port == port)
        {
            payloads.push(packet.payload.to_vec());
        }
    }
    payloads
}

#[test]
fn netbios_name_service_is_not_dns() {
    // NetBIOS name queries (RFC 1002) have the DNS layout but encoded names.
    let mut netbios = udp_payloads("zeek__wikipedia.pcap", 137);
    netbios.extend(udp_payloads("zeek__tunnels__Teredo.pcap", 137));
    assert!(netbios.len() >= 8, "{} NetBIOS datagrams", netbios.len());
    for payload in &netbios {
        assert_eq!(
            dns::probe_datagram(payload).answer,
            ProbeAnswer::NotMine,
            "{payload:02x?}"
        );
    }

    // mDNS and LLMNR from the same capture carry DNS names, so they stay DNS.
    let mut dns_names = udp_payloads("zeek__wikipedia.pcap", 5353);
    dns_names.extend(udp_payloads("zeek__wikipedia.pcap", 5355));
    assert!(dns_names.len() >= 6, "{} datagrams", dns_names.len());
    for payload in &dns_names {
        assert_eq!(
            dns::probe_datagram(payload).answer,
            ProbeAnswer::Certain,
            "{payload:02x?}"
        );
    }
}
