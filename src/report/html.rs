//! The HTML report (`--report FILE.html`): one self-contained file with a flow
//! map, a sortable table of unexpected flows, the observed paths and the run
//! statistics, in English or Japanese.
//!
//! The file loads nothing: CSS, JavaScript and the SVG map are inline, and a
//! Content-Security-Policy meta tag allows only that CSS and script, by hash,
//! so neither a stray URL nor injected markup could fetch or run anything.
//! Every text goes through [`html_text`], which makes terminal controls and
//! bidirectional overrides visible (as [`escape::terminal_text`] does) and
//! escapes the five HTML-special characters, in text and in attribute values.
//!
//! [`HtmlReport`] collects records one at a time with bounded memory: the
//! summary rows (capped as in [`SummaryAggregator`]), the earliest
//! [`DEFAULT_MAX_FLOWS`] unexpected flows, and up to
//! [`MAX_HOSTS_PER_NODE`] addresses per map node.

use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::OnceLock;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::escape;
use super::record::FlowRecord;
use super::stats::{RunStats, StatGroup, StatKey};
use super::summary::labels::{self, RoleName};
use super::summary::text::{self, group_digits, human_bytes};
use super::summary::{
    self, MAX_ENDPOINT_CHARS, MAX_REASON_CHARS, Summary, SummaryAggregator, Verdict,
};
use crate::i18n::{Lang, message};

mod map;

/// Default maximum number of unexpected flows listed one by one; the earliest
/// by start time are kept.
pub const DEFAULT_MAX_FLOWS: usize = 2000;

/// Maximum number of distinct addresses remembered per map node; a node with
/// more is labelled "N or more hosts".
pub const MAX_HOSTS_PER_NODE: usize = 256;

/// Maximum number of map nodes (distinct role sets) whose addresses are
/// remembered.
pub const MAX_TRACKED_NODES: usize = 64;

/// Maximum length, in characters, of a detail (SNI, Host, EHLO, query name)
/// shown for an unexpected flow.
pub const MAX_DETAIL_CHARS: usize = 256;

const STYLE: &str = include_str!("html/report.css");
const SCRIPT: &str = include_str!("html/report.js");

/// Escapes `text` for HTML text and double-quoted attribute values. Unsafe
/// characters (controls, bidirectional overrides) become visible `\u{XXXX}`
/// first, so the browser shows them instead of acting on them.
pub fn html_text(text: &str) -> String {
    let visible = escape::terminal_text(text);
    let mut escaped = String::with_capacity(visible.len() + 16);
    for c in visible.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// One unexpected flow listed in the table.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ListedFlow {
    // The first two fields order the heap: earliest start, then flow id.
    ts_start: String,
    flow_id: String,
    client: String,
    client_roles: String,
    server: String,
    server_roles: String,
    port: String,
    app: String,
    bytes: u64,
    detail: String,
    reason: String,
}

/// Addresses seen on one map node.
#[derive(Clone, Debug, Default)]
struct NodeHosts {
    addresses: BTreeSet<String>,
    /// More distinct addresses were seen than [`MAX_HOSTS_PER_NODE`].
    more: bool,
}

/// Collects flow records for the HTML report.
#[derive(Clone, Debug)]
pub struct HtmlReport {
    summary: SummaryAggregator,
    /// The earliest unexpected flows, as a max-heap so the latest is dropped
    /// first when the list is full.
    unexpected: BinaryHeap<ListedFlow>,
    max_flows: usize,
    unexpected_omitted: u64,
    hosts: BTreeMap<String, NodeHosts>,
    first_start: Option<String>,
    last_end: Option<String>,
}

impl Default for HtmlReport {
    fn default() -> HtmlReport {
        HtmlReport::new()
    }
}

