//! Keywords, service names and protocol names of the filter language.
//!
//! exflow resolves names from these built-in tables, never from `/etc/services`,
//! `/etc/protocols` or DNS, so a filter means the same on every machine.

use crate::decode::Transport;

/// A keyword that exflow's filter implements. Keywords are lower case, as in
/// libpcap; `HOST` is a value, not a keyword.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keyword {
    And,
    Or,
    Not,
    Host,
    Net,
    Mask,
    Port,
    Portrange,
    Proto,
    Src,
    Dst,
    Ip,
    Ip6,
    Tcp,
    Udp,
    Sctp,
    Icmp,
    Icmp6,
    Vlan,
    Less,
    Greater,
}

impl Keyword {
    /// Returns the keyword spelled `word`, if exflow implements it.
    pub(crate) fn from_word(word: &str) -> Option<Keyword> {
        Some(match word {
            "and" => Keyword::And,
            "or" => Keyword::Or,
            "not" => Keyword::Not,
            "host" => Keyword::Host,
            "net" => Keyword::Net,
            "mask" => Keyword::Mask,
            "port" => Keyword::Port,
            "portrange" => Keyword::Portrange,
            "proto" => Keyword::Proto,
            "src" => Keyword::Src,
            "dst" => Keyword::Dst,
            "ip" => Keyword::Ip,
            "ip6" => Keyword::Ip6,
            "tcp" => Keyword::Tcp,
            "udp" => Keyword::Udp,
            "sctp" => Keyword::Sctp,
            "icmp" => Keyword::Icmp,
            "icmp6" => Keyword::Icmp6,
            "vlan" => Keyword::Vlan,
            "less" => Keyword::Less,
            "greater" => Keyword::Greater,
            _ => return None,
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Keyword::And => "and",
            Keyword::Or => "or",
            Keyword::Not => "not",
            Keyword::Host => "host",
            Keyword::Net => "net",
            Keyword::Mask => "mask",
            Keyword::Port => "port",
            Keyword::Portrange => "portrange",
            Keyword::Proto => "proto",
            Keyword::Src => "src",
            Keyword::Dst => "dst",
            Keyword::Ip => "ip",
            Keyword::Ip6 => "ip6",
            Keyword::Tcp => "tcp",
            Keyword::Udp => "udp",
            Keyword::Sctp => "sctp",
            Keyword::Icmp => "icmp",
            Keyword::Icmp6 => "icmp6",
            Keyword::Vlan => "vlan",
            Keyword::Less => "less",
            Keyword::Greater => "greater",
        }
    }
}

/// Words that libpcap 1.10 reads as keywords (its `scanner.l`) and exflow does
/// not implement: link-layer, 802.11, ATM, MTP, pf and OSI primitives, byte
/// accessors and their named offsets and values. Reading them as host names
/// would give a misleading error, so the parser reports them as not supported.
const UNSUPPORTED_KEYWORDS: &[&str] = &[
    "aarp",
    "action",
    "addr1",
    "addr2",
    "addr3",
    "addr4",
    "address1",
    "address2",
    "address3",
    "address4",
    "ah",
    "arp",
    "atalk",
    "bcc",
    "broadcast",
    "byte",
    "carp",
    "clnp",
    "connectmsg",
    "csnp",
    "decnet",
    "dir",
    "direction",
    "dpc",
    "es-is",
    "esis",
    "esp",
    "ether",
    "fddi",
    "fisu",
    "gateway",
    "geneve",
    "hdpc",
    "hfisu",
    "hlssu",
    "hmsu",
    "hopc",
    "hsio",
    "hsls",
    "icmp6code",
    "icmp6type",
    "icmpcode",
    "icmptype",
    "ifindex",
    "ifname",
    "igmp",
    "igrp",
    "iih",
    "ilmic",
    "inbound",
    "ipx",
    "is-is",
    "isis",
    "iso",
    "l1",
    "l2",
    "lane",
    "lat",
    "len",
    "length",
    "link",
    "llc",
    "lsp",
    "lssu",
    "lsu",
    "metac",
    "metaconnect",
    "moprc",
    "mopdl",
    "mpls",
    "msu",
    "multicast",
    "netbeui",
    "oam",
    "oamf4",
    "oamf4ec",
    "oamf4sc",
    "on",
    "opc",
    "outbound",
    "pim",
    "ppp",
    "pppoed",
    "pppoes",
    "protochain",
    "psnp",
    "ra",
    "radio",
    "rarp",
    "reason",
    "rnr",
    "rset",
    "rulenum",
    "ruleset",
    "sc",
    "sca",
    "sio",
    "slip",
    "sls",
    "snp",
    "srnr",
    "stp",
    "subrulenum",
    "subtype",
    "ta",
    "tcpflags",
    "tr",
    "type",
    "vci",
    "vpi",
    "vrrp",
    "wlan",
];

/// Returns true for a libpcap keyword that exflow does not implement, including
/// the named constants of byte accessors (`tcp-syn`, `icmp-echo`, `icmp6-echo`).
/// The prefix test also catches a host name such as `tcp-gw`, which is an error
/// either way because the filter resolves no host names.
pub(crate) fn is_unsupported_keyword(word: &str) -> bool {
    UNSUPPORTED_KEYWORDS.contains(&word)
        || ["tcp-", "icmp-", "icmp6-"]
            .iter()
            .any(|prefix| word.starts_with(prefix))
}

/// A well-known port name with the transports it is registered for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Service {
    pub name: &'static str,
    pub port: u16,
    /// `None` when the name is registered for both TCP and UDP.
    pub transport: Option<Transport>,
}

