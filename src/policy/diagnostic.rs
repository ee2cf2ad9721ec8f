//! Diagnostics for rules and site files, and the spanned TOML reader both
//! parsers share.
//!
//! Every problem in a file is collected, not only the first, and each names the
//! file, the line and column (1-based, columns counted in characters) and the
//! dotted key path. `[[allow]]` and `[[row]]` tables are counted from 1 in key
//! paths: `allow[2].ports` is the `ports` key of the second `[[allow]]` table.

use std::fmt;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::role::Role;
use crate::i18n::{Lang, message};

/// Whether a diagnostic stops the file from loading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Error,
    /// The file is legal but probably not what its author meant.
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// The TOML value type a key requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    Boolean,
    Integer,
    String,
    Table,
    ArrayOfTables,
    ArrayOfStrings,
    ArrayOfIntegers,
    StringOrArrayOfStrings,
}

impl ValueType {
    fn as_str(self) -> &'static str {
        match self {
            ValueType::Boolean => "a boolean",
            ValueType::Integer => "an integer",
            ValueType::String => "a string",
            ValueType::Table => "a table",
            ValueType::ArrayOfTables => "an array of tables",
            ValueType::ArrayOfStrings => "an array of strings",
            ValueType::ArrayOfIntegers => "an array of integers",
            ValueType::StringOrArrayOfStrings => "a string or an array of strings",
        }
    }

    fn as_str_ja(self) -> &'static str {
        match self {
            ValueType::Boolean => "真偽値",
            ValueType::Integer => "整数",
            ValueType::String => "文字列",
            ValueType::Table => "テーブル",
            ValueType::ArrayOfTables => "テーブルの配列",
            ValueType::ArrayOfStrings => "文字列の配列",
            ValueType::ArrayOfIntegers => "整数の配列",
            ValueType::StringOrArrayOfStrings => "文字列または文字列の配列",
        }
    }
}

/// The problem at a diagnostic's position. The key path is in
/// [`Diagnostic::key`], and the variants carry the offending values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The file is not valid TOML; `detail` is the TOML parser's English text.
    Syntax {
        detail: String,
    },
    /// The file is not UTF-8, which TOML requires; `byte` is the first byte
    /// that is not, in two hex digits.
    NotUtf8 {
        byte: String,
    },
    UnknownKey {
        expected: String,
    },
    WrongType {
        expected: ValueType,
    },
    MissingKey,
    UnknownRole {
        value: String,
    },
    /// `internet` or `internal` listed under `[roles]`.
    ImplicitRoleListed {
        role: Role,
    },
    InvalidAddress {
        value: String,
    },
    /// A CIDR block with bits set after its prefix (warning).
    HostBitsSet {
        value: String,
        network: String,
    },
    InvalidPort {
        value: String,
    },
    PortOutOfRange {
        value: String,
    },
    ReversedPortRange {
        value: String,
    },
    EmptyList,
    /// `topology.edge_transport = true` with an empty `roles.edge_transport`.
    EdgeTopologyWithoutServers,
    /// `roles.edge_transport` lists servers but `topology.edge_transport` is false.
    EdgeServersWithoutTopology,
    /// An Edge Transport entry overlaps an entry of `role`, listed at `other`.
    EdgeSharesHost {
        value: String,
        role: Role,
        other: String,
    },
    /// An Edge Transport entry overlaps a domain controller or Lync entry
    /// (warning: legal, but an Edge Transport server is not a domain member).
    EdgeOnDomainHost {
        value: String,
        role: Role,
        other: String,
    },
    /// An `edge_subscribed_mailbox` entry outside every `mailbox` entry.
    NotAMailbox {
        value: String,
    },
    DuplicateName {
        name: String,
        first_line: usize,
    },
    InvalidName {
        value: String,
    },
    /// The same address or block listed twice for one role (warning).
    DuplicateEntry {
        value: String,
        first_line: usize,
    },
    /// An Exchange server or domain controller outside the site networks (warning).
    OutsideNetworks {
        value: String,
        role: Role,
    },
    /// `edge_subscribed_mailbox` set without an Edge topology (warning).
    SubscribedWithoutEdge,
    /// `sender_reputation.proxy_ports` set with no `roles.proxy` (warning).
    ProxyPortsWithoutProxy,
    /// `features.front_end_proxy` with an Edge topology (warning).
    FrontEndProxyWithEdge,
    /// Roles listed but `[networks]` empty (warning).
    NoNetworks,
    UnsupportedFormat {
        value: String,
    },
    UnknownApp {
        value: String,
    },
    UnknownCondition {
        value: String,
    },
    /// `roles.edge_subscribed_mailbox` set to false, or on a row without a Mailbox side.
    InvalidSubscribedCondition,
    InvalidRowId {
        value: String,
    },
    /// A row whose id prefix `order` does not list.
    GroupNotInOrder {
        group: String,
    },
    /// A row id in the `site` group, which `[[allow]]` entries own.
    ReservedGroup,
    DuplicateGroup {
        group: String,
    },
    OrderWithoutSite,
    DuplicateRowId {
        id: String,
        first_line: usize,
    },
    /// `any` given with other values in a role list or app list.
    AnyNotAlone,
    /// Both `ports` and `ports_from` in one row.
    ConflictingKeys {
        other: String,
    },
    UnknownValue {
        value: String,
        expected: String,
    },
}

