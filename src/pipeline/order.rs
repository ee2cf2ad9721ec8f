//! Output order without holding every flow of an input.
//!
//! Records are written sorted by [`flow_order`] (start time first), so that
//! the output is the same for any number of threads. A finished flow can be
//! written once no flow still to finish can sort before it. That holds when
//! its start time is below the *release bound*, the lower of:
//!
//! - the earliest start of a flow still open in a flow table ([`OpenStarts`]);
//! - the earliest capture time of the frames not yet read ([`FutureTimes`],
//!   from a quick scan of a file before the real walk).
//!
//! [`Reorder`] keeps the flows above the bound in a heap. When the heap grows
//! past its cap, it writes them as a sorted run to a temporary file, so memory
//! stays bounded even when one long flow delays every flow that starts after it.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::capture::Timestamp;
use crate::capture::reader::FrameSource;
use crate::decode::{Packet, Transport};
use crate::flow::{FinishedFlow, FlowTable};

/// The sort key of a flow in the output: start time, client, server,
/// transport, and the offset of its first packet (which separates two flows of
/// one 5-tuple that start in the same nanosecond).
pub type FlowOrder = (Timestamp, SocketAddr, SocketAddr, Transport, u64);

/// Returns the sort key of a flow in the output.
pub fn flow_order(flow: &FinishedFlow) -> FlowOrder {
    (
        flow.ts_start,
        flow.client,
        flow.server,
        flow.transport,
        flow.first_offset,
    )
}

/// Timestamp below every capture time.
const BEFORE_ALL: Timestamp = Timestamp(i64::MIN);

/// Frames per entry of [`FutureTimes`].
const FUTURE_CHUNK_FRAMES: u64 = 4096;

/// For each chunk of [`FUTURE_CHUNK_FRAMES`] frames of an input, the earliest
/// capture time of that chunk and every later one.
pub(super) struct FutureTimes {
    /// `None` when the frames to come are unknown (a stream).
    suffix_min: Option<Vec<Timestamp>>,
}

impl FutureTimes {
    /// Walks every frame of an input once for its capture time. The reader
    /// must give the frames that the real walk will get.
    pub(super) fn scan(reader: &mut impl FrameSource) -> FutureTimes {
        let mut minima = Vec::new();
        let mut frames = 0u64;
        while let Some(Ok(frame)) = reader.next_frame() {
            if frames.is_multiple_of(FUTURE_CHUNK_FRAMES) {
                minima.push(frame.ts);
            }
            let last = minima.last_mut().expect("a chunk was started");
            *last = (*last).min(frame.ts);
            frames += 1;
        }
        for index in (0..minima.len().saturating_sub(1)).rev() {
            minima[index] = minima[index].min(minima[index + 1]);
        }
        FutureTimes {
            suffix_min: Some(minima),
        }
    }

    /// Frames to come of a stream: nothing is known about them.
    pub(super) fn unknown() -> FutureTimes {
        FutureTimes { suffix_min: None }
    }

    /// Returns a capture time at or below that of every frame after the first
    /// `frames_read` frames.
    pub(super) fn after(&self, frames_read: u64) -> Timestamp {
        let Some(minima) = &self.suffix_min else {
            return BEFORE_ALL;
        };
        let chunk = (frames_read / FUTURE_CHUNK_FRAMES) as usize;
        minima.get(chunk).copied().unwrap_or(Timestamp(i64::MAX))
    }
}

/// The start (time and first-packet offset) of every flow open in one flow
/// table, kept up to date from the packets the table took and the flows it
/// finished.
#[derive(Default)]
pub(super) struct OpenStarts {
    /// Count per start; every count is 1 between two packets.
    starts: BTreeMap<(Timestamp, u64), i32>,
    created: u64,
}

impl OpenStarts {
    /// Notes the flow `packet` created, if it created one.
    pub(super) fn after_packet(&mut self, table: &FlowTable, packet: &Packet<'_>) {
        let created = table.stats().flows_created;
        if created != self.created {
            self.created = created;
            self.add((packet.ts, packet.offset), 1);
        }
    }

    /// Notes that `flow` left the table.
    pub(super) fn finished(&mut self, flow: &FinishedFlow) {
        self.add((flow.ts_start, flow.first_offset), -1);
    }

    fn add(&mut self, start: (Timestamp, u64), count: i32) {
        let entry = self.starts.entry(start).or_insert(0);
        *entry += count;
        if *entry == 0 {
            self.starts.remove(&start);
        }
    }

