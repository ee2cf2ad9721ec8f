//! `exflow rules diff`: where two site files disagree, compared by meaning.
//!
//! Address lists are compared by the addresses they cover, so `10.0.0.0/25`
//! plus `10.0.0.128/25` equals `10.0.0.0/24`, and the difference between two
//! lists is written as the addresses only one side covers. Port lists are
//! compared by the ports they cover. An empty `proxy_ports` means any port and
//! an empty `edge_subscribed_mailbox` means every Mailbox server, so those two
//! are compared by their meaning. `[[allow]]` entries are matched by name.

use std::cmp::Ordering;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::i18n::{Lang, message};
use crate::policy::{Allow, Endpoint, PortSpec, Role, Site, network_text};

/// One way two site files disagree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    /// A flag or setting with a different value on each side.
    Value {
        key: String,
        first: String,
        second: String,
    },
    /// A list whose sides cover different addresses, ports or role names.
    Members {
        key: String,
        only_first: Vec<String>,
        only_second: Vec<String>,
    },
    /// An `[[allow]]` entry only one side has.
    Allow { name: String, in_first: bool },
}

/// Every difference between two sites, in site file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SiteDiff {
    pub differences: Vec<Difference>,
}

impl SiteDiff {
    /// Compares two sites.
    pub fn new(first: &Site, second: &Site) -> SiteDiff {
        let mut differences = Vec::new();

        let flag = |key: &str, a: bool, b: bool| {
            (a != b).then(|| Difference::Value {
                key: key.to_string(),
                first: a.to_string(),
                second: b.to_string(),
            })
        };
        differences.extend(flag(
            "topology.edge_transport",
            first.topology.edge_transport,
            second.topology.edge_transport,
        ));
        let (a, b) = (&first.features, &second.features);
        differences.extend(flag("features.imap4", a.imap4, b.imap4));
        differences.extend(flag("features.pop3", a.pop3, b.pop3));
        differences.extend(flag(
            "features.front_end_proxy",
            a.front_end_proxy,
            b.front_end_proxy,
        ));
        differences.extend(flag(
            "features.submission_on_port_25",
            a.submission_on_port_25,
            b.submission_on_port_25,
        ));

        for role in Role::LISTED {
            let key = format!("roles.{}", role.as_str());
            differences.extend(address_difference(
                &key,
                first.roles.get(role),
                second.roles.get(role),
            ));
        }
        differences.extend(subscribed_difference(first, second));
        differences.extend(proxy_ports_difference(first, second));
        differences.extend(address_difference(
            "networks.internal",
            &first.networks.internal,
            &second.networks.internal,
        ));
        differences.extend(address_difference(
            "networks.perimeter",
            &first.networks.perimeter,
            &second.networks.perimeter,
        ));
        allow_differences(&first.allows, &second.allows, &mut differences);

        SiteDiff { differences }
    }

    pub fn is_empty(&self) -> bool {
        self.differences.is_empty()
    }

    /// Writes the differences, one per line, after a header naming the files
    /// A and B, and a closing count.
    pub fn render(&self, first_name: &str, second_name: &str, lang: Lang) -> String {
        let text = |key: &str, args: &[(&str, &str)]| message(lang, &format!("diff.{key}"), args);
        let mut lines = vec![text(
            "header",
            &[("first", first_name), ("second", second_name)],
        )];
        if self.is_empty() {
            lines.push(text("same", &[]));
            lines.push(String::new());
            return lines.join("\n");
        }

        for difference in &self.differences {
            match difference {
                Difference::Value { key, first, second } => {
                    let (first, second) = (value_text(first, lang), value_text(second, lang));
                    lines.push(text(
                        "value",
                        &[("key", key), ("first", &first), ("second", &second)],
                    ));
                }
                Difference::Members {
                    key,
                    only_first,
                    only_second,
                } => {
                    if !only_first.is_empty() {
                        lines.push(text(
                            "only_first",
                            &[("key", key), ("values", &only_first.join(", "))],
                        ));
                    }
                    if !only_second.is_empty() {
                        lines.push(text(
                            "only_second",
                            &[("key", key), ("values", &only_second.join(", "))],
                        ));
                    }
                }
                Difference::Allow { name, in_first } => {
                    let key = if *in_first {
                        "allow_only_first"
                    } else {
                        "allow_only_second"
                    };
                    lines.push(text(key, &[("name", name)]));
                }
            }
        }
        // Header lines first, then one line per difference.
        let count = (lines.len() - 1).to_string();
        lines.push(text("count", &[("count", &count)]));
        lines.push(String::new());
        lines.join("\n")
    }
}

