//! `exflow live`: watch interfaces around the clock, write an alert the moment
//! a flow is judged `unexpected` and a record when each flow ends.
//!
//! Startup runs in a fixed order: load the policy, open every interface and
//! the output, then drop root (see [`privileges`]), and only then start the
//! capture thread. So a wrong interface, filter, permission or output path
//! fails before any packet is read, and no packet is read as root.
//!
//! The main thread writes what the capture thread sends, and watches signals
//! and the drop counters. SIGINT and SIGTERM stop capturing, flush every open
//! flow as a record, write the final statistics and exit 0; a second one ends
//! exflow at once with status 1. SIGHUP reopens the output file.
//!
//! With `--discover` the same capture feeds site discovery instead, and the
//! output is one site file written at the end (see [`discover`]).

mod discover;
mod output;
mod privileges;

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;

use super::analyze::{Status, check_outputs, engine_configs, flow_id, judged, output_file};
use super::{FormatArg, LiveArgs};
use crate::capture::live::{
    InterfaceCounters, LiveCapture, LiveError, LiveOptions, MAX_INTERFACES, interface_of_offset,
};
use crate::i18n::{Lang, message};
use crate::pipeline::live::run::{LiveMessage, LiveRun};
use crate::pipeline::live::{LiveConfig, LiveEngine, LiveEvent, LiveStats, RecordKind};
use crate::policy::Policy;
use crate::report::build::flow_record;
use crate::report::messages;
use crate::report::summary::text::{group_digits, human_bytes};
use output::{LiveFormat, RecordSink, StatsRecord};
use privileges::{DEFAULT_USER, Identity, PrivilegeError, drop_privileges};

