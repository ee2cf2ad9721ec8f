//! The capture thread of a live run: it reads every interface and runs the
//! one [`LiveEngine`], so that a flow seen on two interfaces is one flow.
//!
//! With one interface, each frame goes to the engine while it still borrows
//! libpcap's buffer, without a copy. With several, the frames of all
//! interfaces must reach the engine in capture-time order: a network tap that
//! gives each direction of a link its own port would otherwise let an ACK
//! overtake the data it acknowledges. So each frame is copied into a queue of
//! its interface (buffers are reused, not allocated per frame), and the
//! earliest frame at the queues' heads goes next once no interface can still
//! deliver an earlier one (see [`Merge`]).
//!
//! Records leave through one bounded channel in the order the engine made
//! them. A full channel (the output is slower than the link) makes the thread
//! wait, and the kernel then drops packets and counts them, which the
//! statistics report. Statistics are asked for with a flag and come back
//! through the same channel, in order with the records.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender};

use super::{LatencyScope, LiveEngine, LiveEvent, LiveStats};
use crate::capture::live::{InterfaceCounters, LiveCapture, LiveError, wait_readable};
use crate::capture::{Frame, LinkType, Timestamp};

/// Maximum number of messages waiting for the consumer. At a few hundred
/// bytes per record it bounds the queue to a few MiB.
pub const MESSAGE_QUEUE: usize = 16 * 1024;

/// Maximum number of packets read from one interface at a time, so that the
/// thread still looks at its stop and statistics flags on a busy link.
const READ_BATCH: usize = 1024;

/// How long the thread waits for a packet before it moves the engine's clock
/// on and looks at its flags.
const QUIET_WAIT: Duration = Duration::from_millis(100);

/// How far behind the wall clock the quiet-link clock runs, so that the
/// engine never times a flow out while a packet of it may still be on its way
/// through the kernel.
const QUIET_CLOCK_LAG: Duration = Duration::from_secs(1);

/// Part of the merge margin that covers the time between the kernel's time
/// stamp and the packet's arrival in the capture buffer, and the kernel's
/// timer granularity. The margin adds each interface's
/// [`LiveCapture::max_delivery_delay`].
const MERGE_SLACK: Duration = Duration::from_millis(20);

/// Maximum number of frames queued per interface for merging; a full queue
/// is not read until it shrinks.
const MAX_QUEUED_FRAMES: usize = 4096;

/// How often the thread reads libpcap's counters.
const COUNTER_INTERVAL: Duration = Duration::from_secs(1);

/// How long the thread keeps reading the packets already in the buffers
/// after a stop request.
const DRAIN_LIMIT: Duration = Duration::from_secs(1);

/// Minimum time the thread reads after a stop request before a quiet read
/// ends the capture. Without immediate mode the kernel keeps a partly filled
/// block from the reader for up to libpcap's read timeout (100 ms), so a
/// quiet read right after the request proves nothing.
const DRAIN_MIN: Duration = Duration::from_millis(250);

/// A message from the capture thread to the consumer.
#[derive(Debug)]
pub enum LiveMessage {
    Event(LiveEvent),
    /// The reply to [`LiveRun::request_stats`].
    Stats(LiveStats),
}

/// The result of a live run.
#[derive(Debug)]
pub struct LiveOutcome {
    /// The error that ended the capture, if one did.
    pub error: Option<LiveError>,
    /// Counters after every flow was flushed, latency over the whole run.
    pub stats: LiveStats,
    pub interfaces: Vec<InterfaceCounters>,
}

/// Flags and counters the capture thread shares with the consumer.
struct Shared {
    stop: AtomicBool,
    stats_requested: AtomicBool,
    counters: Mutex<Vec<InterfaceCounters>>,
}

/// A running capture thread. See the module documentation.
pub struct LiveRun {
    shared: Arc<Shared>,
    thread: JoinHandle<(LiveEngine, Result<(), LiveError>)>,
    messages: Receiver<LiveMessage>,
}