impl HtmlReport {
    /// Creates a report with the default caps: [`summary::DEFAULT_MAX_ROWS`]
    /// rows per verdict and [`DEFAULT_MAX_FLOWS`] listed flows.
    pub fn new() -> HtmlReport {
        HtmlReport::with_limits(summary::DEFAULT_MAX_ROWS, DEFAULT_MAX_FLOWS)
    }

    /// Creates a report that keeps up to `max_rows` paths per verdict and lists
    /// up to `max_flows` unexpected flows.
    pub fn with_limits(max_rows: usize, max_flows: usize) -> HtmlReport {
        HtmlReport {
            summary: SummaryAggregator::with_max_rows(max_rows),
            unexpected: BinaryHeap::new(),
            max_flows,
            unexpected_omitted: 0,
            hosts: BTreeMap::new(),
            first_start: None,
            last_end: None,
        }
    }

    /// Adds one flow record; `localized_reason` is its `reason` in the
    /// report's language.
    pub fn add(&mut self, record: &FlowRecord, localized_reason: &str) {
        self.summary.add(record, localized_reason);
        self.note_time(record);
        self.note_host(&record.client.roles, &record.client.ip);
        self.note_host(&record.server.roles, &record.server.ip);

        if Verdict::from_record(&record.verdict) == Some(Verdict::Unexpected) {
            self.list_unexpected(record, localized_reason);
        }
    }

    /// Writes the report as one HTML document.
    pub fn write<W: Write + ?Sized>(
        &self,
        out: &mut W,
        stats: &RunStats,
        lang: Lang,
    ) -> io::Result<()> {
        let page = self.render(stats, lang);
        out.write_all(page.as_bytes())?;
        out.flush()
    }

    /// Returns the report as one HTML document.
    pub fn render(&self, stats: &RunStats, lang: Lang) -> String {
        let summary = self.summary.summary();
        let mut page = String::with_capacity(64 * 1024);
        self.write_head(&mut page, lang);
        self.write_header(&mut page, &summary, lang);
        self.write_map(&mut page, &summary, lang);
        self.write_unexpected(&mut page, lang);
        write_paths(&mut page, &summary, lang);
        write_stats(&mut page, stats, lang);
        let version = env!("CARGO_PKG_VERSION");
        let _ = write!(
            page,
            "<footer><p>{}</p></footer>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
            html_text(&message(
                lang,
                "report.html.footer",
                &[("version", version)]
            )),
        );
        page
    }

    fn note_time(&mut self, record: &FlowRecord) {
        let start = text::cut_chars(&record.ts_start, MAX_ENDPOINT_CHARS);
        let end = text::cut_chars(&record.ts_end, MAX_ENDPOINT_CHARS);
        if !start.is_empty()
            && self
                .first_start
                .as_deref()
                .is_none_or(|first| *start < *first)
        {
            self.first_start = Some(start.into_owned());
        }
        if !end.is_empty() && self.last_end.as_deref().is_none_or(|last| *end > *last) {
            self.last_end = Some(end.into_owned());
        }
    }

    fn note_host(&mut self, roles: &[String], ip: &str) {
        let node = summary::role_set(roles);
        if !self.hosts.contains_key(&node) && self.hosts.len() >= MAX_TRACKED_NODES {
            return;
        }
        let hosts = self.hosts.entry(node).or_default();
        if hosts.addresses.len() < MAX_HOSTS_PER_NODE {
            hosts
                .addresses
                .insert(text::cut_chars(ip, MAX_ENDPOINT_CHARS).into_owned());
        } else if !hosts.addresses.contains(ip) {
            hosts.more = true;
        }
    }

