//! `exflow analyze` over every capture of the shared corpus: no input panics,
//! broken files give a clear error and keep their flows, the flows and their
//! directions match tshark's, and the output does not depend on the thread
//! count or on reading from standard input.

#[path = "common/cli.rs"]
mod cli;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use cli::{
    corpus_captures, corpus_dir, endpoint, exflow, exflow_with_input, records, repo_path, stderr,
};
use serde_json::Value;

type FlowSet = BTreeSet<(String, BTreeSet<String>)>;

/// An unordered flow: transport and the two "ip:port" ends.
fn flow_of(transport: &str, a: String, b: String) -> (String, BTreeSet<String>) {
    (transport.to_string(), BTreeSet::from([a, b]))
}

fn read_table(relative: &str) -> Vec<Vec<String>> {
    let text = fs::read_to_string(repo_path(relative)).unwrap();
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .skip(1)
        .map(|line| line.split('\t').map(str::to_string).collect())
        .collect()
}

#[test]
fn every_corpus_file_reads_without_panic() {
    let captures = corpus_captures();
    assert!(
        captures.len() > 100,
        "the corpus looks incomplete: {} files",
        captures.len()
    );
    for path in captures {
        let path_text = path.to_str().unwrap();
        let output = exflow(&["analyze", "--format", "jsonl", path_text]);
        let status = output.status.code();
        assert!(
            matches!(status, Some(0) | Some(2)),
            "{path_text}: exit status {status:?}, stderr: {}",
            stderr(&output)
        );
        if status == Some(2) {
            assert!(
                stderr(&output).contains(path_text),
                "{path_text}: the error does not name the file: {}",
                stderr(&output)
            );
        }
        // Every line is a JSON record, even for a damaged file.
        let _ = records(&output);
    }
}

/// Checks two invariants on every record of the corpus.
///
/// Per direction, every packet has at least the smallest IP and transport
/// headers, so the payload bytes plus those headers cannot exceed the IP
/// bytes. That is true of cut packets and fragments too, because both
/// count the wire.
///
/// `duration` equals `ts_end - ts_start` as the record writes them, to the
/// microsecond, so that a log pipeline that derives one from the others
/// agrees with exflow.
#[test]
fn corpus_counters_and_durations_agree() {
    let mut counter_failures = Vec::new();
    let mut duration_failures = Vec::new();
    let mut checked = 0;
    for path in corpus_captures() {
        let path_text = path.to_str().unwrap();
        let output = exflow(&["analyze", "--format", "jsonl", "--threads", "1", path_text]);
        for record in records(&output) {
            let ip_header = if record["ip_version"] == 4 { 20 } else { 40 };
            let transport_header = if record["transport"] == "tcp" { 20 } else { 8 };
            for side in ["to_server", "to_client"] {
                let count = |field: &str| record[field][side].as_u64().unwrap();
                let (packets, bytes, payload) =
                    (count("packets"), count("bytes"), count("payload_bytes"));
                if payload + packets * (ip_header + transport_header) > bytes {
                    counter_failures.push(format!(
                        "{path_text} {} {side}: {packets} packets, {bytes} bytes, {payload} payload bytes",
                        record["flow_id"]
                    ));
                }
                checked += 1;
            }

            let start = rfc3339_micros(record["ts_start"].as_str().unwrap());
            let end = rfc3339_micros(record["ts_end"].as_str().unwrap());
            let duration = record["duration"].as_f64().unwrap();
            if (duration * 1e6).round() as i64 != end - start {
                duration_failures.push(format!(
                    "{path_text} {}: duration {duration} from {} to {}",
                    record["flow_id"], record["ts_start"], record["ts_end"]
                ));
            }
        }
    }
    assert!(checked > 4000, "only {checked} directions checked");
    assert!(
        counter_failures.is_empty(),
        "{} directions:\n{}",
        counter_failures.len(),
        counter_failures.join("\n")
    );
    assert!(
        duration_failures.is_empty(),
        "{} records:\n{}",
        duration_failures.len(),
        duration_failures.join("\n")
    );
}

/// Returns the microseconds since 1970 of a record timestamp
/// (`YYYY-MM-DDTHH:MM:SS.ffffffZ`), with days counted by the proleptic
/// Gregorian calendar.
fn rfc3339_micros(text: &str) -> i64 {
    let number = |range: std::ops::Range<usize>| -> i64 { text[range].parse().unwrap() };
    let (year, month, day) = (number(0..4), number(5..7), number(8..10));
    // Years from March, so that the leap day ends a year.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let seconds = days * 86_400 + number(11..13) * 3600 + number(14..16) * 60 + number(17..19);
    seconds * 1_000_000 + number(20..26)
}

#[test]
fn timestamp_parser_known_instants() {
    assert_eq!(rfc3339_micros("1970-01-01T00:00:00.000001Z"), 1);
    assert_eq!(
        rfc3339_micros("2000-02-29T00:00:00.000000Z"),
        951_782_400_000_000
    );
    assert_eq!(
        rfc3339_micros("2013-05-14T07:54:12.123456Z"),
        1_368_518_052_123_456
    );
    assert_eq!(rfc3339_micros("1969-12-31T23:59:58.500000Z"), -1_500_000);
}

