//! The flow engine of a live capture: the decoder, flow table, fingerprints and
//! policy that `analyze` runs, fed one frame at a time, plus what only a live
//! run needs. That is alert records the moment a flow is judged `unexpected`,
//! interim records of long-lived flows, a clock that moves on while the link is
//! quiet, and per-packet latency.
//!
//! Capture time drives the flow table as in `analyze`, so a flow's final record
//! is the one `analyze` writes for a capture of the same packets. While no
//! packet arrives, the capture side calls [`LiveEngine::advance_to`] with the
//! wall clock (a capture timestamp is wall-clock time from the kernel), so that
//! idle flows end and their records come out on a quiet link too.
//!
//! A flow gets at most one [`RecordKind::Alert`] and any number of
//! [`RecordKind::Interim`] records, in the order they fall due, and then one
//! [`RecordKind::Flow`] record last. Every flow whose final verdict is
//! `unexpected` gets exactly one alert before its final record.
//!
//! An open flow is judged with what its payload has named so far; a protocol
//! not yet named (`none`) matches every row, so a flow judged `unexpected`
//! without it stays `unexpected` whatever protocol follows.

#[cfg(feature = "live")]
pub mod run;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::engine::Engine;
use super::{InputOutcome, check_link};
use crate::capture::{Frame, LinkType, Timestamp};
use crate::decode::DecoderConfig;
use crate::fingerprint::App;
use crate::flow::{FinishedFlow, FlowConfig, FlowKey, FlowTable, OpenFlow};
use crate::policy::{Judgement, Policy, Verdict};
use crate::report::stats::{RunStats, StatKey};

/// How long a flow may go without payload before it is judged on its ports and
/// roles alone. A flow that carries payload sooner is judged at its first
/// payload, so that its alert names the protocol when the first bytes show it.
pub const PAYLOAD_WAIT: Duration = Duration::from_secs(1);

/// Interval, in capture time, between two searches for flows due for an
/// interim record or past [`PAYLOAD_WAIT`].
const SWEEP_INTERVAL_NANOS: i64 = 1_000_000_000;

/// Highest per-packet latency the histogram tracks; longer ones are counted at
/// this value.
const MAX_LATENCY_NANOS: u64 = 60_000_000_000;

/// Settings of a live engine.
#[derive(Clone, Debug)]
pub struct LiveConfig {
    pub decoder: DecoderConfig,
    pub flows: FlowConfig,
    /// Time between two interim records of a flow, from its first packet;
    /// `None` writes none.
    pub interim_interval: Option<Duration>,
}

/// The kind of a live record, its `record_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// A flow was judged `unexpected` while it is still open (or as it ended).
    Alert,
    /// A long-lived flow as it is at that moment.
    Interim,
    /// The flow ended: the record `analyze` writes.
    Flow,
}

impl RecordKind {
    /// Returns the value of the record's `record_type` field.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Alert => "alert",
            RecordKind::Interim => "interim",
            RecordKind::Flow => "flow",
        }
    }
}

/// A flow to write as a record, with its verdict.
#[derive(Clone, Debug)]
pub struct LiveEvent {
    pub kind: RecordKind,
    /// For an alert or interim record, the flow as it was at that moment (see
    /// [`OpenFlow::snapshot`]); for a final record, the finished flow.
    pub flow: FinishedFlow,
    pub judgement: Judgement,
}

/// Records written so far, by kind. Serialised as the `records` object of a
/// `stats` record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RecordCounts {
    pub flow: u64,
    pub alert: u64,
    pub interim: u64,
}

/// Percentiles of per-packet processing time, in nanoseconds. Serialised as
/// the `latency_ns` object of a `stats` record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LatencySummary {
    /// Packets measured.
    pub count: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl LatencySummary {
    fn of(histogram: &Histogram<u64>) -> LatencySummary {
        if histogram.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: histogram.len(),
            p50: histogram.value_at_quantile(0.5),
            p90: histogram.value_at_quantile(0.9),
            p99: histogram.value_at_quantile(0.99),
            p999: histogram.value_at_quantile(0.999),
            max: histogram.max(),
        }
    }
}

