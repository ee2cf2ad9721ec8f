//! The multi-threaded path.
//!
//! The calling thread reads the capture in large chunks and decodes each frame
//! (the decoder keeps the IP fragment tables, which must see every packet).
//! Each chunk is a buffer shared with the workers: a packet goes to them as
//! its decoded headers and the place of its payload in the chunk, in batches
//! that hold the chunks they point into. No payload byte is copied, and no lock
//! is taken per packet. The reader moves to a new buffer while workers still
//! hold the old one, and the last batch to drop a chunk frees it.
//!
//! A packet goes to the worker that its symmetric flow hash picks, so both
//! directions of a flow meet in one flow table and each flow gets its packets
//! in capture order.
//!
//! Reading through `read` calls rather than a memory map means that a file
//! truncated by another process while exflow reads it ends with a truncation
//! error, as with one thread, and cannot stop the process with SIGBUS.
//!
//! Workers build the output items of the flows they finish and send them, with
//! their release bound, to a merging thread, which hands them to the sink in
//! [`flow_order`](super::flow_order).
//!
//! When the operating system rejects one of these threads, the input is read
//! on the calling thread instead, as with `--threads 1`. The threads start
//! before the first frame is read, so the ones that did start end at once
//! with nothing to emit, and the output is the same as with every thread.

use std::io::{self, Read};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{Scope, ScopedJoinHandle};

use crossbeam_channel::{Receiver, Sender, bounded};

use super::engine::FlowStage;
use super::order::{FlowOrder, OpenStarts, Reorder, flow_order};
use super::{
    AnalyzeConfig, FlowSink, InputOutcome, PROGRESS_INTERVAL_FRAMES, Progress, check_link,
};
use crate::capture::Timestamp;
use crate::capture::reader::{ChunkPool, MAX_STREAM_BUFFER_LEN, StreamReader};
use crate::decode::{Decoded, Decoder, Packet, ReassembledDatagram};
use crate::flow::key::packet_flow_hash;
use crate::flow::{FinishedFlow, FlowConfig, FlowStats};

/// Packets per batch sent to a worker. With four threads on two cores, 512
/// woke blocked threads so often that a run on the benchmark capture took
/// about 7,000 involuntary context switches. 2048 halves them and saves 2 to
/// 3% of the wall time; larger batches saved nothing more.
const BATCH_LEN: usize = 2048;

/// Chunks one batch may point into. A batch that would need another goes out
/// first, so that the bytes the workers hold stay bounded when frames are
/// large: at most this many chunks for each batch queued or in work.
const MAX_BATCH_CHUNKS: usize = 2;

/// Bytes of chunks held, the reader's current one included, above which the
/// reader waits for the workers at its next chunk. The largest chunk a record
/// can need fits alone, so the wait always ends. Ordinary batches hold 1 MiB
/// chunks, about 20 at a time with two workers, so they stay below it.
const HELD_BYTES_LIMIT: usize = MAX_STREAM_BUFFER_LEN;

/// Batches that may wait in each worker's channel before the reader blocks.
const QUEUE_BATCHES: usize = 8;

/// Messages that may wait for the merging thread before a worker blocks.
const QUEUE_RESULTS: usize = 8;

/// Maximum number of emptied batches kept for the reader to fill again. A
/// reused batch spares the reader an allocation of [`BATCH_LEN`] items, and
/// the worker a free of memory that another thread allocated.
const MAX_SPARE_BATCHES: usize = 16;

/// Items a worker sends at most in one message.
const SHIPMENT_ITEMS: usize = 512;

/// Packets for one worker, the chunks their payloads lie in, and the input
/// clock after them, which no packet after them goes below.
struct Batch {
    items: Vec<WorkItem>,
    chunks: Vec<Arc<Vec<u8>>>,
    future: Timestamp,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            items: Vec::with_capacity(BATCH_LEN),
            chunks: Vec::new(),
            future: Timestamp(i64::MIN),
        }
    }

    /// Returns true when a packet from `chunk` would take the batch past
    /// [`MAX_BATCH_CHUNKS`].
    fn lacks_room_for(&self, chunk: &Arc<Vec<u8>>) -> bool {
        !self.holds(chunk) && self.chunks.len() >= MAX_BATCH_CHUNKS
    }

    fn holds(&self, chunk: &Arc<Vec<u8>>) -> bool {
        self.chunks
            .last()
            .is_some_and(|last| Arc::ptr_eq(last, chunk))
    }

    /// Adds a packet whose payload lies in `chunk`.
    fn push_packet(&mut self, packet: &Packet<'_>, chunk: &Arc<Vec<u8>>) {
        if !self.holds(chunk) {
            self.chunks.push(Arc::clone(chunk));
        }
        let payload = payload_range(packet.payload, chunk);
        self.items.push(WorkItem::Packet(ChunkPacket {
            packet: Packet {
                payload: &[],
                ..*packet
            },
            chunk: self.chunks.len() - 1,
            payload,
        }));
    }
}

