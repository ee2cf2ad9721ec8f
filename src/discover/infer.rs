//! From observations to an inventory: signals per host and role, confidence,
//! the rounds that let roles lean on each other, topology, features and
//! networks.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::build;
use super::observe::{Flavour, Observations, UsageKey};
use super::signal::{CLIENT_TLS_PORTS, Context, Evidence, Side, Signal, Strength, signals_of};
use crate::decode::Transport;
use crate::fingerprint::App;
use crate::policy::{Role, Site};

/// Maximum number of rounds of assignment. Each round may use the roles of
/// the round before, because a Mailbox server is found through the Client
/// Access server that proxies to it. The recorded captures settle within
/// four rounds (the last one changes nothing).
pub const MAX_ROUNDS: usize = 8;

/// Distinct peers that corroborate a role on their own.
pub const CORROBORATING_PEERS: usize = 3;

/// The degree of certainty of a role assignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Confidence {
    /// Too little evidence: the role is not assigned, only listed as a comment.
    Low,
    Medium,
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// The evidence for one role of one host, and the confidence it gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assessment {
    pub address: IpAddr,
    pub role: Role,
    pub confidence: Confidence,
    /// Every signal seen, strongest first.
    pub evidence: Vec<Evidence>,
}

impl Assessment {
    fn new(address: IpAddr, role: Role, mut evidence: Vec<Evidence>) -> Assessment {
        evidence.sort_by(|a, b| {
            (b.signal.strength(), a.signal, a.key).cmp(&(a.signal.strength(), b.signal, b.key))
        });
        let confidence = confidence(&evidence);
        Assessment {
            address,
            role,
            confidence,
            evidence,
        }
    }

    /// Returns the number of distinct peers across the evidence; `None` when
    /// some peers are not listed (more than the cap).
    pub fn peers(&self) -> Option<usize> {
        if self.evidence.iter().any(|evidence| evidence.more_peers) {
            return None;
        }
        let peers: BTreeSet<IpAddr> = self
            .evidence
            .iter()
            .flat_map(|evidence| evidence.peers.iter().copied())
            .collect();
        Some(peers.len())
    }

    /// Returns the number of flows behind the evidence, each service counted once.
    pub fn flows(&self) -> u64 {
        distinct_flows(&self.evidence)
    }
}

/// Returns the number of flows behind a list of evidence. Two signals read off
/// the same service (IMAP and a shared name on TLS 993) count its flows once.
fn distinct_flows(evidence: &[Evidence]) -> u64 {
    let mut by_service: BTreeMap<(Side, UsageKey), u64> = BTreeMap::new();
    for item in evidence {
        let flows = by_service
            .entry((item.signal.side(), item.key))
            .or_default();
        *flows = (*flows).max(item.flows);
    }
    by_service.values().sum()
}

/// Computes the confidence that a list of evidence gives a role.
///
/// - low: no primary signal (every signal is [`Strength::Supporting`]), or a
///   single [`Strength::Generic`] signal from fewer than
///   [`CORROBORATING_PEERS`] peers;
/// - high: a [`Strength::Specific`] signal, corroborated by a second signal
///   or by [`CORROBORATING_PEERS`] distinct peers, over at least two flows;
/// - medium: every other case with a primary signal.
pub fn confidence(evidence: &[Evidence]) -> Confidence {
    let strongest = evidence
        .iter()
        .map(|evidence| evidence.signal.strength())
        .max();
    let signals: BTreeSet<Signal> = evidence.iter().map(|evidence| evidence.signal).collect();
    let mut peers = BTreeSet::new();
    let mut many_peers = false;
    for item in evidence {
        peers.extend(item.peers.iter().copied());
        many_peers |= item.more_peers;
    }
    let corroborated = signals.len() > 1 || many_peers || peers.len() >= CORROBORATING_PEERS;
    let flows = distinct_flows(evidence);

    match strongest {
        Some(Strength::Specific) if corroborated && flows >= 2 => Confidence::High,
        Some(Strength::Specific) => Confidence::Medium,
        Some(Strength::Generic) if corroborated => Confidence::Medium,
        _ => Confidence::Low,
    }
}

