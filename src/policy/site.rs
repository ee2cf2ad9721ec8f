//! The site inventory: topology, features, roles by address, networks and extra
//! allowed paths, read from a site file with every problem reported at once.

use std::net::IpAddr;
use std::ops::Range;

use ipnet::IpNet;
use toml::de::DeTable;

use super::diagnostic::{Diagnostic, Problem, Reader, join_key, sort_diagnostics};
use super::port::{PortSpec, PortSpecError};
use super::role::Role;

/// Maximum length of an `[[allow]]` name, which becomes the rule id `site.<name>`.
pub const MAX_ALLOW_NAME: usize = 64;

/// A parsed site file. `Site::default()` is the site used without `--site`: no
/// Edge Transport server, every feature off, no roles and no networks, so every
/// address is `internet`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Site {
    pub topology: Topology,
    pub features: Features,
    pub roles: SiteRoles,
    pub sender_reputation: SenderReputation,
    pub networks: Networks,
    pub allows: Vec<Allow>,
}

/// `[topology]`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Topology {
    /// Subscribed Edge Transport servers are deployed.
    pub edge_transport: bool,
}

/// `[features]`: settings that turn matrix rows on. All are off by default, as
/// in a new Exchange 2013 installation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features {
    pub imap4: bool,
    pub pop3: bool,
    /// The internet send connector has `-FrontEndProxyEnabled $true`.
    pub front_end_proxy: bool,
    /// The Client Frontend receive connector is bound to port 25.
    pub submission_on_port_25: bool,
}

/// `[roles]`: addresses and CIDR blocks by role. A single address is held as a
/// host network (`/32` or `/128`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SiteRoles {
    pub client_access: Vec<IpNet>,
    pub mailbox: Vec<IpNet>,
    pub edge_transport: Vec<IpNet>,
    pub dns: Vec<IpNet>,
    pub domain_controller: Vec<IpNet>,
    pub lync: Vec<IpNet>,
    pub proxy: Vec<IpNet>,
    /// Mailbox servers that take part in EdgeSync; empty means every mailbox.
    pub edge_subscribed_mailbox: Vec<IpNet>,
}

impl SiteRoles {
    /// Returns the list of a role; `internet` and `internal` are never listed.
    pub fn get(&self, role: Role) -> &[IpNet] {
        match role {
            Role::ClientAccess => &self.client_access,
            Role::Mailbox => &self.mailbox,
            Role::EdgeTransport => &self.edge_transport,
            Role::Dns => &self.dns,
            Role::DomainController => &self.domain_controller,
            Role::Lync => &self.lync,
            Role::Proxy => &self.proxy,
            Role::Internet | Role::Internal => &[],
        }
    }

    fn get_mut(&mut self, role: Role) -> Option<&mut Vec<IpNet>> {
        match role {
            Role::ClientAccess => Some(&mut self.client_access),
            Role::Mailbox => Some(&mut self.mailbox),
            Role::EdgeTransport => Some(&mut self.edge_transport),
            Role::Dns => Some(&mut self.dns),
            Role::DomainController => Some(&mut self.domain_controller),
            Role::Lync => Some(&mut self.lync),
            Role::Proxy => Some(&mut self.proxy),
            Role::Internet | Role::Internal => None,
        }
    }

    /// Returns true when no role lists any address.
    pub fn is_empty(&self) -> bool {
        Role::LISTED.iter().all(|role| self.get(*role).is_empty())
            && self.edge_subscribed_mailbox.is_empty()
    }
}

/// `[sender_reputation]`
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SenderReputation {
    /// Ports of the proxy that sender reputation uses; empty means any port.
    pub proxy_ports: Vec<u16>,
}

/// `[networks]`: everything outside these is `internet`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Networks {
    pub internal: Vec<IpNet>,
    /// Perimeter networks count as internal.
    pub perimeter: Vec<IpNet>,
}

impl Networks {
    /// Returns true when `net` lies wholly inside an internal or perimeter network.
    pub fn contains(&self, net: &IpNet) -> bool {
        self.internal
            .iter()
            .chain(&self.perimeter)
            .any(|network| network.contains(net))
    }

