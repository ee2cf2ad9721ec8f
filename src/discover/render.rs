//! Writes an inventory as a site file: the keys `Site::parse` reads, with the
//! evidence of every assignment, the features and the networks as comments,
//! and the hosts left unassigned as comments at the end.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;
use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

use super::infer::{Assessment, Candidate, Confidence, FeatureFinding, Inventory};
use super::observe::{MAX_HOSTS, MAX_NETWORK_BLOCKS, Observations, ServiceName};
use super::signal::{Evidence, Signal};
use crate::capture::Timestamp;
use crate::i18n::{Lang, message};
use crate::policy::{Role, network_text, wrap};

/// Display width of comment text, after `# ` and the indent.
const COMMENT_WIDTH: usize = 78;

/// Peers named in one evidence line; the rest are counted.
const PEERS_SHOWN: usize = 4;

/// Hosts listed at the end of the file; the rest are counted.
const MAX_CANDIDATES_SHOWN: usize = 200;

/// Capture time to the second, in UTC: enough to find the flows again.
const RFC3339_SECONDS: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// Writes the site file for `inventory`.
pub fn render(
    inventory: &Inventory,
    observations: &Observations,
    sources: &[String],
    lang: Lang,
) -> String {
    let mut out = Output {
        lines: Vec::new(),
        lang,
    };
    header(&mut out, inventory, observations, sources);
    topology(&mut out, inventory);
    features(&mut out, inventory);
    roles(&mut out, inventory);
    sender_reputation(&mut out, inventory);
    networks(&mut out, inventory);
    candidates(&mut out, &inventory.candidates);
    out.lines.push(String::new());
    out.lines.join("\n")
}

struct Output {
    lines: Vec<String>,
    lang: Lang,
}

impl Output {
    fn text(&self, key: &str, args: &[(&str, &str)]) -> String {
        message(self.lang, &format!("discover.{key}"), args)
    }

    /// Writes `text` as comment lines indented by `indent` spaces; wrapped
    /// lines are indented two spaces more.
    fn comment(&mut self, indent: usize, text: &str) {
        let width = COMMENT_WIDTH.saturating_sub(indent + 2).max(20);
        for (index, line) in wrap(text, width).into_iter().enumerate() {
            let extra = if index == 0 { 0 } else { 2 };
            let pad = " ".repeat(indent + extra);
            self.lines
                .push(format!("# {pad}{line}").trim_end().to_string());
        }
    }

    /// Writes a comment in an array of the `[roles]` table, which TOML allows
    /// between the values.
    fn array_comment(&mut self, indent: usize, text: &str) {
        let width = COMMENT_WIDTH.saturating_sub(indent + 6).max(20);
        for (index, line) in wrap(text, width).into_iter().enumerate() {
            let extra = if index == 0 { 0 } else { 2 };
            let pad = " ".repeat(indent + extra);
            self.lines
                .push(format!("    # {pad}{line}").trim_end().to_string());
        }
    }

    fn key(&mut self, line: String) {
        self.lines.push(line);
    }

    fn blank(&mut self) {
        self.lines.push(String::new());
    }
}

