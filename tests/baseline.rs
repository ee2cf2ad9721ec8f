//! `exflow analyze --baseline`: a run compared with an earlier run over the
//! project's own recordings in captures/, end to end through the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use tempfile::TempDir;

fn run(args: &[&str], lang: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_exflow"))
        .args(args)
        .env("LANG", lang)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("failed to start exflow")
}

fn repo(relative: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(relative)
        .to_str()
        .unwrap()
        .to_string()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("output is not UTF-8")
}

fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// A temporary directory with the JSON Lines output of the Edge capture
/// under its site file: the baseline most tests compare with.
struct Fixture {
    dir: TempDir,
    capture: String,
    site: String,
    baseline: String,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = TempDir::new().unwrap();
        let capture = repo("captures/exchange-edge.pcap");
        let site = repo("captures/exchange-edge.site.toml");
        let baseline = dir
            .path()
            .join("baseline.jsonl")
            .to_str()
            .unwrap()
            .to_string();
        let output = run(
            &["analyze", &capture, "--site", &site, "-o", &baseline],
            "C",
        );
        assert_exit(&output, 0);
        Fixture {
            dir,
            capture,
            site,
            baseline,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn baseline_records(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.baseline)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// Writes the Edge site file with a proxy port added, which turns the
    /// Edge's flow to the proxy on 3128 from unexpected into allowed.
    fn site_with_proxy_port(&self) -> String {
        let site = std::fs::read_to_string(&self.site).unwrap();
        assert!(site.contains("proxy_ports = [8080]"));
        let changed = site.replace("proxy_ports = [8080]", "proxy_ports = [8080, 3128]");
        let path = self.path("site.toml");
        std::fs::write(&path, changed).unwrap();
        path.to_str().unwrap().to_string()
    }
}

#[test]
fn identical_run_exits_zero() {
    let fixture = Fixture::new();
    let again = fixture.path("again.jsonl");
    let again = again.to_str().unwrap();
    let output = run(
        &[
            "analyze",
            &fixture.capture,
            "--site",
            &fixture.site,
            "--baseline",
            &fixture.baseline,
            "-o",
            again,
        ],
        "C",
    );
    assert_exit(&output, 0);
    let flows = fixture.baseline_records().len();
    assert_eq!(
        text(&output.stdout),
        format!(
            "Compared with baseline {}: no differences ({flows} unchanged).\n",
            fixture.baseline
        )
    );
    assert_eq!(
        std::fs::read(again).unwrap(),
        std::fs::read(&fixture.baseline).unwrap(),
        "--baseline changed the records"
    );
}

#[test]
fn changed_verdict_is_listed() {
    let fixture = Fixture::new();
    let site = fixture.site_with_proxy_port();
    let proxy_flow = fixture
        .baseline_records()
        .into_iter()
        .find(|record| record["server"]["port"] == 3128)
        .expect("the Edge capture has a flow to the proxy on 3128");
    assert_eq!(proxy_flow["verdict"], "unexpected");

    let output = run(
        &[
            "analyze",
            &fixture.capture,
            "--site",
            &site,
            "--baseline",
            &fixture.baseline,
            "--format",
            "summary",
        ],
        "C",
    );
    assert_exit(&output, 1);
    let stdout = text(&output.stdout);
    let flows = fixture.baseline_records().len();
    let diff = &stdout[stdout
        .find("Compared with baseline")
        .unwrap_or_else(|| panic!("no diff after the summary: {stdout}"))..];
    assert_eq!(
        diff,
        format!(
            "Compared with baseline {}: 1 changed, 0 added, 0 removed, {} unchanged.\n\
             Changed (verdict, rule or app differs): 1\n\
             \x20 flow {}  {}  TCP {}:{} -> {}:3128\n\
             \x20   verdict: unexpected -> allowed; rule: (none) -> edge.reputation-proxy\n",
            fixture.baseline,
            flows - 1,
            proxy_flow["flow_id"].as_str().unwrap(),
            fixture.capture,
            proxy_flow["client"]["ip"].as_str().unwrap(),
            proxy_flow["client"]["port"],
            proxy_flow["server"]["ip"].as_str().unwrap(),
        )
    );
}

#[test]
fn changed_verdict_in_japanese() {
    let fixture = Fixture::new();
    let site = fixture.site_with_proxy_port();
    let output = run(
        &[
            "analyze",
            &fixture.capture,
            "--site",
            &site,
            "--baseline",
            &fixture.baseline,
            "-o",
            fixture.path("now.jsonl").to_str().unwrap(),
        ],
        "ja_JP.UTF-8",
    );
    assert_exit(&output, 1);
    let stdout = text(&output.stdout);
    let flows = fixture.baseline_records().len();
    assert!(
        stdout.starts_with(&format!(
            "ベースライン {} との比較: 変更 1 件、追加 0 件、削除 0 件、変更なし {} 件。\n\
             変更 (判定、ルール、プロトコルのいずれかが異なるフロー): 1 件\n  フロー ",
            fixture.baseline,
            flows - 1
        )),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("    判定: 想定外 -> 許可、ルール: (なし) -> edge.reputation-proxy\n"),
        "{stdout}"
    );
}

#[test]
fn other_captures_are_added_and_removed() {
    let fixture = Fixture::new();
    let other = repo("captures/exchange-no-edge.pcap");
    let now = fixture.path("now.jsonl");
    let now = now.to_str().unwrap();
    let output = run(
        &[
            "analyze",
            &other,
            "--site",
            &fixture.site,
            "--baseline",
            &fixture.baseline,
            "-o",
            now,
        ],
        "C",
    );
    assert_exit(&output, 1);

    let added = std::fs::read_to_string(now).unwrap().lines().count();
    let removed = fixture.baseline_records().len();
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with(&format!(
            "Compared with baseline {}: 0 changed, {added} added, {removed} removed, \
             0 unchanged.\n",
            fixture.baseline
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("Added (only in this run): {added}\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("Removed (only in the baseline): {removed}\n")),
        "{stdout}"
    );

    // Every flow is named once, with what it was judged.
    assert_eq!(
        stdout.matches("\n  flow ").count(),
        added + removed,
        "{stdout}"
    );
}

#[test]
fn adding_a_capture_only_adds() {
    let fixture = Fixture::new();
    let other = repo("captures/exchange-clients.pcapng");
    let output = run(
        &[
            "analyze",
            &fixture.capture,
            &other,
            "--site",
            &fixture.site,
            "--baseline",
            &fixture.baseline,
            "-o",
            fixture.path("now.jsonl").to_str().unwrap(),
        ],
        "C",
    );
    assert_exit(&output, 1);
    let stdout = text(&output.stdout);
    let first_line = stdout.lines().next().unwrap();
    assert!(first_line.contains(": 0 changed, "), "{first_line}");
    assert!(first_line.contains(" added, 0 removed, "), "{first_line}");
    assert!(!first_line.contains(": 0 changed, 0 added"), "{first_line}");
}

#[test]
fn diff_on_stderr_beside_stdout_records() {
    let fixture = Fixture::new();
    let site = fixture.site_with_proxy_port();
    let output = run(
        &[
            "analyze",
            &fixture.capture,
            "--site",
            &site,
            "--baseline",
            &fixture.baseline,
            "--format",
            "jsonl",
        ],
        "C",
    );
    assert_exit(&output, 1);
    let records: Vec<Value> = text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect();
    assert_eq!(records.len(), fixture.baseline_records().len());
    assert!(
        text(&output.stderr).starts_with("Compared with baseline "),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn other_record_types_are_ignored() {
    let fixture = Fixture::new();
    let mut lines: Vec<String> = std::fs::read_to_string(&fixture.baseline)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    lines.insert(
        0,
        r#"{"record_type":"stats","frames":120,"flows":24}"#.to_string(),
    );
    lines.insert(
        3,
        r#"{"record_type":"alert","message":"link down"}"#.to_string(),
    );
    let mixed = fixture.path("mixed.jsonl");
    std::fs::write(&mixed, lines.join("\n") + "\n").unwrap();

    let output = run(
        &[
            "analyze",
            &fixture.capture,
            "--site",
            &fixture.site,
            "--baseline",
            mixed.to_str().unwrap(),
            "-o",
            fixture.path("now.jsonl").to_str().unwrap(),
        ],
        "C",
    );
    assert_exit(&output, 0);
    assert!(
        text(&output.stdout).contains(": no differences ("),
        "{}",
        text(&output.stdout)
    );
}

#[test]
fn missing_baseline_is_an_error() {
    let fixture = Fixture::new();
    let missing = fixture.path("missing.jsonl");
    let missing = missing.to_str().unwrap();
    let output = run(
        &[
            "analyze",
            &fixture.capture,
            "--baseline",
            missing,
            "--format",
            "jsonl",
        ],
        "C",
    );
    assert_exit(&output, 2);
    assert!(
        output.stdout.is_empty(),
        "records were written without a baseline"
    );
    assert_eq!(
        text(&output.stderr),
        format!(
            "exflow: cannot read the baseline {missing}: No such file or directory (os error 2); \
             check the path\n"
        )
    );
}

#[test]
fn non_flow_line_names_its_number() {
    let fixture = Fixture::new();
    let mut lines: Vec<String> = std::fs::read_to_string(&fixture.baseline)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    lines[2] = r#"{"flow_id":"x","verdict":"allowed","app":"tls"}"#.to_string();
    let broken = fixture.path("broken.jsonl");
    std::fs::write(&broken, lines.join("\n")).unwrap();
    let broken = broken.to_str().unwrap();

    let output = run(&["analyze", &fixture.capture, "--baseline", broken], "C");
    assert_exit(&output, 2);
    assert_eq!(
        text(&output.stderr),
        format!(
            "exflow: {broken}:3: not a flow record: the field `rule` is missing; \
             --baseline takes the JSON Lines output of an earlier exflow analyze run\n"
        )
    );

    let output = run(
        &["analyze", &fixture.capture, "--baseline", broken],
        "ja_JP.UTF-8",
    );
    assert_exit(&output, 2);
    assert_eq!(
        text(&output.stderr),
        format!(
            "exflow: {broken} の 3 行目はフロー レコードではありません: \
             フィールド `rule` がありません。--baseline には、以前に実行した \
             exflow analyze の JSON Lines 出力を指定してください\n"
        )
    );
}

#[test]
fn csv_baseline_is_rejected() {
    let fixture = Fixture::new();
    let csv = fixture.path("flows.csv");
    let csv = csv.to_str().unwrap();
    let output = run(
        &[
            "analyze",
            &fixture.capture,
            "--site",
            &fixture.site,
            "--format",
            "csv",
            "-o",
            csv,
        ],
        "C",
    );
    assert_exit(&output, 0);

    let output = run(&["analyze", &fixture.capture, "--baseline", csv], "C");
    assert_exit(&output, 2);
    let stderr = text(&output.stderr);
    assert!(
        stderr.starts_with(&format!(
            "exflow: {csv}:1: not a flow record: invalid JSON at column "
        )),
        "{stderr}"
    );
}

#[test]
fn input_error_wins_over_difference() {
    let fixture = Fixture::new();
    let missing = fixture.path("gone.pcap");
    let output = run(
        &[
            "analyze",
            &fixture.capture,
            missing.to_str().unwrap(),
            "--site",
            &fixture.site,
            "--baseline",
            &fixture.baseline,
            "-o",
            fixture.path("now.jsonl").to_str().unwrap(),
        ],
        "C",
    );
    // The flows match, but a capture could not be read: exit status 2.
    assert_exit(&output, 2);
    assert!(
        text(&output.stdout).contains(": no differences ("),
        "{}",
        text(&output.stdout)
    );
}

#[test]
fn quiet_hides_only_the_no_difference_line() {
    let fixture = Fixture::new();
    let same = run(
        &[
            "analyze",
            "-q",
            &fixture.capture,
            "--site",
            &fixture.site,
            "--baseline",
            &fixture.baseline,
            "-o",
            fixture.path("now.jsonl").to_str().unwrap(),
        ],
        "C",
    );
    assert_exit(&same, 0);
    assert!(same.stdout.is_empty(), "{}", text(&same.stdout));

    let site = fixture.site_with_proxy_port();
    let changed = run(
        &[
            "analyze",
            "-q",
            &fixture.capture,
            "--site",
            &site,
            "--baseline",
            &fixture.baseline,
            "-o",
            fixture.path("now.jsonl").to_str().unwrap(),
        ],
        "C",
    );
    assert_exit(&changed, 1);
    assert!(text(&changed.stdout).contains("Changed (verdict, rule or app differs): 1"));
}

#[test]
fn fail_on_still_applies_with_baseline() {
    let fixture = Fixture::new();
    let output = run(
        &[
            "analyze",
            &fixture.capture,
            "--site",
            &fixture.site,
            "--baseline",
            &fixture.baseline,
            "--fail-on",
            "unexpected",
            "-o",
            fixture.path("now.jsonl").to_str().unwrap(),
        ],
        "C",
    );
    // No difference, but the Edge capture has unexpected flows.
    assert_exit(&output, 1);
    assert!(text(&output.stdout).contains(": no differences ("));
}
