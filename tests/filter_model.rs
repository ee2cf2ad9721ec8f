//! The compiled filter against a direct model of pcap-filter(7)'s rules:
//! random expressions over a few primitives, written with and without
//! parentheses and with bare values that repeat qualifiers, evaluated on random
//! packets. Also: no input makes the parser panic, and every error points
//! inside the expression.

use std::net::IpAddr;

use exflow::capture::Timestamp;
use exflow::decode::{Packet, TcpInfo, Transport, VlanIds};
use exflow::filter::Filter;
use exflow::i18n::Lang;
use proptest::prelude::*;

const ADDRESSES: &[&str] = &["10.0.0.1", "10.0.0.2", "2001:db8::1", "2001:db8::2"];
const PORTS: &[u16] = &[25, 53, 80, 1234];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    Src,
    Dst,
    Either,
}

impl Dir {
    fn keyword(self) -> &'static str {
        match self {
            Dir::Src => "src ",
            Dir::Dst => "dst ",
            Dir::Either => "",
        }
    }

    fn test<T: PartialEq>(self, src: T, dst: T, value: T) -> bool {
        match self {
            Dir::Src => src == value,
            Dir::Dst => dst == value,
            Dir::Either => src == value || dst == value,
        }
    }
}

/// A primitive the model evaluates directly.
#[derive(Clone, Debug)]
enum Primitive {
    Tcp,
    Udp,
    Ip,
    Ip6,
    Host(Dir, usize),
    Port(Dir, usize),
    Less(u32),
    Greater(u32),
}

impl Primitive {
    fn text(&self) -> String {
        match self {
            Primitive::Tcp => "tcp".into(),
            Primitive::Udp => "udp".into(),
            Primitive::Ip => "ip".into(),
            Primitive::Ip6 => "ip6".into(),
            Primitive::Host(dir, a) => format!("{}host {}", dir.keyword(), ADDRESSES[*a]),
            Primitive::Port(dir, p) => format!("{}port {}", dir.keyword(), PORTS[*p]),
            Primitive::Less(n) => format!("less {n}"),
            Primitive::Greater(n) => format!("greater {n}"),
        }
    }

    fn eval(&self, packet: &Packet<'_>) -> bool {
        match self {
            Primitive::Tcp => packet.transport == Transport::Tcp,
            Primitive::Udp => packet.transport == Transport::Udp,
            Primitive::Ip => packet.ip_version == 4,
            Primitive::Ip6 => packet.ip_version == 6,
            Primitive::Host(dir, a) => {
                let addr: IpAddr = ADDRESSES[*a].parse().unwrap();
                dir.test(packet.src, packet.dst, addr)
            }
            Primitive::Port(dir, p) => dir.test(packet.src_port, packet.dst_port, PORTS[*p]),
            Primitive::Less(n) => packet.ip_len <= *n,
            Primitive::Greater(n) => packet.ip_len >= *n,
        }
    }

    /// Returns the primitive that a bare value `index` after this one means,
    /// or `None` when this primitive leaves no qualifiers to repeat.
    fn repeated(&self, index: usize) -> Option<Primitive> {
        match self {
            Primitive::Host(dir, _) => Some(Primitive::Host(*dir, index % ADDRESSES.len())),
            Primitive::Port(dir, _) => Some(Primitive::Port(*dir, index % PORTS.len())),
            _ => None,
        }
    }

    fn bare_text(&self) -> String {
        match self {
            Primitive::Host(_, a) => ADDRESSES[*a].into(),
            Primitive::Port(_, p) => PORTS[*p].to_string(),
            _ => unreachable!("only host and port repeat"),
        }
    }
}

fn primitive() -> impl Strategy<Value = Primitive> {
    let dir = prop_oneof![Just(Dir::Src), Just(Dir::Dst), Just(Dir::Either)];
    prop_oneof![
        Just(Primitive::Tcp),
        Just(Primitive::Udp),
        Just(Primitive::Ip),
        Just(Primitive::Ip6),
        (dir.clone(), 0..ADDRESSES.len()).prop_map(|(d, a)| Primitive::Host(d, a)),
        (dir, 0..PORTS.len()).prop_map(|(d, p)| Primitive::Port(d, p)),
        (20u32..1600).prop_map(Primitive::Less),
        (20u32..1600).prop_map(Primitive::Greater),
    ]
}

