//! Corpus regression: `exflow analyze --baseline OLD.jsonl` compares a run's
//! flows with the JSON Lines output of an earlier run over the same captures.
//!
//! Flows are matched by `flow_id`, which is stable across runs of the same input.
//! A flow present in both runs whose verdict, rule or app differs is *changed*;
//! a flow only in this run is *added*; a flow only in the baseline is *removed*.
//! Lines whose `record_type` is present and is not `flow` (alert or statistics
//! records) are skipped. Any other line that is not a flow record is an error
//! naming the file and line, because a diff against a misread baseline would
//! be wrong without saying so.
//!
//! ```
//! use exflow::i18n::Lang;
//! use exflow::report::baseline::{Baseline, Comparison};
//! use exflow::report::record::FlowRecord;
//!
//! let old = br#"{"flow_id":"a1","verdict":"unexpected","rule":null,"app":"smtp"}"#;
//! let baseline = Baseline::from_reader("old.jsonl".as_ref(), &old[..]).unwrap();
//! let mut comparison = Comparison::new(baseline);
//! comparison.add(&FlowRecord {
//!     flow_id: "a1".into(),
//!     verdict: "allowed".into(),
//!     rule: Some("mail.outbound".into()),
//!     app: "smtp".into(),
//!     ..FlowRecord::default()
//! });
//! let diff = comparison.finish();
//! assert_eq!(diff.changed, 1);
//! assert!(!diff.is_empty());
//! ```

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::escape::terminal_text;
use super::messages::io_error;
use super::record::FlowRecord;
use crate::i18n::{Lang, message};

/// Maximum length of one baseline line, newline excluded. A flow record is a
/// few kilobytes at most (wire text in it is capped by the fingerprints), so a
/// longer line means the file is not exflow's output.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// Maximum number of flow records a baseline may hold. Each costs about 200
/// bytes in memory while the run is compared, so the cap keeps a wrong file
/// from exhausting memory.
pub const MAX_BASELINE_FLOWS: usize = 10_000_000;

/// Maximum number of changes of each kind listed one by one; the rest are
/// counted.
pub const MAX_LISTED_CHANGES: usize = 1000;

/// The fields of a flow that `--baseline` compares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub verdict: String,
    pub rule: Option<String>,
    pub app: String,
}

/// A flow as the diff shows it: where it was seen and what it was judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowView {
    pub flow_id: String,
    pub source: String,
    pub transport: String,
    pub client: String,
    pub server: String,
    pub outcome: Outcome,
}

impl FlowView {
    /// Returns the view of a record of this run.
    pub fn of_record(record: &FlowRecord) -> FlowView {
        FlowView {
            flow_id: record.flow_id.clone(),
            source: record.source.clone(),
            transport: record.transport.clone(),
            client: endpoint(&record.client.ip, Some(u64::from(record.client.port))),
            server: endpoint(&record.server.ip, Some(u64::from(record.server.port))),
            outcome: Outcome {
                verdict: record.verdict.clone(),
                rule: record.rule.clone(),
                app: record.app.clone(),
            },
        }
    }
}