/// One problem in a rules or site file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The file as the user named it, or `<built-in rules>`.
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Dotted key path, such as `roles.mailbox` or `allow[2].ports`.
    pub key: String,
    pub problem: Problem,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Returns the message without position, in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        problem_message(&self.problem, &self.key, lang)
    }

    /// Returns `file:line:column: error: key: message`, in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        let severity = message(
            lang,
            &format!("policy.severity.{}", self.severity.as_str()),
            &[],
        );
        let position = format!("{}:{}:{}", self.file, self.line, self.column);
        if self.key.is_empty() {
            format!("{position}: {severity}: {}", self.message(lang))
        } else {
            format!(
                "{position}: {severity}: {}: {}",
                self.key,
                self.message(lang)
            )
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Lang::En))
    }
}

fn problem_message(problem: &Problem, key: &str, lang: Lang) -> String {
    let line_text;
    let (name, args): (&str, Vec<(&str, &str)>) = match problem {
        Problem::Syntax { detail } => ("syntax", vec![("detail", detail)]),
        Problem::NotUtf8 { byte } => ("not_utf8", vec![("byte", byte)]),
        Problem::UnknownKey { expected } => ("unknown_key", vec![("expected", expected)]),
        Problem::WrongType { expected } => (
            "wrong_type",
            vec![(
                "expected",
                match lang {
                    Lang::En => expected.as_str(),
                    Lang::Ja => expected.as_str_ja(),
                },
            )],
        ),
        Problem::MissingKey => ("missing_key", vec![]),
        Problem::UnknownRole { value } => ("unknown_role", vec![("value", value)]),
        Problem::ImplicitRoleListed { role } => ("implicit_role", vec![("role", role.as_str())]),
        Problem::InvalidAddress { value } => ("invalid_address", vec![("value", value)]),
        Problem::HostBitsSet { value, network } => (
            "host_bits_set",
            vec![("value", value), ("network", network)],
        ),
        Problem::InvalidPort { value } => ("invalid_port", vec![("value", value)]),
        Problem::PortOutOfRange { value } => ("port_out_of_range", vec![("value", value)]),
        Problem::ReversedPortRange { value } => ("reversed_port_range", vec![("value", value)]),
        Problem::EmptyList => ("empty_list", vec![]),
        Problem::EdgeTopologyWithoutServers => ("edge_topology_without_servers", vec![]),
        Problem::EdgeServersWithoutTopology => ("edge_servers_without_topology", vec![]),
        Problem::EdgeSharesHost { value, role, other } => (
            "edge_shares_host",
            vec![("value", value), ("role", role.as_str()), ("other", other)],
        ),
        Problem::EdgeOnDomainHost { value, role, other } => (
            "edge_on_domain_host",
            vec![("value", value), ("role", role.as_str()), ("other", other)],
        ),
        Problem::NotAMailbox { value } => ("not_a_mailbox", vec![("value", value)]),
        Problem::DuplicateName { name, first_line } => {
            line_text = first_line.to_string();
            ("duplicate_name", vec![("name", name), ("line", &line_text)])
        }
        Problem::InvalidName { value } => ("invalid_name", vec![("value", value)]),
        Problem::DuplicateEntry { value, first_line } => {
            line_text = first_line.to_string();
            (
                "duplicate_entry",
                vec![("value", value), ("line", &line_text)],
            )
        }
        Problem::OutsideNetworks { value, role } => (
            "outside_networks",
            vec![("value", value), ("role", role.as_str())],
        ),
        Problem::SubscribedWithoutEdge => ("subscribed_without_edge", vec![]),
        Problem::ProxyPortsWithoutProxy => ("proxy_ports_without_proxy", vec![]),
        Problem::FrontEndProxyWithEdge => ("front_end_proxy_with_edge", vec![]),
        Problem::NoNetworks => ("no_networks", vec![]),
        Problem::UnsupportedFormat { value } => ("unsupported_format", vec![("value", value)]),
        Problem::UnknownApp { value } => ("unknown_app", vec![("value", value)]),
        Problem::UnknownCondition { value } => ("unknown_condition", vec![("value", value)]),
        Problem::InvalidSubscribedCondition => ("invalid_subscribed_condition", vec![]),
        Problem::InvalidRowId { value } => ("invalid_row_id", vec![("value", value)]),
        Problem::GroupNotInOrder { group } => ("group_not_in_order", vec![("group", group)]),
        Problem::ReservedGroup => ("reserved_group", vec![]),
        Problem::DuplicateGroup { group } => ("duplicate_group", vec![("group", group)]),
        Problem::OrderWithoutSite => ("order_without_site", vec![]),
        Problem::DuplicateRowId { id, first_line } => {
            line_text = first_line.to_string();
            ("duplicate_row_id", vec![("id", id), ("line", &line_text)])
        }
        Problem::AnyNotAlone => ("any_not_alone", vec![]),
        Problem::ConflictingKeys { other } => ("conflicting_keys", vec![("other", other)]),
        Problem::UnknownValue { value, expected } => (
            "unknown_value",
            vec![("value", value), ("expected", expected)],
        ),
    };
    let mut args = args;
    args.push(("key", key));
    args.push(("roles", ROLE_NAMES_TEXT));
    message(lang, &format!("policy.diag.{name}"), &args)
}

