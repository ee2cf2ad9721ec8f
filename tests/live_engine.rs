//! The live engine fed frame by frame from capture files: its final records
//! must be the records `analyze` writes for the same file, and its alert and
//! interim records must keep their order and promises. These tests need no
//! privileges and no libpcap; `tests/live.rs` runs the real capture.

#[path = "common/cli.rs"]
mod cli;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use exflow::capture::{self, CaptureInput, FrameSource, Timestamp};
use exflow::cli::analyze::{flow_id, judged};
use exflow::decode::DecoderConfig;
use exflow::flow::{FinishedFlow, FlowConfig};
use exflow::pipeline::live::{
    LatencyScope, LiveConfig, LiveEngine, LiveEvent, PAYLOAD_WAIT, RecordKind,
};
use exflow::pipeline::{self, AnalyzeConfig};
use exflow::policy::{Policy, Verdict};
use exflow::report::build::flow_record;
use exflow::report::record::FlowRecord;

use cli::{corpus_captures, repo_path};

/// The project's recordings with their site files.
const RECORDINGS: [(&str, &str); 3] = [
    (
        "captures/exchange-edge.pcap",
        "captures/exchange-edge.site.toml",
    ),
    (
        "captures/exchange-no-edge.pcap",
        "captures/exchange-no-edge.site.toml",
    ),
    (
        "captures/exchange-clients.pcapng",
        "captures/exchange-clients.site.toml",
    ),
];

fn recording_policy(site: &str) -> Policy {
    Policy::load(None, Some(&repo_path(site))).expect("the recording's site file loads")
}

fn live_config(interim: Option<Duration>) -> LiveConfig {
    LiveConfig {
        decoder: DecoderConfig::default(),
        flows: FlowConfig::default(),
        interim_interval: interim,
    }
}

/// Feeds every frame of `path` to `engine` up to the first read error, and
/// returns the events and the last frame's time.
fn feed(engine: &mut LiveEngine, path: &Path) -> (Vec<LiveEvent>, Option<Timestamp>) {
    let mut events = Vec::new();
    let mut last = None;
    let mut feed_source = |source: &mut dyn FrameSource| {
        while let Some(Ok(frame)) = source.next_frame() {
            last = Some(frame.ts);
            engine.on_frame(&frame, &mut |event| events.push(event));
        }
    };
    match capture::open(path) {
        Ok(CaptureInput::Mapped(mapped)) => feed_source(&mut mapped.reader()),
        Ok(CaptureInput::Stream(mut stream)) => feed_source(&mut stream),
        Err(_) => {}
    }
    (events, last)
}

/// Runs the live engine over a whole file and ends it as `exflow live` does
/// at SIGTERM.
fn live_events(path: &Path, policy: &Policy, interim: Option<Duration>) -> Vec<LiveEvent> {
    let mut engine = LiveEngine::new(live_config(interim), policy.clone());
    let (mut events, _) = feed(&mut engine, path);
    engine.finish(&mut |event| events.push(event));
    events
}

fn record_of(flow: &FinishedFlow, policy: &Policy, id_name: &str) -> FlowRecord {
    let mut record = flow_record(flow, id_name, judged(&policy.judge(flow)));
    record.flow_id = flow_id(id_name, flow);
    record
}

/// Returns `analyze`'s records of `path`, in its output order.
fn analyze_records(path: &Path, policy: &Policy) -> Vec<FlowRecord> {
    let config = AnalyzeConfig {
        decoder: DecoderConfig::default(),
        flows: FlowConfig::default(),
        threads: 1,
        filter: None,
    };
    let outcome = pipeline::analyze_input(path, &config, &mut ());
    let id_name = file_name(path);
    outcome
        .flows
        .iter()
        .map(|flow| record_of(flow, policy, &id_name))
        .collect()
}