/// Localises the placeholder values of [`Difference::Value`].
fn value_text(value: &str, lang: Lang) -> String {
    match value {
        ANY_PORT => message(lang, "diff.any_port", &[]),
        EVERY_MAILBOX => message(lang, "diff.every_mailbox", &[]),
        other => other.to_string(),
    }
}

const ANY_PORT: &str = "<any port>";
const EVERY_MAILBOX: &str = "<every mailbox>";

fn address_difference(key: &str, first: &[IpNet], second: &[IpNet]) -> Option<Difference> {
    let (first, second) = (address_ranges(first), address_ranges(second));
    let only_first = subtract(&first, &second);
    let only_second = subtract(&second, &first);
    if only_first.is_empty() && only_second.is_empty() {
        return None;
    }
    Some(Difference::Members {
        key: key.to_string(),
        only_first: only_first.iter().flat_map(address_range_texts).collect(),
        only_second: only_second.iter().flat_map(address_range_texts).collect(),
    })
}

/// `edge_subscribed_mailbox`, empty meaning every Mailbox server of its file.
fn subscribed_difference(first: &Site, second: &Site) -> Option<Difference> {
    let key = "roles.edge_subscribed_mailbox";
    let first_empty = first.roles.edge_subscribed_mailbox.is_empty();
    let second_empty = second.roles.edge_subscribed_mailbox.is_empty();
    // Both empty means every Mailbox server on both sides: the same setting,
    // whatever roles.mailbox lists.
    if first_empty && second_empty {
        return None;
    }

    let effective = |site: &Site| {
        if site.roles.edge_subscribed_mailbox.is_empty() {
            site.roles.mailbox.clone()
        } else {
            site.roles.edge_subscribed_mailbox.clone()
        }
    };
    let difference = address_difference(key, &effective(first), &effective(second))?;
    if first_empty == second_empty {
        return Some(difference);
    }

    // When one side means every Mailbox server by leaving the key empty, the
    // address difference already shows in roles.mailbox, so the line states
    // what each side means instead of repeating the addresses.
    let describe = |site: &Site, empty: bool| {
        if empty {
            EVERY_MAILBOX.to_string()
        } else {
            list_text(&site.roles.edge_subscribed_mailbox)
        }
    };
    Some(Difference::Value {
        key: key.to_string(),
        first: describe(first, first_empty),
        second: describe(second, second_empty),
    })
}

