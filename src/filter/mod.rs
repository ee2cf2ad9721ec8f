//! `--filter`: tcpdump-style filter expressions (pcap-filter(7)), parsed and
//! evaluated by exflow itself so that the offline analyzer needs no libpcap.
//!
//! [`Filter::parse`] compiles an expression once; [`Filter::matches`] runs it on
//! each decoded packet before flow tracking, without allocating.
//!
//! # Supported syntax
//!
//! - `host ADDR`, `net NET`, `net NET/LEN`, `net NET mask MASK`, `port PORT`
//!   and `portrange FIRST-LAST`, each optionally after `src`, `dst`, `src or
//!   dst` or `src and dst`. Addresses are IPv4 or IPv6. An IPv4 `net` may give
//!   its leading one to three bytes only (`net 10`, `net 172.16`).
//! - Protocol qualifiers `ip`, `ip6` (before `host`, `net`, `proto`) and `tcp`,
//!   `udp`, `sctp` (before `port`, `portrange`): `tcp dst port 25`,
//!   `ip6 net 2001:db8::/32`.
//! - Protocols alone: `ip`, `ip6`, `tcp`, `udp`, `sctp`, `icmp`, `icmp6`;
//!   `proto N`, `ip proto N`, `ip6 proto N`, with a number or a name (`proto
//!   tcp` and libpcap's `proto \tcp` both work).
//! - `vlan` and `vlan ID`; `less N` and `greater N`.
//! - Service names for ports from a built-in table: domain, http, https, imap,
//!   imaps, ldap, ldaps, pop3, pop3s, smtp, smtps, submission, submissions, ssh.
//! - `and`/`&&`, `or`/`||`, `not`/`!` and parentheses. As in pcap-filter(7),
//!   `not` binds tightest and `and` and `or` have equal precedence, read from
//!   left to right: `a or b and c` is `(a or b) and c`.
//! - A bare value repeats the qualifiers before it: `host 10.0.0.1 or
//!   10.0.0.2`, `tcp dst port 25 or 587`, `port 25 and (587 or 465)`.
//!
//! Other libpcap syntax (byte accessors such as `tcp[13] & 2 != 0`, `ether`,
//! `gateway`, `broadcast`, `mpls`, ...) is an error that names the word and its
//! column. Every error carries its position; [`FilterError::render`] prints a
//! caret line under the expression.
//!
//! # Differences from libpcap
//!
//! The filter runs on the packet as exflow's decoder returns it, not on the
//! frame bytes as BPF does. The same expression therefore selects different
//! packets in these cases:
//!
//! - Tunnels: addresses, ports and protocols are those of the innermost IP
//!   and transport headers of the tunnelled traffic the decoder unwraps;
//!   libpcap tests the outermost headers.
//! - VLAN tags: `host`, `port` and the others match tagged and untagged
//!   packets alike; libpcap matches a tagged packet only when a `vlan` comes
//!   first in the expression. Each `vlan` primitive tests the next tag in
//!   textual order (outermost first), as libpcap's offsets do: `vlan 100 and
//!   vlan 200` is outer 100 and inner 200, and so is `vlan 100 or vlan 200`.
//!   exflow keeps two tags per packet, so a third `vlan` is an error.
//! - `less` and `greater` compare the IP length of the innermost IP header
//!   (IPv4 total length, IPv6 40 + payload length); libpcap compares the frame
//!   length including the link-layer header.
//! - IP fragments are tested once, on the reassembled datagram; libpcap tests
//!   each fragment, and `port` never matches a fragment after the first.
//! - IPv6 extension headers: `tcp`, `udp`, `proto` and `port` see the transport
//!   header after any extension headers; libpcap looks at the first next-header
//!   field only (and one fragment header for `proto`).
//! - Only TCP and UDP packets reach the filter, so `icmp`, `sctp` and `proto 1`
//!   match nothing.
//! - Names: ports come from the built-in table, with the transports Debian's
//!   `/etc/services` gives them, so `port smtp` is `tcp port 25` as in libpcap
//!   on Debian; host and network names are errors because nothing is resolved.
//! - exflow rejects `host 10.1` (libpcap reads a short address after `host` as
//!   a network), and accepts `net 10/8` and `proto tcp` (libpcap wants `net
//!   10.0.0.0/8` and `proto \tcp`). It does not reject expressions that can
//!   never match, as libpcap's optimizer does for `tcp and udp`.

mod error;
mod lex;
mod names;
mod parse;
mod program;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use crate::decode::Packet;

pub use error::{Expected, Field, FilterError, FilterErrorKind};
pub use parse::{MAX_NESTING, MAX_VLAN_LEVELS};

use program::Program;

/// A compiled filter expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    expression: String,
    program: Program,
}

impl Filter {
    /// Parses and compiles `expression`. An empty expression matches every
    /// packet, as in libpcap.
    pub fn parse(expression: &str) -> Result<Filter, FilterError> {
        let node = parse::parse_expression(expression)?;
        Ok(Filter {
            expression: expression.to_owned(),
            program: Program::compile(&node),
        })
    }

    /// Returns true when `packet` passes the filter.
    #[inline]
    pub fn matches(&self, packet: &Packet<'_>) -> bool {
        self.program.matches(packet)
    }

    /// Returns the expression as given to [`Filter::parse`].
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// Returns the number of tests the compiled program holds; at most this
    /// many run per packet.
    pub fn test_count(&self) -> usize {
        self.program.len()
    }
}

impl FromStr for Filter {
    type Err = FilterError;

    fn from_str(expression: &str) -> Result<Filter, FilterError> {
        Filter::parse(expression)
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expression)
    }
}
