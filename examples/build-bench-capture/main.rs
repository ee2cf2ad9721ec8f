//! Builds the benchmark capture: copies of the project's captures and of the
//! shared corpus, readdressed so that every copy's flows stay distinct.
//!
//! ```text
//! cargo run --release --example build-bench-capture -- [--copies N] [--together K] [OUTPUT]
//! ```
//!
//! Reads every Ethernet capture of `captures/` and `../shared/corpus/` (files
//! that cannot be read to their end or that hold other link types are left
//! out and listed), and writes N copies (default
//! 196) to OUTPUT (default `target/bench/bench.pcap`). With `--together K`,
//! copies run K at a time (default 1, one after another), so K times as many
//! flows are open at once for the same frames. The same sources, N and K
//! always give the same bytes.

mod builder;

use std::path::PathBuf;
use std::process::ExitCode;

/// Copies written without `--copies`: with the captures and corpus of this
/// writing, about 3.1 million frames.
const DEFAULT_COPIES: u16 = 196;

/// The command line, printed for `--help` and after a usage error.
const USAGE: &str = "usage: build-bench-capture [--copies N] [--together K] [OUTPUT]";

fn main() -> ExitCode {
    let mut copies = DEFAULT_COPIES;
    let mut together = 1;
    let mut output = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--copies" | "--together" => {
                let value = args.next().and_then(|value| value.parse().ok());
                match (arg.as_str(), value) {
                    (_, None | Some(0)) => {
                        return usage_error(&format!("{arg} needs a number from 1 to 65535"));
                    }
                    ("--copies", Some(value)) => copies = value,
                    (_, Some(value)) => together = value,
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ if arg.starts_with('-') => return usage_error(&format!("unknown option {arg}")),
            _ if output.is_some() => {
                return usage_error(&format!("only one OUTPUT is allowed, not also {arg}"));
            }
            _ => output = Some(PathBuf::from(arg)),
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let output = output.unwrap_or_else(|| root.join("target/bench/bench.pcap"));

    let mut files = Vec::new();
    for dir in [root.join("captures"), root.join("../shared/corpus")] {
        match builder::capture_files(&dir) {
            Ok(found) => files.extend(found),
            Err(error) => eprintln!("build-bench-capture: {}: {error}; skipped", dir.display()),
        }
    }
    let mut sources = Vec::new();
    for file in &files {
        match builder::read_source(file) {
            Ok(source) => sources.push(source),
            Err(reason) => eprintln!(
                "build-bench-capture: {}: left out: {reason}",
                file.display()
            ),
        }
    }
    let source_frames: usize = sources.iter().map(builder::Source::frames).sum();
    eprintln!(
        "build-bench-capture: {} of {} files, {source_frames} frames, {copies} copies, \
         {together} at a time",
        sources.len(),
        files.len()
    );

    if let Some(parent) = output.parent()
        && let Err(error) = std::fs::create_dir_all(parent)
    {
        eprintln!("build-bench-capture: {}: {error}", parent.display());
        return ExitCode::from(2);
    }
    match builder::write_copies(&sources, copies, together, &output) {
        Ok(written) => {
            println!(
                "{}: {} frames, {} bytes",
                output.display(),
                written.frames,
                written.bytes
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("build-bench-capture: {}: {error}", output.display());
            ExitCode::from(2)
        }
    }
}

/// Prints `problem` and the usage line, and returns the status of a usage
/// error.
fn usage_error(problem: &str) -> ExitCode {
    eprintln!("build-bench-capture: {problem}\n{USAGE}");
    ExitCode::from(2)
}