/// Formats an address and port, with brackets around an IPv6 address.
fn endpoint(ip: &str, port: Option<u64>) -> String {
    let port = port.map_or_else(|| "?".to_string(), |port| port.to_string());
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// A baseline line that is not a flow record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LineProblem {
    /// The line is not valid JSON; `column` is 1-based, as serde_json counts.
    InvalidJson { column: usize, detail: String },
    /// The line is JSON, but not an object.
    NotObject,
    /// A field every flow record has is missing.
    MissingField { field: &'static str },
    /// A field has the wrong JSON type.
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    /// The line is longer than [`MAX_LINE_BYTES`].
    TooLong,
    /// The `flow_id` already appeared on an earlier line.
    DuplicateFlowId { flow_id: String, first_line: u64 },
}

/// An error reading a baseline.
#[derive(Debug)]
pub enum BaselineError {
    /// The file could not be opened or read.
    Read { path: PathBuf, source: io::Error },
    /// A line is not a flow record.
    Line {
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        problem: LineProblem,
    },
    /// The file contains more than [`MAX_BASELINE_FLOWS`] flow records.
    TooManyFlows { path: PathBuf },
}

impl BaselineError {
    /// Renders the error in `lang`: the file, the line, what is wrong and what
    /// to do.
    pub fn render(&self, lang: Lang) -> String {
        match self {
            BaselineError::Read { path, source } => message(
                lang,
                "report.baseline.error.read",
                &[
                    ("path", &path.display().to_string()),
                    ("error", &io_error(lang, source)),
                ],
            ),
            BaselineError::Line {
                path,
                line,
                problem:
                    LineProblem::DuplicateFlowId {
                        flow_id,
                        first_line,
                    },
            } => message(
                lang,
                "report.baseline.error.duplicate",
                &[
                    ("path", &path.display().to_string()),
                    ("line", &line.to_string()),
                    ("flow_id", &terminal_text(flow_id)),
                    ("first_line", &first_line.to_string()),
                ],
            ),
            BaselineError::Line {
                path,
                line,
                problem,
            } => message(
                lang,
                "report.baseline.error.line",
                &[
                    ("path", &path.display().to_string()),
                    ("line", &line.to_string()),
                    ("problem", &render_problem(lang, problem)),
                ],
            ),
            BaselineError::TooManyFlows { path } => message(
                lang,
                "report.baseline.error.too_many_flows",
                &[
                    ("path", &path.display().to_string()),
                    ("max", &MAX_BASELINE_FLOWS.to_string()),
                ],
            ),
        }
    }
}

impl fmt::Display for BaselineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Lang::En))
    }
}

impl std::error::Error for BaselineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BaselineError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn render_problem(lang: Lang, problem: &LineProblem) -> String {
    match problem {
        LineProblem::InvalidJson { column, detail } => message(
            lang,
            "report.baseline.problem.invalid_json",
            &[("column", &column.to_string()), ("detail", detail)],
        ),
        LineProblem::NotObject => message(lang, "report.baseline.problem.not_object", &[]),
        LineProblem::MissingField { field } => message(
            lang,
            "report.baseline.problem.missing_field",
            &[("field", field)],
        ),
        LineProblem::WrongType { field, expected } => {
            let expected = message(lang, &format!("report.baseline.type.{expected}"), &[]);
            message(
                lang,
                "report.baseline.problem.wrong_type",
                &[("field", field), ("expected", &expected)],
            )
        }
        LineProblem::TooLong => message(
            lang,
            "report.baseline.problem.too_long",
            &[("max", &MAX_LINE_BYTES.to_string())],
        ),
        // Rendered as a whole sentence by `BaselineError::render`.
        LineProblem::DuplicateFlowId { flow_id, .. } => terminal_text(flow_id).into_owned(),
    }
}

/// A baseline flow and the line it came from.
#[derive(Debug)]
struct Entry {
    line: u64,
    view: FlowView,
    matched: bool,
}

/// The flows of an earlier run, by `flow_id`.
#[derive(Debug)]
pub struct Baseline {
    path: PathBuf,
    flows: HashMap<String, Entry>,
}