    fn list_unexpected(&mut self, record: &FlowRecord, localized_reason: &str) {
        if self.max_flows == 0 {
            self.unexpected_omitted = self.unexpected_omitted.saturating_add(1);
            return;
        }
        let later_than_all = self.unexpected.len() >= self.max_flows
            && self.unexpected.peek().is_some_and(|latest| {
                (record.ts_start.as_str(), record.flow_id.as_str())
                    >= (latest.ts_start.as_str(), latest.flow_id.as_str())
            });
        if later_than_all {
            self.unexpected_omitted = self.unexpected_omitted.saturating_add(1);
            return;
        }

        let path = summary::path_of(record, Verdict::Unexpected);
        self.unexpected.push(ListedFlow {
            ts_start: text::cut_chars(&record.ts_start, MAX_ENDPOINT_CHARS).into_owned(),
            flow_id: text::cut_chars(&record.flow_id, MAX_ENDPOINT_CHARS).into_owned(),
            client: summary::endpoint_text(&record.client.ip, record.client.port),
            client_roles: path.client_roles,
            server: summary::endpoint_text(&record.server.ip, record.server.port),
            server_roles: path.server_roles,
            port: labels::port_label(&path.transport, path.port),
            app: path.app,
            bytes: record
                .bytes
                .to_server
                .saturating_add(record.bytes.to_client),
            detail: detail_of(record),
            reason: text::cut_chars(localized_reason, MAX_REASON_CHARS).into_owned(),
        });
        if self.unexpected.len() > self.max_flows {
            self.unexpected.pop();
            self.unexpected_omitted = self.unexpected_omitted.saturating_add(1);
        }
    }

    fn write_head(&self, page: &mut String, lang: Lang) {
        let title = message(lang, "report.html.title", &[]);
        let _ = write!(
            page,
            "<!DOCTYPE html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">\n\
             <meta name=\"referrer\" content=\"no-referrer\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
            lang = lang.code(),
            csp = html_text(content_security_policy()),
            title = html_text(&title),
        );
    }

    fn write_header(&self, page: &mut String, summary: &Summary, lang: Lang) {
        let _ = write!(
            page,
            "<header>\n<h1>{}</h1>\n<p class=\"lead\">{}</p>\n",
            html_text(&message(lang, "report.html.title", &[])),
            html_text(&headline(summary, lang)),
        );
        if let (Some(first), Some(last)) = (&self.first_start, &self.last_end) {
            let _ = writeln!(
                page,
                "<p class=\"muted\">{}: {} &ndash; {}</p>",
                html_text(&message(lang, "report.html.capture_time", &[])),
                html_text(first),
                html_text(last),
            );
        }
        page.push_str("</header>\n<div class=\"cards\">\n");
        let cards = [
            (
                "unexpected",
                summary.totals(Verdict::Unexpected).flows,
                "report.stat.flows.unexpected",
            ),
            (
                "allowed",
                summary.totals(Verdict::Allowed).flows,
                "report.stat.flows.allowed",
            ),
            (
                "out_of_scope",
                summary.totals(Verdict::OutOfScope).flows,
                "report.stat.flows.out_of_scope",
            ),
            (
                "paths",
                summary.rows.len() as u64,
                "report.html.paths.title",
            ),
        ];
        for (class, value, key) in cards {
            let _ = writeln!(
                page,
                "<div class=\"card {class}\"><div class=\"value\">{}</div><div class=\"label\">{}</div></div>",
                group_digits(value),
                html_text(&message(lang, key, &[])),
            );
        }
        page.push_str("</div>\n");
    }

