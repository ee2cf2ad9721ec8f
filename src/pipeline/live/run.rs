//! The threads of a live capture: one per interface, all feeding one
//! [`LiveEngine`], so that a flow seen on two interfaces is one flow.
//!
//! Each thread reads its interface with [`LiveCapture::dispatch`] and runs the
//! engine on each frame while it still borrows libpcap's buffer, under the
//! engine's lock. Records leave through one bounded channel in the order the
//! engine made them. A full channel (the output is slower than the link) makes
//! the threads wait, and the kernel then drops packets and counts them, which
//! the statistics report.
//!
//! The engine is only touched under its lock and only by the capture threads
//! until they end, so the consumer of the channel never waits for the lock while
//! a thread waits for the consumer. Statistics are asked for with a flag and
//! come back through the channel, in order with the records.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender};

use super::{LatencyScope, LiveEngine, LiveEvent, LiveStats};
use crate::capture::Timestamp;
use crate::capture::live::{InterfaceCounters, LiveCapture, LiveError};

/// Maximum number of messages waiting for the consumer. At a few hundred
/// bytes per record it bounds the queue to a few MiB.
pub const MESSAGE_QUEUE: usize = 16 * 1024;

/// Maximum number of packets one `pcap_dispatch` call hands over, so that
/// a busy thread still looks at its stop and statistics flags often.
const DISPATCH_BATCH: usize = 1024;

/// How far behind the wall clock the quiet-link clock runs. A packet still in
/// another interface's buffer has a capture time up to this far back, and the
/// engine must not time its flow out before it is read.
const QUIET_CLOCK_LAG: Duration = Duration::from_secs(1);

/// How often each thread reads libpcap's counters.
const COUNTER_INTERVAL: Duration = Duration::from_secs(1);

/// How long a thread keeps reading the packets already in its buffer after a
/// stop request.
const DRAIN_LIMIT: Duration = Duration::from_secs(1);

/// What the capture threads send to the consumer.
#[derive(Debug)]
pub enum LiveMessage {
    Event(LiveEvent),
    /// The answer to [`LiveRun::request_stats`].
    Stats(LiveStats),
}

/// How a live run ended.
#[derive(Debug)]
pub struct LiveOutcome {
    /// Errors that ended capture threads, in interface order.
    pub errors: Vec<LiveError>,
    /// Counters after every flow was flushed, latency over the whole run.
    pub stats: LiveStats,
    pub interfaces: Vec<InterfaceCounters>,
}

/// State the capture threads share.
struct Shared {
    engine: Mutex<LiveEngine>,
    stop: AtomicBool,
    stats_requested: AtomicBool,
    counters: Mutex<Vec<InterfaceCounters>>,
}

/// Running capture threads. See the module documentation.
pub struct LiveRun {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<Result<(), LiveError>>>,
    messages: Receiver<LiveMessage>,
}

impl LiveRun {
    /// Starts one thread per capture. The captures' indices must be their
    /// positions in `captures`.
    pub fn start(captures: Vec<LiveCapture>, engine: LiveEngine) -> std::io::Result<LiveRun> {
        let shared = Arc::new(Shared {
            engine: Mutex::new(engine),
            stop: AtomicBool::new(false),
            stats_requested: AtomicBool::new(false),
            counters: Mutex::new(vec![InterfaceCounters::default(); captures.len()]),
        });
        let (sender, messages) = crossbeam_channel::bounded(MESSAGE_QUEUE);

        let mut threads = Vec::with_capacity(captures.len());
        for (index, capture) in captures.into_iter().enumerate() {
            let thread_shared = Arc::clone(&shared);
            let sender = sender.clone();
            let thread = std::thread::Builder::new()
                .name(format!("capture {}", capture.name()))
                .spawn(move || capture_loop(capture, index, &thread_shared, &sender));
            match thread {
                Ok(thread) => threads.push(thread),
                Err(error) => {
                    shared.stop.store(true, Ordering::Release);
                    return Err(error);
                }
            }
        }
        Ok(LiveRun {
            shared,
            threads,
            messages,
        })
    }

