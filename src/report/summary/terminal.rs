//! The summary as aligned text for a terminal: at most `width` columns (100 by
//! default), colour only when asked for, every value from the wire passed
//! through [`escape::terminal_text`] so no escape sequence of a packet reaches
//! the screen.
//!
//! Only ASCII is used for the layout's own marks (`->`, `...`), because arrows
//! and ellipses have East Asian ambiguous width: some Japanese terminals draw
//! them two columns wide, which would break the alignment.

use std::io::{self, Write};

use anstyle::{AnsiColor, Effects, Style};

use super::labels::{self, RoleName};
use super::text::{self, pad_left, pad_right, width, wrap};
use super::{Row, Summary, Verdict};
use crate::i18n::{Lang, message};
use crate::report::escape;
use crate::report::stats::{RunStats, StatGroup, StatKey};

/// Default width of the summary, in terminal columns.
pub const DEFAULT_WIDTH: usize = 100;

/// Narrowest width the layout supports; a smaller request is raised to it.
const MIN_WIDTH: usize = 60;

/// Out-of-scope paths shown before the rest are collapsed into one line.
pub const MAX_OUT_OF_SCOPE_SHOWN: usize = 10;

/// Widest a port, protocol or rule cell may be before it is cut. The values
/// the matrix uses fit (`49152-65535/TCP`, `(ペイロードなし)`,
/// `internal.unrestricted`); longer ones come from a site file or a bug.
const MAX_PORT_COLUMNS: usize = 16;
const MAX_PROTOCOL_COLUMNS: usize = 16;
const MAX_RULE_COLUMNS: usize = 24;

/// Narrowest the path column may get before other columns are cut.
const MIN_PATH_COLUMNS: usize = 16;

/// Narrowest a port, protocol or rule column may be cut to.
const MIN_CUT_COLUMNS: usize = 8;

const INDENT: &str = "  ";
const DETAIL_INDENT: &str = "      ";
const GAP: &str = "  ";
/// Indent of the second half of a path split over two lines.
const CONTINUATION: &str = "  ";

/// How to write a summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SummaryOptions {
    pub lang: Lang,
    /// Colour with ANSI escape sequences; see [`stdout_wants_color`].
    pub color: bool,
    /// Line width in terminal columns; at least 60.
    pub width: usize,
}

impl SummaryOptions {
    /// Returns options for `lang`, without colour, 100 columns wide.
    pub fn new(lang: Lang) -> SummaryOptions {
        SummaryOptions {
            lang,
            color: false,
            width: DEFAULT_WIDTH,
        }
    }
}

/// Returns true when standard output should be coloured: it is a terminal,
/// `NO_COLOR` is unset or empty (<https://no-color.org>), and `TERM` is not
/// `dumb`; `CLICOLOR_FORCE` forces colour. The rules are anstream's.
pub fn stdout_wants_color() -> bool {
    anstream::AutoStream::choice(&io::stdout()) != anstream::ColorChoice::Never
}

/// Styles of the parts of the summary.
struct Palette {
    color: bool,
}

