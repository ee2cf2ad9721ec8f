//! The site file's content from the assigned roles: the role lists, the
//! topology, the features the Client Access servers show, the proxy ports
//! and the networks.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;

use super::infer::{Assessment, FeatureFinding};
use super::observe::{Flavour, Observations, Usage, UsageKey, block_of, is_private};
use super::signal::{Evidence, Signal};
use crate::decode::Transport;
use crate::fingerprint::App;
use crate::policy::{Networks, Role, Site};

/// Finds the features the Client Access hosts show.
pub fn features(
    observations: &Observations,
    assigned: &[Assessment],
    roles: &BTreeMap<IpAddr, BTreeSet<Role>>,
) -> Vec<FeatureFinding> {
    let has_edge = roles
        .values()
        .any(|host_roles| host_roles.contains(&Role::EdgeTransport));
    let exchange_server = |address: &IpAddr| {
        roles
            .get(address)
            .is_some_and(|host_roles| host_roles.iter().any(|role| role.is_exchange()))
    };

    let mut imap = Vec::new();
    let mut pop3 = Vec::new();
    let mut proxy = Vec::new();
    let mut submission_25 = Vec::new();
    for assessment in assigned {
        if assessment.role != Role::ClientAccess {
            continue;
        }
        let address = assessment.address;
        for evidence in &assessment.evidence {
            match evidence.signal {
                Signal::CasImap => imap.push((address, evidence.clone())),
                Signal::CasPop3 => pop3.push((address, evidence.clone())),
                _ => {}
            }
        }
        let Some(host) = observations.hosts.get(&address) else {
            continue;
        };

        // features.front_end_proxy: the Client Access server itself opens
        // SMTP to internet hosts (a send connector with
        // -FrontEndProxyEnabled routes outbound mail through it).
        for (key, usage) in &host.opened {
            if key.transport != Transport::Tcp || key.port != 25 || key.app != App::Smtp {
                continue;
            }
            if let Some(evidence) = peer_evidence(Signal::EdgeOutbound, key, usage, |peer| {
                !observations.is_internal(peer)
            }) {
                proxy.push((address, evidence));
            }
        }

        // features.submission_on_port_25: a client that is no Exchange server
        // authenticated on port 25 before TLS.
        for (key, usage) in &host.served {
            let auth_on_25 = key.transport == Transport::Tcp
                && key.port == 25
                && key.app == App::Smtp
                && key.flavour == Flavour::SmtpAuth;
            if !auth_on_25 {
                continue;
            }
            if let Some(evidence) = peer_evidence(Signal::CasSubmission, key, usage, |peer| {
                !exchange_server(&peer)
            }) {
                submission_25.push((address, evidence));
            }
        }
    }

    let mut findings = Vec::new();
    for (key, evidence, enabled) in [
        ("imap4", imap, true),
        ("pop3", pop3, true),
        ("front_end_proxy", proxy, !has_edge),
        ("submission_on_port_25", submission_25, true),
    ] {
        if !evidence.is_empty() {
            findings.push(FeatureFinding {
                key,
                enabled,
                evidence,
            });
        }
    }
    findings
}

/// Builds evidence from the peers of a service that `wanted` accepts.
fn peer_evidence(
    signal: Signal,
    key: &UsageKey,
    usage: &Usage,
    wanted: impl Fn(IpAddr) -> bool,
) -> Option<Evidence> {
    let mut evidence: Option<Evidence> = None;
    for (peer, stats) in &usage.peers {
        if !wanted(*peer) {
            continue;
        }
        match &mut evidence {
            Some(evidence) => {
                evidence.peers.push(*peer);
                evidence.flows = evidence.flows.saturating_add(stats.flows);
                evidence.first = evidence.first.min(stats.first);
                evidence.last = evidence.last.max(stats.last);
            }
            None => {
                evidence = Some(Evidence {
                    signal,
                    key: *key,
                    flows: stats.flows,
                    peers: vec![*peer],
                    more_peers: false,
                    first: stats.first,
                    last: stats.last,
                    names: usage.names.iter().cloned().collect(),
                });
            }
        }
    }
    evidence
}

