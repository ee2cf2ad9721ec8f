//! Reasons as sentences, in English or Japanese. The record's `reason` field is
//! always the English rendering; summaries and reports use the user's language.

use std::fmt;
use std::sync::Arc;

use super::cache::BoundedCache;
use super::port::describe_ports;
use super::role::{Role, RoleSet};
use super::rules::{AppMatch, ConditionKey, RoleMatch};
use super::verdict::{Differences, FlowFacts, Reason, ReasonKind, Rule, SiteRow};
use crate::fingerprint::App;
use crate::i18n::{Lang, message};

/// Reason sentences already rendered for one policy, keyed by their language
/// and everything else a sentence depends on. Flows of one path share a
/// sentence, so each sentence is rendered once, not once per record.
#[derive(Clone, Debug)]
pub(super) struct ReasonCache(BoundedCache<ReasonKey, Arc<str>>);

/// Maximum number of cached sentences in each shard of the cache.
const MAX_CACHED_REASONS: usize = 4096;

/// The inputs of an English reason sentence. Within one policy a rule id
/// names one rule, so the id stands for the rule. The key contains the id's
/// address, which stays fixed because the policy keeps its rules while it
/// lives. Comparing addresses spares two reference-count updates on an id
/// that every worker thread shares.
#[derive(PartialEq, Eq, Hash)]
struct ReasonKey {
    lang: Lang,
    facts: FlowFacts,
    kind: u8,
    rule: Option<usize>,
    differences: Differences,
}

/// Returns the address of a rule id, the key of its rule in [`ReasonKey`].
fn id_address(id: &Arc<str>) -> usize {
    Arc::as_ptr(id).cast::<u8>() as usize
}

impl Default for ReasonCache {
    fn default() -> ReasonCache {
        ReasonCache(BoundedCache::new(MAX_CACHED_REASONS))
    }
}

impl ReasonCache {
    /// Returns the English sentence of `reason`, rendering it on a miss.
    pub(super) fn english(&self, reason: &Reason) -> Arc<str> {
        self.read_english(reason, Arc::clone)
    }

    /// Returns what `read` makes of the English sentence of `reason`,
    /// rendering the sentence on a miss.
    pub(super) fn read_english<R>(&self, reason: &Reason, read: impl FnOnce(&Arc<str>) -> R) -> R {
        self.read(reason, Lang::En, read)
    }

    /// Returns what `read` makes of the sentence of `reason` in `lang`,
    /// rendering the sentence on a miss.
    pub(super) fn read<R>(
        &self,
        reason: &Reason,
        lang: Lang,
        read: impl FnOnce(&Arc<str>) -> R,
    ) -> R {
        let (kind, rule, differences) = match &reason.kind {
            ReasonKind::Matched(Rule::Row(row)) => {
                (0, Some(id_address(&row.id)), Differences::default())
            }
            ReasonKind::Matched(Rule::Allow(allow)) => {
                (1, Some(id_address(&allow.id)), Differences::default())
            }
            ReasonKind::Nearest { row, differences } => {
                (2, Some(id_address(&row.id)), *differences)
            }
            ReasonKind::NoRows => (3, None, Differences::default()),
            ReasonKind::MailBypass => (4, None, Differences::default()),
            ReasonKind::OutOfScope => (5, None, Differences::default()),
        };
        let key = ReasonKey {
            lang,
            facts: reason.facts,
            kind,
            rule,
            differences,
        };
        self.0
            .read_or_insert_with(key, || reason.render(lang).into(), read)
    }
}

impl Reason {
    /// Writes the reason as one sentence in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        let facts = &self.facts;
        let port = flow_port(facts);
        let client = set_phrase(lang, facts.client);
        let server = set_phrase(lang, facts.server);

        match &self.kind {
            ReasonKind::Matched(Rule::Row(row)) => message(
                lang,
                "policy.reason.matched_row",
                &[
                    ("rule", &row.id),
                    ("port", &port),
                    ("client", &client),
                    ("server", &server),
                ],
            ),
            ReasonKind::Matched(Rule::Allow(allow)) => message(
                lang,
                "policy.reason.matched_allow",
                &[
                    ("rule", &allow.id),
                    ("name", &allow.allow.name),
                    ("port", &port),
                ],
            ),
            ReasonKind::Nearest { row, differences } => {
                render_nearest(lang, facts, row, differences)
            }
            ReasonKind::NoRows => message(
                lang,
                "policy.reason.no_rows",
                &[("port", &port), ("client", &client), ("server", &server)],
            ),
            ReasonKind::MailBypass => message(
                lang,
                "policy.reason.mail_bypass",
                &[
                    ("protocol", &app_phrase(lang, facts.app, false)),
                    ("port", &port),
                    ("client", &client),
                    ("server", &server),
                ],
            ),
            ReasonKind::OutOfScope => message(
                lang,
                "policy.reason.out_of_scope",
                &[("port", &port), ("client", &client), ("server", &server)],
            ),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Lang::En))
    }
}