/// Counters of a live engine at one moment.
#[derive(Clone, Debug)]
pub struct LiveStats {
    /// Frames handed to the engine.
    pub frames: u64,
    /// Bytes of those frames on the wire (before the snapshot length cut them).
    pub wire_bytes: u64,
    /// Flows in the flow table now.
    pub active_flows: u64,
    /// Flows ended early because a flow table or memory cap was reached.
    pub evictions: u64,
    pub records: RecordCounts,
    /// The counters `analyze` shows in its summary, under the same ids;
    /// `bytes_read` counts the captured bytes of the frames.
    pub run: RunStats,
    /// Processing time per packet, over the span [`LiveEngine::stats`] was
    /// asked for.
    pub latency: LatencySummary,
}

/// The packets a [`LatencySummary`] covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LatencyScope {
    /// Since the previous `Interval` summary; starts a new interval.
    Interval,
    /// Since the engine started.
    Run,
}

/// The alert state of an open flow, keyed by the offset of the flow's first
/// packet.
#[derive(Clone, Copy, Debug)]
enum Watch {
    /// No payload yet: judged at its first payload, or [`PAYLOAD_WAIT`] after
    /// its first packet, or when it ends.
    AwaitingPayload { key: FlowKey, since: Timestamp },
    /// Judged not `unexpected` while the payload had named `app`: judged again
    /// when the fingerprints name another protocol.
    AwaitingApp { app: App },
    /// The alert was written.
    Alerted,
}

/// The state of the flow of the packet just tracked, as the alert decision
/// reads it.
#[derive(Clone, Copy, Debug)]
struct Tracked {
    key: FlowKey,
    first_offset: u64,
    ts_start: Timestamp,
    first_packet: bool,
    has_payload: bool,
    app: App,
    app_settled: bool,
}

impl Tracked {
    fn of(open: &OpenFlow<'_>) -> Tracked {
        Tracked {
            key: open.key(),
            first_offset: open.first_offset(),
            ts_start: open.ts_start(),
            first_packet: open.packets() == 1,
            has_payload: open.has_payload(),
            app: open.app(),
            app_settled: open.app_settled(),
        }
    }
}

/// The engine of a live capture. See the module documentation.
pub struct LiveEngine {
    engine: Engine<'static>,
    judge: Judge,
    interim_nanos: Option<i64>,
    last_sweep: Option<Timestamp>,
    /// Scratch list of flows due for a judgement, kept to reuse its memory.
    due: Vec<(u64, FlowKey)>,
    frames: u64,
    wire_bytes: u64,
    captured_bytes: u64,
    unsupported_frames: Vec<(LinkType, u64)>,
    /// Per-packet latency since the last interval summary.
    latency: Histogram<u64>,
    /// Per-packet latency of the intervals already summarised.
    latency_before: Histogram<u64>,
}

/// The policy side of the engine: judges flows, decides their alerts and
/// counts the records.
struct Judge {
    policy: Policy,
    /// Flows whose alert is still undecided, and flows already alerted.
    /// Entries leave when the flow ends, so the map has no more entries than
    /// the flow table has flows.
    watch: HashMap<u64, Watch, ahash::RandomState>,
    records: RecordCounts,
    verdicts: RunStats,
}

impl LiveEngine {
    pub fn new(config: LiveConfig, policy: Policy) -> LiveEngine {
        let interim_nanos = config
            .interim_interval
            .filter(|interval| !interval.is_zero())
            .map(|interval| interval.as_nanos().min(i64::MAX as u128) as i64);
        // Three significant digits: percentiles within 0.1 %.
        let latency = Histogram::new_with_bounds(1, MAX_LATENCY_NANOS, 3)
            .expect("the latency histogram's bounds are valid constants");

        LiveEngine {
            engine: Engine::new(config.decoder, config.flows, None),
            judge: Judge {
                policy,
                watch: HashMap::default(),
                records: RecordCounts::default(),
                verdicts: RunStats::default(),
            },
            interim_nanos,
            last_sweep: None,
            due: Vec::new(),
            frames: 0,
            wire_bytes: 0,
            captured_bytes: 0,
            unsupported_frames: Vec::new(),
            latency_before: latency.clone(),
            latency,
        }
    }

