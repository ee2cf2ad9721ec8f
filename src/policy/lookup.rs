//! Role lookup by address: one longest-prefix-match trie per IP version for
//! CIDR blocks, and a hash map for single addresses, built once from the site
//! file.
//!
//! Each stored prefix carries the union of its own roles and those of every
//! stored prefix that covers it, so one match returns every role of the
//! address: a host listed as `client_access` inside a `mailbox` block gets both,
//! and the `internal` network flag comes along. Single addresses (most servers
//! in a site file) skip the trie walk, which for an IPv6 host is 26 nodes deep.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;

use super::role::{Role, RoleSet};
use super::site::Site;

/// Roles by address for one site.
#[derive(Clone)]
pub struct RoleTable {
    v4: PrefixMap<Ipv4Net, RoleSet>,
    v6: PrefixMap<Ipv6Net, RoleSet>,
    /// Single addresses, with the roles of the blocks that cover them.
    hosts: HashMap<IpAddr, RoleSet, ahash::RandomState>,
    /// `roles.edge_subscribed_mailbox` is empty, so every Mailbox server is
    /// subscribed.
    every_mailbox_subscribed: bool,
}

impl RoleTable {
    pub fn new(site: &Site) -> RoleTable {
        let mut table = RoleTable {
            v4: PrefixMap::new(),
            v6: PrefixMap::new(),
            hosts: HashMap::default(),
            every_mailbox_subscribed: site.roles.edge_subscribed_mailbox.is_empty(),
        };

        for role in Role::LISTED {
            for net in site.roles.get(role) {
                table.add(*net, RoleSet::of(role));
            }
        }
        for net in &site.roles.edge_subscribed_mailbox {
            table.add(*net, RoleSet::EDGE_SUBSCRIBED);
        }
        for net in site
            .networks
            .internal
            .iter()
            .chain(&site.networks.perimeter)
        {
            table.add(*net, RoleSet::INSIDE_SITE);
        }

        table.v4 = inherit_covering(&table.v4);
        table.v6 = inherit_covering(&table.v6);
        let blocks: Vec<(IpAddr, RoleSet)> = table
            .hosts
            .keys()
            .map(|address| (*address, table.lookup_blocks(*address)))
            .collect();
        for (address, set) in blocks {
            if let Some(own) = table.hosts.get_mut(&address) {
                *own = own.union(set);
            }
        }
        table
    }

    fn add(&mut self, net: IpNet, set: RoleSet) {
        if net.prefix_len() == net.max_prefix_len() {
            let own = self.hosts.entry(net.addr()).or_default();
            *own = own.union(set);
            return;
        }
        match net {
            IpNet::V4(net) => {
                let value = self.v4.get(&net).copied().unwrap_or_default();
                self.v4.insert(net, value.union(set));
            }
            IpNet::V6(net) => {
                let value = self.v6.get(&net).copied().unwrap_or_default();
                self.v6.insert(net, value.union(set));
            }
        }
    }

    /// Returns the roles of `address`: its listed roles, else `internal` inside
    /// the site networks, else `internet`. A listed address outside the site
    /// networks keeps its roles only. IPv4-mapped IPv6 addresses are looked up
    /// as IPv4.
    pub fn lookup(&self, address: IpAddr) -> RoleSet {
        let address = address.to_canonical();
        let mut set = match self.hosts.get(&address) {
            Some(set) => *set,
            None => self.lookup_blocks(address),
        };
        if set.is_empty() {
            let implicit = if set.is_inside_site() {
                Role::Internal
            } else {
                Role::Internet
            };
            set = RoleSet::of(implicit).with_flags(set);
        }
        if self.every_mailbox_subscribed && set.contains(Role::Mailbox) {
            set = set.with_flags(RoleSet::EDGE_SUBSCRIBED);
        }
        set
    }

    /// Returns the roles of the longest block that holds `address`.
    fn lookup_blocks(&self, address: IpAddr) -> RoleSet {
        match address {
            IpAddr::V4(address) => self
                .v4
                .get_lpm(&Ipv4Net::from(address))
                .map(|(_, set)| *set),
            IpAddr::V6(address) => self
                .v6
                .get_lpm(&Ipv6Net::from(address))
                .map(|(_, set)| *set),
        }
        .unwrap_or_default()
    }
}

/// Returns a copy of `map` where each prefix carries the union of the values of
/// every prefix that covers it (itself included).
fn inherit_covering<P>(map: &PrefixMap<P, RoleSet>) -> PrefixMap<P, RoleSet>
where
    P: prefix_trie::Prefix,
{
    let mut inherited = PrefixMap::new();
    for (prefix, _) in map.iter() {
        let set = map
            .cover_values(&prefix)
            .fold(RoleSet::EMPTY, |set, value| set.union(*value));
        inherited.insert(prefix, set);
    }
    inherited
}