/// Writes what differs from the nearest row. A different port, or both roles
/// different, means the flow is on no documented path at all, so the sentence
/// states that and shows the nearest row whole. Otherwise each difference gets
/// its own clause.
fn render_nearest(
    lang: Lang,
    facts: &FlowFacts,
    site_row: &SiteRow,
    differences: &Differences,
) -> String {
    let row = &site_row.row;
    let port = flow_port(facts);
    let client = set_phrase(lang, facts.client);
    let server = set_phrase(lang, facts.server);
    let expected_ports = ports_phrase(lang, site_row);
    let roles_differ =
        differences.client_role || differences.server_role || differences.either_side;

    if differences.port
        || (differences.client_role && (differences.server_role || differences.either_side))
    {
        let key = if roles_differ {
            "policy.reason.no_path_full"
        } else {
            "policy.reason.no_path_short"
        };
        return message(
            lang,
            key,
            &[
                ("port", &port),
                ("client", &client),
                ("server", &server),
                ("row", &site_row.id),
                ("expected_ports", &expected_ports),
                ("expected_client", &match_phrase(lang, &row.from)),
                ("expected_server", &match_phrase(lang, &row.to)),
            ],
        );
    }

    let mut clauses = Vec::new();
    if differences.client_role {
        clauses.push(client_role_clause(
            lang, facts, row.from, &port, &client, &server,
        ));
    }
    if differences.server_role {
        clauses.push(server_role_clause(lang, site_row, &port, &client, &server));
    }
    if differences.either_side {
        clauses.push(message(
            lang,
            "policy.reason.either_side",
            &[(
                "either",
                &list_phrase(lang, row.either_side, "policy.text.or"),
            )],
        ));
    }
    for key in differences.conditions.iter() {
        let required = row
            .when
            .iter()
            .find(|condition| condition.key == key)
            .is_none_or(|condition| condition.required);
        clauses.push(condition_clause(
            lang, site_row, key, required, &client, &server,
        ));
    }
    if differences.not_subscribed {
        clauses.push(message(lang, "policy.reason.not_subscribed", &[]));
    }
    if differences.protocol {
        clauses.push(protocol_clause(lang, facts, row.apps));
    }

    let separator = message(lang, "policy.text.clause_separator", &[]);
    let mut text = clauses.join(&separator);
    text.push_str(&message(
        lang,
        "policy.reason.nearest_suffix",
        &[("row", &site_row.id)],
    ));
    text
}

fn client_role_clause(
    lang: Lang,
    facts: &FlowFacts,
    from: RoleMatch,
    port: &str,
    client: &str,
    server: &str,
) -> String {
    if from.any {
        // Only an excluded role makes an `any` source fail: that role takes no
        // part in the path.
        let excluded = RoleSet::from_roles(
            facts
                .client
                .iter()
                .filter(|role| from.except.contains(*role)),
        );
        return message(
            lang,
            "policy.reason.client_excluded",
            &[
                ("excluded", &set_phrase(lang, excluded)),
                ("port", port),
                ("server", server),
            ],
        );
    }
    message(
        lang,
        "policy.reason.client_role",
        &[
            ("expected_client", &match_phrase(lang, &from)),
            ("client", client),
            ("port", port),
            ("server", server),
        ],
    )
}

fn server_role_clause(
    lang: Lang,
    site_row: &SiteRow,
    port: &str,
    client: &str,
    server: &str,
) -> String {
    let row = &site_row.row;
    let topology = row
        .when
        .iter()
        .find(|condition| condition.key == ConditionKey::TopologyEdgeTransport)
        .map(|condition| {
            let key = if condition.required {
                "policy.text.with_edge"
            } else {
                "policy.text.without_edge"
            };
            message(lang, key, &[])
        })
        .unwrap_or_default();
    let key = if is_smtp_only(row.apps) {
        "policy.reason.server_role_mail"
    } else {
        "policy.reason.server_role"
    };
    message(
        lang,
        key,
        &[
            ("port", port),
            ("client", client),
            ("server", server),
            ("expected_server", &match_phrase(lang, &row.to)),
            ("topology", &topology),
        ],
    )
}

