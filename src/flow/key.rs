//! The flow key: a packet's 5-tuple in canonical order, so that both directions
//! of a flow map to the same key, and a symmetric hash to shard flows over
//! threads.

use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use crate::decode::{Packet, Transport, VlanIds};
use crate::fingerprint::Side;

/// The canonical 5-tuple of a flow: the lower (address, port) endpoint first.
///
/// IPv4 addresses are stored as their 32-bit value and told apart from IPv6 by
/// `ip_version`. VLAN ids are part of the key only when the table is configured
/// so; by default they are left out, so that a tag seen on one direction only
/// does not split a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowKey {
    lo_addr: u128,
    hi_addr: u128,
    lo_port: u16,
    hi_port: u16,
    transport: Transport,
    ip_version: u8,
    vlan: VlanIds,
}

/// Feeds the key to the hasher in four integers rather than one write per
/// field, because each write costs the flow table's hasher a round. Every
/// field goes in whole, so equal keys hash alike.
impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u128(self.lo_addr);
        state.write_u128(self.hi_addr);
        let ports = u64::from(self.lo_port)
            | u64::from(self.hi_port) << 16
            | (self.transport as u64) << 32
            | u64::from(self.ip_version) << 40;
        state.write_u64(ports);
        state.write_u64(self.vlan.to_bits());
    }
}

impl FlowKey {
    /// Builds the key of `pkt` and the side of the flow's lower endpoint that sent
    /// it: `true` when the sender is the lower (address, port) endpoint.
    pub fn from_packet(pkt: &Packet<'_>, vlan_in_key: bool) -> (FlowKey, bool) {
        let src = (addr_bits(pkt.src), pkt.src_port);
        let dst = (addr_bits(pkt.dst), pkt.dst_port);
        let sender_is_lo = src <= dst;
        let (lo, hi) = if sender_is_lo { (src, dst) } else { (dst, src) };
        let vlan = if vlan_in_key {
            pkt.vlan
        } else {
            VlanIds::default()
        };

        let key = FlowKey {
            lo_addr: lo.0,
            hi_addr: hi.0,
            lo_port: lo.1,
            hi_port: hi.1,
            transport: pkt.transport,
            // From the address family rather than `pkt.ip_version`, so that the
            // key always decodes back to the addresses it was built from.
            ip_version: if pkt.src.is_ipv4() { 4 } else { 6 },
            vlan,
        };
        (key, sender_is_lo)
    }

    pub fn transport(&self) -> Transport {
        self.transport
    }

    pub fn ip_version(&self) -> u8 {
        self.ip_version
    }

    /// Returns the (address, port) of the lower endpoint (`lo = true`) or the
    /// higher one.
    pub fn endpoint(&self, lo: bool) -> (IpAddr, u16) {
        let (bits, port) = if lo {
            (self.lo_addr, self.lo_port)
        } else {
            (self.hi_addr, self.hi_port)
        };
        let addr = if self.ip_version == 4 {
            // An IPv4 key holds a 32-bit value, so the cast keeps every bit.
            IpAddr::from(std::net::Ipv4Addr::from_bits(bits as u32))
        } else {
            IpAddr::from(std::net::Ipv6Addr::from_bits(bits))
        };
        (addr, port)
    }

    /// Returns the ports indexed by [`Side::index`], given which endpoint is the
    /// originator.
    pub(crate) fn ports_by_side(&self, originator_is_lo: bool) -> [u16; 2] {
        if originator_is_lo {
            [self.lo_port, self.hi_port]
        } else {
            [self.hi_port, self.lo_port]
        }
    }

    /// Returns the side that sent a packet, given the sender's endpoint and the
    /// originator's.
    pub(crate) fn side_of(sender_is_lo: bool, originator_is_lo: bool) -> Side {
        if sender_is_lo == originator_is_lo {
            Side::Originator
        } else {
            Side::Responder
        }
    }

    /// Returns a 64-bit hash of the key that is the same for both directions and
    /// on every platform and run, for sharding flows over threads.
    ///
    /// It is computed with fixed constants rather than the table's hasher, whose
    /// output may change between versions of the `ahash` crate or CPU features.
    pub fn flow_hash(&self) -> u64 {
        let vlan = self.vlan.as_slice();
        let vlan_word = vlan
            .iter()
            .fold(vlan.len() as u64, |word, &id| (word << 16) | u64::from(id));
        let words = [
            self.lo_addr as u64,
            (self.lo_addr >> 64) as u64,
            self.hi_addr as u64,
            (self.hi_addr >> 64) as u64,
            u64::from(self.lo_port)
                | u64::from(self.hi_port) << 16
                | u64::from(self.transport.protocol_number()) << 32
                | u64::from(self.ip_version) << 40,
            vlan_word,
        ];

        // A multiply-rotate fold, then the SplitMix64 finaliser to spread the bits.
        let mut hash: u64 = 0x243f_6a88_85a3_08d3;
        for word in words {
            hash = (hash ^ word)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .rotate_left(29);
        }
        hash ^= hash >> 30;
        hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        hash ^= hash >> 27;
        hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
        hash ^ (hash >> 31)
    }
}

