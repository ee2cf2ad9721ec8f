//! Progress bar for long reads: bytes read, packets per second and the time
//! left, drawn on standard error with indicatif.
//!
//! The bar is drawn only when standard error is a terminal and output is not
//! quiet, and only once a read has taken longer than [`SHOW_AFTER`], so small
//! files finish without a flash. When standard error is a pipe or a file,
//! nothing at all is written. Colour follows the console crate's rules, which
//! honour `NO_COLOR`.
//!
//! ```no_run
//! use exflow::i18n::Lang;
//! use exflow::report::progress::Progress;
//!
//! let progress = Progress::start(Some(1 << 30), Lang::En, false);
//! progress.advance(1514, 1); // after each frame or batch of frames
//! progress.finish();
//! ```

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use super::summary::text::group_digits;
use crate::i18n::{Lang, message};

/// How long a read runs before the bar appears.
pub const SHOW_AFTER: Duration = Duration::from_millis(500);

/// Redraws per second: often enough to look alive, rarely enough to cost
/// nothing next to packet decoding.
const REFRESH_HZ: u8 = 8;

/// Creates the draw target once the bar is due to appear.
type TargetFactory = Box<dyn Fn() -> ProgressDrawTarget + Send + Sync>;

/// A progress bar the pipeline advances as it reads. Cheap to call from any
/// thread: [`Progress::advance`] adds to two atomic counters and, at most
/// eight times a second, redraws.
pub struct Progress {
    bar: ProgressBar,
    packets: Arc<AtomicU64>,
    /// Set when the bar may be shown; `None` for a bar that never shows.
    reveal: Option<Reveal>,
}

struct Reveal {
    at: Instant,
    done: AtomicBool,
    target: TargetFactory,
}

impl Progress {
    /// Starts a bar for reading `total_bytes` (`None` when the size is unknown,
    /// as for standard input). It is drawn on standard error only when that is
    /// a terminal and `quiet` is false.
    pub fn start(total_bytes: Option<u64>, lang: Lang, quiet: bool) -> Progress {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress::hidden();
        }
        Progress::with_target(
            total_bytes,
            lang,
            SHOW_AFTER,
            Box::new(|| ProgressDrawTarget::stderr_with_hz(REFRESH_HZ)),
        )
    }

    /// Returns a bar that never draws.
    pub fn hidden() -> Progress {
        Progress {
            bar: ProgressBar::hidden(),
            packets: Arc::new(AtomicU64::new(0)),
            reveal: None,
        }
    }

    /// Starts a bar that draws to the target `target` creates, once `delay`
    /// has passed.
    fn with_target(
        total_bytes: Option<u64>,
        lang: Lang,
        delay: Duration,
        target: TargetFactory,
    ) -> Progress {
        let packets = Arc::new(AtomicU64::new(0));
        let bar = ProgressBar::with_draw_target(total_bytes, ProgressDrawTarget::hidden());
        bar.set_style(style(total_bytes.is_some(), lang, Arc::clone(&packets)));
        Progress {
            bar,
            packets,
            reveal: Some(Reveal {
                at: Instant::now() + delay,
                done: AtomicBool::new(false),
                target,
            }),
        }
    }

    /// Records `bytes` more bytes read and `packets` more packets decoded.
    pub fn advance(&self, bytes: u64, packets: u64) {
        self.packets.fetch_add(packets, Ordering::Relaxed);
        if let Some(reveal) = &self.reveal
            && !reveal.done.load(Ordering::Relaxed)
            && Instant::now() >= reveal.at
            && !reveal.done.swap(true, Ordering::AcqRel)
        {
            self.bar.set_draw_target((reveal.target)());
        }
        self.bar.inc(bytes);
    }

    /// Removes the bar from the terminal; the summary that follows starts on
    /// a clean line.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    /// Returns true once the bar draws somewhere.
    pub fn is_visible(&self) -> bool {
        !self.bar.is_hidden()
    }
}