impl LiveRun {
    /// Starts the capture thread. The captures' indices must be their
    /// positions in `captures`.
    pub fn start(captures: Vec<LiveCapture>, engine: LiveEngine) -> std::io::Result<LiveRun> {
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            stats_requested: AtomicBool::new(false),
            counters: Mutex::new(vec![InterfaceCounters::default(); captures.len()]),
        });
        let (sender, messages) = crossbeam_channel::bounded(MESSAGE_QUEUE);
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("capture".to_string())
            .spawn(move || {
                let mut capture = CaptureLoop {
                    captures,
                    engine,
                    shared: thread_shared,
                    sender,
                    counters_read: Instant::now(),
                };
                let result = capture.run();
                capture.publish_counters();
                (capture.engine, result)
            })?;
        Ok(LiveRun {
            shared,
            thread,
            messages,
        })
    }

    /// Returns the channel the records and statistics come out of.
    pub fn messages(&self) -> &Receiver<LiveMessage> {
        &self.messages
    }

    /// Asks for a [`LiveMessage::Stats`], with the latency since the
    /// previous request.
    pub fn request_stats(&self) {
        self.shared.stats_requested.store(true, Ordering::Release);
    }

    /// Returns libpcap's counters of each interface, at most a second old.
    pub fn interface_counters(&self) -> Vec<InterfaceCounters> {
        self.shared
            .counters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Returns true when the capture thread ended without being asked to: an
    /// interface failed.
    pub fn capture_failed(&self) -> bool {
        self.thread.is_finished()
    }

    /// Stops capturing, passes every message still queued and the records of
    /// every open flow to `out`, and returns the final counters.
    pub fn stop(self, out: &mut impl FnMut(LiveMessage)) -> LiveOutcome {
        self.shared.stop.store(true, Ordering::Release);
        // The thread drops its sender as it ends, which ends this loop.
        for message in self.messages.iter() {
            out(message);
        }
        let (mut engine, result) = match self.thread.join() {
            Ok(ended) => ended,
            Err(panic) => std::panic::resume_unwind(panic),
        };

        engine.finish(&mut |event| out(LiveMessage::Event(event)));
        let stats = engine.stats(LatencyScope::Run);
        let interfaces = self
            .shared
            .counters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        LiveOutcome {
            error: result.err(),
            stats,
            interfaces,
        }
    }
}

/// The capture thread's state.
struct CaptureLoop {
    captures: Vec<LiveCapture>,
    engine: LiveEngine,
    shared: Arc<Shared>,
    sender: Sender<LiveMessage>,
    counters_read: Instant,
}

impl CaptureLoop {
    /// Reads until a stop request (after draining the buffers) or an error.
    fn run(&mut self) -> Result<(), LiveError> {
        if self.captures.len() == 1 {
            self.run_single()
        } else {
            self.run_merged()
        }
    }

    /// Reads one interface, passing each frame to the engine in place.
    fn run_single(&mut self) -> Result<(), LiveError> {
        let mut stop_seen = None;
        loop {
            let mut read = self.read_single()?;
            if read == 0 {
                wait_readable(&self.captures, QUIET_WAIT)?;
                read = self.read_single()?;
            }
            let quiet = read == 0;
            if quiet {
                self.tick();
            }
            self.housekeeping();
            if self.stop_due(&mut stop_seen, quiet) {
                return Ok(());
            }
        }
    }

    /// Passes the frames waiting in the one interface's buffer to the engine.
    fn read_single(&mut self) -> Result<usize, LiveError> {
        let Self {
            captures,
            engine,
            sender,
            ..
        } = self;
        captures[0].read(READ_BATCH, |frame| {
            engine.on_frame(frame, &mut |event| send_event(sender, event));
        })
    }

    /// Reads several interfaces and passes their frames to the engine in
    /// capture-time order.
    fn run_merged(&mut self) -> Result<(), LiveError> {
        let delay = self
            .captures
            .iter()
            .map(LiveCapture::max_delivery_delay)
            .max()
            .unwrap_or_default();
        let mut merge = Merge::new(self.captures.len(), delay + MERGE_SLACK);
        let mut stop_seen = None;
        loop {
            let read = merge.fill(&mut self.captures)?;
            let stopping = self.shared.stop.load(Ordering::Acquire);
            let Self { engine, sender, .. } = self;
            let released = merge.release(stopping && read == 0, |frame| {
                engine.on_frame(frame, &mut |event| send_event(sender, event));
            });

            let quiet = read == 0 && released == 0 && merge.is_empty();
            if read == 0 && released == 0 {
                let wait = if merge.is_empty() {
                    QUIET_WAIT
                } else {
                    MERGE_SLACK
                };
                wait_readable(&self.captures, wait)?;
            }
            if quiet {
                self.tick();
            }
            self.housekeeping();
            if self.stop_due(&mut stop_seen, quiet) {
                return Ok(());
            }
        }
    }

