//! The signals: each behaviour that counts as evidence for a role, how strong
//! it is, and which of a host's services show it.
//!
//! A signal is read off one service of one host (a [`UsageKey`] it served or
//! used), sometimes only for the peers that already hold a role. The module
//! documentation of [`crate::discover`] lists them in a table.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::observe::{Flavour, PeerStats, ServiceName, Usage, UsageKey};
use crate::capture::Timestamp;
use crate::decode::Transport;
use crate::fingerprint::App;
use crate::policy::Role;

/// The weight of one signal as evidence for a role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Strength {
    /// Raises the confidence of a role that a primary signal gave, and is never
    /// enough on its own: port-only evidence, or behaviour many hosts show.
    Supporting,
    /// Payload-confirmed server behaviour that fits the role but that other
    /// products show as well (SMTP submission, LDAP on 389).
    Generic,
    /// Payload-confirmed behaviour of this role in an Exchange organisation
    /// (Exchange web services, the back end on 444, EdgeSync on 50636).
    Specific,
}

/// Whether the host served the service or used it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    Served,
    Opened,
}

/// One behaviour that counts as evidence for one role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Signal {
    /// Served HTTP requests whose path names an Exchange service.
    CasExchangeWeb,
    /// Served TLS on 443 for a name of Exchange web services.
    CasExchangeName,
    /// Served TLS, directly or after STARTTLS, on a client port for a name
    /// that a Client Access host serves on a client port.
    CasSharedName,
    /// Served SMTP on 717, the Front End Transport outbound proxy port.
    CasOutboundProxy,
    /// Served SMTP on 587.
    CasSubmission,
    /// Served TLS on 443 for no name known to be Exchange's.
    CasHttps,
    /// Served IMAP, or TLS on 993.
    CasImap,
    /// Served POP3, or TLS on 995.
    CasPop3,
    /// Served SMTP on 25 to internet hosts.
    CasInternetSmtp,
    /// Opened TLS to port 444 of an internal host.
    CasBackEndClient,

    /// Served TLS on 444 to a Client Access host.
    MailboxBackEnd,
    /// Opened SMTP to port 717 of a Client Access host.
    MailboxOutboundProxy,
    /// Opened TLS or LDAP to port 50636 of an Edge Transport host.
    MailboxEdgeSync,
    /// Served SMTP on 25 or 2525 to a Client Access host.
    MailboxFrontEndRelay,
    /// Served SMTP on 25 to an Edge Transport host.
    MailboxEdgeRelay,
    /// Opened SMTP to port 25 of an Edge Transport host.
    MailboxToEdge,

    /// Served TLS or LDAP on 50636.
    EdgeSync,
    /// Served SMTP on 25 to internet hosts.
    EdgeInternetSmtp,
    /// Opened SMTP to port 25 of internal hosts.
    EdgeInboundRelay,
    /// Opened SMTP to port 25 of internet hosts.
    EdgeOutbound,

    /// Served DNS on 53 for Client Access, Mailbox or Edge Transport hosts.
    DnsExchangeResolver,
    /// Served DNS on 53 for other hosts.
    DnsResolver,

    /// Served LDAP on 3268 or TLS on 3269: the global catalog.
    DcGlobalCatalog,
    /// Served LDAP on 389 or TLS on 636.
    DcLdap,
    /// Replied on 88. exflow has no Kerberos dissector, so the port decides.
    DcKerberos,
    /// Served LDAP, the global catalog or Kerberos for Client Access or
    /// Mailbox hosts.
    DcExchangeClients,

    /// Served proxy requests (HTTP CONNECT or an absolute URI) to an Edge
    /// Transport host: the proxy of sender reputation.
    ProxyReputation,
}

impl Signal {
    pub const ALL: [Signal; 27] = [
        Signal::CasExchangeWeb,
        Signal::CasExchangeName,
        Signal::CasSharedName,
        Signal::CasOutboundProxy,
        Signal::CasSubmission,
        Signal::CasHttps,
        Signal::CasImap,
        Signal::CasPop3,
        Signal::CasInternetSmtp,
        Signal::CasBackEndClient,
        Signal::MailboxBackEnd,
        Signal::MailboxOutboundProxy,
        Signal::MailboxEdgeSync,
        Signal::MailboxFrontEndRelay,
        Signal::MailboxEdgeRelay,
        Signal::MailboxToEdge,
        Signal::EdgeSync,
        Signal::EdgeInternetSmtp,
        Signal::EdgeInboundRelay,
        Signal::EdgeOutbound,
        Signal::DnsExchangeResolver,
        Signal::DnsResolver,
        Signal::DcGlobalCatalog,
        Signal::DcLdap,
        Signal::DcKerberos,
        Signal::DcExchangeClients,
        Signal::ProxyReputation,
    ];