/// Returns the live engine's final records in `analyze`'s output order.
fn final_records(events: &[LiveEvent], policy: &Policy, path: &Path) -> Vec<FlowRecord> {
    let mut finals: Vec<&FinishedFlow> = events
        .iter()
        .filter(|event| event.kind == RecordKind::Flow)
        .map(|event| &event.flow)
        .collect();
    finals.sort_by_key(|flow| pipeline::flow_order(flow));
    let id_name = file_name(path);
    finals
        .into_iter()
        .map(|flow| record_of(flow, policy, &id_name))
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Counts the `unexpected` rows of a recording's expectation table.
fn expected_unexpected(capture: &str) -> usize {
    let table = capture
        .trim_end_matches(".pcapng")
        .trim_end_matches(".pcap")
        .to_string()
        + ".expected.tsv";
    let text = std::fs::read_to_string(repo_path(&table)).expect("expectation table");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header row").split('\t').collect();
    let verdict = header
        .iter()
        .position(|name| *name == "verdict")
        .expect("a verdict column");
    lines
        .filter(|line| line.split('\t').nth(verdict) == Some("unexpected"))
        .count()
}

fn total_packets(flow: &FinishedFlow) -> u64 {
    flow.to_server.packets + flow.to_client.packets
}

#[test]
fn finals_equal_analyze_on_recordings() {
    for (capture, site) in RECORDINGS {
        let path = repo_path(capture);
        let policy = recording_policy(site);
        let events = live_events(&path, &policy, Some(Duration::from_secs(1)));
        let expected = analyze_records(&path, &policy);
        let actual = final_records(&events, &policy, &path);
        assert!(!expected.is_empty(), "{capture}: analyze found no flows");
        assert_eq!(actual.len(), expected.len(), "{capture}: flow count");
        for (live, analyzed) in actual.iter().zip(&expected) {
            assert_eq!(live, analyzed, "{capture}: records differ");
        }
    }
}

#[test]
fn finals_equal_analyze_on_corpus() {
    let policy = Policy::builtin();
    let mut compared = 0;
    for path in corpus_captures() {
        let events = live_events(&path, &policy, None);
        let expected = analyze_records(&path, &policy);
        let actual = final_records(&events, &policy, &path);
        assert_eq!(
            actual.len(),
            expected.len(),
            "{}: flow count",
            path.display()
        );
        for (live, analyzed) in actual.iter().zip(&expected) {
            assert_eq!(live, analyzed, "{}: records differ", path.display());
        }
        compared += expected.len();
    }
    assert!(compared > 1000, "only {compared} flows compared");
}

#[test]
fn alert_precedes_each_unexpected_final() {
    for (capture, site) in RECORDINGS {
        let path = repo_path(capture);
        let policy = recording_policy(site);
        let events = live_events(&path, &policy, None);

        let mut alerts: HashMap<u64, (usize, &FinishedFlow)> = HashMap::new();
        let mut unexpected_finals = 0;
        for (position, event) in events.iter().enumerate() {
            let offset = event.flow.first_offset;
            match event.kind {
                RecordKind::Alert => {
                    assert_eq!(event.judgement.verdict, Verdict::Unexpected);
                    let earlier = alerts.insert(offset, (position, &event.flow));
                    assert!(earlier.is_none(), "{capture}: two alerts for one flow");
                }
                RecordKind::Flow => {
                    let alert = alerts.get(&offset);
                    if event.judgement.verdict == Verdict::Unexpected {
                        unexpected_finals += 1;
                        let (at, snapshot) =
                            alert.unwrap_or_else(|| panic!("{capture}: final without alert"));
                        assert!(*at < position);
                        assert_eq!(snapshot.ts_start, event.flow.ts_start);
                        assert_eq!(snapshot.client, event.flow.client);
                        assert_eq!(snapshot.server, event.flow.server);
                        assert!(total_packets(snapshot) <= total_packets(&event.flow));
                    } else {
                        assert!(
                            alert.is_none(),
                            "{capture}: alert for a flow not unexpected"
                        );
                    }
                }
                RecordKind::Interim => {}
            }
        }
        assert_eq!(
            unexpected_finals,
            expected_unexpected(capture),
            "{capture}: unexpected flows"
        );
        assert_eq!(alerts.len(), unexpected_finals, "{capture}: alert count");
    }
}

#[test]
fn alert_comes_at_first_payload() {
    let path = repo_path("captures/exchange-no-edge.pcap");
    let policy = recording_policy("captures/exchange-no-edge.site.toml");
    let events = live_events(&path, &policy, None);
    let finals: HashMap<u64, &FinishedFlow> = events
        .iter()
        .filter(|event| event.kind == RecordKind::Flow)
        .map(|event| (event.flow.first_offset, &event.flow))
        .collect();

    let mut with_payload = 0;
    let mut without_payload = 0;
    for alert in events
        .iter()
        .filter(|event| event.kind == RecordKind::Alert)
    {
        let snapshot = &alert.flow;
        let last = finals[&snapshot.first_offset];
        let payload = last.to_server.payload_bytes + last.to_client.payload_bytes;
        if payload == 0 {
            // Judged on ports and roles once the wait for payload ran out.
            without_payload += 1;
            assert_eq!(snapshot.app.app.as_str(), "none");
            continue;
        }
        with_payload += 1;
        let seen = snapshot.to_server.payload_bytes + snapshot.to_client.payload_bytes;
        assert!(seen > 0, "alert before any payload: {snapshot:?}");
        assert!(
            total_packets(snapshot) < total_packets(last),
            "the alert came only as the flow ended: {snapshot:?}"
        );
    }
    assert!(with_payload >= 6, "{with_payload} alerts with payload");
    assert_eq!(without_payload, 1, "the refused connection to 3389");
}

#[test]
fn ssh_on_443_alert_names_protocol() {
    let path = repo_path("captures/exchange-no-edge.pcap");
    let policy = recording_policy("captures/exchange-no-edge.site.toml");
    let events = live_events(&path, &policy, None);
    let alert = events
        .iter()
        .find(|event| {
            event.kind == RecordKind::Alert
                && event.flow.server.port() == 443
                && event.flow.app.app.as_str() == "ssh"
        })
        .expect("an alert for SSH on 443, named at its first payload");
    assert!(total_packets(&alert.flow) <= 6, "{:?}", alert.flow);
}

#[test]
fn interim_records_precede_final() {
    let path = repo_path("captures/exchange-edge.pcap");
    let policy = recording_policy("captures/exchange-edge.site.toml");
    let interval = Duration::from_secs(1);
    let events = live_events(&path, &policy, Some(interval));

    let mut finished: HashMap<u64, &FinishedFlow> = HashMap::new();
    let mut interims = 0;
    for event in &events {
        let offset = event.flow.first_offset;
        match event.kind {
            RecordKind::Interim => {
                interims += 1;
                assert!(!finished.contains_key(&offset), "interim after final");
            }
            RecordKind::Flow => {
                finished.insert(offset, &event.flow);
            }
            RecordKind::Alert => {}
        }
    }
    assert!(interims > 0, "no interim record at a 1 s interval");
    for interim in events
        .iter()
        .filter(|event| event.kind == RecordKind::Interim)
    {
        let last = finished[&interim.flow.first_offset];
        assert_eq!(interim.flow.ts_start, last.ts_start);
        assert!(interim.flow.ts_end <= last.ts_end);
        assert!(total_packets(&interim.flow) <= total_packets(last));
    }
}

#[test]
fn no_interim_when_disabled() {
    let path = repo_path("captures/exchange-edge.pcap");
    let policy = recording_policy("captures/exchange-edge.site.toml");
    let events = live_events(&path, &policy, None);
    assert!(events.iter().all(|event| event.kind != RecordKind::Interim));
}

#[test]
fn quiet_clock_ends_idle_flows() {
    let path = repo_path("captures/exchange-edge.pcap");
    let policy = recording_policy("captures/exchange-edge.site.toml");
    let mut engine = LiveEngine::new(live_config(None), policy.clone());
    let (mut events, last) = feed(&mut engine, &path);
    let last = last.expect("the capture has frames");
    assert!(engine.stats(LatencyScope::Run).active_flows > 0);

    // Past the longest default timeout (TCP idle, 300 s) with no packet.
    let later = Timestamp(last.0 + 301 * Timestamp::NANOS_PER_SEC);
    engine.advance_to(later, &mut |event| events.push(event));
    assert_eq!(engine.stats(LatencyScope::Run).active_flows, 0);

    let mut after_finish = Vec::new();
    engine.finish(&mut |event| after_finish.push(event));
    assert!(after_finish.is_empty(), "finish found flows left open");
    let expected = analyze_records(&path, &policy);
    assert_eq!(final_records(&events, &policy, &path), expected);
}

#[test]
fn quiet_clock_before_first_packet_waits() {
    let mut engine = LiveEngine::new(live_config(None), Policy::builtin());
    let mut events = Vec::new();
    engine.advance_to(
        Timestamp(1_700_000_000 * Timestamp::NANOS_PER_SEC),
        &mut |event| events.push(event),
    );
    assert!(events.is_empty());
    let stats = engine.stats(LatencyScope::Run);
    assert_eq!(stats.frames, 0);
    assert_eq!(stats.latency.count, 0);
}

#[test]
fn stats_count_frames_and_records() {
    let path = repo_path("captures/exchange-edge.pcap");
    let policy = recording_policy("captures/exchange-edge.site.toml");
    let mut engine = LiveEngine::new(live_config(None), policy);
    let (mut events, _) = feed(&mut engine, &path);
    let interval = engine.stats(LatencyScope::Interval);
    engine.finish(&mut |event| events.push(event));
    let run = engine.stats(LatencyScope::Run);

    // 485 frames in the recording (capinfos).
    assert_eq!(run.frames, 485);
    assert_eq!(interval.latency.count, 485);
    assert_eq!(run.latency.count, 485);
    assert!(run.latency.p50 <= run.latency.p99);
    assert!(run.latency.p99 <= run.latency.max);
    let flows = events
        .iter()
        .filter(|event| event.kind == RecordKind::Flow)
        .count() as u64;
    assert_eq!(run.records.flow, flows);
    assert_eq!(run.active_flows, 0);
    let unexpected = run.run.get(exflow::report::stats::StatKey::FlowsUnexpected);
    assert_eq!(run.records.alert, unexpected);
    assert!(PAYLOAD_WAIT <= Duration::from_secs(1));
}

/// A build without the `live` feature explains how to get live capture.
#[cfg(not(feature = "live"))]
#[test]
fn live_needs_the_feature() {
    let output = cli::exflow(&["live", "-i", "lo"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = cli::stderr(&output);
    assert!(stderr.contains("--features live"), "{stderr}");
    assert!(stderr.contains("libpcap-dev"), "{stderr}");
}
