//! `exflow discover`: read captures and propose a site file from the roles
//! hosts play in them.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;

use ipnet::IpNet;

use super::DiscoverArgs;
use super::analyze::{Status, engine_configs};
use crate::discover::{Discovery, DiscoveryConfig};
use crate::i18n::{Lang, message};
use crate::pipeline::{self, AnalyzeConfig, InputOutcome};

/// Runs `exflow discover`.
pub fn run(args: &DiscoverArgs, lang: Lang, quiet: bool) -> Status {
    let mut internal = Vec::with_capacity(args.internal.len());
    for text in &args.internal {
        match parse_network(text) {
            Some(net) => internal.push(net),
            None => {
                let error = message(lang, "discover.cli.invalid_network", &[("value", text)]);
                eprintln!("exflow: {error}");
                return Status::Error;
            }
        }
    }

    let (decoder, flows) = engine_configs(&args.engine);
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let config = AnalyzeConfig {
        decoder,
        flows,
        threads,
        filter: None,
    };

    let mut discovery = Discovery::new(DiscoveryConfig { internal });
    let mut status = Status::Success;
    for path in &args.captures {
        let outcome = pipeline::analyze_input(path, &config, &mut ());
        discovery.add_source(&outcome.source);
        for flow in &outcome.flows {
            discovery.add(flow);
        }
        if report_input_problems(&outcome) {
            status = Status::Error;
        }
    }

    let inventory = discovery.inventory();
    let text = discovery.render_inventory(&inventory, lang);
    if let Err(error) = write_output(args.output.as_deref(), &text) {
        if error.kind() == io::ErrorKind::BrokenPipe {
            return status;
        }
        let path = args
            .output
            .as_deref()
            .map_or_else(|| "-".to_string(), |path| path.display().to_string());
        eprintln!(
            "exflow: {}",
            message(
                lang,
                "cli.error.output",
                &[("path", &path), ("error", &error.to_string())]
            )
        );
        return Status::Error;
    }

    if !quiet {
        let flows = discovery.observations().flows.to_string();
        let summary = if inventory.is_empty() {
            message(lang, "discover.cli.empty", &[("flows", &flows)])
        } else {
            let hosts: std::collections::BTreeSet<IpAddr> = inventory
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
        eprintln!("exflow: {summary}");
    }
    status
}

/// Parses an address or a CIDR block; a block with host bits set is cut to
/// its network.
fn parse_network(text: &str) -> Option<IpNet> {
    if let Ok(address) = text.parse::<IpAddr>() {
        return Some(IpNet::from(address));
    }
    text.parse::<IpNet>().ok().map(|net| net.trunc())
}

/// Writes the site file to `-o FILE`, or to standard output for none or "-".
fn write_output(path: Option<&std::path::Path>, text: &str) -> io::Result<()> {
    match path.filter(|path| path.as_os_str() != "-") {
        Some(path) => {
            let mut writer = BufWriter::new(File::create(path)?);
            writer.write_all(text.as_bytes())?;
            writer.flush()
        }
        None => {
            let mut stdout = io::stdout().lock();
            stdout.write_all(text.as_bytes())?;
            stdout.flush()
        }
    }
}

/// Prints what went wrong while reading an input. Returns true when the input
/// was damaged or could not be read, which makes the exit status 2; the flows
/// read before the damage are still used.
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
