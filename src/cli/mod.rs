//! Command-line definitions. Clap types stay in this module; the rest of the
//! crate sees one validated configuration per command.

/// Prints a line to standard error as `eprintln!` does, but ignores a failed
/// write. `eprintln!` panics when the write fails (standard error on a full
/// device, for one), and a message that cannot be shown must not change the
/// run's exit status.
macro_rules! stderr_line {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod analyze;
mod discover;
mod help_text;
#[cfg(feature = "live")]
mod live;
mod pending_file;
mod rules;
mod stdout;
mod usage_error;

use std::ffi::OsString;
use std::io::{self, Write};
use std::num::IntErrorKind;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::decode::DecoderConfig;
use crate::flow::table as flow_default;
use crate::i18n::Lang;

/// Bytes in a mebibyte, the unit of the memory options.
const MIB: usize = 1024 * 1024;

/// Maximum of `--threads`. Each worker is an OS thread with its own stack and
/// shard of the flow table, so a mistyped count must not reach the pipeline,
/// where a failed spawn or allocation would abort the run.
const MAX_THREADS: u64 = 1024;
use crate::policy::PolicyError;
use crate::report::messages;
use analyze::Status;

const EXAMPLES: &str = "\
Examples:
  exflow analyze capture.pcap --site site.toml
  exflow analyze --site site.toml --format jsonl -o flows.jsonl a.pcap b.pcapng
  exflow analyze --site site.toml --fail-on unexpected --baseline last.jsonl *.pcap
  zcat capture.pcap.gz | exflow analyze --site site.toml -
  exflow rules check --site site.toml
  exflow rules show --site site.toml
  exflow discover capture.pcap -o discovered.toml
  exflow rules diff site.toml discovered.toml";

const ANALYZE_EXAMPLES: &str = "\
Examples:
  exflow analyze capture.pcap --site site.toml
  exflow analyze --site site.toml -o flows.jsonl --report report.html a.pcap b.pcapng
  exflow analyze --site site.toml --baseline last.jsonl -o now.jsonl *.pcap
  exflow analyze --site site.toml --filter 'host 10.20.0.10 and port 25' capture.pcapng";

const LIVE_EXAMPLES: &str = "\
Examples:
  exflow live -i eth1 --site site.toml -o /var/log/exflow/flows.jsonl
  exflow live -i eth1 --discover --window 8h -o discovered.toml";

/// Passive traffic classifier for Exchange Server 2013 networks.
///
/// Reads pcap/pcapng captures or a live interface, rebuilds TCP and UDP flows,
/// names each flow's protocol from its payload, and judges every flow against the
/// network paths Exchange 2013 documents for its roles.
#[derive(Debug, Parser)]
#[command(name = "exflow", version, after_help = EXAMPLES, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Language of human-readable output [default: from LC_ALL, LC_MESSAGES, LANG]
    #[arg(long, global = true, value_enum, value_name = "LANG")]
    pub lang: Option<LangArg>,

    /// Print more diagnostics on standard error (repeat for more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Print only errors on standard error
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

/// A language of human-readable output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LangArg {
    En,
    Ja,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read capture files and write one record per flow
    #[command(after_help = ANALYZE_EXAMPLES)]
    Analyze(AnalyzeArgs),
    /// Watch live interfaces (a span port) and write records as flows end
    #[command(after_help = LIVE_EXAMPLES)]
    Live(LiveArgs),
    /// Show, check and compare rule and site files
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Propose a site file from the roles hosts play in captured traffic
    Discover(DiscoverArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
    /// Print a manual page (roff) on standard output
    Man(ManArgs),
}

/// Output format of flow records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// One JSON object per flow (JSON Lines)
    Jsonl,
    /// One CSV row per flow, dotted field names as headers
    Csv,
    /// The observed matrix and capture statistics, for people
    Summary,
}