impl Baseline {
    /// Reads the JSON Lines file at `path`.
    pub fn read(path: &Path) -> Result<Baseline, BaselineError> {
        let file = File::open(path).map_err(|source| BaselineError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Baseline::from_reader(path, BufReader::new(file))
    }

    /// Reads JSON Lines from `reader`; `path` names it in errors.
    pub fn from_reader(path: &Path, mut reader: impl BufRead) -> Result<Baseline, BaselineError> {
        let mut flows: HashMap<String, Entry> = HashMap::new();
        let mut buffer = Vec::new();
        let mut line_number = 0u64;
        let line_error = |line: u64, problem: LineProblem| BaselineError::Line {
            path: path.to_path_buf(),
            line,
            problem,
        };

        loop {
            buffer.clear();
            // One byte past the cap tells a line of exactly MAX_LINE_BYTES
            // (then its newline) from a longer one.
            let limit = (MAX_LINE_BYTES + 2) as u64;
            let read = (&mut reader)
                .take(limit)
                .read_until(b'\n', &mut buffer)
                .map_err(|source| BaselineError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
            if read == 0 {
                break;
            }
            line_number += 1;
            let line = trim_line_end(&buffer);
            if line.len() > MAX_LINE_BYTES {
                return Err(line_error(line_number, LineProblem::TooLong));
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }

            let Some(view) =
                parse_line(line).map_err(|problem| line_error(line_number, problem))?
            else {
                continue;
            };
            if let Some(first) = flows.get(&view.flow_id) {
                return Err(line_error(
                    line_number,
                    LineProblem::DuplicateFlowId {
                        flow_id: view.flow_id,
                        first_line: first.line,
                    },
                ));
            }
            if flows.len() >= MAX_BASELINE_FLOWS {
                return Err(BaselineError::TooManyFlows {
                    path: path.to_path_buf(),
                });
            }
            flows.insert(
                view.flow_id.clone(),
                Entry {
                    line: line_number,
                    view,
                    matched: false,
                },
            );
        }

        Ok(Baseline {
            path: path.to_path_buf(),
            flows,
        })
    }

    /// Returns the number of flow records read.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }
}

/// Strips the line terminator (`\n` or `\r\n`).
fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Reads one non-blank line. Returns `None` for a record that is not a flow
/// record (its `record_type` is present and not `flow`).
fn parse_line(line: &[u8]) -> Result<Option<FlowView>, LineProblem> {
    let value: Value = serde_json::from_slice(line).map_err(|error| {
        let detail = error.to_string();
        // serde_json appends " at line L column C"; the line is ours to name.
        let detail = match detail.rfind(" at line ") {
            Some(end) => detail[..end].to_string(),
            None => detail,
        };
        LineProblem::InvalidJson {
            column: error.column(),
            detail,
        }
    })?;
    let Value::Object(object) = value else {
        return Err(LineProblem::NotObject);
    };

    match object.get("record_type") {
        None | Some(Value::Null) => {}
        Some(Value::String(kind)) if kind == "flow" => {}
        Some(Value::String(_)) => return Ok(None),
        Some(_) => {
            return Err(LineProblem::WrongType {
                field: "record_type",
                expected: "string",
            });
        }
    }

    let flow_id = required_string(&object, "flow_id")?;
    if flow_id.is_empty() {
        return Err(LineProblem::MissingField { field: "flow_id" });
    }
    let verdict = required_string(&object, "verdict")?;
    let app = required_string(&object, "app")?;
    let rule = match object.get("rule") {
        None => return Err(LineProblem::MissingField { field: "rule" }),
        Some(Value::Null) => None,
        Some(Value::String(rule)) => Some(rule.clone()),
        Some(_) => {
            return Err(LineProblem::WrongType {
                field: "rule",
                expected: "string_or_null",
            });
        }
    };

    // The fields below only label a removed flow in the diff; a record
    // without them still compares.
    let text = |value: Option<&Value>| {
        value
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let side = |name: &str| {
        let side = object.get(name);
        endpoint(
            &text(side.and_then(|side| side.get("ip"))),
            side.and_then(|side| side.get("port"))
                .and_then(Value::as_u64),
        )
    };
    Ok(Some(FlowView {
        flow_id,
        source: text(object.get("source")),
        transport: text(object.get("transport")),
        client: side("client"),
        server: side("server"),
        outcome: Outcome { verdict, rule, app },
    }))
}

fn required_string(
    object: &Map<String, Value>,
    field: &'static str,
) -> Result<String, LineProblem> {
    match object.get(field) {
        None => Err(LineProblem::MissingField { field }),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(LineProblem::WrongType {
            field,
            expected: "string",
        }),
    }
}

/// A flow whose verdict, rule or app differs between the runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Changed {
    pub old: FlowView,
    pub new: FlowView,
}

/// Compares the records of a run, one at a time, with a baseline.
#[derive(Debug)]
pub struct Comparison {
    baseline: Baseline,
    flows: u64,
    unchanged: u64,
    changed: Vec<Changed>,
    changed_count: u64,
    added: Vec<FlowView>,
    added_count: u64,
}

impl Comparison {
    pub fn new(baseline: Baseline) -> Comparison {
        Comparison {
            baseline,
            flows: 0,
            unchanged: 0,
            changed: Vec::new(),
            changed_count: 0,
            added: Vec::new(),
            added_count: 0,
        }
    }

    /// Compares one record of this run with its baseline flow, if any.
    pub fn add(&mut self, record: &FlowRecord) {
        self.flows += 1;
        let entry = self
            .baseline
            .flows
            .get_mut(&record.flow_id)
            .filter(|entry| !entry.matched);
        let Some(entry) = entry else {
            self.added_count += 1;
            if self.added.len() < MAX_LISTED_CHANGES {
                self.added.push(FlowView::of_record(record));
            }
            return;
        };

        entry.matched = true;
        let same = entry.view.outcome.verdict == record.verdict
            && entry.view.outcome.rule == record.rule
            && entry.view.outcome.app == record.app;
        if same {
            self.unchanged += 1;
            return;
        }
        self.changed_count += 1;
        if self.changed.len() < MAX_LISTED_CHANGES {
            self.changed.push(Changed {
                old: entry.view.clone(),
                new: FlowView::of_record(record),
            });
        }
    }

    /// Ends the comparison: baseline flows no record matched are removed.
    pub fn finish(self) -> BaselineDiff {
        let mut removed: Vec<(u64, FlowView)> = self
            .baseline
            .flows
            .into_values()
            .filter(|entry| !entry.matched)
            .map(|entry| (entry.line, entry.view))
            .collect();
        let removed_count = removed.len() as u64;
        removed.sort_unstable_by_key(|(line, _)| *line);
        removed.truncate(MAX_LISTED_CHANGES);

        BaselineDiff {
            path: self.baseline.path,
            flows: self.flows,
            unchanged: self.unchanged,
            changed: self.changed_count,
            added: self.added_count,
            removed: removed_count,
            listed_changed: self.changed,
            listed_added: self.added,
            listed_removed: removed.into_iter().map(|(_, view)| view).collect(),
        }
    }
}

/// The differences between a run and its baseline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaselineDiff {
    pub path: PathBuf,
    /// Flow records of this run.
    pub flows: u64,
    pub unchanged: u64,
    pub changed: u64,
    pub added: u64,
    pub removed: u64,
    /// The first [`MAX_LISTED_CHANGES`] changed flows, in the run's order.
    pub listed_changed: Vec<Changed>,
    /// The first [`MAX_LISTED_CHANGES`] added flows, in the run's order.
    pub listed_added: Vec<FlowView>,
    /// The first [`MAX_LISTED_CHANGES`] removed flows, in the baseline's order.
    pub listed_removed: Vec<FlowView>,
}

impl BaselineDiff {
    /// Returns true when the runs agree on every flow.
    pub fn is_empty(&self) -> bool {
        self.changed == 0 && self.added == 0 && self.removed == 0
    }

