//! Detection of duplicated frames: the same frame captured twice, as on a
//! loopback interface captured with `-i any` (the packet is seen leaving and
//! entering) or on a SPAN port that mirrors both directions of a switch port.
//!
//! A frame is a duplicate of one of the flow's last few frames when it comes from
//! the same side with the same IPv4 identification, TCP sequence and
//! acknowledgement numbers, flags, window, lengths and payload, less than the
//! duplicate window (default 2 ms) later. The payload enters through the TCP or
//! UDP checksum field as captured. Where the sender computed it, it covers
//! every payload byte and the TCP options, and it is the same in two copies
//! of one frame even when the snapshot length cut only one. A UDP datagram
//! adds its first 16 payload bytes, because a checksum alone is the same for
//! payloads whose 16-bit words are swapped, and UDP has no sequence number to
//! distinguish two datagrams of one length. A TCP segment leaves them out,
//! since TCP resends the same data under the same sequence number.
//!
//! A real TCP retransmission is not taken for a duplicate for two reasons. Most
//! IPv4 stacks give every datagram a new identification, so a retransmission
//! differs in `ip_id`. And a sender retransmits only after a retransmission
//! timeout (at least 1 s by RFC 6298 §2.4, 200 ms on Linux) or after duplicate
//! ACKs arrived, which takes a round trip, while the two copies of a duplicated
//! frame are microseconds apart.
//!
//! NOTE: IPv6 has no identification field, and IPv4 atomic datagrams may carry
//! the identification 0 (RFC 6864 §4.1). There only the time window and the
//! payload separate a duplicate from another segment. Only the checksums
//! distinguish two pure ACKs whose SACK blocks differ. When the sender left
//! the checksum to its network card, as in captures taken on the sending
//! host, the second such ACK within the window is left out of the counts.

use crate::capture::Timestamp;
use crate::decode::{Packet, Transport};
use crate::fingerprint::Side;

/// Frames remembered per flow.
const WINDOW_FRAMES: usize = 4;

/// Payload bytes that enter a frame's signature.
const SIGNATURE_PAYLOAD_BYTES: usize = 16;

/// The last few frames of a flow: each entry holds a 32-bit signature in its
/// high half and the capture time in microseconds, modulo 2^32, in its low half.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DuplicateWindow {
    entries: [u64; WINDOW_FRAMES],
    len: u8,
    next: u8,
}

impl DuplicateWindow {
    /// Returns `true` when a frame with this signature was recorded less than
    /// `window_us` microseconds before `ts`; otherwise records the frame.
    pub(crate) fn check_and_record(
        &mut self,
        signature: u32,
        ts: Timestamp,
        window_us: u32,
    ) -> bool {
        let now_us = micros_mod_2_32(ts);
        let recorded = &self.entries[..self.len as usize];
        let duplicate = recorded.iter().any(|&entry| {
            let entry_signature = (entry >> 32) as u32;
            let entry_us = entry as u32;
            // Wrapping subtraction: a timestamp that went backwards gives a large
            // difference and is never a duplicate.
            entry_signature == signature && now_us.wrapping_sub(entry_us) <= window_us
        });
        if duplicate {
            return true;
        }

        self.record(signature, now_us);
        false
    }

    fn record(&mut self, signature: u32, now_us: u32) {
        self.entries[self.next as usize] = (u64::from(signature) << 32) | u64::from(now_us);
        self.next = ((self.next as usize + 1) % WINDOW_FRAMES) as u8;
        if (self.len as usize) < WINDOW_FRAMES {
            self.len += 1;
        }
    }
}