/// A flow verdict, as `--fail-on` takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum VerdictArg {
    Allowed,
    Unexpected,
    #[value(name = "out_of_scope")]
    OutOfScope,
}

/// Options shared by every command that judges flows.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Site inventory (TOML); without it every address is `internet`
    #[arg(long, value_name = "FILE")]
    pub site: Option<PathBuf>,

    /// Matrix rules (TOML) [default: the built-in Exchange 2013 matrix]
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
}

/// Limits and timers of the flow engine.
#[derive(Debug, Args)]
#[command(next_help_heading = "Flow engine")]
pub struct EngineArgs {
    /// Put VLAN ids in the flow key (by default a tag seen on one direction only
    /// does not split a flow)
    #[arg(long)]
    pub vlan_in_key: bool,

    /// Seconds without a packet before a TCP flow ends, by capture time (1 to
    /// 4294967295)
    #[arg(long, value_name = "SECONDS", default_value_t = flow_default::DEFAULT_TCP_IDLE_TIMEOUT.as_secs() as u32,
          allow_negative_numbers = true, value_parser = whole_number::<u32>(1, u64::from(u32::MAX)))]
    pub tcp_timeout: u32,

    /// Seconds without a packet before a UDP flow ends, by capture time (1 to
    /// 4294967295)
    #[arg(long, value_name = "SECONDS", default_value_t = flow_default::DEFAULT_UDP_IDLE_TIMEOUT.as_secs() as u32,
          allow_negative_numbers = true, value_parser = whole_number::<u32>(1, u64::from(u32::MAX)))]
    pub udp_timeout: u32,

    // With 0 no payload byte would reach the fingerprints, so every TCP flow
    // would look payload-free (`none`), which every rule accepts.
    /// Bytes of each direction reassembled for the fingerprints (1 to
    /// 4294967295)
    #[arg(long, value_name = "BYTES", default_value_t = flow_default::DEFAULT_REASSEMBLY_BUDGET as u32,
          allow_negative_numbers = true, value_parser = whole_number::<u32>(1, u64::from(u32::MAX)))]
    pub reassembly_budget: u32,

    /// Maximum number of flows tracked at once, over all threads (1 to
    /// 4294967295); the oldest idle flows are evicted first. A flow takes about
    /// 320 bytes of memory before it carries payload
    #[arg(long, value_name = "FLOWS", default_value_t = flow_default::DEFAULT_MAX_FLOWS,
          allow_negative_numbers = true, value_parser = whole_number::<usize>(1, u64::from(u32::MAX)))]
    pub max_flows: usize,

    /// Maximum memory for reassembly buffers, in MiB (1 to 4294967295)
    #[arg(long, value_name = "MIB", default_value_t = flow_default::DEFAULT_REASSEMBLY_MEMORY_CAP / MIB,
          allow_negative_numbers = true, value_parser = whole_number::<usize>(1, u64::from(u32::MAX)))]
    pub max_reassembly_mib: usize,

    /// Seconds an incomplete IP datagram waits for its fragments (1 to
    /// 4294967295)
    #[arg(long, value_name = "SECONDS", default_value_t = DecoderConfig::default().fragment_timeout.as_secs() as u32,
          allow_negative_numbers = true, value_parser = whole_number::<u32>(1, u64::from(u32::MAX)))]
    pub fragment_timeout: u32,

    /// Maximum memory for IP fragments waiting for reassembly, in MiB (1 to
    /// 4294967295)
    #[arg(long, value_name = "MIB", default_value_t = DecoderConfig::default().max_fragment_memory / MIB,
          allow_negative_numbers = true, value_parser = whole_number::<usize>(1, u64::from(u32::MAX)))]
    pub max_fragment_mib: usize,

    /// Keep tunnelled traffic (IP-in-IP, GRE, VXLAN, Geneve, GTP-U, Teredo) as
    /// the outer flow instead of following it to the innermost packet
    #[arg(long)]
    pub no_decapsulate: bool,

    /// Skip IP, TCP and UDP checksum verification (exflow then also uses the
    /// packets with a failed checksum that it would otherwise leave out)
    #[arg(long)]
    pub no_checksums: bool,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// pcap or pcapng files; "-" reads standard input
    #[arg(value_name = "CAPTURE", required = true)]
    pub captures: Vec<PathBuf>,

    #[command(flatten)]
    pub policy: PolicyArgs,

    /// Write flow records to FILE ("-" is standard output)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Record format [default: summary on a terminal, jsonl otherwise]
    #[arg(long, value_enum, value_name = "FMT")]
    pub format: Option<FormatArg>,

    /// tcpdump-style filter applied before flow tracking
    #[arg(long, value_name = "BPF")]
    pub filter: Option<String>,

    /// Exit with status 1 when any flow has this verdict; repeat the option or
    /// separate verdicts with commas for several
    #[arg(
        long,
        value_enum,
        value_name = "VERDICT",
        value_delimiter = ',',
        action = clap::ArgAction::Append
    )]
    pub fail_on: Vec<VerdictArg>,

    /// Write a self-contained HTML report with the flow map to a file (not `-`)
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,

    /// Compare with an earlier JSON Lines run; exit 1 on any change
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Worker threads, 1 to 1024 [default: all cores]; the output is the same for any number
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = threads_parser())]
    pub threads: Option<usize>,

    /// Never draw a progress bar
    #[arg(long)]
    pub no_progress: bool,

    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct LiveArgs {
    /// Interface to capture on (repeat for several)
    #[arg(short, long = "interface", value_name = "IFACE", required = true)]
    pub interfaces: Vec<String>,

    #[command(flatten)]
    pub policy: PolicyArgs,

    /// Write flow records to FILE ("-" is standard output); SIGHUP reopens it.
    /// With --discover, write the site file to FILE instead
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Record format [default: jsonl]
    #[arg(long, value_enum, value_name = "FMT")]
    pub format: Option<FormatArg>,

    /// BPF capture filter, compiled by libpcap
    #[arg(long, value_name = "BPF")]
    pub filter: Option<String>,

    /// Bytes of each packet to capture
    #[arg(long, value_name = "BYTES", default_value_t = 262_144,
          allow_negative_numbers = true, value_parser = whole_number::<u32>(64, 262_144))]
    pub snaplen: u32,

    /// Kernel capture buffer per interface, in MiB
    #[arg(long, value_name = "MIB", default_value_t = 32,
          allow_negative_numbers = true, value_parser = whole_number::<u32>(1, 2047))]
    pub buffer_size: u32,

    /// Capture only the packets addressed to this host (no promiscuous mode)
    #[arg(long)]
    pub no_promisc: bool,

    /// Have the kernel deliver each packet at once rather than in blocks held
    /// up to 0.1 s: alerts come sooner, but each packet costs more and a busy
    /// link sees drops at a lower rate
    #[arg(long)]
    pub immediate_mode: bool,

    /// User to switch to after the interfaces and the output are open, when
    /// started as root [default: nobody]
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// Seconds between interim records of a flow that stays open; 0 writes none
    #[arg(long, value_name = "SECONDS", default_value_t = 300,
          allow_negative_numbers = true, value_parser = whole_number::<u32>(0, u64::from(u32::MAX)))]
    pub interim_interval: u32,

    /// Seconds between statistics records and lines; 0 writes them only at exit
    #[arg(long, value_name = "SECONDS", default_value_t = 60,
          allow_negative_numbers = true, value_parser = whole_number::<u32>(0, u64::from(u32::MAX)))]
    pub stats_interval: u32,

    /// Write no flow records: propose a site file from the roles hosts play
    /// in the traffic seen until the window ends or SIGINT or SIGTERM
    /// arrives, as `exflow discover` does for captures
    #[arg(long, help_heading = "Site discovery",
          conflicts_with_all = ["site", "rules", "format", "interim_interval", "stats_interval"])]
    pub discover: bool,

    /// How long to watch before writing the site file: a whole number with
    /// the unit s, m, h or d (90s, 30m, 8h, 7d); a bare number is seconds
    /// [default: until SIGINT or SIGTERM]
    #[arg(
        long,
        value_name = "DURATION",
        help_heading = "Site discovery",
        requires = "discover"
    )]
    pub window: Option<String>,

    /// Count the hosts of this network (address or CIDR block) as internal
    /// although it is outside the private ranges (repeat for several)
    #[arg(
        long,
        value_name = "CIDR",
        help_heading = "Site discovery",
        requires = "discover"
    )]
    pub internal: Vec<String>,

    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Print the matrix as a table, with the rows a site turns on
    Show(PolicyArgs),
    /// Validate a site file; every error names file, line and key
    Check(RulesCheckArgs),
    /// Print where two site files disagree
    Diff(RulesDiffArgs),
}

