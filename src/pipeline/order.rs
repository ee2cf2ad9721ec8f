//! Output order without holding every flow of an input.
//!
//! Records are written sorted by [`flow_order`]: by the input clock at the
//! flow's first packet, then by start time, then by the place of that packet
//! in the input. The input clock is the latest capture time read so far
//! ([`Packet::input_clock`](crate::decode::Packet::input_clock)), so in a
//! capture whose times never go backwards this is start-time order, and the
//! output is the same for any number of threads.
//!
//! A finished flow can be written once no flow still to finish can sort
//! before it. That holds when its clock is below the *release bound*, the
//! lower of:
//!
//! - the earliest clock of a flow still open in a flow table ([`OpenStarts`]);
//! - the input clock of the frames read so far: a frame still to come cannot
//!   start a flow at an earlier clock.
//!
//! The frames still to come need no scan ahead, so a file is read once and
//! standard input streams its records like a file.
//!
//! [`Reorder`] keeps the flows above the bound in a heap. When the heap grows
//! past its cap, it writes them as a sorted run to a temporary file, so memory
//! stays bounded even when one long flow delays every flow that starts after it.
//! When a run cannot be written (no temporary folder, a full disk), the items
//! stay in memory, and so do all later ones: nothing is lost, but memory grows.
//! A run written but not read back stops the input with that error.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::path::PathBuf;

use crate::capture::Timestamp;
use crate::decode::Packet;
use crate::flow::{FinishedFlow, FlowTable};

/// The sort key of a flow in the output: the input clock at its first packet,
/// its start time, and the input offset of its first packet. No two flows of
/// an input share a first packet, so no two share a key.
pub type FlowOrder = (Timestamp, Timestamp, u64);

/// Returns the sort key of a flow in the output.
pub fn flow_order(flow: &FinishedFlow) -> FlowOrder {
    (flow.start_clock, flow.ts_start, flow.first_offset)
}

/// The start (input clock and first-packet offset) of every flow open in one
/// flow table, kept up to date from the packets the table took.
///
/// Flows are created in input order, and the input clock never goes back, so
/// a queue in creation order is sorted by clock. The queue is not searched
/// when a flow leaves the table. Its entry is dropped when it reaches the
/// front, or when entries of finished flows pile up behind one that stays
/// open. A `BTreeMap` of starts, updated on every finished flow, took about
/// 2% of a one-thread profile.
#[derive(Default)]
pub(super) struct OpenStarts {
    /// Flows in creation order, some of them finished.
    starts: VecDeque<OpenStart>,
    created: u64,
}

/// A flow's input clock, the offset of its first packet (which no other flow
/// of the input shares) and its slot in the table.
#[derive(Clone, Copy, Debug, PartialEq)]
struct OpenStart {
    clock: Timestamp,
    offset: u64,
    slot: u32,
}

/// Slack of the queue: it is compacted once its length passes twice the
/// open flows plus this number.
const MIN_COMPACT: usize = 64;

impl OpenStarts {
    /// Notes the flow `packet` created, if it created one.
    pub(super) fn after_packet(&mut self, table: &FlowTable, packet: &Packet<'_>) {
        let created = table.stats().flows_created;
        if created != self.created {
            self.created = created;
            let start = OpenStart {
                clock: packet.input_clock,
                offset: packet.offset,
                slot: table.last_created(),
            };
            self.push(start, table.len(), |open| {
                table.is_open(open.slot, open.offset)
            });
        }
    }

    /// Returns the earliest clock of a flow still in `table`, or the end of
    /// time.
    pub(super) fn earliest(&mut self, table: &FlowTable) -> Timestamp {
        self.earliest_with(|open| table.is_open(open.slot, open.offset))
    }

    fn push(&mut self, start: OpenStart, open_flows: usize, is_open: impl Fn(&OpenStart) -> bool) {
        debug_assert!(
            self.starts
                .back()
                .is_none_or(|last| last.clock <= start.clock)
        );
        self.starts.push_back(start);
        if self.starts.len() > 2 * open_flows + MIN_COMPACT {
            self.starts.retain(is_open);
        }
    }

    fn earliest_with(&mut self, is_open: impl Fn(&OpenStart) -> bool) -> Timestamp {
        while let Some(front) = self.starts.front() {
            if is_open(front) {
                return front.clock;
            }
            self.starts.pop_front();
        }
        Timestamp(i64::MAX)
    }
}