/// Returns the place of `payload` in `chunk`; an empty range when it is empty.
fn payload_range(payload: &[u8], chunk: &[u8]) -> Range<usize> {
    let start = (payload.as_ptr() as usize).wrapping_sub(chunk.as_ptr() as usize);
    let range = start..start.wrapping_add(payload.len());
    match chunk.get(range.clone()) {
        Some(_) if !payload.is_empty() => range,
        // A decoded payload lies in the frame it came from. One outside the
        // chunk would be read as empty rather than as other bytes.
        _ => 0..0,
    }
}

/// A packet without its payload, and the place of its payload in one of the
/// batch's chunks.
struct ChunkPacket {
    packet: Packet<'static>,
    chunk: usize,
    payload: Range<usize>,
}

/// Items a worker built since its last message, and its release bound: no
/// flow it finishes later starts before it.
struct Built<T> {
    worker: usize,
    items: Vec<(FlowOrder, T)>,
    bound: Timestamp,
}

/// A packet on its way to a worker: in one of its batch's chunks, or a
/// reassembled IP datagram that owns its bytes.
enum WorkItem {
    Packet(ChunkPacket),
    Datagram(Box<ReassembledDatagram>),
}

/// What a worker returns when its channel closes.
struct WorkerResult {
    stats: FlowStats,
    counters: super::EngineCounters,
}

/// Built items on their way from a worker to the merging thread.
struct Shipment<'a, T> {
    worker: usize,
    results: Sender<Built<T>>,
    build: &'a (dyn Fn(FinishedFlow) -> T + Sync),
    items: Vec<(FlowOrder, T)>,
    /// The last bound sent, valid until the worker sends a new one.
    bound: Timestamp,
}

impl<T> Shipment<'_, T> {
    /// Builds the item of a finished flow; sends the items when
    /// [`SHIPMENT_ITEMS`] are waiting, so that few wait on a worker.
    fn add(&mut self, flow: FinishedFlow) {
        self.items.push((flow_order(&flow), (self.build)(flow)));
        if self.items.len() >= SHIPMENT_ITEMS {
            self.send(self.bound);
        }
    }

    fn send(&mut self, bound: Timestamp) {
        self.bound = bound;
        // The merging thread only stops receiving after an output error, and
        // the reader then stops too.
        let _ = self.results.send(Built {
            worker: self.worker,
            items: std::mem::replace(&mut self.items, Vec::with_capacity(SHIPMENT_ITEMS)),
            bound,
        });
    }
}

/// A worker's ends of the batch queues: the batches to process, and the
/// queue that takes processed batches back to the reader, emptied.
struct BatchQueues {
    full: Receiver<Batch>,
    spare: Sender<Batch>,
}

fn run_worker<T>(
    worker: usize,
    queues: BatchQueues,
    pool: ChunkPool,
    results: Sender<Built<T>>,
    build: &(dyn Fn(FinishedFlow) -> T + Sync),
    flows: FlowConfig,
    config: &AnalyzeConfig<'_>,
) -> WorkerResult {
    let mut stage = FlowStage::new(flows, config.filter);
    let mut open = OpenStarts::default();
    let mut shipment = Shipment {
        worker,
        results,
        build,
        items: Vec::new(),
        bound: Timestamp(i64::MIN),
    };
    for mut batch in queues.full {
        for item in &batch.items {
            let packet = match item {
                WorkItem::Packet(at) => Packet {
                    payload: batch.chunks[at.chunk]
                        .get(at.payload.clone())
                        .unwrap_or_default(),
                    ..at.packet
                },
                WorkItem::Datagram(reassembled) => reassembled.packet(),
            };
            stage.on_packet(&packet, &mut |flow| shipment.add(flow));
            open.after_packet(stage.table(), &packet);
        }
        for chunk in batch.chunks.drain(..) {
            pool.give_back(chunk);
        }
        shipment.send(batch.future.min(open.earliest(stage.table())));
        batch.items.clear();
        // A full spare queue drops the batch, and the reader makes a new one.
        let _ = queues.spare.try_send(batch);
    }
    stage.finish(&mut |flow| shipment.add(flow));
    shipment.send(Timestamp(i64::MAX));
    WorkerResult {
        stats: stage.table().stats().clone(),
        counters: stage.counters(),
    }
}