/// The reason a host with evidence was not given a role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unassigned {
    /// The evidence gives low confidence.
    TooLittleEvidence,
    /// The role needs an internal address (private, or given with
    /// `--internal`), and this one is not.
    OutsideInternal,
    /// No Client Access, Mailbox or Edge Transport server was found, and the
    /// role only matters next to one.
    NoExchangeServer,
    /// Edge Transport evidence on a host that also has Client Access or
    /// Mailbox evidence: the two never share a host, so the side with the
    /// lower confidence (both sides on a tie) is left out.
    EdgeConflict,
}

impl Unassigned {
    pub fn id(self) -> &'static str {
        match self {
            Unassigned::TooLittleEvidence => "too_little_evidence",
            Unassigned::OutsideInternal => "outside_internal",
            Unassigned::NoExchangeServer => "no_exchange_server",
            Unassigned::EdgeConflict => "edge_conflict",
        }
    }
}

/// A role of a host that was not assigned, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    pub assessment: Assessment,
    pub reason: Unassigned,
}

/// A host listed as a comment: the roles it was not given, or the services
/// it served when none of them is a signal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub address: IpAddr,
    /// The roles not assigned; empty when the host showed no signal.
    pub rejected: Vec<Rejected>,
    /// When the host showed no signal: the services it served, each as
    /// (transport, port, app, flows).
    pub services: Vec<(Transport, u16, App, u64)>,
}

impl Candidate {
    /// Returns why the host was not given `role`, when it had evidence for it.
    pub fn reason_for(&self, role: Role) -> Option<Unassigned> {
        self.rejected
            .iter()
            .find(|rejected| rejected.assessment.role == role)
            .map(|rejected| rejected.reason)
    }
}

/// A feature turned on, or worth a comment, with its evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeatureFinding {
    /// The `[features]` key.
    pub key: &'static str,
    /// Whether the site file turns the feature on. `false` with evidence when
    /// the traffic shows the behaviour but the feature does not apply (the
    /// front end proxy with an Edge Transport server).
    pub enabled: bool,
    /// The Client Access host, and what it did.
    pub evidence: Vec<(IpAddr, Evidence)>,
}

/// The conclusions of discovery: the site and the reasons behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inventory {
    /// The site file's content.
    pub site: Site,
    /// Every role assigned, by role in site file order, then by address.
    pub assignments: Vec<Assessment>,
    /// Hosts with evidence or services but no role.
    pub candidates: Vec<Candidate>,
    /// Features, in site file order, that the traffic gave evidence for.
    pub features: Vec<FeatureFinding>,
    /// Rounds until the roles settled.
    pub rounds: usize,
}

impl Inventory {
    /// Returns true when no Client Access, Mailbox or Edge Transport server was
    /// found (the inventory lists no roles).
    pub fn is_empty(&self) -> bool {
        self.site.roles.is_empty()
    }
}

/// Runs the inference over everything observed.
pub fn infer(observations: &Observations) -> Inventory {
    let is_internal = |address: IpAddr| observations.is_internal(address);
    let exchange_names = exchange_names(observations);

    let mut roles: BTreeMap<IpAddr, BTreeSet<Role>> = BTreeMap::new();
    let mut anchors: BTreeSet<IpAddr> = BTreeSet::new();
    let mut rounds = 0;
    let mut decided;
    loop {
        rounds += 1;
        let cas_names = cas_names(observations, &anchors);
        let context = Context {
            roles: &roles,
            exchange_names: &exchange_names,
            cas_names: &cas_names,
            is_internal: &is_internal,
        };
        let assessments = assess(observations, &context);
        decided = decide(assessments, &is_internal);
        let next = decided.roles();
        anchors = name_anchors(&decided);
        if next == roles || rounds >= MAX_ROUNDS {
            if next != roles {
                log::debug!("discover: roles still changing after {rounds} rounds");
            }
            break;
        }
        roles = next;
    }

    require_exchange_server(&mut decided);
    add_unsignalled_hosts(observations, &mut decided);
    let site_roles = decided.roles();
    let features = build::features(observations, &decided.assigned, &site_roles);
    let site = build::site(observations, &decided.assigned, &features);

    let mut assignments = decided.assigned;
    assignments.sort_by_key(|assessment| (role_order(assessment.role), assessment.address));
    let mut candidates: Vec<Candidate> = decided.candidates.into_values().collect();
    candidates.sort_by_key(|candidate| candidate.address);
    Inventory {
        site,
        assignments,
        candidates,
        features,
        rounds,
    }
}

