//! IPv4 and IPv6 fragment reassembly. The key is the one RFC 791 section 3.2
//! (source, destination, protocol, identification) and RFC 8200 section 4.5
//! (source, destination, identification) define.
//!
//! Overlaps: any fragment that overlaps another fragment of the same datagram
//! discards the whole datagram. RFC 5722 requires this for IPv6. exflow applies
//! it to IPv4 too, because hosts resolve IPv4 overlaps differently (the evasion
//! RFC 1858 describes), so no single reassembly is the one the receiver saw. An
//! exact duplicate (same offset and length) is ignored instead (RFC 5722 errata
//! 3089).
//!
//! Limits: a timeout by capture time, a cap on the bytes held, on the fragments
//! of one datagram and on the datagrams pending; each is a [`DecoderConfig`]
//! value and every drop is counted in [`FragmentStats`].

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use super::checksum;
use super::{DecoderConfig, FragmentStats};
use crate::capture::Timestamp;

/// The largest IP datagram (IPv4 total length) or IPv6 payload without a jumbo
/// option.
const MAX_DATAGRAM_LEN: usize = 65535;

/// The reassembly key of a fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum FragmentKey {
    V4 {
        src: [u8; 4],
        dst: [u8; 4],
        protocol: u8,
        id: u16,
    },
    V6 {
        src: [u8; 16],
        dst: [u8; 16],
        id: u32,
    },
}

impl FragmentKey {
    pub(super) fn new(src: IpAddr, dst: IpAddr, protocol: u8, id: u32) -> FragmentKey {
        match (src, dst) {
            (IpAddr::V6(src), IpAddr::V6(dst)) => FragmentKey::V6 {
                src: src.octets(),
                dst: dst.octets(),
                id,
            },
            (IpAddr::V4(src), IpAddr::V4(dst)) => FragmentKey::V4 {
                src: src.octets(),
                dst: dst.octets(),
                protocol,
                id: id as u16,
            },
            // An IP header's two addresses always share a version; this arm
            // keeps the function total.
            (src, dst) => FragmentKey::V6 {
                src: to_v6(src),
                dst: to_v6(dst),
                id,
            },
        }
    }
}

fn to_v6(address: IpAddr) -> [u8; 16] {
    match address {
        IpAddr::V4(address) => address.to_ipv6_mapped().octets(),
        IpAddr::V6(address) => address.octets(),
    }
}

/// One fragment as the decoder hands it over.
pub(super) struct Fragment<'a> {
    pub key: FragmentKey,
    /// Position of `data` in the datagram's fragmentable part, in bytes.
    pub offset: u32,
    pub more: bool,
    /// The IPv4 header, or the IPv6 header and the extension headers before the
    /// Fragment header; kept from the fragment at offset 0.
    pub header: &'a [u8],
    /// IPv6: position within `header` of the next-header byte that names the
    /// Fragment header, and the protocol the Fragment header names.
    pub ipv6_next_header: Option<(usize, u8)>,
    pub data: &'a [u8],
    pub bad_checksum: bool,
}

/// The result of storing a fragment.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Insert {
    Held,
    /// The datagram is complete: its bytes, from the IP header on.
    Complete {
        datagram: Vec<u8>,
        bad_checksum: bool,
    },
    /// The fragment was not kept; [`FragmentStats`] counts the reason.
    Dropped,
}

/// A datagram waiting for its fragments.
struct Pending {
    /// Capture time of its first fragment.
    first_seen: Timestamp,
    /// Arrival order, to evict the oldest datagram first.
    sequence: u64,
    /// Header part from the fragment at offset 0; empty until it arrives.
    header: Vec<u8>,
    ipv6_next_header: Option<(usize, u8)>,
    /// The fragmentable part, assembled at its offsets; holes are zeros.
    data: Vec<u8>,
    /// `[start, end)` of every fragment stored, never overlapping.
    ranges: Vec<(u32, u32)>,
    /// Bytes stored, the sum of the ranges' lengths.
    received: u32,
    /// Length of the fragmentable part, known once the last fragment arrived.
    total: Option<u32>,
    bad_checksum: bool,
}

impl Pending {
    fn memory(&self) -> usize {
        self.header.len() + self.data.len()
    }
}

