//! The matrix rows: the rules file format, its parser and the built-in
//! Exchange 2013 rules (`rules/exchange2013.toml`, compiled into the binary).
//! `rules/README.md` documents the format.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

use super::diagnostic::{Diagnostic, Problem, Reader, join_key, sort_diagnostics};
use super::port::PortSpec;
use super::role::{Role, RoleSet};
use super::site::{Site, read_ports};
use crate::decode::Transport;
use crate::fingerprint::App;

/// The built-in rules file.
pub const BUILTIN_RULES: &str = include_str!("../../rules/exchange2013.toml");
/// The name diagnostics give the built-in rules file.
pub const BUILTIN_RULES_NAME: &str = "<built-in rules>";
/// The rules file format this parser reads.
pub const RULES_FORMAT: i64 = 1;
/// The group name `order` uses for the site's `[[allow]]` entries.
pub const SITE_GROUP: &str = "site";

/// Source of a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    /// A path the Exchange 2013 port page documents.
    Page,
    /// A path read from the page's prose rather than its tables.
    Extension,
    /// A rule exflow adds on top of the page.
    Product,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Page => "page",
            Origin::Extension => "extension",
            Origin::Product => "product",
        }
    }

    fn from_name(name: &str) -> Option<Origin> {
        [Origin::Page, Origin::Extension, Origin::Product]
            .into_iter()
            .find(|origin| origin.as_str() == name)
    }
}

/// Source of a row's Japanese description.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TextSource {
    /// The wording of the Japanese edition of the page.
    Page,
    /// Written for exflow (the row goes beyond the page).
    Exflow,
}

impl TextSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TextSource::Page => "page",
            TextSource::Exflow => "exflow",
        }
    }
}

/// A row's description in English and Japanese.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description {
    pub en: String,
    pub ja: String,
    pub ja_source: TextSource,
}

impl Description {
    /// Returns the description in `lang`.
    pub fn text(&self, lang: crate::i18n::Lang) -> &str {
        match lang {
            crate::i18n::Lang::En => &self.en,
            crate::i18n::Lang::Ja => &self.ja,
        }
    }
}

/// Roles one side of a row accepts: any of `roles` (or any role at all when
/// `any`), and none of `except`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoleMatch {
    pub any: bool,
    pub roles: RoleSet,
    pub except: RoleSet,
}

impl RoleMatch {
    pub fn matches(&self, roles: RoleSet) -> bool {
        (self.any || self.roles.intersects(roles)) && !self.except.intersects(roles)
    }
}

/// A site setting a row depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConditionKey {
    TopologyEdgeTransport,
    FeaturesImap4,
    FeaturesPop3,
    FeaturesFrontEndProxy,
    FeaturesSubmissionOnPort25,
    /// The row's Mailbox side must be a subscribed Mailbox server. Only `true`
    /// is allowed, and only on a row with `mailbox` in `from` or `to`.
    RolesEdgeSubscribedMailbox,
}

impl ConditionKey {
    pub const ALL: [ConditionKey; 6] = [
        ConditionKey::TopologyEdgeTransport,
        ConditionKey::FeaturesImap4,
        ConditionKey::FeaturesPop3,
        ConditionKey::FeaturesFrontEndProxy,
        ConditionKey::FeaturesSubmissionOnPort25,
        ConditionKey::RolesEdgeSubscribedMailbox,
    ];

