//! The verdict of a finished flow: which row allows it, or why none does.
//!
//! Rules are tried in the fixed order of the rules file's `order`. For the
//! built-in rules that is `client.*`, `mail.*`, `edge.*`, the site's `[[allow]]`
//! entries, then `internal.unrestricted`, and the first that matches names the
//! flow's rule. When none matches and an Exchange server takes part, the reason
//! names the nearest row (see [`nearest_row`]) and what differs.

use std::net::IpAddr;
use std::sync::Arc;

use super::cache::BoundedCache;
use super::port::PortSpec;
use super::role::{Role, RoleSet};
use super::rules::{ConditionSet, Row};
use super::site::{Allow, Endpoint, Site};
use crate::decode::Transport;
use crate::fingerprint::{App, AppInfo};

/// The verdict of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    Allowed,
    Unexpected,
    OutOfScope,
}

impl Verdict {
    /// Returns the record's `verdict` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Unexpected => "unexpected",
            Verdict::OutOfScope => "out_of_scope",
        }
    }

    pub fn from_name(name: &str) -> Option<Verdict> {
        [Verdict::Allowed, Verdict::Unexpected, Verdict::OutOfScope]
            .into_iter()
            .find(|verdict| verdict.as_str() == name)
    }
}

/// A weakness seen in a flow, reported whatever its verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Risk {
    /// Credentials crossed the wire before any TLS.
    CleartextAuth,
    /// The server offered STARTTLS (SMTP, IMAP) or STLS (POP3) and the client
    /// never requested it.
    StarttlsNotUsed,
    /// The server accepted the upgrade but no TLS handshake followed.
    StarttlsFailed,
}

impl Risk {
    pub const ALL: [Risk; 3] = [
        Risk::CleartextAuth,
        Risk::StarttlsNotUsed,
        Risk::StarttlsFailed,
    ];

    /// Returns the record's `risks` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::CleartextAuth => "cleartext_auth",
            Risk::StarttlsNotUsed => "starttls_not_used",
            Risk::StarttlsFailed => "starttls_failed",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The risks of one flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Risks(u8);

impl Risks {
    /// Reads the risks from what the fingerprints learned.
    pub fn from_app(info: &AppInfo) -> Risks {
        let mut risks = Risks::default();
        if info.cleartext_auth {
            risks.insert(Risk::CleartextAuth);
        }
        let mail_protocol = matches!(info.app, App::Smtp | App::Imap | App::Pop3);
        if mail_protocol && info.upgrade.offered && !info.upgrade.requested {
            risks.insert(Risk::StarttlsNotUsed);
        }
        if info.upgrade.accepted && !info.upgrade.tls_followed {
            risks.insert(Risk::StarttlsFailed);
        }
        risks
    }

    pub fn insert(&mut self, risk: Risk) {
        self.0 |= risk.bit();
    }

    pub fn contains(self, risk: Risk) -> bool {
        self.0 & risk.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Risk> {
        Risk::ALL
            .into_iter()
            .filter(move |risk| self.contains(*risk))
    }

    /// Iterates over the record's `risks` values.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        self.iter().map(Risk::as_str)
    }
}

/// The facts of a flow the verdict uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowFacts {
    pub transport: Transport,
    /// The server port.
    pub port: u16,
    pub app: App,
    pub client: RoleSet,
    pub server: RoleSet,
}

/// A matrix row as it applies to one site: ports resolved from the site and
/// the site-wide conditions evaluated.
#[derive(Clone, Debug)]
pub struct SiteRow {
    /// The row id, shared with every judgement that names it.
    pub id: Arc<str>,
    pub row: Row,
    /// The row's ports, or the site list its `ports_from` names.
    pub ports: Vec<PortSpec>,
    /// Site-wide conditions that do not hold for this site.
    pub failed_conditions: ConditionSet,
    /// Side the `roles.edge_subscribed_mailbox` condition checks:
    /// `Some(true)` the client, `Some(false)` the server.
    subscribed_side_is_client: Option<bool>,
    /// Whether `ports` name particular ports (not every port).
    specific_ports: bool,
}

