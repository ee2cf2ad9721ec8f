//! The effective matrix for `exflow rules show`: every rule in verdict order,
//! whether it is on for the site and why, and a table of them aligned by
//! display width (Japanese characters take two columns).

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::port::PortSpec;
use super::rules::{AppMatch, ConditionKey, Description, Origin, PortsFrom, RoleMatch};
use super::site::{Endpoint, Site};
use super::verdict::Rule;
use crate::i18n::{Lang, message};

/// Width of the table [`render_table`] writes, in terminal columns.
pub const TABLE_WIDTH: usize = 100;

/// A condition of a row and whether the site meets it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConditionState {
    pub key: ConditionKey,
    pub required: bool,
    /// The site's value; for `roles.edge_subscribed_mailbox`, whether the site
    /// lists subscribed Mailbox servers (the condition itself is checked per flow).
    pub site_value: bool,
    pub holds: bool,
}

/// One side of a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleSide {
    /// A matrix row's roles.
    Roles(RoleMatch),
    /// An `[[allow]]` entry's addresses, blocks and roles.
    Endpoints(Vec<Endpoint>),
}

/// A rule as it applies to the site, in verdict order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectiveRow {
    /// Row id, or `site.<name>` for an `[[allow]]` entry.
    pub id: String,
    /// Source of a matrix row; `None` for an `[[allow]]` entry.
    pub origin: Option<Origin>,
    /// Whether the row can allow flows on this site.
    pub enabled: bool,
    pub from: RuleSide,
    pub to: RuleSide,
    /// The ports, resolved from the site when `ports_from` is set.
    pub ports: Vec<PortSpec>,
    pub ports_from: Option<PortsFrom>,
    pub apps: AppMatch,
    pub conditions: Vec<ConditionState>,
    /// Entries in `roles.edge_subscribed_mailbox` (0: every Mailbox server).
    pub subscribed_mailboxes: usize,
    pub description: Option<Description>,
}

impl EffectiveRow {
    pub(crate) fn from_rule(rule: &Rule, site: &Site) -> EffectiveRow {
        match rule {
            Rule::Row(site_row) => {
                let row = &site_row.row;
                let conditions = row
                    .when
                    .iter()
                    .map(|condition| {
                        let site_value = match condition.key {
                            ConditionKey::RolesEdgeSubscribedMailbox => {
                                !site.roles.edge_subscribed_mailbox.is_empty()
                            }
                            key => key.site_value(site),
                        };
                        ConditionState {
                            key: condition.key,
                            required: condition.required,
                            site_value,
                            holds: !site_row.failed_conditions.contains(condition.key),
                        }
                    })
                    .collect();
                EffectiveRow {
                    id: row.id.clone(),
                    origin: Some(row.origin),
                    enabled: site_row.is_on(),
                    from: RuleSide::Roles(row.from),
                    to: RuleSide::Roles(row.to),
                    ports: site_row.ports.clone(),
                    ports_from: row.ports_from,
                    apps: row.apps,
                    conditions,
                    subscribed_mailboxes: site.roles.edge_subscribed_mailbox.len(),
                    description: Some(row.description.clone()),
                }
            }
            Rule::Allow(allow) => EffectiveRow {
                id: allow.id.to_string(),
                origin: None,
                enabled: true,
                from: RuleSide::Endpoints(allow.allow.from.clone()),
                to: RuleSide::Endpoints(allow.allow.to.clone()),
                ports: allow.allow.ports.clone(),
                ports_from: None,
                apps: AppMatch::Any,
                conditions: Vec::new(),
                subscribed_mailboxes: 0,
                description: None,
            },
        }
    }

    /// Writes a side as site-file names: `client_access, mailbox`, `any except
    /// edge_transport` (`edge_transport 以外すべて`).
    pub fn side_text(side: &RuleSide, lang: Lang) -> String {
        match side {
            RuleSide::Endpoints(endpoints) => join(endpoints.iter().map(Endpoint::to_string)),
            RuleSide::Roles(side) if !side.any => join(side.roles.names().map(str::to_string)),
            RuleSide::Roles(side) if side.except.is_empty() => {
                message(lang, "policy.show.any", &[])
            }
            RuleSide::Roles(side) => message(
                lang,
                "policy.show.any_except",
                &[("roles", &join(side.except.names().map(str::to_string)))],
            ),
        }
    }