/// Returns the symmetric 64-bit flow hash of a packet (VLAN ids left out), the
/// same for both directions of its flow.
pub fn packet_flow_hash(pkt: &Packet<'_>) -> u64 {
    FlowKey::from_packet(pkt, false).0.flow_hash()
}

fn addr_bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(v4) => u128::from(v4.to_bits()),
        IpAddr::V6(v6) => v6.to_bits(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::capture::Timestamp;
    use crate::decode::TcpInfo;

    /// Returns a TCP packet without payload between two endpoints.
    pub(crate) fn packet(
        src: &str,
        sport: u16,
        dst: &str,
        dport: u16,
        vlan: &[u16],
    ) -> Packet<'static> {
        let mut ids = VlanIds::default();
        for &id in vlan {
            ids.push(id);
        }
        let src: IpAddr = src.parse().unwrap();
        Packet {
            ts: Timestamp(0),
            input_clock: Timestamp(0),
            vlan: ids,
            ip_version: if src.is_ipv4() { 4 } else { 6 },
            src,
            dst: dst.parse().unwrap(),
            ip_len: 40,
            ip_id: 0,
            ttl: 64,
            transport: Transport::Tcp,
            src_port: sport,
            dst_port: dport,
            tcp: TcpInfo::default(),
            payload: &[],
            payload_len: 0,
            bad_checksum: false,
            transport_checksum_failed: false,
            transport_checksum: 0,
            offset: 0,
        }
    }

    #[test]
    fn key_same_both_directions() {
        let forward = packet("10.0.0.5", 51234, "10.0.0.1", 25, &[]);
        let reverse = packet("10.0.0.1", 25, "10.0.0.5", 51234, &[]);
        let (key_forward, forward_is_lo) = FlowKey::from_packet(&forward, false);
        let (key_reverse, reverse_is_lo) = FlowKey::from_packet(&reverse, false);

        assert_eq!(key_forward, key_reverse);
        assert_ne!(forward_is_lo, reverse_is_lo);
        assert_eq!(key_forward.flow_hash(), key_reverse.flow_hash());
    }

    #[test]
    fn key_vlan_left_out_by_default() {
        let tagged = packet("10.0.0.5", 51234, "10.0.0.1", 25, &[100]);
        let untagged = packet("10.0.0.1", 25, "10.0.0.5", 51234, &[]);

        assert_eq!(
            FlowKey::from_packet(&tagged, false).0,
            FlowKey::from_packet(&untagged, false).0
        );
        assert_ne!(
            FlowKey::from_packet(&tagged, true).0,
            FlowKey::from_packet(&untagged, true).0
        );
    }

    #[test]
    fn key_ipv4_and_mapped_ipv6_differ() {
        let v4 = packet("10.0.0.5", 1, "10.0.0.1", 2, &[]);
        let v6 = packet("::a00:5", 1, "::a00:1", 2, &[]);

        assert_ne!(
            FlowKey::from_packet(&v4, false).0,
            FlowKey::from_packet(&v6, false).0
        );
    }

    #[test]
    fn key_endpoints_round_trip() {
        let pkt = packet("2001:db8::2", 443, "2001:db8::1", 50000, &[]);
        let (key, sender_is_lo) = FlowKey::from_packet(&pkt, false);

        assert_eq!(key.endpoint(sender_is_lo), (pkt.src, 443));
        assert_eq!(key.endpoint(!sender_is_lo), (pkt.dst, 50000));
    }

    #[test]
    fn flow_hash_stable_value() {
        // The hash must not change between runs or builds: sharding and any
        // stored output depend on it. The value was computed once by this code.
        let pkt = packet("192.168.0.1", 59927, "10.10.10.1", 443, &[]);
        assert_eq!(packet_flow_hash(&pkt), 9_829_021_373_922_773_967);
        let other = packet("192.168.0.1", 59928, "10.10.10.1", 443, &[]);
        assert_ne!(packet_flow_hash(&pkt), packet_flow_hash(&other));
    }
}