    /// Returns the signal's id, used in message keys (`discover.signal.<id>`).
    pub fn id(self) -> &'static str {
        match self {
            Signal::CasExchangeWeb => "cas_exchange_web",
            Signal::CasExchangeName => "cas_exchange_name",
            Signal::CasSharedName => "cas_shared_name",
            Signal::CasOutboundProxy => "cas_outbound_proxy",
            Signal::CasSubmission => "cas_submission",
            Signal::CasHttps => "cas_https",
            Signal::CasImap => "cas_imap",
            Signal::CasPop3 => "cas_pop3",
            Signal::CasInternetSmtp => "cas_internet_smtp",
            Signal::CasBackEndClient => "cas_back_end_client",
            Signal::MailboxBackEnd => "mailbox_back_end",
            Signal::MailboxOutboundProxy => "mailbox_outbound_proxy",
            Signal::MailboxEdgeSync => "mailbox_edgesync",
            Signal::MailboxFrontEndRelay => "mailbox_front_end_relay",
            Signal::MailboxEdgeRelay => "mailbox_edge_relay",
            Signal::MailboxToEdge => "mailbox_to_edge",
            Signal::EdgeSync => "edge_edgesync",
            Signal::EdgeInternetSmtp => "edge_internet_smtp",
            Signal::EdgeInboundRelay => "edge_inbound_relay",
            Signal::EdgeOutbound => "edge_outbound",
            Signal::DnsExchangeResolver => "dns_exchange_resolver",
            Signal::DnsResolver => "dns_resolver",
            Signal::DcGlobalCatalog => "dc_global_catalog",
            Signal::DcLdap => "dc_ldap",
            Signal::DcKerberos => "dc_kerberos",
            Signal::DcExchangeClients => "dc_exchange_clients",
            Signal::ProxyReputation => "proxy_reputation",
        }
    }

    /// Returns the role the signal is evidence for.
    pub fn role(self) -> Role {
        match self {
            Signal::CasExchangeWeb
            | Signal::CasExchangeName
            | Signal::CasSharedName
            | Signal::CasOutboundProxy
            | Signal::CasSubmission
            | Signal::CasHttps
            | Signal::CasImap
            | Signal::CasPop3
            | Signal::CasInternetSmtp
            | Signal::CasBackEndClient => Role::ClientAccess,
            Signal::MailboxBackEnd
            | Signal::MailboxOutboundProxy
            | Signal::MailboxEdgeSync
            | Signal::MailboxFrontEndRelay
            | Signal::MailboxEdgeRelay
            | Signal::MailboxToEdge => Role::Mailbox,
            Signal::EdgeSync
            | Signal::EdgeInternetSmtp
            | Signal::EdgeInboundRelay
            | Signal::EdgeOutbound => Role::EdgeTransport,
            Signal::DnsExchangeResolver | Signal::DnsResolver => Role::Dns,
            Signal::DcGlobalCatalog
            | Signal::DcLdap
            | Signal::DcKerberos
            | Signal::DcExchangeClients => Role::DomainController,
            Signal::ProxyReputation => Role::Proxy,
        }
    }

    pub fn strength(self) -> Strength {
        match self {
            Signal::CasExchangeWeb
            | Signal::CasExchangeName
            | Signal::CasSharedName
            | Signal::CasOutboundProxy
            | Signal::MailboxBackEnd
            | Signal::MailboxOutboundProxy
            | Signal::MailboxEdgeSync
            | Signal::EdgeSync
            | Signal::DnsExchangeResolver
            | Signal::DcGlobalCatalog
            | Signal::ProxyReputation => Strength::Specific,
            Signal::CasSubmission
            | Signal::MailboxFrontEndRelay
            | Signal::MailboxEdgeRelay
            | Signal::DcLdap => Strength::Generic,
            Signal::CasHttps
            | Signal::CasImap
            | Signal::CasPop3
            | Signal::CasInternetSmtp
            | Signal::CasBackEndClient
            | Signal::MailboxToEdge
            | Signal::EdgeInternetSmtp
            | Signal::EdgeInboundRelay
            | Signal::EdgeOutbound
            | Signal::DnsResolver
            | Signal::DcKerberos
            | Signal::DcExchangeClients => Strength::Supporting,
        }
    }

    pub fn side(self) -> Side {
        match self {
            Signal::CasBackEndClient
            | Signal::MailboxOutboundProxy
            | Signal::MailboxEdgeSync
            | Signal::MailboxToEdge
            | Signal::EdgeInboundRelay
            | Signal::EdgeOutbound => Side::Opened,
            _ => Side::Served,
        }
    }
}

