//! `exflow analyze`: read captures, judge every flow, write the records.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::pending_file::{self, PendingControl};
use super::{AnalyzeArgs, EngineArgs, FormatArg, VerdictArg};
use crate::decode::DecoderConfig;
use crate::filter::Filter;
use crate::fingerprint::App;
use crate::flow::{FinishedFlow, FlowConfig};
use crate::i18n::{Lang, message};
use crate::pipeline::{self, AnalyzeConfig, InputError, InputOutcome};
use crate::policy::{Judgement, Policy, Verdict};
use crate::report::baseline::{Baseline, BaselineDiff, Comparison};
use crate::report::build::{Judged, flow_record, summary_record};
use crate::report::csv::CsvWriter;
use crate::report::flow_id::FlowIds;
use crate::report::html::HtmlReport;
use crate::report::jsonl::{LineBatchWriter, write_line};
use crate::report::line::{LINE_CAPACITY, LineFields, write_record_line};
use crate::report::line_pool::LinePool;
use crate::report::messages;
use crate::report::progress::Progress;
use crate::report::record::FlowRecord;
use crate::report::stats::{RunStats, StatKey};
use crate::report::summary::{
    SummaryAggregator, SummaryOptions, stdout_wants_color, write_summary,
};

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
    Jsonl(LineBatchWriter<Box<dyn Write + Send>>),
    Csv(Box<CsvWriter<BufWriter<Box<dyn Write + Send>>>>),
}

impl RecordWriter {
    /// Writes a record; `line` is the record as a JSON Lines line, which the
    /// JSON Lines writer takes as it is.
    fn write(&mut self, record: Option<&FlowRecord>, line: Option<Vec<u8>>) -> io::Result<()> {
        match (self, line, record) {
            (RecordWriter::Jsonl(writer), Some(line), _) => writer.push(line),
            (RecordWriter::Jsonl(writer), None, Some(record)) => {
                let mut line = Vec::with_capacity(LINE_CAPACITY);
                write_line(&mut line, record)?;
                writer.push(line)
            }
            (RecordWriter::Csv(writer), _, Some(record)) => writer.write(record),
            _ => unreachable!("a built record keeps what its writer needs"),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        match self {
            RecordWriter::Jsonl(writer) => writer.flush(),
            RecordWriter::Csv(writer) => writer.finish(),
        }
    }
}

/// Returns the number of worker threads: `--threads` when given, else the
/// cores available, and at least one.
pub(super) fn worker_threads(requested: Option<usize>) -> usize {
    requested
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1)
}

/// Builds the flow engine's settings from the command line.
pub fn engine_configs(engine: &EngineArgs) -> (DecoderConfig, FlowConfig) {
    use std::time::Duration;

    let decoder = DecoderConfig {
        fragment_timeout: Duration::from_secs(u64::from(engine.fragment_timeout)),
        max_fragment_memory: engine.max_fragment_mib.saturating_mul(1024 * 1024),
        decapsulate_tunnels: !engine.no_decapsulate,
        verify_checksums: !engine.no_checksums,
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
    judged_with_reason(judgement, judgement.reason.render(Lang::En))
}

/// Returns the record fields that come from the verdict, with the English
/// `reason` sentence of its reason.
fn judged_with_reason(judgement: &Judgement, reason: String) -> Judged {
    Judged {
        verdict: judgement.verdict.as_str(),
        rule: judgement.rule.as_deref().map(str::to_string),
        reason,
        risks: judgement.risks.names().collect(),
        client_roles: judgement.client_roles.names().map(str::to_string).collect(),
        server_roles: judgement.server_roles.names().map(str::to_string).collect(),
    }
}

/// Returns the name that goes into flow ids for each input: its file name, or
/// the path as given when two inputs share a file name, so that ids stay unique
/// within a run and do not depend on the directory a capture is read from. A
/// path given again gets its occurrence appended ("a.pcap#2"), or the next
/// free number when an input already has that name, so reading one file twice
/// still gives distinct ids.
pub fn id_names(inputs: &[std::path::PathBuf]) -> Vec<String> {
    let file_name = |path: &Path| {
        path.file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string())
    };
    let names: Vec<String> = inputs
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
        .collect();
    let mut assigned: Vec<String> = Vec::with_capacity(names.len());
    for (index, name) in names.iter().enumerate() {
        if !names[..index].contains(name) {
            assigned.push(name.clone());
            continue;
        }
        let free = (2..)
            .map(|occurrence| format!("{name}#{occurrence}"))
            .find(|candidate| !names.contains(candidate) && !assigned.contains(candidate))
            .expect("an unbounded range has a free number");
        assigned.push(free);
    }
    assigned
}

/// Returns a flow's id: 16 hex digits of a SHA-1 over the input's id name (see
/// [`id_names`]), the offset of the flow's first packet and its start time
/// ([`FlowIds`]). The same input gives the same ids on every run and machine.
pub fn flow_id(id_name: &str, flow: &FinishedFlow) -> String {
    FlowIds::new(id_name)
        .hex(flow)
        .iter()
        .map(|&digit| char::from(digit))
        .collect()
}