    /// Returns the site file key, such as `features.imap4`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionKey::TopologyEdgeTransport => "topology.edge_transport",
            ConditionKey::FeaturesImap4 => "features.imap4",
            ConditionKey::FeaturesPop3 => "features.pop3",
            ConditionKey::FeaturesFrontEndProxy => "features.front_end_proxy",
            ConditionKey::FeaturesSubmissionOnPort25 => "features.submission_on_port_25",
            ConditionKey::RolesEdgeSubscribedMailbox => "roles.edge_subscribed_mailbox",
        }
    }

    pub fn from_name(name: &str) -> Option<ConditionKey> {
        ConditionKey::ALL
            .into_iter()
            .find(|key| key.as_str() == name)
    }

    /// Returns the site's boolean for this key. `roles.edge_subscribed_mailbox`
    /// depends on the flow's Mailbox server, so it is true here and the verdict
    /// checks it per flow.
    pub fn site_value(self, site: &Site) -> bool {
        match self {
            ConditionKey::TopologyEdgeTransport => site.topology.edge_transport,
            ConditionKey::FeaturesImap4 => site.features.imap4,
            ConditionKey::FeaturesPop3 => site.features.pop3,
            ConditionKey::FeaturesFrontEndProxy => site.features.front_end_proxy,
            ConditionKey::FeaturesSubmissionOnPort25 => site.features.submission_on_port_25,
            ConditionKey::RolesEdgeSubscribedMailbox => true,
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A condition of a row: the site key must have the value `required`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Condition {
    pub key: ConditionKey,
    pub required: bool,
}

/// A small set of condition keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConditionSet(u8);

impl ConditionSet {
    pub fn insert(&mut self, key: ConditionKey) {
        self.0 |= key.bit();
    }

    pub fn contains(self, key: ConditionKey) -> bool {
        self.0 & key.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = ConditionKey> {
        ConditionKey::ALL
            .into_iter()
            .filter(move |key| self.contains(*key))
    }
}

/// A site list a row takes its ports from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortsFrom {
    /// `sender_reputation.proxy_ports`: TCP ports, every TCP port when empty.
    /// Every proxy type `Set-SenderReputationConfig -ProxyServerType` accepts
    /// (SOCKS4, SOCKS5, HTTP CONNECT, HTTP POST) connects over TCP.
    SenderReputationProxyPorts,
}

impl PortsFrom {
    pub fn as_str(self) -> &'static str {
        match self {
            PortsFrom::SenderReputationProxyPorts => "sender_reputation.proxy_ports",
        }
    }

    /// Returns the ports this list gives for `site`.
    pub fn resolve(self, site: &Site) -> Vec<PortSpec> {
        match self {
            PortsFrom::SenderReputationProxyPorts => {
                let ports = &site.sender_reputation.proxy_ports;
                if ports.is_empty() {
                    vec![PortSpec::all_ports(Transport::Tcp)]
                } else {
                    ports
                        .iter()
                        .map(|port| PortSpec::single(Transport::Tcp, *port))
                        .collect()
                }
            }
        }
    }
}

/// The protocols a row expects in the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppMatch {
    Any,
    /// Bits by position in [`App::ALL`].
    Only(u16),
}

impl AppMatch {
    /// Returns true when `app` is expected. A flow with no payload (`none`)
    /// matches every row.
    pub fn matches(self, app: App) -> bool {
        match self {
            AppMatch::Any => true,
            AppMatch::Only(bits) => app == App::None || bits & app_bit(app) != 0,
        }
    }

    pub fn apps(self) -> impl Iterator<Item = App> {
        App::ALL
            .into_iter()
            .filter(move |app| matches!(self, AppMatch::Only(bits) if bits & app_bit(*app) != 0))
    }
}

fn app_bit(app: App) -> u16 {
    let index = App::ALL.iter().position(|known| *known == app).unwrap_or(0);
    1 << index
}

/// One row of the matrix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Row id from MATRIX (`client.https`), the record's `rule`.
    pub id: String,
    pub origin: Origin,
    /// Roles the client (the side that opened the flow) must have.
    pub from: RoleMatch,
    /// Roles the server must have.
    pub to: RoleMatch,
    /// When not empty, the client or the server has one of these roles.
    pub either_side: RoleSet,
    /// Server ports; empty when `ports_from` names a site list.
    pub ports: Vec<PortSpec>,
    pub ports_from: Option<PortsFrom>,
    pub apps: AppMatch,
    /// Conditions that must all hold.
    pub when: Vec<Condition>,
    pub description: Description,
}

impl Row {
    /// Returns the id's group, the part before the first dot.
    pub fn group(&self) -> &str {
        self.id.split('.').next().unwrap_or("")
    }

