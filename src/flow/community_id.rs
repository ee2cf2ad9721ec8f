//! Community ID v1: a flow hash that other tools (Zeek, Suricata, Wireshark)
//! compute the same way, so records can be joined across tools.
//!
//! Specification: <https://github.com/corelight/community-id-spec>. For TCP and
//! UDP the hashed bytes are, in network byte order: the 16-bit seed, the source
//! address, the destination address, the IP protocol number, one zero byte of
//! padding, the source port and the destination port, where "source" is the
//! endpoint with the smaller address (the smaller port when the addresses are
//! equal). The SHA-1 digest is encoded in standard base64 with padding and
//! prefixed with the version, `1:`.

use std::net::{IpAddr, SocketAddr};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest, Sha1};

use crate::decode::Transport;

/// Returns the Community ID v1 with seed 0 of a TCP or UDP flow between `a` and
/// `b`, in either order.
pub fn community_id_v1(transport: Transport, a: SocketAddr, b: SocketAddr) -> String {
    community_id_v1_seeded(0, transport, a, b)
}

/// Returns the Community ID v1 of a TCP or UDP flow with the given seed.
///
/// `a` and `b` should be of the same address family; a mixed pair is hashed as
/// given (the IPv4 address as 4 bytes, the IPv6 one as 16), which no other
/// implementation defines.
pub fn community_id_v1_seeded(
    seed: u16,
    transport: Transport,
    a: SocketAddr,
    b: SocketAddr,
) -> String {
    let mut id = String::with_capacity(COMMUNITY_ID_LEN);
    id.push_str("1:");
    STANDARD.encode_string(community_id_v1_digest(seed, transport, a, b), &mut id);
    id
}

/// Length of a Community ID v1: `1:` and 28 base64 characters.
pub const COMMUNITY_ID_LEN: usize = 30;

/// Appends the Community ID v1 with seed 0 of a flow between `a` and `b` to
/// `out`, without allocating.
pub fn write_community_id_v1(
    out: &mut Vec<u8>,
    transport: Transport,
    a: SocketAddr,
    b: SocketAddr,
) {
    let mut id = [0u8; COMMUNITY_ID_LEN];
    id[..2].copy_from_slice(b"1:");
    let written = STANDARD
        .encode_slice(community_id_v1_digest(0, transport, a, b), &mut id[2..])
        .expect("28 bytes hold the base64 of a 20-byte digest");
    out.extend_from_slice(&id[..2 + written]);
}

/// Returns the SHA-1 digest that a Community ID v1 encodes.
fn community_id_v1_digest(
    seed: u16,
    transport: Transport,
    a: SocketAddr,
    b: SocketAddr,
) -> [u8; 20] {
    let (src, dst) = if endpoint_order(a, b) { (a, b) } else { (b, a) };

    let mut hasher = Sha1::new();
    hasher.update(seed.to_be_bytes());
    update_addr(&mut hasher, src.ip());
    update_addr(&mut hasher, dst.ip());
    hasher.update([transport.protocol_number(), 0]);
    hasher.update(src.port().to_be_bytes());
    hasher.update(dst.port().to_be_bytes());
    hasher.finalize().into()
}

/// Returns `true` when `a` comes first: its address bytes are smaller, or the
/// addresses are equal and its port is not larger.
fn endpoint_order(a: SocketAddr, b: SocketAddr) -> bool {
    let (a_ip, b_ip) = (addr_octets(a.ip()), addr_octets(b.ip()));
    match a_ip.as_slice().cmp(b_ip.as_slice()) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Greater => false,
        std::cmp::Ordering::Equal => a.port() <= b.port(),
    }
}

fn update_addr(hasher: &mut Sha1, addr: IpAddr) {
    match addr {
        IpAddr::V4(v4) => hasher.update(v4.octets()),
        IpAddr::V6(v6) => hasher.update(v6.octets()),
    }
}

/// Returns the address bytes in network order, as a fixed array and its length.
fn addr_octets(addr: IpAddr) -> Octets {
    match addr {
        IpAddr::V4(v4) => {
            let mut bytes = [0; 16];
            bytes[..4].copy_from_slice(&v4.octets());
            Octets { bytes, len: 4 }
        }
        IpAddr::V6(v6) => Octets {
            bytes: v6.octets(),
            len: 16,
        },
    }
}

struct Octets {
    bytes: [u8; 16],
    len: usize,
}

impl Octets {
    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    /// The TCP and UDP rows of the specification's baseline files
    /// (`baseline/baseline_deflt.json` and `baseline/baseline_seed1.json` in
    /// corelight/community-id-spec at commit c4ec2bc4): seed, protocol, source,
    /// destination, expected ID. Each flow is listed in both directions there.
    const SPEC_BASELINE: [(u16, Transport, &str, &str, &str); 6] = [
        (
            0,
            Transport::Tcp,
            "[2001:470:e5bf:dead:4957:2174:e82c:4887]:63943",
            "[2607:f8b0:400c:c03::1a]:25",
            "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=",
        ),
        (
            0,
            Transport::Tcp,
            "128.232.110.120:34855",
            "66.35.250.204:80",
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
        ),
        (
            0,
            Transport::Udp,
            "192.168.1.52:54585",
            "8.8.8.8:53",
            "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
        ),
        (
            1,
            Transport::Tcp,
            "[2001:470:e5bf:dead:4957:2174:e82c:4887]:63943",
            "[2607:f8b0:400c:c03::1a]:25",
            "1:eJYTW6AOzFLlSUoESovMjnu7rMw=",
        ),
        (
            1,
            Transport::Tcp,
            "128.232.110.120:34855",
            "66.35.250.204:80",
            "1:3V71V58M3Ksw/yuFALMcW0LAHvc=",
        ),
        (
            1,
            Transport::Udp,
            "192.168.1.52:54585",
            "8.8.8.8:53",
            "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=",
        ),
    ];

    #[test]
    fn spec_baseline_both_directions() {
        for (seed, transport, src, dst, expected) in SPEC_BASELINE {
            let (src, dst) = (addr(src), addr(dst));
            assert_eq!(
                community_id_v1_seeded(seed, transport, src, dst),
                expected,
                "{src} -> {dst} seed {seed}"
            );
            assert_eq!(
                community_id_v1_seeded(seed, transport, dst, src),
                expected,
                "{dst} -> {src} seed {seed}"
            );
        }
    }

    #[test]
    fn seed_zero_is_default() {
        let (src, dst) = (addr("192.168.1.52:54585"), addr("8.8.8.8:53"));
        assert_eq!(
            community_id_v1(Transport::Udp, src, dst),
            community_id_v1_seeded(0, Transport::Udp, src, dst)
        );
    }

    #[test]
    fn same_address_orders_by_port() {
        // Expected value from the Python package communityid 1.5.0.
        let low_first = community_id_v1(
            Transport::Udp,
            addr("127.0.0.1:53"),
            addr("127.0.0.1:40000"),
        );
        let high_first = community_id_v1(
            Transport::Udp,
            addr("127.0.0.1:40000"),
            addr("127.0.0.1:53"),
        );
        assert_eq!(low_first, "1:gir0IfrzfLF5jsdNt5PFAnifXH0=");
        assert_eq!(high_first, low_first);
    }
}