/// A boolean tree, written with full parentheses.
#[derive(Clone, Debug)]
enum Tree {
    Leaf(Primitive),
    Not(Box<Tree>),
    And(Box<Tree>, Box<Tree>),
    Or(Box<Tree>, Box<Tree>),
}

impl Tree {
    fn text(&self) -> String {
        match self {
            Tree::Leaf(primitive) => primitive.text(),
            Tree::Not(inner) => format!("not {}", inner.text()),
            Tree::And(a, b) => format!("({} and {})", a.text(), b.text()),
            Tree::Or(a, b) => format!("({} || {})", a.text(), b.text()),
        }
    }

    fn eval(&self, packet: &Packet<'_>) -> bool {
        match self {
            Tree::Leaf(primitive) => primitive.eval(packet),
            Tree::Not(inner) => !inner.eval(packet),
            Tree::And(a, b) => a.eval(packet) && b.eval(packet),
            Tree::Or(a, b) => a.eval(packet) || b.eval(packet),
        }
    }
}

fn tree() -> impl Strategy<Value = Tree> {
    primitive()
        .prop_map(Tree::Leaf)
        .prop_recursive(6, 48, 2, |inner| {
            prop_oneof![
                inner.clone().prop_map(|t| Tree::Not(Box::new(t))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Tree::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner).prop_map(|(a, b)| Tree::Or(Box::new(a), Box::new(b))),
            ]
        })
}

/// One element of an unparenthesised chain: an optional `not` and either a
/// primitive or a bare value (an index into the table of the primitive it
/// repeats).
#[derive(Clone, Debug)]
struct Item {
    negated: bool,
    primitive: Primitive,
    bare: Option<usize>,
}

/// A chain `item op item op ...`, which pcap-filter(7) reads from left to
/// right with `and` and `or` at equal precedence.
#[derive(Clone, Debug)]
struct Chain {
    first: Item,
    rest: Vec<(bool, Item)>,
}

impl Chain {
    /// Returns the text and, for each item, the primitive it stands for once
    /// a bare value has taken the qualifiers of the last primitive before it.
    fn resolve(&self) -> (String, Vec<(bool, bool, Primitive)>) {
        let mut text = String::new();
        let mut resolved = Vec::new();
        let mut last: Option<Primitive> = None;

        let items =
            std::iter::once((true, &self.first)).chain(self.rest.iter().map(|(a, i)| (*a, i)));
        for (position, (is_and, item)) in items.enumerate() {
            if position > 0 {
                text.push_str(if is_and { " && " } else { " or " });
            }
            if item.negated {
                text.push_str("! ");
            }
            // The first item cannot repeat anything, and only host and port
            // leave qualifiers to repeat.
            let repeated = match (position, item.bare, &last) {
                (0, _, _) | (_, None, _) | (_, _, None) => None,
                (_, Some(index), Some(last)) => last.repeated(index),
            };
            let primitive = match repeated {
                Some(primitive) => {
                    text.push_str(&primitive.bare_text());
                    primitive
                }
                None => {
                    text.push_str(&item.primitive.text());
                    last = Some(item.primitive.clone());
                    item.primitive.clone()
                }
            };
            resolved.push((is_and, item.negated, primitive));
        }
        (text, resolved)
    }

    fn eval(resolved: &[(bool, bool, Primitive)], packet: &Packet<'_>) -> bool {
        let mut value = false;
        for (position, (is_and, negated, primitive)) in resolved.iter().enumerate() {
            let term = primitive.eval(packet) != *negated;
            value = if position == 0 {
                term
            } else if *is_and {
                value && term
            } else {
                value || term
            };
        }
        value
    }
}

