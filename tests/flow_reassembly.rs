//! Model tests of the stream reassembler: a random byte stream cut into random
//! segments, delivered in random order with duplicates and overlaps, against a
//! trivial model (a byte array and a bitmap of the offsets delivered).

use exflow::capture::Timestamp;
use exflow::flow::StreamReassembler;
use exflow::flow::reassembly::MAX_PENDING_RANGES;
use proptest::prelude::*;

/// A segment: its offset in the stream and its length.
type Cut = (usize, usize);

/// A stream, the budget, and up to `MAX_PENDING_RANGES` distinct segments: a
/// partition of the stream (some pieces possibly dropped) plus overlapping
/// extras. With that few distinct segments the reassembler never runs out of
/// range slots, so it gives up no hole and must match the model exactly.
fn stream_and_cuts() -> impl Strategy<Value = (Vec<u8>, usize, u32, Vec<Cut>)> {
    (1usize..3_000, 16usize..4_096, any::<u32>())
        .prop_flat_map(|(len, budget, base)| {
            let stream = proptest::collection::vec(any::<u8>(), len);
            let pieces = proptest::collection::btree_set(1..len.max(2), 0..5);
            let extras = proptest::collection::vec((0..len, 1..400usize), 0..3);
            let dropped = proptest::collection::vec(any::<u8>(), 8);
            (
                Just(len),
                Just(budget),
                Just(base),
                stream,
                pieces,
                extras,
                dropped,
            )
        })
        .prop_map(|(len, budget, base, stream, pieces, extras, dropped)| {
            let mut bounds: Vec<usize> = std::iter::once(0)
                .chain(pieces.into_iter().filter(|&cut| cut < len))
                .chain(std::iter::once(len))
                .collect();
            bounds.dedup();
            let mut cuts: Vec<Cut> = bounds
                .windows(2)
                .zip(&dropped)
                // Drop a piece one time in four.
                .filter(|(_, drop)| **drop >= 64 || len == 1)
                .map(|(pair, _)| (pair[0], pair[1] - pair[0]))
                .collect();
            for (start, extra_len) in extras {
                cuts.push((start, extra_len.min(len - start)));
            }
            cuts.truncate(MAX_PENDING_RANGES);
            (stream, budget, base, cuts)
        })
}

/// Delivery order: indices into the cuts, each at least once, some twice.
fn deliveries(count: usize) -> impl Strategy<Value = Vec<usize>> {
    let order = Just((0..count).collect::<Vec<_>>()).prop_shuffle();
    let repeats = proptest::collection::vec(0..count.max(1), 0..4);
    (order, repeats).prop_map(move |(mut order, repeats)| {
        if count > 0 {
            order.extend(repeats);
        }
        order
    })
}

/// The model: bytes delivered so far, first delivery wins.
struct Model {
    bytes: Vec<u8>,
    seen: Vec<bool>,
}

impl Model {
    fn new(len: usize) -> Model {
        Model {
            bytes: vec![0; len],
            seen: vec![false; len],
        }
    }

    /// Records a delivery; returns `true` when a byte below `budget` that was
    /// already delivered differs.
    fn deliver(&mut self, start: usize, bytes: &[u8], budget: usize) -> bool {
        let mut differs = false;
        for (i, &byte) in bytes.iter().enumerate() {
            let offset = start + i;
            if self.seen[offset] {
                differs |= offset < budget && self.bytes[offset] != byte;
            } else {
                self.seen[offset] = true;
                self.bytes[offset] = byte;
            }
        }
        differs
    }

    fn prefix(&self, budget: usize) -> &[u8] {
        let contiguous = self
            .seen
            .iter()
            .position(|&seen| !seen)
            .unwrap_or(self.seen.len());
        &self.bytes[..contiguous.min(budget)]
    }
}

fn insert(
    stream: &mut StreamReassembler,
    base: u32,
    start: usize,
    bytes: &[u8],
    budget: usize,
) -> bool {
    let seq = base.wrapping_add(start as u32);
    stream
        .insert(seq, bytes, bytes.len() as u32, Timestamp(0), budget)
        .overlap_differs
}