/// Rejects a list of inputs that names standard input ("-") more than once,
/// since the second reading would find it empty. On failure, prints the error
/// and returns the exit status.
pub(super) fn check_stdin_once(captures: &[PathBuf], lang: Lang) -> Result<(), Status> {
    let stdin_count = captures
        .iter()
        .filter(|path| path.as_os_str() == "-")
        .count();
    if stdin_count > 1 {
        stderr_line!("exflow: {}", message(lang, "cli.error.stdin_twice", &[]));
        return Err(Status::Error);
    }
    Ok(())
}

/// Rejects an output file that is one of the input files (the same file, by
/// device and inode): creating the output would empty that input before it
/// is read. Also rejects two outputs that name the same file, since one
/// would overwrite the other. `outputs` pairs each option with its path, and
/// an output "-" is left out. When `stdout_used`, the file standard output is
/// redirected to is checked too, after the options. An input "-" is checked
/// as the file standard input is redirected from. On failure, prints the
/// error, unless standard error itself is redirected to an input: any
/// message would then land in that input, so the run ends without one.
pub(super) fn check_outputs(
    outputs: &[(&str, Option<&Path>)],
    stdout_used: bool,
    inputs: &[&Path],
    lang: Lang,
) -> Result<(), Status> {
    // Each output is named by its option, and standard output by `None`.
    let mut outputs: Vec<(Option<&str>, &Path)> = outputs
        .iter()
        .filter_map(|&(flag, path)| Some((Some(flag), output_file(path)?)))
        .collect();
    if stdout_used {
        outputs.push((None, Path::new(STDOUT_PATH)));
    }
    // Standard input is checked through the file it is redirected from.
    let inputs: Vec<&Path> = inputs
        .iter()
        .map(|&input| {
            if input.as_os_str() == "-" {
                Path::new(STDIN_PATH)
            } else {
                input
            }
        })
        .collect();
    if inputs
        .iter()
        .any(|input| same_file(input, Path::new(STDERR_PATH)))
    {
        return Err(Status::Error);
    }
    for (index, &(flag, output)) in outputs.iter().enumerate() {
        if let Some(input) = inputs.iter().find(|input| same_file(input, output)) {
            // Standard input is named by the file it comes from.
            let input = std::fs::canonicalize(input).unwrap_or_else(|_| input.to_path_buf());
            let text = match flag {
                Some(flag) if output != Path::new(STDOUT_PATH) => {
                    let path = output.display().to_string();
                    message(
                        lang,
                        "cli.error.output_is_input",
                        &[("path", &path), ("flag", flag)],
                    )
                }
                // Standard output, or an option that names /dev/stdout.
                _ => {
                    let path = input.display().to_string();
                    message(lang, "cli.error.stdout_is_input", &[("path", &path)])
                }
            };
            stderr_line!("exflow: {text}");
            return Err(Status::Error);
        }
        // Standard output comes last, so no output follows it, and the path
        // below is one the user typed.
        let Some(flag) = flag else {
            break;
        };
        if let Some(&(later, _)) = outputs[index + 1..]
            .iter()
            .find(|(_, later)| same_file(later, output))
        {
            let path = output.display().to_string();
            let text = match later {
                Some(later) => message(
                    lang,
                    "cli.error.outputs_clash",
                    &[("first", flag), ("second", later), ("path", &path)],
                ),
                None => message(
                    lang,
                    "cli.error.output_is_stdout",
                    &[("flag", flag), ("path", &path)],
                ),
            };
            stderr_line!("exflow: {text}");
            return Err(Status::Error);
        }
    }
    Ok(())
}

/// Returns the file that `-o` names, or `None` when the output goes to
/// standard output (no `-o`, or `-o -`).
pub(super) fn output_file(path: Option<&Path>) -> Option<&Path> {
    path.filter(|path| path.as_os_str() != "-")
}

/// The path of the calling process's standard output on Linux.
const STDOUT_PATH: &str = "/dev/stdout";

/// The path of the calling process's standard input on Linux.
const STDIN_PATH: &str = "/dev/stdin";

/// The path of the calling process's standard error on Linux.
const STDERR_PATH: &str = "/dev/stderr";

/// Returns true when two paths name one regular file: the same device and
/// inode when both exist, else the same place once symbolic links and `..`
/// are resolved. Devices and pipes (`/dev/null`, a FIFO) lose nothing when
/// written, so they never match.
fn same_file(first: &Path, second: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;

    match (std::fs::metadata(first), std::fs::metadata(second)) {
        (Ok(first), Ok(second)) => {
            first.is_file() && first.dev() == second.dev() && first.ino() == second.ino()
        }
        (Err(_), Err(_)) => match (future_place(first), future_place(second)) {
            (Some(first), Some(second)) => first == second,
            _ => false,
        },
        _ => false,
    }
}

/// Returns where a file that does not exist yet would be created: its
/// folder, resolved, and its name, after following dangling links.
fn future_place(path: &Path) -> Option<std::path::PathBuf> {
    const MAX_LINKS: usize = 40;

    let mut path = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        let Ok(target) = std::fs::read_link(&path) else {
            break;
        };
        let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
        path = folder.join(target);
    }
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(folder).ok()?.join(path.file_name()?))
}