#[derive(Debug, Args)]
pub struct RulesCheckArgs {
    /// Site inventory to validate
    #[arg(long, value_name = "FILE", required = true)]
    pub site: PathBuf,

    /// Matrix rules (TOML) [default: the built-in Exchange 2013 matrix]
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RulesDiffArgs {
    /// First site file (A); exit status 1 when the two differ
    #[arg(value_name = "A.toml")]
    pub first: PathBuf,
    /// Second site file (B)
    #[arg(value_name = "B.toml")]
    pub second: PathBuf,
}

#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// pcap or pcapng files; "-" reads standard input
    #[arg(value_name = "CAPTURE", required = true)]
    pub captures: Vec<PathBuf>,

    /// Write the proposed site file to FILE [default: standard output]
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Count the hosts of this network (address or CIDR block) as internal
    /// although it is outside the private ranges (repeat for several)
    #[arg(long, value_name = "CIDR")]
    pub internal: Vec<String>,

    /// Worker threads, 1 to 1024 [default: all cores]; the result is the same for any number
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = threads_parser())]
    pub threads: Option<usize>,

    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to write the completion script for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Accepts a `--threads` count from 1 to [`MAX_THREADS`].
fn threads_parser() -> impl clap::builder::TypedValueParser<Value = usize> {
    whole_number::<usize>(1, MAX_THREADS)
}