fn proxy_ports_difference(first: &Site, second: &Site) -> Option<Difference> {
    let key = "sender_reputation.proxy_ports";
    let (a, b) = (
        &first.sender_reputation.proxy_ports,
        &second.sender_reputation.proxy_ports,
    );
    let describe = |ports: &[u16]| {
        if ports.is_empty() {
            ANY_PORT.to_string()
        } else {
            let mut sorted = ports.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            sorted
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    if a.is_empty() != b.is_empty() {
        return Some(Difference::Value {
            key: key.to_string(),
            first: describe(a),
            second: describe(b),
        });
    }
    let only = |x: &[u16], y: &[u16]| {
        let mut ports: Vec<u16> = x.iter().filter(|port| !y.contains(port)).copied().collect();
        ports.sort_unstable();
        ports.dedup();
        ports.iter().map(u16::to_string).collect::<Vec<_>>()
    };
    let (only_first, only_second) = (only(a, b), only(b, a));
    if only_first.is_empty() && only_second.is_empty() {
        return None;
    }
    Some(Difference::Members {
        key: key.to_string(),
        only_first,
        only_second,
    })
}

fn allow_differences(first: &[Allow], second: &[Allow], differences: &mut Vec<Difference>) {
    for allow in first {
        let Some(other) = second.iter().find(|other| other.name == allow.name) else {
            differences.push(Difference::Allow {
                name: allow.name.clone(),
                in_first: true,
            });
            continue;
        };
        let prefix = format!("allow.\"{}\"", allow.name);
        differences.extend(endpoint_difference(
            &format!("{prefix}.from"),
            &allow.from,
            &other.from,
        ));
        differences.extend(endpoint_difference(
            &format!("{prefix}.to"),
            &allow.to,
            &other.to,
        ));
        differences.extend(port_difference(
            &format!("{prefix}.ports"),
            &allow.ports,
            &other.ports,
        ));
    }
    for allow in second {
        if !first.iter().any(|other| other.name == allow.name) {
            differences.push(Difference::Allow {
                name: allow.name.clone(),
                in_first: false,
            });
        }
    }
}

/// Compares the `from` or `to` list of an `[[allow]]` entry: role names as
/// sets, addresses by coverage.
fn endpoint_difference(key: &str, first: &[Endpoint], second: &[Endpoint]) -> Option<Difference> {
    let roles = |endpoints: &[Endpoint]| {
        let mut roles: Vec<Role> = endpoints
            .iter()
            .filter_map(|endpoint| match endpoint {
                Endpoint::Role(role) => Some(*role),
                Endpoint::Network(_) => None,
            })
            .collect();
        roles.sort();
        roles.dedup();
        roles
    };
    let nets = |endpoints: &[Endpoint]| {
        endpoints
            .iter()
            .filter_map(|endpoint| match endpoint {
                Endpoint::Network(net) => Some(*net),
                Endpoint::Role(_) => None,
            })
            .collect::<Vec<_>>()
    };

    let (roles_a, roles_b) = (roles(first), roles(second));
    let mut only_first: Vec<String> = roles_a
        .iter()
        .filter(|role| !roles_b.contains(role))
        .map(|role| role.as_str().to_string())
        .collect();
    let mut only_second: Vec<String> = roles_b
        .iter()
        .filter(|role| !roles_a.contains(role))
        .map(|role| role.as_str().to_string())
        .collect();
    if let Some(Difference::Members {
        only_first: nets_a,
        only_second: nets_b,
        ..
    }) = address_difference(key, &nets(first), &nets(second))
    {
        only_first.extend(nets_a);
        only_second.extend(nets_b);
    }

    if only_first.is_empty() && only_second.is_empty() {
        return None;
    }
    Some(Difference::Members {
        key: key.to_string(),
        only_first,
        only_second,
    })
}

/// Compares port lists by the ports each transport covers. `any` is compared
/// on its own, because it also matches transports other than TCP and UDP.
fn port_difference(key: &str, first: &[PortSpec], second: &[PortSpec]) -> Option<Difference> {
    let ranges = |specs: &[PortSpec]| {
        let ranges: Vec<Range> = specs
            .iter()
            .map(|spec| Range {
                family: match spec.transport {
                    None => 0,
                    Some(crate::decode::Transport::Tcp) => 1,
                    Some(crate::decode::Transport::Udp) => 2,
                },
                first: if spec.transport.is_none() {
                    0
                } else {
                    u128::from(spec.first)
                },
                last: if spec.transport.is_none() {
                    0
                } else {
                    u128::from(spec.last)
                },
            })
            .collect();
        merge(ranges)
    };
    let (a, b) = (ranges(first), ranges(second));
    let text = |range: &Range| {
        let spec = match range.family {
            1 => PortSpec {
                transport: Some(crate::decode::Transport::Tcp),
                first: range.first as u16,
                last: range.last as u16,
            },
            2 => PortSpec {
                transport: Some(crate::decode::Transport::Udp),
                first: range.first as u16,
                last: range.last as u16,
            },
            _ => PortSpec::ANY,
        };
        spec.to_string()
    };
    let only_first: Vec<String> = subtract(&a, &b).iter().map(text).collect();
    let only_second: Vec<String> = subtract(&b, &a).iter().map(text).collect();
    if only_first.is_empty() && only_second.is_empty() {
        return None;
    }
    Some(Difference::Members {
        key: key.to_string(),
        only_first,
        only_second,
    })
}

fn list_text(nets: &[IpNet]) -> String {
    nets.iter().map(network_text).collect::<Vec<_>>().join(", ")
}

/// An inclusive range of numbers of one family: an address family (4, 6) or
/// a port transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Range {
    family: u8,
    first: u128,
    last: u128,
}

fn address_ranges(nets: &[IpNet]) -> Vec<Range> {
    let ranges = nets
        .iter()
        .map(|net| match (net.network(), net.broadcast()) {
            (IpAddr::V4(first), IpAddr::V4(last)) => Range {
                family: 4,
                first: u128::from(u32::from(first)),
                last: u128::from(u32::from(last)),
            },
            (first, last) => Range {
                family: 6,
                first: ipv6_number(first),
                last: ipv6_number(last),
            },
        })
        .collect();
    merge(ranges)
}

fn ipv6_number(address: IpAddr) -> u128 {
    match address {
        IpAddr::V6(v6) => u128::from(v6),
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
    }
}

/// Sorts ranges and merges the ones that overlap or touch.
fn merge(mut ranges: Vec<Range>) -> Vec<Range> {
    ranges.sort();
    let mut merged: Vec<Range> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(last)
                if last.family == range.family && range.first <= last.last.saturating_add(1) =>
            {
                last.last = last.last.max(range.last);
            }
            _ => merged.push(range),
        }
    }
    merged
}

