//! Reassembly of the first bytes of one direction of a TCP stream.
//!
//! A [`StreamReassembler`] keeps the stream's first `budget` bytes (16 KiB by
//! default) in one buffer. It tracks the sequence space of the whole stream with
//! a fixed-size set of ranges, so missed bytes are counted the same way inside
//! and past the budget, and after the buffer was freed.
//!
//! NOTE: a hole given up (for want of range slots, on a timeout or an ACK) stays
//! missed even if its bytes arrive later, so missed bytes can exceed the bytes
//! never seen.
//!
//! - Offsets are relative to the stream's first byte (the ISN + 1 after a SYN, or
//!   the first sequence number seen mid-stream) and 64-bit: sequence numbers are
//!   unwrapped around the current position, so a stream may cross 2^32.
//! - Out-of-order bytes are written at their offset in the buffer and their range
//!   is held until the hole before them fills. At most [`MAX_PENDING_RANGES`]
//!   disjoint ranges wait; the bytes they hold are bounded by the budget.
//! - Overlaps are resolved first-wins: bytes already held are kept, and a segment
//!   whose overlapping bytes differ is counted.
//! - A hole is given up (its bytes counted as missed, and the in-order prefix
//!   stops there) when the other side acknowledges bytes past it, when it has
//!   been open for the gap timeout, when a new range finds no free slot, or when
//!   the flow ends. Bytes acknowledged beyond the highest byte seen are missed too.
//! - A segment cut by the capture's snapshot length has its captured bytes
//!   stored; its lost tail is counted as missed at once and ends the prefix.

use crate::capture::Timestamp;

/// Disjoint ranges of sequence space that may wait beyond a hole, per direction.
pub const MAX_PENDING_RANGES: usize = 8;

/// The first allocation of a stream buffer; it then doubles up to the budget.
const MIN_BUFFER: usize = 1024;

/// Result of [`StreamReassembler::insert`] for one segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InsertOutcome {
    /// The in-order prefix grew.
    pub prefix_grew: bool,
    /// Bytes of the segment differed from bytes already held at the same offsets;
    /// the held bytes were kept.
    pub overlap_differs: bool,
    /// Payload bytes lay at or beyond the stream's FIN and were left out.
    pub after_fin: bool,
    /// Holes given up during the call.
    pub gaps: u32,
}

/// One direction of a TCP stream: its first bytes and the sequence space seen.
#[derive(Clone, Debug)]
pub struct StreamReassembler {
    /// Sequence number of offset 0, once known.
    base: Option<u32>,
    budget: usize,
    /// Bytes at offsets `0..data.len()`; valid below `prefix_limit` where the
    /// offset is below `contig` or inside a pending range.
    data: Vec<u8>,
    /// Ranges seen beyond `contig`, sorted and disjoint, with holes between them.
    pending: [(u64, u64); MAX_PENDING_RANGES],
    pending_len: usize,
    /// Every offset below `contig` was seen or given up.
    contig: u64,
    /// End of the highest range seen or given up.
    max_end: u64,
    /// The in-order prefix never reaches this offset (a hole was given up there,
    /// or a segment was cut short); `u64::MAX` when nothing limits it.
    prefix_limit: u64,
    /// Offset of the FIN: the stream ends there.
    fin: Option<u64>,
    missed: u64,
    /// When the first hole opened, while one is open.
    hole_since: Option<Timestamp>,
    /// `false` once the buffer was freed: only the counters run.
    buffering: bool,
    gap_reported: bool,
}

impl StreamReassembler {
    /// Creates a stream that keeps its first `budget` bytes.
    pub fn new(budget: usize) -> StreamReassembler {
        StreamReassembler {
            base: None,
            budget,
            data: Vec::new(),
            pending: [(0, 0); MAX_PENDING_RANGES],
            pending_len: 0,
            contig: 0,
            max_end: 0,
            prefix_limit: u64::MAX,
            fin: None,
            missed: 0,
            hole_since: None,
            buffering: true,
            gap_reported: false,
        }
    }

    pub fn base(&self) -> Option<u32> {
        self.base
    }

    /// Sets the sequence number of offset 0, unless a segment already set it.
    pub fn set_base(&mut self, base: u32) {
        if self.base.is_none() {
            self.base = Some(base);
        }
    }

    /// Restarts the stream at a new sequence number (several SYN-ACKs with
    /// different sequence numbers). The buffer is kept for reuse.
    pub fn rebase(&mut self, base: u32) {
        let mut data = std::mem::take(&mut self.data);
        data.clear();
        let buffering = self.buffering;
        let missed = self.missed;
        *self = StreamReassembler::new(self.budget);
        self.data = data;
        self.buffering = buffering;
        self.missed = missed;
        self.base = Some(base);
    }