    pub fn is_empty(&self) -> bool {
        self.internal.is_empty() && self.perimeter.is_empty()
    }
}

/// One side of an `[[allow]]` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Network(IpNet),
    Role(Role),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Network(net) => f.write_str(&network_text(net)),
            Endpoint::Role(role) => f.write_str(role.as_str()),
        }
    }
}

/// A site-specific extra path, reported as rule `site.<name>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allow {
    pub name: String,
    pub from: Vec<Endpoint>,
    pub to: Vec<Endpoint>,
    pub ports: Vec<PortSpec>,
}

impl Allow {
    /// Returns the rule id, `site.<name>`.
    pub fn rule_id(&self) -> String {
        format!("site.{}", self.name)
    }
}

/// Writes a network as the site file does: a host network as its address.
pub fn network_text(net: &IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// A parsed address or block with where it was written.
struct Entry<'t> {
    net: IpNet,
    text: &'t str,
    span: Range<usize>,
    key: String,
}

impl Site {
    /// Parses a site file. `Ok` carries the site and its warnings; `Err` carries
    /// every error and warning, sorted by position.
    pub fn parse(file: &str, text: &str) -> Result<(Site, Vec<Diagnostic>), Vec<Diagnostic>> {
        let mut reader = Reader::new(file, text);
        let site = reader
            .parse()
            .map(|document| read_site(&mut reader, document.get_ref()));

        let mut diagnostics = reader.diagnostics;
        sort_diagnostics(&mut diagnostics);
        match site {
            Some(site) if !diagnostics.iter().any(Diagnostic::is_error) => Ok((site, diagnostics)),
            _ => Err(diagnostics),
        }
    }

    /// Writes the site as a site file that [`Site::parse`] reads back to an
    /// equal value.
    pub fn to_toml(&self) -> String {
        let mut lines = vec![
            "[topology]".to_string(),
            format!("edge_transport = {}", self.topology.edge_transport),
        ];

        let features = &self.features;
        lines.push(String::new());
        lines.push("[features]".to_string());
        lines.push(format!("imap4 = {}", features.imap4));
        lines.push(format!("pop3 = {}", features.pop3));
        lines.push(format!("front_end_proxy = {}", features.front_end_proxy));
        lines.push(format!(
            "submission_on_port_25 = {}",
            features.submission_on_port_25
        ));

        lines.push(String::new());
        lines.push("[roles]".to_string());
        for role in Role::LISTED {
            lines.push(format!(
                "{} = {}",
                role.as_str(),
                net_list(self.roles.get(role))
            ));
        }
        let subscribed = net_list(&self.roles.edge_subscribed_mailbox);
        lines.push(format!("edge_subscribed_mailbox = {subscribed}"));

        let ports: Vec<String> = self
            .sender_reputation
            .proxy_ports
            .iter()
            .map(u16::to_string)
            .collect();
        lines.push(String::new());
        lines.push("[sender_reputation]".to_string());
        lines.push(format!("proxy_ports = [{}]", ports.join(", ")));

        lines.push(String::new());
        lines.push("[networks]".to_string());
        lines.push(format!("internal = {}", net_list(&self.networks.internal)));
        lines.push(format!(
            "perimeter = {}",
            net_list(&self.networks.perimeter)
        ));

        for allow in &self.allows {
            lines.push(String::new());
            lines.push("[[allow]]".to_string());
            lines.push(format!("name = {}", quote(&allow.name)));
            lines.push(format!("from = {}", string_list(allow.from.iter())));
            lines.push(format!("to = {}", string_list(allow.to.iter())));
            lines.push(format!("ports = {}", string_list(allow.ports.iter())));
        }

        lines.push(String::new());
        lines.join("\n")
    }
}