    /// Returns the earliest start of an open flow, or the end of time.
    pub(super) fn earliest(&self) -> Timestamp {
        self.starts
            .first_key_value()
            .map_or(Timestamp(i64::MAX), |((ts, _), _)| *ts)
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
        }
    }

    /// Adds an item; writes the heap to a sorted run when it is full.
    pub(super) fn push(&mut self, key: FlowOrder, item: T) -> io::Result<()> {
        self.heap.push(Reverse(Pending { key, item }));
        if self.heap.len() >= self.max_in_memory
            && let Some(codec) = self.codec
        {
            self.spill(codec)?;
        }
        Ok(())
    }

    /// Passes to `emit`, in order, every item that starts before `bound`.
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

    fn spill(&mut self, codec: &dyn SpillCodec<T>) -> io::Result<()> {
        let mut items: Vec<Pending<T>> = std::mem::take(&mut self.heap)
            .into_iter()
            .map(|Reverse(pending)| pending)
            .collect();
        items.sort();
        let mut writer = BufWriter::with_capacity(1 << 16, tempfile::tempfile()?);
        for pending in &items {
            self.buffer.clear();
            encode_key(&pending.key, &mut self.buffer);
            codec.encode(&pending.item, &mut self.buffer);
            let len = u32::try_from(self.buffer.len()).map_err(io::Error::other)?;
            writer.write_all(&len.to_le_bytes())?;
            writer.write_all(&self.buffer)?;
        }
        let mut file = writer.into_inner().map_err(|error| error.into_error())?;
        file.rewind()?;
        let mut run = Run {
            reader: BufReader::with_capacity(1 << 13, file),
            head: None,
        };
        run.head = read_pending(&mut run.reader, codec, &mut self.buffer)?;
        self.runs.push(run);
        Ok(())
    }

    /// Takes the head of run `index` and reads the next one.
    fn advance_run(&mut self, index: usize) -> io::Result<Pending<T>> {
        let codec = self.codec.expect("runs exist only with a codec");
        let run = &mut self.runs[index];
        let next = read_pending(&mut run.reader, codec, &mut self.buffer)?;
        Ok(std::mem::replace(&mut run.head, next).expect("the run had a head"))
    }
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
const KEY_LEN: usize = 8 + 2 * 19 + 1 + 8;

fn encode_key(key: &FlowOrder, out: &mut Vec<u8>) {
    out.extend_from_slice(&key.0.0.to_le_bytes());
    for address in [key.1, key.2] {
        let (version, octets) = match address.ip() {
            IpAddr::V4(ip) => (4u8, ip.to_ipv6_mapped().octets()),
            IpAddr::V6(ip) => (6u8, ip.octets()),
        };
        out.push(version);
        out.extend_from_slice(&octets);
        out.extend_from_slice(&address.port().to_le_bytes());
    }
    out.push(match key.3 {
        Transport::Tcp => 0,
        Transport::Udp => 1,
    });
    out.extend_from_slice(&key.4.to_le_bytes());
}

fn decode_key(bytes: &[u8]) -> io::Result<(FlowOrder, &[u8])> {
    let invalid = || io::Error::new(io::ErrorKind::InvalidData, "invalid spilled flow key");
    if bytes.len() < KEY_LEN {
        return Err(invalid());
    }
    let (key, rest) = bytes.split_at(KEY_LEN);
    let ts = i64::from_le_bytes(key[0..8].try_into().expect("8 bytes"));
    let address = |at: usize| -> io::Result<SocketAddr> {
        let octets: [u8; 16] = key[at + 1..at + 17].try_into().expect("16 bytes");
        let port = u16::from_le_bytes([key[at + 17], key[at + 18]]);
        let ip = match key[at] {
            4 => IpAddr::V4(
                Ipv6Addr::from(octets)
                    .to_ipv4_mapped()
                    .unwrap_or(Ipv4Addr::UNSPECIFIED),
            ),
            6 => IpAddr::V6(Ipv6Addr::from(octets)),
            _ => return Err(invalid()),
        };
        Ok(SocketAddr::new(ip, port))
    };
    let transport = match key[46] {
        0 => Transport::Tcp,
        1 => Transport::Udp,
        _ => return Err(invalid()),
    };
    let offset = u64::from_le_bytes(key[47..55].try_into().expect("8 bytes"));
    Ok((
        (Timestamp(ts), address(8)?, address(27)?, transport, offset),
        rest,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Text;

    impl SpillCodec<String> for Text {
        fn encode(&self, item: &String, out: &mut Vec<u8>) {
            out.extend_from_slice(item.as_bytes());
        }

        fn decode(&self, bytes: &[u8]) -> io::Result<String> {
            String::from_utf8(bytes.to_vec()).map_err(io::Error::other)
        }
    }

    fn key(ts: i64, client: &str, port: u16) -> FlowOrder {
        (
            Timestamp(ts),
            SocketAddr::new(client.parse().unwrap(), port),
            "[2001:db8::1]:443".parse().unwrap(),
            Transport::Udp,
            ts.unsigned_abs() * 7,
        )
    }

    #[test]
    fn key_survives_encoding() {
        for original in [key(-5, "192.0.2.1", 80), key(9, "2001:db8::5", 53)] {
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
            reorder
                .push(key(ts, "192.0.2.1", 1000), ts.to_string())
                .unwrap();
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
    fn release_holds_items_at_bound() {
        let mut reorder: Reorder<'_, String> = Reorder::new(8, None);
        reorder.push(key(5, "192.0.2.1", 1), "a".into()).unwrap();
        reorder.push(key(7, "192.0.2.1", 1), "b".into()).unwrap();
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