    /// Returns the side of the row that the `roles.edge_subscribed_mailbox`
    /// condition checks: `Some(true)` for the
    /// client, `Some(false)` for the server.
    pub fn subscribed_side_is_client(&self) -> Option<bool> {
        let checks = self
            .when
            .iter()
            .any(|condition| condition.key == ConditionKey::RolesEdgeSubscribedMailbox);
        if !checks {
            None
        } else if self.from.roles.contains(Role::Mailbox) {
            Some(true)
        } else {
            Some(false)
        }
    }
}

/// A parsed rules file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    /// Groups in verdict order; `site` is where `[[allow]]` entries go.
    pub order: Vec<String>,
    /// Rows in file order.
    pub rows: Vec<Row>,
}

impl Rules {
    /// Returns the built-in Exchange 2013 rules.
    pub fn builtin() -> Rules {
        match Rules::parse(BUILTIN_RULES_NAME, BUILTIN_RULES) {
            Ok((rules, _)) => rules,
            // A test parses the built-in file, so this is a build defect.
            Err(diagnostics) => panic!("the built-in rules are invalid: {diagnostics:?}"),
        }
    }

    /// Parses a rules file. `Ok` carries the rules and warnings; `Err` every
    /// error and warning, sorted by position.
    pub fn parse(file: &str, text: &str) -> Result<(Rules, Vec<Diagnostic>), Vec<Diagnostic>> {
        let mut reader = Reader::new(file, text);
        let rules = reader
            .parse()
            .map(|document| read_rules(&mut reader, document.get_ref()));

        let mut diagnostics = reader.diagnostics;
        sort_diagnostics(&mut diagnostics);
        match rules {
            Some(rules) if !diagnostics.iter().any(Diagnostic::is_error) => {
                Ok((rules, diagnostics))
            }
            _ => Err(diagnostics),
        }
    }

    /// Returns the rows of `group` in file order.
    pub fn group<'r>(&'r self, group: &'r str) -> impl Iterator<Item = &'r Row> + 'r {
        self.rows.iter().filter(move |row| row.group() == group)
    }
}

const ROOT_KEYS: &[&str] = &["format", "source", "order", "row"];
const ROW_KEYS: &[&str] = &[
    "id",
    "origin",
    "from",
    "from_except",
    "to",
    "to_except",
    "either_side",
    "ports",
    "ports_from",
    "app",
    "when",
    "description",
];

fn read_rules<'a>(reader: &mut Reader<'a>, root: &DeTable<'a>) -> Rules {
    reader.check_keys(root, "", ROOT_KEYS);

    match reader.integer(root, "", "format") {
        Some((RULES_FORMAT, _)) => {}
        Some((other, span)) => reader.error(
            span,
            "format".to_string(),
            Problem::UnsupportedFormat {
                value: other.to_string(),
            },
        ),
        // A missing top-level key has no span of its own: report it at the
        // start of the file.
        None if root.get("format").is_none() => reader.missing(0..0, "format".to_string()),
        None => {}
    }
    // `source` is free text for readers of the file; only its type is checked.
    reader.string(root, "", "source");

    let order = read_order(reader, root);
    let mut rows = Vec::new();
    let mut ids: Vec<(String, usize)> = Vec::new();
    for (index, (table, span)) in reader.tables(root, "", "row").into_iter().enumerate() {
        let prefix = format!("row[{}]", index + 1);
        if let Some(row) = read_row(reader, table, span, &prefix, order.as_deref(), &mut ids) {
            rows.push(row);
        }
    }

    Rules {
        order: order.unwrap_or_default(),
        rows,
    }
}

/// Reads `order`: group names, each once, `site` among them.
fn read_order(reader: &mut Reader<'_>, root: &DeTable<'_>) -> Option<Vec<String>> {
    let Some(values) = reader.strings(root, "", "order", false) else {
        if root.get("order").is_none() {
            reader.missing(0..0, "order".to_string());
        }
        return None;
    };
    let span = root.get("order").map_or(0..0, |value| value.span());

    let mut order: Vec<String> = Vec::with_capacity(values.len());
    for (group, group_span) in values {
        if order.iter().any(|seen| seen == group) {
            reader.error(
                group_span,
                "order".to_string(),
                Problem::DuplicateGroup {
                    group: group.to_string(),
                },
            );
            continue;
        }
        order.push(group.to_string());
    }
    if !order.iter().any(|group| group == SITE_GROUP) {
        reader.error(span, "order".to_string(), Problem::OrderWithoutSite);
    }
    Some(order)
}