/// Returns the parts of `ranges` that `remove` does not cover. Both lists are
/// merged and sorted.
fn subtract(ranges: &[Range], remove: &[Range]) -> Vec<Range> {
    let mut result = Vec::new();
    for range in ranges {
        let mut start = range.first;
        let mut open = true;
        for cut in remove.iter().filter(|cut| cut.family == range.family) {
            if cut.last < start || cut.first > range.last {
                continue;
            }
            if cut.first > start {
                result.push(Range {
                    family: range.family,
                    first: start,
                    last: cut.first - 1,
                });
            }
            match cut.last.cmp(&range.last) {
                Ordering::Less => start = cut.last + 1,
                _ => {
                    open = false;
                    break;
                }
            }
        }
        if open {
            result.push(Range {
                family: range.family,
                first: start,
                last: range.last,
            });
        }
    }
    result
}

/// Ranges of at most this many addresses are written address by address:
/// `10.20.0.10, 10.20.0.11` reads better than `10.20.0.10/31`.
const MAX_LISTED_ADDRESSES: u128 = 4;

/// Writes an address range as its addresses when it is small, else as one
/// CIDR block or `first-last`.
fn address_range_texts(range: &Range) -> Vec<String> {
    if range.last - range.first < MAX_LISTED_ADDRESSES {
        return (range.first..=range.last)
            .map(|number| {
                address_range_text(&Range {
                    family: range.family,
                    first: number,
                    last: number,
                })
            })
            .collect();
    }
    vec![address_range_text(range)]
}