/// Returns a parser of whole numbers from `min` to `max`. A whole number
/// outside the range, even a negative or overlong one, is rejected with the
/// range. Other text is rejected as not a whole number.
fn whole_number<T>(min: u64, max: u64) -> impl clap::builder::TypedValueParser<Value = T>
where
    T: TryFrom<u64> + Clone + Send + Sync + 'static,
{
    move |text: &str| -> Result<T, NumberError> {
        let value: i128 = match text.parse() {
            Ok(value) => value,
            Err(error) => {
                return Err(match error.kind() {
                    IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => {
                        NumberError::OutOfRange { min, max }
                    }
                    IntErrorKind::Empty => NumberError::Empty,
                    _ => NumberError::NotWhole,
                });
            }
        };
        u64::try_from(value)
            .ok()
            .filter(|value| (min..=max).contains(value))
            .and_then(|value| T::try_from(value).ok())
            .ok_or(NumberError::OutOfRange { min, max })
    }
}

/// The reason a numeric option's value was rejected, which the usage error
/// shows in the user's language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NumberError {
    /// Text that is not a whole number in decimal digits.
    NotWhole,
    /// An empty value.
    Empty,
    /// A whole number outside `min..=max`.
    OutOfRange { min: u64, max: u64 },
}

impl std::fmt::Display for NumberError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NumberError::NotWhole => f.write_str("not a whole number"),
            NumberError::Empty => f.write_str("the value is empty"),
            NumberError::OutOfRange { min, max } => {
                write!(f, "expected a whole number from {min} to {max}")
            }
        }
    }
}

