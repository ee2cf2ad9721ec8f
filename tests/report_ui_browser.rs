//! Renders the HTML report in headless Chromium: the page must run its script
//! without a console error or a Content-Security-Policy violation, and draw
//! an arrow for every observed path. Screenshots go to target/tmp/ for a
//! person to look at; none is committed.
//!
//! Needs Debian's `chromium` at /usr/bin/chromium (scripts/install-chromium.sh
//! installs it); without it the tests print why and pass. Chromium opens only
//! the generated file:// report, with background networking off.

mod report_ui_fixtures;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use exflow::i18n::Lang;
use exflow::report::html::HtmlReport;
use report_ui_fixtures::{HOSTILE, fixtures, run_stats};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Maximum time one Chromium run may take before the test fails.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(90);

/// The paths the fixtures contain, as the map's `data-path` attributes name
/// them: client roles, server roles, port, protocol, verdict.
const EXPECTED_PATHS: [&str; 15] = [
    "internal|internet|25/TCP|smtp|unexpected",
    "internet|client_access|443/TCP|ssh|unexpected",
    "internet|mailbox|25/TCP|smtp|unexpected",
    "internet|client_access|8080/TCP|http|unexpected",
    "internet|client_access|443/TCP|tls|allowed",
    "internal|client_access|443/TCP|tls|allowed",
    "client_access|mailbox|49152-65535/TCP|unknown|allowed",
    "internet|edge_transport|25/TCP|smtp|allowed",
    "edge_transport|mailbox|25/TCP|smtp|allowed",
    "mailbox|edge_transport|25/TCP|smtp|allowed",
    "edge_transport|internet|25/TCP|smtp|allowed",
    "mailbox|edge_transport|50636/TCP|tls|allowed",
    "edge_transport|dns|53/UDP|dns|allowed",
    "mailbox|domain_controller|389/TCP|ldap|allowed",
    "internal|dns|53/UDP|dns|out_of_scope",
];

fn chromium_available() -> bool {
    if Path::new(CHROMIUM).exists() {
        return true;
    }
    eprintln!("skipped: {CHROMIUM} not found; run scripts/install-chromium.sh to install it");
    false
}

fn output_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-ui");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes the fixtures' report in `lang` and returns its path.
fn write_report(lang: Lang, name: &str) -> PathBuf {
    let fixtures = fixtures();
    let mut report = HtmlReport::new();
    for fixture in &fixtures {
        let reason = match lang {
            Lang::En => fixture.record.reason.as_str(),
            Lang::Ja => fixture.reason_ja.as_str(),
        };
        report.add(&fixture.record, reason);
    }
    let path = output_dir().join(name);
    let mut file = std::fs::File::create(&path).unwrap();
    report
        .write(&mut file, &run_stats(&fixtures), lang)
        .unwrap();
    path
}

/// Output of one Chromium run.
struct Run {
    stdout: String,
    stderr: String,
}

/// Runs headless Chromium on the file `page` with `action` (`--dump-dom` or
/// `--screenshot=...`), in a fresh profile, and waits at most
/// [`CHROMIUM_TIMEOUT`].
fn run_chromium(page: &Path, action: &str) -> Run {
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1400,2400",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(action)
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("failed to start chromium");

    // Read both pipes on threads so a full pipe cannot stall Chromium.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let stdout_reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).ok();
        text
    });
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut text).ok();
        text
    });
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let stdout = stdout_reader.join().unwrap();
            let stderr = stderr_reader.join().unwrap();
            assert!(status.success(), "chromium failed ({status}):\n{stderr}");
            return Run { stdout, stderr };
        }
        if started.elapsed() > CHROMIUM_TIMEOUT {
            child.kill().ok();
            child.wait().ok();
            panic!("chromium did not finish within {CHROMIUM_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Returns the console messages and policy violations Chromium logged.
fn console_problems(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|line| {
            line.contains(":CONSOLE")
                || line.contains("Content Security Policy")
                || line.contains("Refused to")
                || line.contains("Uncaught")
        })
        .collect()
}

/// Returns the value of attribute `name` on the `<html>` element of `dom`.
fn root_attribute<'a>(dom: &'a str, name: &str) -> Option<&'a str> {
    let start = dom.find("<html")?;
    let end = start + dom[start..].find('>')?;
    let tag = &dom[start..end];
    let key = format!(" {name}=\"");
    let value_start = tag.find(&key)? + key.len();
    let value_end = value_start + tag[value_start..].find('"')?;
    Some(&tag[value_start..value_end])
}