    /// Returns the channel the records and statistics come out of.
    pub fn messages(&self) -> &Receiver<LiveMessage> {
        &self.messages
    }

    /// Asks for a [`LiveMessage::Stats`]: the next capture thread that runs
    /// the engine sends one, with the latency since the previous request.
    pub fn request_stats(&self) {
        self.shared.stats_requested.store(true, Ordering::Release);
    }

    /// Returns libpcap's counters of each interface, at most a second old.
    pub fn interface_counters(&self) -> Vec<InterfaceCounters> {
        lock(&self.shared.counters).clone()
    }

    /// Returns true when a capture thread ended without being asked to: its
    /// interface failed.
    pub fn capture_failed(&self) -> bool {
        self.threads.iter().any(JoinHandle::is_finished)
    }

    /// Stops capturing, passes every message still queued and the records of
    /// every open flow to `out`, and returns the final counters.
    pub fn stop(self, out: &mut impl FnMut(LiveMessage)) -> LiveOutcome {
        self.shared.stop.store(true, Ordering::Release);
        // The threads drop their senders as they end, which ends this loop.
        for message in self.messages.iter() {
            out(message);
        }

        let mut errors = Vec::new();
        for thread in self.threads {
            match thread.join() {
                Ok(Ok(())) => {}
                Ok(Err(error)) => errors.push(error),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }

        let mut engine = lock(&self.shared.engine);
        engine.finish(&mut |event| out(LiveMessage::Event(event)));
        let stats = engine.stats(LatencyScope::Run);
        LiveOutcome {
            errors,
            stats,
            interfaces: lock(&self.shared.counters).clone(),
        }
    }
}

/// Reads one interface until a stop request or an error.
fn capture_loop(
    mut capture: LiveCapture,
    index: usize,
    shared: &Shared,
    sender: &Sender<LiveMessage>,
) -> Result<(), LiveError> {
    // A send fails only when the consumer is gone, and then nobody wants the
    // record.
    let mut send = |event| {
        let _ = sender.send(LiveMessage::Event(event));
    };
    let mut counters_read = Instant::now();
    let mut drain_until: Option<Instant> = None;

    let result = loop {
        let handled = match capture.dispatch(DISPATCH_BATCH, |frame| {
            lock(&shared.engine).on_frame(frame, &mut send);
        }) {
            Ok(handled) => handled,
            Err(error) => break Err(error),
        };

        let quiet = handled == 0;
        let stats_requested = shared.stats_requested.swap(false, Ordering::AcqRel);
        if quiet || stats_requested {
            let mut engine = lock(&shared.engine);
            if quiet {
                engine.advance_to(quiet_clock(), &mut send);
            }
            if stats_requested {
                let stats = engine.stats(LatencyScope::Interval);
                let _ = sender.send(LiveMessage::Stats(stats));
            }
        }

        if counters_read.elapsed() >= COUNTER_INTERVAL {
            counters_read = Instant::now();
            publish_counters(&mut capture, index, shared);
        }

        if shared.stop.load(Ordering::Acquire) {
            let until = *drain_until.get_or_insert_with(|| Instant::now() + DRAIN_LIMIT);
            if quiet || Instant::now() >= until {
                break Ok(());
            }
        }
    };
    publish_counters(&mut capture, index, shared);
    result
}

fn publish_counters(capture: &mut LiveCapture, index: usize, shared: &Shared) {
    match capture.counters() {
        Ok(counters) => {
            if let Some(slot) = lock(&shared.counters).get_mut(index) {
                *slot = counters;
            }
        }
        Err(error) => log::debug!("{error}"),
    }
}

/// Returns the capture time the engine may advance to while no packet
/// arrives: the wall clock, [`QUIET_CLOCK_LAG`] behind.
fn quiet_clock() -> Timestamp {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .saturating_sub(QUIET_CLOCK_LAG);
    Timestamp(now.as_nanos().min(i64::MAX as u128) as i64)
}

/// Locks a mutex. A thread that panicked while holding it leaves its data as
/// it was; the panic itself reaches [`LiveRun::stop`] through the thread's
/// join handle.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