fn quote(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

fn string_list<T: ToString>(items: impl Iterator<Item = T>) -> String {
    let quoted: Vec<String> = items.map(|item| quote(&item.to_string())).collect();
    format!("[{}]", quoted.join(", "))
}

fn net_list(nets: &[IpNet]) -> String {
    string_list(nets.iter().map(network_text))
}

const ROOT_KEYS: &[&str] = &[
    "topology",
    "features",
    "roles",
    "sender_reputation",
    "networks",
    "allow",
];
const FEATURE_KEYS: &[&str] = &["imap4", "pop3", "front_end_proxy", "submission_on_port_25"];
const ALLOW_KEYS: &[&str] = &["name", "from", "to", "ports"];

fn read_site<'a>(reader: &mut Reader<'a>, root: &DeTable<'a>) -> Site {
    let mut site = Site::default();
    reader.check_keys(root, "", ROOT_KEYS);

    let mut edge_flag_span = None;
    if let Some(topology) = reader.table(root, "", "topology") {
        reader.check_keys(topology, "topology", &["edge_transport"]);
        if let Some(flag) = reader.bool(topology, "topology", "edge_transport") {
            site.topology.edge_transport = flag;
            edge_flag_span = topology.get("edge_transport").map(|value| value.span());
        }
    }

    let mut front_end_proxy_span = None;
    if let Some(features) = reader.table(root, "", "features") {
        reader.check_keys(features, "features", FEATURE_KEYS);
        let flags = &mut site.features;
        for (key, flag) in [
            ("imap4", &mut flags.imap4),
            ("pop3", &mut flags.pop3),
            ("front_end_proxy", &mut flags.front_end_proxy),
            ("submission_on_port_25", &mut flags.submission_on_port_25),
        ] {
            if let Some(value) = reader.bool(features, "features", key) {
                *flag = value;
            }
        }
        if site.features.front_end_proxy {
            front_end_proxy_span = features.get("front_end_proxy").map(|value| value.span());
        }
    }

    let mut entries = Vec::new();
    let mut subscribed = Vec::new();
    if let Some(roles) = reader.table(root, "", "roles") {
        read_roles(
            reader,
            roles,
            &mut site.roles,
            &mut entries,
            &mut subscribed,
        );
    }

    let mut proxy_ports_span = None;
    if let Some(reputation) = reader.table(root, "", "sender_reputation") {
        reader.check_keys(reputation, "sender_reputation", &["proxy_ports"]);
        if let Some(ports) = reader.integers(reputation, "sender_reputation", "proxy_ports") {
            for (port, span) in ports {
                match u16::try_from(port) {
                    Ok(port) if port != 0 => site.sender_reputation.proxy_ports.push(port),
                    _ => reader.error(
                        span,
                        "sender_reputation.proxy_ports".to_string(),
                        Problem::PortOutOfRange {
                            value: port.to_string(),
                        },
                    ),
                }
            }
            proxy_ports_span = reputation.get("proxy_ports").map(|value| value.span());
        }
    }

    if let Some(networks) = reader.table(root, "", "networks") {
        reader.check_keys(networks, "networks", &["internal", "perimeter"]);
        for (key, list) in [
            ("internal", &mut site.networks.internal),
            ("perimeter", &mut site.networks.perimeter),
        ] {
            for entry in read_networks(reader, networks, "networks", key) {
                list.push(entry.net);
            }
        }
    }

    site.allows = read_allows(reader, root);

    // Checks across sections, now that every list is read.
    check_edge_topology(reader, root, &site, edge_flag_span);
    check_edge_hosts(reader, &entries);
    check_subscribed(reader, &entries, &subscribed, &site);
    check_outside_networks(reader, &entries, &site);
    if let (Some(span), true) = (proxy_ports_span, site.roles.proxy.is_empty())
        && !site.sender_reputation.proxy_ports.is_empty()
    {
        reader.warning(
            span,
            "sender_reputation.proxy_ports".to_string(),
            Problem::ProxyPortsWithoutProxy,
        );
    }
    if let (Some(span), true) = (front_end_proxy_span, site.topology.edge_transport) {
        reader.warning(
            span,
            "features.front_end_proxy".to_string(),
            Problem::FrontEndProxyWithEdge,
        );
    }
    site
}