/// Returns the `data-path` of every arrow the page's script found drawn.
fn drawn_paths(dom: &str) -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    for element in dom.split("<g class=\"edge ").skip(1) {
        let tag = &element[..element.find('>').unwrap_or(element.len())];
        if !tag.contains("data-drawn=\"true\"") {
            continue;
        }
        if let Some(start) = tag.find("data-path=\"") {
            let value = &tag[start + "data-path=\"".len()..];
            paths.insert(value[..value.find('"').unwrap()].to_string());
        }
    }
    paths
}

fn check_rendered(page: &Path) -> String {
    let run = run_chromium(page, "--dump-dom");
    let problems = console_problems(&run.stderr);
    assert!(problems.is_empty(), "console output: {problems:#?}");

    let dom = run.stdout;
    assert_eq!(
        root_attribute(&dom, "data-render-check"),
        Some("ok"),
        "the page's script did not finish"
    );
    assert_eq!(root_attribute(&dom, "data-js-errors"), None);
    dom
}

#[test]
fn report_draws_every_path() {
    if !chromium_available() {
        return;
    }
    let page = write_report(Lang::En, "report.en.html");
    let dom = check_rendered(&page);

    let expected: BTreeSet<String> = EXPECTED_PATHS.iter().map(|path| path.to_string()).collect();
    assert_eq!(drawn_paths(&dom), expected);
    assert_eq!(
        root_attribute(&dom, "data-paths-drawn"),
        Some(EXPECTED_PATHS.len().to_string().as_str())
    );
}

#[test]
fn japanese_report_renders() {
    if !chromium_available() {
        return;
    }
    let page = write_report(Lang::Ja, "report.ja.html");
    let dom = check_rendered(&page);
    assert_eq!(root_attribute(&dom, "lang"), Some("ja"));
    assert_eq!(drawn_paths(&dom).len(), EXPECTED_PATHS.len());
    assert!(dom.contains("境界ネットワーク"));
    assert!(dom.contains("クライアント アクセス サーバー"));
}

#[test]
fn hostile_strings_stay_text_in_browser() {
    if !chromium_available() {
        return;
    }
    let page = write_report(Lang::En, "report.hostile.html");
    let dom = check_rendered(&page);

    // The hostile Host header and reason are shown, as text, in the table.
    assert!(dom.contains("&lt;script&gt;alert(\"x\")&lt;/script&gt;"));
    assert!(dom.contains("\\u{202e}gpj.exe"));
    assert!(!dom.contains(HOSTILE));
    // Only the report's own script element exists, and the title is intact.
    assert_eq!(dom.matches("<script").count(), 1);
    assert!(dom.contains("<title>exflow report</title>"));
    assert!(!dom.contains("onmouseover=alert(1)\""));
}

#[test]
fn console_check_catches_policy_violations() {
    if !chromium_available() {
        return;
    }
    // A copy of the report with an inline style attribute and a script the
    // policy does not list: both must show up as console problems, so the
    // clean runs above mean something.
    let page = write_report(Lang::En, "report.tampered.html");
    let html = std::fs::read_to_string(&page).unwrap();
    let tampered = html.replacen(
        "<header>",
        "<header><p style=\"color:red\">x</p><script>console.error(\"tampered\")</script>",
        1,
    );
    std::fs::write(&page, tampered).unwrap();

    let run = run_chromium(&page, "--dump-dom");
    let problems = console_problems(&run.stderr);
    assert!(
        problems.iter().any(|line| line.contains("inline style")),
        "style violation not reported: {problems:#?}"
    );
    assert!(
        problems.iter().any(|line| line.contains("inline script")),
        "script violation not reported: {problems:#?}"
    );
    assert!(!problems.iter().any(|line| line.contains("\"tampered\"")));
}

#[test]
fn screenshots_are_written() {
    if !chromium_available() {
        return;
    }
    for (lang, name) in [(Lang::En, "en"), (Lang::Ja, "ja")] {
        let page = write_report(lang, &format!("screenshot.{name}.html"));
        let screenshot = output_dir().join(format!("report.{name}.png"));
        std::fs::remove_file(&screenshot).ok();
        run_chromium(&page, &format!("--screenshot={}", screenshot.display()));

        // A PNG starts with its eight-byte signature (RFC 2083 section 3.1).
        let png = std::fs::read(&screenshot).unwrap();
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{} is not a PNG",
            screenshot.display()
        );
        assert!(
            png.len() > 20_000,
            "{} is nearly empty",
            screenshot.display()
        );
        eprintln!("screenshot: {}", screenshot.display());
    }
}