/// Turns items into bytes for a temporary file and back.
pub trait SpillCodec<T>: Sync {
    fn encode(&self, item: &T, out: &mut Vec<u8>);
    fn decode(&self, bytes: &[u8]) -> io::Result<T>;
}

/// An item waiting for its turn, ordered by key alone (keys are unique).
struct Pending<T> {
    key: FlowOrder,
    item: T,
}

impl<T> PartialEq for Pending<T> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl<T> Eq for Pending<T> {}

impl<T> PartialOrd for Pending<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Pending<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

/// A sorted run of items in a temporary file, and its first unread item.
struct Run<T> {
    reader: BufReader<File>,
    head: Option<Pending<T>>,
}

/// Items sorted by [`FlowOrder`] before they are written: in a heap, and past
/// the cap in sorted runs on disk.
pub(super) struct Reorder<'c, T> {
    heap: BinaryHeap<Reverse<Pending<T>>>,
    runs: Vec<Run<T>>,
    max_in_memory: usize,
    codec: Option<&'c dyn SpillCodec<T>>,
    buffer: Vec<u8>,
    /// The folder of the temporary files.
    temp_dir: PathBuf,
    /// The error of the first run that could not be written. No run is
    /// tried after it.
    spill_error: Option<io::Error>,
}

impl<'c, T> Reorder<'c, T> {
    /// Keeps at most `max_in_memory` items in memory when `codec` is given;
    /// without one, every item stays in memory.
    pub(super) fn new(max_in_memory: usize, codec: Option<&'c dyn SpillCodec<T>>) -> Self {
        Reorder {
            heap: BinaryHeap::new(),
            runs: Vec::new(),
            max_in_memory: max_in_memory.max(1),
            codec,
            buffer: Vec::new(),
            temp_dir: spill_dir(),
            spill_error: None,
        }
    }

    /// Adds an item, and writes the heap to a sorted run when it is full.
    /// A run that cannot be written leaves its items in the heap (see
    /// [`Reorder::take_spill_error`]).
    pub(super) fn push(&mut self, key: FlowOrder, item: T) {
        self.heap.push(Reverse(Pending { key, item }));
        if self.heap.len() >= self.max_in_memory
            && self.spill_error.is_none()
            && let Some(codec) = self.codec
            && let Err(error) = self.spill(codec)
        {
            log::debug!("writing a run of waiting items failed: {error}");
            self.spill_error = Some(error);
        }
    }

    /// Returns the error of the run that could not be written to a temporary
    /// file, after which every item stayed in memory.
    pub(super) fn take_spill_error(&mut self) -> Option<io::Error> {
        self.spill_error.take()
    }

    /// Passes to `emit`, in order, every item whose clock is before `bound`.
    pub(super) fn release(
        &mut self,
        bound: Timestamp,
        emit: &mut dyn FnMut(T) -> io::Result<()>,
    ) -> io::Result<()> {
        loop {
            let in_heap = self.heap.peek().map(|Reverse(pending)| &pending.key);
            let mut smallest_run = None;
            let mut smallest = in_heap;
            for (index, run) in self.runs.iter().enumerate() {
                if let Some(head) = &run.head
                    && smallest.is_none_or(|key| head.key < *key)
                {
                    smallest = Some(&head.key);
                    smallest_run = Some(index);
                }
            }
            match smallest {
                Some(key) if key.0 < bound => {}
                _ => return Ok(()),
            }
            let pending = match smallest_run {
                None => self.heap.pop().expect("the heap had the smallest").0,
                Some(index) => self.advance_run(index)?,
            };
            emit(pending.item)?;
        }
    }

    /// Passes every item left to `emit`, in order.
    pub(super) fn finish(&mut self, emit: &mut dyn FnMut(T) -> io::Result<()>) -> io::Result<()> {
        self.release(Timestamp(i64::MAX), emit)?;
        // An item that starts at the very end of time sorts last.
        let mut rest: Vec<Pending<T>> = self.heap.drain().map(|Reverse(pending)| pending).collect();
        for index in 0..self.runs.len() {
            while self.runs[index].head.is_some() {
                rest.push(self.advance_run(index)?);
            }
        }
        rest.sort();
        for pending in rest {
            emit(pending.item)?;
        }
        Ok(())
    }

    /// Returns how many runs went to temporary files.
    pub(super) fn runs_spilled(&self) -> usize {
        self.runs.len()
    }