/// Opens `-o FILE` as a [`pending_file`], which keeps its old content until
/// an input is read, or standard output for none or "-". The buffer and the
/// errors are as with [`open_output`].
fn open_records_output(
    path: Option<&Path>,
    lang: Lang,
    buffered: bool,
) -> Result<(Box<dyn Write + Send>, Option<PendingControl>), Status> {
    let Some(path) = path.filter(|path| path.as_os_str() != "-") else {
        return open_output(None, lang, buffered).map(|output| (output, None));
    };
    match pending_file::open(path) {
        Ok((file, control)) if buffered => Ok((Box::new(BufWriter::new(file)), Some(control))),
        Ok((file, control)) => Ok((Box::new(file), Some(control))),
        Err(error) => {
            stderr_line!(
                "exflow: {}",
                messages::output_open_failed(lang, path, &error)
            );
            Err(Status::Error)
        }
    }
}

/// Opens `-o FILE`, or standard output for none or "-", with a buffer unless
/// the caller writes in large batches itself. On failure, prints the error
/// and returns the exit status.
fn open_output(
    path: Option<&Path>,
    lang: Lang,
    buffered: bool,
) -> Result<Box<dyn Write + Send>, Status> {
    let opened = match path.filter(|path| path.as_os_str() != "-") {
        None => {
            super::stdout::open().map_err(|error| messages::output_write_failed(lang, None, &error))
        }
        Some(path) => {
            File::create(path).map_err(|error| messages::output_open_failed(lang, path, &error))
        }
    };
    match opened {
        Ok(file) if buffered => Ok(Box::new(BufWriter::new(file))),
        Ok(file) => Ok(Box::new(file)),
        Err(message) => {
            stderr_line!("exflow: {message}");
            Err(Status::Error)
        }
    }
}

/// Everything a run writes besides the error messages: the records, the
/// summary, the HTML report, and what `--fail-on` looks for.
struct Outputs {
    records: Option<RecordWriter>,
    summary: Option<SummaryAggregator>,
    html: Option<HtmlReport>,
    fail_on: Vec<VerdictArg>,
    failed_on: bool,
    baseline: Option<Comparison>,
    /// Set when the reader of the records closed the pipe and the run went
    /// on without them.
    records_closed: bool,
}

/// A flow built into its record on the thread that tracked it.
struct BuiltRecord {
    /// The record, unless only its JSON Lines line is written. Boxed, so that
    /// the reorder heap moves a small value.
    record: Option<Box<FlowRecord>>,
    verdict: Verdict,
    /// The reason in the output language, when that is not English and the
    /// summary or the HTML report shows it.
    localized_reason: Option<String>,
    /// The record as a JSON Lines line, when records go out as JSON Lines.
    line: Option<Vec<u8>>,
}

/// Writes a [`BuiltRecord`] to a temporary file as its verdict, its JSON
/// record (the JSON Lines line itself when there is one) and its localized
/// reason. The record is parsed back only when it was kept, because a JSON
/// Lines run with many flows open at once spills most of its records, and
/// parsing each line again took about a fifth of such a run's time.
struct BuiltRecordCodec;

/// Flags of a spilled [`BuiltRecord`]: which of its parts it had.
const SPILLED_LINE: u8 = 1;
const SPILLED_RECORD: u8 = 2;

impl pipeline::SpillCodec<BuiltRecord> for BuiltRecordCodec {
    fn encode(&self, built: &BuiltRecord, out: &mut Vec<u8>) {
        let serialized;
        let json: &[u8] = match (&built.line, &built.record) {
            (Some(line), _) => line,
            (None, Some(record)) => {
                serialized = serde_json::to_vec(record).expect("a record serializes");
                &serialized
            }
            (None, None) => &[],
        };
        let flags = if built.line.is_some() {
            SPILLED_LINE
        } else {
            0
        } | if built.record.is_some() {
            SPILLED_RECORD
        } else {
            0
        };
        out.push(flags);
        let verdict = built.verdict.as_str();
        out.push(verdict.len() as u8);
        out.extend_from_slice(verdict.as_bytes());
        out.extend_from_slice(&(json.len() as u64).to_le_bytes());
        out.extend_from_slice(json);
        if let Some(reason) = &built.localized_reason {
            out.extend_from_slice(reason.as_bytes());
        }
        out.push(u8::from(built.localized_reason.is_some()));
    }

    fn decode(&self, bytes: &[u8]) -> io::Result<BuiltRecord> {
        let invalid = || io::Error::new(io::ErrorKind::InvalidData, "invalid spilled record");
        let (&flags, rest) = bytes.split_first().ok_or_else(invalid)?;
        let (&verdict_len, rest) = rest.split_first().ok_or_else(invalid)?;
        let (verdict, rest) = rest
            .split_at_checked(usize::from(verdict_len))
            .ok_or_else(invalid)?;
        let verdict = std::str::from_utf8(verdict)
            .ok()
            .and_then(Verdict::from_name)
            .ok_or_else(invalid)?;
        let (len, rest) = rest.split_at_checked(8).ok_or_else(invalid)?;
        let len = u64::from_le_bytes(len.try_into().expect("8 bytes")) as usize;
        let (json, rest) = rest.split_at_checked(len).ok_or_else(invalid)?;
        let (&has_reason, reason) = rest.split_last().ok_or_else(invalid)?;
        let record = match flags & SPILLED_RECORD {
            0 => None,
            _ => Some(Box::new(
                serde_json::from_slice::<FlowRecord>(json).map_err(io::Error::other)?,
            )),
        };
        let localized_reason = match has_reason {
            0 => None,
            _ => Some(String::from_utf8(reason.to_vec()).map_err(|_| invalid())?),
        };
        Ok(BuiltRecord {
            record,
            verdict,
            localized_reason,
            line: (flags & SPILLED_LINE != 0).then(|| json.to_vec()),
        })
    }
}

