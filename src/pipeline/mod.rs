//! The one composer: frames through decode, flow tracking, fingerprints and
//! policy into records. It owns the worker threads and the sharding of flows.
//!
//! Each input is read on its own: flows never span two files. Files and
//! streams alike are read through `read` calls on the calling thread and
//! decoded there. With worker threads, the packets go to the workers without
//! a copy of their payload, sharded by a symmetric flow hash so that both
//! directions of a flow meet in the same flow table. The thread that tracked
//! a flow builds its output item. Items are sorted by the input clock at
//! their first packet, then start time and input position ([`order`]). Each
//! goes out as soon as no flow still to finish can sort before it, so the
//! output is the same for any number of threads.

pub mod engine;
pub mod live;
pub mod order;
mod sharded;

use std::io;
use std::path::Path;

use crate::capture::reader::{self as capture_reader, FrameSource};
use crate::capture::{CaptureError, CaptureFormat, CaptureStats, LinkType, Timestamp};
use crate::decode::{DecodeStats, DecoderConfig, link_supported};
use crate::flow::{FinishedFlow, FlowConfig, FlowStats};
use crate::report::stats::{RunStats, StatKey};

pub use engine::{EngineCounters, PacketFilter};
pub use order::{FlowOrder, SpillCodec, flow_order};

use order::{OpenStarts, Reorder};

/// Settings of an analysis run.
pub struct AnalyzeConfig<'f> {
    pub decoder: DecoderConfig,
    pub flows: FlowConfig,
    /// Worker threads; 1 runs everything on the calling thread.
    pub threads: usize,
    pub filter: Option<&'f PacketFilter<'f>>,
}

/// What reading one input gave: its flows in output order, its counters, and
/// the error that ended it early, if any.
pub struct InputOutcome {
    /// The input's name as given, or `standard input`.
    pub source: String,
    /// Finished flows sorted by [`flow_order`]; empty when a [`FlowSink`]
    /// took them.
    pub flows: Vec<FinishedFlow>,
    pub capture: Option<CaptureStats>,
    pub decode: DecodeStats,
    pub flow_stats: FlowStats,
    pub counters: EngineCounters,
    /// Frames of pcapng interfaces whose link type exflow cannot decode, per
    /// link type.
    pub unsupported_frames: Vec<(LinkType, u64)>,
    /// The error that stopped reading, or the one that rejects a pcapng file
    /// read to its end without a frame exflow could decode. Every flow read
    /// before it is in `flows`.
    pub error: Option<InputError>,
    /// The error of the sink's `emit` or of reading a temporary file back,
    /// which stopped the input early.
    pub output_error: Option<io::Error>,
    /// Sorted runs of items that went to temporary files.
    pub runs_spilled: usize,
    /// The error of the run of waiting items that could not be written to a
    /// temporary file. Those items, and all that waited after them, stayed in
    /// memory.
    pub spill_error: Option<io::Error>,
    /// The operating system's error when it rejected a worker thread. The
    /// input was then read on one thread, with the same flows.
    pub thread_error: Option<io::Error>,
}

/// The destination of the finished flows of an input. `build` turns each into
/// an item on the thread that tracked it, and `emit` receives the items in
/// [`flow_order`] on one thread.
pub struct FlowSink<'s, T> {
    pub build: &'s (dyn Fn(FinishedFlow) -> T + Sync),
    pub emit: &'s mut (dyn FnMut(T) -> io::Result<()> + Send),
    /// With a codec, at most `max_in_memory` items wait in memory for their
    /// turn and the rest in sorted runs in temporary files.
    pub codec: Option<&'s dyn SpillCodec<T>>,
    pub max_in_memory: usize,
}

/// Items that wait in memory before a sink with a codec spills them: about
/// 40 MiB of JSON Lines records (an estimate at 2.5 KiB per record and line).
pub const DEFAULT_MAX_IN_MEMORY: usize = 16 * 1024;

/// How many frames pass between two releases of the items whose turn came.
const RELEASE_INTERVAL_FRAMES: u64 = 4096;