fn role_order(role: Role) -> usize {
    Role::LISTED
        .iter()
        .position(|listed| *listed == role)
        .unwrap_or(Role::LISTED.len())
}

/// Collects the names of Exchange web services seen in the traffic.
fn exchange_names(observations: &Observations) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for host in observations.hosts.values() {
        for (key, usage) in &host.served {
            if let Flavour::ExchangeWeb(_) = key.flavour {
                names.extend(usage.names.iter().cloned());
            }
            if key.app == App::Tls {
                // Outlook looks up autodiscover.<domain> (Microsoft's
                // "Autodiscover for Exchange" documentation), so the name
                // itself points at the Client Access server.
                let autodiscover = usage
                    .names
                    .iter()
                    .filter(|name| name.starts_with("autodiscover."));
                names.extend(autodiscover.cloned());
            }
        }
    }
    names
}

/// Returns the Client Access hosts whose role rests on more than a shared
/// name. Only their names may lend the role to other hosts, so that a name
/// never lends a host the confidence it lent out itself.
fn name_anchors(decided: &Decided) -> BTreeSet<IpAddr> {
    decided
        .assigned
        .iter()
        .filter(|assessment| assessment.role == Role::ClientAccess)
        .filter(|assessment| {
            assessment.evidence.iter().any(|evidence| {
                evidence.signal != Signal::CasSharedName
                    && evidence.signal.strength() > Strength::Supporting
            })
        })
        .map(|assessment| assessment.address)
        .collect()
}

/// Collects the names each anchoring Client Access host served on a client
/// port.
fn cas_names(
    observations: &Observations,
    anchors: &BTreeSet<IpAddr>,
) -> BTreeMap<IpAddr, BTreeSet<String>> {
    let mut names = BTreeMap::new();
    for address in anchors {
        let Some(host) = observations.hosts.get(address) else {
            continue;
        };
        let served: BTreeSet<String> = host
            .served
            .iter()
            .filter(|(key, _)| {
                key.transport == Transport::Tcp && CLIENT_TLS_PORTS.contains(&key.port)
            })
            .flat_map(|(_, usage)| usage.names.iter().cloned())
            .collect();
        if !served.is_empty() {
            names.insert(*address, served);
        }
    }
    names
}

/// Assesses every role of every host that shows at least one signal.
fn assess(observations: &Observations, context: &Context<'_>) -> Vec<Assessment> {
    let mut assessments = Vec::new();
    for (address, host) in &observations.hosts {
        let mut by_role: BTreeMap<Role, Vec<Evidence>> = BTreeMap::new();
        let sides = [(Side::Served, &host.served), (Side::Opened, &host.opened)];
        for (side, usages) in sides {
            for (key, usage) in usages {
                for evidence in signals_of(context, *address, side, key, usage) {
                    by_role
                        .entry(evidence.signal.role())
                        .or_default()
                        .push(evidence);
                }
            }
        }
        for (role, evidence) in by_role {
            assessments.push(Assessment::new(*address, role, evidence));
        }
    }
    assessments
}

/// The roles of one round: what was assigned and what was not.
#[derive(Default)]
struct Decided {
    assigned: Vec<Assessment>,
    candidates: BTreeMap<IpAddr, Candidate>,
}

impl Decided {
    fn roles(&self) -> BTreeMap<IpAddr, BTreeSet<Role>> {
        let mut roles: BTreeMap<IpAddr, BTreeSet<Role>> = BTreeMap::new();
        for assessment in &self.assigned {
            roles
                .entry(assessment.address)
                .or_default()
                .insert(assessment.role);
        }
        roles
    }

    fn reject(&mut self, assessment: Assessment, reason: Unassigned) {
        let candidate = self
            .candidates
            .entry(assessment.address)
            .or_insert_with(|| Candidate {
                address: assessment.address,
                rejected: Vec::new(),
                services: Vec::new(),
            });
        candidate.rejected.push(Rejected { assessment, reason });
    }
}