    /// Writes the differences for people, in `lang`. Text from the capture or
    /// the baseline file is escaped for the terminal.
    pub fn write(&self, out: &mut dyn Write, lang: Lang) -> io::Result<()> {
        let path = self.path.display().to_string();
        let path = terminal_text(&path);
        if self.is_empty() {
            let text = message(
                lang,
                "report.baseline.same",
                &[("path", &path), ("unchanged", &self.unchanged.to_string())],
            );
            return writeln!(out, "{text}");
        }

        let title = message(
            lang,
            "report.baseline.title",
            &[
                ("path", &path),
                ("unchanged", &self.unchanged.to_string()),
                ("changed", &self.changed.to_string()),
                ("added", &self.added.to_string()),
                ("removed", &self.removed.to_string()),
            ],
        );
        writeln!(out, "{title}")?;

        if self.changed > 0 {
            self.write_heading(out, lang, "changed", self.changed)?;
            for change in &self.listed_changed {
                writeln!(out, "  {}", flow_line(lang, &change.new))?;
                writeln!(
                    out,
                    "    {}",
                    change_line(lang, &change.old.outcome, &change.new.outcome)
                )?;
            }
            write_omitted(out, lang, self.changed, self.listed_changed.len())?;
        }
        for (kind, count, listed) in [
            ("added", self.added, &self.listed_added),
            ("removed", self.removed, &self.listed_removed),
        ] {
            if count == 0 {
                continue;
            }
            self.write_heading(out, lang, kind, count)?;
            for view in listed {
                writeln!(out, "  {}", flow_line(lang, view))?;
                writeln!(out, "    {}", outcome_line(lang, &view.outcome))?;
            }
            write_omitted(out, lang, count, listed.len())?;
        }
        Ok(())
    }