/// Why an input could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// A classic pcap file whose link type exflow cannot decode, or a pcapng
    /// file in which no frame had a link type exflow can decode.
    #[error(
        "{input}: {link} is not supported; exflow decodes Ethernet, Linux cooked capture (SLL, SLL2), raw IP, BSD loopback, PPP, and a few more (see the README)"
    )]
    UnsupportedLink { input: String, link: LinkType },
}

/// Receives progress while an input is read: bytes of input consumed and frames
/// read so far.
pub trait Progress {
    fn update(&mut self, bytes_read: u64, frames: u64);
}

impl Progress for () {
    fn update(&mut self, _bytes_read: u64, _frames: u64) {}
}

/// How many frames pass between two progress updates.
const PROGRESS_INTERVAL_FRAMES: u64 = 16 * 1024;

/// Reads the capture at `path` ("-" for standard input) and returns its flows,
/// all of them in memory.
pub fn analyze_input(
    path: &Path,
    config: &AnalyzeConfig<'_>,
    progress: &mut dyn Progress,
) -> InputOutcome {
    let mut flows = Vec::new();
    let mut emit = |flow: FinishedFlow| {
        flows.push(flow);
        Ok(())
    };
    let mut sink = FlowSink {
        build: &|flow| flow,
        emit: &mut emit,
        codec: None,
        max_in_memory: usize::MAX,
    };
    let mut outcome = analyze_input_with(path, config, progress, &mut sink);
    outcome.flows = flows;
    outcome
}

/// Reads the capture at `path` ("-" for standard input) and passes its flows,
/// built into items, to `sink` in [`flow_order`].
pub fn analyze_input_with<T: Send>(
    path: &Path,
    config: &AnalyzeConfig<'_>,
    progress: &mut dyn Progress,
    sink: &mut FlowSink<'_, T>,
) -> InputOutcome {
    let name = if path.as_os_str() == "-" {
        capture_reader::STDIN_NAME.to_string()
    } else {
        path.display().to_string()
    };
    let mut outcome = InputOutcome {
        source: name,
        flows: Vec::new(),
        capture: None,
        decode: DecodeStats::default(),
        flow_stats: FlowStats::default(),
        counters: EngineCounters::default(),
        unsupported_frames: Vec::new(),
        error: None,
        output_error: None,
        runs_spilled: 0,
        spill_error: None,
        thread_error: None,
    };

    // Every input is read through `read` calls, never a memory map: a file
    // truncated meanwhile gives a truncation error where a map would raise
    // SIGBUS, and the resident set stays small.
    let mut reader = match capture_reader::open_stream(path) {
        Ok(reader) => reader,
        Err(error) => {
            outcome.error = Some(error.into());
            return outcome;
        }
    };
    if let Some(link) = unsupported_pcap_link(reader.stats()) {
        outcome.error = Some(InputError::UnsupportedLink {
            input: outcome.source.clone(),
            link,
        });
        outcome.capture = Some(reader.stats().clone());
        return outcome;
    }
    if config.threads > 1 {
        sharded::run(&mut reader, config, progress, sink, &mut outcome);
    } else {
        run_single(&mut reader, config, progress, sink, &mut outcome);
    }
    if outcome.error.is_none()
        && outcome.output_error.is_none()
        && let Some(link) = unsupported_pcapng_link(reader.stats(), &outcome.unsupported_frames)
    {
        outcome.error = Some(InputError::UnsupportedLink {
            input: outcome.source.clone(),
            link,
        });
    }
    outcome.capture = Some(reader.stats().clone());
    outcome
}

/// Returns the link type of a classic pcap file when exflow cannot decode it.
/// A pcapng file may mix interfaces, so its frames of unsupported link types are
/// counted and skipped instead, and [`unsupported_pcapng_link`] judges the
/// file once it is read.
fn unsupported_pcap_link(stats: &CaptureStats) -> Option<LinkType> {
    if !matches!(stats.format, CaptureFormat::Pcap { .. }) {
        return None;
    }
    let link = stats.interfaces.first()?.link;
    (!link_supported(link)).then_some(link)
}