    /// Decodes and tracks one frame; the records it makes due go to `out`.
    pub fn on_frame(&mut self, frame: &Frame<'_>, out: &mut impl FnMut(LiveEvent)) {
        let started = Instant::now();
        self.frames += 1;
        self.wire_bytes += u64::from(frame.orig_len);
        self.captured_bytes += frame.data.len() as u64;

        if check_link(frame.link, &mut self.unsupported_frames) {
            let Self { engine, judge, .. } = self;
            let mut tracked = None;
            engine.on_frame_inspect(
                frame,
                &mut |flow| judge.finished(flow, out),
                |stage, packet| {
                    tracked = stage
                        .table()
                        .open_flow(packet)
                        .map(|open| Tracked::of(&open));
                },
            );
            if let Some(tracked) = tracked {
                judge.after_packet(engine.flows().table(), tracked, out);
            }
            self.sweep_if_due(out);
        }

        let elapsed = started.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64;
        self.latency.saturating_record(elapsed.max(1));
    }

    /// Moves capture time on to `now` while no packet arrives: flows past
    /// their timeouts end, and flows due for an interim record or a judgement
    /// get them. Before the first packet it does nothing.
    pub fn advance_to(&mut self, now: Timestamp, out: &mut impl FnMut(LiveEvent)) {
        let judge = &mut self.judge;
        self.engine
            .advance_to(now, &mut |flow| judge.finished(flow, out));
        self.sweep_if_due(out);
    }

    /// Ends every open flow, as at the end of a capture file, and writes its
    /// record.
    pub fn finish(&mut self, out: &mut impl FnMut(LiveEvent)) {
        let judge = &mut self.judge;
        self.engine.finish(&mut |flow| judge.finished(flow, out));
    }

    /// Returns the counters, with the latency over `scope`.
    pub fn stats(&mut self, scope: LatencyScope) -> LiveStats {
        let flow_stats = self.engine.flows().table().stats().clone();
        let outcome = InputOutcome {
            source: String::new(),
            flows: Vec::new(),
            capture: None,
            decode: self.engine.decoder().stats().clone(),
            flow_stats,
            counters: self.engine.flows().counters(),
            unsupported_frames: self.unsupported_frames.clone(),
            error: None,
            output_error: None,
            runs_spilled: 0,
            spill_error: None,
            thread_error: None,
        };
        let mut run = self.judge.verdicts.clone();
        // A live capture has no file: the bytes read are the captured bytes.
        run.add(StatKey::Frames, self.frames);
        run.add(StatKey::BytesRead, self.captured_bytes);
        outcome.add_to(&mut run);

        let interval = LatencySummary::of(&self.latency);
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.latency_before.add(&self.latency);
        self.latency.reset();
        let latency = match scope {
            LatencyScope::Interval => interval,
            LatencyScope::Run => LatencySummary::of(&self.latency_before),
        };
        LiveStats {
            frames: self.frames,
            wire_bytes: self.wire_bytes,
            active_flows: self.engine.flows().table().len() as u64,
            evictions: outcome.flow_stats.evictions(),
            records: self.judge.records,
            run,
            latency,
        }
    }

    /// Runs [`LiveEngine::sweep`] when a sweep interval of capture time has
    /// passed since the last one.
    fn sweep_if_due(&mut self, out: &mut impl FnMut(LiveEvent)) {
        let Some(now) = self.engine.flows().clock() else {
            return;
        };
        let last = *self.last_sweep.get_or_insert(now);
        if now.nanos_since(last) >= SWEEP_INTERVAL_NANOS {
            self.sweep(last, now, out);
            self.last_sweep = Some(now);
        }
    }

    /// Judges the flows that went [`PAYLOAD_WAIT`] without payload, and writes
    /// an interim record for every flow that became a whole number of interim
    /// intervals old after `last` and up to `now`.
    fn sweep(&mut self, last: Timestamp, now: Timestamp, out: &mut impl FnMut(LiveEvent)) {
        let table = self.engine.flows().table();
        let wait = PAYLOAD_WAIT.as_nanos() as i64;
        self.due.clear();
        self.due.extend(
            self.judge
                .watch
                .iter()
                .filter_map(|(&offset, watch)| match watch {
                    Watch::AwaitingPayload { key, since } if now.nanos_since(*since) >= wait => {
                        Some((offset, *key))
                    }
                    _ => None,
                }),
        );
        // Map order is random; judging in capture order keeps alerts in order.
        self.due.sort_unstable_by_key(|&(offset, _)| offset);
        for &(offset, key) in &self.due {
            self.judge.judge_open(table, offset, key, out);
        }

        let Some(interval) = self.interim_nanos else {
            return;
        };
        let mut interims = Vec::new();
        for open in table.open_flows() {
            let age = now.nanos_since(open.ts_start());
            if age < interval {
                continue;
            }
            let mark = open.ts_start().0.saturating_add(age / interval * interval);
            if mark > last.0 {
                interims.push(open.snapshot());
            }
        }
        interims.sort_by_key(|flow| (flow.ts_start, flow.first_offset));
        for flow in interims {
            let judgement = self.judge.policy.judge(&flow);
            self.judge.emit(RecordKind::Interim, flow, judgement, out);
        }
    }
}

