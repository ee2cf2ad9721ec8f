//! Grammar of filter expressions, after pcap-filter(7) and libpcap 1.10's
//! `grammar.y`, over the tokens from [`super::lex`].
//!
//! ```text
//! filter     = [ expr ]
//! expr       = term { ("and" | "or") (term | id) }     equal precedence, left to right
//! term       = "not" term | "(" expr ")" | primitive
//! primitive  = [proto] [dir] [kind] id                 at least one of dir and kind,
//!            | [ip | ip6] "proto" id                   or proto followed by one of them
//!            | proto | "vlan" [NUM] | ("less" | "greater") NUM
//! proto      = "ip" | "ip6" | "tcp" | "udp" | "sctp" | "icmp" | "icmp6"
//! dir        = "src" | "dst" | "src or dst" | "dst or src" | "src and dst" | "dst and src"
//! kind       = "host" | "net" | "port" | "portrange"
//! id         = "not" id | "(" id { ("and" | "or") id } ")" | VALUE
//! ```
//!
//! An `id` with no keyword before it repeats the qualifiers of the primitive
//! before it (`port 25 or 587`). As in libpcap, a parenthesised expression
//! passes on the qualifiers in effect before its `(`, and a bare `tcp`, `vlan`
//! or `less` leaves none, so `tcp or 25` is an error.
//!
//! A recursive descent parser walks the tokens, because the qualifiers carried
//! from one primitive to the next are state that each rule reads and returns.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use super::error::{Expected, Field, FilterError, FilterErrorKind};
use super::lex::{Token, TokenKind, tokenize};
use super::names::{self, Keyword};
use super::program::{Direction, Node, Test};
use crate::decode::Transport;

/// Maximum nesting of parentheses and `not`, and maximum depth of the tree
/// that alternating `and` and `or` build. It bounds the recursion of the parser
/// and the compiler; machine-written filters that list many hosts with one
/// operator stay one level deep.
pub const MAX_NESTING: usize = 100;

/// Maximum number of `vlan` primitives: the `n`-th one tests the packet's `n`-th
/// VLAN tag, and a decoded packet keeps its outer two tags
/// ([`VlanIds`](crate::decode::VlanIds)).
pub const MAX_VLAN_LEVELS: usize = 2;

const MAX_VLAN_ID: u32 = 4095;

/// Parses `expression` into a boolean tree of tests. An empty expression
/// matches every packet, as in libpcap.
pub(crate) fn parse_expression(expression: &str) -> Result<Node, FilterError> {
    let tokens = tokenize(expression)?;
    if tokens.is_empty() {
        return Ok(Node::All(Vec::new()));
    }

    let mut parser = Parser {
        expression,
        tokens: &tokens,
        pos: 0,
        nesting: 0,
        vlan_levels: 0,
    };
    let (parsed, _) = parser.parse_expr(None)?;
    if let Some(token) = parser.peek() {
        return Err(match token.kind {
            TokenKind::RParen => parser.error(token.span(), FilterErrorKind::UnmatchedParen),
            _ => parser.unexpected(token, Expected::Operator),
        });
    }
    Ok(parsed.node)
}

/// A protocol qualifier, or a protocol primitive when no qualifier follows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProtocolQualifier {
    Ip,
    Ip6,
    Tcp,
    Udp,
    Sctp,
    Icmp,
    Icmp6,
}

impl ProtocolQualifier {
    fn from_keyword(keyword: Keyword) -> Option<ProtocolQualifier> {
        Some(match keyword {
            Keyword::Ip => ProtocolQualifier::Ip,
            Keyword::Ip6 => ProtocolQualifier::Ip6,
            Keyword::Tcp => ProtocolQualifier::Tcp,
            Keyword::Udp => ProtocolQualifier::Udp,
            Keyword::Sctp => ProtocolQualifier::Sctp,
            Keyword::Icmp => ProtocolQualifier::Icmp,
            Keyword::Icmp6 => ProtocolQualifier::Icmp6,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            ProtocolQualifier::Ip => "ip",
            ProtocolQualifier::Ip6 => "ip6",
            ProtocolQualifier::Tcp => "tcp",
            ProtocolQualifier::Udp => "udp",
            ProtocolQualifier::Sctp => "sctp",
            ProtocolQualifier::Icmp => "icmp",
            ProtocolQualifier::Icmp6 => "icmp6",
        }
    }

    /// Returns the test of the protocol as a primitive of its own. `icmp` and
    /// `icmp6` imply their IP version as in libpcap (`ip proto 1`, `ip6 proto
    /// 58`).
    fn test(self) -> Test {
        let protocol = |version, number| Test::Protocol { version, number };
        match self {
            ProtocolQualifier::Ip => Test::IpVersion(4),
            ProtocolQualifier::Ip6 => Test::IpVersion(6),
            ProtocolQualifier::Tcp => protocol(None, 6),
            ProtocolQualifier::Udp => protocol(None, 17),
            ProtocolQualifier::Sctp => protocol(None, 132),
            ProtocolQualifier::Icmp => protocol(Some(4), 1),
            ProtocolQualifier::Icmp6 => protocol(Some(6), 58),
        }
    }

    /// Returns the IP version that `ip` and `ip6` demand.
    fn ip_version(self) -> Option<u8> {
        match self {
            ProtocolQualifier::Ip => Some(4),
            ProtocolQualifier::Ip6 => Some(6),
            _ => None,
        }
    }

    /// Returns the transport protocol number that `tcp`, `udp` and `sctp`
    /// demand of a port.
    fn port_protocol(self) -> Option<u8> {
        match self {
            ProtocolQualifier::Tcp => Some(6),
            ProtocolQualifier::Udp => Some(17),
            ProtocolQualifier::Sctp => Some(132),
            _ => None,
        }
    }
}

/// The kind of value a primitive takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Host,
    Net,
    Port,
    PortRange,
    Proto,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Host => "host",
            Kind::Net => "net",
            Kind::Port => "port",
            Kind::PortRange => "portrange",
            Kind::Proto => "proto",
        }
    }

    fn expected(self) -> Expected {
        match self {
            Kind::Host => Expected::Address,
            Kind::Net => Expected::Network,
            Kind::Port => Expected::Port,
            Kind::PortRange => Expected::PortRange,
            Kind::Proto => Expected::Protocol,
        }
    }
}

