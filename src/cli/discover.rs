//! `exflow discover`: read captures and propose a site file from the roles
//! hosts play in them.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;

use super::DiscoverArgs;
use super::analyze::{
    Status, check_outputs, engine_configs, output_file, report_input_problems,
    stay_on_one_thread_after_rejection, warn_payload_cut, worker_threads,
};
use crate::discover::{Discovery, DiscoveryConfig, Inventory};
use crate::fingerprint::App;
use crate::i18n::{Lang, message};
use crate::pipeline::{self, AnalyzeConfig};
use crate::report::messages;

/// Runs `exflow discover`.
pub fn run(args: &DiscoverArgs, lang: Lang, quiet: bool) -> Status {
    if let Err(status) = super::analyze::check_stdin_once(&args.captures, lang) {
        return status;
    }
    let inputs: Vec<&Path> = args.captures.iter().map(PathBuf::as_path).collect();
    let site_file = output_file(args.output.as_deref());
    if let Err(status) = check_outputs(&[("-o", site_file)], site_file.is_none(), &inputs, lang) {
        return status;
    }
    let Some(internal) = parse_internal(&args.internal, lang) else {
        return Status::Error;
    };

    let (decoder, flows) = engine_configs(&args.engine);
    let threads = worker_threads(args.threads);
    let mut config = AnalyzeConfig {
        decoder,
        flows,
        threads,
        filter: None,
    };

    let mut discovery = Discovery::new(DiscoveryConfig { internal });
    let mut status = Status::Success;
    let mut flows_read = 0;
    for path in &args.captures {
        let outcome = pipeline::analyze_input(path, &config, &mut ());
        discovery.add_source(&outcome.source);
        flows_read += outcome.flows.len();
        for flow in &outcome.flows {
            discovery.add(flow);
        }
        let cut_unknown = outcome
            .flows
            .iter()
            .filter(|flow| flow.app.app == App::Unknown && flow.missed_bytes > 0)
            .count();
        let key = "cli.warning.payload_cut_discover";
        warn_payload_cut(&outcome, cut_unknown as u64, key, lang, quiet);
        stay_on_one_thread_after_rejection(&outcome, &mut config, lang, quiet);
        if report_input_problems(&outcome, None, lang) {
            status = Status::Error;
        }
    }
    if flows_read == 0 && status == Status::Error && site_file.is_some() {
        // Every input failed: an empty inventory would replace a site file
        // that the user may have written by hand. Standard output still gets it.
        return status;
    }

    let inventory = discovery.inventory();
    let text = discovery.render_inventory(&inventory, lang);
    let written = SiteOutput::open(args.output.as_deref()).and_then(|output| output.write(&text));
    if let Err(error) = written {
        return report_write_error(lang, args.output.as_deref(), &error).max(status);
    }
    if !quiet {
        print_summary(lang, &discovery, &inventory);
    }
    status
}

/// Parses the `--internal` networks. Returns `None` after printing the first
/// invalid one.
pub(super) fn parse_internal(texts: &[String], lang: Lang) -> Option<Vec<IpNet>> {
    let mut internal = Vec::with_capacity(texts.len());
    for text in texts {
        match parse_network(text) {
            Some(net) => internal.push(net),
            None => {
                let error = message(lang, "discover.cli.invalid_network", &[("value", text)]);
                stderr_line!("exflow: {error}");
                return None;
            }
        }
    }
    Some(internal)
}

/// Prints how many roles were proposed for how many hosts, or that none were.
pub(super) fn print_summary(lang: Lang, discovery: &Discovery, inventory: &Inventory) {
    let flows = discovery.observations().flows.to_string();
    let summary = if inventory.is_empty() {
        message(lang, "discover.cli.empty", &[("flows", &flows)])
    } else {
        let hosts: BTreeSet<IpAddr> = inventory
            .assignments
            .iter()
            .map(|assessment| assessment.address)
            .collect();
        message(
            lang,
            "discover.cli.summary",
            &[
                ("assignments", &inventory.assignments.len().to_string()),
                ("hosts", &hosts.len().to_string()),
                ("flows", &flows),
                ("candidates", &inventory.candidates.len().to_string()),
            ],
        )
    };
    stderr_line!("exflow: {summary}");
}

/// Prints a failure to write the site file and returns the exit status: a
/// reader that closed the pipe is no failure.
pub(super) fn report_write_error(lang: Lang, path: Option<&Path>, error: &io::Error) -> Status {
    if error.kind() == io::ErrorKind::BrokenPipe {
        return Status::Success;
    }
    stderr_line!(
        "exflow: {}",
        messages::output_write_failed(lang, path, error)
    );
    Status::Error
}

/// Parses an address or a CIDR block; a block with host bits set is cut to
/// its network.
fn parse_network(text: &str) -> Option<IpNet> {
    if let Ok(address) = text.parse::<IpAddr>() {
        return Some(IpNet::from(address));
    }
    text.parse::<IpNet>().ok().map(|net| net.trunc())
}

/// The destination of the site file: `-o FILE`, or standard output for none
/// or "-".
pub(super) enum SiteOutput {
    Stdout,
    File(File),
}

impl SiteOutput {
    /// Creates the file, so that `exflow live --discover` can open it before
    /// it drops root and write it at the end.
    pub(super) fn open(path: Option<&Path>) -> io::Result<SiteOutput> {
        match path.filter(|path| path.as_os_str() != "-") {
            Some(path) => Ok(SiteOutput::File(File::create(path)?)),
            None => Ok(SiteOutput::Stdout),
        }
    }

    pub(super) fn write(self, text: &str) -> io::Result<()> {
        match self {
            SiteOutput::File(file) => {
                let mut writer = BufWriter::new(file);
                writer.write_all(text.as_bytes())?;
                writer.flush()
            }
            SiteOutput::Stdout => super::stdout::open()?.write_all(text.as_bytes()),
        }
    }
}