impl std::error::Error for NumberError {}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Command whose page to print, such as `analyze` or `rules check`
    /// (default: the page of exflow itself)
    #[arg(value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Returns the command whose manual page `path` names (`["rules", "check"]`
/// for `exflow-rules-check`), or exflow itself for an empty path; `None`
/// when no such command exists.
fn man_page_command(lang: Lang, path: &[String]) -> Option<clap::Command> {
    let mut command = help_text::command(lang);
    // Building gives each subcommand its page name, `exflow-analyze`.
    command.build();
    for name in path {
        command = command.find_subcommand(name)?.clone();
    }
    Some(command)
}

/// Parses the command line, runs the command and returns its exit status.
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    // The language must be known before clap renders help or an error, so
    // `--lang` is read from the raw arguments first.
    let lang = lang_from_args(&args).unwrap_or_else(Lang::from_env);
    let cli = match parse_from(args, lang) {
        Ok(cli) => cli,
        Err(error) => return usage_failed(&error, lang),
    };
    let lang = match cli.lang {
        Some(LangArg::En) => Lang::En,
        Some(LangArg::Ja) => Lang::Ja,
        None => lang,
    };
    init_logging(cli.verbose, cli.quiet);

    let status = match &cli.command {
        Command::Analyze(args) => analyze::run(args, lang, cli.quiet),
        Command::Rules(command) => rules::run(command, lang),
        Command::Discover(args) => discover::run(args, lang, cli.quiet),
        Command::Completions(args) => {
            // clap_complete panics when its writer fails, so the script is
            // built in memory and written here.
            let mut command = help_text::command(lang);
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut command, "exflow", &mut script);
            match write_stdout(&script, lang) {
                Ok(()) => Status::Success,
                Err(status) => status,
            }
        }
        Command::Man(args) => {
            // NOTE: clap_mangen writes the section headings (NAME, SYNOPSIS,
            // OPTIONS) in English; with --lang ja only the texts are Japanese.
            match man_page_command(lang, &args.command) {
                Some(page) => {
                    let mut text = Vec::new();
                    let source = format!("exflow {}", env!("CARGO_PKG_VERSION"));
                    let written = clap_mangen::Man::new(page)
                        .source(source)
                        .render(&mut text)
                        .map_err(|error| write_failed(&error, lang))
                        .and_then(|()| write_stdout(&text, lang));
                    match written {
                        Ok(()) => Status::Success,
                        Err(status) => status,
                    }
                }
                None => {
                    let name = args.command.join(" ");
                    let text =
                        crate::i18n::message(lang, "cli.error.man_unknown", &[("command", &name)]);
                    stderr_line!("exflow: {text}");
                    Status::Error
                }
            }
        }
        #[cfg(feature = "live")]
        Command::Live(args) => live::run(args, lang, cli.quiet),
        #[cfg(not(feature = "live"))]
        Command::Live(_) => {
            stderr_line!(
                "exflow: {}",
                crate::i18n::message(lang, "live.error.not_built", &[])
            );
            Status::Error
        }
    };
    ExitCode::from(status as u8)
}

/// Parses `args` (program name first) with the help and errors of `lang`.
pub fn parse_from(args: Vec<OsString>, lang: Lang) -> Result<Cli, clap::Error> {
    let mut command = help_text::command(lang);
    let mut matches = command.try_get_matches_from_mut(args)?;
    Cli::from_arg_matches_mut(&mut matches).map_err(|error| error.format(&mut command))
}

/// Returns the language `--lang` selects in raw arguments, if any: the last
/// `--lang VALUE` or `--lang=VALUE` before `--`. A value clap will reject
/// selects nothing, so its error comes in the environment's language.
fn lang_from_args(args: &[OsString]) -> Option<Lang> {
    let mut lang = None;
    let mut args = args.iter().skip(1);
    while let Some(arg) = args.next() {
        let Some(arg) = arg.to_str() else {
            continue;
        };
        if arg == "--" {
            break;
        }
        let value = if arg == "--lang" {
            args.next().and_then(|value| value.to_str())
        } else {
            arg.strip_prefix("--lang=")
        };
        if let Some(value) = value {
            lang = Lang::from_code(value);
        }
    }
    lang
}

