//! The activity of each address in the traffic: the services it served as a
//! server and the services it used as a client, each with its peers, flow counts and
//! first and last time seen. Discovery reads flows, never bytes, and keeps only
//! these aggregates, so memory grows with the number of hosts and services,
//! not with the number of flows.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;

use crate::capture::Timestamp;
use crate::decode::Transport;
use crate::fingerprint::{App, ExchangeService, WireText};
use crate::flow::FinishedFlow;

/// Maximum number of addresses whose activity is kept. Past it, flows whose
/// addresses are new are counted in [`Observations::flows_untracked`] and
/// leave no evidence.
pub const MAX_HOSTS: usize = 65_536;

/// Maximum number of peers listed per service of a host. Flows from further
/// peers are counted, but their addresses are not kept.
pub const MAX_PEERS_PER_USAGE: usize = 32;

/// Maximum number of names (TLS SNI, HTTP Host) kept per service of a host.
pub const MAX_NAMES_PER_USAGE: usize = 8;

/// Maximum number of private address blocks (/24 or /64) kept for the
/// internal networks. Past it, addresses in new blocks are counted in
/// [`Observations::blocks_dropped`].
pub const MAX_NETWORK_BLOCKS: usize = 4096;

/// Prefix length of the block that an IPv4 private address adds to the
/// inferred internal networks.
pub const IPV4_BLOCK_PREFIX: u8 = 24;

/// Prefix length of the block that an IPv6 unique local address adds: a
/// subnet, as RFC 4291 section 2.5.4 sizes them.
pub const IPV6_BLOCK_PREFIX: u8 = 64;

/// The kind of exchange a service's flows carried beyond the protocol, as
/// far as discovery distinguishes flows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flavour {
    Plain,
    /// An HTTP request whose path names an Exchange service.
    ExchangeWeb(ServiceName),
    /// An HTTP `CONNECT` request, or a request with an absolute URI: the
    /// client used the server as a proxy (RFC 9110 section 9.3.6, RFC 9112
    /// section 3.2.2).
    ProxyRequest,
    /// An SMTP session in which the client sent `AUTH` before any TLS.
    SmtpAuth,
}

/// An Exchange service named by an HTTP path, ordered so that it can key a map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceName {
    Autodiscover,
    Ews,
    ActiveSync,
    Oab,
    Owa,
    Ecp,
    Mapi,
    Rpc,
}

impl ServiceName {
    pub fn from_service(service: ExchangeService) -> ServiceName {
        match service {
            ExchangeService::Autodiscover => ServiceName::Autodiscover,
            ExchangeService::Ews => ServiceName::Ews,
            ExchangeService::ActiveSync => ServiceName::ActiveSync,
            ExchangeService::Oab => ServiceName::Oab,
            ExchangeService::Owa => ServiceName::Owa,
            ExchangeService::Ecp => ServiceName::Ecp,
            ExchangeService::Mapi => ServiceName::Mapi,
            ExchangeService::Rpc => ServiceName::Rpc,
        }
    }

    /// Returns the name of the flow record's `http.service` field.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceName::Autodiscover => "autodiscover",
            ServiceName::Ews => "ews",
            ServiceName::ActiveSync => "activesync",
            ServiceName::Oab => "oab",
            ServiceName::Owa => "owa",
            ServiceName::Ecp => "ecp",
            ServiceName::Mapi => "mapi",
            ServiceName::Rpc => "rpc",
        }
    }
}

/// A service as one host offered or used it: transport, server port, the
/// protocol in the payload, and the flavour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UsageKey {
    pub transport: Transport,
    pub port: u16,
    pub app: App,
    pub flavour: Flavour,
}

/// Flow count and time span of one peer, or of several.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerStats {
    pub flows: u64,
    pub first: Timestamp,
    pub last: Timestamp,
}

impl PeerStats {
    fn new(flow: &FinishedFlow) -> PeerStats {
        PeerStats {
            flows: 1,
            first: flow.ts_start,
            last: flow.ts_end,
        }
    }

    fn add(&mut self, flow: &FinishedFlow) {
        self.flows = self.flows.saturating_add(1);
        self.first = self.first.min(flow.ts_start);
        self.last = self.last.max(flow.ts_end);
    }

    /// Merges another peer's counts into these.
    pub fn merge(&mut self, other: &PeerStats) {
        self.flows = self.flows.saturating_add(other.flows);
        self.first = self.first.min(other.first);
        self.last = self.last.max(other.last);
    }
}