    pub fn ports_text(&self) -> String {
        join(self.ports.iter().map(PortSpec::to_string))
    }

    pub fn app_text(&self, lang: Lang) -> String {
        match self.apps {
            AppMatch::Any => message(lang, "policy.show.any", &[]),
            apps => join(apps.apps().map(|app| app.as_str().to_string())),
        }
    }

    /// Says whether the row is on and which conditions decide it.
    pub fn status_text(&self, lang: Lang) -> String {
        let mut parts = Vec::new();
        if self.origin.is_none() {
            parts.push(message(lang, "policy.show.site_entry", &[]));
        }
        for condition in &self.conditions {
            parts.push(condition_text(condition, self.subscribed_mailboxes, lang));
        }
        if let Some(list) = self.ports_from {
            parts.push(message(
                lang,
                "policy.show.ports_from",
                &[("key", list.as_str())],
            ));
        }
        if parts.is_empty() {
            parts.push(message(lang, "policy.show.always", &[]));
        }

        let state = if self.enabled {
            "policy.show.on"
        } else {
            "policy.show.off"
        };
        let separator = message(lang, "policy.text.clause_separator", &[]);
        message(lang, state, &[("why", &parts.join(&separator))])
    }
}

fn condition_text(condition: &ConditionState, subscribed: usize, lang: Lang) -> String {
    if condition.key == ConditionKey::RolesEdgeSubscribedMailbox {
        return if subscribed == 0 {
            message(lang, "policy.show.subscribed_all", &[])
        } else {
            let count = subscribed.to_string();
            message(lang, "policy.show.subscribed_listed", &[("count", &count)])
        };
    }
    let key = if condition.holds {
        "policy.show.condition_holds"
    } else {
        "policy.show.condition_fails"
    };
    message(
        lang,
        key,
        &[
            ("key", condition.key.as_str()),
            ("required", bool_text(condition.required)),
            ("actual", bool_text(condition.site_value)),
        ],
    )
}