fn header(
    out: &mut Output,
    inventory: &Inventory,
    observations: &Observations,
    sources: &[String],
) {
    let title = out.text("header.title", &[]);
    out.comment(0, &title);
    if !sources.is_empty() {
        let text = out.text("header.sources", &[("sources", &sources.join(", "))]);
        out.comment(0, &text);
    }
    match (observations.first, observations.last) {
        (Some(first), Some(last)) => {
            let text = out.text(
                "header.flows",
                &[
                    ("flows", &observations.flows.to_string()),
                    ("replied", &observations.replied_flows.to_string()),
                    ("first", &timestamp(first)),
                    ("last", &timestamp(last)),
                ],
            );
            out.comment(0, &text);
        }
        _ => {
            let text = out.text("header.no_flows", &[]);
            out.comment(0, &text);
        }
    }
    if observations.flows_untracked > 0 {
        let text = out.text(
            "header.untracked",
            &[
                ("flows", &observations.flows_untracked.to_string()),
                ("max", &MAX_HOSTS.to_string()),
            ],
        );
        out.comment(0, &text);
    }
    if observations.blocks_dropped > 0 {
        let text = out.text(
            "header.blocks_dropped",
            &[
                ("count", &observations.blocks_dropped.to_string()),
                ("max", &MAX_NETWORK_BLOCKS.to_string()),
            ],
        );
        out.comment(0, &text);
    }

    out.lines.push("#".to_string());
    let text = out.text("header.evidence", &[]);
    out.comment(0, &text);
    for confidence in [Confidence::High, Confidence::Medium, Confidence::Low] {
        let name = confidence_name(out, confidence);
        let text = out.text(&format!("confidence.{}", confidence.as_str()), &[]);
        out.comment(2, &format!("{name}: {text}"));
    }
    let text = out.text("header.review", &[]);
    out.comment(0, &text);
    if inventory.is_empty() {
        out.lines.push("#".to_string());
        let text = out.text("header.empty", &[]);
        out.comment(0, &text);
    }
}

fn topology(out: &mut Output, inventory: &Inventory) {
    out.blank();
    out.key("[topology]".to_string());
    let edges = &inventory.site.roles.edge_transport;
    let text = if edges.is_empty() {
        out.text("topology.no_edge", &[])
    } else {
        out.text("topology.edge", &[("hosts", &net_names(edges))])
    };
    out.comment(0, &text);
    out.key(format!(
        "edge_transport = {}",
        inventory.site.topology.edge_transport
    ));
}

fn features(out: &mut Output, inventory: &Inventory) {
    out.blank();
    out.key("[features]".to_string());
    let flags = &inventory.site.features;
    for (key, enabled) in [
        ("imap4", flags.imap4),
        ("pop3", flags.pop3),
        ("front_end_proxy", flags.front_end_proxy),
        ("submission_on_port_25", flags.submission_on_port_25),
    ] {
        let finding = inventory.features.iter().find(|finding| finding.key == key);
        feature(out, key, finding, inventory);
        out.key(format!("{key} = {enabled}"));
    }
}

fn feature(out: &mut Output, key: &str, finding: Option<&FeatureFinding>, inventory: &Inventory) {
    let Some(finding) = finding else {
        let text = out.text(&format!("feature.{key}.none"), &[]);
        out.comment(0, &text);
        return;
    };
    let hosts: BTreeSet<IpAddr> = finding.evidence.iter().map(|(host, _)| *host).collect();
    let hosts: Vec<String> = hosts.iter().map(IpAddr::to_string).collect();
    let state = if finding.enabled {
        "found"
    } else {
        "not_applied"
    };
    let edges = net_names(&inventory.site.roles.edge_transport);
    let text = out.text(
        &format!("feature.{key}.{state}"),
        &[("hosts", &hosts.join(", ")), ("edges", &edges)],
    );
    out.comment(0, &text);
    for (_, evidence) in &finding.evidence {
        let description = out.text(&format!("feature.{key}.evidence"), &[]);
        let line = evidence_line(out, &description, &service_text(evidence), evidence);
        out.comment(2, &line);
    }
}

