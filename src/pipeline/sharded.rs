//! The multi-threaded path for memory-mapped inputs.
//!
//! The calling thread walks the capture and decodes each frame (the decoder
//! keeps the IP fragment tables, which must see every packet). Packets borrow
//! the memory map, so they go to the workers by reference, in batches, without
//! a copy of their bytes and without a lock per packet. A packet goes to the
//! worker that its symmetric flow hash picks, so both directions of a flow meet
//! in one flow table and each flow sees its packets in capture order.
//!
//! Workers build the output items of the flows they finish and send them, with
//! their release bound, to a merging thread, which hands them to the sink in
//! [`flow_order`](super::flow_order).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::{Receiver, Sender, bounded};

use super::engine::FlowStage;
use super::order::{FlowOrder, OpenStarts, Reorder, flow_order};
use super::{
    AnalyzeConfig, FlowSink, InputOutcome, PROGRESS_INTERVAL_FRAMES, Progress, check_link,
};
use crate::capture::Timestamp;
use crate::capture::reader::SliceReader;
use crate::decode::{Decoded, Decoder, Packet, ReassembledDatagram};
use crate::flow::key::packet_flow_hash;
use crate::flow::{FinishedFlow, FlowConfig, FlowStats};

/// Packets per batch sent to a worker. With four threads on two cores, 512
/// woke blocked threads so often that a run on the benchmark capture took
/// about 7,000 involuntary context switches. 2048 halves them and saves 2 to
/// 3% of the wall time; larger batches saved nothing more.
const BATCH_LEN: usize = 2048;

/// Batches that may wait in each worker's channel before the reader blocks.
const QUEUE_BATCHES: usize = 8;

/// Messages that may wait for the merging thread before a worker blocks.
const QUEUE_RESULTS: usize = 8;

/// Items a worker sends at most in one message.
const SHIPMENT_ITEMS: usize = 512;

/// Packets for one worker, and the input clock after them, which no packet
/// after them goes below.
struct Batch<'a> {
    items: Vec<WorkItem<'a>>,
    future: Timestamp,
}

/// Items a worker built since its last message, and its release bound: no
/// flow it finishes later starts before it.
struct Built<T> {
    worker: usize,
    items: Vec<(FlowOrder, T)>,
    bound: Timestamp,
}

/// A packet on its way to a worker: borrowed from the map, or a reassembled
/// IP datagram that owns its bytes.
enum WorkItem<'a> {
    Packet(Packet<'a>),
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
    fn add(&mut self, flow: FinishedFlow, open: &mut OpenStarts) {
        open.finished(&flow);
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
            items: std::mem::take(&mut self.items),
            bound,
        });
    }
}

fn run_worker<T>(
    worker: usize,
    batches: Receiver<Batch<'_>>,
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
    for batch in batches {
        for item in &batch.items {
            let datagram;
            let packet = match item {
                WorkItem::Packet(packet) => packet,
                WorkItem::Datagram(reassembled) => {
                    datagram = reassembled.packet();
                    &datagram
                }
            };
            stage.on_packet(packet, &mut |flow| shipment.add(flow, &mut open));
            open.after_packet(stage.table(), packet);
        }
        shipment.send(batch.future.min(open.earliest()));
    }
    stage.finish(&mut |flow| shipment.add(flow, &mut open));
    shipment.send(Timestamp(i64::MAX));
    WorkerResult {
        stats: stage.table().stats().clone(),
        counters: stage.counters(),
    }
}

/// Receives the items of every worker and hands them to `emit` in order.
/// Returns the first error of `emit` or of a temporary file, and the runs
/// spilled.
fn run_merger<T>(
    workers: usize,
    results: Receiver<Built<T>>,
    emit: &mut (dyn FnMut(T) -> io::Result<()> + Send),
    mut reorder: Reorder<'_, T>,
    stop: &AtomicBool,
) -> (Option<io::Error>, usize) {
    let mut bounds = vec![Timestamp(i64::MIN); workers];
    let mut merge = || -> io::Result<()> {
        for built in &results {
            for (key, item) in built.items {
                reorder.push(key, item)?;
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
    (error, reorder.runs_spilled())
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

/// Reads `reader` on this thread and tracks its flows on `config.threads`
/// workers.
pub(super) fn run<'map, T: Send>(
    reader: &mut SliceReader<'map>,
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

    let (results, (output_error, runs_spilled)) = std::thread::scope(|scope| {
        let (result_sender, result_receiver) = bounded::<Built<T>>(QUEUE_RESULTS);
        let stop = &stop;
        let merger = scope.spawn(move || run_merger(workers, result_receiver, emit, reorder, stop));
        let mut senders: Vec<Sender<Batch<'map>>> = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for worker in 0..workers {
            let (sender, receiver) = bounded::<Batch<'map>>(QUEUE_BATCHES);
            senders.push(sender);
            let flows = worker_flows.clone();
            let results = result_sender.clone();
            handles.push(
                scope.spawn(move || run_worker(worker, receiver, results, build, flows, config)),
            );
        }
        drop(result_sender);

        let mut batches: Vec<Vec<WorkItem<'map>>> = (0..workers)
            .map(|_| Vec::with_capacity(BATCH_LEN))
            .collect();
        let send = |index: usize, batches: &mut Vec<Vec<WorkItem<'map>>>, future: Timestamp| {
            let items = std::mem::replace(&mut batches[index], Vec::with_capacity(BATCH_LEN));
            // A worker only stops receiving when it panicked, and the join
            // below reports that.
            let _ = senders[index].send(Batch { items, future });
        };

        let mut frames = 0u64;
        while let Some(next) = reader.next() {
            let frame = match next {
                Ok(frame) => frame,
                Err(error) => {
                    outcome.error = Some(error.into());
                    break;
                }
            };
            frames += 1;
            if frames.is_multiple_of(PROGRESS_INTERVAL_FRAMES) {
                progress.update(reader.stats().bytes_read, frames);
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                // Every worker hears of the frames read so far, so that a
                // worker with few packets does not hold back the output. This
                // frame is not decoded yet, and its clock will not be lower.
                for index in 0..workers {
                    send(index, &mut batches, decoder.input_clock());
                }
            }
            if !check_link(frame.link, &mut outcome.unsupported_frames) {
                continue;
            }
            let (index, item) = match decoder.decode(&frame) {
                Decoded::Packet(packet) => (
                    (packet_flow_hash(&packet) % workers as u64) as usize,
                    WorkItem::Packet(packet),
                ),
                Decoded::Datagram(datagram) => (
                    (packet_flow_hash(&datagram.packet()) % workers as u64) as usize,
                    WorkItem::Datagram(Box::new(datagram)),
                ),
                Decoded::Error(error) => {
                    log::debug!("decode: {error}");
                    continue;
                }
                Decoded::Held | Decoded::Skipped(_) => continue,
            };
            batches[index].push(item);
            if batches[index].len() == BATCH_LEN {
                send(index, &mut batches, decoder.input_clock());
            }
        }
        progress.update(reader.stats().bytes_read, frames);

        for index in 0..workers {
            if !batches[index].is_empty() {
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
        (results, merged)
    });

    outcome.decode = decoder.stats().clone();
    outcome.output_error = output_error;
    outcome.runs_spilled = runs_spilled;
    for result in results {
        outcome.flow_stats.merge(&result.stats);
        outcome.counters.filtered_out += result.counters.filtered_out;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