fn item() -> impl Strategy<Value = Item> {
    (any::<bool>(), primitive(), prop::option::of(0usize..8)).prop_map(
        |(negated, primitive, bare)| Item {
            negated,
            primitive,
            bare,
        },
    )
}

fn chain() -> impl Strategy<Value = Chain> {
    (item(), prop::collection::vec((any::<bool>(), item()), 0..8))
        .prop_map(|(first, rest)| Chain { first, rest })
}

fn packet() -> impl Strategy<Value = Packet<'static>> {
    (
        any::<bool>(),
        any::<bool>(),
        0..2usize,
        0..2usize,
        0..PORTS.len(),
        0..PORTS.len(),
        20u32..1600,
    )
        .prop_map(|(ipv6, tcp, src, dst, src_port, dst_port, ip_len)| {
            let pick = |index: usize| -> IpAddr {
                ADDRESSES[index + if ipv6 { 2 } else { 0 }].parse().unwrap()
            };
            Packet {
                ts: Timestamp(0),
                input_clock: Timestamp(0),
                vlan: VlanIds::default(),
                ip_version: if ipv6 { 6 } else { 4 },
                src: pick(src),
                dst: pick(dst),
                ip_len,
                ip_id: 0,
                ttl: 64,
                transport: if tcp { Transport::Tcp } else { Transport::Udp },
                src_port: PORTS[src_port],
                dst_port: PORTS[dst_port],
                tcp: TcpInfo::default(),
                payload: &[],
                payload_len: 0,
                bad_checksum: false,
                transport_checksum_failed: false,
                transport_checksum: 0,
                offset: 0,
            }
        })
}

fn compile(expression: &str) -> Filter {
    Filter::parse(expression)
        .unwrap_or_else(|error| panic!("{}", error.render(expression, Lang::En)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parenthesised_tree_matches_model(tree in tree(), packets in prop::collection::vec(packet(), 16)) {
        let expression = tree.text();
        let filter = compile(&expression);
        for packet in &packets {
            prop_assert_eq!(filter.matches(packet), tree.eval(packet), "`{}` on {:?}", expression, packet);
        }
    }

    #[test]
    fn chain_reads_left_to_right(chain in chain(), packets in prop::collection::vec(packet(), 16)) {
        let (expression, resolved) = chain.resolve();
        let filter = compile(&expression);
        for packet in &packets {
            prop_assert_eq!(
                filter.matches(packet),
                Chain::eval(&resolved, packet),
                "`{}` on {:?}", expression, packet
            );
        }
    }

    #[test]
    fn arbitrary_text_never_panics(expression in "\\PC{0,80}") {
        check_no_panic(&expression);
    }

    #[test]
    fn keyword_soup_never_panics(words in prop::collection::vec(prop::sample::select(vec![
        "host", "net", "port", "portrange", "proto", "src", "dst", "and", "or", "not", "!",
        "&&", "||", "(", ")", "/", "mask", "ip", "ip6", "tcp", "udp", "icmp", "vlan", "less",
        "greater", "10.0.0.1", "10.0.0.0", "8", "24", "255.0.0.0", "2001:db8::", "25", "smtp",
        "1-1024", "0x10", "08", "gateway", "[", "\\tcp", "HOST", "ether",
    ]), 0..14)) {
        check_no_panic(&words.join(" "));
    }
}

fn check_no_panic(expression: &str) {
    match Filter::parse(expression) {
        Ok(filter) => {
            assert_eq!(filter.expression(), expression);
        }
        Err(error) => {
            let span = error.span();
            assert!(
                span.start <= span.end && span.end <= expression.len(),
                "{error:?}"
            );
            assert!(expression.is_char_boundary(span.start), "{error:?}");
            assert!(error.column() >= 1, "{error:?}");
            assert!(
                error.column() <= expression.chars().count() + 1,
                "{error:?}"
            );
            let rendered = error.render(expression, Lang::Ja);
            assert!(rendered.contains('^'));
        }
    }
}
