//! The JSON Lines record written straight from a flow (`report::line`) must
//! equal, byte for byte, the record that serde writes from the owned
//! `FlowRecord`. The tests compare them on every flow of the shipped captures
//! and the corpus under three policies, and on random wire texts, addresses
//! and source names. The record a summary-only run builds
//! (`build::summary_record`) must give the same summary as the whole record.

#[path = "common/cli.rs"]
mod cli;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use exflow::capture::Timestamp;
use exflow::cli::analyze::{flow_id, judged};
use exflow::decode::{DecoderConfig, Transport, VlanIds};
use exflow::fingerprint::{
    App, AppEvidence, AppInfo, DnsInfo, ExchangeService, HttpInfo, SmtpInfo, TlsInfo,
};
use exflow::flow::{
    ConnState, DirectionCounters, DirectionEvidence, EndReason, FinishedFlow, FlowConfig,
};
use exflow::i18n::Lang;
use exflow::pipeline::{self, AnalyzeConfig};
use exflow::policy::Policy;
use exflow::report::build::{flow_record, summary_record};
use exflow::report::jsonl::write_line;
use exflow::report::line::{LineFields, write_record_line};
use exflow::report::summary::SummaryAggregator;
use proptest::prelude::*;

/// Writes the record line both ways and panics with both texts when they
/// differ; also checks the cached reason sentences in both languages.
fn assert_same_line(policy: &Policy, flow: &FinishedFlow, source: &str, id_name: &str) {
    let judgement = policy.judge(flow);
    let id = flow_id(id_name, flow);

    let mut record = flow_record(flow, source, judged(&judgement));
    record.flow_id = id.clone();
    let mut expected = Vec::new();
    write_line(&mut expected, &record).unwrap();

    let reason = policy.reason_text(&judgement.reason);
    let fields = LineFields {
        flow_id: &id,
        source,
        reason: &reason,
    };
    let mut line = Vec::new();
    write_record_line(&mut line, flow, &judgement, &fields);

    assert_eq!(
        String::from_utf8_lossy(&line),
        String::from_utf8_lossy(&expected)
    );

    // The policy's sentence cache keeps both languages side by side, so each
    // lookup must give the sentence of the requested language.
    for lang in [Lang::Ja, Lang::En] {
        assert_eq!(
            *policy.localized_reason_text(&judgement.reason, lang),
            *judgement.reason.render(lang),
            "{lang:?}"
        );
    }
}

fn policies() -> Vec<Policy> {
    let site = |name: &str| {
        Policy::load(None, Some(&cli::repo_path(name)))
            .unwrap_or_else(|error| panic!("{name}: {error:?}"))
    };
    vec![
        Policy::builtin(),
        site("rules/site-edge.example.toml"),
        site("rules/site-no-edge.example.toml"),
    ]
}

fn shipped_captures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cli::repo_path("captures"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name.ends_with(".pcap") || name.ends_with(".pcapng")
        })
        .collect();
    files.sort();
    files.extend(cli::corpus_captures());
    files
}

/// Passes every flow of the shipped captures and the corpus to `visit`, with
/// its input's name as records give it and as flow ids use it.
fn each_shipped_flow(mut visit: impl FnMut(&FinishedFlow, &str, &str)) {
    let config = AnalyzeConfig {
        decoder: DecoderConfig::default(),
        flows: FlowConfig::default(),
        threads: 1,
        filter: None,
    };
    for path in shipped_captures() {
        let outcome = pipeline::analyze_input(&path, &config, &mut ());
        let source = path.display().to_string();
        let id_name = path.file_name().unwrap().to_string_lossy().into_owned();
        for flow in &outcome.flows {
            visit(flow, &source, &id_name);
        }
    }
}

#[test]
fn lines_match_records_on_captures() {
    let policies = policies();
    let mut flows_checked = 0;
    let mut verdicts = std::collections::BTreeSet::new();
    each_shipped_flow(|flow, source, id_name| {
        for policy in &policies {
            assert_same_line(policy, flow, source, id_name);
            verdicts.insert(policy.judge(flow).verdict.as_str());
        }
        flows_checked += 1;
    });
    // The corpus contains thousands of flows, so far fewer means it was not read.
    assert!(flows_checked > 2000, "only {flows_checked} flows checked");
    assert!(verdicts.len() >= 2, "verdicts seen: {verdicts:?}");
}