/// The role names a site file may list, for messages.
const ROLE_NAMES_TEXT: &str = "client_access, mailbox, edge_transport, dns, domain_controller, lync, proxy, edge_subscribed_mailbox";

/// Line starts of a text, to turn byte offsets into line and column.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(offset, _)| offset + 1));
        LineIndex { starts }
    }

    /// Returns the 1-based line and column (in characters) of `offset`.
    fn position(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(text.len());
        let line = self.starts.partition_point(|&start| start <= offset);
        let start = self.starts[line - 1];
        let column = text
            .get(start..offset)
            .map_or(1, |prefix| prefix.chars().count() + 1);
        (line, column)
    }
}

/// Reads a spanned TOML document and collects diagnostics with positions.
pub(crate) struct Reader<'a> {
    file: &'a str,
    text: &'a str,
    lines: LineIndex,
    pub diagnostics: Vec<Diagnostic>,
}

/// A string value with its span.
pub(crate) type SpannedStr<'t> = (&'t str, Range<usize>);

impl<'a> Reader<'a> {
    pub fn new(file: &'a str, text: &'a str) -> Reader<'a> {
        Reader {
            file,
            text,
            lines: LineIndex::new(text),
            diagnostics: Vec::new(),
        }
    }

    /// Parses the document. On syntax errors, records one diagnostic per line
    /// (the parser's recovery repeats itself on the lines after a mistake) and
    /// returns `None`, because the recovered tree would add errors that are
    /// only echoes of the syntax error.
    pub fn parse(&mut self) -> Option<Spanned<DeTable<'a>>> {
        let (document, errors) = DeTable::parse_recoverable(self.text);
        if errors.is_empty() {
            return Some(document);
        }

        let mut lines_seen = Vec::new();
        for error in errors {
            let span = error.span().unwrap_or(0..0);
            let (line, _) = self.position(span.start);
            if lines_seen.contains(&line) {
                continue;
            }
            lines_seen.push(line);
            self.error(
                span,
                String::new(),
                Problem::Syntax {
                    detail: error.message().trim().to_string(),
                },
            );
        }
        None
    }

    /// Returns the 1-based line and column of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        self.lines.position(self.text, offset)
    }

    pub fn line_of(&self, span: &Range<usize>) -> usize {
        self.position(span.start).0
    }

    pub fn error(&mut self, span: Range<usize>, key: String, problem: Problem) {
        self.push(Severity::Error, span, key, problem);
    }

    pub fn warning(&mut self, span: Range<usize>, key: String, problem: Problem) {
        self.push(Severity::Warning, span, key, problem);
    }

    fn push(&mut self, severity: Severity, span: Range<usize>, key: String, problem: Problem) {
        let (line, column) = self.position(span.start);
        self.diagnostics.push(Diagnostic {
            severity,
            file: self.file.to_string(),
            line,
            column,
            key,
            problem,
        });
    }

    /// Reports every key of `table` that `allowed` does not name.
    pub fn check_keys(&mut self, table: &DeTable<'_>, prefix: &str, allowed: &[&str]) {
        for (key, _) in table.iter() {
            if !allowed.contains(&key.get_ref().as_ref()) {
                self.error(
                    key.span(),
                    join_key(prefix, key.get_ref()),
                    Problem::UnknownKey {
                        expected: allowed.join(", "),
                    },
                );
            }
        }
    }

    /// Returns the table at `key`, reporting a value of another type.
    pub fn table<'t, 'i>(
        &mut self,
        table: &'t DeTable<'i>,
        prefix: &str,
        key: &str,
    ) -> Option<&'t DeTable<'i>> {
        let value = table.get(key)?;
        match value.get_ref() {
            DeValue::Table(inner) => Some(inner),
            _ => {
                self.wrong_type(value.span(), join_key(prefix, key), ValueType::Table);
                None
            }
        }
    }

    pub fn bool(&mut self, table: &DeTable<'_>, prefix: &str, key: &str) -> Option<bool> {
        let value = table.get(key)?;
        match value.get_ref() {
            DeValue::Boolean(flag) => Some(*flag),
            _ => {
                self.wrong_type(value.span(), join_key(prefix, key), ValueType::Boolean);
                None
            }
        }
    }

    pub fn integer(
        &mut self,
        table: &DeTable<'_>,
        prefix: &str,
        key: &str,
    ) -> Option<(i64, Range<usize>)> {
        let value = table.get(key)?;
        match value.get_ref().as_integer().and_then(integer_value) {
            Some(number) => Some((number, value.span())),
            None => {
                self.wrong_type(value.span(), join_key(prefix, key), ValueType::Integer);
                None
            }
        }
    }

    pub fn string<'t>(
        &mut self,
        table: &'t DeTable<'_>,
        prefix: &str,
        key: &str,
    ) -> Option<SpannedStr<'t>> {
        let value = table.get(key)?;
        match value.get_ref().as_str() {
            Some(text) => Some((text, value.span())),
            None => {
                self.wrong_type(value.span(), join_key(prefix, key), ValueType::String);
                None
            }
        }
    }

    /// Returns the array of strings at `key`; with `allow_single`, a lone
    /// string is read as a one-element array. Elements of another type are
    /// reported and left out.
    pub fn strings<'t>(
        &mut self,
        table: &'t DeTable<'_>,
        prefix: &str,
        key: &str,
        allow_single: bool,
    ) -> Option<Vec<SpannedStr<'t>>> {
        let value = table.get(key)?;
        let path = join_key(prefix, key);
        let expected = if allow_single {
            ValueType::StringOrArrayOfStrings
        } else {
            ValueType::ArrayOfStrings
        };
        match value.get_ref() {
            DeValue::String(text) if allow_single => Some(vec![(text.as_ref(), value.span())]),
            DeValue::Array(items) => {
                let mut strings = Vec::with_capacity(items.len());
                for item in items.iter() {
                    match item.get_ref().as_str() {
                        Some(text) => strings.push((text, item.span())),
                        None => self.wrong_type(item.span(), path.clone(), expected),
                    }
                }
                Some(strings)
            }
            _ => {
                self.wrong_type(value.span(), path, expected);
                None
            }
        }
    }

    /// Returns the array of integers at `key`; elements of another type are
    /// reported and left out.
    pub fn integers(
        &mut self,
        table: &DeTable<'_>,
        prefix: &str,
        key: &str,
    ) -> Option<Vec<(i64, Range<usize>)>> {
        let value = table.get(key)?;
        let path = join_key(prefix, key);
        let DeValue::Array(items) = value.get_ref() else {
            self.wrong_type(value.span(), path, ValueType::ArrayOfIntegers);
            return None;
        };
        let mut numbers = Vec::with_capacity(items.len());
        for item in items.iter() {
            match item.get_ref().as_integer().and_then(integer_value) {
                Some(number) => numbers.push((number, item.span())),
                None => self.wrong_type(item.span(), path.clone(), ValueType::ArrayOfIntegers),
            }
        }
        Some(numbers)
    }

    /// Returns the tables of the array of tables at `key` with their spans.
    pub fn tables<'t, 'i>(
        &mut self,
        table: &'t DeTable<'i>,
        prefix: &str,
        key: &str,
    ) -> Vec<(&'t DeTable<'i>, Range<usize>)> {
        let Some(value) = table.get(key) else {
            return Vec::new();
        };
        let path = join_key(prefix, key);
        let DeValue::Array(items) = value.get_ref() else {
            self.wrong_type(value.span(), path, ValueType::ArrayOfTables);
            return Vec::new();
        };
        let mut tables = Vec::with_capacity(items.len());
        for item in items.iter() {
            match item.get_ref() {
                DeValue::Table(inner) => tables.push((inner, item.span())),
                _ => self.wrong_type(item.span(), path.clone(), ValueType::ArrayOfTables),
            }
        }
        tables
    }

    pub fn wrong_type(&mut self, span: Range<usize>, key: String, expected: ValueType) {
        self.error(span, key, Problem::WrongType { expected });
    }

    /// Reports a required key that is missing, at the table's own span.
    pub fn missing(&mut self, table_span: Range<usize>, key: String) {
        self.error(table_span, key, Problem::MissingKey);
    }
}

