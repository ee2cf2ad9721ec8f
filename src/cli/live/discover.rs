//! `exflow live --discover`: watch the interfaces for a time window, or until
//! SIGINT or SIGTERM, and propose a site file from the flows seen, as
//! `exflow discover` does for captures.
//!
//! The capture runs as in `exflow live`, with the built-in matrix and no site,
//! and every final flow record goes to the [`Discovery`] of the offline
//! command instead of the output. When the window ends or a signal arrives,
//! the open flows end as at the end of a capture file and count too. So a
//! window over replayed traffic proposes the file `exflow discover` proposes
//! for a capture of it.
//!
//! The output file is created before root is dropped and written once, at
//! the end. A second SIGINT or SIGTERM ends exflow at once with status 1 and
//! leaves the file empty.

use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;

use super::super::LiveArgs;
use super::super::analyze::Status;
use super::super::discover::{SiteOutput, parse_internal, print_summary, report_write_error};
use super::{
    DropWatch, POLL_INTERVAL, Signals, become_user, describe_filter, describe_interfaces,
    interface_count_valid, live_engine, live_error, open_interfaces, print_drop_warning,
    report_start_error,
};
use crate::discover::{Discovery, DiscoveryConfig};
use crate::i18n::{Lang, message};
use crate::pipeline::live::RecordKind;
use crate::pipeline::live::run::{LiveMessage, LiveRun};
use crate::policy::Policy;
use crate::report::summary::text::group_digits;

/// Maximum `--window`: 365 days.
const MAX_WINDOW_SECONDS: u64 = 365 * 86_400;

/// The reason the capture stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// The window ended.
    Window,
    /// SIGINT or SIGTERM arrived.
    Signal,
    /// An interface failed. Its error is printed when the run stops.
    CaptureFailed,
}

/// Runs `exflow live --discover`.
pub(super) fn run(args: &LiveArgs, lang: Lang, quiet: bool) -> Status {
    let window = match &args.window {
        Some(text) => match parse_window(text) {
            Some(window) => Some(window),
            None => {
                let error = message(lang, "live.discover.invalid_window", &[("value", text)]);
                stderr_line!("exflow: {error}");
                return Status::Error;
            }
        },
        None => None,
    };
    let Some(internal) = parse_internal(&args.internal, lang) else {
        return Status::Error;
    };
    if !interface_count_valid(args, lang) {
        return Status::Error;
    }
    // Discovery reads flows, not verdicts: the built-in matrix without a
    // site judges every flow, and the judgements are dropped.
    let policy = match Policy::load(None, None) {
        Ok(policy) => policy,
        Err(error) => {
            super::super::report_policy_error(&error, lang);
            return Status::Error;
        }
    };
    let Some(signals) = Signals::install_or_report(lang) else {
        return Status::Error;
    };

    // Everything that needs privileges: the interfaces, then the output.
    let Some(captures) = open_interfaces(args, lang) else {
        return Status::Error;
    };
    let output = match SiteOutput::open(args.output.as_deref()) {
        Ok(output) => output,
        Err(error) => return report_write_error(lang, args.output.as_deref(), &error),
    };
    let Some(identity) = become_user(args, lang, quiet) else {
        return Status::Error;
    };

    let mut discovery = Discovery::new(DiscoveryConfig { internal });
    for name in &args.interfaces {
        discovery.add_source(&message(
            lang,
            "live.discover.source",
            &[("interface", name)],
        ));
    }
    if !quiet {
        let interfaces = describe_interfaces(&captures);
        let filter = describe_filter(args, lang);
        let user = identity.describe();
        let output = match (&output, &args.output) {
            (SiteOutput::File(_), Some(path)) => path.display().to_string(),
            _ => message(lang, "live.standard_output", &[]),
        };
        let mut values = vec![
            ("interfaces", interfaces.as_str()),
            ("filter", filter.as_str()),
            ("output", output.as_str()),
            ("user", user.as_str()),
        ];
        let window_text = window.map(describe_window);
        let key = match &window_text {
            Some(text) => {
                values.push(("window", text));
                "live.discover.started_window"
            }
            None => "live.discover.started",
        };
        stderr_line!("exflow: {}", message(lang, key, &values));
    }

    // Flow records only; the engine writes no interim records.
    let engine = live_engine(args, policy, None);
    let run = match LiveRun::start(captures, engine) {
        Ok(run) => run,
        Err(error) => {
            report_start_error(lang, &error);
            return Status::Error;
        }
    };
    let deadline = window.and_then(|window| Instant::now().checked_add(window));
    let ending = watch(&run, &signals, &mut discovery, deadline, args, lang, quiet);

    if !quiet {
        let stopping = match (ending, window) {
            (Ending::Window, Some(window)) => message(
                lang,
                "live.discover.window_ended",
                &[("window", &describe_window(window))],
            ),
            _ => message(lang, "live.discover.stopping", &[]),
        };
        stderr_line!("exflow: {stopping}");
    }
    let outcome = run.stop(&mut |message| add_flow(&mut discovery, message));
    let mut status = match ending {
        Ending::CaptureFailed => Status::Error,
        Ending::Window | Ending::Signal => Status::Success,
    };
    if let Some(error) = &outcome.error {
        stderr_line!("exflow: {}", live_error(lang, error));
        status = Status::Error;
    }
    if !quiet {
        for (name, counters) in args.interfaces.iter().zip(&outcome.interfaces) {
            stderr_line!(
                "exflow: {}",
                message(
                    lang,
                    "live.stats.interface",
                    &[
                        ("interface", name),
                        ("received", &group_digits(counters.received)),
                        ("kernel_drops", &group_digits(counters.kernel_drops)),
                        ("interface_drops", &group_digits(counters.interface_drops)),
                    ]
                )
            );
        }
    }

    let inventory = discovery.inventory();
    let text = discovery.render_inventory(&inventory, lang);
    if let Err(error) = output.write(&text) {
        return report_write_error(lang, args.output.as_deref(), &error).max(status);
    }
    if !quiet {
        print_summary(lang, &discovery, &inventory);
    }
    status
}