/// Returns true when a role may go to an address outside the internal
/// networks. The Edge Transport server sits in a perimeter network that may
/// have public addresses, and the proxy of sender reputation faces the
/// internet. Every other role is an internal server.
fn allowed_outside(role: Role) -> bool {
    matches!(role, Role::EdgeTransport | Role::Proxy)
}

/// Assigns the roles with medium or high confidence, keeping an Edge
/// Transport server off the hosts of Client Access and Mailbox servers.
fn decide(assessments: Vec<Assessment>, is_internal: &dyn Fn(IpAddr) -> bool) -> Decided {
    let mut decided = Decided::default();
    let mut by_host: BTreeMap<IpAddr, Vec<Assessment>> = BTreeMap::new();
    for assessment in assessments {
        by_host
            .entry(assessment.address)
            .or_default()
            .push(assessment);
    }

    for (address, assessments) in by_host {
        let mut kept = Vec::new();
        for assessment in assessments {
            if assessment.confidence == Confidence::Low {
                decided.reject(assessment, Unassigned::TooLittleEvidence);
            } else if !allowed_outside(assessment.role) && !is_internal(address) {
                decided.reject(assessment, Unassigned::OutsideInternal);
            } else {
                kept.push(assessment);
            }
        }

        let confidence_of = |kept: &[Assessment], roles: &[Role]| {
            kept.iter()
                .filter(|assessment| roles.contains(&assessment.role))
                .map(|assessment| assessment.confidence)
                .max()
        };
        let edge = confidence_of(&kept, &[Role::EdgeTransport]);
        let internal = confidence_of(&kept, &[Role::ClientAccess, Role::Mailbox]);
        let (drop_edge, drop_internal) = match (edge, internal) {
            (Some(edge), Some(internal)) if edge > internal => (false, true),
            (Some(edge), Some(internal)) if edge < internal => (true, false),
            (Some(_), Some(_)) => (true, true),
            _ => (false, false),
        };
        // The Edge does not relay for itself through a proxy on its own host.
        let drop_proxy = edge.is_some() && !drop_edge;

        for assessment in kept {
            let dropped = match assessment.role {
                Role::EdgeTransport => drop_edge,
                Role::ClientAccess | Role::Mailbox => drop_internal,
                Role::Proxy => drop_proxy,
                _ => false,
            };
            if dropped {
                decided.reject(assessment, Unassigned::EdgeConflict);
            } else {
                decided.assigned.push(assessment);
            }
        }
    }

    // Hosts with a role are listed only for a role lost to the Edge
    // Transport rule, not for the roles they had too little evidence for.
    let assigned: BTreeSet<IpAddr> = decided
        .assigned
        .iter()
        .map(|assessment| assessment.address)
        .collect();
    for (address, candidate) in &mut decided.candidates {
        if assigned.contains(address) {
            candidate
                .rejected
                .retain(|rejected| rejected.reason == Unassigned::EdgeConflict);
        }
    }
    decided
        .candidates
        .retain(|_, candidate| !candidate.rejected.is_empty());
    decided
}

/// Without a Client Access, Mailbox or Edge Transport server, no matrix row
/// uses the other roles, so the inventory is left empty.
fn require_exchange_server(decided: &mut Decided) {
    let exchange = decided
        .assigned
        .iter()
        .any(|assessment| assessment.role.is_exchange());
    if exchange {
        return;
    }
    for assessment in std::mem::take(&mut decided.assigned) {
        decided.reject(assessment, Unassigned::NoExchangeServer);
    }
}