/// Returns the value of a TOML integer, or `None` when it does not fit an i64.
fn integer_value(integer: &toml::de::DeInteger<'_>) -> Option<i64> {
    i64::from_str_radix(integer.as_str(), integer.radix()).ok()
}

/// Joins a key path and a key with a dot; an empty prefix is the document root.
pub(crate) fn join_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Sorts diagnostics by file and position, errors before warnings at one spot.
pub(crate) fn sort_diagnostics(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (a.file.as_str(), a.line, a.column, a.severity).cmp(&(
            b.file.as_str(),
            b.line,
            b.column,
            b.severity,
        ))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_in_characters() {
        let text = "a = 1\nb = \"日本\" # x\n";
        let index = LineIndex::new(text);
        assert_eq!(index.position(text, 0), (1, 1));
        assert_eq!(index.position(text, 6), (2, 1));
        let hash = text.find('#').unwrap();
        assert_eq!(index.position(text, hash), (2, 10));
    }

    #[test]
    fn every_problem_has_messages() {
        let value = || "x".to_string();
        let problems = [
            Problem::Syntax { detail: value() },
            Problem::NotUtf8 { byte: value() },
            Problem::UnknownKey { expected: value() },
            Problem::WrongType {
                expected: ValueType::ArrayOfStrings,
            },
            Problem::MissingKey,
            Problem::UnknownRole { value: value() },
            Problem::ImplicitRoleListed {
                role: Role::Internal,
            },
            Problem::InvalidAddress { value: value() },
            Problem::HostBitsSet {
                value: value(),
                network: value(),
            },
            Problem::InvalidPort { value: value() },
            Problem::PortOutOfRange { value: value() },
            Problem::ReversedPortRange { value: value() },
            Problem::EmptyList,
            Problem::EdgeTopologyWithoutServers,
            Problem::EdgeServersWithoutTopology,
            Problem::EdgeSharesHost {
                value: value(),
                role: Role::Mailbox,
                other: value(),
            },
            Problem::EdgeOnDomainHost {
                value: value(),
                role: Role::Lync,
                other: value(),
            },
            Problem::NotAMailbox { value: value() },
            Problem::DuplicateName {
                name: value(),
                first_line: 3,
            },
            Problem::InvalidName { value: value() },
            Problem::DuplicateEntry {
                value: value(),
                first_line: 3,
            },
            Problem::OutsideNetworks {
                value: value(),
                role: Role::Mailbox,
            },
            Problem::SubscribedWithoutEdge,
            Problem::ProxyPortsWithoutProxy,
            Problem::FrontEndProxyWithEdge,
            Problem::NoNetworks,
            Problem::UnsupportedFormat { value: value() },
            Problem::UnknownApp { value: value() },
            Problem::UnknownCondition { value: value() },
            Problem::InvalidSubscribedCondition,
            Problem::InvalidRowId { value: value() },
            Problem::GroupNotInOrder { group: value() },
            Problem::ReservedGroup,
            Problem::DuplicateGroup { group: value() },
            Problem::OrderWithoutSite,
            Problem::DuplicateRowId {
                id: value(),
                first_line: 3,
            },
            Problem::AnyNotAlone,
            Problem::ConflictingKeys { other: value() },
            Problem::UnknownValue {
                value: value(),
                expected: value(),
            },
        ];
        for problem in problems {
            for lang in [Lang::En, Lang::Ja] {
                let text = problem_message(&problem, "roles.mailbox", lang);
                assert!(!text.contains("policy."), "{problem:?} {lang:?}: {text}");
                assert!(!text.contains("%{"), "{problem:?} {lang:?}: {text}");
            }
            let en = problem_message(&problem, "k", Lang::En);
            let ja = problem_message(&problem, "k", Lang::Ja);
            assert_ne!(en, ja, "{problem:?} has no Japanese text");
        }
    }

    #[test]
    fn syntax_error_has_position() {
        let text = "[topology]\nedge_transport = tru\n";
        let mut reader = Reader::new("site.toml", text);
        assert!(reader.parse().is_none());
        assert_eq!(reader.diagnostics.len(), 1);
        let diagnostic = &reader.diagnostics[0];
        assert_eq!((diagnostic.line, diagnostic.column), (2, 18));
        assert!(matches!(diagnostic.problem, Problem::Syntax { .. }));
    }
}