/// The ports on which TLS, directly or after STARTTLS, shows a client-facing
/// service of a Client Access server: HTTPS, submission, IMAP4 and POP3.
pub const CLIENT_TLS_PORTS: [u16; 6] = [443, 587, 143, 993, 110, 995];

/// The facts about the whole traffic and the roles found so far that signals
/// read.
pub struct Context<'a> {
    /// Roles assigned in the previous round, by address.
    pub roles: &'a BTreeMap<IpAddr, BTreeSet<Role>>,
    /// Names of Exchange web services: the Host of every HTTP request for an
    /// Exchange service, and every TLS server name whose first label is
    /// `autodiscover`.
    pub exchange_names: &'a BTreeSet<String>,
    /// Names that Client Access hosts of the previous round served on a
    /// client port, by host.
    pub cas_names: &'a BTreeMap<IpAddr, BTreeSet<String>>,
    /// Returns true for an internal address.
    pub is_internal: &'a dyn Fn(IpAddr) -> bool,
}

impl Context<'_> {
    fn has_role(&self, address: IpAddr, role: Role) -> bool {
        self.roles
            .get(&address)
            .is_some_and(|roles| roles.contains(&role))
    }

    fn is_exchange_server(&self, address: IpAddr) -> bool {
        self.roles
            .get(&address)
            .is_some_and(|roles| roles.iter().any(|role| role.is_exchange()))
    }
}

/// One signal seen on one service of a host: the flows, peers and names that
/// show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    pub signal: Signal,
    pub key: UsageKey,
    pub flows: u64,
    /// Peers that show the signal, at most [`super::observe::MAX_PEERS_PER_USAGE`].
    pub peers: Vec<IpAddr>,
    /// More peers showed the signal than are listed.
    pub more_peers: bool,
    pub first: Timestamp,
    pub last: Timestamp,
    /// The names that matter to the signal (Exchange names, shared names), or
    /// every name the clients asked for.
    pub names: Vec<String>,
}

impl Evidence {
    /// Returns the Exchange service of an [`Flavour::ExchangeWeb`] key.
    pub fn service(&self) -> Option<ServiceName> {
        match self.key.flavour {
            Flavour::ExchangeWeb(service) => Some(service),
            _ => None,
        }
    }
}