/// Receives the items of every worker and hands them to `emit` in order.
/// Returns the first error of `emit` or of a temporary file read back, and
/// what spilling did.
fn run_merger<T>(
    workers: usize,
    results: Receiver<Built<T>>,
    emit: &mut (dyn FnMut(T) -> io::Result<()> + Send),
    mut reorder: Reorder<'_, T>,
    stop: &AtomicBool,
) -> (Option<io::Error>, Spilled) {
    let mut bounds = vec![Timestamp(i64::MIN); workers];
    let mut merge = || -> io::Result<()> {
        for built in &results {
            for (key, item) in built.items {
                reorder.push(key, item);
            }
            bounds[built.worker] = built.bound;
            let bound = bounds.iter().copied().min().unwrap_or(Timestamp(i64::MAX));
            reorder.release(bound, emit)?;
        }
        reorder.finish(emit)
    };
    let error = merge().err();
    if error.is_some() {
        stop.store(true, Ordering::Relaxed);
        // Drain the channel so that no worker blocks on a full queue.
        for _ in &results {}
    }
    let spilled = Spilled {
        runs: reorder.runs_spilled(),
        error: reorder.take_spill_error(),
    };
    (error, spilled)
}

/// The runs the merging thread wrote to temporary files, and the error of
/// the one it could not write.
struct Spilled {
    runs: usize,
    error: Option<io::Error>,
}

/// Returns the worker, below `workers`, that a flow with hash `hash` goes to.
///
/// The product's high word scales the hash to the range without the division
/// of a remainder, which took about 1.5% of the reader thread's samples.
fn shard_of(hash: u64, workers: usize) -> usize {
    ((u128::from(hash) * workers as u128) >> 64) as usize
}

/// Returns the settings of one of `workers` flow tables: the caps are for the
/// whole run, so each table gets its share of them.
fn worker_flow_config(flows: &FlowConfig, workers: usize) -> FlowConfig {
    FlowConfig {
        max_flows: flows.max_flows.div_ceil(workers).max(1),
        reassembly_memory_cap: flows.reassembly_memory_cap / workers,
        ..flows.clone()
    }
}

/// Starts a thread in `scope`, or returns the error of the operating system
/// that rejected it.
fn spawn_scoped<'scope, F, T>(
    scope: &'scope Scope<'scope, '_>,
    body: F,
) -> io::Result<ScopedJoinHandle<'scope, T>>
where
    F: FnOnce() -> T + Send + 'scope,
    T: Send + 'scope,
{
    #[cfg(test)]
    tests::take_spawn_rejection()?;
    std::thread::Builder::new().spawn_scoped(scope, body)
}