impl std::fmt::Debug for RoleTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleTable")
            .field("v4_prefixes", &self.v4.len())
            .field("v6_prefixes", &self.v6.len())
            .field("hosts", &self.hosts.len())
            .field("every_mailbox_subscribed", &self.every_mailbox_subscribed)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> IpNet {
        text.parse::<IpNet>()
            .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
            .unwrap()
    }

    fn site() -> Site {
        let mut site = Site::default();
        site.roles.client_access = vec![net("10.20.0.10"), net("2001:db8:20::10")];
        site.roles.mailbox = vec![
            net("10.20.0.20/31"),
            net("10.20.0.10"),
            net("10.20.0.24/30"),
        ];
        site.roles.dns = vec![net("10.20.0.53"), net("10.20.0.2")];
        site.roles.domain_controller = vec![net("10.20.0.2")];
        site.roles.proxy = vec![net("203.0.113.8")];
        site.networks.internal = vec![net("10.0.0.0/8"), net("2001:db8::/32")];
        site.networks.perimeter = vec![net("172.16.50.0/24")];
        site
    }

    fn roles(table: &RoleTable, address: &str) -> Vec<&'static str> {
        table.lookup(address.parse().unwrap()).names().collect()
    }

    #[test]
    fn listed_roles_and_implicit_roles() {
        let table = RoleTable::new(&site());
        assert_eq!(roles(&table, "10.20.0.21"), ["mailbox"]);
        assert_eq!(roles(&table, "10.20.0.26"), ["mailbox"]);
        assert_eq!(roles(&table, "10.20.0.10"), ["client_access", "mailbox"]);
        assert_eq!(roles(&table, "10.20.0.2"), ["dns", "domain_controller"]);
        assert_eq!(roles(&table, "10.99.1.1"), ["internal"]);
        assert_eq!(roles(&table, "172.16.50.9"), ["internal"]);
        assert_eq!(roles(&table, "198.51.100.7"), ["internet"]);
    }

    #[test]
    fn host_inside_listed_block_gets_both() {
        let mut site = site();
        site.roles.lync = vec![net("10.20.0.21")];
        let table = RoleTable::new(&site);
        assert_eq!(roles(&table, "10.20.0.21"), ["mailbox", "lync"]);
        assert!(table.lookup("10.20.0.21".parse().unwrap()).is_inside_site());
    }

    #[test]
    fn listed_address_outside_networks_is_not_internet() {
        let table = RoleTable::new(&site());
        let set = table.lookup("203.0.113.8".parse().unwrap());
        assert_eq!(set.names().collect::<Vec<_>>(), ["proxy"]);
        assert!(!set.is_inside_site());
    }

    #[test]
    fn ipv6_and_mapped_addresses() {
        let table = RoleTable::new(&site());
        assert_eq!(roles(&table, "2001:db8:20::10"), ["client_access"]);
        assert_eq!(roles(&table, "2001:db8:99::1"), ["internal"]);
        assert_eq!(roles(&table, "2001:db9::1"), ["internet"]);
        assert_eq!(roles(&table, "::ffff:10.20.0.21"), ["mailbox"]);
    }

    #[test]
    fn inside_flag_follows_networks() {
        let table = RoleTable::new(&site());
        assert!(table.lookup("10.20.0.21".parse().unwrap()).is_inside_site());
        assert!(
            !table
                .lookup("198.51.100.7".parse().unwrap())
                .is_inside_site()
        );
    }

    #[test]
    fn every_mailbox_subscribed_when_list_empty() {
        let mut site = site();
        let table = RoleTable::new(&site);
        assert!(
            table
                .lookup("10.20.0.20".parse().unwrap())
                .is_edge_subscribed()
        );
        assert!(
            !table
                .lookup("10.20.0.53".parse().unwrap())
                .is_edge_subscribed()
        );

        site.roles.edge_subscribed_mailbox = vec![net("10.20.0.20")];
        let table = RoleTable::new(&site);
        assert!(
            table
                .lookup("10.20.0.20".parse().unwrap())
                .is_edge_subscribed()
        );
        assert!(
            !table
                .lookup("10.20.0.21".parse().unwrap())
                .is_edge_subscribed()
        );
    }

    #[test]
    fn empty_site_is_all_internet() {
        let table = RoleTable::new(&Site::default());
        assert_eq!(roles(&table, "10.0.0.1"), ["internet"]);
        assert_eq!(roles(&table, "::1"), ["internet"]);
    }
}