/// Lists the internal hosts that served services but hold no role and
/// showed no signal (an SSH server on 443, a web server), so that the reader
/// sees every internal server the traffic shows.
fn add_unsignalled_hosts(observations: &Observations, decided: &mut Decided) {
    let roles = decided.roles();
    for (address, host) in &observations.hosts {
        if host.served.is_empty()
            || roles.contains_key(address)
            || decided.candidates.contains_key(address)
            || !observations.is_internal(*address)
        {
            continue;
        }
        let mut services: BTreeMap<(Transport, u16, App), u64> = BTreeMap::new();
        for (key, usage) in &host.served {
            let flows = usage.total().map_or(0, |total| total.flows);
            *services
                .entry((key.transport, key.port, key.app))
                .or_default() += flows;
        }
        decided.candidates.insert(
            *address,
            Candidate {
                address: *address,
                rejected: Vec::new(),
                services: services
                    .into_iter()
                    .map(|((transport, port, app), flows)| (transport, port, app, flows))
                    .collect(),
            },
        );
    }

    // A public host is worth a comment only for a role-specific signal (an
    // internet resolver that Exchange servers query); the rest is the
    // ordinary internet. An internal host with nothing but supporting signals
    // of what it opened is a client (a workstation that sends mail itself),
    // which the verdicts of `exflow analyze` cover.
    decided.candidates.retain(|address, candidate| {
        let evidence = || {
            candidate
                .rejected
                .iter()
                .flat_map(|rejected| rejected.assessment.evidence.iter())
        };
        let specific = evidence().any(|item| item.signal.strength() == Strength::Specific);
        let primary = evidence().any(|item| item.signal.strength() > Strength::Supporting);
        let served = evidence().any(|item| item.signal.side() == Side::Served);
        if !observations.is_internal(*address) {
            return specific;
        }
        let weak = candidate
            .rejected
            .iter()
            .all(|rejected| rejected.reason == Unassigned::TooLittleEvidence);
        candidate.rejected.is_empty() || !weak || primary || served
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::Timestamp;
    use crate::decode::VlanIds;
    use crate::fingerprint::{AppEvidence, AppInfo, ExchangeService, HttpInfo};
    use crate::flow::{ConnState, DirectionCounters, DirectionEvidence, EndReason, FinishedFlow};
    use ipnet::IpNet;
    use std::net::SocketAddr;

    /// Builds a flow, with a reply, from `client` to `port` of `server`.
    fn flow(client: &str, server: &str, port: u16, app: AppInfo) -> FinishedFlow {
        let payload = DirectionCounters {
            packets: 1,
            bytes: 60,
            payload_bytes: 20,
        };
        FinishedFlow {
            transport: Transport::Tcp,
            ip_version: 4,
            client: SocketAddr::new(client.parse().unwrap(), 40000),
            server: SocketAddr::new(server.parse().unwrap(), port),
            direction_evidence: DirectionEvidence::Syn,
            conn_state: ConnState::Sf,
            vlan: VlanIds::default(),
            ts_start: Timestamp(1),
            ts_end: Timestamp(2),
            to_server: payload,
            to_client: payload,
            missed_bytes: 0,
            app,
            end: EndReason::Closed,
            first_offset: 0,
            start_clock: Timestamp(1),
            duplicates: 0,
        }
    }

    fn app(app: App) -> AppInfo {
        AppInfo {
            app,
            evidence: AppEvidence::Both,
            ..AppInfo::default()
        }
    }

    fn owa() -> AppInfo {
        AppInfo {
            http: Some(Box::new(HttpInfo {
                method: Some(b"GET".as_slice().into()),
                path: Some(b"/owa/".as_slice().into()),
                status: Some(200),
                service: Some(ExchangeService::Owa),
                ..HttpInfo::default()
            })),
            ..app(App::Http)
        }
    }

    #[test]
    fn edge_and_client_access_never_share_a_host() {
        // 10.0.0.5 serves EdgeSync and OWA with the same confidence, so it
        // gets neither role, and both are listed with the reason.
        let mut observations = Observations::default();
        observations.add(&flow("10.0.0.20", "10.0.0.5", 50636, app(App::Tls)));
        observations.add(&flow("10.0.0.100", "10.0.0.5", 80, owa()));
        let inventory = infer(&observations);
        assert!(
            inventory.assignments.is_empty(),
            "{:?}",
            inventory.assignments
        );
        let candidate = &inventory.candidates[0];
        assert_eq!(
            candidate.reason_for(Role::EdgeTransport),
            Some(Unassigned::EdgeConflict)
        );
        assert_eq!(
            candidate.reason_for(Role::ClientAccess),
            Some(Unassigned::EdgeConflict)
        );

        // A second OWA client and a second Exchange service raise the Client
        // Access side to high: it wins, and the Edge side is listed.
        observations.add(&flow("10.0.0.101", "10.0.0.5", 443, app(App::Tls)));
        observations.add(&flow("10.0.0.102", "10.0.0.5", 80, owa()));
        let inventory = infer(&observations);
        let roles: Vec<(Role, Confidence)> = inventory
            .assignments
            .iter()
            .map(|assessment| (assessment.role, assessment.confidence))
            .collect();
        assert_eq!(roles, [(Role::ClientAccess, Confidence::High)]);
        assert_eq!(
            inventory.candidates[0].reason_for(Role::EdgeTransport),
            Some(Unassigned::EdgeConflict)
        );
        assert!(!inventory.site.topology.edge_transport);
    }

    #[test]
    fn mailbox_found_through_its_client_access_server() {
        // The Mailbox signal needs the CAS, which the first round finds.
        let mut observations = Observations::default();
        observations.add(&flow("10.0.0.100", "10.0.0.10", 80, owa()));
        observations.add(&flow("10.0.0.101", "10.0.0.10", 80, owa()));
        observations.add(&flow("10.0.0.10", "10.0.0.20", 444, app(App::Tls)));
        let inventory = infer(&observations);
        assert_eq!(inventory.site.roles.mailbox, [IpNet::from(ip("10.0.0.20"))]);
        assert_eq!(inventory.rounds, 3);

        // Without it the same flow is no evidence.
        let mut observations = Observations::default();
        observations.add(&flow("10.0.0.10", "10.0.0.20", 444, app(App::Tls)));
        let inventory = infer(&observations);
        assert!(inventory.is_empty());
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn evidence(signal: Signal, port: u16, flows: u64, peers: &[&str]) -> Evidence {
        Evidence {
            signal,
            key: UsageKey {
                transport: Transport::Tcp,
                port,
                app: App::Smtp,
                flavour: Flavour::Plain,
            },
            flows,
            peers: peers.iter().map(|peer| peer.parse().unwrap()).collect(),
            more_peers: false,
            first: Timestamp(0),
            last: Timestamp(1),
            names: Vec::new(),
        }
    }

    #[test]
    fn supporting_signals_alone_are_low() {
        let items = [
            evidence(
                Signal::CasImap,
                143,
                5,
                &["10.0.0.1", "10.0.0.2", "10.0.0.3"],
            ),
            evidence(Signal::CasPop3, 110, 5, &["10.0.0.1"]),
            evidence(Signal::CasHttps, 443, 9, &["10.0.0.4"]),
        ];
        assert_eq!(confidence(&items), Confidence::Low);
    }

    #[test]
    fn generic_signal_needs_corroboration() {
        let alone = [evidence(
            Signal::CasSubmission,
            587,
            4,
            &["10.0.0.1", "10.0.0.2"],
        )];
        assert_eq!(confidence(&alone), Confidence::Low);

        let with_peers = [evidence(
            Signal::CasSubmission,
            587,
            3,
            &["10.0.0.1", "10.0.0.2", "10.0.0.3"],
        )];
        assert_eq!(confidence(&with_peers), Confidence::Medium);

        let with_signal = [
            evidence(Signal::CasSubmission, 587, 1, &["10.0.0.1"]),
            evidence(Signal::CasImap, 143, 1, &["10.0.0.1"]),
        ];
        assert_eq!(confidence(&with_signal), Confidence::Medium);
    }

    #[test]
    fn specific_signal_confidence() {
        let alone = [evidence(Signal::EdgeSync, 50636, 5, &["10.0.0.20"])];
        assert_eq!(confidence(&alone), Confidence::Medium);

        let backed = [
            evidence(Signal::EdgeSync, 50636, 1, &["10.0.0.20"]),
            evidence(Signal::EdgeInternetSmtp, 25, 1, &["192.0.2.1"]),
        ];
        assert_eq!(confidence(&backed), Confidence::High);

        // Two signals read off one flow are not two flows.
        let one_flow = [
            evidence(Signal::CasSharedName, 993, 1, &["192.0.2.1"]),
            evidence(Signal::CasImap, 993, 1, &["192.0.2.1"]),
        ];
        assert_eq!(confidence(&one_flow), Confidence::Medium);
    }
}