/// Service names for `port` and `portrange`. Ports and transports follow the
/// entries of Debian netbase 6.4 `/etc/services`, the file libpcap reads on
/// Debian, so `port smtp` means `tcp port 25` in both: libpcap restricts a name
/// registered for one transport to that transport.
pub(crate) const SERVICES: &[Service] = &[
    entry("ssh", 22, Some(Transport::Tcp)),
    entry("smtp", 25, Some(Transport::Tcp)),
    entry("domain", 53, None),
    entry("http", 80, Some(Transport::Tcp)),
    entry("pop3", 110, Some(Transport::Tcp)),
    entry("imap", 143, Some(Transport::Tcp)),
    entry("ldap", 389, None),
    entry("https", 443, None),
    entry("smtps", 465, Some(Transport::Tcp)),
    entry("submissions", 465, Some(Transport::Tcp)),
    entry("submission", 587, Some(Transport::Tcp)),
    entry("ldaps", 636, None),
    entry("imaps", 993, Some(Transport::Tcp)),
    entry("pop3s", 995, Some(Transport::Tcp)),
];

const fn entry(name: &'static str, port: u16, transport: Option<Transport>) -> Service {
    Service {
        name,
        port,
        transport,
    }
}

pub(crate) fn service(name: &str) -> Option<Service> {
    SERVICES
        .iter()
        .find(|service| service.name == name)
        .copied()
}

/// IP protocol names for `proto`, with their IANA numbers.
pub(crate) const PROTOCOLS: &[(&str, u8)] = &[
    ("icmp", 1),
    ("tcp", 6),
    ("udp", 17),
    ("icmp6", 58),
    ("sctp", 132),
];

pub(crate) fn protocol_number(name: &str) -> Option<u8> {
    PROTOCOLS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, number)| *number)
}

/// Returns the names of a table joined for an error message.
pub(crate) fn service_names() -> String {
    let names: Vec<&str> = SERVICES.iter().map(|service| service.name).collect();
    names.join(", ")
}

pub(crate) fn protocol_names() -> String {
    let names: Vec<&str> = PROTOCOLS.iter().map(|(name, _)| *name).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_lookup() {
        assert_eq!(service("smtp").map(|s| s.port), Some(25));
        assert_eq!(service("domain").map(|s| s.transport), Some(None));
        assert_eq!(service("SMTP"), None);
        assert_eq!(service("nosuchservice"), None);
    }

    #[test]
    fn supported_keywords_not_in_unsupported_list() {
        for word in UNSUPPORTED_KEYWORDS {
            assert_eq!(Keyword::from_word(word), None, "{word}");
        }
    }

    #[test]
    fn keyword_round_trip() {
        for word in ["and", "host", "portrange", "ip6", "icmp6", "greater"] {
            assert_eq!(Keyword::from_word(word).map(Keyword::as_str), Some(word));
        }
    }

    #[test]
    fn byte_accessor_constants_unsupported() {
        assert!(is_unsupported_keyword("tcp-syn"));
        assert!(is_unsupported_keyword("icmp6-echo"));
        assert!(!is_unsupported_keyword("tcp"));
        assert!(!is_unsupported_keyword("mail.example.com"));
    }
}