/// Reads `[roles]` into `roles`, keeping every entry with its position for the
/// checks across sections.
fn read_roles<'t>(
    reader: &mut Reader<'_>,
    table: &'t DeTable<'_>,
    roles: &mut SiteRoles,
    entries: &mut Vec<(Role, Entry<'t>)>,
    subscribed: &mut Vec<Entry<'t>>,
) {
    for (key, _) in table.iter() {
        let name = key.get_ref().as_ref();
        let path = join_key("roles", name);
        if name == "edge_subscribed_mailbox" {
            for entry in read_networks(reader, table, "roles", name) {
                roles.edge_subscribed_mailbox.push(entry.net);
                subscribed.push(entry);
            }
            continue;
        }
        let role = match Role::from_name(name) {
            Some(role @ (Role::Internet | Role::Internal)) => {
                reader.error(key.span(), path, Problem::ImplicitRoleListed { role });
                continue;
            }
            Some(role) => role,
            None => {
                reader.error(
                    key.span(),
                    path,
                    Problem::UnknownRole {
                        value: name.to_string(),
                    },
                );
                continue;
            }
        };
        for entry in read_networks(reader, table, "roles", name) {
            if let Some(list) = roles.get_mut(role) {
                list.push(entry.net);
            }
            entries.push((role, entry));
        }
    }
}

/// Reads a list of addresses and CIDR blocks, reporting invalid ones, blocks
/// with host bits and repeated entries.
fn read_networks<'t>(
    reader: &mut Reader<'_>,
    table: &'t DeTable<'_>,
    prefix: &str,
    key: &str,
) -> Vec<Entry<'t>> {
    let path = join_key(prefix, key);
    let Some(values) = reader.strings(table, prefix, key, false) else {
        return Vec::new();
    };

    let mut entries: Vec<Entry<'t>> = Vec::with_capacity(values.len());
    for (text, span) in values {
        let Some(net) = parse_network(reader, text, &span, &path) else {
            continue;
        };
        if let Some(first) = entries.iter().find(|entry| entry.net == net) {
            let first_line = reader.line_of(&first.span);
            reader.warning(
                span,
                path.clone(),
                Problem::DuplicateEntry {
                    value: text.to_string(),
                    first_line,
                },
            );
            continue;
        }
        entries.push(Entry {
            net,
            text,
            span,
            key: path.clone(),
        });
    }
    entries
}

/// Parses an address or CIDR block. A block with host bits set is kept with
/// those bits cleared, with a warning.
fn parse_network(
    reader: &mut Reader<'_>,
    text: &str,
    span: &Range<usize>,
    key: &str,
) -> Option<IpNet> {
    if let Ok(address) = text.parse::<IpAddr>() {
        return Some(IpNet::from(address));
    }
    match text.parse::<IpNet>() {
        Ok(net) => {
            let network = net.trunc();
            if network != net {
                reader.warning(
                    span.clone(),
                    key.to_string(),
                    Problem::HostBitsSet {
                        value: text.to_string(),
                        network: network.to_string(),
                    },
                );
            }
            Some(network)
        }
        Err(_) => {
            reader.error(
                span.clone(),
                key.to_string(),
                Problem::InvalidAddress {
                    value: text.to_string(),
                },
            );
            None
        }
    }
}

fn read_allows(reader: &mut Reader<'_>, root: &DeTable<'_>) -> Vec<Allow> {
    let mut allows = Vec::new();
    let mut names: Vec<(String, usize)> = Vec::new();

    for (index, (table, table_span)) in reader.tables(root, "", "allow").into_iter().enumerate() {
        let prefix = format!("allow[{}]", index + 1);
        reader.check_keys(table, &prefix, ALLOW_KEYS);
        for key in ALLOW_KEYS {
            if table.get(*key).is_none() {
                reader.missing(table_span.clone(), join_key(&prefix, key));
            }
        }

        let name = reader
            .string(table, &prefix, "name")
            .and_then(|(name, span)| check_allow_name(reader, name, span, &prefix, &mut names));
        let from = read_endpoints(reader, table, &prefix, "from");
        let to = read_endpoints(reader, table, &prefix, "to");
        let ports = read_ports(reader, table, &prefix, "ports");

        if let (Some(name), Some(from), Some(to), Some(ports)) = (name, from, to, ports) {
            allows.push(Allow {
                name,
                from,
                to,
                ports,
            });
        }
    }
    allows
}