/// Returns an unsupported link type of a pcapng file that was read without
/// one frame exflow could decode, as a classic pcap file of that link type
/// is rejected. `skipped` contains the count of frames of each unsupported
/// link type.
///
/// With frames, the first one skipped names the link type. Without frames,
/// the file is rejected only when it defines interfaces and none of them has
/// a supported link type, so a file without interfaces stays merely empty.
fn unsupported_pcapng_link(stats: &CaptureStats, skipped: &[(LinkType, u64)]) -> Option<LinkType> {
    if !matches!(stats.format, CaptureFormat::Pcapng { .. }) {
        return None;
    }
    let skipped_frames: u64 = skipped.iter().map(|(_, frames)| frames).sum();
    if skipped_frames < stats.frames {
        return None;
    }
    if let Some(&(link, _)) = skipped.first() {
        return Some(link);
    }

    // The stats keep no link type for interfaces beyond the listed ones.
    if stats.interfaces_unlisted > 0 {
        return None;
    }
    let first = stats.interfaces.first()?.link;
    let none_supported = stats
        .interfaces
        .iter()
        .all(|interface| !link_supported(interface.link));
    none_supported.then_some(first)
}

/// Counts a frame of an unsupported link type. Returns true when the frame can
/// be decoded.
fn check_link(link: LinkType, unsupported: &mut Vec<(LinkType, u64)>) -> bool {
    if link_supported(link) {
        return true;
    }
    match unsupported.iter_mut().find(|(seen, _)| *seen == link) {
        Some((_, count)) => *count += 1,
        None => unsupported.push((link, 1)),
    }
    false
}

/// Runs decoder and flow table on the calling thread.
fn run_single<T>(
    reader: &mut dyn FrameSource,
    config: &AnalyzeConfig<'_>,
    progress: &mut dyn Progress,
    sink: &mut FlowSink<'_, T>,
    outcome: &mut InputOutcome,
) {
    let mut engine =
        engine::Engine::new(config.decoder.clone(), config.flows.clone(), config.filter);
    let mut reorder = Reorder::new(sink.max_in_memory, sink.codec);
    let mut open = OpenStarts::default();
    let mut finished = Vec::new();
    let mut frames = 0u64;

    while let Some(next) = reader.next_frame() {
        match next {
            Ok(frame) => {
                frames += 1;
                if check_link(frame.link, &mut outcome.unsupported_frames) {
                    engine.on_frame_inspect(
                        &frame,
                        &mut |flow| finished.push(flow),
                        |stage, packet| open.after_packet(stage.table(), packet),
                    );
                }
            }
            Err(error) => {
                outcome.error = Some(error.into());
                break;
            }
        }
        let bound = frames.is_multiple_of(RELEASE_INTERVAL_FRAMES).then(|| {
            let open_start = open.earliest(engine.flows().table());
            engine.decoder().input_clock().min(open_start)
        });
        if (!finished.is_empty() || bound.is_some())
            && let Err(error) = settle(&mut finished, &mut reorder, sink, bound)
        {
            outcome.output_error = Some(error);
            break;
        }
        if frames.is_multiple_of(PROGRESS_INTERVAL_FRAMES) {
            progress.update(reader.stats().bytes_read, frames);
        }
    }
    progress.update(reader.stats().bytes_read, frames);
    if outcome.output_error.is_none() {
        // The flows still open come out all at once. Each goes to the reorder
        // buffer as it comes, so they never wait in memory together.
        let settled = settle(&mut finished, &mut reorder, sink, None);
        let settled_ok = settled.is_ok();
        engine.finish(&mut |flow| {
            if settled_ok {
                reorder.push(flow_order(&flow), (sink.build)(flow));
            }
        });
        outcome.output_error = settled.and_then(|()| reorder.finish(sink.emit)).err();
    }
    outcome.runs_spilled = reorder.runs_spilled();
    outcome.spill_error = reorder.take_spill_error();

    outcome.decode = engine.decoder().stats().clone();
    outcome.flow_stats = engine.flows().table().stats().clone();
    outcome.counters = engine.flows().counters();
}