/// Pending datagrams and the memory they hold.
#[derive(Default)]
pub(super) struct Reassembler {
    pending: HashMap<FragmentKey, Pending, ahash::RandomState>,
    /// Pending datagrams by arrival (sequence, key), oldest first, so that an
    /// eviction takes O(1) rather than a scan of every pending datagram (a
    /// flood of fragments evicts once per fragment). Entries of datagrams
    /// that left `pending` stay until they reach the front or a compaction.
    order: VecDeque<(u64, FragmentKey)>,
    memory: usize,
    next_sequence: u64,
    /// Earliest capture time at which a pending datagram times out.
    next_deadline: Option<Timestamp>,
}

impl Reassembler {
    /// Bytes held in reassembly buffers.
    pub(super) fn memory(&self) -> usize {
        self.memory
    }

    pub(super) fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Stores `fragment`, received at capture time `now`.
    pub(super) fn insert(
        &mut self,
        fragment: Fragment<'_>,
        now: Timestamp,
        config: &DecoderConfig,
        stats: &mut FragmentStats,
    ) -> Insert {
        let start = fragment.offset;
        let len = fragment.data.len() as u32;
        let end = start + len;

        // RFC 8200 section 4.5 (and RFC 791 by construction): every fragment but
        // the last carries a multiple of 8 bytes.
        if fragment.more && !len.is_multiple_of(8) {
            stats.invalid += 1;
            return Insert::Dropped;
        }
        // The reassembled datagram must fit the 16-bit length field: the IPv4
        // total length, or the IPv6 payload length after the fixed header.
        let fixed_len = match fragment.key {
            FragmentKey::V4 { .. } => 0,
            FragmentKey::V6 { .. } => 40,
        };
        if fragment.header.len() - fixed_len + end as usize > MAX_DATAGRAM_LEN {
            stats.too_large += 1;
            self.remove(&fragment.key);
            return Insert::Dropped;
        }

        if !self.pending.contains_key(&fragment.key) {
            if self.pending.len() >= config.max_pending_datagrams {
                stats.pending_cap += 1;
                if !self.evict_oldest(None) {
                    // A cap of zero: nothing can be held.
                    return Insert::Dropped;
                }
            }
            let sequence = self.next_sequence;
            self.next_sequence += 1;
            self.order.push_back((sequence, fragment.key));
            self.compact_order();
            self.pending.insert(
                fragment.key,
                Pending {
                    first_seen: now,
                    sequence,
                    header: Vec::new(),
                    ipv6_next_header: None,
                    data: Vec::new(),
                    ranges: Vec::new(),
                    received: 0,
                    total: None,
                    bad_checksum: false,
                },
            );
            let deadline = Timestamp(now.0.saturating_add(timeout_nanos(config)));
            self.next_deadline = Some(self.next_deadline.map_or(deadline, |d| d.min(deadline)));
        }
        let Some(entry) = self.pending.get_mut(&fragment.key) else {
            return Insert::Dropped;
        };

        // Duplicates and overlaps against every stored fragment.
        for &(stored_start, stored_end) in &entry.ranges {
            if stored_start == start && stored_end == end {
                stats.duplicates += 1;
                return Insert::Dropped;
            }
            if stored_start < end && start < stored_end {
                stats.overlapping += 1;
                self.remove(&fragment.key);
                return Insert::Dropped;
            }
        }
        // The last fragment fixes the length; nothing may lie beyond it.
        let beyond_end = match entry.total {
            Some(total) => end > total || (!fragment.more && end != total),
            None => !fragment.more && entry.ranges.iter().any(|&(_, e)| e > end),
        };
        if beyond_end {
            stats.invalid += 1;
            return Insert::Dropped;
        }
        if entry.ranges.len() >= config.max_fragments_per_datagram {
            stats.too_many_fragments += 1;
            self.remove(&fragment.key);
            return Insert::Dropped;
        }

        // Make room within the memory cap, oldest datagrams first.
        let growth = (end as usize).saturating_sub(entry.data.len())
            + if start == 0 { fragment.header.len() } else { 0 };
        while self.memory + growth > config.max_fragment_memory {
            if !self.evict_oldest(Some(&fragment.key)) {
                // This datagram alone is over the cap.
                stats.memory_cap += 1;
                self.remove(&fragment.key);
                return Insert::Dropped;
            }
            stats.memory_cap += 1;
        }
        let Some(entry) = self.pending.get_mut(&fragment.key) else {
            return Insert::Dropped;
        };

        // Store.
        if entry.data.len() < end as usize {
            entry.data.resize(end as usize, 0);
        }
        entry.data[start as usize..end as usize].copy_from_slice(fragment.data);
        if start == 0 {
            entry.header.extend_from_slice(fragment.header);
            entry.ipv6_next_header = fragment.ipv6_next_header;
        }
        if !fragment.more {
            entry.total = Some(end);
        }
        entry.ranges.push((start, end));
        entry.received += len;
        entry.bad_checksum |= fragment.bad_checksum;
        self.memory += growth;
        stats.held += 1;

        let complete = !entry.header.is_empty() && entry.total == Some(entry.received);
        if !complete {
            return Insert::Held;
        }
        let Some(entry) = self.remove(&fragment.key) else {
            return Insert::Held;
        };
        stats.reassembled += 1;
        Insert::Complete {
            bad_checksum: entry.bad_checksum,
            datagram: build_datagram(entry),
        }
    }