/// One service of one host: every flow of one [`UsageKey`], by peer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// The first [`MAX_PEERS_PER_USAGE`] peers and their flows.
    pub peers: BTreeMap<IpAddr, PeerStats>,
    /// Flows of peers past the cap, merged; `None` when no peer was dropped.
    pub unlisted: Option<PeerStats>,
    /// TLS server names and HTTP Host names the clients asked for, lower case,
    /// without a port; at most [`MAX_NAMES_PER_USAGE`].
    pub names: BTreeSet<String>,
}

impl Usage {
    fn add(&mut self, peer: IpAddr, flow: &FinishedFlow, name: Option<String>) {
        if let Some(stats) = self.peers.get_mut(&peer) {
            stats.add(flow);
        } else if self.peers.len() < MAX_PEERS_PER_USAGE {
            self.peers.insert(peer, PeerStats::new(flow));
        } else {
            match &mut self.unlisted {
                Some(stats) => stats.add(flow),
                None => self.unlisted = Some(PeerStats::new(flow)),
            }
        }
        if let Some(name) = name
            && self.names.len() < MAX_NAMES_PER_USAGE
        {
            self.names.insert(name);
        }
    }

    /// Returns the counts of every flow, listed peers and unlisted ones.
    pub fn total(&self) -> Option<PeerStats> {
        let mut total: Option<PeerStats> = self.unlisted;
        for stats in self.peers.values() {
            match &mut total {
                Some(total) => total.merge(stats),
                None => total = Some(*stats),
            }
        }
        total
    }
}

/// The activity of one address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostActivity {
    /// Services the address served as the server, keyed by service; peers
    /// are the clients.
    pub served: BTreeMap<UsageKey, Usage>,
    /// Services the address used as the client, keyed by the server's
    /// service; peers are the servers. Kept only for internal addresses.
    pub opened: BTreeMap<UsageKey, Usage>,
}

/// Everything discovery has read so far.
#[derive(Clone, Debug, Default)]
pub struct Observations {
    pub hosts: BTreeMap<IpAddr, HostActivity>,
    /// Flows read.
    pub flows: u64,
    /// Flows whose server replied with a payload, which is what evidence is
    /// made of.
    pub replied_flows: u64,
    /// Flows that left no evidence because [`MAX_HOSTS`] addresses were
    /// already tracked.
    pub flows_untracked: u64,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// Blocks (/24 or /64) of private addresses seen, for the internal networks.
    pub private_blocks: BTreeSet<IpNet>,
    /// Addresses whose block was not kept because [`MAX_NETWORK_BLOCKS`]
    /// blocks were already kept.
    pub blocks_dropped: u64,
    /// Addresses outside the private ranges that count as internal
    /// (`exflow discover --internal`).
    pub extra_internal: Vec<IpNet>,
}

impl Observations {
    pub fn new(extra_internal: Vec<IpNet>) -> Observations {
        Observations {
            extra_internal,
            ..Observations::default()
        }
    }

    /// Returns true for an address inside the private ranges or inside a
    /// network given as internal.
    pub fn is_internal(&self, address: IpAddr) -> bool {
        is_private(address) || self.extra_internal.iter().any(|net| net.contains(&address))
    }

    /// Adds one finished flow.
    pub fn add(&mut self, flow: &FinishedFlow) {
        self.flows = self.flows.saturating_add(1);
        self.first = Some(
            self.first
                .map_or(flow.ts_start, |first| first.min(flow.ts_start)),
        );
        self.last = Some(self.last.map_or(flow.ts_end, |last| last.max(flow.ts_end)));

        let client = flow.client.ip();
        let server = flow.server.ip();
        self.note_block(client);
        self.note_block(server);

        // Evidence is made of what a server replied: a refused or unanswered
        // connection, or a server that never sent a byte, shows no service.
        if flow.to_client.payload_bytes == 0 || flow.app.app == App::None {
            return;
        }
        self.replied_flows = self.replied_flows.saturating_add(1);

        let key = usage_key(flow);
        let name = flow_name(flow);
        let track_client = self.is_internal(client);
        if !self.has_room(server) || (track_client && !self.has_room(client)) {
            self.flows_untracked = self.flows_untracked.saturating_add(1);
            return;
        }

        self.hosts
            .entry(server)
            .or_default()
            .served
            .entry(key)
            .or_default()
            .add(client, flow, name.clone());
        // An internet client's own connections are never evidence (a scanner
        // that opens port 50636 is no Mailbox server), so they are not kept.
        if track_client {
            self.hosts
                .entry(client)
                .or_default()
                .opened
                .entry(key)
                .or_default()
                .add(server, flow, name);
        }
    }

