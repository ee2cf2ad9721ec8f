//! TLS, DNS and LDAP probes and parsers on the shared corpus (read in place
//! from ../shared/corpus at test time, never copied).
//!
//! Flow bytes come from tshark's "follow" at test time; without tshark or the
//! corpus the tests print why and pass without checking anything.

mod fingerprint_binary_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use exflow::fingerprint::dns::{self, DnsParser};
use exflow::fingerprint::ldap::{self, LdapParser};
use exflow::fingerprint::tls::{self, TlsParser};
use exflow::fingerprint::{AppInfo, ProbeAnswer, ProbeResult, StreamParser};
use fingerprint_binary_support::{
    FlowBytes, LabelRow, corpus_dir, extract_flows, read_labels, tshark_available,
};

/// Labels whose flows are TLS from the first byte.
const TLS_LABELS: [&str; 5] = ["tls", "ldaps", "smtps", "imaps", "pop3s"];
/// Cleartext protocols of the other fingerprint modules.
const TEXT_LABELS: [&str; 7] = [
    "smtp",
    "smtp+starttls",
    "imap",
    "imap+starttls",
    "pop3",
    "pop3+starttls",
    "http",
];
/// Most datagrams probed per direction of a UDP flow.
const MAX_DATAGRAMS: usize = 8;

/// Returns the corpus, or `None` after printing why the test checks nothing.
fn corpus() -> Option<std::path::PathBuf> {
    let Some(dir) = corpus_dir() else {
        println!("skipped: ../shared/corpus/labels.tsv not found beside the repository");
        return None;
    };
    if !tshark_available() {
        println!("skipped: tshark is not installed; it extracts the corpus flows");
        return None;
    }
    Some(dir)
}

/// Flows already extracted, per capture file: every labelled flow of the
/// file, so that tests asking for different flows of one file run tshark once.
type FileFlows = Arc<Vec<(LabelRow, FlowBytes)>>;
static EXTRACTED: Mutex<BTreeMap<String, FileFlows>> = Mutex::new(BTreeMap::new());

fn file_flows(corpus: &Path, file: &str) -> FileFlows {
    if let Some(found) = EXTRACTED.lock().unwrap().get(file) {
        return Arc::clone(found);
    }
    let rows: Vec<LabelRow> = read_labels(corpus)
        .into_iter()
        .filter(|row| row.file == file)
        .collect();
    let row_refs: Vec<&LabelRow> = rows.iter().collect();
    let found = Arc::new(extract_flows(&corpus.join(file), &row_refs));
    if found.len() < rows.len() {
        println!(
            "{file}: tshark showed {} of {} flows",
            found.len(),
            rows.len()
        );
    }
    EXTRACTED
        .lock()
        .unwrap()
        .insert(file.to_owned(), Arc::clone(&found));
    found
}

/// Extracts the flows the rows name.
fn flows(corpus: &Path, rows: &[LabelRow]) -> Vec<(LabelRow, FlowBytes)> {
    let files: BTreeSet<&str> = rows.iter().map(|row| row.file.as_str()).collect();
    let mut result = Vec::new();
    for file in files {
        let found = file_flows(corpus, file);
        result.extend(
            found
                .iter()
                .filter(|(flow, _)| rows.iter().any(|row| same_flow(row, flow)))
                .cloned(),
        );
    }
    result
}

fn same_flow(a: &LabelRow, b: &LabelRow) -> bool {
    a.file == b.file
        && a.l4 == b.l4
        && a.client_ip == b.client_ip
        && a.client_port == b.client_port
        && a.server_ip == b.server_ip
        && a.server_port == b.server_port
}

fn answer_name(result: ProbeResult) -> String {
    format!("{:?}/{:?}", result.answer, result.sender_is_server)
}

/// JA4 values that the `ja4plus` package (PyPI, version 1.4.0, independent
/// of this crate) computed for corpus flows: (file, client port, JA4).
const JA4PLUS_CORPUS: [(&str, u16, &str); 9] = [
    (
        "zeek__tls__chrome-1250-tls-x25519-kyber.pcap",
        13783,
        "t13d1516h2_8daaf6152771_02713d6af862",
    ),
    (
        "ndpi__tls_with_huge_ch.pcapng",
        40640,
        "t13i1811h2_f71e3e15ae0d_5c3a8cf9b2bc",
    ),
    // supported_versions offers 0xfb1a besides 0x0304; the highest value is
    // unknown to JA4, hence "00".
    (
        "ndpi__tls_2_reasms.pcapng",
        38134,
        "t00d0309h2_55b375c5d22e_566d5108064c",
    ),
    (
        "zeek__tls__tls-fragmented-handshake.pcap",
        61454,
        "t12d370500_07a749158664_d075105c1994",
    ),
    (
        "zeek__tls__tls13-ech.pcap",
        51066,
        "t13d1517h2_8daaf6152771_b1ff8ab2d16f",
    ),
    (
        "zeek__tls__tls13_wolfssl.pcap",
        43056,
        "t13i010600_ee47968ec53b_5af53a18c712",
    ),
    (
        "ndpi__no_sni.pcap",
        51606,
        "t13d1814h2_e8a523a41297_7673359314f0",
    ),
    (
        "ndpi__no_sni.pcap",
        51612,
        "t13i1813h2_e8a523a41297_a36e8500eb55",
    ),
    (
        "ndpi__no_sni.pcap",
        51635,
        "t13d1814h2_e8a523a41297_d267a5f792d4",
    ),
];

