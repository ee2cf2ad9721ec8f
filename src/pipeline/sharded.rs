//! The multi-threaded path for memory-mapped inputs.
//!
//! The calling thread walks the capture and decodes each frame (the decoder
//! keeps the IP fragment tables, which must see every packet). Packets borrow
//! the memory map, so they go to the workers by reference, in batches, without
//! a copy of their bytes and without a lock per packet. A packet goes to the
//! worker that its symmetric flow hash picks, so both directions of a flow meet
//! in one flow table and each flow sees its packets in capture order.

use crossbeam_channel::{Receiver, Sender, bounded};

use super::engine::FlowStage;
use super::{AnalyzeConfig, InputOutcome, PROGRESS_INTERVAL_FRAMES, Progress, check_link};
use crate::capture::reader::SliceReader;
use crate::decode::{Decoded, Decoder, Packet, ReassembledDatagram};
use crate::flow::key::packet_flow_hash;
use crate::flow::{FinishedFlow, FlowConfig, FlowStats};

/// Packets per batch sent to a worker. Large enough that channel traffic is
/// negligible, small enough that a batch stays in the cache.
const BATCH_LEN: usize = 512;

/// Batches that may wait in each worker's channel before the reader blocks.
const QUEUE_BATCHES: usize = 8;

/// A packet on its way to a worker: borrowed from the map, or a reassembled
/// IP datagram that owns its bytes.
enum WorkItem<'a> {
    Packet(Packet<'a>),
    Datagram(Box<ReassembledDatagram>),
}

/// What a worker returns when its channel closes.
struct WorkerResult {
    flows: Vec<FinishedFlow>,
    stats: FlowStats,
    counters: super::EngineCounters,
}

fn run_worker(
    batches: Receiver<Vec<WorkItem<'_>>>,
    flows: FlowConfig,
    config: &AnalyzeConfig<'_>,
) -> WorkerResult {
    let mut stage = FlowStage::new(flows, config.filter);
    let mut flows = Vec::new();
    let mut push = |flow: FinishedFlow| flows.push(flow);
    for batch in batches {
        for item in &batch {
            match item {
                WorkItem::Packet(packet) => stage.on_packet(packet, &mut push),
                WorkItem::Datagram(datagram) => stage.on_packet(&datagram.packet(), &mut push),
            }
        }
    }
    stage.finish(&mut push);
    WorkerResult {
        flows,
        stats: stage.table().stats().clone(),
        counters: stage.counters(),
    }
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
pub(super) fn run<'map>(
    reader: &mut SliceReader<'map>,
    config: &AnalyzeConfig<'_>,
    progress: &mut dyn Progress,
    outcome: &mut InputOutcome,
) {
    let workers = config.threads.max(1);
    let mut decoder = Decoder::new(config.decoder.clone());
    let worker_flows = worker_flow_config(&config.flows, workers);

    let results: Vec<WorkerResult> = std::thread::scope(|scope| {
        let mut senders: Vec<Sender<Vec<WorkItem<'map>>>> = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (sender, receiver) = bounded::<Vec<WorkItem<'map>>>(QUEUE_BATCHES);
            senders.push(sender);
            let flows = worker_flows.clone();
            handles.push(scope.spawn(move || run_worker(receiver, flows, config)));
        }

        let mut batches: Vec<Vec<WorkItem<'map>>> = (0..workers)
            .map(|_| Vec::with_capacity(BATCH_LEN))
            .collect();
        let send = |index: usize, item: WorkItem<'map>, batches: &mut Vec<Vec<WorkItem<'map>>>| {
            batches[index].push(item);
            if batches[index].len() == BATCH_LEN {
                let full = std::mem::replace(&mut batches[index], Vec::with_capacity(BATCH_LEN));
                // A worker only stops receiving when it panicked, and the join
                // below reports that.
                let _ = senders[index].send(full);
            }
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
            }
            if !check_link(frame.link, &mut outcome.unsupported_frames) {
                continue;
            }
            match decoder.decode(&frame) {
                Decoded::Packet(packet) => {
                    let index = (packet_flow_hash(&packet) % workers as u64) as usize;
                    send(index, WorkItem::Packet(packet), &mut batches);
                }
                Decoded::Datagram(datagram) => {
                    let index = (packet_flow_hash(&datagram.packet()) % workers as u64) as usize;
                    send(index, WorkItem::Datagram(Box::new(datagram)), &mut batches);
                }
                Decoded::Error(error) => log::debug!("decode: {error}"),
                Decoded::Held | Decoded::Skipped(_) => {}
            }
        }
        progress.update(reader.stats().bytes_read, frames);

        for (sender, batch) in senders.iter().zip(batches) {
            if !batch.is_empty() {
                let _ = sender.send(batch);
            }
        }
        drop(senders);
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });

    outcome.decode = decoder.stats().clone();
    for result in results {
        outcome.flows.extend(result.flows);
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