/// Checks an `[[allow]]` name: non-empty, at most [`MAX_ALLOW_NAME`] ASCII
/// letters, digits, `-`, `_` or `.`, and not used before.
fn check_allow_name(
    reader: &mut Reader<'_>,
    name: &str,
    span: Range<usize>,
    prefix: &str,
    names: &mut Vec<(String, usize)>,
) -> Option<String> {
    let path = join_key(prefix, "name");
    let valid = !name.is_empty()
        && name.len() <= MAX_ALLOW_NAME
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'));
    if !valid {
        reader.error(
            span,
            path,
            Problem::InvalidName {
                value: name.to_string(),
            },
        );
        return None;
    }
    if let Some((_, first_line)) = names.iter().find(|(seen, _)| seen == name) {
        let first_line = *first_line;
        reader.error(
            span,
            path,
            Problem::DuplicateName {
                name: name.to_string(),
                first_line,
            },
        );
        return None;
    }
    names.push((name.to_string(), reader.line_of(&span)));
    Some(name.to_string())
}

/// Reads `from` or `to` of an `[[allow]]` entry: addresses, CIDR blocks or role
/// names. Returns `None` when the list is missing, empty or has an error.
fn read_endpoints(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    prefix: &str,
    key: &str,
) -> Option<Vec<Endpoint>> {
    let path = join_key(prefix, key);
    let values = reader.strings(table, prefix, key, false)?;
    if values.is_empty() {
        let span = table.get(key).map(|value| value.span()).unwrap_or(0..0);
        reader.error(span, path, Problem::EmptyList);
        return None;
    }

    let mut endpoints = Vec::with_capacity(values.len());
    let mut failed = false;
    for (text, span) in values {
        match parse_endpoint(reader, text, &span, &path) {
            Some(endpoint) => endpoints.push(endpoint),
            None => failed = true,
        }
    }
    (!failed).then_some(endpoints)
}

fn parse_endpoint(
    reader: &mut Reader<'_>,
    text: &str,
    span: &Range<usize>,
    key: &str,
) -> Option<Endpoint> {
    if let Some(role) = Role::from_name(text) {
        return Some(Endpoint::Role(role));
    }
    // A bare word is meant as a role name; anything with digits, dots or colons
    // as an address.
    let looks_like_name = !text.is_empty()
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphabetic() || byte == b'_' || byte == b'-');
    if looks_like_name {
        reader.error(
            span.clone(),
            key.to_string(),
            Problem::UnknownRole {
                value: text.to_string(),
            },
        );
        return None;
    }
    parse_network(reader, text, span, key).map(Endpoint::Network)
}

/// Reads a list of port specifications. Returns `None` when the list is
/// missing, empty or has an error.
pub(crate) fn read_ports(
    reader: &mut Reader<'_>,
    table: &DeTable<'_>,
    prefix: &str,
    key: &str,
) -> Option<Vec<PortSpec>> {
    let path = join_key(prefix, key);
    let values = reader.strings(table, prefix, key, false)?;
    if values.is_empty() {
        let span = table.get(key).map(|value| value.span()).unwrap_or(0..0);
        reader.error(span, path, Problem::EmptyList);
        return None;
    }

    let mut ports = Vec::with_capacity(values.len());
    let mut failed = false;
    for (text, span) in values {
        match parse_port_spec(reader, text, span, &path) {
            Some(spec) => ports.push(spec),
            None => failed = true,
        }
    }
    (!failed).then_some(ports)
}

pub(crate) fn parse_port_spec(
    reader: &mut Reader<'_>,
    text: &str,
    span: Range<usize>,
    key: &str,
) -> Option<PortSpec> {
    let value = text.to_string();
    let problem = match PortSpec::parse(text) {
        Ok(spec) => return Some(spec),
        Err(PortSpecError::Malformed) => Problem::InvalidPort { value },
        Err(PortSpecError::OutOfRange) => Problem::PortOutOfRange { value },
        Err(PortSpecError::ReversedRange) => Problem::ReversedPortRange { value },
    };
    reader.error(span, key.to_string(), problem);
    None
}