/// Flows whose ClientHello is damaged on purpose, so that no hello parses:
/// (file, client port, why).
const DAMAGED_HELLOS: [(&str, u16, &str); 1] = [(
    "ndpi__tls_invalid_reads.pcap",
    58552,
    "nDPI's invalid-read case: the extensions overrun the message (tshark flags it malformed)",
)];

#[test]
fn tls_flows_are_tls() {
    let Some(corpus) = corpus() else { return };
    let rows: Vec<LabelRow> = read_labels(&corpus)
        .into_iter()
        .filter(|row| {
            row.l4 == "tcp"
                && row
                    .agreed_label()
                    .is_some_and(|label| TLS_LABELS.contains(&label))
        })
        .collect();
    let flows = flows(&corpus, &rows);
    assert!(flows.len() >= 50, "only {} TLS flows found", flows.len());

    let mut failures = Vec::new();
    let mut ja4_checked = 0;
    for (row, bytes) in &flows {
        let client = bytes.client_stream();
        let server = bytes.server_stream();
        let probes: Vec<(bool, ProbeResult)> = [(false, &client), (true, &server)]
            .into_iter()
            .filter(|(_, stream)| !stream.is_empty())
            .map(|(is_server, stream)| (is_server, tls::probe(stream)))
            .collect();
        let certain = probes.iter().any(|(_, p)| p.answer == ProbeAnswer::Certain);
        let wrong_side = probes.iter().any(|(is_server, p)| {
            p.sender_is_server
                .is_some_and(|sender| sender != *is_server)
        });

        let mut parser = TlsParser::default();
        let mut info = AppInfo::default();
        parser.on_stream(&client, &server, &mut info);
        let damaged = DAMAGED_HELLOS
            .iter()
            .any(|(file, port, _)| row.file == *file && row.client_port == *port);
        let ja4 = info.tls.as_ref().and_then(|tls| tls.ja4.clone());
        let expected_ja4 = JA4PLUS_CORPUS
            .iter()
            .find(|(file, port, _)| row.file == *file && row.client_port == *port)
            .map(|(_, _, ja4)| *ja4);
        let summary = format!(
            "{}: probes {:?} handshake {} error {:?} ja4 {:?}",
            row.describe(),
            probes
                .iter()
                .map(|(_, p)| answer_name(*p))
                .collect::<Vec<_>>(),
            parser.handshake_seen(),
            parser.error().map(ToString::to_string),
            ja4,
        );
        println!("{summary}");
        let ja4_wrong = expected_ja4.is_some_and(|expected| ja4.as_deref() != Some(expected));
        ja4_checked += usize::from(expected_ja4.is_some());
        if !certain || wrong_side || parser.handshake_seen() == damaged || ja4_wrong {
            failures.push(summary);
        }
    }
    assert_eq!(
        ja4_checked,
        JA4PLUS_CORPUS.len(),
        "a JA4 reference flow was not found"
    );
    assert!(
        failures.is_empty(),
        "{} flows:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Returns the strongest answer: certain, else unsure, else not mine.
fn best_answer(answers: &[ProbeResult]) -> ProbeAnswer {
    [ProbeAnswer::Certain, ProbeAnswer::Unsure]
        .into_iter()
        .find(|wanted| answers.iter().any(|p| p.answer == *wanted))
        .unwrap_or(ProbeAnswer::NotMine)
}

/// Probes and parses one DNS flow; returns a one-line summary, the strongest
/// probe answer, and whether a certain probe named the wrong sender.
fn check_dns_flow(row: &LabelRow, bytes: &FlowBytes) -> (String, ProbeAnswer, bool) {
    let mut answers = Vec::new();
    let mut wrong_side = false;
    let mut parser = DnsParser::default();
    let mut info = AppInfo::default();
    if row.l4 == "udp" {
        for (is_server, datagrams) in [(false, &bytes.client), (true, &bytes.server)] {
            for datagram in datagrams.iter().take(MAX_DATAGRAMS) {
                let result = dns::probe_datagram(datagram);
                wrong_side |= result.answer == ProbeAnswer::Certain
                    && result.sender_is_server != Some(is_server);
                answers.push(result);
                parser.on_datagram(datagram, is_server, &mut info);
            }
        }
    } else {
        let client = bytes.client_stream();
        let server = bytes.server_stream();
        for (is_server, stream) in [(false, &client), (true, &server)] {
            if !stream.is_empty() {
                let result = dns::probe_stream(stream);
                wrong_side |= result
                    .sender_is_server
                    .is_some_and(|sender| sender != is_server);
                answers.push(result);
            }
        }
        parser.on_stream(&client, &server, &mut info);
    }
    let summary = format!(
        "{}: probes {:?} error {:?} dns {:?}",
        row.describe(),
        answers.iter().map(|p| answer_name(*p)).collect::<Vec<_>>(),
        parser.error().map(ToString::to_string),
        info.dns
    );
    (summary, best_answer(&answers), wrong_side)
}

/// DNS flows whose every message is damaged on purpose, so the probe must not
/// be certain: (file, why).
const DAMAGED_DNS: [(&str, &str); 1] = [(
    "zeek__dns__dns-invalid-names.pcap",
    "queries whose names overrun the message or point at themselves",
)];

#[test]
fn dns_flows_are_dns() {
    let Some(corpus) = corpus() else { return };
    let rows: Vec<LabelRow> = read_labels(&corpus)
        .into_iter()
        .filter(|row| row.agreed_label() == Some("dns"))
        .collect();
    let flows = flows(&corpus, &rows);
    assert!(flows.len() >= 150, "only {} DNS flows found", flows.len());

    let mut failures = Vec::new();
    for (row, bytes) in &flows {
        let (summary, best, wrong_side) = check_dns_flow(row, bytes);
        println!("{summary}");
        let damaged = DAMAGED_DNS.iter().any(|(file, _)| row.file == *file);
        // A label that took the first sender as the client only guessed; the
        // QR bit is the better witness there.
        let side_known = !row.flow_tags.contains("cs-by-first-packet");
        let certain = best == ProbeAnswer::Certain;
        if certain == damaged || (wrong_side && side_known) {
            failures.push(summary);
        }
    }
    assert!(
        failures.is_empty(),
        "{} flows:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Probes and parses one LDAP flow; returns a summary, the strongest probe
/// answer, whether a probe named the wrong sender, and the parsed info.
fn check_ldap_flow(row: &LabelRow, bytes: &FlowBytes) -> (String, ProbeAnswer, bool, AppInfo) {
    let client = bytes.client_stream();
    let server = bytes.server_stream();
    let mut answers = Vec::new();
    let mut wrong_side = false;
    for (is_server, stream) in [(false, &client), (true, &server)] {
        if !stream.is_empty() {
            let result = ldap::probe(stream);
            wrong_side |= result
                .sender_is_server
                .is_some_and(|sender| sender != is_server);
            answers.push(result);
        }
    }
    let mut parser = LdapParser::default();
    let mut info = AppInfo::default();
    parser.on_stream(&client, &server, &mut info);
    let summary = format!(
        "{}: probes {:?} error {:?} ldap {:?} upgrade {:?} cleartext_auth {} tls {}",
        row.describe(),
        answers.iter().map(|p| answer_name(*p)).collect::<Vec<_>>(),
        parser.error().map(ToString::to_string),
        info.ldap,
        info.upgrade,
        info.cleartext_auth,
        info.tls.is_some(),
    );
    (summary, best_answer(&answers), wrong_side, info)
}

#[test]
fn ldap_flows_are_ldap() {
    let Some(corpus) = corpus() else { return };
    let rows: Vec<LabelRow> = read_labels(&corpus)
        .into_iter()
        .filter(|row| row.l4 == "tcp" && row.has_label(&["ldap", "ldap+starttls"]))
        .collect();
    let flows = flows(&corpus, &rows);
    assert!(flows.len() >= 15, "only {} LDAP flows found", flows.len());
    let mut failures = Vec::new();
    let mut checked = 0;
    for (row, bytes) in &flows {
        let (summary, best, wrong_side, info) = check_ldap_flow(row, bytes);
        println!("{summary}");
        let ldap = info.ldap.clone().unwrap_or_default();
        let expectation_met = match row.file.as_str() {
            // ldapsearch-style simple binds with a password.
            "zeek__ldap__simpleauth.pcap" | "zeek__ldap__ldap-add.pcap" => {
                ldap.simple_bind && info.cleartext_auth
            }
            "zeek__ldap__ldap-starttls.pcap" => {
                info.upgrade.requested
                    && info.upgrade.accepted
                    && info.upgrade.tls_followed
                    && info.tls.is_some()
            }
            // Windows clients binding with GSS-SPNEGO, then sealing.
            "zeek__ldap__krb5-sign-seal-01.pcap"
            | "zeek__ldap__ctu-sme-11-win7ad-1-ldap-tcp-50041.pcap" => {
                ldap.sasl_mechanism.as_deref() == Some(&b"GSS-SPNEGO"[..])
                    && !ldap.simple_bind
                    && !info.cleartext_auth
            }
            _ => true,
        };
        checked += usize::from(row.file.starts_with("zeek__ldap__") && expectation_met);
        if best != ProbeAnswer::Certain || wrong_side || !expectation_met {
            failures.push(summary);
        }
    }
    assert!(checked >= 10, "only {checked} zeek LDAP flows checked");
    assert!(
        failures.is_empty(),
        "{} flows:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Runs every probe of this crate on one direction's first bytes: the TLS,
/// DNS-over-TCP and LDAP probes for a TCP stream, the DNS datagram probe for
/// each UDP datagram. Returns (probe/side, input length, result).
fn all_probes(row: &LabelRow, bytes: &FlowBytes) -> Vec<(String, usize, ProbeResult)> {
    let mut results = Vec::new();
    if row.l4 == "tcp" {
        for (side, stream) in [
            ("client", bytes.client_stream()),
            ("server", bytes.server_stream()),
        ] {
            if stream.is_empty() {
                continue;
            }
            results.push((format!("tls/{side}"), stream.len(), tls::probe(&stream)));
            results.push((
                format!("dns-tcp/{side}"),
                stream.len(),
                dns::probe_stream(&stream),
            ));
            results.push((format!("ldap/{side}"), stream.len(), ldap::probe(&stream)));
        }
    } else {
        for (side, datagrams) in [("client", &bytes.client), ("server", &bytes.server)] {
            for datagram in datagrams.iter().take(MAX_DATAGRAMS) {
                results.push((
                    format!("dns-udp/{side}"),
                    datagram.len(),
                    dns::probe_datagram(datagram),
                ));
            }
        }
    }
    results
}

/// Shortest input every probe can judge: a DNS-over-TCP length and header.
const JUDGEABLE_LEN: usize = 14;

/// Checks that every probe but `own` says not mine, and prints each flow. An
/// input shorter than [`JUDGEABLE_LEN`] may get an unsure (such as a client
/// that sent only "\r\n").
fn assert_not_mine(flows: &[(LabelRow, FlowBytes)], own: &[&str]) {
    let mut failures = Vec::new();
    for (row, bytes) in flows {
        let results = all_probes(row, bytes);
        let claimed: Vec<String> = results
            .iter()
            .filter(|(name, len, result)| {
                let probe = name.split('/').next().unwrap_or("");
                let excused = result.answer == ProbeAnswer::Unsure && *len < JUDGEABLE_LEN;
                !own.contains(&probe) && result.answer != ProbeAnswer::NotMine && !excused
            })
            .map(|(name, len, result)| format!("{name} ({len} bytes) {}", answer_name(*result)))
            .collect();
        println!(
            "{} [{}]: {} probes, claimed by {claimed:?}",
            row.describe(),
            row.tshark_raw,
            results.len()
        );
        if !claimed.is_empty() {
            failures.push(format!("{}: {claimed:?}", row.describe()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} flows:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn text_protocols_are_not_mine() {
    let Some(corpus) = corpus() else { return };
    let rows: Vec<LabelRow> = read_labels(&corpus)
        .into_iter()
        .filter(|row| {
            row.l4 == "tcp" && (row.has_label(&TEXT_LABELS) || row.tshark_raw.starts_with("ssh"))
        })
        .collect();
    let flows = flows(&corpus, &rows);
    assert!(
        flows.len() >= 60,
        "only {} SMTP/IMAP/POP3/HTTP/SSH flows found",
        flows.len()
    );
    assert_not_mine(&flows, &[]);
}

#[test]
fn binary_protocols_are_not_each_other() {
    let Some(corpus) = corpus() else { return };
    let labels = read_labels(&corpus);
    let pick = |wanted: &[&str], l4: &str| -> Vec<LabelRow> {
        labels
            .iter()
            .filter(|row| {
                row.l4 == l4
                    && row
                        .agreed_label()
                        .is_some_and(|label| wanted.contains(&label))
            })
            .cloned()
            .collect()
    };
    let tls_flows = flows(&corpus, &pick(&TLS_LABELS, "tcp"));
    let dns_tcp_flows = flows(&corpus, &pick(&["dns"], "tcp"));
    let ldap_flows = flows(&corpus, &pick(&["ldap"], "tcp"));
    assert!(!dns_tcp_flows.is_empty(), "no DNS-over-TCP flow found");
    assert!(!ldap_flows.is_empty(), "no LDAP flow found");
    assert_not_mine(&tls_flows, &["tls"]);
    assert_not_mine(&dns_tcp_flows, &["dns-tcp"]);
    assert_not_mine(&ldap_flows, &["ldap"]);
}

/// UDP protocols that are not DNS. LLMNR (RFC 4795) and NetBIOS name service
/// (RFC 1002) use the DNS message format, so they are left out.
const NOT_DNS_UDP: [&str; 12] = [
    "quic", "sip", "stun", "openvpn", "dtls", "radius", "ntp", "dhcp", "dhcpv6", "ssdp", "rtp",
    "gtp",
];

#[test]
fn other_udp_is_not_dns() {
    let Some(corpus) = corpus() else { return };
    let rows: Vec<LabelRow> = read_labels(&corpus)
        .into_iter()
        .filter(|row| {
            let first = row.tshark_raw.split('>').next().unwrap_or("");
            row.l4 == "udp" && NOT_DNS_UDP.contains(&first)
        })
        .collect();
    let flows = flows(&corpus, &rows);
    for wanted in ["quic", "sip", "stun", "openvpn", "dtls"] {
        assert!(
            flows
                .iter()
                .any(|(row, _)| row.tshark_raw.starts_with(wanted)),
            "no {wanted} flow found"
        );
    }
    assert_not_mine(&flows, &[]);
}

#[test]
fn mdns_is_dns() {
    let Some(corpus) = corpus() else { return };
    let rows: Vec<LabelRow> = read_labels(&corpus)
        .into_iter()
        .filter(|row| row.l4 == "udp" && row.tshark_raw == "mdns")
        .collect();
    let flows = flows(&corpus, &rows);
    assert!(!flows.is_empty(), "no mDNS flow found");
    let mut failures = Vec::new();
    for (row, bytes) in &flows {
        let (summary, best, _) = check_dns_flow(row, bytes);
        println!("{summary}");
        if best != ProbeAnswer::Certain {
            failures.push(summary);
        }
    }
    assert!(
        failures.is_empty(),
        "{} flows:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn ssl2_hello_is_tls() {
    let Some(corpus) = corpus() else { return };
    let rows: Vec<LabelRow> = read_labels(&corpus)
        .into_iter()
        .filter(|row| row.file == "zeek__tls__ssl-v2.pcap")
        .collect();
    let flows = flows(&corpus, &rows);
    let (_, bytes) = flows.first().expect("the SSL 2.0 flow");
    let client = bytes.client_stream();
    let server = bytes.server_stream();
    let client_probe = tls::probe(&client);
    let server_probe = tls::probe(&server);
    assert_eq!(client_probe.answer, ProbeAnswer::Certain);
    assert_eq!(client_probe.sender_is_server, Some(false));
    assert_eq!(server_probe.answer, ProbeAnswer::Certain);
    assert_eq!(server_probe.sender_is_server, Some(true));

    let mut parser = TlsParser::default();
    let mut info = AppInfo::default();
    parser.on_stream(&client, &server, &mut info);
    assert!(parser.handshake_seen());
    let tls = info.tls.unwrap();
    assert_eq!(tls.version, Some(0x0002));
    assert_eq!(tls.ja4, None);
}

#[test]
fn dtls_is_not_tls() {
    let Some(corpus) = corpus() else { return };
    let rows: Vec<LabelRow> = read_labels(&corpus)
        .into_iter()
        .filter(|row| row.file == "zeek__tls__dtls1_2.pcap" && row.l4 == "udp")
        .collect();
    let flows = flows(&corpus, &rows);
    let (_, bytes) = flows.first().expect("the DTLS flow");
    let datagrams: Vec<&Vec<u8>> = bytes.client.iter().chain(&bytes.server).collect();
    assert!(datagrams.len() >= 2);
    for datagram in datagrams {
        // DTLS 1.2 records: content type 22, version 0xfefd.
        assert_eq!(tls::probe(datagram).answer, ProbeAnswer::NotMine);
        assert_eq!(dns::probe_datagram(datagram).answer, ProbeAnswer::NotMine);
    }
}