fn condition_clause(
    lang: Lang,
    site_row: &SiteRow,
    key: ConditionKey,
    required: bool,
    client: &str,
    server: &str,
) -> String {
    let row = &site_row.row;
    let name = match key {
        ConditionKey::FeaturesImap4 => "policy.reason.condition.imap4",
        ConditionKey::FeaturesPop3 => "policy.reason.condition.pop3",
        ConditionKey::FeaturesSubmissionOnPort25 => "policy.reason.condition.submission_on_port_25",
        ConditionKey::FeaturesFrontEndProxy => "policy.reason.condition.front_end_proxy",
        ConditionKey::RolesEdgeSubscribedMailbox => "policy.reason.not_subscribed",
        ConditionKey::TopologyEdgeTransport if required => "policy.reason.condition.needs_edge",
        ConditionKey::TopologyEdgeTransport if row.from.roles.contains(Role::Internet) => {
            "policy.reason.condition.edge_inbound"
        }
        ConditionKey::TopologyEdgeTransport if row.to.roles.contains(Role::Internet) => {
            "policy.reason.condition.edge_outbound"
        }
        ConditionKey::TopologyEdgeTransport => "policy.reason.condition.without_edge",
    };
    message(
        lang,
        name,
        &[
            ("row", &site_row.id),
            ("client", client),
            ("server", server),
        ],
    )
}

fn protocol_clause(lang: Lang, facts: &FlowFacts, apps: AppMatch) -> String {
    let expects_tls = apps.apps().any(|app| app == App::Tls);
    let expected: Vec<String> = apps
        .apps()
        .map(|app| app_phrase(lang, app, false))
        .collect();
    message(
        lang,
        "policy.reason.protocol",
        &[
            ("port", &flow_port(facts)),
            ("expected", &join_list(lang, &expected, "policy.text.or")),
            ("actual", &app_phrase(lang, facts.app, expects_tls)),
        ],
    )
}

fn is_smtp_only(apps: AppMatch) -> bool {
    let mut apps = apps.apps();
    apps.next() == Some(App::Smtp) && apps.next().is_none()
}

/// Writes the flow's server port as `443/tcp`.
fn flow_port(facts: &FlowFacts) -> String {
    format!("{}/{}", facts.port, facts.transport.as_str())
}

fn ports_phrase(lang: Lang, site_row: &SiteRow) -> String {
    if site_row.ports.iter().any(|spec| spec.transport.is_none()) {
        message(lang, "policy.text.any_port", &[])
    } else {
        describe_ports(&site_row.ports)
    }
}

/// Names a protocol for a sentence. With `cleartext`, a protocol seen where TLS
/// was expected is called cleartext (`cleartext LDAP`).
pub(crate) fn app_phrase(lang: Lang, app: App, cleartext: bool) -> String {
    let name = match app {
        App::Smtp => "SMTP",
        App::Imap => "IMAP",
        App::Pop3 => "POP3",
        App::Http => "HTTP",
        App::Tls => "TLS",
        App::Ldap => "LDAP",
        App::Dns => "DNS",
        App::Ssh => "SSH",
        App::Unknown => return message(lang, "policy.text.app_unknown", &[]),
        App::None => return message(lang, "policy.text.app_none", &[]),
    };
    let is_cleartext = !matches!(app, App::Tls | App::Ssh);
    if cleartext && is_cleartext {
        message(lang, "policy.text.cleartext", &[("protocol", name)])
    } else {
        name.to_string()
    }
}

/// Names one role for a sentence ("the Mailbox server").
pub(crate) fn role_phrase(lang: Lang, role: Role) -> String {
    message(lang, &format!("policy.role.{}", role.as_str()), &[])
}

/// Names the roles of one address ("a DNS server and a domain controller").
pub(crate) fn set_phrase(lang: Lang, set: RoleSet) -> String {
    list_phrase(lang, set, "policy.text.and")
}

fn list_phrase(lang: Lang, set: RoleSet, conjunction: &str) -> String {
    let phrases: Vec<String> = set.iter().map(|role| role_phrase(lang, role)).collect();
    join_list(lang, &phrases, conjunction)
}

/// Names what a side of a row accepts ("the Client Access server or the
/// Mailbox server", "any host except the Edge Transport server").
pub(crate) fn match_phrase(lang: Lang, side: &RoleMatch) -> String {
    if !side.any {
        return list_phrase(lang, side.roles, "policy.text.or");
    }
    if side.except.is_empty() {
        message(lang, "policy.text.any_host", &[])
    } else {
        message(
            lang,
            "policy.text.any_host_except",
            &[(
                "excluded",
                &list_phrase(lang, side.except, "policy.text.or"),
            )],
        )
    }
}

/// Joins `A, B or C` (`A、B または C`), with the conjunction message `conjunction`.
fn join_list(lang: Lang, items: &[String], conjunction: &str) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => {
            let separator = message(lang, "policy.text.list_separator", &[]);
            let conjunction = message(lang, conjunction, &[]);
            format!("{}{conjunction}{last}", init.join(&separator))
        }
    }
}