/// How long the main thread waits for a record before it looks at signals,
/// statistics and drops again.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Minimum time between two drop warnings for one interface.
const DROP_WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// Runs `exflow live`.
pub fn run(args: &LiveArgs, lang: Lang, quiet: bool) -> Status {
    let inputs: Vec<&std::path::Path> = [args.policy.site.as_deref(), args.policy.rules.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    // Standard output, when the records go there, is checked like `-o`, so
    // that `>> site.toml` cannot append records to the site file.
    let output = args.output.as_deref();
    let stdout_used = output_file(output).is_none();
    if let Err(status) = check_outputs(&[("-o", output)], stdout_used, &inputs, lang) {
        return status;
    }
    if args.discover {
        return discover::run(args, lang, quiet);
    }
    let started = Instant::now();
    let format = match args.format {
        None | Some(FormatArg::Jsonl) => LiveFormat::Jsonl,
        Some(FormatArg::Csv) => LiveFormat::Csv,
        Some(FormatArg::Summary) => {
            stderr_line!(
                "exflow: {}",
                message(lang, "live.error.summary_format", &[])
            );
            return Status::Error;
        }
    };
    if !interface_count_valid(args, lang) {
        return Status::Error;
    }

    let policy = match Policy::load(args.policy.rules.as_deref(), args.policy.site.as_deref()) {
        Ok(policy) => policy,
        Err(error) => {
            super::report_policy_error(&error, lang);
            return Status::Error;
        }
    };
    for warning in policy.warnings() {
        stderr_line!("{}", warning.render(lang));
    }
    let Some(signals) = Signals::install_or_report(lang) else {
        return Status::Error;
    };

    // Everything that needs privileges: the interfaces, then the output.
    let Some(captures) = open_interfaces(args, lang) else {
        return Status::Error;
    };
    let sink = match RecordSink::open(args.output.as_deref(), format) {
        Ok(sink) => sink,
        Err(error) => {
            let path = args
                .output
                .as_deref()
                .map(|path| path.display().to_string())
                .unwrap_or_default();
            report_output_error(lang, &path, &error);
            return Status::Error;
        }
    };
    let Some(identity) = become_user(args, lang, quiet) else {
        return Status::Error;
    };

    let names: Vec<String> = args.interfaces.clone();
    if !quiet {
        let output = match sink.path() {
            Some(path) => path.display().to_string(),
            None => message(lang, "live.standard_output", &[]),
        };
        let interfaces = describe_interfaces(&captures);
        let filter = describe_filter(args, lang);
        let user = identity.describe();
        stderr_line!(
            "exflow: {}",
            message(
                lang,
                "live.started",
                &[
                    ("interfaces", &interfaces),
                    ("filter", &filter),
                    ("output", &output),
                    ("user", &user),
                ]
            )
        );
    }
    let interim_interval =
        (args.interim_interval > 0).then(|| Duration::from_secs(u64::from(args.interim_interval)));
    let engine = live_engine(args, policy, interim_interval);
    let run = match LiveRun::start(captures, engine) {
        Ok(run) => run,
        Err(error) => {
            report_start_error(lang, &error);
            return Status::Error;
        }
    };

    let mut writer = Writer {
        sink,
        names,
        lang,
        quiet,
        started,
        interfaces: Vec::new(),
        failed: None,
    };
    let status = watch(&run, &signals, &mut writer, args.stats_interval);
    finish(run, &mut writer, status)
}

/// Returns false, after printing why, when more interfaces were given than a
/// capture can merge.
fn interface_count_valid(args: &LiveArgs, lang: Lang) -> bool {
    if args.interfaces.len() <= MAX_INTERFACES {
        return true;
    }
    let count = args.interfaces.len().to_string();
    let max = MAX_INTERFACES.to_string();
    stderr_line!(
        "exflow: {}",
        message(
            lang,
            "live.error.too_many_interfaces",
            &[("count", &count), ("max", &max)]
        )
    );
    false
}

/// Opens every `-i` interface with the capture options of `args`. Returns
/// `None` after printing the first failure.
fn open_interfaces(args: &LiveArgs, lang: Lang) -> Option<Vec<LiveCapture>> {
    let options = LiveOptions {
        filter: args.filter.clone(),
        snaplen: args.snaplen,
        buffer_bytes: args.buffer_size.saturating_mul(1024 * 1024),
        promiscuous: !args.no_promisc,
        immediate: args.immediate_mode,
    };
    let mut captures = Vec::with_capacity(args.interfaces.len());
    for (index, name) in args.interfaces.iter().enumerate() {
        // At most MAX_INTERFACES (256) interfaces, checked before.
        match LiveCapture::open(name, index as u8, &options) {
            Ok(capture) => captures.push(capture),
            Err(error) => {
                stderr_line!("exflow: {}", live_error(lang, &error));
                return None;
            }
        }
    }
    Some(captures)
}

/// Drops root for `--user` (see [`privileges`]). Returns `None` after
/// printing why it failed.
fn become_user(args: &LiveArgs, lang: Lang, quiet: bool) -> Option<Identity> {
    let user = args.user.as_deref().unwrap_or(DEFAULT_USER);
    let identity = match drop_privileges(user) {
        Ok(identity) => identity,
        Err(error) => {
            stderr_line!("exflow: {}", privilege_error(lang, &error));
            return None;
        }
    };
    if let (Some(user), Identity::Unchanged { .. }) = (&args.user, &identity)
        && !quiet
    {
        let current = identity.describe();
        stderr_line!(
            "exflow: {}",
            message(
                lang,
                "live.warning.user_ignored",
                &[("user", user), ("current", &current)]
            )
        );
    }
    Some(identity)
}

/// Builds the flow engine from the engine options of `args`.
fn live_engine(args: &LiveArgs, policy: Policy, interim_interval: Option<Duration>) -> LiveEngine {
    let (decoder, flows) = engine_configs(&args.engine);
    let config = LiveConfig {
        decoder,
        flows,
        interim_interval,
    };
    LiveEngine::new(config, policy)
}

/// Writes records until a signal requests a stop, the capture fails or the
/// output fails. Returns the exit status so far.
fn watch(run: &LiveRun, signals: &Signals, writer: &mut Writer, stats_interval: u32) -> Status {
    let stats_every = (stats_interval > 0).then(|| Duration::from_secs(u64::from(stats_interval)));
    let mut next_stats = stats_every.map(|every| Instant::now() + every);
    let mut drops = DropWatch::default();

    loop {
        match run.messages().recv_timeout(POLL_INTERVAL) {
            Ok(first) => {
                writer.interfaces = run.interface_counters();
                writer.message(first);
                while let Ok(next) = run.messages().try_recv() {
                    writer.message(next);
                }
                writer.flush();
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Status::Error,
        }
        if let Some(status) = writer.failed {
            return status;
        }

        if signals.reopen.swap(false, Ordering::AcqRel) {
            writer.reopen();
        }
        if signals.stop.load(Ordering::Acquire) {
            return Status::Success;
        }
        if run.capture_failed() {
            return Status::Error;
        }
        if let (Some(due), Some(every)) = (next_stats, stats_every)
            && Instant::now() >= due
        {
            run.request_stats();
            next_stats = Some(due + every);
        }
        writer.interfaces = run.interface_counters();
        if !writer.quiet {
            for warning in drops.check(&writer.interfaces, Instant::now()) {
                print_drop_warning(writer.lang, &writer.names, &warning);
            }
        }
    }
}

/// Stops the capture, writes the records of every open flow and the final
/// statistics, and returns the exit status.
fn finish(run: LiveRun, writer: &mut Writer, status: Status) -> Status {
    if !writer.quiet {
        stderr_line!("exflow: {}", message(writer.lang, "live.stopping", &[]));
    }
    let outcome = run.stop(&mut |message| writer.message(message));
    let mut status = status;
    if let Some(error) = &outcome.error {
        stderr_line!("exflow: {}", live_error(writer.lang, error));
        status = Status::Error;
    }
    writer.interfaces = outcome.interfaces.clone();
    writer.stats(&outcome.stats, true);
    writer.flush();

    if let Some(failed) = writer.failed {
        status = status.max(failed);
    }
    status
}

/// The flags the signal handlers set.
struct Signals {
    /// SIGINT or SIGTERM arrived.
    stop: Arc<AtomicBool>,
    /// SIGHUP arrived and the output was not reopened yet.
    reopen: Arc<AtomicBool>,
}

impl Signals {
    /// Installs the handlers. Returns `None` after printing why they could
    /// not be installed.
    fn install_or_report(lang: Lang) -> Option<Signals> {
        match Signals::install() {
            Ok(signals) => Some(signals),
            Err(error) => {
                let error = error.to_string();
                stderr_line!(
                    "exflow: {}",
                    message(lang, "live.error.signals", &[("error", &error)])
                );
                None
            }
        }
    }

    fn install() -> io::Result<Signals> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        use signal_hook::flag;

        let stop = Arc::new(AtomicBool::new(false));
        let reopen = Arc::new(AtomicBool::new(false));
        for signal in [SIGINT, SIGTERM] {
            // Registered first, so it reads the flag before the second handler
            // sets it. Only a second signal ends the process at once.
            flag::register_conditional_shutdown(signal, 1, Arc::clone(&stop))?;
            flag::register(signal, Arc::clone(&stop))?;
        }
        flag::register(SIGHUP, Arc::clone(&reopen))?;
        Ok(Signals { stop, reopen })
    }
}

/// Turns the capture thread's messages into records and lines on standard
/// error.
struct Writer {
    sink: RecordSink,
    /// Interface names, in `-i` order.
    names: Vec<String>,
    lang: Lang,
    quiet: bool,
    started: Instant,
    /// libpcap's counters as last read.
    interfaces: Vec<InterfaceCounters>,
    /// The status of the first output failure; nothing is written after it.
    failed: Option<Status>,
}

impl Writer {
    fn message(&mut self, message: LiveMessage) {
        match message {
            LiveMessage::Event(event) => self.event(&event),
            LiveMessage::Stats(stats) => self.stats(&stats, false),
        }
    }

    fn event(&mut self, event: &LiveEvent) {
        let index = interface_of_offset(event.flow.first_offset);
        let source = self
            .names
            .get(index)
            .or(self.names.first())
            .map_or("", String::as_str);
        let mut record = flow_record(&event.flow, source, judged(&event.judgement));
        record.flow_id = flow_id(source, &event.flow);

        if event.kind == RecordKind::Alert && !self.quiet {
            let reason = event.judgement.reason.render(self.lang);
            let client = event.flow.client.to_string();
            let server = event.flow.server.to_string();
            let client_roles = record.client.roles.join(",");
            let server_roles = record.server.roles.join(",");
            stderr_line!(
                "exflow: {}",
                message(
                    self.lang,
                    "live.alert",
                    &[
                        ("verdict", &record.verdict),
                        ("transport", &record.transport),
                        ("client", &client),
                        ("server", &server),
                        ("client_roles", &client_roles),
                        ("server_roles", &server_roles),
                        ("interface", source),
                        ("reason", &reason),
                    ]
                )
            );
        }
        if self.failed.is_none() {
            let written = self.sink.write_flow(event.kind, &record);
            self.check(written);
        }
    }

    fn stats(&mut self, stats: &LiveStats, is_final: bool) {
        let uptime = self.started.elapsed().as_secs_f64();
        let record = StatsRecord::new(stats, &self.names, &self.interfaces, uptime, is_final);
        if !self.quiet {
            self.print_stats(&record);
        }
        if self.failed.is_none() {
            let written = self.sink.write_stats(&record);
            self.check(written);
        }
    }

    fn print_stats(&self, record: &StatsRecord) {
        let lang = self.lang;
        let latency = &record.latency_ns;
        let key = if record.is_final {
            "live.stats.final"
        } else {
            "live.stats"
        };
        stderr_line!(
            "exflow: {}",
            message(
                lang,
                key,
                &[
                    ("packets", &group_digits(record.packets)),
                    ("bytes", &human_bytes(record.bytes)),
                    ("active", &group_digits(record.active_flows)),
                    ("evictions", &group_digits(record.evictions)),
                    ("flows", &group_digits(record.records.flow)),
                    ("alerts", &group_digits(record.records.alert)),
                    ("p50", &micros(latency.p50)),
                    ("p99", &micros(latency.p99)),
                    ("max", &micros(latency.max)),
                ]
            )
        );
        for interface in &record.interfaces {
            stderr_line!(
                "exflow: {}",
                message(
                    lang,
                    "live.stats.interface",
                    &[
                        ("interface", &interface.name),
                        ("received", &group_digits(interface.received)),
                        ("kernel_drops", &group_digits(interface.kernel_drops)),
                        ("interface_drops", &group_digits(interface.interface_drops)),
                    ]
                )
            );
        }
    }

    fn reopen(&mut self) {
        if self.failed.is_some() {
            return;
        }
        let Some(path) = self.sink.path().map(|path| path.display().to_string()) else {
            return;
        };
        match self.sink.reopen() {
            Ok(_) => {
                if !self.quiet {
                    stderr_line!(
                        "exflow: {}",
                        message(self.lang, "live.reopened", &[("path", &path)])
                    );
                }
            }
            Err(error) => {
                let error = error.to_string();
                stderr_line!(
                    "exflow: {}",
                    message(
                        self.lang,
                        "live.error.reopen",
                        &[("path", &path), ("error", &error)]
                    )
                );
            }
        }
    }

    fn flush(&mut self) {
        if self.failed.is_none() {
            let flushed = self.sink.flush();
            self.check(flushed);
        }
    }

    /// Notes an output failure. A reader that closed the pipe ends the run
    /// with status 0, as `analyze` does; any other failure with status 2.
    fn check(&mut self, result: io::Result<()>) {
        let Err(error) = result else {
            return;
        };
        if error.kind() == io::ErrorKind::BrokenPipe {
            self.failed = Some(Status::Success);
            return;
        }
        stderr_line!(
            "exflow: {}",
            messages::output_write_failed(self.lang, self.sink.path(), &error)
        );
        self.failed = Some(Status::Error);
    }
}

/// Decides when an interface's drop counters rose enough to warn about: at
/// most once per [`DROP_WARNING_INTERVAL`] per interface, with the drops since
/// the previous warning.
#[derive(Default)]
struct DropWatch {
    /// Per interface: the counters at the last warning, and its time.
    warned: Vec<(InterfaceCounters, Option<Instant>)>,
}

/// Packets an interface dropped since the previous warning about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DropWarning {
    /// Position of the interface in `-i` order.
    interface: usize,
    kernel: u64,
    interface_drops: u64,
    /// The counters now, totals since the start.
    total: InterfaceCounters,
}