impl SiteRow {
    pub fn new(row: Row, site: &Site) -> SiteRow {
        let ports = match row.ports_from {
            Some(list) => list.resolve(site),
            None => row.ports.clone(),
        };
        let mut failed_conditions = ConditionSet::default();
        for condition in &row.when {
            if condition.key.site_value(site) != condition.required {
                failed_conditions.insert(condition.key);
            }
        }
        SiteRow {
            id: Arc::from(row.id.as_str()),
            subscribed_side_is_client: row.subscribed_side_is_client(),
            specific_ports: !ports.iter().any(PortSpec::is_every_port),
            row,
            ports,
            failed_conditions,
        }
    }

    /// Returns true when every site-wide condition of the row is met.
    pub fn is_on(&self) -> bool {
        self.failed_conditions.is_empty()
    }

    /// Compares a flow with the row; the flow matches when nothing differs.
    pub fn compare(&self, facts: &FlowFacts) -> Differences {
        let row = &self.row;
        let client_role = !row.from.matches(facts.client);
        let server_role = !row.to.matches(facts.server);
        let either_side = !row.either_side.is_empty()
            && !row.either_side.intersects(facts.client)
            && !row.either_side.intersects(facts.server);
        let port = !self
            .ports
            .iter()
            .any(|spec| spec.matches(facts.transport, facts.port));

        // A side that is not a Mailbox server already fails its role check;
        // only a Mailbox server outside the EdgeSync list fails here.
        let not_subscribed = match self.subscribed_side_is_client {
            Some(true) => {
                facts.client.contains(Role::Mailbox) && !facts.client.is_edge_subscribed()
            }
            Some(false) => {
                facts.server.contains(Role::Mailbox) && !facts.server.is_edge_subscribed()
            }
            None => false,
        };

        Differences {
            client_role,
            server_role,
            either_side,
            port,
            conditions: self.failed_conditions,
            not_subscribed,
            protocol: !row.apps.matches(facts.app),
        }
    }

    /// Scores how near a flow is to the row; see [`nearest_row`].
    fn nearness(&self, differences: &Differences) -> u32 {
        let mut score = 0;
        if !differences.port && self.specific_ports {
            score += 16;
        }
        if !differences.client_role {
            score += if self.row.from.any { 6 } else { 8 };
        }
        if !differences.server_role && !differences.either_side {
            score += 4;
        }
        if differences.conditions.is_empty() && !differences.not_subscribed {
            score += 2;
        }
        if !differences.protocol {
            score += 3;
        }
        score
    }
}

/// The differences between a flow and a row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Differences {
    /// The client lacks the row's source role (or has an excluded one).
    pub client_role: bool,
    /// The server lacks the row's destination role (or has an excluded one).
    pub server_role: bool,
    /// Neither side has one of the row's `either_side` roles.
    pub either_side: bool,
    /// The transport and server port are not among the row's ports.
    pub port: bool,
    /// Site conditions of the row that do not hold.
    pub conditions: ConditionSet,
    /// The row's Mailbox side is not in `roles.edge_subscribed_mailbox`.
    pub not_subscribed: bool,
    /// The payload speaks another protocol than the row expects.
    pub protocol: bool,
}

impl Differences {
    pub fn is_empty(&self) -> bool {
        *self == Differences::default()
    }
}

/// A site `[[allow]]` entry, ready to match flows.
#[derive(Clone, Debug)]
pub struct SiteAllow {
    /// `site.<name>`
    pub id: Arc<str>,
    pub allow: Allow,
}

impl SiteAllow {
    pub fn new(allow: Allow) -> SiteAllow {
        SiteAllow {
            id: Arc::from(allow.rule_id().as_str()),
            allow,
        }
    }

    pub fn matches(&self, client: IpAddr, server: IpAddr, facts: &FlowFacts) -> bool {
        endpoints_match(&self.allow.from, client, facts.client)
            && endpoints_match(&self.allow.to, server, facts.server)
            && self
                .allow
                .ports
                .iter()
                .any(|spec| spec.matches(facts.transport, facts.port))
    }
}

fn endpoints_match(endpoints: &[Endpoint], address: IpAddr, roles: RoleSet) -> bool {
    let address = address.to_canonical();
    endpoints.iter().any(|endpoint| match endpoint {
        Endpoint::Network(net) => net.contains(&address),
        Endpoint::Role(role) => roles.contains(*role),
    })
}