    fn write_map(&self, page: &mut String, summary: &Summary, lang: Lang) {
        let _ = write!(
            page,
            "<section id=\"flow-map\">\n<h2>{}</h2>\n<p class=\"muted\">{}</p>\n",
            html_text(&message(lang, "report.html.map.title", &[])),
            html_text(&message(lang, "report.html.map.caption", &[])),
        );
        let hosts: BTreeMap<&str, map::HostSummary> = self
            .hosts
            .iter()
            .map(|(node, hosts)| {
                (
                    node.as_str(),
                    map::HostSummary {
                        addresses: hosts.addresses.iter().map(String::as_str).collect(),
                        more: hosts.more,
                    },
                )
            })
            .collect();
        let omitted = map::write_map(page, summary, &hosts, lang);

        page.push_str("<ul class=\"legend\">\n");
        for verdict in [Verdict::Allowed, Verdict::Unexpected, Verdict::OutOfScope] {
            let _ = writeln!(
                page,
                "<li class=\"{class}\"><svg viewBox=\"0 0 44 12\" aria-hidden=\"true\">\
                 <line x1=\"2\" y1=\"6\" x2=\"42\" y2=\"6\"/></svg>{label}</li>",
                class = verdict.as_str(),
                label = html_text(&message(
                    lang,
                    &format!("report.html.legend.{}", verdict.as_str()),
                    &[]
                )),
            );
        }
        let _ = writeln!(
            page,
            "<li>{}</li>\n</ul>",
            html_text(&message(lang, "report.html.legend.width", &[]))
        );
        if omitted > 0 {
            let count = group_digits(omitted as u64);
            let _ = writeln!(
                page,
                "<p class=\"muted\">{}</p>",
                html_text(&message(
                    lang,
                    "report.html.map.omitted",
                    &[
                        ("paths", &labels::count_noun(lang, "path", omitted as u64)),
                        ("paths_n", &count)
                    ]
                ))
            );
        }
        page.push_str("</section>\n");
    }

    fn write_unexpected(&self, page: &mut String, lang: Lang) {
        let _ = writeln!(
            page,
            "<section id=\"unexpected-flows\">\n<h2>{}</h2>",
            html_text(&message(lang, "report.html.unexpected.title", &[]))
        );
        if self.unexpected.is_empty() && self.unexpected_omitted == 0 {
            let _ = writeln!(
                page,
                "<p>{}</p>\n</section>",
                html_text(&message(lang, "report.html.unexpected.none", &[]))
            );
            return;
        }
        let _ = writeln!(
            page,
            "<p class=\"muted\">{}</p>",
            html_text(&message(lang, "report.html.sort_hint", &[]))
        );
        if self.unexpected_omitted > 0 {
            let shown = group_digits(self.unexpected.len() as u64);
            let omitted = group_digits(self.unexpected_omitted);
            let _ = writeln!(
                page,
                "<p>{}</p>",
                html_text(&message(
                    lang,
                    "report.html.unexpected.omitted",
                    &[("shown", &shown), ("omitted", &omitted)]
                ))
            );
        }

        page.push_str("<div class=\"table-wrap\"><table class=\"sortable\" id=\"unexpected-table\">\n<thead><tr>");
        for (key, numeric) in [
            ("time", false),
            ("client", false),
            ("server", false),
            ("port", false),
            ("protocol", false),
            ("bytes", true),
            ("detail", false),
            ("reason", false),
        ] {
            sortable_header(page, lang, key, numeric);
        }
        page.push_str("</tr></thead>\n<tbody>\n");

        let mut flows: Vec<&ListedFlow> = self.unexpected.iter().collect();
        flows.sort();
        for flow in flows {
            let _ = writeln!(
                page,
                "<tr data-flow-id=\"{flow_id}\"><td class=\"mono\">{time}</td>\
                 <td class=\"mono\">{client}<span class=\"roles\">{client_roles}</span></td>\
                 <td class=\"mono\">{server}<span class=\"roles\">{server_roles}</span></td>\
                 <td class=\"mono\">{port}</td><td>{app}</td>\
                 <td class=\"number\" data-sort=\"{bytes}\">{bytes_text}</td>\
                 <td class=\"wrap\">{detail}</td><td class=\"wrap\">{reason}</td></tr>",
                flow_id = html_text(&flow.flow_id),
                time = html_text(&flow.ts_start),
                client = html_text(&flow.client),
                client_roles = html_text(&labels::role_set_label(
                    lang,
                    &flow.client_roles,
                    RoleName::Short
                )),
                server = html_text(&flow.server),
                server_roles = html_text(&labels::role_set_label(
                    lang,
                    &flow.server_roles,
                    RoleName::Short
                )),
                port = html_text(&flow.port),
                app = html_text(&labels::app_label(lang, &flow.app)),
                bytes = flow.bytes,
                bytes_text = human_bytes(flow.bytes),
                detail = html_text(&flow.detail),
                reason = html_text(&flow.reason),
            );
        }
        page.push_str("</tbody></table></div>\n</section>\n");
    }
}