impl DropWatch {
    /// Returns the warnings due at `now` for the counters read last.
    fn check(&mut self, counters: &[InterfaceCounters], now: Instant) -> Vec<DropWarning> {
        self.warned
            .resize(counters.len(), (InterfaceCounters::default(), None));
        let mut warnings = Vec::new();
        for (interface, (current, (last, warned_at))) in
            counters.iter().zip(&mut self.warned).enumerate()
        {
            if warned_at.is_some_and(|at| now.duration_since(at) < DROP_WARNING_INTERVAL) {
                continue;
            }
            let kernel = current.kernel_drops.saturating_sub(last.kernel_drops);
            let interface_drops = current.interface_drops.saturating_sub(last.interface_drops);
            if kernel == 0 && interface_drops == 0 {
                continue;
            }
            warnings.push(DropWarning {
                interface,
                kernel,
                interface_drops,
                total: *current,
            });
            *last = *current;
            *warned_at = Some(now);
        }
        warnings
    }
}

fn print_drop_warning(lang: Lang, names: &[String], warning: &DropWarning) {
    let name = names.get(warning.interface).map_or("", String::as_str);
    let lines = [
        (
            "live.warning.kernel_drops",
            warning.kernel,
            warning.total.kernel_drops,
        ),
        (
            "live.warning.interface_drops",
            warning.interface_drops,
            warning.total.interface_drops,
        ),
    ];
    for (key, count, total) in lines {
        if count == 0 {
            continue;
        }
        stderr_line!(
            "exflow: {}",
            message(
                lang,
                key,
                &[
                    ("interface", name),
                    ("count", &group_digits(count)),
                    ("total", &group_digits(total)),
                ]
            )
        );
    }
}