impl Palette {
    fn paint(&self, style: Style, text: &str) -> String {
        if self.color && !text.is_empty() {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    }

    fn title(&self, text: &str) -> String {
        self.paint(Style::new().effects(Effects::BOLD), text)
    }

    fn heading(&self, verdict: Option<Verdict>, text: &str) -> String {
        let style = Style::new().effects(Effects::BOLD);
        let style = match verdict {
            Some(Verdict::Unexpected) => style.fg_color(Some(AnsiColor::Red.into())),
            Some(Verdict::Allowed) => style.fg_color(Some(AnsiColor::Green.into())),
            Some(Verdict::OutOfScope) | None => style,
        };
        self.paint(style, text)
    }

    fn dim(&self, text: &str) -> String {
        self.paint(Style::new().effects(Effects::DIMMED), text)
    }
}

/// Writes the summary and the run statistics as text.
pub fn write_summary<W: Write + ?Sized>(
    out: &mut W,
    summary: &Summary,
    stats: &RunStats,
    options: &SummaryOptions,
) -> io::Result<()> {
    let options = SummaryOptions {
        width: options.width.max(MIN_WIDTH),
        ..*options
    };
    let palette = Palette {
        color: options.color,
    };
    let mut lines = Vec::new();

    title_lines(&mut lines, summary, stats, &options, &palette);
    for verdict in Verdict::ALL {
        lines.push(String::new());
        section_lines(&mut lines, summary, verdict, &options, &palette);
    }
    if summary.invalid_verdicts > 0 {
        lines.push(String::new());
        let args = [
            (
                "records",
                labels::count_noun(options.lang, "record", summary.invalid_verdicts),
            ),
            ("records_n", text::group_digits(summary.invalid_verdicts)),
        ];
        let note = message_with(options.lang, "report.summary.invalid_verdicts", &args);
        push_wrapped(&mut lines, "", "", &note, options.width);
    }
    lines.push(String::new());
    stats_lines(&mut lines, stats, &options, &palette);

    for line in lines {
        writeln!(out, "{}", line.trim_end())?;
    }
    out.flush()
}

fn title_lines(
    lines: &mut Vec<String>,
    summary: &Summary,
    stats: &RunStats,
    options: &SummaryOptions,
    palette: &Palette,
) {
    let lang = options.lang;
    let unexpected = summary.totals(Verdict::Unexpected);
    let mut title = message_with(
        lang,
        "report.summary.title",
        &counts(lang, summary.rows.len() as u64, summary.total_flows()),
    );
    // Japanese puts no space after a full stop.
    if !title.ends_with('。') {
        title.push(' ');
    }
    if unexpected.flows == 0 {
        title.push_str(&message(lang, "report.summary.no_unexpected", &[]));
    } else {
        title.push_str(&message_with(
            lang,
            "report.summary.attention",
            &counts(lang, unexpected.rows as u64, unexpected.flows),
        ));
    }
    // Errors go into the headline, because the counts cover only what was
    // read.
    if stats.error_count() > 0 {
        if !title.ends_with('。') {
            title.push(' ');
        }
        let count = text::group_digits(stats.error_count());
        title.push_str(&message(
            lang,
            "report.summary.errors",
            &[("count", &count)],
        ));
    }
    for line in wrap(&title, options.width) {
        lines.push(palette.title(&line));
    }
}

/// Returns message arguments for a number of paths and flows: `paths` and
/// `flows` with their noun ("1 path", "8 flows"), `paths_n` and `flows_n` as
/// bare numbers, for languages that place the counter word themselves.
fn counts(lang: Lang, paths: u64, flows: u64) -> [(&'static str, String); 4] {
    [
        ("paths", labels::count_noun(lang, "path", paths)),
        ("flows", labels::count_noun(lang, "flow", flows)),
        ("paths_n", text::group_digits(paths)),
        ("flows_n", text::group_digits(flows)),
    ]
}

/// Looks up `key` with owned arguments.
fn message_with(lang: Lang, key: &str, args: &[(&str, String)]) -> String {
    let borrowed: Vec<(&str, &str)> = args
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    message(lang, key, &borrowed)
}

fn section_lines(
    lines: &mut Vec<String>,
    summary: &Summary,
    verdict: Verdict,
    options: &SummaryOptions,
    palette: &Palette,
) {
    let lang = options.lang;
    let totals = summary.totals(verdict);
    let heading = if totals.flows == 0 {
        message(
            lang,
            &format!("report.section_none.{}", verdict.as_str()),
            &[],
        )
    } else {
        let mut args = counts(lang, totals.rows as u64, totals.flows).to_vec();
        args.push(("bytes", text::human_bytes(totals.bytes)));
        message_with(lang, &format!("report.section.{}", verdict.as_str()), &args)
    };
    lines.push(palette.heading(Some(verdict), &heading));
    if totals.flows == 0 {
        return;
    }

    let rows: Vec<&Row> = summary.rows_of(verdict).collect();
    let shown = if verdict == Verdict::OutOfScope && rows.len() > MAX_OUT_OF_SCOPE_SHOWN {
        MAX_OUT_OF_SCOPE_SHOWN
    } else {
        rows.len()
    };
    let table = Table::new(&rows[..shown], verdict == Verdict::Allowed, options);
    lines.push(palette.dim(&table.header(lang)));
    for (index, row) in rows[..shown].iter().enumerate() {
        // An example and its reason take several lines; a blank line keeps
        // each unexpected path apart from the next.
        if index > 0 && row.example.is_some() {
            lines.push(String::new());
        }
        lines.extend(table.row_lines(row, lang));
        if let Some(example) = &row.example {
            example_lines(lines, example, options, palette);
        }
    }

    if shown < rows.len() {
        let hidden = &rows[shown..];
        let flows = hidden.iter().map(|row| row.flows).sum::<u64>();
        let bytes = hidden.iter().map(|row| row.bytes).sum::<u64>();
        let mut args = counts(lang, hidden.len() as u64, flows).to_vec();
        args.push(("bytes", text::human_bytes(bytes)));
        let note = message_with(lang, "report.summary.collapsed", &args);
        push_wrapped(lines, INDENT, INDENT, &note, options.width);
    }
    if totals.overflow.flows > 0 {
        let mut args = counts(lang, totals.rows as u64, totals.overflow.flows).to_vec();
        args.push(("bytes", text::human_bytes(totals.overflow.bytes)));
        let note = message_with(lang, "report.summary.overflow", &args);
        push_wrapped(lines, INDENT, INDENT, &note, options.width);
    }
}

fn example_lines(
    lines: &mut Vec<String>,
    example: &super::Example,
    options: &SummaryOptions,
    palette: &Palette,
) {
    let lang = options.lang;
    let flow = format!(
        "{} -> {}  {}",
        escape::terminal_text(&example.client),
        escape::terminal_text(&example.server),
        escape::terminal_text(&example.ts_start),
    );
    let reason = escape::terminal_text(&example.reason);
    let entries = [
        (message(lang, "report.summary.example", &[]), flow.as_str()),
        (message(lang, "report.summary.reason", &[]), reason.as_ref()),
    ];
    let label_width = entries
        .iter()
        .map(|(label, _)| width(label))
        .max()
        .unwrap_or(0)
        + 1;
    for (label, value) in entries {
        let hanging = format!("{DETAIL_INDENT}{}", " ".repeat(label_width));
        let first = format!(
            "{DETAIL_INDENT}{}",
            palette.dim(&pad_right(&label, label_width))
        );
        let body_width = options.width.saturating_sub(width(&hanging));
        for (index, line) in wrap(value, body_width).into_iter().enumerate() {
            let prefix = if index == 0 { &first } else { &hanging };
            lines.push(format!("{prefix}{line}"));
        }
    }
}

/// Appends `text` wrapped to `columns`, the first line after `first` and the
/// others after `rest`.
fn push_wrapped(lines: &mut Vec<String>, first: &str, rest: &str, text: &str, columns: usize) {
    let body = columns.saturating_sub(width(first).max(width(rest)));
    for (index, line) in wrap(text, body).into_iter().enumerate() {
        let prefix = if index == 0 { first } else { rest };
        lines.push(format!("{prefix}{line}"));
    }
}

/// Column widths of one section's table.
struct Table {
    path: usize,
    port: usize,
    protocol: usize,
    flows: usize,
    bytes: usize,
    /// Zero when the section has no rule column.
    rule: usize,
}

/// Cells of one row, escaped and ready to measure.
struct Cells {
    /// The whole path, `client -> server`.
    path: String,
    /// The path's two halves, `client ->` and `server`, for a path that does
    /// not fit on one line.
    path_client: String,
    path_server: String,
    port: String,
    protocol: String,
    flows: String,
    bytes: String,
    rule: String,
}

fn cells_of(row: &Row, lang: Lang) -> Cells {
    let client = labels::role_set_label(lang, &row.path.client_roles, RoleName::Short);
    let server = labels::role_set_label(lang, &row.path.server_roles, RoleName::Short);
    let path_client = escape::terminal_text(&format!("{client} ->")).into_owned();
    let path_server = escape::terminal_text(&server).into_owned();
    Cells {
        path: format!("{path_client} {path_server}"),
        path_client,
        path_server,
        port: cut_cell(
            &labels::port_label(&row.path.transport, row.path.port),
            MAX_PORT_COLUMNS,
        ),
        protocol: cut_cell(
            &labels::app_label(lang, &row.path.app),
            MAX_PROTOCOL_COLUMNS,
        ),
        flows: text::group_digits(row.flows),
        bytes: text::human_bytes(row.bytes),
        rule: row
            .rule
            .as_deref()
            .map(|rule| cut_cell(rule, MAX_RULE_COLUMNS))
            .unwrap_or_default(),
    }
}

/// Escapes `value` for the terminal and cuts it to `columns`.
fn cut_cell(value: &str, columns: usize) -> String {
    text::cut_columns(&escape::terminal_text(value), columns).into_owned()
}

fn header_cells(lang: Lang) -> Cells {
    let label = |key: &str| message(lang, &format!("report.column.{key}"), &[]);
    Cells {
        path: label("path"),
        path_client: String::new(),
        path_server: String::new(),
        port: label("port"),
        protocol: label("protocol"),
        flows: label("flows"),
        bytes: label("bytes"),
        rule: label("rule"),
    }
}

/// Returns a column width reduced by `excess`, but not below
/// [`MIN_CUT_COLUMNS`]; an absent column (width 0) stays absent.
fn shrink(columns: usize, excess: usize) -> usize {
    if columns == 0 || excess == 0 {
        columns
    } else {
        columns
            .saturating_sub(excess)
            .max(MIN_CUT_COLUMNS.min(columns))
    }
}

impl Table {
    fn new(rows: &[&Row], with_rule: bool, options: &SummaryOptions) -> Table {
        let header = header_cells(options.lang);
        let mut table = Table {
            path: width(&header.path),
            port: width(&header.port),
            protocol: width(&header.protocol),
            flows: width(&header.flows),
            bytes: width(&header.bytes),
            rule: if with_rule { width(&header.rule) } else { 0 },
        };
        for row in rows {
            let cells = cells_of(row, options.lang);
            table.path = table.path.max(width(&cells.path));
            table.port = table.port.max(width(&cells.port));
            table.protocol = table.protocol.max(width(&cells.protocol));
            table.flows = table.flows.max(width(&cells.flows));
            table.bytes = table.bytes.max(width(&cells.bytes));
            if with_rule {
                table.rule = table.rule.max(width(&cells.rule));
            }
        }

        // The path column takes what the others leave. A path too long for
        // it is split after the arrow, and only a half still too long wraps.
        let gaps = if with_rule { 5 } else { 4 } * GAP.len();
        let used = |table: &Table| {
            INDENT.len()
                + gaps
                + table.port
                + table.protocol
                + table.flows
                + table.bytes
                + table.rule
        };

        // When even the narrowest path column does not fit, cut the rule,
        // protocol and port columns, in that order.
        let excess = (used(&table) + MIN_PATH_COLUMNS).saturating_sub(options.width);
        table.rule = shrink(table.rule, excess);
        let excess = (used(&table) + MIN_PATH_COLUMNS).saturating_sub(options.width);
        table.protocol = shrink(table.protocol, excess);
        let excess = (used(&table) + MIN_PATH_COLUMNS).saturating_sub(options.width);
        table.port = shrink(table.port, excess);

        let available = options
            .width
            .saturating_sub(used(&table))
            .max(MIN_PATH_COLUMNS);
        table.path = table.path.min(available);
        table
    }

    fn header(&self, lang: Lang) -> String {
        let cells = header_cells(lang);
        self.line(&cells, &text::cut_columns(&cells.path, self.path))
    }

    /// Returns the lines of one row: the path wraps onto extra lines that
    /// carry no other cell.
    fn row_lines(&self, row: &Row, lang: Lang) -> Vec<String> {
        let cells = cells_of(row, lang);
        if width(&cells.path) <= self.path {
            return vec![self.line(&cells, &cells.path)];
        }
        let mut path_lines = wrap(&cells.path_client, self.path);
        for server_line in wrap(&cells.path_server, self.path - CONTINUATION.len()) {
            path_lines.push(format!("{CONTINUATION}{server_line}"));
        }
        let mut lines = vec![self.line(&cells, &path_lines[0])];
        for continuation in &path_lines[1..] {
            lines.push(format!("{INDENT}{continuation}"));
        }
        lines
    }

    fn line(&self, cells: &Cells, path: &str) -> String {
        let port = text::cut_columns(&cells.port, self.port);
        let protocol = text::cut_columns(&cells.protocol, self.protocol);
        let mut line = format!(
            "{INDENT}{}{GAP}{}{GAP}{}{GAP}{}{GAP}{}",
            pad_right(path, self.path),
            pad_right(&port, self.port),
            pad_right(&protocol, self.protocol),
            pad_left(&cells.flows, self.flows),
            pad_left(&cells.bytes, self.bytes),
        );
        if self.rule > 0 {
            line.push_str(GAP);
            line.push_str(&text::cut_columns(&cells.rule, self.rule));
        }
        line
    }
}

fn stats_lines(
    lines: &mut Vec<String>,
    stats: &RunStats,
    options: &SummaryOptions,
    palette: &Palette,
) {
    let lang = options.lang;
    lines.push(palette.heading(None, &message(lang, "report.stats.title", &[])));

    // Collect label/value pairs per group first, so that every value column
    // lines up across groups.
    let mut groups: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for group in StatGroup::ALL {
        let mut entries = Vec::new();
        for (key, value) in stats.iter().filter(|(key, _)| key.group() == group) {
            if value == 0 && key.hidden_when_zero() {
                continue;
            }
            let label = message(lang, &format!("report.stat.{}", key.id()), &[]);
            entries.push((label, stat_value(key, value)));
        }
        if group == StatGroup::Input {
            let elapsed = format!("{:.2} s", stats.elapsed_secs.max(0.0));
            entries.push((message(lang, "report.stat.elapsed", &[]), elapsed));
            if stats.elapsed_secs > 0.0 {
                let rate = stats.get(StatKey::PacketsDecoded) as f64 / stats.elapsed_secs;
                entries.push((
                    message(lang, "report.stat.packets_per_second", &[]),
                    text::group_digits(rate.round() as u64),
                ));
            }
        }
        let heading = message(lang, &format!("report.stat_group.{}", group.id()), &[]);
        groups.push((heading, entries));
    }

    let label_width = groups
        .iter()
        .flat_map(|(_, entries)| entries.iter().map(|(label, _)| width(label)))
        .max()
        .unwrap_or(0);
    let value_width = groups
        .iter()
        .flat_map(|(_, entries)| {
            entries
                .iter()
                .map(|(_, value)| width(value.split(' ').next().unwrap_or("")))
        })
        .max()
        .unwrap_or(0);
    for (heading, entries) in groups {
        lines.push(format!("{INDENT}{heading}"));
        for (label, value) in entries {
            // Right-align the number; a unit in brackets follows it.
            let (number, unit) = value.split_once(' ').unwrap_or((value.as_str(), ""));
            let mut line = format!(
                "{INDENT}{INDENT}{}{GAP}{}",
                pad_right(&label, label_width),
                pad_left(number, value_width)
            );
            if !unit.is_empty() {
                line.push(' ');
                line.push_str(unit);
            }
            lines.push(line);
        }
    }

    if stats.error_count() > 0 {
        let count = text::group_digits(stats.error_count());
        lines.push(format!(
            "{INDENT}{}",
            message(lang, "report.stats.errors", &[("count", &count)])
        ));
        for error in &stats.errors {
            let location = match error.offset {
                Some(offset) => message(
                    lang,
                    "report.stats.error_at",
                    &[("offset", &text::group_digits(offset))],
                ),
                None => String::new(),
            };
            let line = format!(
                "{}{location}: {}",
                escape::terminal_text(&error.file),
                escape::terminal_text(&error.message)
            );
            let first = format!("{INDENT}{INDENT}");
            let rest = format!("{INDENT}{INDENT}{INDENT}");
            push_wrapped(lines, &first, &rest, &line, options.width);
        }
        if stats.errors_omitted > 0 {
            let omitted = text::group_digits(stats.errors_omitted);
            lines.push(format!(
                "{INDENT}{INDENT}{}",
                message(lang, "report.stats.errors_omitted", &[("count", &omitted)])
            ));
        }
    }
}

/// Formats a counter: grouped digits, and for byte counts the binary unit in
/// brackets after them.
fn stat_value(key: StatKey, value: u64) -> String {
    if key.is_bytes() && value >= 1024 {
        format!(
            "{} ({})",
            text::group_digits(value),
            text::human_bytes(value)
        )
    } else {
        text::group_digits(value)
    }
}