/// Writes an address range as an address, a CIDR block when it is exactly
/// one, or `first-last`.
fn address_range_text(range: &Range) -> String {
    let address = |number: u128| -> IpAddr {
        if range.family == 4 {
            IpAddr::V4(Ipv4Addr::from(number as u32))
        } else {
            IpAddr::V6(Ipv6Addr::from(number))
        }
    };
    let bits: u32 = if range.family == 4 { 32 } else { 128 };
    let size = range.last - range.first;
    // A block of 2^n addresses aligned on 2^n is a CIDR block of prefix
    // bits - n.
    let count = size.checked_add(1);
    let exact = match count {
        Some(count) => count.is_power_of_two() && range.first.is_multiple_of(count),
        None => range.first == 0,
    };
    if exact {
        let host_bits = count.map_or(128, |count| count.trailing_zeros());
        let prefix = (bits - host_bits) as u8;
        if let Ok(net) = IpNet::new(address(range.first), prefix) {
            return network_text(&net);
        }
    }
    format!("{}-{}", address(range.first), address(range.last))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(texts: &[&str]) -> Vec<IpNet> {
        texts
            .iter()
            .map(|text| {
                text.parse::<IpNet>()
                    .unwrap_or_else(|_| IpNet::from(text.parse::<IpAddr>().unwrap()))
            })
            .collect()
    }

    #[test]
    fn split_blocks_equal_their_union() {
        let a = nets(&["10.0.0.0/25", "10.0.0.128/25"]);
        let b = nets(&["10.0.0.0/24"]);
        assert_eq!(address_difference("k", &a, &b), None);
    }

    #[test]
    fn wider_block_leaves_a_range() {
        let a = nets(&["10.20.0.0/16"]);
        let b = nets(&["10.20.0.0/24"]);
        let Some(Difference::Members {
            only_first,
            only_second,
            ..
        }) = address_difference("k", &a, &b)
        else {
            panic!("expected a difference");
        };
        assert_eq!(only_first, vec!["10.20.1.0-10.20.255.255"]);
        assert!(only_second.is_empty());
    }

    #[test]
    fn single_addresses_and_blocks() {
        let a = nets(&["10.20.0.10", "10.20.0.20/31", "fd00:20::10"]);
        let b = nets(&["10.20.0.20"]);
        let Some(Difference::Members { only_first, .. }) = address_difference("k", &a, &b) else {
            panic!("expected a difference");
        };
        assert_eq!(only_first, vec!["10.20.0.10", "10.20.0.21", "fd00:20::10"]);

        let a = nets(&["10.20.0.8/29"]);
        let Some(Difference::Members { only_first, .. }) = address_difference("k", &a, &[]) else {
            panic!("expected a difference");
        };
        assert_eq!(only_first, vec!["10.20.0.8/29"]);
        let a = nets(&["10.20.0.10/31"]);
        let Some(Difference::Members { only_first, .. }) = address_difference("k", &a, &[]) else {
            panic!("expected a difference");
        };
        assert_eq!(only_first, vec!["10.20.0.10", "10.20.0.11"]);
    }

    #[test]
    fn whole_family_is_a_block() {
        let a = nets(&["0.0.0.0/0", "::/0"]);
        let Some(Difference::Members { only_first, .. }) = address_difference("k", &a, &[]) else {
            panic!("expected a difference");
        };
        assert_eq!(only_first, vec!["0.0.0.0/0", "::/0"]);
    }

    #[test]
    fn ports_by_coverage() {
        let parse = |texts: &[&str]| -> Vec<PortSpec> {
            texts
                .iter()
                .map(|text| PortSpec::parse(text).unwrap())
                .collect()
        };
        let a = parse(&["tcp/20-21", "tcp/22"]);
        let b = parse(&["tcp/20-22"]);
        assert_eq!(port_difference("k", &a, &b), None);

        let a = parse(&["tcp/20-30", "any"]);
        let b = parse(&["tcp/25", "udp/53"]);
        let Some(Difference::Members {
            only_first,
            only_second,
            ..
        }) = port_difference("k", &a, &b)
        else {
            panic!("expected a difference");
        };
        assert_eq!(only_first, vec!["any", "tcp/20-24", "tcp/26-30"]);
        assert_eq!(only_second, vec!["udp/53"]);
    }
}