/// Returns the bar's style: bytes, a bar, packets per second and the time
/// left when the total is known; bytes, rate and time spent otherwise.
fn style(known_total: bool, lang: Lang, packets: Arc<AtomicU64>) -> ProgressStyle {
    let key = if known_total {
        "report.progress.known"
    } else {
        "report.progress.unknown"
    };
    let unit = message(lang, "report.progress.packets_per_second", &[]);
    let rate = move |state: &ProgressState, out: &mut dyn std::fmt::Write| {
        let seconds = state.elapsed().as_secs_f64();
        let count = packets.load(Ordering::Relaxed) as f64;
        let per_second = if seconds > 0.0 { count / seconds } else { 0.0 };
        let _ = write!(out, "{} {unit}", group_digits(per_second.round() as u64));
    };
    let template = message(lang, key, &[]);
    // NOTE: a template broken in the message tables falls back to the default
    // style rather than failing a run; the tests check both templates parse.
    ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
        .with_key("packet_rate", rate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use indicatif::TermLike;
    use std::sync::Mutex;

    /// A terminal that records what is written to it.
    #[derive(Clone, Debug, Default)]
    struct RecordingTerm {
        written: Arc<Mutex<String>>,
    }

    impl TermLike for RecordingTerm {
        fn width(&self) -> u16 {
            100
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, line: &str) -> std::io::Result<()> {
            self.write_str(line)?;
            self.write_str("\n")
        }
        fn write_str(&self, text: &str) -> std::io::Result<()> {
            self.written.lock().unwrap().push_str(text);
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn recorded_progress(
        total: Option<u64>,
        lang: Lang,
        delay: Duration,
    ) -> (Progress, RecordingTerm) {
        let term = RecordingTerm::default();
        let factory_term = term.clone();
        let progress = Progress::with_target(
            total,
            lang,
            delay,
            Box::new(move || ProgressDrawTarget::term_like(Box::new(factory_term.clone()))),
        );
        (progress, term)
    }

    #[test]
    fn templates_parse_in_both_languages() {
        for lang in [Lang::En, Lang::Ja] {
            for key in ["report.progress.known", "report.progress.unknown"] {
                let template = message(lang, key, &[]);
                assert!(
                    ProgressStyle::with_template(&template).is_ok(),
                    "{lang:?} {key}: {template:?}"
                );
            }
        }
    }

    #[test]
    fn quiet_bar_is_hidden() {
        let progress = Progress::start(Some(1000), Lang::En, true);
        progress.advance(500, 3);
        assert!(!progress.is_visible());
        progress.finish();
    }

    #[test]
    fn bar_shows_bytes_rate_and_time_left() {
        let (progress, term) = recorded_progress(Some(10 * 1024 * 1024), Lang::En, Duration::ZERO);
        std::thread::sleep(Duration::from_millis(20));
        progress.advance(3 * 1024 * 1024, 2500);
        assert!(progress.is_visible());
        let drawn = term.written.lock().unwrap().clone();
        assert!(drawn.contains("3.00 MiB"), "{drawn:?}");
        assert!(drawn.contains("10.00 MiB"), "{drawn:?}");
        assert!(drawn.contains("packets/s"), "{drawn:?}");
        assert!(drawn.contains("ETA"), "{drawn:?}");
    }

    #[test]
    fn japanese_bar_is_localised() {
        let (progress, term) = recorded_progress(None, Lang::Ja, Duration::ZERO);
        progress.advance(2048, 2);
        let drawn = term.written.lock().unwrap().clone();
        assert!(drawn.contains("パケット/秒"), "{drawn:?}");
        assert!(drawn.contains("2.00 KiB"), "{drawn:?}");
    }

    #[test]
    fn bar_waits_before_showing() {
        let (progress, term) = recorded_progress(Some(1000), Lang::En, Duration::from_secs(3600));
        progress.advance(100, 1);
        progress.finish();
        assert!(!progress.is_visible());
        assert_eq!(*term.written.lock().unwrap(), "");
    }
}