    /// Drops the datagrams whose first fragment arrived more than the timeout
    /// before `now`. Cheap when nothing is due.
    pub(super) fn expire(
        &mut self,
        now: Timestamp,
        config: &DecoderConfig,
        stats: &mut FragmentStats,
    ) {
        match self.next_deadline {
            Some(deadline) if now > deadline => {}
            _ => return,
        }
        let timeout = timeout_nanos(config);
        let mut next_deadline: Option<Timestamp> = None;
        let mut freed = 0;
        self.pending.retain(|_, entry| {
            if now.nanos_since(entry.first_seen) > timeout {
                stats.timed_out += 1;
                freed += entry.memory();
                false
            } else {
                let deadline = Timestamp(entry.first_seen.0.saturating_add(timeout));
                next_deadline = Some(next_deadline.map_or(deadline, |d| d.min(deadline)));
                true
            }
        });
        self.memory -= freed;
        self.next_deadline = next_deadline;
    }

    fn remove(&mut self, key: &FragmentKey) -> Option<Pending> {
        let entry = self.pending.remove(key)?;
        self.memory -= entry.memory();
        Some(entry)
    }

    /// Drops the oldest pending datagram other than `keep`; false when there is
    /// none.
    fn evict_oldest(&mut self, keep: Option<&FragmentKey>) -> bool {
        let mut kept = None;
        let mut evicted = false;
        while let Some((sequence, key)) = self.order.pop_front() {
            if !self.is_live(sequence, &key) {
                continue;
            }
            if Some(&key) == keep {
                kept = Some((sequence, key));
                continue;
            }
            evicted = self.remove(&key).is_some();
            break;
        }
        if let Some(entry) = kept {
            self.order.push_front(entry);
        }
        evicted
    }

    /// Returns whether an `order` entry still names a pending datagram (a datagram
    /// removed and started again under the same key has a new sequence).
    fn is_live(&self, sequence: u64, key: &FragmentKey) -> bool {
        self.pending
            .get(key)
            .is_some_and(|entry| entry.sequence == sequence)
    }

    /// Drops the entries of removed datagrams from `order` once they outnumber
    /// the live ones, so that its length stays within twice the pending
    /// datagrams (plus a little) at an amortised O(1) per datagram.
    fn compact_order(&mut self) {
        if self.order.len() <= 2 * self.pending.len() + 64 {
            return;
        }
        let pending = &self.pending;
        self.order.retain(|(sequence, key)| {
            pending
                .get(key)
                .is_some_and(|entry| entry.sequence == *sequence)
        });
    }
}

fn timeout_nanos(config: &DecoderConfig) -> i64 {
    i64::try_from(config.fragment_timeout.as_nanos()).unwrap_or(i64::MAX)
}