impl Outputs {
    /// Returns `status` raised to [`Status::Findings`] when `--fail-on` has
    /// matched a flow; an error status stays.
    fn status_so_far(&self, status: Status) -> Status {
        if status == Status::Success && self.failed_on {
            Status::Findings
        } else {
            status
        }
    }

    /// Returns true when something besides the records depends on every
    /// flow: `--fail-on`, `--baseline` or `--report`.
    fn needs_every_flow(&self) -> bool {
        !self.fail_on.is_empty() || self.baseline.is_some() || self.html.is_some()
    }

    fn add(&mut self, mut built: BuiltRecord) -> io::Result<()> {
        if self
            .fail_on
            .iter()
            .any(|&wanted| verdict_matches(built.verdict, wanted))
        {
            self.failed_on = true;
        }
        if let Some(records) = &mut self.records
            && let Err(error) = records.write(built.record.as_deref(), built.line.take())
        {
            // The reader of the records has gone (`| head`). When the exit
            // status, the comparison or the report still depend on every
            // flow, the run goes on without records. Otherwise it ends here.
            if error.kind() != io::ErrorKind::BrokenPipe || !self.needs_every_flow() {
                return Err(error);
            }
            self.records = None;
            self.records_closed = true;
        }
        let Some(record) = &built.record else {
            return Ok(());
        };
        if let Some(baseline) = &mut self.baseline {
            baseline.add(record);
        }
        if self.summary.is_some() || self.html.is_some() {
            let reason = built
                .localized_reason
                .as_deref()
                .unwrap_or(record.reason.as_str());
            if let Some(summary) = &mut self.summary {
                summary.add(record, reason);
            }
            if let Some(html) = &mut self.html {
                html.add(record, reason);
            }
        }
        Ok(())
    }
}

/// Where the summary goes: the output itself (`--format summary`), or the
/// terminal beside a record file.
enum SummaryTarget {
    None,
    Output,
    Stdout,
}

