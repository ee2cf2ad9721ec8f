//! Runs the exflow binary the way a user does and reads its JSON Lines output.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Returns every capture file of the corpus, sorted by name.
pub fn corpus_captures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("the corpus directory ../shared/corpus is missing")
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name.ends_with(".pcap") || name.ends_with(".pcapng")
        })
        .collect();
    files.sort();
    files
}

/// Runs `exflow ARGS` with a fixed environment (English, no colour).
pub fn exflow(args: &[&str]) -> Output {
    exflow_with_input(args, None)
}

/// Returns the command `exflow ARGS` with a fixed environment (English, no
/// colour), to be given more before it runs.
pub fn exflow_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_exflow"));
    command
        .args(args)
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("NO_COLOR", "1");
    command
}

/// Runs `exflow ARGS`, writing `stdin` to its standard input when given.
pub fn exflow_with_input(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut command = exflow_command(args);
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("failed to start exflow");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let bytes = bytes.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = pipe.write_all(&bytes);
        });
        let output = child.wait_with_output().unwrap();
        writer.join().unwrap();
        return output;
    }
    child.wait_with_output().unwrap()
}

/// Parses JSON Lines output; panics on a line that is not a JSON object.
pub fn records(output: &Output) -> Vec<Value> {
    String::from_utf8(output.stdout.clone())
        .expect("output is not UTF-8")
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line)
                .unwrap_or_else(|e| panic!("bad JSON line {line:?}: {e}"))
        })
        .collect()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Returns "ip:port" of a record's client or server.
pub fn endpoint(record: &Value, side: &str) -> String {
    format!(
        "{}:{}",
        record[side]["ip"].as_str().unwrap(),
        record[side]["port"]
    )
}