/// Returns the Content-Security-Policy of the report: nothing may load, and
/// only the report's own style sheet and script, identified by their SHA-256
/// hashes, may apply or run.
pub fn content_security_policy() -> &'static str {
    static POLICY: OnceLock<String> = OnceLock::new();
    POLICY.get_or_init(|| {
        format!(
            "default-src 'none'; style-src '{}'; script-src '{}'; base-uri 'none'; form-action 'none'",
            sha256_source(STYLE),
            sha256_source(SCRIPT)
        )
    })
}

/// Returns a CSP hash source (`sha256-<base64>`) for an inline element's text
/// (CSP Level 3, section 2.3.1).
fn sha256_source(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Returns the one-line verdict of the report, as the terminal summary's title.
fn headline(summary: &Summary, lang: Lang) -> String {
    let paths = summary.rows.len() as u64;
    let flows = summary.total_flows();
    let mut line = message(
        lang,
        "report.summary.title",
        &[
            ("paths", &labels::count_noun(lang, "path", paths)),
            ("flows", &labels::count_noun(lang, "flow", flows)),
        ],
    );
    if !line.ends_with('。') {
        line.push(' ');
    }
    let unexpected = summary.totals(Verdict::Unexpected);
    if unexpected.flows == 0 {
        line.push_str(&message(lang, "report.summary.no_unexpected", &[]));
    } else {
        let paths = unexpected.rows as u64;
        line.push_str(&message(
            lang,
            "report.html.attention",
            &[
                ("paths", &labels::count_noun(lang, "path", paths)),
                ("flows", &labels::count_noun(lang, "flow", unexpected.flows)),
                ("paths_n", &group_digits(paths)),
                ("flows_n", &group_digits(unexpected.flows)),
            ],
        ));
    }
    line
}

/// Returns the first of SNI, HTTP Host, EHLO name and DNS query name, labelled.
fn detail_of(record: &FlowRecord) -> String {
    let candidates = [
        ("SNI", &record.tls.sni),
        ("Host", &record.http.host),
        ("EHLO", &record.smtp.helo),
        ("DNS", &record.dns.qname),
    ];
    candidates
        .iter()
        .find_map(|(label, value)| {
            value
                .as_deref()
                .map(|value| format!("{label} {}", text::cut_chars(value, MAX_DETAIL_CHARS)))
        })
        .unwrap_or_default()
}

fn sortable_header(page: &mut String, lang: Lang, key: &str, numeric: bool) {
    let class = if numeric { " class=\"number\"" } else { "" };
    let _ = write!(
        page,
        "<th{class} scope=\"col\"><button type=\"button\">{}</button></th>",
        html_text(&message(lang, &format!("report.html.column.{key}"), &[]))
    );
}

fn write_paths(page: &mut String, summary: &Summary, lang: Lang) {
    let _ = writeln!(
        page,
        "<section id=\"paths\">\n<h2>{}</h2>",
        html_text(&message(lang, "report.html.paths.title", &[]))
    );
    if summary.rows.is_empty() {
        let _ = writeln!(
            page,
            "<p>{}</p>\n</section>",
            html_text(&message(lang, "report.html.map.empty", &[]))
        );
        return;
    }
    page.push_str(
        "<div class=\"table-wrap\"><table class=\"sortable\" id=\"paths-table\">\n<thead><tr>",
    );
    for (key, numeric) in [
        ("verdict", false),
        ("path", false),
        ("port", false),
        ("protocol", false),
        ("flows", true),
        ("bytes", true),
        ("rule", false),
    ] {
        sortable_header(page, lang, key, numeric);
    }
    page.push_str("</tr></thead>\n<tbody>\n");
    for row in &summary.rows {
        let path = format!(
            "{} \u{2192} {}",
            labels::role_set_label(lang, &row.path.client_roles, RoleName::Short),
            labels::role_set_label(lang, &row.path.server_roles, RoleName::Short)
        );
        let _ = writeln!(
            page,
            "<tr><td data-sort=\"{rank}\"><span class=\"badge {verdict}\">{verdict_label}</span></td>\
             <td>{path}</td><td class=\"mono\">{port}</td><td>{app}</td>\
             <td class=\"number\" data-sort=\"{flows}\">{flows_text}</td>\
             <td class=\"number\" data-sort=\"{bytes}\">{bytes_text}</td><td class=\"mono\">{rule}</td></tr>",
            rank = row.verdict as u8,
            verdict = row.verdict.as_str(),
            verdict_label = html_text(&labels::verdict_label(lang, row.verdict)),
            path = html_text(&path),
            port = html_text(&labels::port_label(&row.path.transport, row.path.port)),
            app = html_text(&labels::app_label(lang, &row.path.app)),
            flows = row.flows,
            flows_text = group_digits(row.flows),
            bytes = row.bytes,
            bytes_text = human_bytes(row.bytes),
            rule = html_text(row.rule.as_deref().unwrap_or("")),
        );
    }
    page.push_str("</tbody></table></div>\n");
    for verdict in Verdict::ALL {
        let overflow = summary.totals(verdict).overflow;
        if overflow.flows > 0 {
            let rows = summary.totals(verdict).rows as u64;
            let _ = writeln!(
                page,
                "<p class=\"muted\">{}</p>",
                html_text(&message(
                    lang,
                    "report.summary.overflow",
                    &[
                        ("paths", &labels::count_noun(lang, "path", rows)),
                        ("paths_n", &group_digits(rows)),
                        ("flows", &labels::count_noun(lang, "flow", overflow.flows)),
                        ("flows_n", &group_digits(overflow.flows)),
                        ("bytes", &human_bytes(overflow.bytes)),
                    ]
                ))
            );
        }
    }
    page.push_str("</section>\n");
}

fn write_stats(page: &mut String, stats: &RunStats, lang: Lang) {
    let _ = writeln!(
        page,
        "<section id=\"statistics\">\n<h2>{}</h2>\n<div class=\"stats\">",
        html_text(&message(lang, "report.stats.title", &[]))
    );
    for group in StatGroup::ALL {
        let _ = write!(
            page,
            "<div><h3>{}</h3><table>",
            html_text(&message(
                lang,
                &format!("report.stat_group.{}", group.id()),
                &[]
            ))
        );
        for (key, value) in stats.iter().filter(|(key, _)| key.group() == group) {
            if value == 0 && key.hidden_when_zero() {
                continue;
            }
            let shown = if key.is_bytes() && value >= 1024 {
                format!("{} ({})", group_digits(value), human_bytes(value))
            } else {
                group_digits(value)
            };
            stat_row(
                page,
                &message(lang, &format!("report.stat.{}", key.id()), &[]),
                key.id(),
                &shown,
            );
        }
        if group == StatGroup::Input {
            let elapsed = format!("{:.2} s", stats.elapsed_secs.max(0.0));
            stat_row(
                page,
                &message(lang, "report.stat.elapsed", &[]),
                "elapsed",
                &elapsed,
            );
            if stats.elapsed_secs > 0.0 {
                let rate = stats.get(StatKey::PacketsDecoded) as f64 / stats.elapsed_secs;
                stat_row(
                    page,
                    &message(lang, "report.stat.packets_per_second", &[]),
                    "packets_per_second",
                    &group_digits(rate.round() as u64),
                );
            }
        }
        page.push_str("</table></div>\n");
    }
    page.push_str("</div>\n");

    if stats.error_count() > 0 {
        let count = group_digits(stats.error_count());
        let _ = write!(
            page,
            "<h3>{}</h3>\n<div class=\"table-wrap\"><table id=\"errors\"><thead><tr>",
            html_text(&message(lang, "report.stats.errors", &[("count", &count)]))
        );
        for key in ["file", "offset", "message"] {
            let _ = write!(
                page,
                "<th scope=\"col\">{}</th>",
                html_text(&message(lang, &format!("report.html.column.{key}"), &[]))
            );
        }
        page.push_str("</tr></thead>\n<tbody>\n");
        for error in &stats.errors {
            let offset = error.offset.map(group_digits).unwrap_or_default();
            let _ = writeln!(
                page,
                "<tr><td class=\"mono\">{}</td><td class=\"number\">{}</td><td class=\"wrap\">{}</td></tr>",
                html_text(&error.file),
                offset,
                html_text(&error.message),
            );
        }
        page.push_str("</tbody></table></div>\n");
        if stats.errors_omitted > 0 {
            let omitted = group_digits(stats.errors_omitted);
            let _ = writeln!(
                page,
                "<p class=\"muted\">{}</p>",
                html_text(&message(
                    lang,
                    "report.stats.errors_omitted",
                    &[("count", &omitted)]
                ))
            );
        }
    }
    page.push_str("</section>\n");
}

fn stat_row(page: &mut String, label: &str, id: &str, value: &str) {
    let _ = write!(
        page,
        "<tr data-stat=\"{}\"><td>{}</td><td class=\"number\">{}</td></tr>",
        html_text(id),
        html_text(label),
        html_text(value)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_text_escapes_markup_and_controls() {
        assert_eq!(
            html_text("<a href='x'>\"&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;"
        );
        assert_eq!(html_text("a\u{202e}b\u{1b}c"), "a\\u{202e}b\\u{001b}c");
        assert_eq!(html_text("メール"), "メール");
    }

    #[test]
    fn policy_hashes_match_the_inline_blocks() {
        let policy = content_security_policy();
        assert!(policy.starts_with("default-src 'none';"));
        assert!(policy.contains(&sha256_source(STYLE)));
        assert!(policy.contains(&sha256_source(SCRIPT)));
        // The hash of a known input, as `openssl dgst -sha256 -binary | base64`
        // gives it.
        assert_eq!(
            sha256_source("abc"),
            "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }

    #[test]
    fn unexpected_list_keeps_the_earliest_flows() {
        let mut report = HtmlReport::with_limits(10, 2);
        for second in [5, 1, 9, 3] {
            let record = FlowRecord {
                flow_id: format!("f{second}"),
                ts_start: format!("2024-05-14T09:00:0{second}.000000Z"),
                verdict: "unexpected".to_string(),
                transport: "tcp".to_string(),
                ..FlowRecord::default()
            };
            report.add(&record, "");
        }
        let mut kept: Vec<&str> = report
            .unexpected
            .iter()
            .map(|flow| flow.flow_id.as_str())
            .collect();
        kept.sort();
        assert_eq!(kept, ["f1", "f3"]);
        assert_eq!(report.unexpected_omitted, 2);
    }

    #[test]
    fn hosts_per_node_are_capped() {
        let mut report = HtmlReport::new();
        for host in 0..(MAX_HOSTS_PER_NODE + 5) {
            let mut record = FlowRecord {
                verdict: "out_of_scope".to_string(),
                ..FlowRecord::default()
            };
            record.client.ip = format!("10.30.{}.{}", host / 250, host % 250);
            record.client.roles = vec!["internal".to_string()];
            report.add(&record, "");
        }
        let hosts = &report.hosts["internal"];
        assert_eq!(hosts.addresses.len(), MAX_HOSTS_PER_NODE);
        assert!(hosts.more);
    }
}
