//! Shell conventions: completion scripts and the manual page generated from
//! the command line definition, and `-q` for warnings.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_exflow"))
        .args(args)
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("failed to start exflow")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exflow failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("output is not UTF-8")
}

/// Returns true when `program` can be started.
fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

const SUBCOMMANDS: [&str; 6] = ["analyze", "live", "rules", "discover", "completions", "man"];

#[test]
fn completions_name_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = stdout(&run(&["completions", shell]));
        for subcommand in SUBCOMMANDS {
            assert!(
                script.contains(subcommand),
                "{shell} script lacks {subcommand}"
            );
        }
        // fish names long options without their dashes (`-l baseline`).
        assert!(
            script.contains("baseline"),
            "{shell} script lacks --baseline"
        );
    }
}

#[test]
fn bash_completion_loads() {
    if !have("bash") {
        eprintln!("bash is not installed; skipped");
        return;
    }
    let dir = TempDir::new().unwrap();
    let script = dir.path().join("exflow.bash");
    std::fs::write(&script, stdout(&run(&["completions", "bash"]))).unwrap();

    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        syntax.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&syntax.stderr)
    );

    // Sourcing the script registers a completion function for exflow, and
    // that function offers the subcommands for `exflow an<TAB>`.
    let probe = format!(
        "source {}; complete -p exflow; COMP_WORDS=(exflow an); COMP_CWORD=1; \
         _exflow exflow an exflow; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let output = Command::new("bash").arg("-c").arg(&probe).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains(" -F _exflow exflow"), "{text}");
    assert!(text.lines().any(|line| line == "analyze"), "{text}");
}

#[test]
fn fish_completion_in_japanese() {
    let script = stdout(&run(&["completions", "fish", "--lang", "ja"]));
    assert!(
        script.contains("キャプチャ ファイルを読み込み、フローごとに 1 件のレコードを出力します"),
        "{script}"
    );
}

/// Renders a roff manual page to plain text with `man -l` or groff; `None`
/// when neither is installed.
fn render_man(page: &Path) -> Option<String> {
    if have("man") {
        let output = Command::new("man")
            .arg("-l")
            .arg(page)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .env("LANG", "C.UTF-8")
            .output()
            .unwrap();
        if output.status.success() && !output.stdout.is_empty() {
            return Some(String::from_utf8_lossy(&output.stdout).into_owned());
        }
    }
    if have("groff") {
        let output = Command::new("groff")
            .args(["-man", "-Tutf8", "-Kutf8"])
            .arg(page)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        return Some(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    None
}

/// Removes the overstrike bold and underline of `man` output.
fn strip_overstrike(text: &str) -> String {
    let mut plain = String::new();
    for c in text.chars() {
        if c == '\u{8}' {
            plain.pop();
        } else {
            plain.push(c);
        }
    }
    plain
}

#[test]
fn man_page_renders() {
    let roff = stdout(&run(&["man"]));
    assert!(roff.contains(".TH exflow 1"), "{roff}");

    let dir = TempDir::new().unwrap();
    let page = dir.path().join("exflow.1");
    std::fs::write(&page, &roff).unwrap();
    let Some(text) = render_man(&page) else {
        eprintln!("neither man nor groff is installed; only the roff source was checked");
        return;
    };
    let text = strip_overstrike(&text);
    assert!(text.contains("Passive traffic classifier"), "{text}");
    for subcommand in SUBCOMMANDS {
        assert!(
            text.contains(subcommand),
            "man page lacks {subcommand}: {text}"
        );
    }
    assert!(text.contains("--lang"), "{text}");
}

#[test]
fn man_page_in_japanese() {
    let roff = stdout(&run(&["man", "--lang", "ja"]));
    assert!(roff.contains("パッシブ トラフィック分類ツール"), "{roff}");
    assert!(roff.contains("人が読む出力の言語"), "{roff}");
}

#[test]
fn quiet_suppresses_site_warnings() {
    let dir = TempDir::new().unwrap();
    // A site file with no [networks] is valid but earns a warning.
    let site = dir.path().join("site.toml");
    std::fs::write(&site, "[roles]\nclient_access = [\"10.20.0.10\"]\n").unwrap();
    let capture = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/exchange-edge.pcap");
    let args = [
        "analyze",
        capture.to_str().unwrap(),
        "--site",
        site.to_str().unwrap(),
        "--format",
        "jsonl",
    ];

    let loud = run(&args);
    assert!(loud.status.success());
    let warnings = String::from_utf8_lossy(&loud.stderr);
    assert!(
        warnings.contains("warning: roles.client_access: [networks] is empty"),
        "{warnings}"
    );

    let mut quiet_args = args.to_vec();
    quiet_args.push("-q");
    let quiet = run(&quiet_args);
    assert!(quiet.status.success());
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "");
    assert_eq!(quiet.stdout, loud.stdout, "-q changed the records");
}

#[test]
fn quiet_keeps_errors() {
    let output = run(&["analyze", "-q", "/nonexistent/capture.pcap"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .starts_with("exflow: /nonexistent/capture.pcap: open failed:"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