proptest! {
    #[test]
    fn reassembled_prefix_matches_model(
        (data, budget, base, cuts) in stream_and_cuts(),
        order in (0usize..=MAX_PENDING_RANGES).prop_flat_map(deliveries),
    ) {
        let mut stream = StreamReassembler::new(budget);
        stream.set_base(base);
        let mut model = Model::new(data.len());

        for &index in order.iter().filter(|&&index| index < cuts.len()) {
            let (start, len) = cuts[index];
            let bytes = &data[start..start + len];
            model.deliver(start, bytes, budget);
            prop_assert!(!insert(&mut stream, base, start, bytes, budget));
        }

        prop_assert_eq!(stream.prefix(), model.prefix(budget));
        prop_assert_eq!(stream.missed(), 0);
        prop_assert!(stream.capacity() <= budget);
    }

    #[test]
    fn differing_overlaps_first_wins(
        (data, budget, base, cuts) in stream_and_cuts(),
        order in (0usize..=MAX_PENDING_RANGES).prop_flat_map(deliveries),
        masks in proptest::collection::vec((any::<u8>(), 0usize..400), 12),
    ) {
        let mut stream = StreamReassembler::new(budget);
        stream.set_base(base);
        let mut model = Model::new(data.len());
        let mut expected_overlaps = 0;
        let mut counted_overlaps = 0;

        for (delivery, &index) in order.iter().filter(|&&index| index < cuts.len()).enumerate() {
            let (start, len) = cuts[index];
            // Each delivery may change one byte of its copy of the segment.
            let mut bytes = data[start..start + len].to_vec();
            let (mask, at) = masks[delivery % masks.len()];
            if let Some(byte) = bytes.get_mut(at) {
                *byte ^= mask;
            }
            expected_overlaps += u32::from(model.deliver(start, &bytes, budget));
            counted_overlaps += u32::from(insert(&mut stream, base, start, &bytes, budget));
        }

        prop_assert_eq!(stream.prefix(), model.prefix(budget));
        prop_assert_eq!(counted_overlaps, expected_overlaps);
    }

    #[test]
    fn many_segments_prefix_stays_true(
        data in proptest::collection::vec(any::<u8>(), 1..2_000),
        raw_cuts in proptest::collection::vec((any::<prop::sample::Index>(), 1usize..200), 1..40),
        budget in 16usize..4_096,
        base in any::<u32>(),
    ) {
        let mut stream = StreamReassembler::new(budget);
        stream.set_base(base);
        let mut model = Model::new(data.len());

        for (at, len) in raw_cuts {
            let start = at.index(data.len());
            let len = len.min(data.len() - start);
            model.deliver(start, &data[start..start + len], budget);
            insert(&mut stream, base, start, &data[start..start + len], budget);
        }
        let prefix_before_close = stream.prefix().to_vec();
        stream.close();

        // Whatever holes were given up, the prefix is the stream's true start.
        let prefix = stream.prefix();
        prop_assert_eq!(prefix, &data[..prefix.len()]);
        prop_assert_eq!(prefix, prefix_before_close.as_slice());
        prop_assert!(prefix.len() <= model.prefix(budget).len());
        if stream.missed() == 0 {
            prop_assert_eq!(prefix, model.prefix(budget));
        }
        // Every offset below the highest delivered that was never delivered is
        // missed. A hole given up for want of range slots stays missed even if
        // its bytes arrive later, so missed bytes may exceed the model's holes.
        let highest = model.seen.iter().rposition(|&seen| seen).map_or(0, |last| last + 1);
        let holes = model.seen[..highest].iter().filter(|&&seen| !seen).count() as u64;
        prop_assert!(stream.missed() >= holes, "missed {} < holes {}", stream.missed(), holes);
        prop_assert!(stream.missed() <= highest as u64);
    }
}