fn read_row(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    table_span: Range<usize>,
    prefix: &str,
    order: Option<&[String]>,
    ids: &mut Vec<(String, usize)>,
) -> Option<Row> {
    reader.check_keys(table, prefix, ROW_KEYS);
    for key in ["id", "origin", "from", "to", "app", "description"] {
        if table.get(key).is_none() {
            reader.missing(table_span.clone(), join_key(prefix, key));
        }
    }

    let id = reader
        .string(table, prefix, "id")
        .and_then(|(id, span)| check_row_id(reader, id, span, prefix, order, ids));
    let origin = read_choice(
        reader,
        table,
        prefix,
        "origin",
        &["page", "extension", "product"],
    )
    .and_then(Origin::from_name);
    let from = read_role_match(reader, table, prefix, "from", "from_except");
    let to = read_role_match(reader, table, prefix, "to", "to_except");
    let either_side = match table.get("either_side") {
        Some(_) => read_roles(reader, table, prefix, "either_side", false).map(|(roles, _)| roles),
        None => Some(RoleSet::EMPTY),
    };
    let ports = read_row_ports(reader, table, table_span.clone(), prefix);
    let apps = read_apps(reader, table, prefix);
    let when = read_conditions(reader, table, prefix, from.as_ref(), to.as_ref());
    let description = read_description(reader, table, prefix);

    let (ports, ports_from) = ports?;
    Some(Row {
        id: id?,
        origin: origin?,
        from: from?,
        to: to?,
        either_side: either_side?,
        ports,
        ports_from,
        apps: apps?,
        when: when?,
        description: description?,
    })
}

/// Checks a row id: `group.name` in lowercase ASCII letters, digits and `-`, a
/// group `order` lists other than `site`, and unique.
fn check_row_id(
    reader: &mut Reader<'_>,
    id: &str,
    span: Range<usize>,
    prefix: &str,
    order: Option<&[String]>,
    ids: &mut Vec<(String, usize)>,
) -> Option<String> {
    let path = join_key(prefix, "id");
    let well_formed = id.split_once('.').is_some_and(|(group, name)| {
        let word = |text: &str| {
            !text.is_empty()
                && text
                    .bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        };
        word(group) && word(name)
    });
    if !well_formed {
        reader.error(
            span,
            path,
            Problem::InvalidRowId {
                value: id.to_string(),
            },
        );
        return None;
    }

    let group = id.split('.').next().unwrap_or("");
    if group == SITE_GROUP {
        reader.error(span, path, Problem::ReservedGroup);
        return None;
    }
    if let Some(order) = order
        && !order.iter().any(|listed| listed == group)
    {
        reader.error(
            span,
            path,
            Problem::GroupNotInOrder {
                group: group.to_string(),
            },
        );
        return None;
    }
    if let Some((_, first_line)) = ids.iter().find(|(seen, _)| seen == id) {
        let first_line = *first_line;
        reader.error(
            span,
            path,
            Problem::DuplicateRowId {
                id: id.to_string(),
                first_line,
            },
        );
        return None;
    }
    ids.push((id.to_string(), reader.line_of(&span)));
    Some(id.to_string())
}

/// Reads a string that must be one of `choices`.
fn read_choice<'t>(
    reader: &mut Reader<'_>,
    table: &'t DeTable<'_>,
    prefix: &str,
    key: &str,
    choices: &[&str],
) -> Option<&'t str> {
    let (value, span) = reader.string(table, prefix, key)?;
    if choices.contains(&value) {
        return Some(value);
    }
    reader.error(
        span,
        join_key(prefix, key),
        Problem::UnknownValue {
            value: value.to_string(),
            expected: choices.join(", "),
        },
    );
    None
}