    /// Ends the stream at the FIN with sequence number `fin_seq`.
    pub fn set_fin(&mut self, fin_seq: u32) {
        if self.fin.is_none() {
            let base = *self.base.get_or_insert(fin_seq);
            self.fin = Some(self.offset_of(base, fin_seq).max(0) as u64);
        }
    }

    /// Returns the in-order bytes so far, at most the budget.
    pub fn prefix(&self) -> &[u8] {
        &self.data[..self.prefix_len()]
    }

    fn prefix_len(&self) -> usize {
        let len = self
            .contig
            .min(self.prefix_limit)
            .min(self.budget as u64)
            .min(self.data.len() as u64);
        len as usize
    }

    /// Bytes lost in holes given up so far.
    pub fn missed(&self) -> u64 {
        self.missed
    }

    /// Offset after the highest byte seen or given up.
    pub fn max_end(&self) -> u64 {
        self.max_end
    }

    /// Returns the bytes allocated for the buffer.
    pub fn capacity(&self) -> usize {
        self.data.capacity()
    }

    /// Returns `true` once, when the in-order prefix can no longer grow below the
    /// budget because a hole was given up or a segment was cut short.
    pub fn take_gap_event(&mut self) -> bool {
        let stopped = self.prefix_limit < self.budget as u64 && self.contig >= self.prefix_limit;
        if stopped && !self.gap_reported && self.buffering {
            self.gap_reported = true;
            return true;
        }
        false
    }

    /// Frees the buffer; from then on only the counters run. Returns the bytes
    /// freed.
    pub fn release(&mut self) -> usize {
        let freed = self.data.capacity();
        self.data = Vec::new();
        self.buffering = false;
        freed
    }

    /// Returns the buffer capacity that a segment would need, at most the budget:
    /// the current capacity when the segment fits, else the next power of two.
    pub fn wanted_capacity(&self, seq: u32, wire_len: u32) -> usize {
        let capacity = self.data.capacity();
        if !self.buffering {
            return capacity;
        }
        let base = self.base.unwrap_or(seq);
        let end = self.offset_of(base, seq) + i64::from(wire_len);
        let limit = self.prefix_limit.min(self.budget as u64) as i64;
        let end = end.min(limit);
        if end <= capacity as i64 {
            return capacity;
        }
        (end as usize)
            .next_power_of_two()
            .max(MIN_BUFFER)
            .min(self.budget)
            .max(capacity)
    }

    /// Adds a segment: `payload` holds its captured bytes, `wire_len` its length
    /// on the wire. Bytes are stored below `store_limit` (at most the budget; the
    /// flow table lowers it when the memory cap is reached).
    pub fn insert(
        &mut self,
        seq: u32,
        payload: &[u8],
        wire_len: u32,
        ts: Timestamp,
        store_limit: usize,
    ) -> InsertOutcome {
        let mut outcome = InsertOutcome::default();
        if wire_len == 0 {
            return outcome;
        }
        let base = *self.base.get_or_insert(seq);
        let prefix_before = self.prefix_len();

        // The segment's offsets, clipped to the stream: bytes before the stream's
        // first byte are older than the flow, bytes at the FIN or later do not
        // belong to the stream.
        let start = self.offset_of(base, seq);
        let mut end = start + i64::from(wire_len);
        if let Some(fin) = self.fin
            && end > fin as i64
        {
            outcome.after_fin = true;
            end = fin as i64;
        }
        if end <= 0 || end <= start.max(0) {
            return outcome;
        }
        let first = start.max(0) as u64;
        let end = end as u64;
        let skip = (first as i64 - start) as usize;
        let captured = &payload[skip.min(payload.len())..];
        let captured_end = (first + captured.len() as u64).min(end);

        // A snapshot length that cut the segment leaves a tail nobody will
        // capture: the prefix stops there, and the tail is missed.
        if captured_end < end {
            self.limit_prefix(captured_end);
            if end > self.contig {
                self.missed += end - captured_end.max(self.contig);
            }
        }

        if self.buffering {
            let store_end = captured_end
                .min(store_limit.min(self.budget) as u64)
                .min(self.prefix_limit);
            if store_limit < self.budget && captured_end > store_limit as u64 {
                // The memory cap refused the bytes: the prefix cannot pass them.
                self.limit_prefix(store_limit as u64);
            }
            if first < store_end {
                let bytes = &captured[..(store_end - first) as usize];
                outcome.overlap_differs = self.store(first, bytes, store_limit);
            }
        }

        outcome.gaps += self.track(first, end);
        self.update_hole_clock(ts);
        outcome.prefix_grew = self.prefix_len() > prefix_before;
        outcome
    }