    fn write_heading(
        &self,
        out: &mut dyn Write,
        lang: Lang,
        kind: &str,
        count: u64,
    ) -> io::Result<()> {
        let heading = message(
            lang,
            &format!("report.baseline.heading.{kind}"),
            &[("count", &count.to_string())],
        );
        writeln!(out, "{heading}")
    }
}

fn write_omitted(out: &mut dyn Write, lang: Lang, count: u64, listed: usize) -> io::Result<()> {
    let omitted = count.saturating_sub(listed as u64);
    if omitted == 0 {
        return Ok(());
    }
    let text = message(
        lang,
        "report.baseline.omitted",
        &[("count", &omitted.to_string())],
    );
    writeln!(out, "  {text}")
}

/// Names a flow: its id, capture, transport and endpoints.
fn flow_line(lang: Lang, view: &FlowView) -> String {
    let transport = view.transport.to_ascii_uppercase();
    message(
        lang,
        "report.baseline.flow",
        &[
            ("flow_id", &terminal_text(&view.flow_id)),
            ("source", &terminal_text(&view.source)),
            ("transport", &terminal_text(&transport)),
            ("client", &terminal_text(&view.client)),
            ("server", &terminal_text(&view.server)),
        ],
    )
}

/// Lists what differs between two outcomes: `verdict unexpected -> allowed`.
fn change_line(lang: Lang, old: &Outcome, new: &Outcome) -> String {
    let mut parts = Vec::new();
    if old.verdict != new.verdict {
        parts.push(change_part(
            lang,
            "verdict",
            &verdict_label(lang, &old.verdict),
            &verdict_label(lang, &new.verdict),
        ));
    }
    if old.rule != new.rule {
        parts.push(change_part(
            lang,
            "rule",
            &rule_label(lang, old.rule.as_deref()),
            &rule_label(lang, new.rule.as_deref()),
        ));
    }
    if old.app != new.app {
        parts.push(change_part(
            lang,
            "app",
            &terminal_text(&old.app),
            &terminal_text(&new.app),
        ));
    }
    parts.join(&message(lang, "report.baseline.separator", &[]))
}

fn change_part(lang: Lang, field: &str, old: &str, new: &str) -> String {
    message(
        lang,
        "report.baseline.change",
        &[
            (
                "field",
                &message(lang, &format!("report.baseline.field.{field}"), &[]),
            ),
            ("old", old),
            ("new", new),
        ],
    )
}

/// Describes one outcome: `verdict allowed, rule client.https, app tls`.
fn outcome_line(lang: Lang, outcome: &Outcome) -> String {
    let parts = [
        ("verdict", verdict_label(lang, &outcome.verdict)),
        ("rule", rule_label(lang, outcome.rule.as_deref())),
        ("app", terminal_text(&outcome.app).into_owned()),
    ];
    parts
        .iter()
        .map(|(field, value)| {
            message(
                lang,
                "report.baseline.value",
                &[
                    (
                        "field",
                        &message(lang, &format!("report.baseline.field.{field}"), &[]),
                    ),
                    ("value", value),
                ],
            )
        })
        .collect::<Vec<_>>()
        .join(&message(lang, "report.baseline.separator", &[]))
}

/// Names a verdict as the summary does; a value this version does not know
/// (from another version's baseline) is shown as it is.
fn verdict_label(lang: Lang, verdict: &str) -> String {
    match verdict {
        "allowed" | "unexpected" | "out_of_scope" => {
            message(lang, &format!("report.verdict.{verdict}"), &[])
        }
        other => terminal_text(other).into_owned(),
    }
}

fn rule_label(lang: Lang, rule: Option<&str>) -> String {
    match rule {
        Some(rule) => terminal_text(rule).into_owned(),
        None => message(lang, "report.baseline.no_rule", &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Baseline, BaselineError> {
        Baseline::from_reader(Path::new("old.jsonl"), text.as_bytes())
    }

    fn line_problem(text: &str) -> (u64, LineProblem) {
        match read(text) {
            Err(BaselineError::Line { line, problem, .. }) => (line, problem),
            other => panic!("expected a line error, got {other:?}"),
        }
    }

    const FLOW_A: &str = r#"{"flow_id":"a","source":"x.pcap","transport":"tcp","client":{"ip":"10.0.0.5","port":5000},"server":{"ip":"10.0.0.10","port":25},"app":"smtp","verdict":"allowed","rule":"mail.inbound"}"#;

    #[test]
    fn reads_flow_records() {
        let baseline = read(&format!("{FLOW_A}\n")).unwrap();
        assert_eq!(baseline.len(), 1);
        let entry = &baseline.flows["a"];
        assert_eq!(entry.line, 1);
        assert_eq!(entry.view.client, "10.0.0.5:5000");
        assert_eq!(entry.view.outcome.rule.as_deref(), Some("mail.inbound"));
    }

    #[test]
    fn skips_other_record_types_and_blank_lines() {
        let text = format!(
            "{{\"record_type\":\"stats\",\"frames\":3}}\n\n{FLOW_A}\r\n{{\"record_type\":\"alert\"}}\n"
        );
        let baseline = read(&text).unwrap();
        assert_eq!(baseline.len(), 1);
        assert_eq!(baseline.flows["a"].line, 3);
    }

    #[test]
    fn explicit_flow_record_type_is_read() {
        let text = FLOW_A.replacen('{', r#"{"record_type":"flow","#, 1);
        assert_eq!(read(&text).unwrap().len(), 1);
    }

    #[test]
    fn invalid_json_names_line_and_column() {
        let (line, problem) = line_problem(&format!("{FLOW_A}\n{{\"flow_id\": }}\n"));
        assert_eq!(line, 2);
        let LineProblem::InvalidJson { column, detail } = problem else {
            panic!("expected invalid JSON, got {problem:?}");
        };
        assert_eq!(column, 13);
        assert!(!detail.contains("at line"), "{detail}");
    }

    #[test]
    fn csv_header_is_not_a_flow_record() {
        let (line, problem) = line_problem("flow_id,source,ts_start\n");
        assert_eq!(line, 1);
        assert!(
            matches!(problem, LineProblem::InvalidJson { .. }),
            "{problem:?}"
        );
    }

    #[test]
    fn array_is_not_a_flow_record() {
        assert_eq!(line_problem("[1, 2]\n"), (1, LineProblem::NotObject));
    }

    #[test]
    fn missing_fields_are_named() {
        for field in ["flow_id", "verdict", "app", "rule"] {
            let mut object: Map<String, Value> = serde_json::from_str(FLOW_A).unwrap();
            object.remove(field);
            let text = Value::Object(object).to_string();
            assert_eq!(
                line_problem(&text),
                (1, LineProblem::MissingField { field }),
                "{field}"
            );
        }
    }

    #[test]
    fn wrong_types_are_named() {
        let (_, problem) =
            line_problem(r#"{"flow_id":7,"verdict":"allowed","app":"tls","rule":null}"#);
        assert_eq!(
            problem,
            LineProblem::WrongType {
                field: "flow_id",
                expected: "string"
            }
        );
        let (_, problem) =
            line_problem(r#"{"flow_id":"b","verdict":"allowed","app":"tls","rule":3}"#);
        assert_eq!(
            problem,
            LineProblem::WrongType {
                field: "rule",
                expected: "string_or_null"
            }
        );
    }

    #[test]
    fn duplicate_flow_id_names_both_lines() {
        let (line, problem) = line_problem(&format!("{FLOW_A}\n{FLOW_A}\n"));
        assert_eq!(line, 2);
        assert_eq!(
            problem,
            LineProblem::DuplicateFlowId {
                flow_id: "a".to_string(),
                first_line: 1
            }
        );
    }

    #[test]
    fn overlong_line_is_rejected() {
        let text = format!("{}\n", " ".repeat(MAX_LINE_BYTES + 1));
        assert_eq!(line_problem(&text), (1, LineProblem::TooLong));
    }

    #[test]
    fn line_at_the_cap_is_read() {
        let padding = MAX_LINE_BYTES - FLOW_A.len();
        let text =
            format!("{FLOW_A}{}\n{FLOW_A}", " ".repeat(padding)).replacen("\"a\"", "\"b\"", 1);
        assert_eq!(read(&text).unwrap().len(), 2);
    }

    #[test]
    fn error_renders_file_and_line_in_both_languages() {
        let error = read("{}\n").unwrap_err();
        assert_eq!(
            error.render(Lang::En),
            "old.jsonl:1: not a flow record: the field `flow_id` is missing; \
             --baseline takes the JSON Lines output of an earlier exflow analyze run"
        );
        assert_eq!(
            error.render(Lang::Ja),
            "old.jsonl の 1 行目はフロー レコードではありません: フィールド `flow_id` がありません。\
             --baseline には、以前に実行した exflow analyze の JSON Lines 出力を指定してください"
        );
    }

    fn record(flow_id: &str, verdict: &str, rule: Option<&str>, app: &str) -> FlowRecord {
        let mut record = FlowRecord {
            flow_id: flow_id.to_string(),
            source: "x.pcap".to_string(),
            transport: "tcp".to_string(),
            verdict: verdict.to_string(),
            rule: rule.map(str::to_string),
            app: app.to_string(),
            ..FlowRecord::default()
        };
        record.client.ip = "10.0.0.5".to_string();
        record.client.port = 5000;
        record.server.ip = "2001:db8::25".to_string();
        record.server.port = 25;
        record
    }

    #[test]
    fn comparison_sorts_flows_into_kinds() {
        let text = [
            r#"{"flow_id":"same","verdict":"allowed","rule":"client.https","app":"tls"}"#,
            r#"{"flow_id":"verdict","verdict":"unexpected","rule":null,"app":"smtp"}"#,
            r#"{"flow_id":"app","verdict":"allowed","rule":"client.https","app":"tls"}"#,
            r#"{"flow_id":"gone","verdict":"out_of_scope","rule":null,"app":"dns"}"#,
        ]
        .join("\n");
        let mut comparison = Comparison::new(read(&text).unwrap());
        comparison.add(&record("same", "allowed", Some("client.https"), "tls"));
        comparison.add(&record("verdict", "allowed", Some("mail.outbound"), "smtp"));
        comparison.add(&record("app", "allowed", Some("client.https"), "http"));
        comparison.add(&record("new", "unexpected", None, "ssh"));
        let diff = comparison.finish();

        assert_eq!(diff.flows, 4);
        assert_eq!(diff.unchanged, 1);
        assert_eq!(diff.changed, 2);
        assert_eq!(diff.added, 1);
        assert_eq!(diff.removed, 1);
        assert_eq!(diff.listed_changed[0].new.flow_id, "verdict");
        assert_eq!(diff.listed_changed[1].old.outcome.app, "tls");
        assert_eq!(diff.listed_added[0].flow_id, "new");
        assert_eq!(diff.listed_removed[0].flow_id, "gone");
    }

    #[test]
    fn identical_runs_have_no_difference() {
        let mut comparison = Comparison::new(read(FLOW_A).unwrap());
        comparison.add(&record("a", "allowed", Some("mail.inbound"), "smtp"));
        let diff = comparison.finish();
        assert!(diff.is_empty());
        let mut text = Vec::new();
        diff.write(&mut text, Lang::En).unwrap();
        assert_eq!(
            String::from_utf8(text).unwrap(),
            "Compared with baseline old.jsonl: no differences (1 unchanged).\n"
        );
    }

    #[test]
    fn listed_changes_are_capped_and_counted() {
        let mut comparison = Comparison::new(read("").unwrap());
        for index in 0..MAX_LISTED_CHANGES + 5 {
            comparison.add(&record(&index.to_string(), "allowed", None, "tls"));
        }
        let diff = comparison.finish();
        assert_eq!(diff.added, MAX_LISTED_CHANGES as u64 + 5);
        assert_eq!(diff.listed_added.len(), MAX_LISTED_CHANGES);
        let mut text = Vec::new();
        diff.write(&mut text, Lang::En).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.ends_with("  (5 more not listed)\n"),
            "{}",
            &text[text.len() - 200..]
        );
    }

    #[test]
    fn diff_text_in_english() {
        let text = [
            r#"{"flow_id":"f1","source":"x.pcap","transport":"tcp","client":{"ip":"10.0.0.5","port":5000},"server":{"ip":"2001:db8::25","port":25},"verdict":"unexpected","rule":null,"app":"smtp"}"#,
            r#"{"flow_id":"f2","source":"x.pcap","transport":"udp","client":{"ip":"10.0.0.6","port":53000},"server":{"ip":"10.0.0.53","port":53},"verdict":"out_of_scope","rule":null,"app":"dns"}"#,
        ]
        .join("\n");
        let mut comparison = Comparison::new(read(&text).unwrap());
        comparison.add(&record("f1", "allowed", Some("mail.outbound"), "smtp"));
        comparison.add(&record("f3", "unexpected", None, "ssh"));
        let mut output = Vec::new();
        comparison.finish().write(&mut output, Lang::En).unwrap();

        assert_eq!(
            String::from_utf8(output).unwrap(),
            "Compared with baseline old.jsonl: 1 changed, 1 added, 1 removed, 0 unchanged.\n\
             Changed (verdict, rule or app differs): 1\n\
             \x20 flow f1  x.pcap  TCP 10.0.0.5:5000 -> [2001:db8::25]:25\n\
             \x20   verdict: unexpected -> allowed; rule: (none) -> mail.outbound\n\
             Added (only in this run): 1\n\
             \x20 flow f3  x.pcap  TCP 10.0.0.5:5000 -> [2001:db8::25]:25\n\
             \x20   verdict: unexpected; rule: (none); app: ssh\n\
             Removed (only in the baseline): 1\n\
             \x20 flow f2  x.pcap  UDP 10.0.0.6:53000 -> 10.0.0.53:53\n\
             \x20   verdict: out of scope; rule: (none); app: dns\n"
        );
    }

    #[test]
    fn wire_text_is_escaped() {
        let text = r#"{"flow_id":"f1","source":"x\u001b[2J.pcap","verdict":"weird\u202e","rule":null,"app":"smtp"}"#;
        let diff = Comparison::new(read(text).unwrap()).finish();
        let mut output = Vec::new();
        diff.write(&mut output, Lang::En).unwrap();
        let output = String::from_utf8(output).unwrap();
        assert!(!output.contains('\u{1b}'), "{output:?}");
        assert!(!output.contains('\u{202e}'), "{output:?}");
        assert!(output.contains("x\\u{001b}[2J.pcap"), "{output:?}");
        assert!(output.contains("weird\\u{202e}"), "{output:?}");
    }
}
