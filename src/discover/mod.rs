//! Site discovery: infers each host's Exchange roles, the topology, the
//! features in use and the internal networks from finished flows, and writes
//! them as a commented site file (`exflow discover`). It also compares two site
//! files (`exflow rules diff`, in [`diff`]).
//!
//! Discovery reads flows, not bytes. [`Discovery::add`] takes each
//! [`FinishedFlow`] as the pipeline hands it out and keeps per-host aggregates
//! only. A caller can therefore feed it for as long as it likes (a capture
//! file, or a time window of a live capture) and ask for the inventory at any
//! point.
//!
//! # Evidence
//!
//! Only flows whose server replied with a payload count (a refused or silent
//! connection shows no service). Each such flow adds to one service of its
//! server (transport, server port, protocol in the payload, and whether it was
//! an HTTP request for an Exchange service, a proxy request or an SMTP session
//! with `AUTH` in the clear) and, when the client is internal, to the same
//! service as its client used it. A signal is one behaviour read off one such
//! service, sometimes counting only the peers that already hold a role:
//!
//! | role | signal | strength |
//! | --- | --- | --- |
//! | client_access | serves HTTP requests for Exchange services (Autodiscover, EWS, OWA, ECP, ActiveSync, OAB, MAPI, RPC over HTTP) | specific |
//! | client_access | serves TLS on 443 for an Exchange web name: an `autodiscover.` name, or the Host of an HTTP request for an Exchange service | specific |
//! | client_access | serves TLS (direct or after STARTTLS) on 443, 587, 143, 993, 110 or 995 for a name another Client Access host serves there | specific |
//! | client_access | serves SMTP on 717 (the outbound proxy port of Front End Transport) | specific |
//! | client_access | serves SMTP on 587 | generic |
//! | client_access | serves TLS on 443; IMAP or TLS on 993; POP3 or TLS on 995; SMTP on 25 to internet hosts; opens TLS to 444 of an internal host | supporting |
//! | mailbox | serves TLS on 444 to a Client Access host (the back end site) | specific |
//! | mailbox | opens SMTP to 717 of a Client Access host | specific |
//! | mailbox | opens TLS or LDAP to 50636 of an Edge Transport host (EdgeSync) | specific |
//! | mailbox | serves SMTP on 25 or 2525 to a Client Access host; serves SMTP on 25 to an Edge Transport host | generic |
//! | mailbox | opens SMTP to 25 of an Edge Transport host | supporting |
//! | edge_transport | serves TLS or LDAP on 50636 (EdgeSync, AD LDS secure LDAP) | specific |
//! | edge_transport | serves SMTP on 25 to internet hosts; opens SMTP to 25 of internal hosts; opens SMTP to 25 of internet hosts | supporting |
//! | dns | serves DNS on 53 for Client Access, Mailbox or Edge Transport hosts | specific |
//! | dns | serves DNS on 53 for other hosts | supporting |
//! | domain_controller | serves LDAP on 3268 or TLS on 3269 (global catalog) | specific |
//! | domain_controller | serves LDAP on 389 or TLS on 636 | generic |
//! | domain_controller | replies on 88 (Kerberos, port only); serves LDAP, GC or Kerberos for Client Access or Mailbox hosts | supporting |
//! | proxy | serves proxy requests (HTTP CONNECT, absolute URI) to an Edge Transport host | specific |
//!
//! # Confidence
//!
//! - **high**: a specific signal, backed by a second signal or by three or more
//!   distinct peers, over at least two flows;
//! - **medium**: a specific signal alone, or a generic signal backed by a
//!   second signal or by three or more peers;
//! - **low**: anything less, in particular supporting signals alone (port-only
//!   evidence, behaviour many hosts show). A low role is never assigned: the
//!   host is listed as a comment with its evidence.
//!
//! Roles lean on each other (a Mailbox server is found through the Client
//! Access server that proxies to it), so assignment runs in rounds, each using
//! the roles of the round before, until nothing changes
//! ([`infer::MAX_ROUNDS`] at most).
//!
//! Further rules:
//! - Client Access, Mailbox, DNS and domain controller roles go only to
//!   internal addresses; an Edge Transport server and the proxy may have public
//!   ones. An internet resolver that Exchange servers query is listed as a
//!   comment, not assigned.
//! - An Edge Transport server never shares a host with a Client Access or
//!   Mailbox server: the role with the higher confidence wins, and a tie
//!   assigns neither.
//! - Without a Client Access, Mailbox or Edge Transport server the inventory
//!   lists no roles at all: DNS servers and domain controllers matter to the
//!   matrix only next to Exchange servers.
//! - Roles never discovered: `lync` (no signal is defined) and
//!   `edge_subscribed_mailbox` (left empty, which means every Mailbox server).
//!   `[[allow]]` entries are site policy and never proposed.
//!
//! # Topology, features and networks
//!
//! - `topology.edge_transport` is true when an Edge Transport server is found.
//! - `imap4` / `pop3`: a Client Access host served IMAP (or TLS on 993) /
//!   POP3 (or TLS on 995).
//! - `front_end_proxy`: no Edge Transport server, and a Client Access host
//!   opened SMTP to an internet host on 25.
//! - `submission_on_port_25`: a Client Access host served SMTP on 25 in
//!   which a client that is no Exchange server sent `AUTH` before any TLS.
//!   NOTE: a client that authenticates after STARTTLS looks like any sender on
//!   25, so this feature is found only where some client authenticates in the
//!   clear.
//! - `networks.internal`: the /24 (IPv4) or /64 (IPv6) blocks of every private
//!   address seen (RFC 1918, RFC 4193), plus networks given with `--internal`;
//!   `networks.perimeter`: the block of each Edge Transport server. See
//!   `build::networks` for the limits.