    /// Takes an acknowledgement from the other side: every byte below it reached
    /// the receiver, so a hole below it will not be filled by a retransmission.
    /// Returns the holes given up.
    pub fn on_peer_ack(&mut self, ack: u32, ts: Timestamp) -> u32 {
        let Some(base) = self.base else {
            return 0;
        };
        let mut acked = self.offset_of(base, ack);
        if let Some(fin) = self.fin {
            // The FIN takes one sequence number but carries no byte.
            acked = acked.min(fin as i64);
        }
        if acked <= self.contig as i64 || acked - self.contig as i64 > crate::flow::tcp::MAX_WINDOW
        {
            return 0;
        }
        let acked = acked as u64;

        let mut gaps = 0;
        while self.contig < acked {
            let next_seen = self.pending_front().map_or(u64::MAX, |(start, _)| start);
            let hole_end = acked.min(next_seen);
            if hole_end > self.contig {
                self.give_up_until(hole_end);
                gaps += 1;
            }
            self.merge_front();
        }
        self.max_end = self.max_end.max(self.contig);
        self.update_hole_clock(ts);
        gaps
    }

    /// Gives up the first hole when it has been open for `timeout_nanos` of
    /// capture time. Returns the holes given up.
    pub fn check_hole_timeout(&mut self, now: Timestamp, timeout_nanos: i64) -> u32 {
        let Some(since) = self.hole_since else {
            return 0;
        };
        if now.nanos_since(since) < timeout_nanos {
            return 0;
        }
        let gaps = self.give_up_first_hole();
        self.hole_since = None;
        self.update_hole_clock(now);
        gaps
    }

    /// Ends the stream: every hole still open is given up. Returns the holes given
    /// up.
    pub fn close(&mut self) -> u32 {
        let mut gaps = 0;
        while self.pending_len > 0 {
            gaps += self.give_up_first_hole();
        }
        self.hole_since = None;
        gaps
    }

    /// Unwraps `seq` to a signed offset around the current position `contig`.
    fn offset_of(&self, base: u32, seq: u32) -> i64 {
        let relative = seq.wrapping_sub(base);
        let distance = relative.wrapping_sub(self.contig as u32) as i32;
        self.contig as i64 + i64::from(distance)
    }

    fn limit_prefix(&mut self, offset: u64) {
        self.prefix_limit = self.prefix_limit.min(offset);
    }

    /// Writes `bytes` at offset `first` where nothing was seen, and compares them
    /// where something was. Returns `true` when a compared byte differed.
    fn store(&mut self, first: u64, bytes: &[u8], store_limit: usize) -> bool {
        let end = first + bytes.len() as u64;
        let mut differs = false;
        let mut position = first;
        while position < end {
            let (seen, run_end) = self.run_at(position, end);
            let from = (position - first) as usize;
            let to = (run_end - first) as usize;
            let held_end = (self.data.len() as u64).min(run_end);
            if seen && position < held_end {
                let held = &self.data[position as usize..held_end as usize];
                differs |= held != &bytes[from..from + held.len()];
            } else if !seen {
                self.write(position, &bytes[from..to], store_limit);
            }
            position = run_end;
        }
        differs
    }

    /// Returns whether `position` was seen, and where that run ends (at most
    /// `end`).
    fn run_at(&self, position: u64, end: u64) -> (bool, u64) {
        if position < self.contig {
            return (true, end.min(self.contig));
        }
        for &(start, stop) in &self.pending[..self.pending_len] {
            if position < start {
                return (false, end.min(start));
            }
            if position < stop {
                return (true, end.min(stop));
            }
        }
        (false, end)
    }

    fn write(&mut self, offset: u64, bytes: &[u8], store_limit: usize) {
        let offset = offset as usize;
        let needed = offset + bytes.len();
        if needed > self.data.capacity() {
            let target = needed.max(store_limit.min(self.budget));
            self.data.reserve_exact(target - self.data.len());
        }
        if needed > self.data.len() {
            self.data.resize(needed, 0);
        }
        self.data[offset..needed].copy_from_slice(bytes);
    }

    /// Marks `[first, end)` seen. Returns the holes given up to make room.
    fn track(&mut self, first: u64, end: u64) -> u32 {
        self.max_end = self.max_end.max(end);
        if end <= self.contig {
            return 0;
        }
        let first = first.max(self.contig);

        let mut gaps = 0;
        while !self.add_pending(first, end) {
            gaps += self.give_up_first_hole();
        }
        self.merge_front();
        gaps
    }