    /// Moves the engine's clock on while no packet arrives.
    fn tick(&mut self) {
        let sender = &self.sender;
        self.engine
            .advance_to(quiet_clock(), &mut |event| send_event(sender, event));
    }

    /// Sends the statistics when they were requested, and reads libpcap's
    /// counters when due.
    fn housekeeping(&mut self) {
        let stats_requested = self.shared.stats_requested.swap(false, Ordering::AcqRel);
        if stats_requested || self.counters_read.elapsed() >= COUNTER_INTERVAL {
            self.publish_counters();
        }
        if stats_requested {
            let stats = self.engine.stats(LatencyScope::Interval);
            // A send fails only when the consumer is gone.
            let _ = self.sender.send(LiveMessage::Stats(stats));
        }
    }

    /// Returns true when a stop was requested and the buffers are drained,
    /// or draining took [`DRAIN_LIMIT`].
    fn stop_due(&self, stop_seen: &mut Option<Instant>, quiet: bool) -> bool {
        if !self.shared.stop.load(Ordering::Acquire) {
            return false;
        }
        let since = stop_seen.get_or_insert_with(Instant::now).elapsed();
        (quiet && since >= DRAIN_MIN) || since >= DRAIN_LIMIT
    }

    fn publish_counters(&mut self) {
        self.counters_read = Instant::now();
        let mut published = self
            .shared
            .counters
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (capture, slot) in self.captures.iter_mut().zip(published.iter_mut()) {
            match capture.counters() {
                Ok(counters) => *slot = counters,
                Err(error) => log::debug!("{error}"),
            }
        }
    }
}

fn send_event(sender: &Sender<LiveMessage>, event: LiveEvent) {
    // A send fails only when the consumer is gone, and then the record has
    // no reader.
    let _ = sender.send(LiveMessage::Event(event));
}

/// A frame copied out of libpcap's buffer.
struct QueuedFrame {
    ts: Timestamp,
    link: LinkType,
    data: Vec<u8>,
    orig_len: u32,
    interface: u32,
    offset: u64,
}

/// Per-interface queues of copied frames, merged by capture time.
///
/// The frame with the earliest capture time at the queues' heads may go once
/// every interface whose queue is empty was found empty more than the margin
/// (by the wall clock) after that capture time. A packet such an interface
/// delivers later was stamped after the frame, so it belongs after it. The
/// margin is the longest time the kernel may keep a packet from the reader
/// plus [`MERGE_SLACK`].
struct Merge {
    queues: Vec<VecDeque<QueuedFrame>>,
    /// When each interface's buffer was last found empty.
    empty_at: Vec<Option<Timestamp>>,
    /// Buffers of frames already passed on, reused for the next copies.
    spare: Vec<Vec<u8>>,
    margin: Duration,
}

impl Merge {
    fn new(interfaces: usize, margin: Duration) -> Merge {
        Merge {
            queues: (0..interfaces).map(|_| VecDeque::new()).collect(),
            empty_at: vec![None; interfaces],
            spare: Vec::new(),
            margin,
        }
    }

    fn is_empty(&self) -> bool {
        self.queues.iter().all(VecDeque::is_empty)
    }

    /// Copies the frames waiting in each interface's buffer into its queue.
    /// Returns how many were copied.
    fn fill(&mut self, captures: &mut [LiveCapture]) -> Result<usize, LiveError> {
        let mut copied = 0;
        for (index, capture) in captures.iter_mut().enumerate() {
            let queue = &mut self.queues[index];
            let room = MAX_QUEUED_FRAMES.saturating_sub(queue.len());
            if room == 0 {
                continue;
            }
            let spare = &mut self.spare;
            let read = capture.read(room.min(READ_BATCH), |frame| {
                let mut data = spare.pop().unwrap_or_default();
                data.clear();
                data.extend_from_slice(frame.data);
                queue.push_back(QueuedFrame {
                    ts: frame.ts,
                    link: frame.link,
                    data,
                    orig_len: frame.orig_len,
                    interface: frame.interface,
                    offset: frame.offset,
                });
            })?;
            if read == 0 {
                self.empty_at[index] = Some(wall_clock());
            }
            copied += read;
        }
        Ok(copied)
    }