    fn has_room(&self, address: IpAddr) -> bool {
        self.hosts.len() < MAX_HOSTS || self.hosts.contains_key(&address)
    }

    fn note_block(&mut self, address: IpAddr) {
        if !is_private(address) {
            return;
        }
        let block = block_of(address);
        if self.private_blocks.contains(&block) {
            return;
        }
        if self.private_blocks.len() < MAX_NETWORK_BLOCKS {
            self.private_blocks.insert(block);
        } else {
            self.blocks_dropped = self.blocks_dropped.saturating_add(1);
        }
    }
}

/// Returns true for RFC 1918 IPv4 addresses and RFC 4193 unique local IPv6
/// addresses.
///
/// NOTE: a site that numbers its own hosts with public addresses, or uses the
/// shared address space of RFC 6598 (100.64.0.0/10), looks like the internet
/// here. `exflow discover --internal` names such networks.
pub fn is_private(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => v4.is_private(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

/// Returns the /24 (IPv4) or /64 (IPv6) block that contains an address.
pub fn block_of(address: IpAddr) -> IpNet {
    let prefix = match address {
        IpAddr::V4(_) => IPV4_BLOCK_PREFIX,
        IpAddr::V6(_) => IPV6_BLOCK_PREFIX,
    };
    // The prefix lengths are constants within each family's range.
    IpNet::new(address, prefix)
        .map(|net| net.trunc())
        .unwrap_or_else(|_| IpNet::from(address))
}

fn usage_key(flow: &FinishedFlow) -> UsageKey {
    let app = &flow.app;
    let flavour = match app.app {
        App::Http => match app.http.as_deref() {
            Some(http) if is_proxy_request(http.method.as_deref(), http.path.as_deref()) => {
                Flavour::ProxyRequest
            }
            Some(http) => match http.service {
                Some(service) if http.status.is_some() => {
                    Flavour::ExchangeWeb(ServiceName::from_service(service))
                }
                _ => Flavour::Plain,
            },
            None => Flavour::Plain,
        },
        App::Smtp => {
            let auth = app
                .smtp
                .as_deref()
                .is_some_and(|smtp| smtp.auth_attempted.is_some());
            if auth {
                Flavour::SmtpAuth
            } else {
                Flavour::Plain
            }
        }
        _ => Flavour::Plain,
    };
    UsageKey {
        transport: flow.transport,
        port: flow.server.port(),
        app: app.app,
        flavour,
    }
}

fn is_proxy_request(method: Option<&[u8]>, path: Option<&[u8]>) -> bool {
    let connect = method.is_some_and(|method| method.eq_ignore_ascii_case(b"CONNECT"));
    let absolute = path.is_some_and(|path| {
        let lower = path.to_ascii_lowercase();
        lower.starts_with(b"http://") || lower.starts_with(b"https://")
    });
    connect || absolute
}

/// Returns the name the client asked for: the TLS server name, else the HTTP
/// Host without its port.
fn flow_name(flow: &FinishedFlow) -> Option<String> {
    let sni = flow.app.tls.as_deref().and_then(|tls| tls.sni.as_ref());
    let host = flow.app.http.as_deref().and_then(|http| http.host.as_ref());
    sni.or(host).and_then(host_name)
}

/// Returns a DNS name in lower case with any `:port` cut off, or `None` when
/// the text is not a plausible host name (an address, control bytes).
fn host_name(text: &WireText) -> Option<String> {
    let text = std::str::from_utf8(text).ok()?;
    let name = match text.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|byte| byte.is_ascii_digit()) => name,
        _ => text,
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let plausible = !name.is_empty()
        && name.parse::<IpAddr>().is_err()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_'));
    plausible.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::VlanIds;
    use crate::fingerprint::{AppEvidence, AppInfo};
    use crate::flow::{ConnState, DirectionCounters, DirectionEvidence, EndReason};
    use std::net::{Ipv4Addr, SocketAddr};

    /// Builds an SMTP flow, with a reply, from `client` to port 25 of `server`.
    fn smtp_flow(client: IpAddr, server: IpAddr) -> FinishedFlow {
        let payload = DirectionCounters {
            packets: 1,
            bytes: 60,
            payload_bytes: 20,
        };
        FinishedFlow {
            transport: Transport::Tcp,
            ip_version: 4,
            client: SocketAddr::new(client, 40000),
            server: SocketAddr::new(server, 25),
            direction_evidence: DirectionEvidence::Syn,
            conn_state: ConnState::Sf,
            vlan: VlanIds::default(),
            ts_start: Timestamp(1),
            ts_end: Timestamp(2),
            to_server: payload,
            to_client: payload,
            missed_bytes: 0,
            app: AppInfo {
                app: App::Smtp,
                evidence: AppEvidence::Both,
                ..AppInfo::default()
            },
            end: EndReason::Closed,
            first_offset: 0,
            start_clock: Timestamp(1),
            duplicates: 0,
        }
    }

    fn v4(index: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(index))
    }

    #[test]
    fn peers_past_the_cap_are_counted() {
        let server: IpAddr = "10.0.0.25".parse().unwrap();
        let mut observations = Observations::default();
        let peers = MAX_PEERS_PER_USAGE as u32 + 3;
        for index in 0..peers {
            observations.add(&smtp_flow(v4(0xc000_0200 + index), server));
        }
        let usage = observations.hosts[&server].served.values().next().unwrap();
        assert_eq!(usage.peers.len(), MAX_PEERS_PER_USAGE);
        assert_eq!(usage.unlisted.map(|stats| stats.flows), Some(3));
        assert_eq!(
            usage.total().map(|stats| stats.flows),
            Some(u64::from(peers))
        );
    }

    #[test]
    fn hosts_past_the_cap_leave_no_evidence() {
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        let mut observations = Observations::default();
        let servers = MAX_HOSTS as u32 + 5;
        for index in 0..servers {
            observations.add(&smtp_flow(client, v4(0x0a00_0000 + index)));
        }
        assert_eq!(observations.hosts.len(), MAX_HOSTS);
        assert_eq!(observations.flows_untracked, 5);
        assert_eq!(observations.replied_flows, u64::from(servers));
        // A known host still gets its flows.
        observations.add(&smtp_flow(client, v4(0x0a00_0000)));
        assert_eq!(observations.flows_untracked, 5);
    }

    #[test]
    fn blocks_past_the_cap_are_counted() {
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        let mut observations = Observations::default();
        let blocks = MAX_NETWORK_BLOCKS as u32 + 2;
        for index in 0..blocks {
            // One address in each /24 of 10.0.0.0/8.
            observations.add(&smtp_flow(client, v4(0x0a00_0000 + (index << 8))));
        }
        assert_eq!(observations.private_blocks.len(), MAX_NETWORK_BLOCKS);
        assert_eq!(observations.blocks_dropped, 2);
    }

    #[test]
    fn unreplied_flows_are_no_evidence() {
        let server: IpAddr = "10.0.0.25".parse().unwrap();
        let mut flow = smtp_flow("10.0.0.1".parse().unwrap(), server);
        flow.to_client.payload_bytes = 0;
        let mut observations = Observations::default();
        observations.add(&flow);
        assert_eq!(observations.flows, 1);
        assert!(observations.hosts.is_empty());
        // The addresses still count for the internal networks.
        assert_eq!(observations.private_blocks.len(), 1);
    }

    #[test]
    fn private_ranges() {
        for address in [
            "10.1.2.3",
            "172.16.50.5",
            "192.168.0.1",
            "fd00:20::10",
            "fc00::1",
        ] {
            assert!(is_private(address.parse().unwrap()), "{address}");
        }
        for address in [
            "192.0.2.25",
            "100.64.0.1",
            "2001:db8::1",
            "fe80::1",
            "8.8.8.8",
        ] {
            assert!(!is_private(address.parse().unwrap()), "{address}");
        }
    }

    #[test]
    fn blocks_by_family() {
        let v4 = block_of("10.20.0.77".parse().unwrap());
        assert_eq!(v4.to_string(), "10.20.0.0/24");
        let v6 = block_of("fd00:20::10".parse().unwrap());
        assert_eq!(v6.to_string(), "fd00:20::/64");
    }

    #[test]
    fn host_names_are_normalised() {
        let name = |text: &str| host_name(&WireText::from(text.as_bytes()));
        assert_eq!(
            name("Mail.Example.com:443"),
            Some("mail.example.com".into())
        );
        assert_eq!(name("mail.example.com."), Some("mail.example.com".into()));
        assert_eq!(name("198.51.100.25:1080"), None);
        assert_eq!(name("a b"), None);
        assert_eq!(name("[2001:db8::1]:80"), None);
    }

    #[test]
    fn proxy_requests() {
        assert!(is_proxy_request(Some(b"CONNECT"), Some(b"h:1")));
        assert!(is_proxy_request(Some(b"GET"), Some(b"http://example.org/")));
        assert!(!is_proxy_request(Some(b"GET"), Some(b"/owa/")));
        assert!(!is_proxy_request(None, None));
    }
}