/// Reads a list of role names; with `allow_any`, `any` alone means every role.
/// Returns the roles and whether `any` was given.
fn read_roles(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    prefix: &str,
    key: &str,
    allow_any: bool,
) -> Option<(RoleSet, bool)> {
    let path = join_key(prefix, key);
    let values = reader.strings(table, prefix, key, false)?;
    if values.is_empty() {
        let span = table.get(key).map_or(0..0, |value| value.span());
        reader.error(span, path, Problem::EmptyList);
        return None;
    }

    let mut roles = RoleSet::EMPTY;
    let mut any = false;
    let mut failed = false;
    for (name, span) in &values {
        if allow_any && *name == "any" {
            any = true;
            continue;
        }
        match Role::from_name(name) {
            Some(role) => roles.insert(role),
            None => {
                reader.error(
                    span.clone(),
                    path.clone(),
                    Problem::UnknownRole {
                        value: name.to_string(),
                    },
                );
                failed = true;
            }
        }
    }
    if any && values.len() > 1 {
        reader.error(values[0].1.clone(), path, Problem::AnyNotAlone);
        failed = true;
    }
    (!failed).then_some((roles, any))
}

fn read_role_match(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    prefix: &str,
    key: &str,
    except_key: &str,
) -> Option<RoleMatch> {
    let roles = read_roles(reader, table, prefix, key, true);
    let except = match table.get(except_key) {
        Some(_) => read_roles(reader, table, prefix, except_key, false).map(|(roles, _)| roles),
        None => Some(RoleSet::EMPTY),
    };
    let (roles, any) = roles?;
    Some(RoleMatch {
        any,
        roles,
        except: except?,
    })
}

/// Reads `ports` or `ports_from`; exactly one of them is required.
fn read_row_ports(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    table_span: Range<usize>,
    prefix: &str,
) -> Option<(Vec<PortSpec>, Option<PortsFrom>)> {
    match (table.get("ports"), table.get("ports_from")) {
        (Some(_), Some(conflict)) => {
            reader.error(
                conflict.span(),
                join_key(prefix, "ports_from"),
                Problem::ConflictingKeys {
                    other: join_key(prefix, "ports"),
                },
            );
            None
        }
        (None, None) => {
            reader.missing(table_span, join_key(prefix, "ports"));
            None
        }
        (Some(_), None) => read_ports(reader, table, prefix, "ports").map(|ports| (ports, None)),
        (None, Some(_)) => {
            read_choice(
                reader,
                table,
                prefix,
                "ports_from",
                &[PortsFrom::SenderReputationProxyPorts.as_str()],
            )?;
            Some((Vec::new(), Some(PortsFrom::SenderReputationProxyPorts)))
        }
    }
}

/// Reads `app`: a protocol name, a list of them, or `any`.
fn read_apps(reader: &mut Reader<'_>, table: &DeTable<'_>, prefix: &str) -> Option<AppMatch> {
    let path = join_key(prefix, "app");
    let values = reader.strings(table, prefix, "app", true)?;
    if values.is_empty() {
        let span = table.get("app").map_or(0..0, |value| value.span());
        reader.error(span, path, Problem::EmptyList);
        return None;
    }
    if values.iter().any(|(name, _)| *name == "any") {
        if values.len() > 1 {
            reader.error(values[0].1.clone(), path, Problem::AnyNotAlone);
            return None;
        }
        return Some(AppMatch::Any);
    }

    let mut bits = 0;
    let mut failed = false;
    for (name, span) in values {
        // `unknown` and `none` describe a flow, not a protocol a row can expect.
        match App::from_name(name).filter(|app| !matches!(app, App::Unknown | App::None)) {
            Some(app) => bits |= app_bit(app),
            None => {
                reader.error(
                    span,
                    path.clone(),
                    Problem::UnknownApp {
                        value: name.to_string(),
                    },
                );
                failed = true;
            }
        }
    }
    (!failed).then_some(AppMatch::Only(bits))
}