/// Prints a usage error, or the help or version output clap reports as one,
/// and returns the exit status clap chose for it (2 for errors).
fn usage_failed(error: &clap::Error, lang: Lang) -> ExitCode {
    match usage_error::render(error, lang) {
        Some(text) => {
            let mut stderr = anstream::AutoStream::auto(io::stderr());
            let _ = stderr.write_all(text.as_bytes());
            ExitCode::from(Status::Error as u8)
        }
        None => {
            let code = u8::try_from(error.exit_code()).unwrap_or(Status::Error as u8);
            if error.use_stderr() {
                let _ = error.print();
                return ExitCode::from(code);
            }
            // Help and version go to standard output, where a failed write (a
            // full disk, a descriptor open only for reading) is an error as
            // for every other output. Colours follow the descriptor, as clap's
            // own printing does.
            let text = error.render().ansi().to_string();
            let written = stdout::open().and_then(|file| {
                let mut out = anstream::AutoStream::auto(file);
                out.write_all(text.as_bytes())?;
                out.flush()
            });
            match written {
                Err(error) if error.kind() != io::ErrorKind::BrokenPipe => {
                    ExitCode::from(write_failed(&error, lang) as u8)
                }
                _ => ExitCode::from(code),
            }
        }
    }
}

/// Sends `log` records to standard error: warnings by default, errors only
/// with `-q`, more with each `-v`; `RUST_LOG` overrides all of it.
fn init_logging(verbose: u8, quiet: bool) {
    let level = if quiet {
        log::LevelFilter::Error
    } else {
        match verbose {
            0 => log::LevelFilter::Warn,
            1 => log::LevelFilter::Info,
            2 => log::LevelFilter::Debug,
            _ => log::LevelFilter::Trace,
        }
    };
    env_logger::Builder::new()
        .filter_level(level)
        .parse_env("RUST_LOG")
        .format_timestamp(None)
        .init();
}

/// Writes `bytes` to standard output, unbuffered. A reader that closed the
/// pipe (`exflow rules show | head`) is not an error, so the caller keeps its
/// status. Any other failure, a closed descriptor included, is printed and
/// gives status 2.
fn write_stdout(bytes: &[u8], lang: Lang) -> Result<(), Status> {
    match stdout::open().and_then(|mut stdout| stdout.write_all(bytes)) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => Err(write_failed(&error, lang)),
    }
}

/// Prints a failure to write the output and returns status 2.
fn write_failed(error: &io::Error, lang: Lang) -> Status {
    stderr_line!(
        "exflow: {}",
        messages::output_write_failed(lang, None, error)
    );
    Status::Error
}