/// Runs `exflow analyze`.
pub fn run(args: &AnalyzeArgs, lang: Lang, quiet: bool) -> Status {
    let started = Instant::now();
    if let Err(status) = check_stdin_once(&args.captures, lang) {
        return status;
    }
    let mut inputs: Vec<&Path> = args.captures.iter().map(PathBuf::as_path).collect();
    inputs.extend(args.policy.site.as_deref());
    inputs.extend(args.policy.rules.as_deref());
    inputs.extend(args.baseline.as_deref());
    // `-` means standard output for `-o`, but the report is a file of its own
    // beside the records, and a file named `-` would surprise.
    if args.report.as_deref() == Some(Path::new("-")) {
        stderr_line!(
            "exflow: {}",
            message(lang, "cli.error.report_needs_file", &[])
        );
        return Status::Error;
    }
    // Standard output, when the records or the baseline comparison go there,
    // is checked through the file it is redirected to, so that no other
    // output overwrites it and it cannot be an input.
    let records_file = output_file(args.output.as_deref());
    let stdout_used = records_file.is_none() || args.baseline.is_some();
    let outputs = [("-o", records_file), ("--report", args.report.as_deref())];
    if let Err(status) = check_outputs(&outputs, stdout_used, &inputs, lang) {
        return status;
    }
    let policy = match Policy::load(args.policy.rules.as_deref(), args.policy.site.as_deref()) {
        Ok(policy) => policy,
        Err(error) => {
            super::report_policy_error(&error, lang);
            return Status::Error;
        }
    };
    if !quiet {
        for warning in policy.warnings() {
            stderr_line!("{}", warning.render(lang));
        }
    }
    let baseline = match load_baseline(args.baseline.as_deref(), lang) {
        Ok(baseline) => baseline,
        Err(status) => return status,
    };
    // The report file is created before any input is read, so that a path
    // that cannot be written fails at once rather than after a long run.
    let report_file = match args.report.as_deref().map(pending_file::open).transpose() {
        Ok(file) => file,
        Err(error) => {
            let path = args.report.as_deref().unwrap_or(Path::new(""));
            stderr_line!(
                "exflow: {}",
                messages::output_open_failed(lang, path, &error)
            );
            return Status::Error;
        }
    };

    let filter = match args.filter.as_deref().map(Filter::parse).transpose() {
        Ok(filter) => filter,
        Err(error) => {
            let expression = args.filter.as_deref().unwrap_or_default();
            stderr_line!("exflow: {}", error.render(expression, lang));
            return Status::Error;
        }
    };
    let filter_fn = filter
        .as_ref()
        .map(|filter| move |packet: &crate::decode::Packet<'_>| filter.matches(packet));

    let to_file = records_file.is_some();
    let stdout_is_terminal = io::stdout().is_terminal();
    let format = args.format.unwrap_or(if !to_file && stdout_is_terminal {
        FormatArg::Summary
    } else {
        FormatArg::Jsonl
    });
    let summary_target = match format {
        FormatArg::Summary => SummaryTarget::Output,
        _ if to_file && stdout_is_terminal && !quiet => SummaryTarget::Stdout,
        _ => SummaryTarget::None,
    };

    // Buffers of the record lines, built on the worker threads and given back
    // by the writer.
    let line_pool = LinePool::default();
    // When no input can be read, an output file is left as it was: a
    // mistyped capture name must not empty the records of an earlier run.
    let mut records_control = None;
    let records = if format == FormatArg::Summary {
        None
    } else {
        let buffered = format == FormatArg::Csv;
        let output = match open_records_output(args.output.as_deref(), lang, buffered) {
            Ok((output, control)) => {
                records_control = control;
                output
            }
            Err(status) => return status,
        };
        Some(match format {
            FormatArg::Csv => RecordWriter::Csv(Box::new(CsvWriter::new(
                BufWriter::with_capacity(256 * 1024, output),
            ))),
            // JSON Lines go out in vectored writes of whole lines, unbuffered.
            _ => RecordWriter::Jsonl(LineBatchWriter::with_pool(output, line_pool.clone())),
        })
    };
    let mut outputs = Outputs {
        records,
        summary: (!matches!(summary_target, SummaryTarget::None)).then(SummaryAggregator::new),
        html: args.report.is_some().then(HtmlReport::new),
        fail_on: args.fail_on.clone(),
        failed_on: false,
        baseline,
        records_closed: false,
    };

    let (decoder, flows) = engine_configs(&args.engine);
    let threads = worker_threads(args.threads);
    let mut config = AnalyzeConfig {
        decoder,
        flows,
        threads,
        filter: filter_fn.as_ref().map(|f| f as &pipeline::PacketFilter<'_>),
    };

    let mut stats = RunStats::default();
    let mut status = Status::Success;
    // Whether some input opened with a link type exflow decodes. Until one
    // does, the output files keep their old content.
    let mut input_read = false;
    let id_names = id_names(&args.captures);
    let jsonl = matches!(outputs.records, Some(RecordWriter::Jsonl(_)));
    let wants_reason = outputs.summary.is_some() || outputs.html.is_some();
    // With only JSON Lines to write, the worker drops the record once it has
    // the line.
    let keep_record = !jsonl || wants_reason || outputs.baseline.is_some();
    // When the summary is the only reader of whole records, the worker
    // builds only the fields it reads.
    let summary_only = outputs.summary.is_some()
        && outputs.html.is_none()
        && outputs.baseline.is_none()
        && (outputs.records.is_none() || jsonl);
    for (path, id_name) in args.captures.iter().zip(&id_names) {
        let total_bytes = std::fs::metadata(path)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        let progress = if args.no_progress {
            Progress::hidden()
        } else {
            Progress::start(total_bytes, lang, quiet)
        };
        let mut progress_sink = ProgressSink {
            progress: &progress,
            frames: 0,
            bytes: 0,
        };
        let source = match path.as_os_str() == "-" {
            true => crate::capture::reader::STDIN_NAME.to_string(),
            false => path.display().to_string(),
        };
        let flow_ids = FlowIds::new(id_name);
        let cut_unknown = AtomicU64::new(0);
        let build = |flow: FinishedFlow| {
            if flow.app.app == App::Unknown && flow.missed_bytes > 0 {
                cut_unknown.fetch_add(1, Ordering::Relaxed);
            }
            let judgement = policy.judge(&flow);
            // A summary names only the unexpected flows of its examples, so a
            // summary-only run hashes no other flow's id.
            let unexpected = judgement.verdict == Verdict::Unexpected;
            let id_digits = (jsonl || !summary_only || unexpected).then(|| flow_ids.hex(&flow));
            let id = id_digits.as_ref().map_or("", |digits| {
                std::str::from_utf8(digits).expect("hex digits are ASCII")
            });
            // A summary shows the reason of an unexpected flow only.
            let shows_reason = !summary_only || unexpected;
            let localized_reason = (lang != Lang::En && wants_reason && shows_reason).then(|| {
                policy
                    .localized_reason_text(&judgement.reason, lang)
                    .to_string()
            });
            let line = jsonl.then(|| {
                let mut line = line_pool.take();
                policy.read_reason_text(&judgement.reason, |reason| {
                    let fields = LineFields {
                        flow_id: id,
                        source: &source,
                        reason,
                    };
                    write_record_line(&mut line, &flow, &judgement, &fields);
                });
                line
            });
            let record = keep_record.then(|| {
                let reason = match shows_reason {
                    true => policy.read_reason_text(&judgement.reason, str::to_string),
                    false => String::new(),
                };
                let judged = judged_with_reason(&judgement, reason);
                if summary_only {
                    return Box::new(summary_record(&flow, id, judged));
                }
                let mut record = flow_record(&flow, &source, judged);
                record.flow_id = id.to_string();
                Box::new(record)
            });
            BuiltRecord {
                record,
                verdict: judgement.verdict,
                localized_reason,
                line,
            }
        };
        let mut emit = |built: BuiltRecord| {
            stats.add(StatKey::Flows, 1);
            stats.add(verdict_stat(built.verdict), 1);
            outputs.add(built)
        };
        let mut sink = pipeline::FlowSink {
            build: &build,
            emit: &mut emit,
            codec: Some(&BuiltRecordCodec),
            max_in_memory: pipeline::DEFAULT_MAX_IN_MEMORY,
        };
        let outcome: InputOutcome =
            pipeline::analyze_input_with(path, &config, &mut progress_sink, &mut sink);
        progress.finish();
        if let Some(error) = outcome.output_error {
            return output_failed(
                error,
                args.output.as_deref(),
                lang,
                outputs.status_so_far(status),
            );
        }
        input_read |= outcome.capture.is_some()
            && !matches!(outcome.error, Some(InputError::UnsupportedLink { .. }));
        outcome.add_to(&mut stats);
        stay_on_one_thread_after_rejection(&outcome, &mut config, lang, quiet);
        warn_records_kept_in_memory(&outcome, lang, quiet);
        let cut_unknown = cut_unknown.load(Ordering::Relaxed);
        warn_payload_cut(
            &outcome,
            cut_unknown,
            "cli.warning.payload_cut",
            lang,
            quiet,
        );
        if report_input_problems(&outcome, Some(&mut stats), lang) {
            status = Status::Error;
        }
    }
    stats.elapsed_secs = started.elapsed().as_secs_f64();

    if let Some(control) = &records_control
        && let Err(error) = control.settle(input_read)
    {
        let status = outputs.status_so_far(status);
        return output_failed(error, args.output.as_deref(), lang, status);
    }
    if let Some((_, control)) = &report_file
        && let Err(error) = control.settle(input_read)
    {
        let status = outputs.status_so_far(status);
        return output_failed(error, args.report.as_deref(), lang, status);
    }
    if let Some(records) = &mut outputs.records
        && input_read
        && let Err(error) = records.finish()
    {
        return output_failed(
            error,
            args.output.as_deref(),
            lang,
            outputs.status_so_far(status),
        );
    }
    if input_read
        && let (Some(html), Some((file, _)), Some(path)) =
            (&outputs.html, report_file, &args.report)
    {
        let mut writer = BufWriter::new(file);
        let written = html
            .write(&mut writer, &stats, lang)
            .and_then(|()| writer.flush());
        if let Err(error) = written {
            stderr_line!(
                "exflow: {}",
                messages::output_write_failed(lang, Some(path), &error)
            );
            status = Status::Error;
        }
    }
    if let Some(summary) = &outputs.summary
        && (input_read || !(matches!(summary_target, SummaryTarget::Output) && to_file))
    {
        let color = match summary_target {
            SummaryTarget::Output if to_file => false,
            _ => stdout_wants_color(),
        };
        let options = SummaryOptions {
            color,
            ..SummaryOptions::new(lang)
        };
        let summary_path = match summary_target {
            SummaryTarget::Output => args.output.as_deref(),
            _ => None,
        };
        let mut out = match open_output(summary_path, lang, true) {
            Ok(output) => output,
            Err(status) => return status,
        };
        let written = write_summary(&mut out, &summary.summary(), &stats, &options)
            .and_then(|()| out.flush());
        if let Err(error) = written {
            return output_failed(error, summary_path, lang, outputs.status_so_far(status));
        }
    }

    if let Some(comparison) = outputs.baseline.take() {
        let diff = comparison.finish();
        if !diff.is_empty() && status == Status::Success {
            status = Status::Findings;
        }
        let records_on_stdout = (outputs.records.is_some() || outputs.records_closed) && !to_file;
        if let Err(error) = write_baseline_diff(&diff, records_on_stdout, quiet, lang) {
            return output_failed(error, None, lang, outputs.status_so_far(status));
        }
    }
    if outputs.failed_on && !quiet {
        report_fail_on_matches(&outputs.fail_on, &stats, lang);
    }
    outputs.status_so_far(status)
}

/// Prints how many flows have each verdict that `--fail-on` names, so that
/// a log shows why a gate failed.
fn report_fail_on_matches(fail_on: &[VerdictArg], stats: &RunStats, lang: Lang) {
    let mut counts = Vec::new();
    for (wanted, verdict) in [
        (VerdictArg::Allowed, Verdict::Allowed),
        (VerdictArg::Unexpected, Verdict::Unexpected),
        (VerdictArg::OutOfScope, Verdict::OutOfScope),
    ] {
        let count = stats.get(verdict_stat(verdict));
        if fail_on.contains(&wanted) && count > 0 {
            counts.push(format!("{}: {count}", verdict.as_str()));
        }
    }
    let separator = match lang {
        Lang::En => ", ".to_string(),
        _ => message(lang, "cli.help.value_separator", &[]),
    };
    let counts = counts.join(&separator);
    stderr_line!(
        "exflow: {}",
        message(lang, "cli.fail_on.matched", &[("counts", &counts)])
    );
}

/// Reads `--baseline FILE`. On failure, prints the error and returns the exit
/// status.
fn load_baseline(path: Option<&Path>, lang: Lang) -> Result<Option<Comparison>, Status> {
    let Some(path) = path else {
        return Ok(None);
    };
    match Baseline::read(path) {
        Ok(baseline) => Ok(Some(Comparison::new(baseline))),
        Err(error) => {
            stderr_line!("exflow: {}", error.render(lang));
            Err(Status::Error)
        }
    }
}

/// Prints the differences from the baseline: on standard output, or on
/// standard error when the records go to standard output. With `-q`, a run
/// without differences prints nothing.
fn write_baseline_diff(
    diff: &BaselineDiff,
    records_on_stdout: bool,
    quiet: bool,
    lang: Lang,
) -> io::Result<()> {
    if diff.is_empty() && quiet {
        return Ok(());
    }
    let mut out: Box<dyn Write> = if records_on_stdout {
        Box::new(io::stderr().lock())
    } else {
        Box::new(BufWriter::new(super::stdout::open()?))
    };
    diff.write(&mut out, lang)?;
    out.flush()
}

/// Forwards pipeline progress to the progress bar.
struct ProgressSink<'a> {
    progress: &'a Progress,
    frames: u64,
    bytes: u64,
}

impl pipeline::Progress for ProgressSink<'_> {
    fn update(&mut self, bytes_read: u64, frames: u64) {
        self.progress.advance(
            bytes_read.saturating_sub(self.bytes),
            frames.saturating_sub(self.frames),
        );
        self.bytes = bytes_read;
        self.frames = frames;
    }
}