/// Returns the interfaces with their link types, for the start message.
fn describe_interfaces(captures: &[LiveCapture]) -> String {
    let interfaces: Vec<String> = captures
        .iter()
        .map(|capture| format!("{} ({})", capture.name(), capture.link()))
        .collect();
    interfaces.join(", ")
}

/// Returns the capture filter, or a word for none, for the start message.
fn describe_filter(args: &LiveArgs, lang: Lang) -> String {
    match &args.filter {
        Some(filter) => filter.clone(),
        None => message(lang, "live.no_filter", &[]),
    }
}

fn report_output_error(lang: Lang, path: &str, error: &io::Error) {
    let error = error.to_string();
    stderr_line!(
        "exflow: {}",
        message(
            lang,
            "cli.error.output",
            &[("path", path), ("error", &error)]
        )
    );
}

/// Prints why the capture thread did not start.
fn report_start_error(lang: Lang, error: &io::Error) {
    let error = messages::io_error(lang, error);
    stderr_line!(
        "exflow: {}",
        message(lang, "live.error.start", &[("error", &error)])
    );
}

/// Renders an error of an interface in `lang`. The details from libpcap stay
/// as libpcap words them.
fn live_error(lang: Lang, error: &LiveError) -> String {
    if lang == Lang::En {
        return error.to_string();
    }
    match error {
        LiveError::InterfaceNotFound { interface } => message(
            lang,
            "live.error.interface_not_found",
            &[("interface", interface)],
        ),
        LiveError::PermissionDenied { interface, detail } => message(
            lang,
            "live.error.permission_denied",
            &[("interface", interface), ("detail", detail)],
        ),
        LiveError::InvalidFilter {
            interface,
            filter,
            detail,
        } => message(
            lang,
            "live.error.invalid_filter",
            &[
                ("interface", interface),
                ("filter", filter),
                ("detail", detail),
            ],
        ),
        LiveError::UnsupportedLink { interface, link } => message(
            lang,
            "live.error.unsupported_link",
            &[("interface", interface), ("link", &link.to_string())],
        ),
        LiveError::Open { interface, detail } => message(
            lang,
            "live.error.open",
            &[("interface", interface), ("detail", detail)],
        ),
        LiveError::Read { interface, detail } => message(
            lang,
            "live.error.read",
            &[("interface", interface), ("detail", detail)],
        ),
    }
}