/// Prints a rules or site file error: each diagnostic on its own line.
fn report_policy_error(error: &PolicyError, lang: Lang) {
    if let Some(text) = messages::policy_error(lang, error) {
        stderr_line!("exflow: {text}");
        return;
    }
    for diagnostic in error.diagnostics() {
        stderr_line!("{}", diagnostic.render(lang));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use clap::CommandFactory;

    fn os_args(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn lang_is_read_before_parsing() {
        let cases: [(&[&str], Option<Lang>); 7] = [
            (&["exflow", "--help"], None),
            (&["exflow", "--lang", "ja", "--help"], Some(Lang::Ja)),
            (
                &["exflow", "analyze", "--help", "--lang=ja"],
                Some(Lang::Ja),
            ),
            (
                &["exflow", "--lang", "ja", "analyze", "--lang", "en"],
                Some(Lang::En),
            ),
            (&["exflow", "--lang", "fr", "--help"], None),
            (&["exflow", "--lang"], None),
            (&["exflow", "analyze", "--", "--lang", "ja"], None),
        ];
        for (args, expected) in cases {
            assert_eq!(lang_from_args(&os_args(args)), expected, "{args:?}");
        }
    }

    #[test]
    fn parse_from_reads_both_languages() {
        for lang in [Lang::En, Lang::Ja] {
            let cli = parse_from(os_args(&["exflow", "--lang", "ja", "man"]), lang).unwrap();
            assert!(matches!(cli.command, Command::Man(_)));
            assert_eq!(cli.lang, Some(LangArg::Ja));
        }
    }

    #[test]
    fn analyze_parses_interface_options() {
        let cli = Cli::try_parse_from([
            "exflow",
            "analyze",
            "--site",
            "s.toml",
            "-o",
            "-",
            "--format",
            "jsonl",
            "--fail-on",
            "unexpected",
            "--threads",
            "2",
            "--lang",
            "ja",
            "a.pcap",
            "b.pcapng",
        ])
        .unwrap();
        let Command::Analyze(args) = cli.command else {
            panic!("expected analyze");
        };
        assert_eq!(args.captures.len(), 2);
        assert_eq!(args.format, Some(FormatArg::Jsonl));
        assert_eq!(args.fail_on, [VerdictArg::Unexpected]);
        assert_eq!(cli.lang, Some(LangArg::Ja));
    }

    #[test]
    fn fail_on_takes_out_of_scope() {
        let cli = Cli::try_parse_from(["exflow", "analyze", "--fail-on", "out_of_scope", "x.pcap"])
            .unwrap();
        let Command::Analyze(args) = cli.command else {
            panic!("expected analyze");
        };
        assert_eq!(args.fail_on, [VerdictArg::OutOfScope]);
    }

    #[test]
    fn fail_on_takes_several_verdicts() {
        let parse = |words: &[&str]| {
            let cli = Cli::try_parse_from(words).unwrap();
            let Command::Analyze(args) = cli.command else {
                panic!("expected analyze");
            };
            args.fail_on
        };
        let both = [VerdictArg::Unexpected, VerdictArg::OutOfScope];
        let repeated = [
            "exflow",
            "analyze",
            "--fail-on",
            "unexpected",
            "--fail-on",
            "out_of_scope",
            "x.pcap",
        ];
        assert_eq!(parse(&repeated), both);
        let listed = [
            "exflow",
            "analyze",
            "--fail-on=unexpected,out_of_scope",
            "x.pcap",
        ];
        assert_eq!(parse(&listed), both);
        assert_eq!(parse(&["exflow", "analyze", "x.pcap"]), []);
        let unknown = [
            "exflow",
            "analyze",
            "--fail-on",
            "unexpected,bogus",
            "x.pcap",
        ];
        assert!(Cli::try_parse_from(unknown).is_err());
    }

    #[test]
    fn man_pages_exist_for_subcommands() {
        let name = |path: &[&str]| {
            let path: Vec<String> = path.iter().map(ToString::to_string).collect();
            man_page_command(Lang::En, &path).map(|command| {
                command
                    .get_display_name()
                    .unwrap_or(command.get_name())
                    .to_string()
            })
        };
        assert_eq!(name(&[]).as_deref(), Some("exflow"));
        assert_eq!(name(&["analyze"]).as_deref(), Some("exflow-analyze"));
        assert_eq!(
            name(&["rules", "check"]).as_deref(),
            Some("exflow-rules-check")
        );
        assert_eq!(name(&["bogus"]), None);
        assert_eq!(name(&["analyze", "check"]), None);

        let page = man_page_command(Lang::En, &["analyze".to_string()]).unwrap();
        let mut text = Vec::new();
        clap_mangen::Man::new(page).render(&mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains(".TH exflow-analyze 1"), "{text}");
        assert!(text.contains("\\-\\-fail\\-on"), "{text}");
    }
}