fn bool_text(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

/// Column widths of the table: rule, on, from, to, ports, protocol. With one
/// space between columns they fill the 100 columns. "any except
/// edge_transport" fits the source column, `udp/53, tcp/53` the ports column.
const COLUMNS: [usize; 6] = [22, 6, 25, 18, 14, 10];
/// Indent of the status and description lines under each row.
const DETAIL_INDENT: usize = 4;

/// Writes the effective rows as a table [`TABLE_WIDTH`] columns wide.
pub fn render_table(rows: &[EffectiveRow], lang: Lang) -> String {
    let mut text = String::new();
    let header = [
        message(lang, "policy.show.header.rule", &[]),
        message(lang, "policy.show.header.on", &[]),
        message(lang, "policy.show.header.from", &[]),
        message(lang, "policy.show.header.to", &[]),
        message(lang, "policy.show.header.ports", &[]),
        message(lang, "policy.show.header.protocol", &[]),
    ];
    push_cells(&mut text, &header);
    text.push_str(&"-".repeat(TABLE_WIDTH));
    text.push('\n');

    let detail_width = TABLE_WIDTH - DETAIL_INDENT;
    let indent = " ".repeat(DETAIL_INDENT);
    for row in rows {
        let on = message(
            lang,
            if row.enabled {
                "common.yes"
            } else {
                "common.no"
            },
            &[],
        );
        let cells = [
            row.id.clone(),
            on,
            EffectiveRow::side_text(&row.from, lang),
            EffectiveRow::side_text(&row.to, lang),
            row.ports_text(),
            row.app_text(lang),
        ];
        push_cells(&mut text, &cells);

        let mut details = wrap(&row.status_text(lang), detail_width);
        if let Some(description) = &row.description {
            details.extend(wrap(description.text(lang), detail_width));
        }
        for line in details {
            text.push_str(&indent);
            text.push_str(&line);
            text.push('\n');
        }
    }
    text
}

/// Writes one table row; cells longer than their column wrap onto more lines.
fn push_cells(text: &mut String, cells: &[String; 6]) {
    let wrapped: Vec<Vec<String>> = cells
        .iter()
        .zip(COLUMNS)
        .map(|(cell, width)| wrap(cell, width))
        .collect();
    let height = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1);

    for line_index in 0..height {
        let mut line = String::new();
        for (column, (lines, width)) in wrapped.iter().zip(COLUMNS).enumerate() {
            if column > 0 {
                line.push(' ');
            }
            let cell = lines.get(line_index).map_or("", String::as_str);
            line.push_str(cell);
            line.push_str(&" ".repeat(width.saturating_sub(cell.width())));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
}

/// Wraps text to `width` display columns: at spaces, and between wide
/// characters, which Japanese text writes without spaces. A word wider than
/// the line is cut.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut line_width = 0;

    for (token, space_before) in tokens(text) {
        let gap = usize::from(space_before && !line.is_empty());
        let token_width = token.width();
        if !line.is_empty() && line_width + gap + token_width > width {
            // A line must not start with closing punctuation or a prolonged
            // sound mark (Japanese line breaking rules, JIS X 4051), so the
            // character before it moves down too.
            let carried = match (token.chars().next(), line.chars().last()) {
                (Some(first), Some(last))
                    if NO_LINE_START.contains(first) && last.width().unwrap_or(0) >= 2 =>
                {
                    line.pop()
                }
                _ => None,
            };
            lines.push(line.trim_end().to_string());
            line.clear();
            line_width = 0;
            if let Some(last) = carried {
                line.push(last);
                line_width = last.width().unwrap_or(0);
            }
        } else if gap == 1 {
            line.push(' ');
            line_width += 1;
        }
        for ch in token.chars() {
            let ch_width = ch.width().unwrap_or(0);
            if line_width + ch_width > width && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                line_width = 0;
            }
            line.push(ch);
            line_width += ch_width;
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Characters that may not start a line in Japanese text.
const NO_LINE_START: &str = "、。，．・：；？！ー）」』】〕〉》";

/// Splits text into words and single wide characters, each with whether a
/// space came before it.
fn tokens(text: &str) -> Vec<(String, bool)> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut word_space = false;
    let mut space = false;
    for ch in text.chars() {
        if ch.is_whitespace() {
            if !word.is_empty() {
                tokens.push((std::mem::take(&mut word), word_space));
            }
            space = true;
        } else if ch.width().unwrap_or(0) >= 2 {
            if !word.is_empty() {
                tokens.push((std::mem::take(&mut word), word_space));
            }
            tokens.push((ch.to_string(), space));
            space = false;
        } else {
            if word.is_empty() {
                word_space = space;
            }
            word.push(ch);
            space = false;
        }
    }
    if !word.is_empty() {
        tokens.push((word, word_space));
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_english_at_spaces() {
        assert_eq!(wrap("one two three four", 9), ["one two", "three", "four"]);
    }

    #[test]
    fn wrap_japanese_by_width() {
        let lines = wrap("受信メール - インターネットからエッジ", 10);
        for line in &lines {
            assert!(line.width() <= 10, "{line:?}");
        }
        assert_eq!(
            lines.concat().replace(' ', ""),
            "受信メール-インターネットからエッジ"
        );
    }

    #[test]
    fn wrap_keeps_closing_marks_off_line_start() {
        // Two wide characters per line: "ー" and "。" take the character
        // before them to the next line.
        assert_eq!(wrap("アサーバ", 4), ["ア", "サー", "バ"]);
        assert_eq!(wrap("です。次", 4), ["で", "す。", "次"]);
    }

    #[test]
    fn wrap_leaves_no_trailing_space() {
        assert_eq!(wrap("ab サー", 5), ["ab", "サー"]);
    }

    #[test]
    fn wrap_cuts_long_words() {
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
    }

    #[test]
    fn wrap_empty_is_one_line() {
        assert_eq!(wrap("", 5), [""]);
    }
}
