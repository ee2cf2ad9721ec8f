//! Localised names of roles, protocols, verdicts and ports, shared by the
//! terminal summary and the HTML report. Unknown values are shown as they are
//! (escaped by the caller), never dropped.

use std::borrow::Cow;

use super::{ServerPort, Verdict};
use crate::i18n::{Lang, message};

/// Roles in the order a role set is written and the flow map stacks its nodes:
/// Exchange roles first, as the matrix lists them, then infrastructure, then
/// the roles of hosts outside the inventory.
pub const ROLE_ORDER: [&str; 9] = [
    "edge_transport",
    "client_access",
    "mailbox",
    "dns",
    "domain_controller",
    "lync",
    "proxy",
    "internal",
    "internet",
];

/// Returns the rank of `role` in [`ROLE_ORDER`]; unknown roles come last.
pub fn role_rank(role: &str) -> usize {
    ROLE_ORDER
        .iter()
        .position(|known| *known == role)
        .unwrap_or(ROLE_ORDER.len())
}

/// How long a role name should be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleName {
    /// For table columns: "Client Access", "クライアント アクセス".
    Short,
    /// For the flow map: "Client Access server", "クライアント アクセス サーバー".
    Full,
}

/// Returns the localised name of one role, or the role id itself when the
/// role is not one the matrix defines.
pub fn role_label(lang: Lang, role: &str, length: RoleName) -> Cow<'static, str> {
    if role_rank(role) == ROLE_ORDER.len() {
        return Cow::Owned(role.to_string());
    }
    let kind = match length {
        RoleName::Short => "short",
        RoleName::Full => "full",
    };
    Cow::Owned(message(lang, &format!("report.role.{kind}.{role}"), &[]))
}

/// Returns the localised name of a role set such as `client_access+mailbox`.
pub fn role_set_label(lang: Lang, roles: &str, length: RoleName) -> String {
    roles
        .split('+')
        .map(|role| role_label(lang, role, length))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// Returns the display name of a protocol from the record's `app` field.
pub fn app_label(lang: Lang, app: &str) -> Cow<'_, str> {
    match app {
        "smtp" => "SMTP".into(),
        "imap" => "IMAP".into(),
        "pop3" => "POP3".into(),
        "http" => "HTTP".into(),
        "tls" => "TLS".into(),
        "ldap" => "LDAP".into(),
        "dns" => "DNS".into(),
        "ssh" => "SSH".into(),
        "none" => message(lang, "report.app.none", &[]).into(),
        "unknown" => message(lang, "report.app.unknown", &[]).into(),
        other => other.into(),
    }
}

/// Returns the localised name of a verdict.
pub fn verdict_label(lang: Lang, verdict: Verdict) -> String {
    message(lang, &format!("report.verdict.{}", verdict.as_str()), &[])
}

/// Returns a count with its noun in `lang`: "1 flow", "8 flows", "8 フロー".
/// `noun` names the message pair `report.noun.<noun>.one` / `.other`.
pub fn count_noun(lang: Lang, noun: &str, count: u64) -> String {
    let form = if count == 1 { "one" } else { "other" };
    let count = super::text::group_digits(count);
    message(
        lang,
        &format!("report.noun.{noun}.{form}"),
        &[("count", &count)],
    )
}

/// Formats a server port the way Microsoft's port tables write it: `443/TCP`,
/// and `49152-65535/TCP` for the dynamic range.
pub fn port_label(transport: &str, port: ServerPort) -> String {
    let transport = transport.to_ascii_uppercase();
    match port {
        ServerPort::Port(number) => format!("{number}/{transport}"),
        ServerPort::Dynamic => format!("{}-65535/{transport}", super::DYNAMIC_PORT_START),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_has_labels() {
        for role in ROLE_ORDER {
            for length in [RoleName::Short, RoleName::Full] {
                let english = role_label(Lang::En, role, length);
                let japanese = role_label(Lang::Ja, role, length);
                assert!(!english.starts_with("report."), "{role} {length:?}");
                assert!(!japanese.starts_with("report."), "{role} {length:?}");
            }
        }
    }

    #[test]
    fn role_names_follow_microsoft_terms() {
        assert_eq!(
            role_label(Lang::Ja, "client_access", RoleName::Full),
            "クライアント アクセス サーバー"
        );
        assert_eq!(
            role_label(Lang::Ja, "edge_transport", RoleName::Full),
            "エッジ トランスポート サーバー"
        );
        assert_eq!(
            role_set_label(Lang::En, "client_access+mailbox", RoleName::Short),
            "Client Access + Mailbox"
        );
    }

    #[test]
    fn unknown_values_pass_through() {
        assert_eq!(role_label(Lang::Ja, "backup", RoleName::Short), "backup");
        assert_eq!(app_label(Lang::En, "quic"), "quic");
        assert_eq!(app_label(Lang::En, "tls"), "TLS");
    }

    #[test]
    fn count_nouns_agree_in_number() {
        assert_eq!(count_noun(Lang::En, "flow", 1), "1 flow");
        assert_eq!(count_noun(Lang::En, "flow", 1200), "1,200 flows");
        assert_eq!(count_noun(Lang::Ja, "flow", 1), "1 フロー");
        assert_eq!(count_noun(Lang::En, "path", 0), "0 paths");
    }

    #[test]
    fn ports_are_written_as_in_the_port_tables() {
        assert_eq!(port_label("tcp", ServerPort::Port(443)), "443/TCP");
        assert_eq!(port_label("udp", ServerPort::Dynamic), "49152-65535/UDP");
    }
}