fn roles(out: &mut Output, inventory: &Inventory) {
    out.blank();
    out.key("[roles]".to_string());
    let text = out.text("roles.intro", &[]);
    out.comment(0, &text);
    for role in Role::LISTED {
        let assigned: Vec<&Assessment> = inventory
            .assignments
            .iter()
            .filter(|assessment| assessment.role == role)
            .collect();
        let nets = inventory.site.roles.get(role);
        if nets.is_empty() {
            out.key(format!("{} = []", role.as_str()));
            continue;
        }
        out.key(format!("{} = [", role.as_str()));
        for net in nets {
            let assessment = assigned
                .iter()
                .find(|assessment| IpNet::from(assessment.address) == *net);
            if let Some(assessment) = assessment {
                let confidence = confidence_name(out, assessment.confidence);
                let text = out.text(
                    "roles.host",
                    &[
                        ("host", &assessment.address.to_string()),
                        ("confidence", &confidence),
                    ],
                );
                out.array_comment(0, &text);
                for line in evidence_lines(out, &assessment.evidence) {
                    out.array_comment(2, &line);
                }
            }
            out.key(format!("    {},", quote(&network_text(net))));
        }
        out.key("]".to_string());
    }
    let subscribed = out.text("roles.edge_subscribed_mailbox", &[]);
    out.comment(0, &subscribed);
    out.key("edge_subscribed_mailbox = []".to_string());
}

fn sender_reputation(out: &mut Output, inventory: &Inventory) {
    out.blank();
    out.key("[sender_reputation]".to_string());
    let ports = &inventory.site.sender_reputation.proxy_ports;
    let text = if ports.is_empty() {
        out.text("sender_reputation.none", &[])
    } else {
        out.text("sender_reputation.found", &[])
    };
    out.comment(0, &text);
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    out.key(format!("proxy_ports = [{}]", ports.join(", ")));
}

fn networks(out: &mut Output, inventory: &Inventory) {
    out.blank();
    out.key("[networks]".to_string());
    let networks = &inventory.site.networks;
    let text = out.text("networks.internal", &[]);
    out.comment(0, &text);
    out.key(format!("internal = {}", net_list(&networks.internal)));
    let text = if networks.perimeter.is_empty() {
        out.text("networks.no_perimeter", &[])
    } else {
        out.text("networks.perimeter", &[])
    };
    out.comment(0, &text);
    out.key(format!("perimeter = {}", net_list(&networks.perimeter)));
}

fn candidates(out: &mut Output, candidates: &[Candidate]) {
    if candidates.is_empty() {
        return;
    }
    out.blank();
    let text = out.text("candidates.title", &[]);
    out.comment(0, &text);
    for candidate in candidates.iter().take(MAX_CANDIDATES_SHOWN) {
        candidate_lines(out, candidate);
    }
    if candidates.len() > MAX_CANDIDATES_SHOWN {
        let more = (candidates.len() - MAX_CANDIDATES_SHOWN).to_string();
        let text = out.text("candidates.more", &[("count", &more)]);
        out.comment(0, &text);
    }
}

fn candidate_lines(out: &mut Output, candidate: &Candidate) {
    let host = candidate.address.to_string();
    if candidate.rejected.is_empty() {
        let services: Vec<String> = candidate
            .services
            .iter()
            .map(|(transport, port, app, flows)| {
                out.text(
                    "candidates.service",
                    &[
                        ("service", &format!("{}/{port}", transport.as_str())),
                        ("app", app.as_str()),
                        ("flows", &flows.to_string()),
                    ],
                )
            })
            .collect();
        let text = out.text(
            "candidates.no_signal",
            &[("host", &host), ("services", &services.join(", "))],
        );
        out.comment(2, &text);
        return;
    }

    out.comment(2, &format!("{host}:"));
    for rejected in &candidate.rejected {
        let assessment = &rejected.assessment;
        let confidence = confidence_name(out, assessment.confidence);
        let reason = out.text(&format!("unassigned.{}", rejected.reason.id()), &[]);
        let text = out.text(
            "candidates.role",
            &[
                ("role", assessment.role.as_str()),
                ("confidence", &confidence),
                ("reason", &reason),
            ],
        );
        out.comment(4, &text);
        for line in evidence_lines(out, &assessment.evidence) {
            out.comment(6, &line);
        }
    }
}

