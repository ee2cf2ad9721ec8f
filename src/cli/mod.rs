//! Command-line definitions. Clap types stay in this module; the rest of the
//! crate sees one validated configuration per command.

pub mod analyze;
#[cfg(feature = "live")]
mod live;
mod rules;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::i18n::Lang;
use crate::policy::PolicyError;
use analyze::Status;

const EXAMPLES: &str = "\
Examples:
  exflow analyze capture.pcap --site site.toml
  exflow analyze --site site.toml --format jsonl -o flows.jsonl a.pcap b.pcapng
  exflow analyze --site site.toml --fail-on unexpected --baseline last.jsonl *.pcap
  tcpdump -i eth1 -w - | exflow analyze --site site.toml -
  exflow rules check --site site.toml
  exflow rules show --site site.toml";

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
    Analyze(AnalyzeArgs),
    /// Watch live interfaces (a span port) and write records as flows end
    Live(LiveArgs),
    /// Show, check and compare rule and site files
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Propose a site file from the roles hosts play in captured traffic
    Discover(DiscoverArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
    /// Print the manual page (roff) on standard output
    Man,
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

    /// Seconds without a packet before a TCP flow ends, by capture time
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub tcp_timeout: u32,

    /// Seconds without a packet before a UDP flow ends, by capture time
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub udp_timeout: u32,

    /// Bytes of each direction reassembled for the fingerprints
    #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024)]
    pub reassembly_budget: u32,

    /// Maximum number of flows tracked at once; the oldest idle flows are
    /// evicted first
    #[arg(long, value_name = "FLOWS", default_value_t = 1_000_000)]
    pub max_flows: usize,

    /// Maximum memory for reassembly buffers, in MiB
    #[arg(long, value_name = "MIB", default_value_t = 128)]
    pub max_reassembly_mib: usize,

    /// Seconds an incomplete IP datagram waits for its fragments
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub fragment_timeout: u32,

    /// Maximum memory for IP fragments waiting for reassembly, in MiB
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    pub max_fragment_mib: usize,
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

    /// Exit with status 1 when any flow has this verdict
    #[arg(long, value_enum, value_name = "VERDICT")]
    pub fail_on: Option<VerdictArg>,

    /// Write a self-contained HTML report with the flow map
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,

    /// Compare with an earlier JSON Lines run; exit 1 on any change
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Worker threads [default: all cores]; the output is the same for any number
    #[arg(long, value_name = "N")]
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

    /// Write flow records to FILE ("-" is standard output); SIGHUP reopens it
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
          value_parser = clap::value_parser!(u32).range(64..=262_144))]
    pub snaplen: u32,

    /// Kernel capture buffer per interface, in MiB
    #[arg(long, value_name = "MIB", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..=2047))]
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
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub interim_interval: u32,

    /// Seconds between statistics records and lines; 0 writes them only at exit
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub stats_interval: u32,

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
    #[arg(value_name = "A.toml")]
    pub first: PathBuf,
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
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to write the completion script for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Parses the command line, runs the command and returns its exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let lang = match cli.lang {
        Some(LangArg::En) => Lang::En,
        Some(LangArg::Ja) => Lang::Ja,
        None => Lang::from_env(),
    };
    init_logging(cli.verbose, cli.quiet);

    let status = match &cli.command {
        Command::Analyze(args) => analyze::run(args, lang, cli.quiet),
        Command::Rules(command) => rules::run(command, lang),
        Command::Completions(args) => {
            let mut command = Cli::command();
            clap_complete::generate(args.shell, &mut command, "exflow", &mut std::io::stdout());
            Status::Success
        }
        Command::Man => {
            match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
                Ok(()) => Status::Success,
                Err(error) => {
                    eprintln!("exflow: {error}");
                    Status::Error
                }
            }
        }
        #[cfg(feature = "live")]
        Command::Live(args) => live::run(args, lang, cli.quiet),
        #[cfg(not(feature = "live"))]
        Command::Live(_) => {
            eprintln!(
                "exflow: {}",
                crate::i18n::message(lang, "live.error.not_built", &[])
            );
            Status::Error
        }
        Command::Discover(_) => {
            eprintln!(
                "exflow: {}",
                crate::i18n::message(lang, "cli.error.not_built", &[])
            );
            Status::Error
        }
    };
    ExitCode::from(status as u8)
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

/// Prints a rules or site file error: each diagnostic on its own line.
fn report_policy_error(error: &PolicyError, lang: Lang) {
    if error.diagnostics().is_empty() {
        eprintln!("exflow: {error}");
        return;
    }
    for diagnostic in error.diagnostics() {
        eprintln!("{}", diagnostic.render(lang));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
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
        assert_eq!(args.fail_on, Some(VerdictArg::Unexpected));
        assert_eq!(cli.lang, Some(LangArg::Ja));
    }

    #[test]
    fn fail_on_takes_out_of_scope() {
        let cli = Cli::try_parse_from(["exflow", "analyze", "--fail-on", "out_of_scope", "x.pcap"])
            .unwrap();
        let Command::Analyze(args) = cli.command else {
            panic!("expected analyze");
        };
        assert_eq!(args.fail_on, Some(VerdictArg::OutOfScope));
    }
}
