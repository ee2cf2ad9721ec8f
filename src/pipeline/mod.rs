//! The one composer: frames through decode, flow tracking, fingerprints and
//! policy into records. It owns the worker threads and the sharding of flows.
//!
//! Each input is read on its own: flows never span two files. A memory-mapped
//! file is read on the calling thread, decoded there, and its packets are handed
//! to worker threads by reference, sharded by a symmetric flow hash so that both
//! directions of a flow meet in the same flow table. Standard input and other
//! streams run on the calling thread. The finished flows of an input come back
//! sorted by start time and 5-tuple, so the output is the same for any number of
//! threads.

pub mod engine;
pub mod live;
mod sharded;

use std::path::Path;

use crate::capture::reader::{self as capture_reader, CaptureInput, FrameSource};
use crate::capture::{CaptureError, CaptureFormat, CaptureStats, LinkType};
use crate::decode::{DecodeStats, DecoderConfig, link_supported};
use crate::flow::{FinishedFlow, FlowConfig, FlowStats};
use crate::report::stats::{RunStats, StatKey};

pub use engine::{EngineCounters, PacketFilter};

/// Settings of an analysis run.
pub struct AnalyzeConfig<'f> {
    pub decoder: DecoderConfig,
    pub flows: FlowConfig,
    /// Worker threads for memory-mapped inputs; 1 runs everything on the calling
    /// thread.
    pub threads: usize,
    pub filter: Option<&'f PacketFilter<'f>>,
}

/// What reading one input gave: its flows in output order, its counters, and
/// the error that ended it early, if any.
pub struct InputOutcome {
    /// The input's name as given, or `standard input`.
    pub source: String,
    /// Finished flows sorted by [`flow_order`].
    pub flows: Vec<FinishedFlow>,
    pub capture: Option<CaptureStats>,
    pub decode: DecodeStats,
    pub flow_stats: FlowStats,
    pub counters: EngineCounters,
    /// Frames of pcapng interfaces whose link type exflow cannot decode, per
    /// link type.
    pub unsupported_frames: Vec<(LinkType, u64)>,
    /// The error that stopped reading; every flow read before it is in `flows`.
    pub error: Option<InputError>,
}

/// Why an input could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// A classic pcap file whose link type exflow cannot decode.
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

/// Returns the sort key of a flow in the output: start time, then 5-tuple, then
/// the offset of its first packet (which tells apart two flows of one 5-tuple
/// that start in the same nanosecond).
pub fn flow_order(flow: &FinishedFlow) -> impl Ord + use<> {
    (
        flow.ts_start,
        flow.client,
        flow.server,
        flow.transport,
        flow.first_offset,
    )
}

/// Reads the capture at `path` ("-" for standard input) and returns its flows.
pub fn analyze_input(
    path: &Path,
    config: &AnalyzeConfig<'_>,
    progress: &mut dyn Progress,
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
    };

    let input = match capture_reader::open(path) {
        Ok(input) => input,
        Err(error) => {
            outcome.error = Some(error.into());
            return outcome;
        }
    };
    match input {
        CaptureInput::Mapped(capture) => {
            let mut reader = capture.reader();
            if let Some(link) = unsupported_pcap_link(reader.stats()) {
                outcome.error = Some(InputError::UnsupportedLink {
                    input: outcome.source.clone(),
                    link,
                });
                outcome.capture = Some(reader.stats().clone());
                return outcome;
            }
            if config.threads > 1 {
                sharded::run(&mut reader, config, progress, &mut outcome);
            } else {
                run_single(&mut reader, config, progress, &mut outcome);
            }
            outcome.capture = Some(reader.stats().clone());
        }
        CaptureInput::Stream(mut reader) => {
            if let Some(link) = unsupported_pcap_link(reader.stats()) {
                outcome.error = Some(InputError::UnsupportedLink {
                    input: outcome.source.clone(),
                    link,
                });
                outcome.capture = Some(reader.stats().clone());
                return outcome;
            }
            run_single(&mut reader, config, progress, &mut outcome);
            outcome.capture = Some(reader.stats().clone());
        }
    }
    outcome.flows.sort_by_key(flow_order);
    outcome
}

/// Returns the link type of a classic pcap file when exflow cannot decode it.
/// A pcapng file may mix interfaces, so its frames of unsupported link types are
/// counted and skipped instead.
fn unsupported_pcap_link(stats: &CaptureStats) -> Option<LinkType> {
    if !matches!(stats.format, CaptureFormat::Pcap { .. }) {
        return None;
    }
    let link = stats.interfaces.first()?.link;
    (!link_supported(link)).then_some(link)
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
fn run_single(
    reader: &mut dyn FrameSource,
    config: &AnalyzeConfig<'_>,
    progress: &mut dyn Progress,
    outcome: &mut InputOutcome,
) {
    let mut engine =
        engine::Engine::new(config.decoder.clone(), config.flows.clone(), config.filter);
    let flows = &mut outcome.flows;
    let mut push = |flow: FinishedFlow| flows.push(flow);
    let mut frames = 0u64;

    while let Some(next) = reader.next_frame() {
        match next {
            Ok(frame) => {
                frames += 1;
                if check_link(frame.link, &mut outcome.unsupported_frames) {
                    engine.on_frame(&frame, &mut push);
                }
            }
            Err(error) => {
                outcome.error = Some(error.into());
                break;
            }
        }
        if frames.is_multiple_of(PROGRESS_INTERVAL_FRAMES) {
            progress.update(reader.stats().bytes_read, frames);
        }
    }
    engine.finish(&mut push);
    progress.update(reader.stats().bytes_read, frames);

    outcome.decode = engine.decoder().stats().clone();
    outcome.flow_stats = engine.flows().table().stats().clone();
    outcome.counters = engine.flows().counters();
}

impl InputOutcome {
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
        stats.add(
            StatKey::TruncatedBySnaplen,
            decode.truncated + decode.skipped(SkipReason::TruncatedHeader),
        );
        stats.add(StatKey::PacketsDecoded, decode.packets);
        stats.add(StatKey::DecodeErrors, decode.total_errors());
        let checksums = decode.bad_checksums;
        stats.add(
            StatKey::BadChecksums,
            checksums.ipv4_header + checksums.tcp + checksums.udp,
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
