//! `exflow analyze` on the project's own recordings of Exchange-shaped traffic
//! (captures/): every flow's verdict, rule, protocol, STARTTLS, connection
//! state and risks against the table the recording script wrote from what each
//! session did, and the whole JSON Lines output against a golden file.
//!
//! `UPDATE_GOLDEN=1 cargo test --test captures_golden` rewrites the golden
//! files from the current output; review the diff before committing it.

#[path = "common/cli.rs"]
mod cli;

use std::collections::BTreeMap;
use std::fs;

use cli::{records, repo_path, stderr};
use serde_json::Value;

const CAPTURES: [(&str, &str); 4] = [
    ("exchange-no-edge", "pcap"),
    ("exchange-edge", "pcap"),
    ("exchange-clients", "pcapng"),
    ("exchange-roles", "pcap"),
];

fn analyze(name: &str, extension: &str) -> std::process::Output {
    let capture = format!("captures/{name}.{extension}");
    let site = format!("captures/{name}.site.toml");
    // Relative paths keep `source` the same on every checkout.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_exflow"))
        .current_dir(repo_path("."))
        .args(["analyze", "--format", "jsonl", "--site", &site, &capture])
        .env("LANG", "C")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{name}: {}", stderr(&output));
    output
}

/// One row of captures/<name>.expected.tsv.
struct Expected {
    session: String,
    client: String,
    server: String,
    port: u64,
    transport: String,
    fields: BTreeMap<&'static str, String>,
}

fn expected_rows(name: &str) -> Vec<Expected> {
    let text = fs::read_to_string(repo_path(&format!("captures/{name}.expected.tsv"))).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let column = |wanted: &str| header.iter().position(|c| *c == wanted).unwrap();
    lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            let cells: Vec<&str> = line.split('\t').collect();
            let cell = |wanted: &str| cells[column(wanted)].to_string();
            let mut fields = BTreeMap::new();
            for key in ["app", "starttls", "conn_state", "verdict", "rule", "risks"] {
                fields.insert(key, cell(key));
            }
            Expected {
                session: cell("session"),
                client: cell("client"),
                server: cell("server"),
                port: cell("port").parse().unwrap(),
                transport: cell("transport"),
                fields,
            }
        })
        .collect()
}

/// Returns a record's value of an expected-table column, in the table's form.
fn observed(record: &Value, key: &str) -> String {
    match key {
        "starttls" => record["starttls"].to_string(),
        "rule" => record["rule"].as_str().unwrap_or("-").to_string(),
        "risks" => {
            let risks: Vec<&str> = record["risks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap())
                .collect();
            if risks.is_empty() {
                "-".to_string()
            } else {
                risks.join(", ")
            }
        }
        _ => record[key].as_str().unwrap().to_string(),
    }
}

#[test]
fn verdicts_match_recorded_sessions() {
    let mut failures = Vec::new();
    for (name, extension) in CAPTURES {
        let output = analyze(name, extension);
        let mut unmatched: Vec<Value> = records(&output);
        let rows = expected_rows(name);
        assert_eq!(unmatched.len(), rows.len(), "{name}: flow count");
        for row in rows {
            let position = unmatched.iter().position(|record| {
                record["client"]["ip"] == row.client.as_str()
                    && record["server"]["ip"] == row.server.as_str()
                    && record["server"]["port"] == row.port
                    && record["transport"] == row.transport.as_str()
            });
            let Some(position) = position else {
                failures.push(format!(
                    "{name} {}: no flow {} -> {}:{}",
                    row.session, row.client, row.server, row.port
                ));
                continue;
            };
            let record = unmatched.remove(position);
            for (key, want) in &row.fields {
                let got = observed(&record, key);
                let want = want.replace(", ", ",").replace(',', ", ");
                if got != want {
                    failures.push(format!(
                        "{name} {}: {key} is {got}, the session says {want} ({})",
                        row.session, record["reason"]
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn output_matches_golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for (name, extension) in CAPTURES {
        let output = analyze(name, extension);
        let golden = repo_path(&format!("tests/golden/captures/{name}.jsonl"));
        if update {
            fs::write(&golden, &output.stdout).unwrap();
            continue;
        }
        let expected = fs::read(&golden)
            .unwrap_or_else(|e| panic!("{}: {e}; run with UPDATE_GOLDEN=1", golden.display()));
        if output.stdout != expected {
            let got = String::from_utf8_lossy(&output.stdout);
            let want = String::from_utf8_lossy(&expected);
            let first = got.lines().zip(want.lines()).position(|(a, b)| a != b);
            panic!(
                "{name}: output differs from {} (first differing line: {first:?}); run with UPDATE_GOLDEN=1 and review the diff",
                golden.display()
            );
        }
    }
}

#[test]
fn every_matrix_row_is_exercised() {
    let matrix = fs::read_to_string(repo_path("../shared/MATRIX.md")).unwrap();
    let ids: Vec<String> = matrix
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split('`').next())
        .filter(|id| id.contains('.'))
        .map(str::to_string)
        .collect();
    assert!(ids.len() >= 20, "MATRIX.md rows: {ids:?}");
    let mut seen = std::collections::BTreeSet::new();
    for (name, extension) in CAPTURES {
        for record in records(&analyze(name, extension)) {
            if let Some(rule) = record["rule"].as_str() {
                seen.insert(rule.to_string());
            }
        }
    }
    let missing: Vec<&String> = ids.iter().filter(|id| !seen.contains(*id)).collect();
    assert!(missing.is_empty(), "rows no capture exercises: {missing:?}");
}

#[test]
fn ten_kinds_of_unexpected_paths() {
    let mut kinds = std::collections::BTreeSet::new();
    for (name, extension) in CAPTURES {
        for record in records(&analyze(name, extension)) {
            if record["verdict"] == "unexpected" {
                kinds.insert((
                    record["client"]["roles"].to_string(),
                    record["server"]["roles"].to_string(),
                    record["server"]["port"].as_u64().unwrap(),
                    record["app"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    assert!(kinds.len() >= 10, "distinct unexpected paths: {kinds:?}");
}