/// Renders a failure to switch to the unprivileged user in `lang`.
fn privilege_error(lang: Lang, error: &PrivilegeError) -> String {
    if lang == Lang::En {
        return error.to_string();
    }
    match error {
        PrivilegeError::UserNotFound { user } => {
            message(lang, "live.error.user_not_found", &[("user", user)])
        }
        PrivilegeError::Lookup { user, source } => message(
            lang,
            "live.error.user_lookup",
            &[("user", user), ("error", &source.to_string())],
        ),
        PrivilegeError::Switch { user, call, source } => message(
            lang,
            "live.error.user_switch",
            &[
                ("user", user),
                ("call", call),
                ("error", &source.to_string()),
            ],
        ),
    }
}

/// Formats nanoseconds as microseconds with one decimal.
fn micros(nanos: u64) -> String {
    format!("{:.1} µs", nanos as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dropped(kernel_drops: u64, interface_drops: u64) -> InterfaceCounters {
        InterfaceCounters {
            received: 1_000,
            kernel_drops,
            interface_drops,
        }
    }

    #[test]
    fn live_errors_in_japanese() {
        let interface = || "eth9".to_string();
        let detail = || "libpcap detail".to_string();
        let cases = [
            (
                LiveError::InterfaceNotFound {
                    interface: interface(),
                },
                "インターフェイス eth9 が見つかりません",
            ),
            (
                LiveError::PermissionDenied {
                    interface: interface(),
                    detail: detail(),
                },
                "eth9 でキャプチャする権限がありません (libpcap detail)",
            ),
            (
                LiveError::InvalidFilter {
                    interface: interface(),
                    filter: "tcp port".to_string(),
                    detail: detail(),
                },
                "eth9 のキャプチャ フィルター \"tcp port\" が正しくありません: libpcap detail",
            ),
            (
                LiveError::UnsupportedLink {
                    interface: interface(),
                    link: crate::capture::LinkType(147),
                },
                "eth9: ",
            ),
            (
                LiveError::Open {
                    interface: interface(),
                    detail: detail(),
                },
                "eth9 を開けませんでした: libpcap detail",
            ),
            (
                LiveError::Read {
                    interface: interface(),
                    detail: detail(),
                },
                "eth9 からの読み込みに失敗しました: libpcap detail",
            ),
        ];
        for (error, expected) in cases {
            let japanese = live_error(Lang::Ja, &error);
            assert!(japanese.starts_with(expected), "{japanese}");
            assert_ne!(japanese, error.to_string());
            assert_eq!(live_error(Lang::En, &error), error.to_string());
        }
        let missing = PrivilegeError::UserNotFound {
            user: "nobody9".to_string(),
        };
        assert_eq!(
            privilege_error(Lang::Ja, &missing),
            "ユーザー nobody9 が見つかりません。--user で既存の非特権ユーザーを指定してください"
        );
        assert_eq!(privilege_error(Lang::En, &missing), missing.to_string());
    }

    #[test]
    fn drop_watch_warns_on_rise() {
        let mut watch = DropWatch::default();
        let start = Instant::now();
        assert!(watch.check(&[dropped(0, 0)], start).is_empty());

        let warnings = watch.check(&[dropped(7, 0)], start);
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].kernel, 7);
        assert_eq!(warnings[0].interface_drops, 0);
    }

    #[test]
    fn drop_watch_waits_between_warnings() {
        let mut watch = DropWatch::default();
        let start = Instant::now();
        assert_eq!(watch.check(&[dropped(5, 0)], start).len(), 1);

        // More drops within the interval: no second warning yet.
        let soon = start + Duration::from_secs(3);
        assert!(watch.check(&[dropped(9, 2)], soon).is_empty());

        // After the interval, one warning with every drop since the first.
        let later = start + DROP_WARNING_INTERVAL;
        let warnings = watch.check(&[dropped(12, 2)], later);
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].kernel, 7);
        assert_eq!(warnings[0].interface_drops, 2);
        assert_eq!(warnings[0].total.kernel_drops, 12);
    }

    #[test]
    fn drop_watch_names_each_interface() {
        let mut watch = DropWatch::default();
        let warnings = watch.check(&[dropped(0, 0), dropped(0, 4)], Instant::now());
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].interface, 1);
    }
}
