//! Strings an attacker controls must stay text in every human-readable sink:
//! no escape sequence reaches a terminal from the summary, and no markup,
//! attribute or URL reaches a browser from the HTML report. Every field a
//! sink shows gets the hostile string, in normal and 64 KiB sizes.

mod report_ui_fixtures;

use exflow::i18n::Lang;
use exflow::report::escape::is_unsafe_char;
use exflow::report::html::HtmlReport;
use exflow::report::record::FlowRecord;
use exflow::report::stats::RunStats;
use exflow::report::summary::text::width;
use exflow::report::summary::{SummaryAggregator, SummaryOptions, write_summary};
use report_ui_fixtures::{HOSTILE, fixtures, run_stats};

/// Returns the hostile string repeated to 64 KiB.
fn huge() -> String {
    HOSTILE.repeat(64 * 1024 / HOSTILE.len() + 1)
}

/// Returns records whose every text field carries `text`, one per verdict.
fn hostile_records(text: &str) -> Vec<FlowRecord> {
    ["unexpected", "allowed", "out_of_scope"]
        .into_iter()
        .map(|verdict| {
            let mut record = FlowRecord {
                flow_id: text.to_string(),
                source: text.to_string(),
                ts_start: text.to_string(),
                ts_end: text.to_string(),
                transport: text.to_string(),
                app: text.to_string(),
                verdict: verdict.to_string(),
                rule: (verdict == "allowed").then(|| format!("site.{text}")),
                reason: text.to_string(),
                ..FlowRecord::default()
            };
            record.client.ip = text.to_string();
            record.client.roles = vec![text.to_string(), "mailbox".to_string()];
            record.server.ip = text.to_string();
            record.server.port = 443;
            record.server.roles = vec![text.to_string()];
            record.tls.sni = Some(text.to_string());
            record.http.host = Some(text.to_string());
            record
        })
        .collect()
}

fn hostile_stats(text: &str) -> RunStats {
    let mut stats = RunStats::default();
    stats.push_error(text, Some(7), text);
    stats
}

fn summary_output(text: &str, color: bool, lang: Lang) -> String {
    let mut aggregator = SummaryAggregator::new();
    for record in hostile_records(text) {
        aggregator.add(&record, text);
    }
    let options = SummaryOptions {
        color,
        ..SummaryOptions::new(lang)
    };
    let mut output = Vec::new();
    write_summary(
        &mut output,
        &aggregator.summary(),
        &hostile_stats(text),
        &options,
    )
    .unwrap();
    String::from_utf8(output).unwrap()
}

/// Removes the SGR sequences (`ESC [ digits ; ... m`) the summary itself
/// writes for colour.
fn strip_sgr(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("\u{1b}[") {
        plain.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find(|c: char| !(c.is_ascii_digit() || c == ';'))
            .unwrap_or(after.len());
        assert_eq!(
            after[end..].chars().next(),
            Some('m'),
            "not an SGR sequence: {:?}",
            &rest[start..start + 8]
        );
        rest = &after[end + 1..];
    }
    plain.push_str(rest);
    plain
}

fn assert_terminal_safe(output: &str) {
    for line in output.lines() {
        assert!(
            !line.chars().any(is_unsafe_char),
            "unsafe character in {line:?}"
        );
        assert!(width(line) <= 100, "line wider than 100 columns: {line:?}");
    }
}

#[test]
fn summary_escapes_every_field() {
    for lang in [Lang::En, Lang::Ja] {
        let output = summary_output(HOSTILE, false, lang);
        assert_terminal_safe(&output);
        assert!(
            output.contains("\\u{001b}[2J"),
            "escape not shown: {output}"
        );
        assert!(output.contains("\\u{202e}gpj.exe"));
        assert!(output.contains("\\u{0007}"));
    }
}

#[test]
fn colored_summary_has_only_its_own_sequences() {
    let output = summary_output(HOSTILE, true, Lang::En);
    assert!(output.contains('\u{1b}'), "no colour was written");
    assert_terminal_safe(&strip_sgr(&output));
}

#[test]
fn summary_bounds_huge_strings() {
    let output = summary_output(&huge(), false, Lang::En);
    assert_terminal_safe(&output);
    // Three rows, their example, one error: a few KiB, not 64 KiB per field.
    assert!(
        output.len() < 32 * 1024,
        "summary is {} bytes",
        output.len()
    );
}

fn html_output(text: &str) -> String {
    let mut report = HtmlReport::new();
    for record in hostile_records(text) {
        report.add(&record, text);
    }
    report.render(&hostile_stats(text), Lang::En)
}

fn assert_html_inert(html: &str) {
    // Only the report's own elements exist.
    assert_eq!(html.matches("<script").count(), 1);
    assert_eq!(html.matches("</script").count(), 1);
    assert_eq!(html.matches("<style").count(), 1);
    assert!(!html.contains(HOSTILE));
    assert!(!html.contains("<script>alert"));
    // No attribute value was closed early by a quote from the input.
    assert!(!html.contains("\" onmouseover"));
    assert!(!html.contains("' onmouseover"));
    // No control or reordering character reaches the page.
    assert!(
        !html.chars().any(|c| c != '\n' && is_unsafe_char(c)),
        "unsafe character in the page"
    );
}

#[test]
fn html_escapes_every_field() {
    let html = html_output(HOSTILE);
    assert_html_inert(&html);
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
    assert!(html.contains("\\u{202e}gpj.exe"));
}

#[test]
fn html_bounds_huge_strings() {
    let html = html_output(&huge());
    assert_html_inert(&html);
    // The map and tables hold cut copies of the fields, not 64 KiB each.
    assert!(html.len() < 200 * 1024, "report is {} bytes", html.len());
}

#[test]
fn html_loads_nothing() {
    let fixtures = fixtures();
    let mut report = HtmlReport::new();
    for fixture in fixtures
        .iter()
        .filter(|fixture| fixture.record.flow_id != "hostile-http")
    {
        report.add(&fixture.record, &fixture.record.reason);
    }
    let html = report.render(&run_stats(&fixtures), Lang::En);

    for needle in [
        "//", "src=", "href=", "@import", "<link", "<iframe", "<img", "<object", "<embed",
    ] {
        let found: Vec<usize> = html.match_indices(needle).map(|(at, _)| at).collect();
        // "//" appears in the script's comments only.
        let outside_script = found.iter().any(|&at| {
            let script_start = html.find("<script>").unwrap();
            let script_end = html.find("</script>").unwrap();
            !(script_start..script_end).contains(&at)
        });
        assert!(!outside_script, "{needle:?} found in the report");
    }
    // `url(` only ever names a fragment of the document itself.
    for (at, _) in html.match_indices("url(") {
        assert_eq!(&html[at..at + 5], "url(#", "external url at byte {at}");
    }
    let policy_start = html.find("Content-Security-Policy").unwrap();
    assert!(
        html[policy_start..]
            .starts_with("Content-Security-Policy\" content=\"default-src &#39;none&#39;;")
    );
}