fn verdict_stat(verdict: Verdict) -> StatKey {
    match verdict {
        Verdict::Allowed => StatKey::FlowsAllowed,
        Verdict::Unexpected => StatKey::FlowsUnexpected,
        Verdict::OutOfScope => StatKey::FlowsOutOfScope,
    }
}

/// Prints a warning, unless `quiet`, when the operating system rejected a
/// worker thread for this input, which was then read on one thread. The
/// inputs still to come stay on one thread, so the warning comes once.
pub(super) fn stay_on_one_thread_after_rejection(
    outcome: &InputOutcome,
    config: &mut AnalyzeConfig<'_>,
    lang: Lang,
    quiet: bool,
) {
    let Some(error) = &outcome.thread_error else {
        return;
    };
    if !quiet {
        let error = messages::io_error(lang, error);
        let warning = message(lang, "cli.warning.thread_fallback", &[("error", &error)]);
        stderr_line!("exflow: {warning}");
    }
    config.threads = 1;
}

/// Warns that the records waiting for their turn could not go to a temporary
/// file and stayed in memory. The records are complete, so the status stays.
/// Warns, with the message `key`, when the snapshot length cut frames of the
/// input short and `cut_unknown` flows whose payload was cut came out
/// `unknown`. The rules then judge an unrecognised protocol, and discovery
/// finds no protocol to infer a role from: both caused by the capture, not
/// the traffic.
pub(super) fn warn_payload_cut(
    outcome: &InputOutcome,
    cut_unknown: u64,
    key: &str,
    lang: Lang,
    quiet: bool,
) {
    let cut_frames = outcome.frames_cut_by_snaplen();
    if quiet || cut_frames == 0 || cut_unknown == 0 {
        return;
    }
    let input = messages::input_name(lang, &outcome.source);
    let warning = message(
        lang,
        key,
        &[
            ("input", &input),
            ("frames", &cut_frames.to_string()),
            ("flows", &cut_unknown.to_string()),
        ],
    );
    stderr_line!("exflow: {}", crate::report::escape::terminal_text(&warning));
}