    /// Writes the heap as a sorted run. On failure the items go back to the
    /// heap.
    fn spill(&mut self, codec: &dyn SpillCodec<T>) -> io::Result<()> {
        let file = tempfile::tempfile_in(&self.temp_dir)?;
        let mut items: Vec<Pending<T>> = std::mem::take(&mut self.heap)
            .into_iter()
            .map(|Reverse(pending)| pending)
            .collect();
        items.sort();
        match write_run(file, &items, codec, &mut self.buffer) {
            Ok(run) => {
                self.runs.push(run);
                Ok(())
            }
            Err(error) => {
                self.heap = items.into_iter().map(Reverse).collect();
                Err(error)
            }
        }
    }

    /// Takes the head of run `index` and reads the next one.
    fn advance_run(&mut self, index: usize) -> io::Result<Pending<T>> {
        let codec = self.codec.expect("runs exist only with a codec");
        let run = &mut self.runs[index];
        let next = read_pending(&mut run.reader, codec, &mut self.buffer)?;
        Ok(std::mem::replace(&mut run.head, next).expect("the run had a head"))
    }
}

/// Returns the folder of the temporary files: `TMPDIR`, or /tmp when it is
/// unset or empty. (`std::env::temp_dir` returns an empty `TMPDIR` as it is,
/// an empty path, which names the current folder.)
pub fn spill_dir() -> PathBuf {
    spill_dir_from(std::env::var_os("TMPDIR"))
}

/// Returns the folder of the temporary files for a `TMPDIR` of `tmpdir`.
fn spill_dir_from(tmpdir: Option<std::ffi::OsString>) -> PathBuf {
    match tmpdir {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from("/tmp"),
    }
}

/// Writes `items`, sorted, to `file` and reads the first back as the run's
/// head.
fn write_run<T>(
    file: File,
    items: &[Pending<T>],
    codec: &dyn SpillCodec<T>,
    buffer: &mut Vec<u8>,
) -> io::Result<Run<T>> {
    let mut writer = BufWriter::with_capacity(1 << 16, file);
    for pending in items {
        buffer.clear();
        encode_key(&pending.key, buffer);
        codec.encode(&pending.item, buffer);
        let len = u32::try_from(buffer.len()).map_err(io::Error::other)?;
        writer.write_all(&len.to_le_bytes())?;
        writer.write_all(buffer)?;
    }
    let mut file = writer.into_inner().map_err(|error| error.into_error())?;
    file.rewind()?;
    let mut run = Run {
        reader: BufReader::with_capacity(1 << 13, file),
        head: None,
    };
    run.head = read_pending(&mut run.reader, codec, buffer)?;
    Ok(run)
}

fn read_pending<T>(
    reader: &mut BufReader<File>,
    codec: &dyn SpillCodec<T>,
    buffer: &mut Vec<u8>,
) -> io::Result<Option<Pending<T>>> {
    let mut len = [0u8; 4];
    match reader.read_exact(&mut len) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error),
    }
    buffer.resize(u32::from_le_bytes(len) as usize, 0);
    reader.read_exact(buffer)?;
    let (key, rest) = decode_key(buffer)?;
    let item = codec.decode(rest)?;
    Ok(Some(Pending { key, item }))
}

/// Bytes of an encoded [`FlowOrder`].
const KEY_LEN: usize = 8 + 8 + 8;

fn encode_key(key: &FlowOrder, out: &mut Vec<u8>) {
    out.extend_from_slice(&key.0.0.to_le_bytes());
    out.extend_from_slice(&key.1.0.to_le_bytes());
    out.extend_from_slice(&key.2.to_le_bytes());
}

