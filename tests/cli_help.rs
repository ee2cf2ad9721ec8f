//! `--help` of every command in English and Japanese, compared byte for byte
//! with tests/golden/cli/help.en.txt and help.ja.txt, and the ways the
//! language is chosen (`--lang`, LC_ALL, LC_MESSAGES, LANG).
//!
//! After an intended change of the help, rewrite the files with
//! `UPDATE_GOLDEN=1 cargo test --test cli_help` and review the diff.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// Every command with its own help, as typed after `exflow`. The `help`
/// subcommand prints these same texts.
const COMMANDS: [&[&str]; 10] = [
    &[],
    &["analyze"],
    &["live"],
    &["rules"],
    &["rules", "show"],
    &["rules", "check"],
    &["rules", "diff"],
    &["discover"],
    &["completions"],
    &["man"],
];

/// Runs exflow with `args` and only the locale variables given in `env`, so
/// that the caller's locale and terminal width do not leak in.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_exflow"));
    command
        .args(args)
        .env_remove("LANG")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("COLUMNS")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("failed to start exflow")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("help is not UTF-8")
}

/// Returns the `--help` output of every command, each under the command line
/// that printed it.
fn all_help(lang: &str) -> String {
    let mut text = String::new();
    for command in COMMANDS {
        let mut args: Vec<&str> = command.to_vec();
        args.extend(["--help", "--lang", lang]);
        let output = run(&args, &[]);
        assert!(output.status.success(), "exflow {args:?} failed");
        assert!(output.stderr.is_empty(), "exflow {args:?} wrote to stderr");
        text.push_str(&format!("$ exflow {}\n", args.join(" ")));
        text.push_str(&stdout(&output));
        text.push('\n');
    }
    text
}

/// Compares `actual` with the golden file `name`, or rewrites the file when
/// `UPDATE_GOLDEN=1` is set.
fn check_golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/cli")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|value| value == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read {}: {error}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the output at line {}:\n expected: {:?}\n   actual: {:?}\n\
             (rerun with UPDATE_GOLDEN=1 if the change is intended)",
            path.display(),
            line + 1,
            expected.lines().nth(line).unwrap_or("<end of file>"),
            actual.lines().nth(line).unwrap_or("<end of output>"),
        );
    }
}

#[test]
fn help_english_matches_golden() {
    check_golden("help.en.txt", &all_help("en"));
}

#[test]
fn help_japanese_matches_golden() {
    check_golden("help.ja.txt", &all_help("ja"));
}

#[test]
fn japanese_help_has_no_clap_english() {
    let text = all_help("ja");
    for english in [
        "Usage:",
        "Options:",
        "Arguments:",
        "Commands:",
        "Examples:",
        "[default:",
        "[possible values:",
        "Possible values:",
        "Print help",
        "Print version",
        "Print this message",
    ] {
        assert!(
            !text.contains(english),
            "Japanese help contains {english:?}"
        );
    }
    for heading in [
        "使い方:",
        "コマンド:",
        "引数:",
        "オプション:",
        "フロー エンジン:",
        "例:",
    ] {
        assert!(text.contains(heading), "Japanese help lacks {heading:?}");
    }
}

#[test]
fn short_help_in_japanese() {
    let output = run(&["analyze", "-h", "--lang", "ja"], &[]);
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(text.starts_with("キャプチャ ファイルを読み込み"), "{text}");
    assert!(
        text.contains("--tcp-timeout <SECONDS>") && text.contains("[既定値: 300]"),
        "{text}"
    );
    assert!(
        text.contains("ヘルプを表示します (詳しい説明は '--help' で表示します)"),
        "{text}"
    );
}

#[test]
fn lang_from_environment_selects_japanese() {
    let with_flag = stdout(&run(&["analyze", "--help", "--lang", "ja"], &[]));
    for variable in ["LANG", "LC_MESSAGES", "LC_ALL"] {
        let output = run(&["analyze", "--help"], &[(variable, "ja_JP.UTF-8")]);
        assert_eq!(stdout(&output), with_flag, "{variable}=ja_JP.UTF-8");
    }
}

#[test]
fn lc_all_overrides_lang() {
    let english = stdout(&run(&["--help", "--lang", "en"], &[]));
    let output = run(&["--help"], &[("LC_ALL", "C"), ("LANG", "ja_JP.UTF-8")]);
    assert_eq!(stdout(&output), english);
}

#[test]
fn lang_flag_overrides_environment() {
    let english = stdout(&run(&["rules", "--help"], &[]));
    let output = run(
        &["rules", "--lang", "en", "--help"],
        &[("LANG", "ja_JP.UTF-8")],
    );
    assert_eq!(stdout(&output), english);
    assert!(english.contains("Usage: exflow rules"), "{english}");
}

#[test]
fn help_subcommand_in_japanese() {
    let output = run(&["help", "analyze"], &[("LANG", "ja_JP.UTF-8")]);
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(text.contains("使い方: exflow analyze"), "{text}");
}