/// A TLS connection picked up as it closes carries only encrypted alerts,
/// such as a FIN retransmitted after the flow's linger time. Such a flow is
/// TLS, not an unrecognised protocol on a TLS port.
#[test]
fn closing_alerts_alone_are_tls() {
    let mut checked = 0;
    for file in [
        "zeek__pppoe-over-qinq.pcap",
        "zeek__tls__xmpp-dialback-starttls.pcap",
    ] {
        let path = corpus_dir().join(file);
        let output = exflow(&["analyze", "--format", "jsonl", path.to_str().unwrap()]);
        for record in records(&output) {
            let payload = ["to_server", "to_client"]
                .map(|side| record["payload_bytes"][side].as_u64().unwrap())
                .iter()
                .sum::<u64>();
            if record["conn_state"] == "OTH" && (1..=100).contains(&payload) {
                assert_eq!(record["app"], "tls", "{file}: {record}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 2);
}

#[test]
fn corpus_flows_match_tshark() {
    let mut expected: BTreeMap<String, FlowSet> = BTreeMap::new();
    let mut syn_clients: BTreeMap<String, Vec<(String, BTreeSet<String>, String)>> =
        BTreeMap::new();
    for row in read_table("tests/fixtures/corpus/conversations.tsv") {
        let flow = flow_of(
            &row[1],
            format!("{}:{}", row[2], row[3]),
            format!("{}:{}", row[4], row[5]),
        );
        if row[9] != "-" {
            syn_clients.entry(row[0].clone()).or_default().push((
                flow.0.clone(),
                flow.1.clone(),
                row[9].clone(),
            ));
        }
        expected.entry(row[0].clone()).or_default().insert(flow);
    }
    let mut explained: BTreeMap<String, FlowSet> = BTreeMap::new();
    for row in read_table("tests/fixtures/corpus/conversation_differences.tsv") {
        assert_eq!(row[1], "missing", "unknown difference kind in {row:?}");
        let flow = flow_of(
            &row[2],
            format!("{}:{}", row[3], row[4]),
            format!("{}:{}", row[5], row[6]),
        );
        explained.entry(row[0].clone()).or_default().insert(flow);
    }

    let mut failures = Vec::new();
    for (file, tshark_flows) in &expected {
        let path = corpus_dir().join(file);
        let output = exflow(&[
            "analyze",
            "--format",
            "jsonl",
            "--threads",
            "1",
            path.to_str().unwrap(),
        ]);
        let mut by_flow: BTreeMap<(String, BTreeSet<String>), Value> = BTreeMap::new();
        for record in records(&output) {
            let flow = flow_of(
                record["transport"].as_str().unwrap(),
                endpoint(&record, "client"),
                endpoint(&record, "server"),
            );
            by_flow.entry(flow).or_insert(record);
        }
        let exflow_flows: FlowSet = by_flow.keys().cloned().collect();
        let no_difference = FlowSet::new();
        let listed = explained.get(file).unwrap_or(&no_difference);

        let missing: FlowSet = tshark_flows.difference(&exflow_flows).cloned().collect();
        if &missing != listed {
            failures.push(format!("{file}: flows tshark lists and exflow does not: {missing:?}; listed in the fixture: {listed:?}"));
        }
        let extra: FlowSet = exflow_flows.difference(tshark_flows).cloned().collect();
        if !extra.is_empty() {
            failures.push(format!(
                "{file}: flows exflow reports and tshark does not: {extra:?}"
            ));
        }
        for (transport, ends, client) in syn_clients.get(file).into_iter().flatten() {
            if let Some(record) = by_flow.get(&(transport.clone(), ends.clone())) {
                let reported = endpoint(record, "client");
                if &reported != client {
                    failures.push(format!("{file}: the first SYN came from {client}, exflow says the client is {reported}"));
                }
                if record["direction_evidence"] != "syn" {
                    failures.push(format!(
                        "{file}: {client}: direction evidence {} where a SYN was captured",
                        record["direction_evidence"]
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn output_same_for_any_thread_count() {
    let captures: Vec<String> = corpus_captures()
        .iter()
        .map(|path| path.to_str().unwrap().to_string())
        .collect();
    let run = |threads: &str| {
        let mut args = vec!["analyze", "--format", "jsonl", "--threads", threads];
        args.extend(captures.iter().map(String::as_str));
        exflow(&args)
    };
    let one = run("1");
    let three = run("3");
    assert_eq!(one.status.code(), three.status.code());
    assert!(!records(&one).is_empty());
    assert!(
        one.stdout == three.stdout,
        "records differ between --threads 1 and --threads 3"
    );
}

/// Drops the fields that name the input, which differ between a file and
/// standard input.
fn without_source(mut records: Vec<Value>) -> Vec<Value> {
    for record in &mut records {
        let object = record.as_object_mut().unwrap();
        object.remove("source");
        object.remove("flow_id");
    }
    records
}

#[test]
fn standard_input_gives_same_records() {
    for name in [
        "ndpi__smtp-starttls.pcap",
        "ndpi__doh.pcapng",
        "zeek__http-qinq-0.pcap",
        "ndpi__dns_fragmented.pcap",
    ] {
        let path = corpus_dir().join(name);
        let from_file = exflow(&["analyze", "--format", "jsonl", path.to_str().unwrap()]);
        let bytes = fs::read(&path).unwrap();
        let from_stdin = exflow_with_input(&["analyze", "--format", "jsonl", "-"], Some(&bytes));
        assert_eq!(
            from_stdin.status.code(),
            Some(0),
            "{name}: {}",
            stderr(&from_stdin)
        );
        let stdin_records = records(&from_stdin);
        assert!(
            !stdin_records.is_empty(),
            "{name}: no records from standard input"
        );
        assert!(
            stdin_records
                .iter()
                .all(|record| record["source"] == "standard input")
        );
        assert_eq!(
            without_source(records(&from_file)),
            without_source(stdin_records),
            "{name}"
        );
    }
}

#[test]
fn truncated_capture_keeps_its_flows() {
    let path = corpus_dir().join("derived__smtp_truncated_midpacket.pcap");
    let output = exflow(&["analyze", "--format", "jsonl", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("derived__smtp_truncated_midpacket.pcap"),
        "{message}"
    );
    assert!(message.contains("byte offset 21740"), "{message}");
    let records = records(&output);
    let smtp = records
        .iter()
        .find(|record| record["server"]["port"] == 25)
        .expect("the SMTP flow read before the damage is missing");
    assert!(smtp["packets"]["to_server"].as_u64().unwrap() > 10);
    assert!(records.iter().any(|record| record["server"]["port"] == 53));
}

#[test]
fn unsupported_link_type_is_an_error() {
    let mut bytes = fs::read(corpus_dir().join("ndpi__smtp.pcap")).unwrap();
    // Link type 147 (LINKTYPE_USER0) in the classic pcap header.
    bytes[20..24].copy_from_slice(&147u32.to_le_bytes());
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("user0.pcap");
    fs::write(&path, &bytes).unwrap();
    let output = exflow(&["analyze", "--format", "jsonl", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("user0.pcap"), "{message}");
    assert!(message.contains("link type 147"), "{message}");
    assert!(output.stdout.is_empty());
}

#[test]
fn corrupt_pcapng_block_is_skipped_and_reported() {
    let original = fs::read(corpus_dir().join("ndpi__doh.pcapng")).unwrap();
    let clean = exflow(&[
        "analyze",
        "--format",
        "jsonl",
        corpus_dir().join("ndpi__doh.pcapng").to_str().unwrap(),
    ]);
    let clean_packets: u64 = records(&clean)
        .iter()
        .map(|r| {
            r["packets"]["to_server"].as_u64().unwrap()
                + r["packets"]["to_client"].as_u64().unwrap()
        })
        .sum();

    // Find the tenth enhanced packet block and break its trailing length.
    let mut bytes = original.clone();
    let mut offset = 0usize;
    let mut seen = 0;
    let corrupt_at = loop {
        let block_type = u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap());
        let length = u32::from_le_bytes(bytes[offset + 4..offset + 8].try_into().unwrap()) as usize;
        if block_type == 6 {
            seen += 1;
            if seen == 10 {
                let trailer = offset + length - 4;
                bytes[trailer..trailer + 4].copy_from_slice(&0xdead_beefu32.to_le_bytes());
                break offset;
            }
        }
        offset += length;
    };
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("corrupt.pcapng");
    fs::write(&path, &bytes).unwrap();

    let output = exflow(&["analyze", "--format", "jsonl", path.to_str().unwrap()]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "a damaged input exits with 2"
    );
    let message = stderr(&output);
    assert!(message.contains("corrupt.pcapng"), "{message}");
    assert!(
        message.contains(&format!("byte offset {corrupt_at}")),
        "{message}"
    );
    let packets: u64 = records(&output)
        .iter()
        .map(|r| {
            r["packets"]["to_server"].as_u64().unwrap()
                + r["packets"]["to_client"].as_u64().unwrap()
        })
        .sum();
    // One block is lost, the rest is read.
    assert_eq!(packets + 1, clean_packets);
}

#[test]
fn vlan_ids_are_reported() {
    let path = corpus_dir().join("zeek__mixed-vlan-mpls.pcap");
    let output = exflow(&["analyze", "--format", "jsonl", path.to_str().unwrap()]);
    let records = records(&output);
    assert!(
        records
            .iter()
            .any(|record| !record["vlan"].as_array().unwrap().is_empty())
    );
    assert!(
        records
            .iter()
            .any(|record| record["vlan"].as_array().unwrap().is_empty())
    );
}
