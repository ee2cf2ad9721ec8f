//! The English and Japanese READMEs cover the same ground, and every command
//! line option they mention exists in the program's help.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Options of cargo and other tools that the READMEs mention, not exflow's.
const FOREIGN_OPTIONS: &[&str] = &["--release", "--path", "--features", "--check", "--bench"];

fn read_readme(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// Collects every `--long-option` written in the text.
fn long_options(text: &str) -> BTreeSet<String> {
    let bytes = text.as_bytes();
    let mut options = BTreeSet::new();
    let mut index = 0;
    while let Some(found) = text[index..].find("--") {
        let start = index + found;
        let preceded_by_word =
            start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'-');
        let mut end = start + 2;
        while end < bytes.len()
            && (bytes[end].is_ascii_lowercase()
                || bytes[end].is_ascii_digit()
                || bytes[end] == b'-')
        {
            end += 1;
        }
        let name = &text[start..end];
        if !preceded_by_word && name.len() > 3 && bytes[start + 2].is_ascii_lowercase() {
            options.insert(name.trim_end_matches('-').to_string());
        }
        index = end.max(start + 2);
    }
    options
}

/// Returns the level-two headings of a Markdown document.
fn section_count(text: &str) -> usize {
    text.lines().filter(|line| line.starts_with("## ")).count()
}

/// Returns the commands of the fenced `sh` blocks, without comments.
fn shell_commands(text: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut in_shell_block = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_shell_block = !in_shell_block && line == "```sh";
            continue;
        }
        if in_shell_block {
            let command = line.split('#').next().unwrap_or_default().trim();
            if !command.is_empty() {
                commands.push(command.to_string());
            }
        }
    }
    commands
}

fn help_text(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_exflow"))
        .args(args)
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .output()
        .expect("run exflow");
    assert!(
        output.status.success(),
        "exflow {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn readmes_have_same_sections() {
    let english = read_readme("README.md");
    let japanese = read_readme("README.ja.md");
    assert_eq!(section_count(&english), section_count(&japanese));
}

#[test]
fn readmes_show_same_commands() {
    let english = read_readme("README.md");
    let japanese = read_readme("README.ja.md");
    assert_eq!(shell_commands(&english), shell_commands(&japanese));
}

#[test]
fn readmes_mention_same_options() {
    let english = long_options(&read_readme("README.md"));
    let japanese = long_options(&read_readme("README.ja.md"));
    let only_english: Vec<_> = english.difference(&japanese).collect();
    let only_japanese: Vec<_> = japanese.difference(&english).collect();
    assert!(
        only_english.is_empty(),
        "options only in README.md: {only_english:?}"
    );
    assert!(
        only_japanese.is_empty(),
        "options only in README.ja.md: {only_japanese:?}"
    );
}

#[test]
fn readme_options_exist_in_help() {
    let mut help = String::new();
    let mut subcommands = vec![
        vec!["analyze", "--help"],
        vec!["discover", "--help"],
        vec!["rules", "show", "--help"],
        vec!["rules", "check", "--help"],
        vec!["rules", "diff", "--help"],
    ];
    if cfg!(feature = "live") {
        subcommands.push(vec!["live", "--help"]);
    }
    for args in &subcommands {
        help.push_str(&help_text(args));
    }
    let known = long_options(&help);

    let mentioned = long_options(&read_readme("README.md"));
    let missing: Vec<_> = mentioned
        .iter()
        .filter(|option| !FOREIGN_OPTIONS.contains(&option.as_str()))
        .filter(|option| !known.contains(*option))
        .filter(|option| cfg!(feature = "live") || !LIVE_ONLY_OPTIONS.contains(&option.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "README options missing from --help: {missing:?}"
    );
}

/// Options of `exflow live`, which exists only when built with the live feature.
const LIVE_ONLY_OPTIONS: &[&str] = &[
    "--interim-interval",
    "--stats-interval",
    "--snaplen",
    "--buffer-size",
    "--no-promisc",
    "--immediate-mode",
    "--user",
    "--discover",
    "--window",
];