fn warn_records_kept_in_memory(outcome: &InputOutcome, lang: Lang, quiet: bool) {
    let Some(error) = &outcome.spill_error else {
        return;
    };
    if quiet {
        return;
    }
    let input = messages::input_name(lang, &outcome.source);
    let dir = crate::pipeline::order::spill_dir().display().to_string();
    let error = messages::io_error(lang, error);
    let warning = message(
        lang,
        "cli.warning.spill_failed",
        &[("input", &input), ("dir", &dir), ("error", &error)],
    );
    stderr_line!("exflow: {}", crate::report::escape::terminal_text(&warning));
}

/// Prints what went wrong while reading an input, in `lang`, and lists it in
/// the run statistics when there are any. Returns true when the input was
/// damaged or could not be read, which makes the exit status 2.
pub(super) fn report_input_problems(
    outcome: &InputOutcome,
    mut stats: Option<&mut RunStats>,
    lang: Lang,
) -> bool {
    let mut damaged = false;
    // The statistics keep the file beside each message, so the message leaves
    // it out. A line on standard error has no such column, so it starts with
    // the file.
    let source = messages::input_name(lang, &outcome.source);
    let mut problem = |offset: Option<u64>, text: String| {
        // The file name may hold escape sequences, and the text may quote it.
        let line = format!("{source}: {text}");
        stderr_line!("exflow: {}", crate::report::escape::terminal_text(&line));
        if let Some(stats) = stats.as_deref_mut() {
            stats.push_error(&source, offset, &text);
        }
    };
    if let Some(capture) = &outcome.capture {
        for note in &capture.corrupt_notes {
            problem(
                Some(note.offset),
                messages::corrupt_block_skipped(lang, note),
            );
        }
        let unlisted = capture
            .corrupt_blocks
            .saturating_sub(capture.corrupt_notes.len() as u64);
        if unlisted > 0 {
            problem(None, messages::corrupt_blocks_unlisted(lang, unlisted));
        }
        damaged |= capture.corrupt_blocks > 0;

        for &(offset, version) in &capture.skipped_section_notes {
            problem(
                Some(offset),
                messages::section_skipped(lang, offset, version),
            );
        }
        let unlisted = u64::from(capture.sections_skipped)
            .saturating_sub(capture.skipped_section_notes.len() as u64);
        if unlisted > 0 {
            problem(None, messages::sections_unlisted(lang, unlisted));
        }
        damaged |= capture.sections_skipped > 0;

        if let Some(offset) = capture.first_clamped_offset {
            problem(
                Some(offset),
                messages::timestamps_clamped(lang, capture.timestamps_clamped, offset),
            );
            damaged = true;
        }
    }
    for (link, frames) in &outcome.unsupported_frames {
        problem(
            None,
            messages::unsupported_link_frames(lang, *link, *frames),
        );
    }
    if let Some(error) = &outcome.error {
        let offset = match error {
            InputError::Capture(error) => error.offset(),
            InputError::UnsupportedLink { .. } => None,
        };
        problem(offset, messages::input_problem(lang, error));
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

/// Handles a failure to write the output. A reader that closed the pipe
/// (`exflow ... | head`) is not an error, so the run ends with `status`, the
/// status of what was read and judged until then. Flows after the break are
/// never judged, unless `--fail-on`, `--baseline` or `--report` needs them
/// (see [`Outputs::add`]).
fn output_failed(error: io::Error, path: Option<&Path>, lang: Lang, status: Status) -> Status {
    if error.kind() == io::ErrorKind::BrokenPipe {
        return status;
    }
    stderr_line!(
        "exflow: {}",
        messages::output_write_failed(lang, path, &error)
    );
    Status::Error
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::SpillCodec;
    use crate::report::jsonl::write_line;

    fn record(verdict: Verdict) -> FlowRecord {
        FlowRecord {
            flow_id: "0123456789abcdef".to_string(),
            source: "a.pcap".to_string(),
            transport: "tcp".to_string(),
            verdict: verdict.as_str().to_string(),
            reason: "no Exchange server takes part".to_string(),
            ..FlowRecord::default()
        }
    }

    fn line(record: &FlowRecord) -> Vec<u8> {
        let mut line = Vec::new();
        write_line(&mut line, record).unwrap();
        line
    }

    fn round_trip(built: &BuiltRecord) -> BuiltRecord {
        let mut bytes = Vec::new();
        BuiltRecordCodec.encode(built, &mut bytes);
        BuiltRecordCodec.decode(&bytes).unwrap()
    }

    #[test]
    fn id_names_stay_unique() {
        let paths = |names: &[&str]| -> Vec<PathBuf> { names.iter().map(PathBuf::from).collect() };
        let cases: [(&[&str], &[&str]); 4] = [
            (&["a.pcap"], &["a.pcap"]),
            (&["d/a.pcap", "e/a.pcap"], &["d/a.pcap", "e/a.pcap"]),
            (
                &["a.pcap", "a.pcap", "a.pcap"],
                &["a.pcap", "a.pcap#2", "a.pcap#3"],
            ),
            // A file named like a repeat's id keeps its name, and the repeat
            // takes the next free number.
            (
                &["x.pcap", "x.pcap", "x.pcap#2"],
                &["x.pcap", "x.pcap#3", "x.pcap#2"],
            ),
        ];
        for (inputs, expected) in cases {
            assert_eq!(id_names(&paths(inputs)), expected, "{inputs:?}");
        }
    }

    #[test]
    fn spilled_records_come_back_whole() {
        for verdict in [Verdict::Allowed, Verdict::Unexpected, Verdict::OutOfScope] {
            let expected = record(verdict);
            let cases = [
                (Some(line(&expected)), None, None),
                (
                    None,
                    Some(expected.clone()),
                    Some("日本語の理由".to_string()),
                ),
                (Some(line(&expected)), Some(expected.clone()), None),
            ];
            for (line, record, localized_reason) in cases {
                let built = BuiltRecord {
                    record: record.map(Box::new),
                    verdict,
                    localized_reason,
                    line,
                };
                let back = round_trip(&built);
                assert_eq!(back.verdict, built.verdict);
                assert_eq!(back.line, built.line);
                assert_eq!(back.record, built.record);
                assert_eq!(back.localized_reason, built.localized_reason);
            }
        }
    }

    #[test]
    fn cut_spilled_record_is_an_error() {
        let expected = record(Verdict::Unexpected);
        let built = BuiltRecord {
            record: Some(Box::new(expected.clone())),
            verdict: Verdict::Unexpected,
            localized_reason: Some("理由".to_string()),
            line: Some(line(&expected)),
        };
        let mut bytes = Vec::new();
        BuiltRecordCodec.encode(&built, &mut bytes);
        let reason_start = bytes.len() - 1 - "理由".len();
        for len in 0..reason_start {
            assert!(
                BuiltRecordCodec.decode(&bytes[..len]).is_err(),
                "cut at {len}"
            );
        }
        // A cut inside the reason can still parse, as a shorter reason.
        for len in reason_start..bytes.len() - 1 {
            if let Ok(back) = BuiltRecordCodec.decode(&bytes[..len]) {
                assert_eq!(back.record.as_deref(), Some(&expected), "cut at {len}");
            }
        }
    }
}