/// The qualifiers of a primitive, which a bare value after `and` or `or`
/// repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Qualifiers {
    protocol: Option<ProtocolQualifier>,
    direction: Direction,
    kind: Kind,
}

/// A subtree and its depth, which [`MAX_NESTING`] bounds.
struct Parsed {
    node: Node,
    depth: usize,
}

impl Parsed {
    fn leaf(test: Test) -> Parsed {
        Parsed {
            node: Node::Test(test),
            depth: 0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operator {
    And,
    Or,
}

/// The result of a term: its subtree and the qualifiers a following bare value
/// repeats (`None`: a bare value is an error).
type Term = (Parsed, Option<Qualifiers>);

struct Parser<'t, 'a> {
    expression: &'a str,
    tokens: &'t [Token<'a>],
    pos: usize,
    /// Parentheses and `not`s open at the current token.
    nesting: usize,
    /// `vlan` primitives read so far.
    vlan_levels: usize,
}

impl<'a> Parser<'_, 'a> {
    fn peek(&self) -> Option<Token<'a>> {
        self.tokens.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<Token<'a>> {
        self.tokens.get(self.pos + ahead).copied()
    }

    /// Returns the next token, or an error that `expected` is missing.
    fn next_or_end(&self, expected: Expected) -> Result<Token<'a>, FilterError> {
        self.peek().ok_or_else(|| {
            let end = self.expression.len();
            self.error(end..end, FilterErrorKind::UnexpectedEnd { expected })
        })
    }

    fn peek_operator(&self) -> Option<(Operator, Token<'a>)> {
        let token = self.peek()?;
        match token.kind {
            TokenKind::Keyword(Keyword::And) => Some((Operator::And, token)),
            TokenKind::Keyword(Keyword::Or) => Some((Operator::Or, token)),
            _ => None,
        }
    }

    fn error(&self, span: Range<usize>, kind: FilterErrorKind) -> FilterError {
        FilterError::new(self.expression, span, kind)
    }

    fn text(&self, token: Token<'_>) -> &'a str {
        self.expression.get(token.span()).unwrap_or("")
    }

    /// Returns the error for `token` appearing where `expected` must be.
    fn unexpected(&self, token: Token<'_>, expected: Expected) -> FilterError {
        let kind = match token.kind {
            TokenKind::Unsupported(word) => FilterErrorKind::Unsupported { word: word.into() },
            TokenKind::Value(word) if keyword_in_capitals(word).is_some() => {
                self.capitals_kind(word)
            }
            _ => FilterErrorKind::UnexpectedToken {
                found: self.text(token).into(),
                expected,
            },
        };
        self.error(token.span(), kind)
    }

    fn capitals_kind(&self, word: &str) -> FilterErrorKind {
        FilterErrorKind::KeywordCase {
            word: word.into(),
            keyword: keyword_in_capitals(word).unwrap_or(""),
        }
    }

    /// Returns the error for a value that no qualifier applies to.
    fn missing_qualifier(&self, token: Token<'_>, value: &str) -> FilterError {
        let kind = if keyword_in_capitals(value).is_some() {
            self.capitals_kind(value)
        } else {
            FilterErrorKind::MissingQualifier {
                value: value.into(),
            }
        };
        self.error(token.span(), kind)
    }

    fn enter(&mut self, token: Token<'_>) -> Result<(), FilterError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.error(token.span(), FilterErrorKind::TooDeep { max: MAX_NESTING }));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.nesting -= 1;
    }

    fn negate(&self, inner: Parsed, token: Token<'_>) -> Result<Parsed, FilterError> {
        let depth = inner.depth + 1;
        if depth > MAX_NESTING {
            return Err(self.error(token.span(), FilterErrorKind::TooDeep { max: MAX_NESTING }));
        }
        Ok(Parsed {
            node: Node::Not(Box::new(inner.node)),
            depth,
        })
    }

    /// Combines two subtrees; a chain of one operator stays one flat list.
    fn join(
        &self,
        operator: Operator,
        left: Parsed,
        right: Parsed,
        token: Token<'_>,
    ) -> Result<Parsed, FilterError> {
        let (node, depth) = match (operator, left.node) {
            (Operator::And, Node::All(mut children)) => {
                children.push(right.node);
                (Node::All(children), left.depth.max(right.depth + 1))
            }
            (Operator::Or, Node::Any(mut children)) => {
                children.push(right.node);
                (Node::Any(children), left.depth.max(right.depth + 1))
            }
            (Operator::And, node) => (
                Node::All(vec![node, right.node]),
                left.depth.max(right.depth) + 1,
            ),
            (Operator::Or, node) => (
                Node::Any(vec![node, right.node]),
                left.depth.max(right.depth) + 1,
            ),
        };
        if depth > MAX_NESTING {
            return Err(self.error(token.span(), FilterErrorKind::TooDeep { max: MAX_NESTING }));
        }
        Ok(Parsed { node, depth })
    }

    /// Returns the value token that starts an `id` at the current position,
    /// looking past `not` and `(`; `None` when a term starts there.
    fn id_value_ahead(&self) -> Option<(Token<'a>, &'a str)> {
        let rest = self.tokens.get(self.pos..)?;
        let token = rest.iter().find(|token| {
            !matches!(
                token.kind,
                TokenKind::Keyword(Keyword::Not) | TokenKind::LParen
            )
        })?;
        match token.kind {
            TokenKind::Value(value) => Some((*token, value)),
            _ => None,
        }
    }

    /// expr = term { ("and" | "or") (term | id) }
    ///
    /// `before` is the set of qualifiers in effect before the expression, which
    /// a parenthesised first term passes on.
    fn parse_expr(&mut self, before: Option<Qualifiers>) -> Result<Term, FilterError> {
        let (mut left, mut qualifiers) = self.parse_term(before)?;
        while let Some((operator, token)) = self.peek_operator() {
            self.pos += 1;

            let right = if let Some((value_token, value)) = self.id_value_ahead() {
                // A bare value repeats the last qualifiers.
                let Some(repeated) = qualifiers else {
                    return Err(self.missing_qualifier(value_token, value));
                };
                self.parse_id(repeated)?
            } else {
                let (term, term_qualifiers) = self.parse_term(qualifiers)?;
                qualifiers = term_qualifiers;
                term
            };
            left = self.join(operator, left, right, token)?;
        }
        Ok((left, qualifiers))
    }

    /// term = "not" term | "(" expr ")" | primitive
    fn parse_term(&mut self, before: Option<Qualifiers>) -> Result<Term, FilterError> {
        let token = self.next_or_end(Expected::Primitive)?;
        match token.kind {
            TokenKind::Keyword(Keyword::Not) => {
                self.pos += 1;
                self.enter(token)?;
                let (inner, qualifiers) = self.parse_term(before)?;
                self.leave();
                Ok((self.negate(inner, token)?, qualifiers))
            }
            TokenKind::LParen => {
                self.pos += 1;
                self.enter(token)?;
                let (inner, _) = self.parse_expr(before)?;
                self.close_paren(token)?;
                self.leave();
                Ok((inner, before))
            }
            TokenKind::Keyword(keyword) => match keyword {
                Keyword::Ip
                | Keyword::Ip6
                | Keyword::Tcp
                | Keyword::Udp
                | Keyword::Sctp
                | Keyword::Icmp
                | Keyword::Icmp6 => self.parse_protocol(token, keyword),
                Keyword::Src
                | Keyword::Dst
                | Keyword::Host
                | Keyword::Net
                | Keyword::Port
                | Keyword::Portrange
                | Keyword::Proto => self.parse_primitive(None),
                Keyword::Vlan => self.parse_vlan(token),
                Keyword::Less | Keyword::Greater => self.parse_length(keyword),
                Keyword::And | Keyword::Or | Keyword::Not | Keyword::Mask => {
                    Err(self.unexpected(token, Expected::Primitive))
                }
            },
            TokenKind::Value(value) => Err(self.missing_qualifier(token, value)),
            TokenKind::RParen | TokenKind::Slash | TokenKind::Unsupported(_) => {
                Err(self.unexpected(token, Expected::Primitive))
            }
        }
    }

    fn close_paren(&mut self, open: Token<'_>) -> Result<(), FilterError> {
        match self.peek() {
            Some(Token {
                kind: TokenKind::RParen,
                ..
            }) => {
                self.pos += 1;
                Ok(())
            }
            Some(token) => Err(self.unexpected(token, Expected::OperatorOrParen)),
            None => Err(self.error(open.span(), FilterErrorKind::UnclosedParen)),
        }
    }

    /// Parses a protocol keyword: a qualifier when a direction or kind follows,
    /// otherwise a primitive of its own (`tcp`, `ip6`).
    fn parse_protocol(&mut self, token: Token<'a>, keyword: Keyword) -> Result<Term, FilterError> {
        let Some(protocol) = ProtocolQualifier::from_keyword(keyword) else {
            return Err(self.unexpected(token, Expected::Primitive));
        };
        self.pos += 1;

        let qualifies = matches!(
            self.peek().map(|next| next.kind),
            Some(TokenKind::Keyword(
                Keyword::Src
                    | Keyword::Dst
                    | Keyword::Host
                    | Keyword::Net
                    | Keyword::Port
                    | Keyword::Portrange
                    | Keyword::Proto
            ))
        );
        if qualifies {
            self.parse_primitive(Some((protocol, token)))
        } else {
            Ok((Parsed::leaf(protocol.test()), None))
        }
    }

    /// primitive = [proto] [dir] [kind] id, with the protocol already read.
    fn parse_primitive(
        &mut self,
        protocol: Option<(ProtocolQualifier, Token<'a>)>,
    ) -> Result<Term, FilterError> {
        let direction = self.parse_direction();
        let kind = match self.peek().map(|token| token.kind) {
            Some(TokenKind::Keyword(Keyword::Host)) => Some(Kind::Host),
            Some(TokenKind::Keyword(Keyword::Net)) => Some(Kind::Net),
            Some(TokenKind::Keyword(Keyword::Port)) => Some(Kind::Port),
            Some(TokenKind::Keyword(Keyword::Portrange)) => Some(Kind::PortRange),
            Some(TokenKind::Keyword(Keyword::Proto)) if direction.is_none() => Some(Kind::Proto),
            _ => None,
        };
        if kind.is_some() {
            self.pos += 1;
        }

        let qualifiers = Qualifiers {
            protocol: protocol.map(|(protocol, _)| protocol),
            direction: direction.unwrap_or(Direction::SrcOrDst),
            kind: kind.unwrap_or(Kind::Host),
        };
        if let Some((protocol, token)) = protocol {
            self.check_protocol_qualifier(protocol, qualifiers.kind, token)?;
        }
        let parsed = self.parse_id(qualifiers)?;
        Ok((parsed, Some(qualifiers)))
    }

    /// dir = "src" | "dst" | "src or dst" | "dst or src" | "src and dst" | "dst and src"
    fn parse_direction(&mut self) -> Option<Direction> {
        let first = match self.peek()?.kind {
            TokenKind::Keyword(Keyword::Src) => Keyword::Src,
            TokenKind::Keyword(Keyword::Dst) => Keyword::Dst,
            _ => return None,
        };
        self.pos += 1;

        let other = if first == Keyword::Src {
            Keyword::Dst
        } else {
            Keyword::Src
        };
        let operator = self.peek_operator();
        let second = self.peek_at(1).map(|token| token.kind);
        if let (Some((operator, _)), Some(TokenKind::Keyword(keyword))) = (operator, second)
            && keyword == other
        {
            self.pos += 2;
            return Some(match operator {
                Operator::Or => Direction::SrcOrDst,
                Operator::And => Direction::SrcAndDst,
            });
        }
        Some(if first == Keyword::Src {
            Direction::Src
        } else {
            Direction::Dst
        })
    }

    /// Rejects a protocol qualifier that libpcap rejects for `kind`, such as
    /// `tcp host` or `ip port`.
    fn check_protocol_qualifier(
        &self,
        protocol: ProtocolQualifier,
        kind: Kind,
        token: Token<'_>,
    ) -> Result<(), FilterError> {
        let allowed = match kind {
            Kind::Host | Kind::Net | Kind::Proto => protocol.ip_version().is_some(),
            Kind::Port | Kind::PortRange => protocol.port_protocol().is_some(),
        };
        if allowed {
            return Ok(());
        }
        Err(self.error(
            token.span(),
            FilterErrorKind::InvalidQualifier {
                qualifier: protocol.name(),
                primitive: kind.name(),
            },
        ))
    }

    /// id = "not" id | "(" id { ("and" | "or") id } ")" | VALUE
    fn parse_id(&mut self, qualifiers: Qualifiers) -> Result<Parsed, FilterError> {
        let token = self.next_or_end(qualifiers.kind.expected())?;
        match token.kind {
            TokenKind::Keyword(Keyword::Not) => {
                self.pos += 1;
                self.enter(token)?;
                let inner = self.parse_id(qualifiers)?;
                self.leave();
                self.negate(inner, token)
            }
            TokenKind::LParen => {
                self.pos += 1;
                self.enter(token)?;
                let mut list = self.parse_id(qualifiers)?;
                while let Some((operator, operator_token)) = self.peek_operator() {
                    self.pos += 1;
                    let right = self.parse_id(qualifiers)?;
                    list = self.join(operator, list, right, operator_token)?;
                }
                self.close_paren(token)?;
                self.leave();
                Ok(list)
            }
            TokenKind::Value(value) => {
                self.pos += 1;
                self.parse_value(qualifiers, value, token)
            }
            // `proto tcp`: libpcap wants `proto \tcp`, exflow takes both.
            TokenKind::Keyword(keyword)
                if qualifiers.kind == Kind::Proto
                    && names::protocol_number(keyword.as_str()).is_some() =>
            {
                self.pos += 1;
                self.parse_protocol_value(qualifiers, keyword.as_str(), token)
            }
            _ => Err(self.unexpected(token, qualifiers.kind.expected())),
        }
    }

    fn parse_value(
        &mut self,
        qualifiers: Qualifiers,
        value: &str,
        token: Token<'a>,
    ) -> Result<Parsed, FilterError> {
        match qualifiers.kind {
            Kind::Host => self.parse_host(qualifiers, value, token),
            Kind::Net => self.parse_net(qualifiers, value, token),
            Kind::Port => self.parse_port(qualifiers, value, token),
            Kind::PortRange => self.parse_port_range(qualifiers, value, token),
            Kind::Proto => self.parse_protocol_value(qualifiers, value, token),
        }
    }

    fn parse_host(
        &mut self,
        qualifiers: Qualifiers,
        value: &str,
        token: Token<'a>,
    ) -> Result<Parsed, FilterError> {
        // libpcap: "Mask syntax for networks only".
        if let Some(next) = self.peek()
            && matches!(
                next.kind,
                TokenKind::Slash | TokenKind::Keyword(Keyword::Mask)
            )
        {
            return Err(self.error(next.span(), FilterErrorKind::MaskNeedsNet));
        }

        let Some(addr) = parse_address(value) else {
            return Err(self.address_error(value, token));
        };
        self.check_family(qualifiers.protocol, addr.is_ipv6(), value, token)?;
        Ok(Parsed::leaf(Test::Host {
            direction: qualifiers.direction,
            addr,
        }))
    }

    /// Returns the error for a value that is not an address: a host name
    /// unless it looks like a mistyped address.
    fn address_error(&self, value: &str, token: Token<'_>) -> FilterError {
        let looks_numeric =
            value.contains(':') || value.chars().all(|c| c.is_ascii_digit() || c == '.');
        let kind = if keyword_in_capitals(value).is_some() {
            self.capitals_kind(value)
        } else if looks_numeric {
            FilterErrorKind::InvalidAddress { text: value.into() }
        } else {
            FilterErrorKind::HostName { name: value.into() }
        };
        self.error(token.span(), kind)
    }

    fn check_family(
        &self,
        protocol: Option<ProtocolQualifier>,
        is_ipv6: bool,
        value: &str,
        token: Token<'_>,
    ) -> Result<(), FilterError> {
        let Some(version) = protocol.and_then(ProtocolQualifier::ip_version) else {
            return Ok(());
        };
        if (version == 6) == is_ipv6 {
            return Ok(());
        }
        Err(self.error(
            token.span(),
            FilterErrorKind::AddressFamily {
                qualifier: protocol.map_or("", ProtocolQualifier::name),
                address: value.into(),
            },
        ))
    }

    /// net ADDRESS, net ADDRESS/LEN or net ADDRESS mask NETMASK. An IPv4 network
    /// may name its leading one to three bytes only (`net 10`, `net 172.16`),
    /// which sets the mask to those bytes as pcap-filter(7) describes.
    fn parse_net(
        &mut self,
        qualifiers: Qualifiers,
        value: &str,
        token: Token<'a>,
    ) -> Result<Parsed, FilterError> {
        let direction = qualifiers.direction;
        let invalid = || {
            self.error(
                token.span(),
                FilterErrorKind::InvalidAddress { text: value.into() },
            )
        };

        let node = if value.contains(':') {
            let network: Ipv6Addr = value.parse().map_err(|_| invalid())?;
            let network = u128::from(network);
            let (suffix, end) = self.parse_net_suffix(token.end, false)?;
            // An IPv6 network without a length is a single address, as in
            // libpcap; `parse_net_suffix` rejects `mask` after IPv6.
            let prefix = match suffix {
                Some(NetSuffix::Prefix(prefix)) => prefix,
                Some(NetSuffix::Mask(_)) | None => 128,
            };
            let mask = prefix_mask_v6(prefix);
            if network & !mask != 0 {
                let suggestion = format!("{}/{prefix}", Ipv6Addr::from(network & mask));
                return Err(self.host_bits_error(token.start..end, suggestion));
            }
            self.check_family(qualifiers.protocol, true, value, token)?;
            Test::Net6 {
                direction,
                network,
                mask,
            }
        } else {
            let Some((network, default_prefix)) = parse_ipv4_prefix(value) else {
                return Err(self.address_error(value, token));
            };
            let (suffix, end) = self.parse_net_suffix(token.end, true)?;
            let (mask, suggestion_suffix) = match suffix {
                Some(NetSuffix::Prefix(prefix)) => (prefix_mask_v4(prefix), format!("/{prefix}")),
                Some(NetSuffix::Mask(mask)) => (mask, format!(" mask {}", Ipv4Addr::from(mask))),
                None => (prefix_mask_v4(default_prefix), format!("/{default_prefix}")),
            };
            if network & !mask != 0 {
                let suggestion = format!("{}{suggestion_suffix}", Ipv4Addr::from(network & mask));
                return Err(self.host_bits_error(token.start..end, suggestion));
            }
            self.check_family(qualifiers.protocol, false, value, token)?;
            Test::Net4 {
                direction,
                network,
                mask,
            }
        };
        Ok(Parsed::leaf(node))
    }

    fn host_bits_error(&self, span: Range<usize>, suggestion: String) -> FilterError {
        let network = self.expression.get(span.clone()).unwrap_or("").to_owned();
        self.error(
            span,
            FilterErrorKind::HostBitsSet {
                network,
                suggestion,
            },
        )
    }

    /// Reads an optional `/LEN` or (IPv4 only) `mask NETMASK` after a network
    /// address that ends at byte `end`, and returns it with the byte offset
    /// where the whole network ends.
    fn parse_net_suffix(
        &mut self,
        end: usize,
        ipv4: bool,
    ) -> Result<(Option<NetSuffix>, usize), FilterError> {
        let max_prefix: u32 = if ipv4 { 32 } else { 128 };
        let Some(token) = self.peek() else {
            return Ok((None, end));
        };
        match token.kind {
            TokenKind::Slash => {
                self.pos += 1;
                let length_token = self.next_or_end(Expected::PrefixLength)?;
                let TokenKind::Value(text) = length_token.kind else {
                    return Err(self.unexpected(length_token, Expected::PrefixLength));
                };
                self.pos += 1;
                let prefix = self.parse_number(text, length_token)?;
                if prefix > max_prefix {
                    return Err(self.error(
                        length_token.span(),
                        FilterErrorKind::OutOfRange {
                            field: Field::PrefixLength,
                            value: text.into(),
                            max: max_prefix.into(),
                        },
                    ));
                }
                Ok((Some(NetSuffix::Prefix(prefix)), length_token.end))
            }
            TokenKind::Keyword(Keyword::Mask) => {
                if !ipv4 {
                    return Err(self.error(token.span(), FilterErrorKind::MaskNotIpv4));
                }
                self.pos += 1;
                let mask_token = self.next_or_end(Expected::Netmask)?;
                let TokenKind::Value(text) = mask_token.kind else {
                    return Err(self.unexpected(mask_token, Expected::Netmask));
                };
                self.pos += 1;
                let Some(IpAddr::V4(mask)) = parse_address(text) else {
                    return Err(self.error(
                        mask_token.span(),
                        FilterErrorKind::InvalidAddress { text: text.into() },
                    ));
                };
                Ok((Some(NetSuffix::Mask(u32::from(mask))), mask_token.end))
            }
            _ => Ok((None, end)),
        }
    }

    fn parse_port(
        &mut self,
        qualifiers: Qualifiers,
        value: &str,
        token: Token<'a>,
    ) -> Result<Parsed, FilterError> {
        let port = self.parse_port_value(value, token)?;
        let protocol = self.port_protocol(qualifiers.protocol, &[port], token)?;
        Ok(Parsed::leaf(Test::Port {
            direction: qualifiers.direction,
            protocol,
            first: port.number,
            last: port.number,
        }))
    }

    /// portrange FIRST-LAST, or a single port. Like libpcap, a reversed range
    /// is read in order (`portrange 30-20` is 20-30).
    fn parse_port_range(
        &mut self,
        qualifiers: Qualifiers,
        value: &str,
        token: Token<'a>,
    ) -> Result<Parsed, FilterError> {
        let invalid = || {
            self.error(
                token.span(),
                FilterErrorKind::InvalidPortRange { text: value.into() },
            )
        };
        let (first, last) = match value.split_once('-') {
            None => {
                let port = self.parse_port_value(value, token)?;
                (port, port)
            }
            Some((first, last)) => {
                if first.is_empty() || last.is_empty() || last.contains('-') {
                    return Err(invalid());
                }
                (
                    self.parse_port_value(first, token)?,
                    self.parse_port_value(last, token)?,
                )
            }
        };

        let protocol = self.port_protocol(qualifiers.protocol, &[first, last], token)?;
        Ok(Parsed::leaf(Test::Port {
            direction: qualifiers.direction,
            protocol,
            first: first.number.min(last.number),
            last: first.number.max(last.number),
        }))
    }

    /// Reads a port number or service name.
    fn parse_port_value(&self, value: &str, token: Token<'_>) -> Result<PortValue, FilterError> {
        if value.starts_with(|c: char| c.is_ascii_digit()) {
            let number = self.parse_number(value, token)?;
            let number = u16::try_from(number).map_err(|_| {
                self.error(
                    token.span(),
                    FilterErrorKind::OutOfRange {
                        field: Field::Port,
                        value: value.into(),
                        max: u16::MAX.into(),
                    },
                )
            })?;
            return Ok(PortValue {
                number,
                service: None,
            });
        }

        match names::service(value) {
            Some(service) => Ok(PortValue {
                number: service.port,
                service: Some(service),
            }),
            None if keyword_in_capitals(value).is_some() => {
                Err(self.error(token.span(), self.capitals_kind(value)))
            }
            None => Err(self.error(
                token.span(),
                FilterErrorKind::UnknownService { name: value.into() },
            )),
        }
    }

    /// Returns the transport protocol number a port test demands: the
    /// qualifier's, else the one transport that every named service in
    /// `ports` is registered for, else none (TCP or UDP).
    fn port_protocol(
        &self,
        qualifier: Option<ProtocolQualifier>,
        ports: &[PortValue],
        token: Token<'_>,
    ) -> Result<Option<u8>, FilterError> {
        if let Some(qualifier) = qualifier {
            let number = qualifier.port_protocol();
            for port in ports {
                let Some(service) = port.service else {
                    continue;
                };
                if let Some(transport) = service.transport
                    && Some(transport.protocol_number()) != number
                {
                    return Err(self.error(
                        token.span(),
                        FilterErrorKind::ServiceTransport {
                            name: service.name.into(),
                            port: service.port,
                            transport: transport_name(transport),
                            qualifier: qualifier.name(),
                        },
                    ));
                }
            }
            return Ok(number);
        }

        let mut transports = ports
            .iter()
            .map(|port| port.service.and_then(|service| service.transport));
        let first = transports.next().flatten();
        Ok(first
            .filter(|_| transports.all(|transport| transport == first))
            .map(Transport::protocol_number))
    }

    fn parse_protocol_value(
        &mut self,
        qualifiers: Qualifiers,
        value: &str,
        token: Token<'a>,
    ) -> Result<Parsed, FilterError> {
        let number = if value.starts_with(|c: char| c.is_ascii_digit()) {
            let number = self.parse_number(value, token)?;
            u8::try_from(number).map_err(|_| {
                self.error(
                    token.span(),
                    FilterErrorKind::OutOfRange {
                        field: Field::Protocol,
                        value: value.into(),
                        max: u8::MAX.into(),
                    },
                )
            })?
        } else if let Some(number) = names::protocol_number(value) {
            number
        } else if keyword_in_capitals(value).is_some() {
            return Err(self.error(token.span(), self.capitals_kind(value)));
        } else {
            return Err(self.error(
                token.span(),
                FilterErrorKind::UnknownProtocol { name: value.into() },
            ));
        };

        Ok(Parsed::leaf(Test::Protocol {
            version: qualifiers.protocol.and_then(ProtocolQualifier::ip_version),
            number,
        }))
    }

    /// vlan [ID]
    fn parse_vlan(&mut self, token: Token<'a>) -> Result<Term, FilterError> {
        self.pos += 1;
        let level = self.vlan_levels;
        if level >= MAX_VLAN_LEVELS {
            return Err(self.error(
                token.span(),
                FilterErrorKind::TooManyVlans {
                    max: MAX_VLAN_LEVELS,
                },
            ));
        }
        self.vlan_levels += 1;

        let id = match self.peek() {
            Some(
                id_token @ Token {
                    kind: TokenKind::Value(text),
                    ..
                },
            ) => {
                self.pos += 1;
                let id = self.parse_number(text, id_token)?;
                if id > MAX_VLAN_ID {
                    return Err(self.error(
                        id_token.span(),
                        FilterErrorKind::OutOfRange {
                            field: Field::VlanId,
                            value: text.into(),
                            max: MAX_VLAN_ID.into(),
                        },
                    ));
                }
                u16::try_from(id).ok()
            }
            _ => None,
        };
        let level = u8::try_from(level).unwrap_or(u8::MAX);
        Ok((Parsed::leaf(Test::Vlan { level, id }), None))
    }

    /// less N | greater N
    fn parse_length(&mut self, keyword: Keyword) -> Result<Term, FilterError> {
        self.pos += 1;
        let length_token = self.next_or_end(Expected::Number)?;
        let TokenKind::Value(text) = length_token.kind else {
            return Err(self.unexpected(length_token, Expected::Number));
        };
        self.pos += 1;

        let length = self.parse_number(text, length_token)?;
        let test = if keyword == Keyword::Less {
            Test::IpLenAtMost(length)
        } else {
            Test::IpLenAtLeast(length)
        };
        Ok((Parsed::leaf(test), None))
    }

    /// Reads an unsigned 32-bit number as libpcap does: `0x` hexadecimal,
    /// a leading `0` octal, otherwise decimal.
    fn parse_number(&self, text: &str, token: Token<'_>) -> Result<u32, FilterError> {
        let (digits, radix) =
            if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
                (hex, 16)
            } else if text.len() > 1
                && let Some(octal) = text.strip_prefix('0')
            {
                (octal, 8)
            } else {
                (text, 10)
            };

        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return Err(self.error(
                token.span(),
                FilterErrorKind::InvalidNumber { text: text.into() },
            ));
        }
        u32::from_str_radix(digits, radix).map_err(|_| {
            self.error(
                token.span(),
                FilterErrorKind::OutOfRange {
                    field: Field::Number,
                    value: text.into(),
                    max: u32::MAX.into(),
                },
            )
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NetSuffix {
    Prefix(u32),
    Mask(u32),
}

#[derive(Clone, Copy, Debug)]
struct PortValue {
    number: u16,
    /// The service entry when the port was given by name.
    service: Option<names::Service>,
}

fn transport_name(transport: Transport) -> &'static str {
    match transport {
        Transport::Tcp => "TCP",
        Transport::Udp => "UDP",
    }
}

/// Returns the keyword that `word` spells in capitals (`HOST`, `And`).
fn keyword_in_capitals(word: &str) -> Option<&'static str> {
    let lower = word.to_ascii_lowercase();
    if lower == word {
        return None;
    }
    Keyword::from_word(&lower).map(Keyword::as_str)
}

/// Parses a full IPv4 address (four decimal bytes) or an IPv6 address.
fn parse_address(text: &str) -> Option<IpAddr> {
    if text.contains(':') {
        return text.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    match parse_ipv4_prefix(text)? {
        (bits, 32) => Some(IpAddr::V4(Ipv4Addr::from(bits))),
        _ => None,
    }
}

/// Parses one to four dot-separated decimal bytes into the address they start
/// and the prefix length they cover (8 bits per byte). Leading zeros are
/// decimal, as in libpcap.
fn parse_ipv4_prefix(text: &str) -> Option<(u32, u32)> {
    let mut bits: u32 = 0;
    let mut count: u32 = 0;
    for part in text.split('.') {
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let byte: u8 = part.parse().ok()?;
        count += 1;
        if count > 4 {
            return None;
        }
        bits = (bits << 8) | u32::from(byte);
    }
    let prefix = count * 8;
    let bits = bits.checked_shl(32 - prefix).unwrap_or(0);
    Some((bits, prefix))
}

fn prefix_mask_v4(prefix: u32) -> u32 {
    u32::MAX.checked_shl(32 - prefix.min(32)).unwrap_or(0)
}

fn prefix_mask_v6(prefix: u32) -> u128 {
    u128::MAX.checked_shl(128 - prefix.min(128)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_prefix_forms() {
        assert_eq!(parse_ipv4_prefix("10"), Some((0x0a00_0000, 8)));
        assert_eq!(parse_ipv4_prefix("172.16"), Some((0xac10_0000, 16)));
        assert_eq!(parse_ipv4_prefix("192.168.1"), Some((0xc0a8_0100, 24)));
        assert_eq!(parse_ipv4_prefix("10.0.0.1"), Some((0x0a00_0001, 32)));
        assert_eq!(parse_ipv4_prefix("010.0.0.1"), Some((0x0a00_0001, 32)));
        assert_eq!(parse_ipv4_prefix("10.0.0.256"), None);
        assert_eq!(parse_ipv4_prefix("1.2.3.4.5"), None);
        assert_eq!(parse_ipv4_prefix("10..1"), None);
        assert_eq!(parse_ipv4_prefix("+1.2.3.4"), None);
    }

    #[test]
    fn prefix_masks() {
        assert_eq!(prefix_mask_v4(0), 0);
        assert_eq!(prefix_mask_v4(8), 0xff00_0000);
        assert_eq!(prefix_mask_v4(32), u32::MAX);
        assert_eq!(prefix_mask_v6(0), 0);
        assert_eq!(prefix_mask_v6(128), u128::MAX);
        assert_eq!(prefix_mask_v6(64), u128::MAX << 64);
    }

    #[test]
    fn full_addresses_only() {
        assert_eq!(
            parse_address("10.0.0.1"),
            Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
        );
        assert_eq!(parse_address("10.1"), None);
        assert!(parse_address("2001:db8::1").is_some());
        assert_eq!(parse_address("2001:db8::g"), None);
    }

    #[test]
    fn keyword_capitals() {
        assert_eq!(keyword_in_capitals("HOST"), Some("host"));
        assert_eq!(keyword_in_capitals("Port"), Some("port"));
        assert_eq!(keyword_in_capitals("host"), None);
        assert_eq!(keyword_in_capitals("MAIL"), None);
    }
}