/// Hands the flows that finished to the reorder buffer, then, with a bound
/// from the frames to come and the flows still open, passes on the items
/// whose turn came.
fn settle<T>(
    finished: &mut Vec<FinishedFlow>,
    reorder: &mut Reorder<'_, T>,
    sink: &mut FlowSink<'_, T>,
    bound: Option<Timestamp>,
) -> io::Result<()> {
    for flow in finished.drain(..) {
        reorder.push(flow_order(&flow), (sink.build)(flow));
    }
    if let Some(bound) = bound {
        reorder.release(bound, sink.emit)?;
    }
    Ok(())
}

impl InputOutcome {
    /// Returns the frames that the snapshot length cut shorter than the
    /// packet on the wire, through the payload or the headers.
    pub fn frames_cut_by_snaplen(&self) -> u64 {
        use crate::decode::SkipReason;

        let decode = &self.decode;
        decode.truncated + decode.skipped(SkipReason::TruncatedHeader)
    }

    /// Adds this input's counters to the run statistics.
    pub fn add_to(&self, stats: &mut RunStats) {
        use crate::decode::SkipReason;

        if let Some(capture) = &self.capture {
            stats.add(StatKey::FilesRead, 1);
            stats.add(StatKey::Frames, capture.frames);
            stats.add(StatKey::BytesRead, capture.bytes_read);
            stats.add(StatKey::CorruptBlocksSkipped, capture.corrupt_blocks);
        }
        let decode = &self.decode;
        stats.add(StatKey::TruncatedBySnaplen, self.frames_cut_by_snaplen());
        stats.add(StatKey::PacketsDecoded, decode.packets);
        stats.add(StatKey::DecodeErrors, decode.total_errors());
        let checksums = decode.bad_checksums;
        stats.add(
            StatKey::BadChecksums,
            checksums.ipv4_header + checksums.tcp + checksums.udp,
        );
        stats.add(
            StatKey::BadChecksumsIgnored,
            self.flow_stats.bad_checksums_ignored,
        );
        stats.add(StatKey::Duplicates, self.flow_stats.duplicates);
        stats.add(StatKey::FragmentsReassembled, decode.fragments.reassembled);
        stats.add(
            StatKey::FragmentsDropped,
            decode.skipped(SkipReason::FragmentDropped),
        );
        stats.add(StatKey::FragmentsTimedOut, decode.fragments.timed_out);
        stats.add(StatKey::FragmentsMemoryCap, decode.fragments.memory_cap);
        stats.add(StatKey::FragmentsPendingCap, decode.fragments.pending_cap);
        stats.add(
            StatKey::SkippedNotIp,
            decode.skipped(SkipReason::Arp) + decode.skipped(SkipReason::NotIp),
        );
        let not_tcp_udp: u64 = [
            SkipReason::Icmp,
            SkipReason::Icmpv6,
            SkipReason::Esp,
            SkipReason::NoNextHeader,
            SkipReason::OtherIpProtocol,
            SkipReason::UnsupportedTunnel,
            SkipReason::TunnelNotDecapsulated,
            SkipReason::TunnelTooDeep,
        ]
        .into_iter()
        .map(|reason| decode.skipped(reason))
        .sum();
        stats.add(StatKey::SkippedNotTcpUdp, not_tcp_udp);
        let unsupported: u64 = self
            .unsupported_frames
            .iter()
            .map(|(_, frames)| frames)
            .sum();
        stats.add(StatKey::SkippedLinkType, unsupported);
        stats.add(StatKey::SkippedFiltered, self.counters.filtered_out);
        stats.add(
            StatKey::EvictedTableFull,
            self.flow_stats.finished.evicted_table_full,
        );
        stats.add(
            StatKey::EvictedMemory,
            self.flow_stats.finished.evicted_memory,
        );
    }
}