mod build;
pub mod diff;
pub mod infer;
pub mod observe;
mod render;
pub mod signal;

use ipnet::IpNet;

pub use infer::{
    Assessment, Candidate, Confidence, FeatureFinding, Inventory, Rejected, Unassigned,
};
pub use observe::Observations;
pub use signal::{Evidence, Signal, Strength};

use crate::flow::FinishedFlow;
use crate::i18n::Lang;
use crate::policy::Site;

/// Settings of a discovery run.
#[derive(Clone, Debug, Default)]
pub struct DiscoveryConfig {
    /// Networks outside the private ranges whose hosts are internal (a site
    /// that numbers its servers with public addresses).
    pub internal: Vec<IpNet>,
}

/// Reads finished flows and proposes a site inventory.
///
/// ```no_run
/// # use exflow::discover::{Discovery, DiscoveryConfig};
/// # use exflow::i18n::Lang;
/// # let flows: Vec<exflow::flow::FinishedFlow> = Vec::new();
/// let mut discovery = Discovery::new(DiscoveryConfig::default());
/// discovery.add_source("capture.pcap");
/// for flow in &flows {
///     discovery.add(flow);
/// }
/// let text = discovery.render(Lang::En);
/// ```
#[derive(Clone, Debug)]
pub struct Discovery {
    observations: Observations,
    sources: Vec<String>,
}

impl Discovery {
    pub fn new(config: DiscoveryConfig) -> Discovery {
        Discovery {
            observations: Observations::new(config.internal),
            sources: Vec::new(),
        }
    }

    /// Names an input (a capture file, an interface) for the file's header.
    pub fn add_source(&mut self, name: &str) {
        self.sources.push(name.to_string());
    }

    /// Adds one finished flow.
    pub fn add(&mut self, flow: &FinishedFlow) {
        self.observations.add(flow);
    }

    /// Returns what was observed so far.
    pub fn observations(&self) -> &Observations {
        &self.observations
    }

    /// Infers the inventory from every flow added so far.
    pub fn inventory(&self) -> Inventory {
        infer::infer(&self.observations)
    }

    /// Returns the proposed site.
    pub fn site(&self) -> Site {
        self.inventory().site
    }

    /// Writes the proposed site file, with the evidence of every assignment
    /// and the hosts left unassigned as comments in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        render::render(&self.inventory(), &self.observations, &self.sources, lang)
    }

    /// Writes an inventory inferred earlier (by [`Discovery::inventory`]) as a
    /// site file, so that a caller who also needs the inventory infers once.
    pub fn render_inventory(&self, inventory: &Inventory, lang: Lang) -> String {
        render::render(inventory, &self.observations, &self.sources, lang)
    }
}
