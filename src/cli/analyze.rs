//! `exflow analyze`: read captures, judge every flow, write the records.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;

use sha1::{Digest, Sha1};

use super::{AnalyzeArgs, EngineArgs, FormatArg, VerdictArg};
use crate::decode::DecoderConfig;
use crate::filter::Filter;
use crate::flow::{FinishedFlow, FlowConfig};
use crate::i18n::{Lang, message};
use crate::pipeline::{self, AnalyzeConfig, InputOutcome};
use crate::policy::{Judgement, Policy, Verdict};
use crate::report::build::{Judged, flow_record};
use crate::report::csv::CsvWriter;
use crate::report::jsonl::JsonLinesWriter;
use crate::report::record::FlowRecord;

/// Exit status of a command, as the command-line contract fixes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Success = 0,
    /// `--fail-on` matched, or `--baseline` found a difference.
    Findings = 1,
    /// A usage, input or I/O error.
    Error = 2,
}

/// Where flow records go, in the chosen format.
enum RecordWriter {
    Jsonl(JsonLinesWriter<BufWriter<Box<dyn Write>>>),
    Csv(Box<CsvWriter<BufWriter<Box<dyn Write>>>>),
}

impl RecordWriter {
    fn write(&mut self, record: &FlowRecord) -> io::Result<()> {
        match self {
            RecordWriter::Jsonl(writer) => writer.write(record),
            RecordWriter::Csv(writer) => writer.write(record),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        match self {
            RecordWriter::Jsonl(writer) => writer.flush(),
            RecordWriter::Csv(writer) => writer.finish(),
        }
    }
}

/// Builds the flow engine's settings from the command line.
pub fn engine_configs(engine: &EngineArgs) -> (DecoderConfig, FlowConfig) {
    use std::time::Duration;

    let decoder = DecoderConfig {
        fragment_timeout: Duration::from_secs(u64::from(engine.fragment_timeout)),
        max_fragment_memory: engine.max_fragment_mib.saturating_mul(1024 * 1024),
        ..DecoderConfig::default()
    };
    let flows = FlowConfig {
        max_flows: engine.max_flows.max(1),
        reassembly_budget: engine.reassembly_budget as usize,
        reassembly_memory_cap: engine.max_reassembly_mib.saturating_mul(1024 * 1024),
        tcp_idle_timeout: Duration::from_secs(u64::from(engine.tcp_timeout)),
        udp_idle_timeout: Duration::from_secs(u64::from(engine.udp_timeout)),
        vlan_in_key: engine.vlan_in_key,
        ..FlowConfig::default()
    };
    (decoder, flows)
}

/// Returns the record fields that come from the verdict.
pub fn judged(judgement: &Judgement) -> Judged {
    Judged {
        verdict: judgement.verdict.as_str(),
        rule: judgement.rule.as_deref().map(str::to_string),
        reason: judgement.reason.render(Lang::En),
        risks: judgement.risks.names().collect(),
        client_roles: judgement.client_roles.names().map(str::to_string).collect(),
        server_roles: judgement.server_roles.names().map(str::to_string).collect(),
    }
}

/// Returns the name that goes into flow ids for each input: its file name, or
/// the path as given when two inputs share a file name, so that ids stay unique
/// within a run and do not depend on the directory a capture is read from.
pub fn id_names(inputs: &[std::path::PathBuf]) -> Vec<String> {
    let file_name = |path: &Path| {
        path.file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string())
    };
    inputs
        .iter()
        .map(|path| {
            let name = file_name(path);
            let shared = inputs
                .iter()
                .filter(|other| file_name(other) == name)
                .count()
                > 1;
            if shared {
                path.display().to_string()
            } else {
                name
            }
        })
        .collect()
}