/// A rule in verdict order: a matrix row or a site entry.
#[derive(Clone, Debug)]
pub enum Rule {
    Row(Arc<SiteRow>),
    Allow(Arc<SiteAllow>),
}

impl Rule {
    pub fn id(&self) -> &Arc<str> {
        match self {
            Rule::Row(row) => &row.id,
            Rule::Allow(allow) => &allow.id,
        }
    }
}

/// Why a flow got its verdict, as a value; [`Reason::render`] writes it as a
/// sentence.
#[derive(Clone, Debug)]
pub struct Reason {
    pub facts: FlowFacts,
    pub kind: ReasonKind,
}

#[derive(Clone, Debug)]
pub enum ReasonKind {
    /// The rule that allowed the flow.
    Matched(Rule),
    /// No rule matched; `row` is the nearest row and `differences` what differs.
    Nearest {
        row: Arc<SiteRow>,
        differences: Differences,
    },
    /// No rule matched and the rules file has no rows to compare with.
    NoRows,
    /// Mail between the site and the outside with no Exchange server.
    MailBypass,
    /// No Exchange server takes part.
    OutOfScope,
}

impl Reason {
    /// Returns a short code for the kind of reason, for summaries and tests:
    /// `matched`, `client_role`, `server_role`, `port`, `condition`,
    /// `not_subscribed`, `protocol`, `no_rows`, `mail_bypass` or `out_of_scope`.
    /// For a nearest row, the code names the first difference in that order.
    pub fn code(&self) -> &'static str {
        match &self.kind {
            ReasonKind::Matched(_) => "matched",
            ReasonKind::Nearest { differences, .. } => {
                if differences.port {
                    "port"
                } else if differences.client_role {
                    "client_role"
                } else if differences.server_role || differences.either_side {
                    "server_role"
                } else if !differences.conditions.is_empty() {
                    "condition"
                } else if differences.not_subscribed {
                    "not_subscribed"
                } else {
                    "protocol"
                }
            }
            ReasonKind::NoRows => "no_rows",
            ReasonKind::MailBypass => "mail_bypass",
            ReasonKind::OutOfScope => "out_of_scope",
        }
    }

    /// Returns the id of the nearest row when no rule matched.
    pub fn nearest_row(&self) -> Option<&str> {
        match &self.kind {
            ReasonKind::Nearest { row, .. } => Some(&row.id),
            _ => None,
        }
    }
}

/// The verdict of a flow with its rule, reason and risks.
#[derive(Clone, Debug)]
pub struct Judgement {
    pub verdict: Verdict,
    /// The matching row id or `site.<name>`; `None` unless allowed.
    pub rule: Option<Arc<str>>,
    pub reason: Reason,
    pub risks: Risks,
    /// The roles of the client, for the record's `client.roles`.
    pub client_roles: RoleSet,
    /// The roles of the server, for the record's `server.roles`.
    pub server_roles: RoleSet,
}

/// Server ports that carry mail: SMTP (25), submission (587), POP3 (110, 995)
/// and IMAP (143, 993).
pub const MAIL_PORTS: [u16; 6] = [25, 587, 110, 143, 993, 995];

/// The rows that decide the verdict of one set of flow facts: the first row
/// that allows a flow with them, and, when none does and an Exchange server
/// takes part, the nearest row and what differs from it. Rows never look at
/// addresses, so the facts decide both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RowChoice {
    first: Option<usize>,
    nearest: Option<(usize, Differences)>,
}

impl RowChoice {
    /// Returns the rows of `facts`, compared with every row of `rules`.
    pub(crate) fn of(rules: &[Rule], facts: &FlowFacts) -> RowChoice {
        let first = first_matching_row(rules, facts);
        let exchange = facts.client.has_exchange() || facts.server.has_exchange();
        let nearest = match first {
            None if exchange => nearest_row_index(rules, facts),
            _ => None,
        };
        RowChoice { first, nearest }
    }
}