/// Returns every signal that one service of a host shows.
pub fn signals_of(
    context: &Context<'_>,
    host: IpAddr,
    side: Side,
    key: &UsageKey,
    usage: &Usage,
) -> Vec<Evidence> {
    let mut found = Vec::new();
    let mut add = |signal: Signal, peers: PeerFilter<'_>, names: Option<Vec<String>>| {
        if let Some(evidence) = evidence(signal, key, usage, peers, names) {
            found.push(evidence);
        }
    };
    let port = key.port;
    let tcp = key.transport == Transport::Tcp;
    let app = key.app;
    let internal = |peer: IpAddr| (context.is_internal)(peer);
    let internet = |peer: IpAddr| !(context.is_internal)(peer);
    let cas = |peer: IpAddr| context.has_role(peer, Role::ClientAccess);
    let edge = |peer: IpAddr| context.has_role(peer, Role::EdgeTransport);

    match side {
        Side::Served => {
            if let Flavour::ExchangeWeb(_) = key.flavour {
                add(Signal::CasExchangeWeb, PeerFilter::All, None);
            }
            if tcp && app == App::Tls && port == 443 {
                let names = matching(&usage.names, |name| context.exchange_names.contains(name));
                if names.is_empty() {
                    add(Signal::CasHttps, PeerFilter::All, None);
                } else {
                    add(Signal::CasExchangeName, PeerFilter::All, Some(names));
                }
            }
            if tcp && CLIENT_TLS_PORTS.contains(&port) {
                let names = matching(&usage.names, |name| {
                    context
                        .cas_names
                        .iter()
                        .any(|(other, names)| *other != host && names.contains(name))
                });
                if !names.is_empty() {
                    add(Signal::CasSharedName, PeerFilter::All, Some(names));
                }
            }
            if tcp && app == App::Smtp {
                match port {
                    717 => add(Signal::CasOutboundProxy, PeerFilter::All, None),
                    587 => add(Signal::CasSubmission, PeerFilter::All, None),
                    25 => {
                        add(Signal::CasInternetSmtp, PeerFilter::Only(&internet), None);
                        add(Signal::EdgeInternetSmtp, PeerFilter::Only(&internet), None);
                        add(Signal::MailboxEdgeRelay, PeerFilter::Only(&edge), None);
                    }
                    _ => {}
                }
                if port == 25 || port == 2525 {
                    add(Signal::MailboxFrontEndRelay, PeerFilter::Only(&cas), None);
                }
            }
            if tcp && (app == App::Imap || (app == App::Tls && port == 993)) {
                add(Signal::CasImap, PeerFilter::All, None);
            }
            if tcp && (app == App::Pop3 || (app == App::Tls && port == 995)) {
                add(Signal::CasPop3, PeerFilter::All, None);
            }
            if tcp && app == App::Tls && port == 444 {
                add(Signal::MailboxBackEnd, PeerFilter::Only(&cas), None);
            }
            if tcp && port == 50636 && matches!(app, App::Tls | App::Ldap) {
                add(Signal::EdgeSync, PeerFilter::All, None);
            }
            if port == 53 && app == App::Dns {
                let exchange = |peer: IpAddr| context.is_exchange_server(peer);
                let other = |peer: IpAddr| !context.is_exchange_server(peer);
                add(
                    Signal::DnsExchangeResolver,
                    PeerFilter::Only(&exchange),
                    None,
                );
                add(Signal::DnsResolver, PeerFilter::Only(&other), None);
            }
            let ldap = (port == 389 && app == App::Ldap) || (port == 636 && app == App::Tls);
            let global_catalog =
                (port == 3268 && app == App::Ldap) || (port == 3269 && app == App::Tls);
            // Kerberos has no dissector: any reply with a payload on 88 counts.
            let kerberos = port == 88 && matches!(app, App::Unknown);
            if tcp && ldap {
                add(Signal::DcLdap, PeerFilter::All, None);
            }
            if tcp && global_catalog {
                add(Signal::DcGlobalCatalog, PeerFilter::All, None);
            }
            if kerberos {
                add(Signal::DcKerberos, PeerFilter::All, None);
            }
            if (tcp && (ldap || global_catalog)) || kerberos {
                let exchange = |peer: IpAddr| {
                    context.has_role(peer, Role::ClientAccess)
                        || context.has_role(peer, Role::Mailbox)
                };
                add(Signal::DcExchangeClients, PeerFilter::Only(&exchange), None);
            }
            if app == App::Http && key.flavour == Flavour::ProxyRequest {
                add(Signal::ProxyReputation, PeerFilter::Only(&edge), None);
            }
        }
        Side::Opened => {
            if tcp && app == App::Tls && port == 444 {
                add(Signal::CasBackEndClient, PeerFilter::Only(&internal), None);
            }
            if tcp && app == App::Smtp && port == 717 {
                add(Signal::MailboxOutboundProxy, PeerFilter::Only(&cas), None);
            }
            if tcp && port == 50636 && matches!(app, App::Tls | App::Ldap) {
                add(Signal::MailboxEdgeSync, PeerFilter::Only(&edge), None);
            }
            if tcp && app == App::Smtp && port == 25 {
                add(Signal::MailboxToEdge, PeerFilter::Only(&edge), None);
                add(Signal::EdgeInboundRelay, PeerFilter::Only(&internal), None);
                add(Signal::EdgeOutbound, PeerFilter::Only(&internet), None);
            }
        }
    }
    found
}

/// The peers of a service that count for a signal.
enum PeerFilter<'f> {
    All,
    Only(&'f dyn Fn(IpAddr) -> bool),
}

fn matching(names: &BTreeSet<String>, wanted: impl Fn(&str) -> bool) -> Vec<String> {
    names.iter().filter(|name| wanted(name)).cloned().collect()
}

/// Builds the evidence of a signal on a service from the peers that count, or
/// returns `None` when no peer counts.
fn evidence(
    signal: Signal,
    key: &UsageKey,
    usage: &Usage,
    peers: PeerFilter<'_>,
    names: Option<Vec<String>>,
) -> Option<Evidence> {
    let mut total: Option<PeerStats> = None;
    let mut listed = Vec::new();
    for (peer, stats) in &usage.peers {
        if let PeerFilter::Only(wanted) = &peers
            && !wanted(*peer)
        {
            continue;
        }
        listed.push(*peer);
        match &mut total {
            Some(total) => total.merge(stats),
            None => total = Some(*stats),
        }
    }
    // Unlisted peers are unknown, so they count only when every peer does.
    let mut more_peers = false;
    if let (PeerFilter::All, Some(unlisted)) = (&peers, &usage.unlisted) {
        more_peers = true;
        match &mut total {
            Some(total) => total.merge(unlisted),
            None => total = Some(*unlisted),
        }
    }

    let total = total?;
    Some(Evidence {
        signal,
        key: *key,
        flows: total.flows,
        peers: listed,
        more_peers,
        first: total.first,
        last: total.last,
        names: names.unwrap_or_else(|| usage.names.iter().cloned().collect()),
    })
}