/// Writes one line per signal, merging the services that show it (the
/// Exchange services of one HTTP port, DNS over UDP and TCP).
fn evidence_lines(out: &Output, evidence: &[Evidence]) -> Vec<String> {
    let mut merged: Vec<Merged> = Vec::new();
    for item in evidence {
        let index = match merged
            .iter()
            .position(|line| line.evidence.signal == item.signal)
        {
            Some(index) => {
                let line = &mut merged[index].evidence;
                line.flows = line.flows.saturating_add(item.flows);
                line.first = line.first.min(item.first);
                line.last = line.last.max(item.last);
                line.more_peers |= item.more_peers;
                for peer in &item.peers {
                    if !line.peers.contains(peer) {
                        line.peers.push(*peer);
                    }
                }
                for name in &item.names {
                    if !line.names.contains(name) {
                        line.names.push(name.clone());
                    }
                }
                index
            }
            None => {
                merged.push(Merged {
                    evidence: item.clone(),
                    services: Vec::new(),
                    exchange_services: BTreeSet::new(),
                });
                merged.len() - 1
            }
        };
        let line = &mut merged[index];
        let service = service_text(item);
        if !line.services.contains(&service) {
            line.services.push(service);
        }
        if let Some(service) = item.service() {
            line.exchange_services.insert(service);
        }
    }

    merged
        .iter()
        .map(|line| {
            let item = &line.evidence;
            let detail = match item.signal {
                Signal::CasExchangeWeb => line
                    .exchange_services
                    .iter()
                    .map(|name| name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                Signal::CasExchangeName | Signal::CasSharedName => item.names.join(", "),
                _ => String::new(),
            };
            let description = out.text(
                &format!("signal.{}", item.signal.id()),
                &[("detail", &detail)],
            );
            evidence_line(out, &description, &line.services.join(", "), item)
        })
        .collect()
}

/// The evidence of one signal over every service that shows it.
struct Merged {
    evidence: Evidence,
    /// `tcp/443 tls` for each service, in the order first seen.
    services: Vec<String>,
    exchange_services: BTreeSet<ServiceName>,
}

fn service_text(evidence: &Evidence) -> String {
    format!(
        "{}/{} {}",
        evidence.key.transport.as_str(),
        evidence.key.port,
        evidence.key.app.as_str()
    )
}

fn evidence_line(out: &Output, description: &str, services: &str, evidence: &Evidence) -> String {
    let mut peers: Vec<IpAddr> = evidence.peers.clone();
    peers.sort();
    let mut shown: Vec<String> = peers
        .iter()
        .take(PEERS_SHOWN)
        .map(IpAddr::to_string)
        .collect();
    let hidden = peers.len().saturating_sub(PEERS_SHOWN);
    if hidden > 0 || evidence.more_peers {
        let count = if evidence.more_peers {
            format!("{hidden}+")
        } else {
            hidden.to_string()
        };
        shown.push(out.text("evidence.more_peers", &[("count", &count)]));
    }
    let peer_count = if evidence.more_peers {
        format!("{}+", peers.len())
    } else {
        peers.len().to_string()
    };
    out.text(
        "evidence.line",
        &[
            ("signal", description),
            ("service", services),
            ("flows", &evidence.flows.to_string()),
            ("peer_count", &peer_count),
            ("peers", &shown.join(", ")),
            ("first", &timestamp(evidence.first)),
            ("last", &timestamp(evidence.last)),
        ],
    )
}

fn confidence_name(out: &Output, confidence: Confidence) -> String {
    out.text(&format!("confidence_name.{}", confidence.as_str()), &[])
}

fn timestamp(ts: Timestamp) -> String {
    // Any i64 of nanoseconds (years 1677 to 2262) is inside the range of
    // `time`, so the fallbacks are not reached.
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts.0))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .format(RFC3339_SECONDS)
        .unwrap_or_default()
}

fn net_names(nets: &[IpNet]) -> String {
    nets.iter().map(network_text).collect::<Vec<_>>().join(", ")
}

fn quote(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

fn net_list(nets: &[IpNet]) -> String {
    let quoted: Vec<String> = nets.iter().map(|net| quote(&network_text(net))).collect();
    format!("[{}]", quoted.join(", "))
}