/// The rows of each set of flow facts a policy judged. Most flows of a
/// capture share their facts with many others, and comparing every row was
/// most of the cost of a verdict (perf, benchmark capture). The nearest rows
/// count too: with a site file that left 80% of the benchmark capture's flows
/// unexpected, caching them took one thread from 1.285 to 1.240 s.
#[derive(Clone, Debug)]
pub(crate) struct RowCache(BoundedCache<FlowFacts, RowChoice>);

/// Maximum number of cached sets of facts in each shard of the cache.
const MAX_CACHED_FACTS: usize = 4096;

impl Default for RowCache {
    fn default() -> RowCache {
        RowCache(BoundedCache::new(MAX_CACHED_FACTS))
    }
}

impl RowCache {
    /// Returns the [`RowChoice`] of `facts`, from the cache when it has them.
    pub(crate) fn get(&self, rules: &[Rule], facts: &FlowFacts) -> RowChoice {
        self.0
            .get_or_insert_with(*facts, || RowChoice::of(rules, facts))
    }
}

/// Judges a flow against `rules` in verdict order, trying every rule in turn:
/// the plain form of [`judge_with_rows`], kept for tests to compare with.
#[cfg(test)]
pub(crate) fn judge_facts(
    rules: &[Rule],
    client: IpAddr,
    server: IpAddr,
    facts: FlowFacts,
    risks: Risks,
) -> Judgement {
    let matched = rules.iter().find(|rule| match rule {
        Rule::Row(row) => row.compare(&facts).is_empty(),
        Rule::Allow(allow) => allow.matches(client, server, &facts),
    });
    match matched {
        Some(rule) => Judgement {
            verdict: Verdict::Allowed,
            rule: Some(rule.id().clone()),
            reason: Reason {
                facts,
                kind: ReasonKind::Matched(rule.clone()),
            },
            risks,
            client_roles: facts.client,
            server_roles: facts.server,
        },
        // No rule matched, so the rest does not depend on the first row.
        None => {
            let rows = RowChoice {
                first: None,
                nearest: nearest_row_index(rules, &facts),
            };
            judge_with_rows(rules, rows, client, server, facts, risks)
        }
    }
}

/// Returns the position in `rules` of the first matrix row that allows a flow
/// with `facts`. Rows never look at addresses, so the facts decide it.
pub(crate) fn first_matching_row(rules: &[Rule], facts: &FlowFacts) -> Option<usize> {
    rules
        .iter()
        .position(|rule| matches!(rule, Rule::Row(row) if row.compare(facts).is_empty()))
}

/// Judges a flow whose rows are known: only the site entries before the
/// first matching row, which match on addresses, are left to try.
pub(crate) fn judge_with_rows(
    rules: &[Rule],
    rows: RowChoice,
    client: IpAddr,
    server: IpAddr,
    facts: FlowFacts,
    risks: Risks,
) -> Judgement {
    let mut judgement = Judgement {
        verdict: Verdict::Allowed,
        rule: None,
        reason: Reason {
            facts,
            kind: ReasonKind::OutOfScope,
        },
        risks,
        client_roles: facts.client,
        server_roles: facts.server,
    };

    let before_row = &rules[..rows.first.unwrap_or(rules.len())];
    let allowed_by = before_row
        .iter()
        .find(|rule| matches!(rule, Rule::Allow(allow) if allow.matches(client, server, &facts)))
        .or_else(|| rows.first.map(|index| &rules[index]));
    if let Some(rule) = allowed_by {
        judgement.rule = Some(rule.id().clone());
        judgement.reason.kind = ReasonKind::Matched(rule.clone());
        return judgement;
    }

    judgement.verdict = Verdict::Unexpected;
    judgement.reason.kind = if facts.client.has_exchange() || facts.server.has_exchange() {
        match rows
            .nearest
            .map(|(index, differences)| (&rules[index], differences))
        {
            Some((Rule::Row(row), differences)) => ReasonKind::Nearest {
                row: row.clone(),
                differences,
            },
            _ => ReasonKind::NoRows,
        }
    } else if bypasses_exchange(&facts) {
        ReasonKind::MailBypass
    } else {
        judgement.verdict = Verdict::OutOfScope;
        ReasonKind::OutOfScope
    };
    judgement
}