    /// Passes the frames that may go, in capture-time order, to `handle`;
    /// with `all`, every queued frame. Returns how many were passed.
    fn release(&mut self, all: bool, mut handle: impl FnMut(&Frame<'_>)) -> usize {
        let margin = self.margin.as_nanos().min(i64::MAX as u128) as i64;
        let mut released = 0;
        loop {
            let earliest = self
                .queues
                .iter()
                .enumerate()
                .filter_map(|(index, queue)| queue.front().map(|frame| (frame.ts, index)))
                .min();
            let Some((ts, index)) = earliest else {
                break;
            };
            let safe = all
                || self
                    .queues
                    .iter()
                    .zip(&self.empty_at)
                    .all(|(queue, empty_at)| {
                        !queue.is_empty()
                            || empty_at.is_some_and(|empty_at| empty_at.nanos_since(ts) > margin)
                    });
            if !safe {
                break;
            }
            let Some(queued) = self.queues[index].pop_front() else {
                break;
            };
            handle(&Frame {
                ts: queued.ts,
                link: queued.link,
                data: &queued.data,
                orig_len: queued.orig_len,
                interface: queued.interface,
                offset: queued.offset,
            });
            self.spare.push(queued.data);
            released += 1;
        }
        released
    }
}

fn wall_clock() -> Timestamp {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp(now.as_nanos().min(i64::MAX as u128) as i64)
}

/// Returns the capture time the engine may advance to while no packet
/// arrives: the wall clock, [`QUIET_CLOCK_LAG`] behind.
fn quiet_clock() -> Timestamp {
    let lag = QUIET_CLOCK_LAG.as_nanos() as i64;
    Timestamp(wall_clock().0.saturating_sub(lag))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(ts: i64, interface: u32) -> QueuedFrame {
        QueuedFrame {
            ts: Timestamp(ts),
            link: LinkType::ETHERNET,
            data: vec![interface as u8],
            orig_len: 1,
            interface,
            offset: u64::from(interface),
        }
    }

    fn released(merge: &mut Merge, all: bool) -> Vec<(i64, u32)> {
        let mut order = Vec::new();
        merge.release(all, |frame| order.push((frame.ts.0, frame.interface)));
        order
    }

    #[test]
    fn merge_orders_by_capture_time() {
        let mut merge = Merge::new(2, Duration::from_millis(10));
        merge.queues[0].extend([queued(10, 0), queued(30, 0)]);
        merge.queues[1].extend([queued(20, 1), queued(40, 1)]);
        merge.empty_at = vec![Some(Timestamp(1_000_000_000)); 2];
        assert_eq!(
            released(&mut merge, false),
            [(10, 0), (20, 1), (30, 0), (40, 1)]
        );
        assert!(merge.is_empty());
        assert_eq!(merge.spare.len(), 4, "buffers kept for reuse");
    }

    #[test]
    fn merge_waits_for_quiet_interface() {
        let mut merge = Merge::new(2, Duration::from_millis(10));
        let ts = 5_000_000_000;
        merge.queues[0].push_back(queued(ts, 0));

        // Interface 1 was never found empty: a frame of it may still come
        // with an earlier time.
        assert!(released(&mut merge, false).is_empty());

        // Found empty only 5 ms after the frame: within the margin.
        merge.empty_at[1] = Some(Timestamp(ts + 5_000_000));
        assert!(released(&mut merge, false).is_empty());

        merge.empty_at[1] = Some(Timestamp(ts + 11_000_000));
        assert_eq!(released(&mut merge, false), [(ts, 0)]);
    }

    #[test]
    fn merge_releases_all_when_stopping() {
        let mut merge = Merge::new(3, Duration::from_millis(10));
        merge.queues[2].extend([queued(7, 2), queued(3, 2)]);
        merge.queues[0].push_back(queued(5, 0));
        // Each queue keeps its arrival order; heads are compared.
        assert_eq!(released(&mut merge, true), [(5, 0), (7, 2), (3, 2)]);
    }
}