/// A run whose only reader of whole records is the summary builds them with
/// `summary_record`. Fed the same flows, in the same order, both kinds of
/// record must give the same summary, overflow of a small row cap included.
#[test]
fn summary_records_give_same_summary() {
    let policies = policies();
    let new_aggregators = || {
        [
            SummaryAggregator::new(),
            SummaryAggregator::with_max_rows(3),
        ]
    };
    let mut full: Vec<_> = policies.iter().map(|_| new_aggregators()).collect();
    let mut lean: Vec<_> = policies.iter().map(|_| new_aggregators()).collect();
    let mut unexpected = 0;
    each_shipped_flow(|flow, source, id_name| {
        for (index, policy) in policies.iter().enumerate() {
            let judgement = policy.judge(flow);
            let id = flow_id(id_name, flow);
            let mut record = flow_record(flow, source, judged(&judgement));
            record.flow_id = id.clone();
            // The summary shows the reason of unexpected flows only, so
            // analyze leaves the others' reason out.
            let mut lean_judged = judged(&judgement);
            if lean_judged.verdict == "unexpected" {
                unexpected += 1;
            } else {
                lean_judged.reason.clear();
            }
            let lean_record = summary_record(flow, &id, lean_judged);
            for aggregator in &mut full[index] {
                aggregator.add(&record, &record.reason);
            }
            for aggregator in &mut lean[index] {
                aggregator.add(&lean_record, &lean_record.reason);
            }
        }
    });
    assert!(unexpected > 40, "only {unexpected} unexpected flows");
    for (full, lean) in full.iter().zip(&lean) {
        for (full, lean) in full.iter().zip(lean) {
            assert_eq!(full.summary(), lean.summary());
        }
    }
}

fn wire_bytes() -> impl Strategy<Value = Box<[u8]>> {
    prop_oneof![
        // Text that needs no escape, and text that does.
        "[ -~]{0,40}".prop_map(|text| text.into_bytes().into_boxed_slice()),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Vec::into_boxed_slice),
        any::<String>().prop_map(|text| text.into_bytes().into_boxed_slice()),
    ]
}

fn optional_wire() -> impl Strategy<Value = Option<Box<[u8]>>> {
    proptest::option::of(wire_bytes())
}

fn address() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|bits| IpAddr::V4(Ipv4Addr::from(bits))),
        any::<u128>().prop_map(|bits| IpAddr::V6(Ipv6Addr::from(bits))),
        // Addresses whose text form compresses zeros or embeds IPv4.
        (any::<u16>(), any::<u32>()).prop_map(|(high, low)| {
            IpAddr::V6(Ipv6Addr::from((u128::from(high) << 112) | u128::from(low)))
        }),
    ]
}

prop_compose! {
    fn app_info()(
        app in prop_oneof![Just(App::Tls), Just(App::Http), Just(App::Smtp), Just(App::Dns), Just(App::Unknown)],
        sni in optional_wire(),
        alpn in proptest::collection::vec(wire_bytes(), 0..3),
        version in proptest::option::of(any::<u16>()),
        ja4 in proptest::option::of(any::<String>()),
        host in optional_wire(),
        method in optional_wire(),
        path in optional_wire(),
        user_agent in optional_wire(),
        status in proptest::option::of(any::<u16>()),
        service in proptest::option::of(Just(ExchangeService::Owa)),
        helo in optional_wire(),
        qname in optional_wire(),
        qtype in proptest::option::of(any::<u16>()),
        rcode in proptest::option::of(any::<u16>()),
        accepted in any::<bool>(),
        tls_followed in any::<bool>(),
    ) -> AppInfo {
        let mut info = AppInfo {
            app,
            evidence: AppEvidence::default(),
            ..AppInfo::default()
        };
        info.upgrade.accepted = accepted;
        info.upgrade.tls_followed = tls_followed;
        info.tls = Some(Box::new(TlsInfo { sni, alpn, version, ja4 }));
        info.http = Some(Box::new(HttpInfo {
            host, method, path, user_agent, status, service, ..HttpInfo::default()
        }));
        info.smtp = Some(Box::new(SmtpInfo { helo, ..SmtpInfo::default() }));
        info.dns = Some(Box::new(DnsInfo { qname, qtype, rcode }));
        info
    }
}