fn decode_key(bytes: &[u8]) -> io::Result<(FlowOrder, &[u8])> {
    let Some((key, rest)) = bytes.split_first_chunk::<KEY_LEN>() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "invalid spilled flow key",
        ));
    };
    let word = |at: usize| u64::from_le_bytes(key[at..at + 8].try_into().expect("8 bytes"));
    Ok((
        (
            Timestamp(word(0) as i64),
            Timestamp(word(8) as i64),
            word(16),
        ),
        rest,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Flows are created with clocks that never go back and leave in any
        /// order. The earliest clock is that of the oldest flow left, and the
        /// queue stays within its bound.
        #[test]
        fn open_starts_track_earliest(
            steps in prop::collection::vec((0u8..3, 0usize..64, 0i64..3), 1..600)
        ) {
            let mut open = OpenStarts::default();
            let mut live: Vec<OpenStart> = Vec::new();
            let mut clock = 0i64;
            for (offset, (action, pick, step)) in (0u64..).zip(steps) {
                if action < 2 || live.is_empty() {
                    clock += step;
                    let start = OpenStart {
                        clock: Timestamp(clock),
                        offset,
                        slot: pick as u32,
                    };
                    live.push(start);
                    open.push(start, live.len(), |entry| live.contains(entry));
                    prop_assert!(open.starts.len() <= 2 * live.len() + MIN_COMPACT);
                } else {
                    live.swap_remove(pick % live.len());
                }
                let oldest = live.iter().map(|entry| entry.clock).min();
                prop_assert_eq!(
                    open.earliest_with(|entry| live.contains(entry)),
                    oldest.unwrap_or(Timestamp(i64::MAX))
                );
            }
        }
    }

    struct Text;

    impl SpillCodec<String> for Text {
        fn encode(&self, item: &String, out: &mut Vec<u8>) {
            out.extend_from_slice(item.as_bytes());
        }

        fn decode(&self, bytes: &[u8]) -> io::Result<String> {
            String::from_utf8(bytes.to_vec()).map_err(io::Error::other)
        }
    }

    fn key(clock: i64, start: i64, offset: u64) -> FlowOrder {
        (Timestamp(clock), Timestamp(start), offset)
    }

    #[test]
    fn key_survives_encoding() {
        for original in [key(-5, -9, 80), key(9, i64::MIN, u64::MAX)] {
            let mut bytes = Vec::new();
            encode_key(&original, &mut bytes);
            bytes.push(0xaa);
            let (decoded, rest) = decode_key(&bytes).unwrap();
            assert_eq!(decoded, original);
            assert_eq!(rest, [0xaa]);
        }
    }

    #[test]
    fn spilled_runs_merge_in_order() {
        let codec = Text;
        let mut reorder = Reorder::new(3, Some(&codec as &dyn SpillCodec<String>));
        // Start times out of order, so that several runs overlap.
        let times = [50, 10, 40, 20, 60, 30, 0, 70, 15, 45];
        for ts in times {
            reorder.push(key(ts, ts - 3, 1000), ts.to_string());
        }
        assert!(reorder.runs_spilled() >= 3);

        let mut written = Vec::new();
        reorder
            .release(Timestamp(30), &mut |item| {
                written.push(item);
                Ok(())
            })
            .unwrap();
        assert_eq!(written, ["0", "10", "15", "20"]);

        reorder
            .finish(&mut |item| {
                written.push(item);
                Ok(())
            })
            .unwrap();
        let mut expected: Vec<i64> = times.to_vec();
        expected.sort();
        let expected: Vec<String> = expected.iter().map(i64::to_string).collect();
        assert_eq!(written, expected);
    }

    #[test]
    fn failed_spill_keeps_items_in_memory() {
        let codec = Text;
        let mut reorder = Reorder::new(2, Some(&codec as &dyn SpillCodec<String>));
        reorder.push(key(50, 50, 1), "50".into());
        reorder.push(key(10, 10, 2), "10".into());
        assert_eq!(reorder.runs_spilled(), 1);
        let dir = tempfile::tempdir().unwrap();
        reorder.temp_dir = dir.path().join("missing");

        let times = [40, 20, 60, 0, 30];
        for ts in times {
            reorder.push(key(ts, ts, 3), ts.to_string());
        }
        assert_eq!(reorder.runs_spilled(), 1);
        assert!(reorder.take_spill_error().is_some());

        let mut written = Vec::new();
        reorder
            .finish(&mut |item| {
                written.push(item);
                Ok(())
            })
            .unwrap();
        assert_eq!(written, ["0", "10", "20", "30", "40", "50", "60"]);
    }

    #[test]
    fn empty_tmpdir_means_tmp() {
        assert_eq!(spill_dir_from(None), PathBuf::from("/tmp"));
        assert_eq!(spill_dir_from(Some("".into())), PathBuf::from("/tmp"));
        assert_eq!(
            spill_dir_from(Some("/var/spool/x".into())),
            PathBuf::from("/var/spool/x")
        );
    }

    #[test]
    fn release_holds_items_at_bound() {
        let mut reorder: Reorder<'_, String> = Reorder::new(8, None);
        reorder.push(key(5, 9, 1), "a".into());
        reorder.push(key(7, 2, 1), "b".into());
        let mut written = Vec::new();
        reorder
            .release(Timestamp(7), &mut |item| {
                written.push(item);
                Ok(())
            })
            .unwrap();
        assert_eq!(written, ["a"]);
        assert_eq!(reorder.runs_spilled(), 0);
    }
}