/// `topology.edge_transport` and `roles.edge_transport` must agree.
fn check_edge_topology(
    reader: &mut Reader<'_>,
    root: &DeTable<'_>,
    site: &Site,
    edge_flag_span: Option<Range<usize>>,
) {
    let has_servers = !site.roles.edge_transport.is_empty();
    if site.topology.edge_transport && !has_servers {
        let span = edge_flag_span.unwrap_or(0..0);
        reader.error(
            span,
            "topology.edge_transport".to_string(),
            Problem::EdgeTopologyWithoutServers,
        );
    }
    if !site.topology.edge_transport && has_servers {
        let span = root
            .get("roles")
            .and_then(|roles| roles.get_ref().get("edge_transport"))
            .map_or(0..0, |value| value.span());
        reader.error(
            span,
            "roles.edge_transport".to_string(),
            Problem::EdgeServersWithoutTopology,
        );
    }
}

/// Reports an Edge Transport entry that overlaps a Client Access or Mailbox
/// entry as an error, because the roles never share a host. Overlap with a
/// domain controller or Lync server is legal but unlikely, because the Edge is
/// not a domain member, so it is a warning.
fn check_edge_hosts(reader: &mut Reader<'_>, entries: &[(Role, Entry<'_>)]) {
    for (_, edge) in entries
        .iter()
        .filter(|(role, _)| *role == Role::EdgeTransport)
    {
        for (other_role, other) in entries {
            if !overlaps(&edge.net, &other.net) {
                continue;
            }
            let other_text = format!(
                "{} ({}:{})",
                other.text,
                other.key,
                reader.line_of(&other.span)
            );
            match other_role {
                Role::ClientAccess | Role::Mailbox => reader.error(
                    edge.span.clone(),
                    edge.key.clone(),
                    Problem::EdgeSharesHost {
                        value: edge.text.to_string(),
                        role: *other_role,
                        other: other_text,
                    },
                ),
                Role::DomainController | Role::Lync => reader.warning(
                    edge.span.clone(),
                    edge.key.clone(),
                    Problem::EdgeOnDomainHost {
                        value: edge.text.to_string(),
                        role: *other_role,
                        other: other_text,
                    },
                ),
                _ => {}
            }
        }
    }
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(b) || b.contains(a)
}

/// Checks that every `edge_subscribed_mailbox` entry lies inside a `mailbox`
/// entry, and warns when the list is set without an Edge topology.
fn check_subscribed(
    reader: &mut Reader<'_>,
    entries: &[(Role, Entry<'_>)],
    subscribed: &[Entry<'_>],
    site: &Site,
) {
    for entry in subscribed {
        let inside_mailbox = entries
            .iter()
            .any(|(role, mailbox)| *role == Role::Mailbox && mailbox.net.contains(&entry.net));
        if !inside_mailbox {
            reader.error(
                entry.span.clone(),
                entry.key.clone(),
                Problem::NotAMailbox {
                    value: entry.text.to_string(),
                },
            );
        }
    }
    if let (Some(first), false) = (subscribed.first(), site.topology.edge_transport) {
        reader.warning(
            first.span.clone(),
            first.key.clone(),
            Problem::SubscribedWithoutEdge,
        );
    }
}

/// Exchange servers, domain controllers and Lync servers are inside the site.
/// A DNS server or proxy outside it is normal (a resolver or proxy on the
/// internet), so those are not checked.
fn check_outside_networks(reader: &mut Reader<'_>, entries: &[(Role, Entry<'_>)], site: &Site) {
    if site.networks.is_empty() {
        if let Some((_, first)) = entries.first() {
            reader.warning(first.span.clone(), first.key.clone(), Problem::NoNetworks);
        }
        return;
    }
    for (role, entry) in entries {
        let checked = matches!(
            role,
            Role::ClientAccess
                | Role::Mailbox
                | Role::EdgeTransport
                | Role::DomainController
                | Role::Lync
        );
        if checked && !site.networks.contains(&entry.net) {
            reader.warning(
                entry.span.clone(),
                entry.key.clone(),
                Problem::OutsideNetworks {
                    value: entry.text.to_string(),
                    role: *role,
                },
            );
        }
    }
}