/// Builds the site: roles, topology, features, sender reputation and networks.
pub fn site(
    observations: &Observations,
    assigned: &[Assessment],
    features: &[FeatureFinding],
) -> Site {
    let mut site = Site::default();
    for assessment in assigned {
        let net = IpNet::from(assessment.address);
        let list = match assessment.role {
            Role::ClientAccess => &mut site.roles.client_access,
            Role::Mailbox => &mut site.roles.mailbox,
            Role::EdgeTransport => &mut site.roles.edge_transport,
            Role::Dns => &mut site.roles.dns,
            Role::DomainController => &mut site.roles.domain_controller,
            Role::Lync => &mut site.roles.lync,
            Role::Proxy => &mut site.roles.proxy,
            Role::Internet | Role::Internal => continue,
        };
        list.push(net);

        // The proxy ports are the ports the Edge used for its proxy requests.
        if assessment.role == Role::Proxy {
            for evidence in &assessment.evidence {
                if evidence.signal == Signal::ProxyReputation {
                    site.sender_reputation.proxy_ports.push(evidence.key.port);
                }
            }
        }
    }
    for list in [
        &mut site.roles.client_access,
        &mut site.roles.mailbox,
        &mut site.roles.edge_transport,
        &mut site.roles.dns,
        &mut site.roles.domain_controller,
        &mut site.roles.lync,
        &mut site.roles.proxy,
    ] {
        sort_nets(list);
    }
    site.sender_reputation.proxy_ports.sort_unstable();
    site.sender_reputation.proxy_ports.dedup();

    site.topology.edge_transport = !site.roles.edge_transport.is_empty();
    for finding in features {
        let flag = match finding.key {
            "imap4" => &mut site.features.imap4,
            "pop3" => &mut site.features.pop3,
            "front_end_proxy" => &mut site.features.front_end_proxy,
            "submission_on_port_25" => &mut site.features.submission_on_port_25,
            _ => continue,
        };
        *flag = finding.enabled;
    }

    site.networks = networks(observations, &site);
    site
}

fn sort_nets(nets: &mut Vec<IpNet>) {
    nets.sort_by_key(|net| (net.addr().is_ipv6(), net.addr(), net.prefix_len()));
    nets.dedup();
}

/// Infers `[networks]`.
///
/// - perimeter: the /24 (IPv4) or /64 (IPv6) block of each private Edge
///   Transport address, or the Edge's own address when it is public or when
///   its block also contains an internal role;
/// - internal: the blocks of every private address seen, apart from the
///   perimeter blocks, plus the networks given with `--internal`.
///
/// NOTE: the block sizes are a guess. A site whose networks are wider has
/// addresses the capture never showed, and those fall outside the inferred
/// networks (so they count as `internet`) until the file is widened.
pub fn networks(observations: &Observations, site: &Site) -> Networks {
    let internal_roles: Vec<IpNet> = [
        &site.roles.client_access,
        &site.roles.mailbox,
        &site.roles.dns,
        &site.roles.domain_controller,
    ]
    .into_iter()
    .flatten()
    .copied()
    .collect();

    let mut perimeter = Vec::new();
    for edge in &site.roles.edge_transport {
        let address = edge.addr();
        let block = block_of(address);
        let shared = internal_roles.iter().any(|net| block.contains(net));
        if is_private(address) && !shared {
            perimeter.push(block);
        } else {
            perimeter.push(*edge);
        }
    }

    let mut internal: Vec<IpNet> = observations
        .private_blocks
        .iter()
        .filter(|block| !perimeter.contains(block))
        .copied()
        .collect();
    internal.extend(observations.extra_internal.iter().copied());

    let mut internal = IpNet::aggregate(&internal);
    let mut perimeter = IpNet::aggregate(&perimeter);
    sort_nets(&mut internal);
    sort_nets(&mut perimeter);
    Networks {
        internal,
        perimeter,
    }
}
