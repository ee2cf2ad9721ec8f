//! The compiled filter: per-packet tests in a flat vector, linked by jumps.
//!
//! Compilation turns the boolean tree into short-circuit code, as BPF does.
//! Each instruction runs one test and names the instruction (or the final
//! verdict) to continue with when the test is true and when it is false, so
//! `not` costs nothing: it swaps the two. Children are emitted before their
//! parents, so every jump goes to a lower index and evaluation ends after at
//! most one pass over the vector, without recursion or allocation.

use std::net::IpAddr;

use crate::decode::Packet;

/// The addresses or ports of a packet that a primitive tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Src,
    Dst,
    /// Either side matches; pcap's default.
    SrcOrDst,
    /// Both sides match.
    SrcAndDst,
}

impl Direction {
    fn select<T: Copy>(self, src: T, dst: T, test: impl Fn(T) -> bool) -> bool {
        match self {
            Direction::Src => test(src),
            Direction::Dst => test(dst),
            Direction::SrcOrDst => test(src) || test(dst),
            Direction::SrcAndDst => test(src) && test(dst),
        }
    }
}

/// One test on a decoded packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Test {
    /// `ip` (4) or `ip6` (6).
    IpVersion(u8),
    /// `proto N`, `tcp`, `udp`, ...: the transport protocol number, and the IP
    /// version when `ip` or `ip6` qualifies it.
    Protocol {
        version: Option<u8>,
        number: u8,
    },
    Host {
        direction: Direction,
        addr: IpAddr,
    },
    Net4 {
        direction: Direction,
        network: u32,
        mask: u32,
    },
    Net6 {
        direction: Direction,
        network: u128,
        mask: u128,
    },
    /// `port` and `portrange`: a port in `first..=last`, on the transport with
    /// protocol number `protocol`, or on TCP or UDP when `None`.
    Port {
        direction: Direction,
        protocol: Option<u8>,
        first: u16,
        last: u16,
    },
    /// The `level`-th `vlan` primitive of the expression looks at the packet's
    /// `level`-th VLAN tag (outermost first), as libpcap's offsets do.
    Vlan {
        level: u8,
        id: Option<u16>,
    },
    /// `less N`: IP length at most N.
    IpLenAtMost(u32),
    /// `greater N`: IP length at least N.
    IpLenAtLeast(u32),
}

impl Test {
    #[inline]
    fn matches(&self, packet: &Packet<'_>) -> bool {
        match *self {
            Test::IpVersion(version) => packet.ip_version == version,
            Test::Protocol { version, number } => {
                version.is_none_or(|version| packet.ip_version == version)
                    && packet.transport.protocol_number() == number
            }
            Test::Host { direction, addr } => {
                direction.select(packet.src, packet.dst, |side| side == addr)
            }
            Test::Net4 {
                direction,
                network,
                mask,
            } => direction.select(packet.src, packet.dst, |side| match side {
                IpAddr::V4(side) => u32::from(side) & mask == network,
                IpAddr::V6(_) => false,
            }),
            Test::Net6 {
                direction,
                network,
                mask,
            } => direction.select(packet.src, packet.dst, |side| match side {
                IpAddr::V6(side) => u128::from(side) & mask == network,
                IpAddr::V4(_) => false,
            }),
            Test::Port {
                direction,
                protocol,
                first,
                last,
            } => {
                protocol.is_none_or(|number| packet.transport.protocol_number() == number)
                    && direction.select(packet.src_port, packet.dst_port, |port| {
                        (first..=last).contains(&port)
                    })
            }
            Test::Vlan { level, id } => match packet.vlan.as_slice().get(usize::from(level)) {
                Some(&tag) => id.is_none_or(|id| tag == id),
                None => false,
            },
            Test::IpLenAtMost(length) => packet.ip_len <= length,
            Test::IpLenAtLeast(length) => packet.ip_len >= length,
        }
    }
}

/// A boolean tree of tests, as the parser builds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Node {
    Test(Test),
    Not(Box<Node>),
    /// True when every child is; an empty list is true.
    All(Vec<Node>),
    /// True when any child is; an empty list is false.
    Any(Vec<Node>),
}

/// The continuation after a test: the final verdict or another instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Jump {
    Accept,
    Reject,
    /// Index of the next instruction, always lower than the current one.
    To(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Instruction {
    test: Test,
    if_true: Jump,
    if_false: Jump,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Program {
    instructions: Vec<Instruction>,
    entry: Jump,
}

impl Program {
    pub(crate) fn compile(node: &Node) -> Program {
        let mut instructions = Vec::new();
        let entry = emit(node, Jump::Accept, Jump::Reject, &mut instructions);
        Program {
            instructions,
            entry,
        }
    }

    /// Returns the number of tests in the program.
    pub(crate) fn len(&self) -> usize {
        self.instructions.len()
    }

    pub(crate) fn matches(&self, packet: &Packet<'_>) -> bool {
        let mut next = self.entry;
        loop {
            match next {
                Jump::Accept => return true,
                Jump::Reject => return false,
                Jump::To(index) => {
                    // `compile` only creates jumps to instructions it has
                    // already pushed, so the lookup always succeeds.
                    let Some(instruction) = self.instructions.get(index as usize) else {
                        debug_assert!(false, "jump past the program");
                        return false;
                    };
                    next = if instruction.test.matches(packet) {
                        instruction.if_true
                    } else {
                        instruction.if_false
                    };
                }
            }
        }
    }
}

/// Emits the code for `node` that continues at `if_true` or `if_false`, and
/// returns where that code starts.
fn emit(node: &Node, if_true: Jump, if_false: Jump, instructions: &mut Vec<Instruction>) -> Jump {
    match node {
        Node::Test(test) => {
            // The parser caps the number of primitives far below u32::MAX.
            let index = u32::try_from(instructions.len()).unwrap_or(u32::MAX);
            instructions.push(Instruction {
                test: *test,
                if_true,
                if_false,
            });
            Jump::To(index)
        }
        Node::Not(inner) => emit(inner, if_false, if_true, instructions),
        Node::All(children) => children.iter().rev().fold(if_true, |next, child| {
            emit(child, next, if_false, instructions)
        }),
        Node::Any(children) => children.iter().rev().fold(if_false, |next, child| {
            emit(child, if_true, next, instructions)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_point_backwards() {
        let leaf = |version| Node::Test(Test::IpVersion(version));
        let node = Node::Any(vec![
            Node::All(vec![leaf(4), Node::Not(Box::new(leaf(6)))]),
            leaf(6),
        ]);
        let program = Program::compile(&node);
        assert_eq!(program.len(), 3);
        for (index, instruction) in program.instructions.iter().enumerate() {
            for jump in [instruction.if_true, instruction.if_false] {
                if let Jump::To(target) = jump {
                    assert!((target as usize) < index, "{index} -> {target}");
                }
            }
        }
    }

    #[test]
    fn empty_lists_are_constants() {
        assert_eq!(Program::compile(&Node::All(Vec::new())).entry, Jump::Accept);
        assert_eq!(Program::compile(&Node::Any(Vec::new())).entry, Jump::Reject);
        let negated = Node::Not(Box::new(Node::All(Vec::new())));
        assert_eq!(Program::compile(&negated).entry, Jump::Reject);
    }
}