/// Finds the row nearest to a flow that no rule allows.
///
/// Each row scores what it has in common with the flow, and the highest score
/// wins, the earliest row in verdict order on a tie:
///
/// | the flow has the row's ... | points |
/// | --- | --- |
/// | transport and server port (rows that name particular ports) | 16 |
/// | source role (8 when the row names roles, 6 when it takes any host) | 8 or 6 |
/// | destination role | 4 |
/// | protocol | 3 |
/// | site conditions (all of them hold) | 2 |
///
/// The port weighs most because it names the service the flow was after. The
/// source role comes next because who may open a path is what the matrix
/// restricts. So mail from the internet to a Mailbox server is nearest to
/// `edge.inbound` with an Edge, or `mail.inbound` without one, and the reason
/// says the mail should reach another server. The protocol outweighs the difference between a
/// named source role and `any`, so TLS on an unknown port of a Client Access
/// server is nearest to `client.https`, not to `mail.inbound`. A row with an
/// `any` port earns nothing for it, so `internal.unrestricted` is nearest only
/// when the roles are what differs.
pub fn nearest_row(rules: &[Rule], facts: &FlowFacts) -> Option<(Arc<SiteRow>, Differences)> {
    let (index, differences) = nearest_row_index(rules, facts)?;
    match &rules[index] {
        Rule::Row(row) => Some((row.clone(), differences)),
        Rule::Allow(_) => None,
    }
}

/// Returns the position in `rules` of the row [`nearest_row`] finds, and what
/// differs from it.
fn nearest_row_index(rules: &[Rule], facts: &FlowFacts) -> Option<(usize, Differences)> {
    let mut best: Option<(u32, usize, Differences)> = None;
    for (index, rule) in rules.iter().enumerate() {
        let Rule::Row(row) = rule else {
            continue;
        };
        let differences = row.compare(facts);
        let score = row.nearness(&differences);
        if best
            .as_ref()
            .is_none_or(|(best_score, _, _)| score > *best_score)
        {
            best = Some((score, index, differences));
        }
    }
    best.map(|(_, index, differences)| (index, differences))
}

/// Mail that bypasses Exchange: between an address outside the site networks
/// and one inside them, with no Exchange server on either side, whose payload
/// is SMTP, IMAP or POP3 or whose TCP server port is a mail port. The page
/// documents only Exchange servers carrying mail across the site boundary.
fn bypasses_exchange(facts: &FlowFacts) -> bool {
    let crosses_boundary = facts.client.is_inside_site() != facts.server.is_inside_site();
    let mail_payload = matches!(facts.app, App::Smtp | App::Imap | App::Pop3);
    // NOTE: the mail ports count for TCP only; no mail protocol runs over UDP.
    let mail_port = facts.transport == Transport::Tcp && MAIL_PORTS.contains(&facts.port);
    crosses_boundary && (mail_payload || mail_port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::Upgrade;

    #[test]
    fn risks_from_app() {
        let mut info = AppInfo {
            app: App::Smtp,
            ..AppInfo::default()
        };
        info.upgrade = Upgrade {
            offered: true,
            ..Upgrade::default()
        };
        assert_eq!(
            Risks::from_app(&info).names().collect::<Vec<_>>(),
            ["starttls_not_used"]
        );

        info.upgrade.requested = true;
        info.upgrade.accepted = true;
        assert_eq!(
            Risks::from_app(&info).names().collect::<Vec<_>>(),
            ["starttls_failed"]
        );

        info.upgrade.tls_followed = true;
        info.cleartext_auth = true;
        assert_eq!(
            Risks::from_app(&info).names().collect::<Vec<_>>(),
            ["cleartext_auth"]
        );
    }

    #[test]
    fn starttls_not_used_only_for_mail_protocols() {
        let info = AppInfo {
            app: App::Ldap,
            upgrade: Upgrade {
                offered: true,
                ..Upgrade::default()
            },
            ..AppInfo::default()
        };
        assert!(Risks::from_app(&info).is_empty());
    }

    #[test]
    fn verdict_names() {
        for verdict in [Verdict::Allowed, Verdict::Unexpected, Verdict::OutOfScope] {
            assert_eq!(Verdict::from_name(verdict.as_str()), Some(verdict));
        }
    }
}