prop_compose! {
    fn finished_flow()(
        udp in any::<bool>(),
        client in address(),
        server in address(),
        ports in (any::<u16>(), any::<u16>()),
        vlan in proptest::collection::vec(0u16..4096, 0..3),
        ts_start in any::<i64>(),
        length in 0i64..1_000_000_000_000,
        counters in proptest::array::uniform6(any::<u64>()),
        missed_bytes in any::<u64>(),
        app in app_info(),
    ) -> FinishedFlow {
        let mut vlan_ids = VlanIds::default();
        for id in vlan {
            vlan_ids.push(id);
        }
        FinishedFlow {
            transport: if udp { Transport::Udp } else { Transport::Tcp },
            ip_version: if client.is_ipv4() { 4 } else { 6 },
            client: SocketAddr::new(client, ports.0),
            server: SocketAddr::new(server, ports.1),
            direction_evidence: DirectionEvidence::Port,
            conn_state: ConnState::Oth,
            vlan: vlan_ids,
            ts_start: Timestamp(ts_start),
            ts_end: Timestamp(ts_start.saturating_add(length)),
            to_server: DirectionCounters { packets: counters[0], bytes: counters[1], payload_bytes: counters[2] },
            to_client: DirectionCounters { packets: counters[3], bytes: counters[4], payload_bytes: counters[5] },
            missed_bytes,
            app,
            end: EndReason::Closed,
            first_offset: 0,
            start_clock: Timestamp(ts_start),
            duplicates: 0,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn lines_match_records_on_random_flows(
        flow in finished_flow(),
        source in any::<String>(),
    ) {
        let policies = policies();
        for policy in &policies {
            assert_same_line(policy, &flow, &source, &source);
        }
    }
}

#[test]
fn hostile_texts_escape_alike() {
    let mut flow = FinishedFlow {
        transport: Transport::Tcp,
        ip_version: 4,
        client: "192.0.2.1:50000".parse().unwrap(),
        server: "198.51.100.2:443".parse().unwrap(),
        direction_evidence: DirectionEvidence::Syn,
        conn_state: ConnState::Sf,
        vlan: VlanIds::default(),
        ts_start: Timestamp(0),
        ts_end: Timestamp(1),
        to_server: DirectionCounters::default(),
        to_client: DirectionCounters::default(),
        missed_bytes: 0,
        app: AppInfo::default(),
        end: EndReason::Closed,
        first_offset: 0,
        start_clock: Timestamp(0),
        duplicates: 0,
    };
    let hostile: &[&[u8]] = &[
        b"\x1b]0;title\x07",
        b"a\\b\"c",
        "\u{202e}gpj.exe\u{2028}\u{feff}".as_bytes(),
        b"\xff\xfe\x00\x7f",
        "\u{9b}31m\u{e0001}".as_bytes(),
    ];
    for text in hostile {
        flow.app.tls = Some(Box::new(TlsInfo {
            sni: Some((*text).into()),
            alpn: vec![(*text).into()],
            ..TlsInfo::default()
        }));
        let source = String::from_utf8_lossy(text).into_owned();
        for policy in &policies() {
            assert_same_line(policy, &flow, &source, "capture.pcap");
        }
    }
    // The checks above compare two writers. This one fixes what both write.
    let mut line = Vec::new();
    let fields = LineFields {
        flow_id: "0000000000000000",
        source: "\u{1b}[2J",
        reason: "r",
    };
    write_record_line(&mut line, &flow, &Policy::builtin().judge(&flow), &fields);
    let text = String::from_utf8(line).unwrap();
    assert!(text.contains(r#""source":"\u001b[2J""#), "{text}");
}
