//! What reaches a terminal, and what does not reach a pipe: the summary is
//! coloured on a terminal unless `NO_COLOR` is set, and the progress bar
//! appears on a terminal but writes nothing at all when standard error is
//! piped.
//!
//! Each test runs this test binary again as a child, whose `child_entry` test
//! reads its task from an environment variable. The child runs once with
//! pipes and once on a pseudo-terminal made by util-linux `script`. Without
//! `script` the terminal half is skipped with a printed reason.

mod report_ui_fixtures;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use exflow::i18n::Lang;
use exflow::report::progress::Progress;
use exflow::report::summary::{
    SummaryAggregator, SummaryOptions, stdout_wants_color, write_summary,
};
use report_ui_fixtures::{fixtures, run_stats};

const CHILD_VARIABLE: &str = "EXFLOW_REPORT_UI_CHILD";
const SCRIPT: &str = "/usr/bin/script";

/// Runs in the child process only: writes a summary to standard output, or
/// draws a progress bar on standard error for a little longer than it takes
/// the bar to appear.
#[test]
fn child_entry() {
    match std::env::var(CHILD_VARIABLE).as_deref() {
        Ok("summary") => {
            let fixtures = fixtures();
            let mut aggregator = SummaryAggregator::new();
            for fixture in &fixtures {
                aggregator.add(&fixture.record, &fixture.record.reason);
            }
            let options = SummaryOptions {
                color: stdout_wants_color(),
                ..SummaryOptions::new(Lang::En)
            };
            let mut stdout = std::io::stdout().lock();
            write_summary(
                &mut stdout,
                &aggregator.summary(),
                &run_stats(&fixtures),
                &options,
            )
            .unwrap();
        }
        Ok("progress") => {
            let progress = Progress::start(Some(64 * 1024 * 40), Lang::En, false);
            for _ in 0..30 {
                progress.advance(64 * 1024, 50);
                std::thread::sleep(Duration::from_millis(30));
            }
            eprintln!("visible={}", progress.is_visible());
            progress.finish();
        }
        _ => {}
    }
}

fn child_command(mode: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "child_entry",
            "--nocapture",
            "--test-threads=1",
            "--color=never",
            "-q",
        ])
        .env(CHILD_VARIABLE, mode)
        .env("TERM", "xterm-256color")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    command
}

/// Runs the child on a pseudo-terminal, returning what the terminal showed,
/// or `None` when `script` is missing.
fn run_on_terminal(mode: &str, no_color: bool) -> Option<String> {
    if !Path::new(SCRIPT).exists() {
        eprintln!("skipped the terminal half: {SCRIPT} (util-linux) not found");
        return None;
    }
    let child = child_command(mode);
    let program = child.get_program().to_string_lossy().into_owned();
    let args: Vec<String> = child
        .get_args()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    let line = format!("'{program}' {}", args.join(" "));

    let mut command = Command::new(SCRIPT);
    command
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .env(CHILD_VARIABLE, mode)
        .env("TERM", "xterm-256color")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR")
        .stdin(Stdio::null());
    if no_color {
        command.env("NO_COLOR", "1");
    } else {
        command.env_remove("NO_COLOR");
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn run_piped(mode: &str) -> Output {
    let output = child_command(mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn summary_has_no_color_when_piped() {
    let output = run_piped("summary");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("Unexpected paths: 4"), "{stdout}");
    assert!(!stdout.contains('\u{1b}'));
}

#[test]
fn summary_is_colored_on_terminal() {
    let Some(screen) = run_on_terminal("summary", false) else {
        return;
    };
    assert!(screen.contains("Unexpected paths: 4"), "{screen}");
    // Bold red heading, as the palette draws the unexpected section.
    assert!(
        screen.contains("\u{1b}[1m\u{1b}[31mUnexpected paths"),
        "{screen:?}"
    );
}

#[test]
fn no_color_turns_color_off() {
    let Some(screen) = run_on_terminal("summary", true) else {
        return;
    };
    assert!(screen.contains("Unexpected paths: 4"), "{screen}");
    assert!(!screen.contains('\u{1b}'), "{screen:?}");
}

#[test]
fn progress_writes_nothing_when_piped() {
    let output = run_piped("progress");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr, "visible=false\n");
}

#[test]
fn progress_appears_on_terminal() {
    let Some(screen) = run_on_terminal("progress", false) else {
        return;
    };
    assert!(screen.contains("visible=true"), "{screen:?}");
    assert!(screen.contains("ETA"), "{screen:?}");
    assert!(screen.contains("packets/s"), "{screen:?}");
}