impl Judge {
    /// Judges a flow that ended and writes its record, after its alert when it
    /// is `unexpected` and none was written yet.
    fn finished(&mut self, flow: FinishedFlow, out: &mut impl FnMut(LiveEvent)) {
        let judgement = self.policy.judge(&flow);
        let watched = self.watch.remove(&flow.first_offset);
        if judgement.verdict == Verdict::Unexpected && !matches!(watched, Some(Watch::Alerted)) {
            self.emit(RecordKind::Alert, flow.clone(), judgement.clone(), out);
        }
        self.verdicts.add(StatKey::Flows, 1);
        self.verdicts.add(verdict_stat(judgement.verdict), 1);
        self.emit(RecordKind::Flow, flow, judgement, out);
    }

    /// Decides whether the packet just tracked calls for a judgement of its
    /// flow: its first payload, or a protocol the fingerprints just named.
    fn after_packet(
        &mut self,
        table: &FlowTable,
        tracked: Tracked,
        out: &mut impl FnMut(LiveEvent),
    ) {
        if tracked.first_packet {
            self.watch.insert(
                tracked.first_offset,
                Watch::AwaitingPayload {
                    key: tracked.key,
                    since: tracked.ts_start,
                },
            );
        }
        let due = match self.watch.get(&tracked.first_offset) {
            Some(Watch::AwaitingPayload { .. }) => tracked.has_payload,
            Some(Watch::AwaitingApp { app, .. }) if *app != tracked.app => true,
            Some(Watch::AwaitingApp { .. }) => {
                // Judged with this protocol already; once the fingerprints are
                // done it cannot change.
                if tracked.app_settled {
                    self.watch.remove(&tracked.first_offset);
                }
                false
            }
            Some(Watch::Alerted) | None => false,
        };
        if due {
            self.judge_open(table, tracked.first_offset, tracked.key, out);
        }
    }

    /// Judges an open flow: writes its alert when it is `unexpected`, else
    /// waits for the fingerprints to name its protocol.
    fn judge_open(
        &mut self,
        table: &FlowTable,
        first_offset: u64,
        key: FlowKey,
        out: &mut impl FnMut(LiveEvent),
    ) {
        let Some(open) = table
            .open_flow_by_key(&key)
            .filter(|open| open.first_offset() == first_offset)
        else {
            self.watch.remove(&first_offset);
            return;
        };
        let flow = open.snapshot();
        let judgement = self.policy.judge(&flow);
        // NOTE: a TCP flow picked up without its handshake takes its client
        // side from the payload or the ports, which later packets may still
        // change, so its alert may disagree with its final verdict.
        if judgement.verdict == Verdict::Unexpected {
            self.watch.insert(first_offset, Watch::Alerted);
            self.emit(RecordKind::Alert, flow, judgement, out);
        } else if open.app_settled() {
            self.watch.remove(&first_offset);
        } else {
            let app = open.app();
            self.watch.insert(first_offset, Watch::AwaitingApp { app });
        }
    }

    fn emit(
        &mut self,
        kind: RecordKind,
        flow: FinishedFlow,
        judgement: Judgement,
        out: &mut impl FnMut(LiveEvent),
    ) {
        match kind {
            RecordKind::Alert => self.records.alert += 1,
            RecordKind::Interim => self.records.interim += 1,
            RecordKind::Flow => self.records.flow += 1,
        }
        out(LiveEvent {
            kind,
            flow,
            judgement,
        });
    }
}

fn verdict_stat(verdict: Verdict) -> StatKey {
    match verdict {
        Verdict::Allowed => StatKey::FlowsAllowed,
        Verdict::Unexpected => StatKey::FlowsUnexpected,
        Verdict::OutOfScope => StatKey::FlowsOutOfScope,
    }
}