/// Joins the header part and the fragmentable part, with the length fields
/// set and the fragmentation fields cleared.
fn build_datagram(entry: Pending) -> Vec<u8> {
    let mut datagram = entry.header;
    datagram.extend_from_slice(&entry.data);
    match entry.ipv6_next_header {
        None => {
            // IPv4: total length, flags and offset (keeping DF), checksum.
            let total = datagram.len() as u16;
            datagram[2..4].copy_from_slice(&total.to_be_bytes());
            datagram[6] &= 0x40;
            datagram[7] = 0;
            datagram[10..12].copy_from_slice(&[0, 0]);
            let header_len = usize::from(datagram[0] & 0x0f) * 4;
            let sum = checksum::internet_checksum(&datagram[..header_len]);
            datagram[10..12].copy_from_slice(&sum.to_be_bytes());
        }
        Some((position, next_header)) => {
            // IPv6: the Fragment header is gone, so the header before it names
            // what the Fragment header named.
            let payload_length = (datagram.len() - 40) as u16;
            datagram[4..6].copy_from_slice(&payload_length.to_be_bytes());
            datagram[position] = next_header;
        }
    }
    datagram
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const SRC: [u8; 4] = [192, 0, 2, 1];
    const DST: [u8; 4] = [192, 0, 2, 2];

    fn key(id: u16) -> FragmentKey {
        FragmentKey::V4 {
            src: SRC,
            dst: DST,
            protocol: 17,
            id,
        }
    }

    fn header() -> Vec<u8> {
        let mut header = vec![0x45, 0, 0, 0, 0, 1, 0x20, 0, 64, 17, 0, 0];
        header.extend_from_slice(&SRC);
        header.extend_from_slice(&DST);
        header
    }

    fn fragment<'a>(
        id: u16,
        offset: u32,
        more: bool,
        header: &'a [u8],
        data: &'a [u8],
    ) -> Fragment<'a> {
        Fragment {
            key: key(id),
            offset,
            more,
            header,
            ipv6_next_header: None,
            data,
            bad_checksum: false,
        }
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_secs_nanos(secs, 0)
    }

    #[test]
    fn out_of_order_fragments_complete() {
        let config = DecoderConfig::default();
        let mut stats = FragmentStats::default();
        let mut reassembler = Reassembler::default();
        let header = header();
        let first: Vec<u8> = (0..16).collect();
        let last: Vec<u8> = (16..21).collect();

        let held = reassembler.insert(
            fragment(1, 16, false, &header, &last),
            at(0),
            &config,
            &mut stats,
        );
        assert_eq!(held, Insert::Held);
        let done = reassembler.insert(
            fragment(1, 0, true, &header, &first),
            at(0),
            &config,
            &mut stats,
        );
        let Insert::Complete {
            datagram,
            bad_checksum,
        } = done
        else {
            panic!("expected a complete datagram, got {done:?}");
        };
        assert!(!bad_checksum);
        assert_eq!(datagram.len(), 20 + 21);
        assert_eq!(&datagram[20..], &(0..21).collect::<Vec<u8>>()[..]);
        assert_eq!(u16::from_be_bytes([datagram[2], datagram[3]]), 41);
        assert_eq!(datagram[6] & 0x3f, 0);
        assert!(checksum::ipv4_header_ok(&datagram[..20]));
        assert_eq!(stats.reassembled, 1);
        assert_eq!(reassembler.memory(), 0);
        assert_eq!(reassembler.pending(), 0);
    }

    #[test]
    fn overlap_discards_datagram() {
        let config = DecoderConfig::default();
        let mut stats = FragmentStats::default();
        let mut reassembler = Reassembler::default();
        let header = header();
        let data = [0u8; 16];
        reassembler.insert(
            fragment(1, 0, true, &header, &data),
            at(0),
            &config,
            &mut stats,
        );
        let second = reassembler.insert(
            fragment(1, 8, true, &header, &data),
            at(0),
            &config,
            &mut stats,
        );
        assert_eq!(second, Insert::Dropped);
        assert_eq!(stats.overlapping, 1);
        assert_eq!(reassembler.pending(), 0);
        assert_eq!(reassembler.memory(), 0);
    }

    #[test]
    fn exact_duplicate_is_ignored() {
        let config = DecoderConfig::default();
        let mut stats = FragmentStats::default();
        let mut reassembler = Reassembler::default();
        let header = header();
        let data = [0u8; 16];
        reassembler.insert(
            fragment(1, 0, true, &header, &data),
            at(0),
            &config,
            &mut stats,
        );
        let second = reassembler.insert(
            fragment(1, 0, true, &header, &data),
            at(0),
            &config,
            &mut stats,
        );
        assert_eq!(second, Insert::Dropped);
        assert_eq!(stats.duplicates, 1);
        assert_eq!(reassembler.pending(), 1);
    }

    #[test]
    fn unaligned_middle_fragment_is_invalid() {
        let config = DecoderConfig::default();
        let mut stats = FragmentStats::default();
        let mut reassembler = Reassembler::default();
        let header = header();
        let data = [0u8; 12];
        let result = reassembler.insert(
            fragment(1, 0, true, &header, &data),
            at(0),
            &config,
            &mut stats,
        );
        assert_eq!(result, Insert::Dropped);
        assert_eq!(stats.invalid, 1);
    }

    #[test]
    fn datagram_over_65535_bytes_is_dropped() {
        let config = DecoderConfig::default();
        let mut stats = FragmentStats::default();
        let mut reassembler = Reassembler::default();
        let header = header();
        let data = [0u8; 24];
        let result = reassembler.insert(
            fragment(1, 65512, false, &header, &data),
            at(0),
            &config,
            &mut stats,
        );
        assert_eq!(result, Insert::Dropped);
        assert_eq!(stats.too_large, 1);
    }

    #[test]
    fn timeout_drops_by_capture_time() {
        let config = DecoderConfig {
            fragment_timeout: Duration::from_secs(30),
            ..DecoderConfig::default()
        };
        let mut stats = FragmentStats::default();
        let mut reassembler = Reassembler::default();
        let header = header();
        let data = [0u8; 16];
        reassembler.insert(
            fragment(1, 0, true, &header, &data),
            at(100),
            &config,
            &mut stats,
        );
        reassembler.insert(
            fragment(2, 0, true, &header, &data),
            at(120),
            &config,
            &mut stats,
        );
        reassembler.expire(at(130), &config, &mut stats);
        assert_eq!(stats.timed_out, 0);
        reassembler.expire(at(131), &config, &mut stats);
        assert_eq!(stats.timed_out, 1);
        assert_eq!(reassembler.pending(), 1);
        reassembler.expire(at(151), &config, &mut stats);
        assert_eq!(stats.timed_out, 2);
        assert_eq!(reassembler.memory(), 0);
    }

    #[test]
    fn memory_cap_evicts_oldest_first() {
        let config = DecoderConfig {
            max_fragment_memory: 100,
            ..DecoderConfig::default()
        };
        let mut stats = FragmentStats::default();
        let mut reassembler = Reassembler::default();
        let header = header();
        let data = [0u8; 24];
        // Each first fragment holds 20 + 24 bytes: two fit, the third evicts id 1.
        for id in 1..=3 {
            let result = reassembler.insert(
                fragment(id, 0, true, &header, &data),
                at(0),
                &config,
                &mut stats,
            );
            assert_eq!(result, Insert::Held);
        }
        assert_eq!(stats.memory_cap, 1);
        assert_eq!(reassembler.pending(), 2);
        assert!(reassembler.memory() <= 100);
        // Id 1 is gone: its last fragment alone cannot complete it.
        let last = reassembler.insert(
            fragment(1, 24, false, &header, &data),
            at(0),
            &config,
            &mut stats,
        );
        assert_eq!(last, Insert::Held);
        // Id 3 survived and completes.
        let last = reassembler.insert(
            fragment(3, 24, false, &header, &data),
            at(0),
            &config,
            &mut stats,
        );
        assert!(matches!(last, Insert::Complete { .. }));
    }

    #[test]
    fn pending_cap_evicts_oldest_first() {
        let config = DecoderConfig {
            max_pending_datagrams: 2,
            ..DecoderConfig::default()
        };
        let mut stats = FragmentStats::default();
        let mut reassembler = Reassembler::default();
        let header = header();
        let data = [0u8; 8];
        for id in 1..=3 {
            reassembler.insert(
                fragment(id, 0, true, &header, &data),
                at(0),
                &config,
                &mut stats,
            );
        }
        assert_eq!(stats.pending_cap, 1);
        assert_eq!(reassembler.pending(), 2);
        assert!(!reassembler.pending.contains_key(&key(1)));
    }

    #[test]
    fn eviction_order_stays_bounded() {
        // A flood of datagrams that never complete, mixed with datagrams that
        // do: evictions still take the oldest, and the arrival queue stays
        // little longer than the pending datagrams.
        let config = DecoderConfig {
            max_pending_datagrams: 8,
            ..DecoderConfig::default()
        };
        let mut stats = FragmentStats::default();
        let mut reassembler = Reassembler::default();
        let header = header();
        let data = [0u8; 8];
        for id in 0..20_000u16 {
            reassembler.insert(
                fragment(id, 0, true, &header, &data),
                at(0),
                &config,
                &mut stats,
            );
            if id % 3 == 0 {
                reassembler.insert(
                    fragment(id, 8, false, &header, &data),
                    at(0),
                    &config,
                    &mut stats,
                );
            }
            assert!(reassembler.order.len() <= 2 * 8 + 64 + 1);
        }
        assert_eq!(stats.reassembled, 6_667);
        assert_eq!(reassembler.pending(), 8);
        // The survivors are the newest datagrams that did not complete.
        for id in [19_999u16, 19_997, 19_996, 19_988] {
            assert!(reassembler.pending.contains_key(&key(id)), "{id}");
        }
        assert!(!reassembler.pending.contains_key(&key(19_987)));
        assert_eq!(stats.pending_cap, 20_000 - 6_667 - 8);
    }

    #[test]
    fn fragment_cap_drops_datagram() {
        let config = DecoderConfig {
            max_fragments_per_datagram: 3,
            ..DecoderConfig::default()
        };
        let mut stats = FragmentStats::default();
        let mut reassembler = Reassembler::default();
        let header = header();
        let data = [0u8; 8];
        for index in 0..4 {
            reassembler.insert(
                fragment(1, index * 8, true, &header, &data),
                at(0),
                &config,
                &mut stats,
            );
        }
        assert_eq!(stats.too_many_fragments, 1);
        assert_eq!(reassembler.pending(), 0);
    }

    /// Random fragments of one datagram, against a byte map of what arrived.
    #[test]
    fn random_fragments_match_model() {
        use proptest::prelude::*;
        use proptest::test_runner::TestRunner;

        let strategy = proptest::collection::vec((0u32..16, 1u32..4, any::<bool>()), 1..24);
        TestRunner::default()
            .run(&strategy, |pieces| {
                let config = DecoderConfig::default();
                let mut stats = FragmentStats::default();
                let mut reassembler = Reassembler::default();
                let header = header();
                let payload: Vec<u8> = (0..=255u8).cycle().take(20 * 8).collect();
                let total = 20 * 8;
                let mut model: Vec<Option<(u32, u32)>> = Vec::new();
                let mut discarded = false;
                for (block, blocks, last) in pieces {
                    let start = block * 8;
                    let end = if last {
                        total
                    } else {
                        (start + blocks * 8).min(total)
                    };
                    if start >= end {
                        continue;
                    }
                    let result = reassembler.insert(
                        fragment(
                            1,
                            start,
                            end != total,
                            &header,
                            &payload[start as usize..end as usize],
                        ),
                        at(0),
                        &config,
                        &mut stats,
                    );
                    if discarded {
                        // A new datagram starts after a discard; only check no panic.
                        continue;
                    }
                    let duplicate = model.iter().flatten().any(|&(s, e)| s == start && e == end);
                    let overlap =
                        !duplicate && model.iter().flatten().any(|&(s, e)| s < end && start < e);
                    if overlap {
                        prop_assert_eq!(result, Insert::Dropped);
                        discarded = true;
                        continue;
                    }
                    if duplicate {
                        prop_assert_eq!(result, Insert::Dropped);
                        continue;
                    }
                    model.push(Some((start, end)));
                    let covered: u32 = model.iter().flatten().map(|(s, e)| e - s).sum();
                    let has_last = model.iter().flatten().any(|&(_, e)| e == total);
                    let has_first = model.iter().flatten().any(|&(s, _)| s == 0);
                    if covered == total && has_last && has_first {
                        let Insert::Complete { datagram, .. } = result else {
                            return Err(TestCaseError::fail(format!(
                                "expected completion, got {result:?}"
                            )));
                        };
                        prop_assert_eq!(&datagram[20..], &payload[..]);
                        return Ok(());
                    }
                    prop_assert_eq!(result, Insert::Held);
                }
                Ok(())
            })
            .unwrap();
    }
}