/// Computes the signature of a frame sent by `side`.
///
/// Leaving out the payload bytes of a TCP segment also spares a worker thread
/// a read of memory that another core read last: with two threads, copying
/// the first bytes took about 2.5% of the samples.
pub(crate) fn frame_signature(side: Side, pkt: &Packet<'_>) -> u32 {
    let mut payload_word = [0u8; SIGNATURE_PAYLOAD_BYTES];
    if pkt.transport == Transport::Udp {
        let head = &pkt.payload[..pkt.payload.len().min(SIGNATURE_PAYLOAD_BYTES)];
        payload_word[..head.len()].copy_from_slice(head);
    }

    let words = [
        side.index() as u64 | u64::from(pkt.ip_id) << 8 | u64::from(pkt.tcp.flags.0) << 24,
        u64::from(pkt.tcp.seq) | u64::from(pkt.tcp.ack) << 32,
        u64::from(pkt.tcp.window) | u64::from(pkt.payload_len) << 16,
        u64::from(pkt.ip_len) | u64::from(pkt.transport_checksum) << 32,
        u64::from_le_bytes(payload_word[..8].try_into().unwrap_or_default()),
        u64::from_le_bytes(payload_word[8..].try_into().unwrap_or_default()),
    ];
    // A folded multiply: both halves of the 128-bit product enter the state.
    // A multiply-rotate that kept only the low half let some pairs of bit
    // flips in neighbouring words cancel out.
    let mut hash: u64 = 0x6a09_e667_f3bc_c908;
    for word in words {
        let product = u128::from(hash ^ word) * 0x9e37_79b9_7f4a_7c15;
        hash = (product as u64) ^ ((product >> 64) as u64);
    }
    (hash >> 32) as u32
}

fn micros_mod_2_32(ts: Timestamp) -> u32 {
    // Truncation is intended: only differences below the window matter.
    (ts.0.div_euclid(1_000)) as u32
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv6Addr};

    use super::*;
    use crate::decode::{TcpInfo, VlanIds};

    const WINDOW_US: u32 = 2_000;

    fn udp_packet(payload: &[u8]) -> Packet<'_> {
        Packet {
            ts: Timestamp(0),
            input_clock: Timestamp(0),
            vlan: VlanIds::default(),
            ip_version: 6,
            src: IpAddr::V6(Ipv6Addr::LOCALHOST),
            dst: IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip_len: 40 + 8 + payload.len() as u32,
            ip_id: 0,
            ttl: 64,
            transport: Transport::Udp,
            src_port: 5353,
            dst_port: 53,
            tcp: TcpInfo::default(),
            payload,
            payload_len: payload.len() as u32,
            bad_checksum: false,
            transport_checksum_failed: false,
            transport_checksum: 0x1234,
            offset: 0,
        }
    }

    #[test]
    fn signature_changes_with_any_bit_pair() {
        // Every one- and two-bit change of the first 16 payload bytes gives
        // another signature. The hash is fixed, so the check is exact.
        let original = [0x5au8; 16];
        let expected = frame_signature(Side::Originator, &udp_packet(&original));
        for first in 0..128 {
            for second in first..128 {
                let mut changed = original;
                changed[first / 8] ^= 1 << (first % 8);
                if second != first {
                    changed[second / 8] ^= 1 << (second % 8);
                }
                let signature = frame_signature(Side::Originator, &udp_packet(&changed));
                assert_ne!(signature, expected, "bits {first} and {second}");
            }
        }
    }

    #[test]
    fn same_signature_within_window_duplicate() {
        let mut window = DuplicateWindow::default();
        assert!(!window.check_and_record(7, Timestamp(1_000_000), WINDOW_US));
        assert!(window.check_and_record(7, Timestamp(1_050_000), WINDOW_US));
    }

    #[test]
    fn same_signature_after_window_not_duplicate() {
        let mut window = DuplicateWindow::default();
        assert!(!window.check_and_record(7, Timestamp(1_000_000), WINDOW_US));
        assert!(!window.check_and_record(7, Timestamp(201_000_000), WINDOW_US));
    }

    #[test]
    fn oldest_frame_forgotten() {
        let mut window = DuplicateWindow::default();
        for signature in 0..=WINDOW_FRAMES as u32 {
            assert!(!window.check_and_record(signature, Timestamp(0), WINDOW_US));
        }
        // Signature 0 was pushed out by the later frames.
        assert!(!window.check_and_record(0, Timestamp(0), WINDOW_US));
        assert!(window.check_and_record(WINDOW_FRAMES as u32, Timestamp(0), WINDOW_US));
    }

    #[test]
    fn earlier_timestamp_not_duplicate() {
        let mut window = DuplicateWindow::default();
        assert!(!window.check_and_record(7, Timestamp(5_000_000), WINDOW_US));
        assert!(!window.check_and_record(7, Timestamp(4_999_000), WINDOW_US));
    }
}