/// Returns a flow's id: 16 hex digits of a SHA-1 over the input's id name (see
/// [`id_names`]), the offset of the flow's first packet in the input and its
/// start time. The same input gives the same ids on every run and machine.
pub fn flow_id(id_name: &str, flow: &FinishedFlow) -> String {
    let mut hasher = Sha1::new();
    hasher.update(id_name.as_bytes());
    hasher.update([0]);
    hasher.update(flow.first_offset.to_le_bytes());
    hasher.update(flow.ts_start.0.to_le_bytes());
    let digest = hasher.finalize();
    digest[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn open_output(path: Option<&Path>) -> io::Result<(Box<dyn Write>, bool)> {
    match path {
        None => Ok((Box::new(io::stdout()), io::stdout().is_terminal())),
        Some(path) if path.as_os_str() == "-" => {
            Ok((Box::new(io::stdout()), io::stdout().is_terminal()))
        }
        Some(path) => Ok((Box::new(File::create(path)?), false)),
    }
}

/// Runs `exflow analyze`.
pub fn run(args: &AnalyzeArgs, lang: Lang) -> Status {
    let policy = match Policy::load(args.policy.rules.as_deref(), args.policy.site.as_deref()) {
        Ok(policy) => policy,
        Err(error) => {
            super::report_policy_error(&error, lang);
            return Status::Error;
        }
    };
    for warning in policy.warnings() {
        eprintln!("{}", warning.render(lang));
    }

    let filter = match args.filter.as_deref().map(Filter::parse).transpose() {
        Ok(filter) => filter,
        Err(error) => {
            let expression = args.filter.as_deref().unwrap_or_default();
            eprintln!("exflow: {}", error.render(expression, lang));
            return Status::Error;
        }
    };
    let filter_fn = filter
        .as_ref()
        .map(|filter| move |packet: &crate::decode::Packet<'_>| filter.matches(packet));

    let (output, to_terminal) = match open_output(args.output.as_deref()) {
        Ok(opened) => opened,
        Err(error) => {
            let path = args.output.as_deref().unwrap_or(Path::new("-"));
            eprintln!(
                "exflow: {}",
                message(
                    lang,
                    "cli.error.output",
                    &[
                        ("path", &path.display().to_string()),
                        ("error", &error.to_string())
                    ]
                )
            );
            return Status::Error;
        }
    };
    let format = args.format.unwrap_or(if to_terminal {
        FormatArg::Summary
    } else {
        FormatArg::Jsonl
    });
    let writer = BufWriter::with_capacity(256 * 1024, output);
    let mut records = match format {
        FormatArg::Csv => RecordWriter::Csv(Box::new(CsvWriter::new(writer))),
        // TODO: the summary lands with the report module; JSON Lines until then.
        FormatArg::Jsonl | FormatArg::Summary => RecordWriter::Jsonl(JsonLinesWriter::new(writer)),
    };

    let (decoder, flows) = engine_configs(&args.engine);
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let config = AnalyzeConfig {
        decoder,
        flows,
        threads,
        filter: filter_fn.as_ref().map(|f| f as &pipeline::PacketFilter<'_>),
    };

    let mut status = Status::Success;
    let mut failed_on = false;
    let id_names = id_names(&args.captures);
    for (path, id_name) in args.captures.iter().zip(&id_names) {
        let outcome: InputOutcome = pipeline::analyze_input(path, &config, &mut ());
        for flow in &outcome.flows {
            let judgement = policy.judge(flow);
            if let Some(fail_on) = args.fail_on
                && verdict_matches(judgement.verdict, fail_on)
            {
                failed_on = true;
            }
            let mut record = flow_record(flow, &outcome.source, judged(&judgement));
            record.flow_id = flow_id(id_name, flow);
            if let Err(error) = records.write(&record) {
                return output_failed(error, lang);
            }
        }
        if report_input_problems(&outcome) {
            status = Status::Error;
        }
    }
    if let Err(error) = records.finish() {
        return output_failed(error, lang);
    }
    if status == Status::Success && failed_on {
        status = Status::Findings;
    }
    status
}

/// Prints what went wrong while reading an input. Returns true when the input
/// was damaged or could not be read, which makes the exit status 2.
fn report_input_problems(outcome: &InputOutcome) -> bool {
    let mut damaged = false;
    if let Some(capture) = &outcome.capture {
        for note in &capture.corrupt_notes {
            eprintln!(
                "exflow: {}; skipped, reading went on at byte offset {}",
                note.to_error(&outcome.source),
                note.resumed_at
            );
        }
        let unlisted = capture
            .corrupt_blocks
            .saturating_sub(capture.corrupt_notes.len() as u64);
        if unlisted > 0 {
            eprintln!(
                "exflow: {}: {unlisted} more corrupt blocks skipped",
                outcome.source
            );
        }
        damaged |= capture.corrupt_blocks > 0;
    }
    for (link, frames) in &outcome.unsupported_frames {
        eprintln!(
            "exflow: {}: {frames} frames of {link} skipped: the link type is not supported",
            outcome.source
        );
    }
    if let Some(error) = &outcome.error {
        eprintln!("exflow: {error}");
        damaged = true;
    }
    damaged
}

fn verdict_matches(verdict: Verdict, wanted: VerdictArg) -> bool {
    matches!(
        (verdict, wanted),
        (Verdict::Allowed, VerdictArg::Allowed)
            | (Verdict::Unexpected, VerdictArg::Unexpected)
            | (Verdict::OutOfScope, VerdictArg::OutOfScope)
    )
}

/// A reader that closed the pipe (`exflow ... | head`) is not an error.
fn output_failed(error: io::Error, lang: Lang) -> Status {
    if error.kind() == io::ErrorKind::BrokenPipe {
        return Status::Success;
    }
    eprintln!(
        "exflow: {}",
        message(lang, "cli.error.write", &[("error", &error.to_string())])
    );
    Status::Error
}