/// Reads `reader` on this thread and tracks its flows on `config.threads`
/// workers, or on this thread alone when a thread cannot be started.
pub(super) fn run<R: Read, T: Send>(
    reader: &mut StreamReader<R>,
    config: &AnalyzeConfig<'_>,
    progress: &mut dyn Progress,
    sink: &mut FlowSink<'_, T>,
    outcome: &mut InputOutcome,
) {
    let workers = config.threads.max(1);
    let mut decoder = Decoder::new(config.decoder.clone());
    let worker_flows = worker_flow_config(&config.flows, workers);
    let stop = AtomicBool::new(false);
    let build = sink.build;
    let reorder = Reorder::new(sink.max_in_memory, sink.codec);
    let emit = &mut *sink.emit;
    let pool = reader.chunk_pool();

    let threaded = std::thread::scope(|scope| {
        let (result_sender, result_receiver) = bounded::<Built<T>>(QUEUE_RESULTS);
        let (spare_sender, spare_receiver) = bounded::<Batch>(MAX_SPARE_BATCHES);
        let stop = &stop;
        let merger = spawn_scoped(scope, move || {
            run_merger(workers, result_receiver, emit, reorder, stop)
        })?;
        let mut senders: Vec<Sender<Batch>> = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for worker in 0..workers {
            let (sender, receiver) = bounded::<Batch>(QUEUE_BATCHES);
            senders.push(sender);
            let flows = worker_flows.clone();
            let results = result_sender.clone();
            let pool = pool.clone();
            let queues = BatchQueues {
                full: receiver,
                spare: spare_sender.clone(),
            };
            // A rejected thread ends the closure, which drops the senders,
            // so the threads already started see their queues close and end.
            handles.push(spawn_scoped(scope, move || {
                run_worker(worker, queues, pool, results, build, flows, config)
            })?);
        }
        drop(result_sender);
        drop(spare_sender);

        let mut batches: Vec<Batch> = (0..workers).map(|_| Batch::new()).collect();
        let send = |index: usize, batches: &mut Vec<Batch>, future: Timestamp| {
            let spare = spare_receiver.try_recv().unwrap_or_else(|_| Batch::new());
            let mut batch = std::mem::replace(&mut batches[index], spare);
            batch.future = future;
            // A worker only stops receiving when it panicked, and the join
            // below reports that.
            let _ = senders[index].send(batch);
        };

        let mut frames = 0u64;
        let mut last_chunk = std::ptr::null();
        while let Some(next) = reader.next_shared_frame() {
            let (frame, chunk) = match next {
                Ok(frame) => frame,
                Err(error) => {
                    outcome.error = Some(error.into());
                    break;
                }
            };
            frames += 1;
            if Arc::as_ptr(chunk) != last_chunk {
                // A new chunk: when the workers hold too many bytes, they get
                // every packet read so far, and the reader waits for them. A
                // new chunk at a freed chunk's address skips the check, which
                // is harmless: the freed chunk no longer counts.
                last_chunk = Arc::as_ptr(chunk);
                if pool.held_bytes() > HELD_BYTES_LIMIT {
                    for index in 0..workers {
                        send(index, &mut batches, decoder.input_clock());
                    }
                    pool.wait_until_held_at_most(HELD_BYTES_LIMIT, stop);
                }
            }
            if check_link(frame.link, &mut outcome.unsupported_frames) {
                let full = match decoder.decode(&frame) {
                    Decoded::Packet(packet) => {
                        let index = shard_of(packet_flow_hash(&packet), workers);
                        if batches[index].lacks_room_for(chunk) {
                            // This packet's clock is the current one, so it
                            // is not below the bound.
                            send(index, &mut batches, decoder.input_clock());
                        }
                        batches[index].push_packet(&packet, chunk);
                        Some(index)
                    }
                    Decoded::Datagram(datagram) => {
                        let index = shard_of(packet_flow_hash(&datagram.packet()), workers);
                        batches[index]
                            .items
                            .push(WorkItem::Datagram(Box::new(datagram)));
                        Some(index)
                    }
                    Decoded::Error(error) => {
                        log::debug!("decode: {error}");
                        None
                    }
                    Decoded::Held | Decoded::Skipped(_) => None,
                };
                if let Some(index) = full.filter(|&index| batches[index].items.len() == BATCH_LEN) {
                    send(index, &mut batches, decoder.input_clock());
                }
            }
            if frames.is_multiple_of(PROGRESS_INTERVAL_FRAMES) {
                progress.update(reader.stats().bytes_read, frames);
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                // Every worker hears of the frames read so far, so that a
                // worker with few packets does not hold back the output. This
                // frame is in a batch already, and no frame to come has a
                // lower clock.
                for index in 0..workers {
                    send(index, &mut batches, decoder.input_clock());
                }
            }
        }
        progress.update(reader.stats().bytes_read, frames);
        // Fragments still held at the end time out as on one thread.
        decoder.expire(decoder.input_clock());

        for index in 0..workers {
            if !batches[index].items.is_empty() {
                send(index, &mut batches, decoder.input_clock());
            }
        }
        drop(senders);
        let results: Vec<WorkerResult> = handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect();
        let merged = merger
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        Ok::<_, io::Error>((results, merged))
    });
    let (results, (output_error, spilled)) = match threaded {
        Ok(finished) => finished,
        Err(error) => {
            outcome.thread_error = Some(error);
            super::run_single(reader, config, progress, sink, outcome);
            return;
        }
    };

    outcome.decode = decoder.stats().clone();
    outcome.output_error = output_error;
    outcome.runs_spilled = spilled.runs;
    outcome.spill_error = spilled.error;
    for result in results {
        outcome.flow_stats.merge(&result.stats);
        outcome.counters.filtered_out += result.counters.filtered_out;
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::path::Path;

    use super::*;
    use crate::decode::DecoderConfig;
    use crate::pipeline::analyze_input;

    thread_local! {
        /// Threads this test thread may still start before the next one is
        /// rejected; `None` rejects none.
        static SPAWNS_BEFORE_REJECTION: Cell<Option<usize>> = const { Cell::new(None) };
    }

    /// Fails like a rejected thread once the spawns a test allowed are used up.
    pub(super) fn take_spawn_rejection() -> io::Result<()> {
        SPAWNS_BEFORE_REJECTION.with(|left| match left.get() {
            None => Ok(()),
            Some(0) => {
                left.set(None);
                Err(io::Error::from(io::ErrorKind::WouldBlock))
            }
            Some(count) => {
                left.set(Some(count - 1));
                Ok(())
            }
        })
    }

    #[test]
    fn rejected_thread_falls_back_to_one() {
        let capture = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/exchange-edge.pcap");
        let config = |threads| AnalyzeConfig {
            decoder: DecoderConfig::default(),
            flows: FlowConfig::default(),
            threads,
            filter: None,
        };
        let single = analyze_input(&capture, &config(1), &mut ());
        assert!(!single.flows.is_empty());
        let expected_flows = format!("{:?}", single.flows);

        // The merging thread starts first, then the three workers.
        for started in 0..4 {
            SPAWNS_BEFORE_REJECTION.with(|left| left.set(Some(started)));
            let outcome = analyze_input(&capture, &config(3), &mut ());

            let rejected = SPAWNS_BEFORE_REJECTION.with(Cell::get);
            assert_eq!(rejected, None, "{started} threads started");
            assert!(outcome.thread_error.is_some(), "{started} threads started");
            assert!(outcome.error.is_none(), "{started} threads started");
            assert!(outcome.output_error.is_none(), "{started} threads started");
            assert_eq!(
                format!("{:?}", outcome.flows),
                expected_flows,
                "{started} threads started"
            );
            assert_eq!(
                format!("{:?}", outcome.decode),
                format!("{:?}", single.decode),
                "{started} threads started"
            );
            assert_eq!(
                format!("{:?}", outcome.flow_stats),
                format!("{:?}", single.flow_stats),
                "{started} threads started"
            );
        }
    }

    #[test]
    fn shards_spread_hashes_evenly() {
        for workers in [1, 2, 3, 7, 64] {
            let mut counts = vec![0u32; workers];
            // Hashes spread over the whole range, as flow hashes are.
            let mut hash = 0x0123_4567_89ab_cdefu64;
            for _ in 0..64_000 {
                hash = hash.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(1);
                counts[shard_of(hash, workers)] += 1;
            }
            let fair = 64_000 / workers as u32;
            for (worker, &count) in counts.iter().enumerate() {
                assert!(
                    count.abs_diff(fair) < fair / 10 + 20,
                    "{workers} workers: worker {worker} got {count}"
                );
            }
        }
        assert_eq!(shard_of(u64::MAX, 3), 2);
        assert_eq!(shard_of(0, 3), 0);
    }

    #[test]
    fn workers_share_the_caps() {
        let flows = FlowConfig {
            max_flows: 1001,
            reassembly_memory_cap: 1 << 20,
            ..FlowConfig::default()
        };
        let worker = worker_flow_config(&flows, 4);
        assert_eq!(worker.max_flows, 251);
        assert_eq!(worker.reassembly_memory_cap, 1 << 18);
        assert_eq!(worker.reassembly_budget, flows.reassembly_budget);
        assert_eq!(worker_flow_config(&flows, 1), flows);
    }
}