    /// Merges `[first, end)` into the pending ranges. Returns `false` when it
    /// needs a new slot and none is free.
    fn add_pending(&mut self, first: u64, end: u64) -> bool {
        let ranges = &mut self.pending[..self.pending_len];
        let lo = ranges.partition_point(|&(_, stop)| stop < first);
        let hi = ranges.partition_point(|&(start, _)| start <= end);
        if lo == hi {
            // Touches no range: a new slot at `lo`.
            if self.pending_len == MAX_PENDING_RANGES {
                return false;
            }
            self.pending.copy_within(lo..self.pending_len, lo + 1);
            self.pending[lo] = (first, end);
            self.pending_len += 1;
            return true;
        }

        // Ranges lo..hi touch the new one: merge them into slot lo.
        let merged = (
            first.min(self.pending[lo].0),
            end.max(self.pending[hi - 1].1),
        );
        self.pending[lo] = merged;
        self.pending.copy_within(hi..self.pending_len, lo + 1);
        self.pending_len -= hi - lo - 1;
        true
    }

    fn pending_front(&self) -> Option<(u64, u64)> {
        (self.pending_len > 0).then(|| self.pending[0])
    }

    /// Moves `contig` over pending ranges that now touch it.
    fn merge_front(&mut self) {
        while let Some((start, stop)) = self.pending_front() {
            if start > self.contig {
                break;
            }
            self.contig = self.contig.max(stop);
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        self.pending.copy_within(1..self.pending_len, 0);
        self.pending_len -= 1;
    }

    /// Gives up the hole before the first pending range and merges that range.
    fn give_up_first_hole(&mut self) -> u32 {
        let Some((start, _)) = self.pending_front() else {
            return 0;
        };
        let gaps = u32::from(start > self.contig);
        self.give_up_until(start);
        self.merge_front();
        gaps
    }

    /// Counts `[contig, offset)` as missed and moves past it.
    fn give_up_until(&mut self, offset: u64) {
        if offset <= self.contig {
            return;
        }
        self.missed += offset - self.contig;
        self.limit_prefix(self.contig);
        self.contig = offset;
    }

    fn update_hole_clock(&mut self, now: Timestamp) {
        if self.pending_len == 0 {
            self.hole_since = None;
        } else if self.hole_since.is_none() {
            self.hole_since = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: usize = 64;
    const T0: Timestamp = Timestamp(0);

    fn insert(stream: &mut StreamReassembler, seq: u32, bytes: &[u8]) -> InsertOutcome {
        stream.insert(seq, bytes, bytes.len() as u32, T0, BUDGET)
    }

    #[test]
    fn in_order_segments_join() {
        let mut stream = StreamReassembler::new(BUDGET);
        stream.set_base(1000);
        assert!(insert(&mut stream, 1000, b"EHLO ").prefix_grew);
        assert!(insert(&mut stream, 1005, b"mail").prefix_grew);
        assert_eq!(stream.prefix(), b"EHLO mail");
        assert_eq!(stream.missed(), 0);
    }

    #[test]
    fn out_of_order_placed_when_gap_fills() {
        let mut stream = StreamReassembler::new(BUDGET);
        stream.set_base(1000);
        assert!(!insert(&mut stream, 1005, b"mail").prefix_grew);
        assert_eq!(stream.prefix(), b"");
        assert!(insert(&mut stream, 1000, b"EHLO ").prefix_grew);
        assert_eq!(stream.prefix(), b"EHLO mail");
    }

    #[test]
    fn retransmission_deduplicated() {
        let mut stream = StreamReassembler::new(BUDGET);
        stream.set_base(1000);
        insert(&mut stream, 1000, b"EHLO ");
        let again = insert(&mut stream, 1000, b"EHLO ");
        assert!(!again.prefix_grew);
        assert!(!again.overlap_differs);
        assert_eq!(stream.prefix(), b"EHLO ");
    }

    #[test]
    fn overlap_first_wins_counted() {
        let mut stream = StreamReassembler::new(BUDGET);
        stream.set_base(1000);
        insert(&mut stream, 1000, b"EHLO ");
        let outcome = insert(&mut stream, 1003, b"XXmail");
        assert!(outcome.overlap_differs);
        assert_eq!(stream.prefix(), b"EHLO mail");
    }

    #[test]
    fn sequence_wraps_around() {
        let mut stream = StreamReassembler::new(BUDGET);
        stream.set_base(u32::MAX - 2);
        insert(&mut stream, u32::MAX - 2, b"abc");
        insert(&mut stream, 0, b"def");
        assert_eq!(stream.prefix(), b"abcdef");
    }

    #[test]
    fn budget_caps_prefix() {
        let mut stream = StreamReassembler::new(8);
        stream.set_base(0);
        stream.insert(0, b"0123456789abc", 13, T0, 8);
        assert_eq!(stream.prefix(), b"01234567");
        assert!(!stream.take_gap_event());
    }

    #[test]
    fn ack_past_hole_gives_up() {
        let mut stream = StreamReassembler::new(BUDGET);
        stream.set_base(0);
        insert(&mut stream, 0, b"abc");
        insert(&mut stream, 10, b"klm");
        assert_eq!(stream.on_peer_ack(13, T0), 1);
        assert_eq!(stream.missed(), 7);
        assert!(stream.take_gap_event());
        assert!(!stream.take_gap_event());
        assert_eq!(stream.prefix(), b"abc");
    }

    #[test]
    fn ack_beyond_seen_counts_missed() {
        let mut stream = StreamReassembler::new(BUDGET);
        stream.set_base(0);
        insert(&mut stream, 0, b"abc");
        stream.on_peer_ack(100, T0);
        assert_eq!(stream.missed(), 97);
        assert_eq!(stream.max_end(), 100);
    }

    #[test]
    fn ack_ignores_fin_sequence_number() {
        let mut stream = StreamReassembler::new(BUDGET);
        stream.set_base(0);
        insert(&mut stream, 0, b"abc");
        stream.set_fin(3);
        stream.on_peer_ack(4, T0);
        assert_eq!(stream.missed(), 0);
    }

    #[test]
    fn hole_timeout_gives_up() {
        let mut stream = StreamReassembler::new(BUDGET);
        stream.set_base(0);
        insert(&mut stream, 0, b"abc");
        stream.insert(5, b"fg", 2, Timestamp(1_000), BUDGET);
        assert_eq!(stream.check_hole_timeout(Timestamp(500), 1_000), 0);
        assert_eq!(stream.check_hole_timeout(Timestamp(2_000), 1_000), 1);
        assert_eq!(stream.missed(), 2);
        assert_eq!(stream.prefix(), b"abc");
    }

    #[test]
    fn too_many_ranges_give_up_first_hole() {
        let mut stream = StreamReassembler::new(BUDGET);
        stream.set_base(0);
        insert(&mut stream, 0, b"a");
        for range in 0..=MAX_PENDING_RANGES as u32 {
            insert(&mut stream, 2 + range * 2, b"x");
        }
        // The ninth range forced the first hole (offset 1) to be given up, which
        // joined the first pending range.
        assert_eq!(stream.missed(), 1);
        assert_eq!(stream.prefix(), b"a");
    }

    #[test]
    fn snaplen_cut_segment_missed() {
        let mut stream = StreamReassembler::new(BUDGET);
        stream.set_base(0);
        stream.insert(0, b"abcd", 10, T0, BUDGET);
        assert_eq!(stream.prefix(), b"abcd");
        assert_eq!(stream.missed(), 6);
        assert!(stream.take_gap_event());
        // The next segment is counted but cannot extend the prefix.
        insert(&mut stream, 10, b"zz");
        assert_eq!(stream.prefix(), b"abcd");
        assert_eq!(stream.missed(), 6);
    }

    #[test]
    fn data_after_fin_left_out() {
        let mut stream = StreamReassembler::new(BUDGET);
        stream.set_base(0);
        insert(&mut stream, 0, b"abc");
        stream.set_fin(3);
        let outcome = insert(&mut stream, 3, b"late");
        assert!(outcome.after_fin);
        assert_eq!(stream.prefix(), b"abc");
    }

    #[test]
    fn released_stream_still_counts_missed() {
        let mut stream = StreamReassembler::new(BUDGET);
        stream.set_base(0);
        insert(&mut stream, 0, b"abc");
        assert!(stream.release() > 0);
        insert(&mut stream, 10, b"klm");
        assert_eq!(stream.close(), 1);
        assert_eq!(stream.missed(), 7);
        assert_eq!(stream.capacity(), 0);
    }

    #[test]
    fn bytes_before_stream_start_ignored() {
        let mut stream = StreamReassembler::new(BUDGET);
        stream.set_base(100);
        let outcome = insert(&mut stream, 90, b"0123456789ab");
        assert!(outcome.prefix_grew);
        assert_eq!(stream.prefix(), b"ab");
    }
}