/// Passes the final flow records of the capture to `discovery` until the
/// window ends, a signal arrives or the capture fails.
fn watch(
    run: &LiveRun,
    signals: &Signals,
    discovery: &mut Discovery,
    deadline: Option<Instant>,
    args: &LiveArgs,
    lang: Lang,
    quiet: bool,
) -> Ending {
    let mut drops = DropWatch::default();
    loop {
        let wait = deadline.map_or(POLL_INTERVAL, |deadline| {
            deadline
                .saturating_duration_since(Instant::now())
                .min(POLL_INTERVAL)
        });
        match run.messages().recv_timeout(wait) {
            Ok(first) => {
                add_flow(discovery, first);
                while let Ok(next) = run.messages().try_recv() {
                    add_flow(discovery, next);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ending::CaptureFailed,
        }

        if signals.stop.load(std::sync::atomic::Ordering::Acquire) {
            return Ending::Signal;
        }
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return Ending::Window;
        }
        if run.capture_failed() {
            return Ending::CaptureFailed;
        }
        if !quiet {
            let counters = run.interface_counters();
            for warning in drops.check(&counters, Instant::now()) {
                print_drop_warning(lang, &args.interfaces, &warning);
            }
        }
    }
}

/// Adds the flow of a final record to `discovery`. Alerts, interim records
/// and statistics carry nothing discovery needs.
fn add_flow(discovery: &mut Discovery, message: LiveMessage) {
    if let LiveMessage::Event(event) = message
        && event.kind == RecordKind::Flow
    {
        discovery.add(&event.flow);
    }
}

/// Parses a `--window`: a whole number with the unit `s`, `m`, `h` or `d`,
/// or without one for seconds, from 1 second to [`MAX_WINDOW_SECONDS`].
fn parse_window(text: &str) -> Option<Duration> {
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return None,
    };
    let seconds = number.checked_mul(scale)?;
    (1..=MAX_WINDOW_SECONDS)
        .contains(&seconds)
        .then(|| Duration::from_secs(seconds))
}

/// Writes a window in the largest unit that divides it: `90s`, `30m`, `8h`.
fn describe_window(window: Duration) -> String {
    let seconds = window.as_secs();
    for (unit, scale) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if seconds.is_multiple_of(scale) {
            return format!("{}{unit}", seconds / scale);
        }
    }
    format!("{seconds}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_takes_units() {
        let cases = [
            ("45", 45),
            ("90s", 90),
            ("30m", 1_800),
            ("8h", 28_800),
            ("7d", 604_800),
            ("365d", MAX_WINDOW_SECONDS),
        ];
        for (text, seconds) in cases {
            assert_eq!(
                parse_window(text),
                Some(Duration::from_secs(seconds)),
                "{text}"
            );
        }
    }

    #[test]
    fn window_rejects_invalid_values() {
        for text in [
            "",
            "0",
            "0s",
            "s",
            "-5",
            "1.5h",
            "10 m",
            "5w",
            "1h30m",
            "366d",
            " 5",
            "5S",
            "99999999999999999999",
        ] {
            assert_eq!(parse_window(text), None, "{text:?}");
        }
    }

    #[test]
    fn window_is_described_in_largest_unit() {
        let cases = [
            (45, "45s"),
            (90, "90s"),
            (120, "2m"),
            (5_400, "90m"),
            (7_200, "2h"),
            (172_800, "2d"),
        ];
        for (seconds, text) in cases {
            assert_eq!(describe_window(Duration::from_secs(seconds)), text);
        }
    }
}