/// Reads `when`: a table of site keys (dotted, possibly nested) to booleans.
fn read_conditions(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    prefix: &str,
    from: Option<&RoleMatch>,
    to: Option<&RoleMatch>,
) -> Option<Vec<Condition>> {
    let Some(when) = table.get("when") else {
        return Some(Vec::new());
    };
    let path = join_key(prefix, "when");
    let DeValue::Table(when) = when.get_ref() else {
        reader.wrong_type(when.span(), path, super::diagnostic::ValueType::Table);
        return None;
    };

    let mut leaves = Vec::new();
    flatten(when, "", &mut leaves);
    let has_mailbox_side = from.is_some_and(|side| side.roles.contains(Role::Mailbox))
        || to.is_some_and(|side| side.roles.contains(Role::Mailbox));

    let mut conditions = Vec::with_capacity(leaves.len());
    let mut failed = false;
    for (name, value) in leaves {
        let key_path = join_key(&path, &name);
        let Some(key) = ConditionKey::from_name(&name) else {
            reader.error(
                value.span(),
                key_path,
                Problem::UnknownCondition { value: name },
            );
            failed = true;
            continue;
        };
        let DeValue::Boolean(required) = value.get_ref() else {
            reader.wrong_type(
                value.span(),
                key_path,
                super::diagnostic::ValueType::Boolean,
            );
            failed = true;
            continue;
        };
        if key == ConditionKey::RolesEdgeSubscribedMailbox && (!*required || !has_mailbox_side) {
            reader.error(value.span(), key_path, Problem::InvalidSubscribedCondition);
            failed = true;
            continue;
        }
        conditions.push(Condition {
            key,
            required: *required,
        });
    }
    (!failed).then_some(conditions)
}

/// Collects the leaves of a nested table with their dotted paths.
fn flatten<'t, 'i>(
    table: &'t DeTable<'i>,
    prefix: &str,
    leaves: &mut Vec<(String, &'t toml::Spanned<DeValue<'i>>)>,
) {
    for (key, value) in table.iter() {
        let path = join_key(prefix, key.get_ref());
        match value.get_ref() {
            DeValue::Table(inner) => flatten(inner, &path, leaves),
            _ => leaves.push((path, value)),
        }
    }
}

fn read_description(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    prefix: &str,
) -> Option<Description> {
    let path = join_key(prefix, "description");
    let inner = reader.table(table, prefix, "description")?;
    reader.check_keys(inner, &path, &["en", "ja", "ja_source"]);
    let span = table.get("description").map_or(0..0, |value| value.span());
    for key in ["en", "ja", "ja_source"] {
        if inner.get(key).is_none() {
            reader.missing(span.clone(), join_key(&path, key));
        }
    }

    let en = reader
        .string(inner, &path, "en")
        .map(|(text, _)| text.to_string());
    let ja = reader
        .string(inner, &path, "ja")
        .map(|(text, _)| text.to_string());
    let ja_source =
        read_choice(reader, inner, &path, "ja_source", &["page", "exflow"]).map(|name| {
            if name == "page" {
                TextSource::Page
            } else {
                TextSource::Exflow
            }
        });
    Some(Description {
        en: en?,
        ja: ja?,
        ja_source: ja_source?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_parse_without_warnings() {
        let (rules, warnings) = Rules::parse(BUILTIN_RULES_NAME, BUILTIN_RULES).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(rules.order, ["client", "mail", "edge", "site", "internal"]);
        assert_eq!(rules.rows.len(), 20);
    }

    #[test]
    fn app_match_accepts_no_payload() {
        let tls = AppMatch::Only(app_bit(App::Tls));
        assert!(tls.matches(App::Tls));
        assert!(tls.matches(App::None));
        assert!(!tls.matches(App::Ssh));
        assert!(!tls.matches(App::Unknown));
        assert_eq!(tls.apps().collect::<Vec<_>>(), [App::Tls]);
    }

    #[test]
    fn proxy_ports_resolve_to_tcp() {
        let mut site = Site::default();
        assert_eq!(
            PortsFrom::SenderReputationProxyPorts.resolve(&site),
            [PortSpec::all_ports(Transport::Tcp)]
        );
        site.sender_reputation.proxy_ports = vec![8080, 3128];
        assert_eq!(
            PortsFrom::SenderReputationProxyPorts.resolve(&site),
            [
                PortSpec::single(Transport::Tcp, 8080),
                PortSpec::single(Transport::Tcp, 3128)
            ]
        );
    }
}
