//! `exflow discover` on the project's recorded captures. Every role the
//! traffic gives evidence for is recovered, no address gets a wrong role, and
//! the topology and features are right. The proposed file passes `rules
//! check` and judges the capture as the hand-written site does, apart from the
//! differences listed here, each with its reason. A capture without Exchange
//! traffic gives an empty inventory and states it.
//!
//! Session ids (N01, E05, C10, R02) name the rows of the expectation tables
//! `captures/*.expected.tsv`, which captures/README.md describes.

#[path = "common/cli.rs"]
mod cli;

use std::collections::BTreeSet;
use std::fs;
use std::net::IpAddr;
use std::path::Path;

use cli::{corpus_captures, corpus_dir, exflow, records, repo_path, stderr};
use exflow::decode::DecoderConfig;
use exflow::discover::{Confidence, Discovery, DiscoveryConfig, Inventory};
use exflow::flow::FlowConfig;
use exflow::i18n::Lang;
use exflow::pipeline::{self, AnalyzeConfig};
use exflow::policy::{Role, Site};
use ipnet::IpNet;

/// Reads captures through the pipeline into a discovery.
fn discover(captures: &[&Path]) -> Discovery {
    let config = AnalyzeConfig {
        decoder: DecoderConfig::default(),
        flows: FlowConfig::default(),
        threads: 1,
        filter: None,
    };
    let mut discovery = Discovery::new(DiscoveryConfig::default());
    for path in captures {
        let outcome = pipeline::analyze_input(path, &config, &mut ());
        assert!(
            outcome.error.is_none(),
            "{}: {:?}",
            path.display(),
            outcome.error
        );
        discovery.add_source(&outcome.source);
        for flow in &outcome.flows {
            discovery.add(flow);
        }
    }
    discovery
}

fn hand_written(name: &str) -> Site {
    let (site, warnings) = Site::load(&repo_path(&format!("captures/{name}.site.toml"))).unwrap();
    assert!(warnings.is_empty(), "{name}: {warnings:?}");
    site
}

fn addresses(nets: &[IpNet]) -> BTreeSet<IpAddr> {
    nets.iter()
        .map(|net| {
            assert_eq!(net.prefix_len(), net.max_prefix_len(), "{net} is a block");
            net.addr()
        })
        .collect()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// What the traffic of a capture shows about one role of the hand-written
/// site: the addresses it gives evidence for, and the listed addresses it
/// gives none for (each with the reason).
struct RoleExpectation {
    role: Role,
    evidenced: &'static [&'static str],
    silent: &'static [(&'static str, &'static str)],
}

/// Checks the discovered roles against the hand-written site. The
/// expectations must account for every address the hand-written site lists,
/// the discovered list of each role must be exactly the evidenced addresses,
/// and no address may get a role the hand-written site does not give it.
fn check_roles(inventory: &Inventory, site: &Site, expectations: &[RoleExpectation]) {
    for role in Role::LISTED {
        let listed = addresses(site.roles.get(role));
        let found = addresses(inventory.site.roles.get(role));
        let Some(expectation) = expectations.iter().find(|e| e.role == role) else {
            assert!(listed.is_empty(), "{role}: no expectation for {listed:?}");
            assert!(
                found.is_empty(),
                "{role}: discovered {found:?} without evidence"
            );
            continue;
        };

        let evidenced: BTreeSet<IpAddr> = expectation.evidenced.iter().map(|a| ip(a)).collect();
        let silent: BTreeSet<IpAddr> = expectation.silent.iter().map(|(a, _)| ip(a)).collect();
        let accounted: BTreeSet<IpAddr> = evidenced.union(&silent).copied().collect();
        assert_eq!(
            accounted, listed,
            "{role}: the expectation does not cover the site"
        );

        let wrong: Vec<&IpAddr> = found.difference(&listed).collect();
        assert!(wrong.is_empty(), "{role}: wrong role for {wrong:?}");
        assert_eq!(found, evidenced, "{role}: discovered roles");
    }
}

fn confidence_of(inventory: &Inventory, address: &str, role: Role) -> Confidence {
    inventory
        .assignments
        .iter()
        .find(|assessment| assessment.address == ip(address) && assessment.role == role)
        .unwrap_or_else(|| panic!("{address} has no {role}"))
        .confidence
}

#[test]
fn no_edge_capture_roles() {
    let discovery = discover(&[&repo_path("captures/exchange-no-edge.pcap")]);
    let inventory = discovery.inventory();
    let site = hand_written("exchange-no-edge");

    check_roles(
        &inventory,
        &site,
        &[
            RoleExpectation {
                role: Role::ClientAccess,
                // 10.20.0.10 serves HTTP for every Exchange service on 80
                // (N16-N24), which also names mail.example.com and
                // autodiscover.example.com as Exchange web names; fd00:20::10
                // serves TLS on 443 for mail.example.com (N14).
                evidenced: &["10.20.0.10", "fd00:20::10"],
                silent: &[(
                    "10.20.0.11",
                    "its only flow is SSH spoken on 443 (N37), which is no Client Access behaviour",
                )],
            },
            RoleExpectation {
                role: Role::Mailbox,
                // The back end on 444 (N30) and the front end's SMTP (N31).
                evidenced: &["10.20.0.20"],
                silent: &[],
            },
            RoleExpectation {
                role: Role::Dns,
                // Serves the CAS and the Mailbox (N25-N27). The internet
                // resolver 203.0.113.53 (N38) is outside the site.
                evidenced: &["10.20.0.53"],
                silent: &[],
            },
            RoleExpectation {
                role: Role::DomainController,
                // LDAP on 389 (N28) and the global catalog on 3268 (N29).
                evidenced: &["10.20.0.2"],
                silent: &[],
            },
        ],
    );
    for (address, role) in [
        ("10.20.0.10", Role::ClientAccess),
        ("fd00:20::10", Role::ClientAccess),
        ("10.20.0.20", Role::Mailbox),
        ("10.20.0.53", Role::Dns),
        ("10.20.0.2", Role::DomainController),
    ] {
        assert_eq!(
            confidence_of(&inventory, address, role),
            Confidence::High,
            "{address} {role}"
        );
    }

    assert_eq!(inventory.site.topology, site.topology);
    // N06: the CAS sends to an internet MX, the front end proxy at work.
    assert!(inventory.site.features.front_end_proxy);
    assert!(!inventory.site.features.submission_on_port_25);
    // The traffic departs from the hand-written site here: the CAS served
    // IMAP (N34) and POP3S (N35), which the site turns off. Discovery
    // reports what the traffic shows.
    assert!(!site.features.imap4);
    assert!(inventory.site.features.imap4);
    assert!(!site.features.pop3);
    assert!(inventory.site.features.pop3);

    let networks = &inventory.site.networks;
    let internal: Vec<String> = networks.internal.iter().map(|n| n.to_string()).collect();
    assert_eq!(internal, ["10.20.0.0/24", "fd00:20::/64"]);
    assert!(networks.perimeter.is_empty());

    // The hosts left out are listed as comments with their reason.
    let candidates: BTreeSet<IpAddr> = inventory.candidates.iter().map(|c| c.address).collect();
    let expected: BTreeSet<IpAddr> = ["10.20.0.11", "10.20.0.30", "203.0.113.53"]
        .iter()
        .map(|a| ip(a))
        .collect();
    assert_eq!(candidates, expected);
}

#[test]
fn edge_capture_roles() {
    let discovery = discover(&[&repo_path("captures/exchange-edge.pcap")]);
    let inventory = discovery.inventory();
    let site = hand_written("exchange-edge");

    check_roles(
        &inventory,
        &site,
        &[
            RoleExpectation {
                role: Role::ClientAccess,
                // Submission on 587 (E09) backed by HTTPS (E10, E17) and
                // internet SMTP (E15): no Exchange-specific behaviour, so
                // medium confidence.
                evidenced: &["10.20.0.10"],
                silent: &[
                    ("fd00:20::10", "no flow reaches the IPv6 address"),
                    ("10.20.0.11", "no flow reaches it"),
                ],
            },
            RoleExpectation {
                role: Role::Mailbox,
                // EdgeSync to the Edge (E05, E22), the Edge's relay (E02).
                evidenced: &["10.20.0.20"],
                silent: &[],
            },
            RoleExpectation {
                role: Role::EdgeTransport,
                // EdgeSync on 50636 (E05, E16, E22) and internet SMTP (E01).
                evidenced: &["172.16.50.5"],
                silent: &[],
            },
            RoleExpectation {
                role: Role::Dns,
                evidenced: &["10.20.0.53"],
                silent: &[],
            },
            RoleExpectation {
                role: Role::DomainController,
                // LDAP on 389 for the Mailbox server (E12).
                evidenced: &["10.20.0.2"],
                silent: &[],
            },
            RoleExpectation {
                role: Role::Proxy,
                // The Edge's CONNECT requests (E08, E21).
                evidenced: &["172.16.50.80"],
                silent: &[],
            },
        ],
    );
    assert_eq!(
        confidence_of(&inventory, "10.20.0.10", Role::ClientAccess),
        Confidence::Medium
    );
    assert_eq!(
        confidence_of(&inventory, "172.16.50.5", Role::EdgeTransport),
        Confidence::High
    );

    assert_eq!(inventory.site.topology, site.topology);
    assert!(inventory.site.topology.edge_transport);
    // E20 (the CAS sending to the internet past the Edge) does not turn the
    // front end proxy on: it has no effect with an Edge, and the finding is
    // kept as a comment.
    assert_eq!(inventory.site.features, site.features);
    let proxy = inventory
        .features
        .iter()
        .find(|finding| finding.key == "front_end_proxy")
        .expect("the CAS's SMTP to the internet is reported");
    assert!(!proxy.enabled);

    // The Edge used the proxy on 8080 and 3128 (E21), where the site allows
    // 8080 only.
    assert_eq!(site.sender_reputation.proxy_ports, [8080]);
    assert_eq!(inventory.site.sender_reputation.proxy_ports, [3128, 8080]);
    let perimeter: Vec<String> = inventory
        .site
        .networks
        .perimeter
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(perimeter, ["172.16.50.0/24"]);
    // Site policy is never guessed.
    assert!(inventory.site.allows.is_empty());
}

#[test]
fn clients_capture_roles() {
    let discovery = discover(&[&repo_path("captures/exchange-clients.pcapng")]);
    let inventory = discovery.inventory();
    let site = hand_written("exchange-clients");

    check_roles(
        &inventory,
        &site,
        &[
            RoleExpectation {
                role: Role::ClientAccess,
                // 10.20.0.10: submission on 587 (C11) backed by IMAP, POP3
                // and internet SMTP. fd00:20::10: IMAPS for mail.example.com
                // (C05), the name 10.20.0.10 serves on its client ports.
                evidenced: &["10.20.0.10", "fd00:20::10"],
                silent: &[("10.20.0.11", "no flow reaches it")],
            },
            RoleExpectation {
                role: Role::Mailbox,
                evidenced: &[],
                silent: &[("10.20.0.20", "no flow reaches it")],
            },
            RoleExpectation {
                role: Role::Dns,
                evidenced: &[],
                silent: &[("10.20.0.53", "no flow reaches it")],
            },
            RoleExpectation {
                role: Role::DomainController,
                evidenced: &[],
                silent: &[("10.20.0.2", "no flow reaches it")],
            },
        ],
    );
    for address in ["10.20.0.10", "fd00:20::10"] {
        assert_eq!(
            confidence_of(&inventory, address, Role::ClientAccess),
            Confidence::Medium,
            "{address}"
        );
    }

    assert_eq!(inventory.site.topology, site.topology);
    let features = &inventory.site.features;
    assert!(features.imap4);
    assert!(features.pop3);
    assert!(!features.front_end_proxy);
    // C10 authenticates on 25 only after STARTTLS, so on the wire it is an
    // SMTP session like C12's: the traffic gives no evidence for
    // submission_on_port_25.
    assert!(site.features.submission_on_port_25);
    assert!(!features.submission_on_port_25);
}

#[test]
fn roles_capture_roles() {
    let discovery = discover(&[&repo_path("captures/exchange-roles.pcap")]);
    let inventory = discovery.inventory();
    let site = hand_written("exchange-roles");

    check_roles(
        &inventory,
        &site,
        &[
            RoleExpectation {
                role: Role::ClientAccess,
                // TLS for autodiscover.example.com (R01) and SMTP on the
                // outbound proxy port 717 (R03).
                evidenced: &["10.20.0.10"],
                silent: &[
                    ("fd00:20::10", "no flow reaches the IPv6 address"),
                    ("10.20.0.11", "no flow reaches it"),
                ],
            },
            RoleExpectation {
                role: Role::Mailbox,
                // The front end's SMTP on 2525 (R02) and its own SMTP to
                // port 717 of the CAS (R03).
                evidenced: &["10.20.0.20"],
                silent: &[],
            },
            RoleExpectation {
                role: Role::Dns,
                evidenced: &[],
                silent: &[("10.20.0.53", "no flow reaches it")],
            },
            RoleExpectation {
                role: Role::DomainController,
                evidenced: &[],
                silent: &[("10.20.0.2", "no flow reaches it")],
            },
        ],
    );
    assert_eq!(
        confidence_of(&inventory, "10.20.0.10", Role::ClientAccess),
        Confidence::High
    );
    assert_eq!(
        confidence_of(&inventory, "10.20.0.20", Role::Mailbox),
        Confidence::High
    );
    let signals: Vec<&str> = inventory
        .assignments
        .iter()
        .find(|assessment| assessment.role == Role::Mailbox)
        .unwrap()
        .evidence
        .iter()
        .map(|evidence| evidence.signal.id())
        .collect();
    assert_eq!(
        signals,
        ["mailbox_outbound_proxy", "mailbox_front_end_relay"]
    );

    // R04 authenticates on 25 before TLS: submission on port 25 is in use.
    assert_eq!(inventory.site.topology, site.topology);
    assert_eq!(inventory.site.features, site.features);
    let finding = inventory
        .features
        .iter()
        .find(|finding| finding.key == "submission_on_port_25")
        .unwrap();
    let peers: Vec<IpAddr> = finding
        .evidence
        .iter()
        .flat_map(|(_, evidence)| evidence.peers.iter().copied())
        .collect();
    assert_eq!(peers, [ip("10.20.0.100")]);
}

#[test]
fn domain_controller_needs_exchange() {
    // Port 88 is port-only evidence, because exflow has no Kerberos
    // dissector. The LDAP flows on 389 start mid-stream: the client's first
    // bytes are the tail of a request that no probe recognises, but the server's
    // bind responses are whole LDAP messages, so the payload names them.
    // Kerberos and LDAP together make a domain controller of medium
    // confidence, which is only listed next to an Exchange server.
    let path = corpus_dir().join("ndpi__kerberos.pcap");
    let inventory = discover(&[&path]).inventory();
    assert!(inventory.is_empty());
    let candidate = inventory
        .candidates
        .iter()
        .find(|candidate| candidate.address == ip("172.16.8.8"))
        .expect("the domain controller is listed");
    let [rejected] = candidate.rejected.as_slice() else {
        panic!("{:?}", candidate.rejected);
    };
    assert_eq!(rejected.reason.id(), "no_exchange_server");
    let assessment = &rejected.assessment;
    assert_eq!(assessment.role, Role::DomainController);
    assert_eq!(assessment.confidence, Confidence::Medium);
    let signals: Vec<&str> = assessment.evidence.iter().map(|e| e.signal.id()).collect();
    assert_eq!(signals, ["dc_ldap", "dc_kerberos"]);
}

#[test]
fn rendered_file_parses_to_the_site() {
    for name in [
        "exchange-no-edge.pcap",
        "exchange-edge.pcap",
        "exchange-clients.pcapng",
        "exchange-roles.pcap",
    ] {
        let discovery = discover(&[&repo_path(&format!("captures/{name}"))]);
        let inventory = discovery.inventory();
        // Roles lean on the roles of the round before, and the last round
        // changes nothing.
        assert!(
            (2..=4).contains(&inventory.rounds),
            "{name}: {}",
            inventory.rounds
        );
        for lang in [Lang::En, Lang::Ja] {
            let text = discovery.render_inventory(&inventory, lang);
            let (site, warnings) = Site::parse(name, &text)
                .unwrap_or_else(|errors| panic!("{name} {lang:?}: {errors:?}\n{text}"));
            assert!(warnings.is_empty(), "{name} {lang:?}: {warnings:?}");
            assert_eq!(site, inventory.site, "{name} {lang:?}");

            // Every assignment carries its evidence in a comment.
            for assessment in &inventory.assignments {
                let line = match lang {
                    Lang::En => format!(
                        "# {}, confidence {}:",
                        assessment.address,
                        assessment.confidence.as_str()
                    ),
                    Lang::Ja => format!("# {} (確度 ", assessment.address),
                };
                assert!(text.contains(&line), "{name} {lang:?}: no `{line}`");
            }
        }
        assert_eq!(
            discovery.render(Lang::En),
            discovery.render_inventory(&inventory, Lang::En)
        );
    }
}

#[test]
fn discovered_file_passes_rules_check() {
    let dir = tempfile::tempdir().unwrap();
    for (name, assignments) in [
        ("exchange-no-edge", 5),
        ("exchange-edge", 6),
        ("exchange-roles", 2),
    ] {
        let capture = repo_path(&format!("captures/{name}.pcap"));
        let out = dir.path().join(format!("{name}.toml"));
        let output = exflow(&[
            "discover",
            capture.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let summary = format!("proposed role assignments: {assignments}, for hosts: {assignments}");
        assert!(stderr(&output).contains(&summary), "{}", stderr(&output));

        let output = exflow(&["rules", "check", "--site", out.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert!(
            stdout.contains("site file is valid (warnings: 0)"),
            "{stdout}"
        );
    }
}

/// Reads the session ids of a capture's expectation table, one per flow, in
/// flow order.
fn sessions(name: &str) -> Vec<String> {
    let text = fs::read_to_string(repo_path(&format!("captures/{name}.expected.tsv"))).unwrap();
    text.lines()
        .skip(1)
        .map(|line| line.split('\t').next().unwrap().to_string())
        .collect()
}

/// Returns the verdict and rule of each flow of a capture under a site.
fn verdicts(capture: &Path, site: &Path) -> Vec<(String, String)> {
    let output = exflow(&[
        "analyze",
        "--format",
        "jsonl",
        "--site",
        site.to_str().unwrap(),
        capture.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    records(&output)
        .iter()
        .map(|record| {
            (
                record["verdict"].as_str().unwrap().to_string(),
                record["rule"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect()
}

/// Judges a capture with its hand-written site and with the discovered one,
/// and returns the sessions whose verdict differs, and those whose verdict is
/// the same but the rule differs.
fn verdict_differences(file: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let name = file.split('.').next().unwrap();
    let capture = repo_path(&format!("captures/{file}"));
    let dir = tempfile::tempdir().unwrap();
    let discovered = dir.path().join("discovered.toml");
    let output = exflow(&[
        "discover",
        capture.to_str().unwrap(),
        "-o",
        discovered.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    let sessions = sessions(name);
    let written = verdicts(&capture, &repo_path(&format!("captures/{name}.site.toml")));
    let found = verdicts(&capture, &discovered);
    assert_eq!(
        written.len(),
        sessions.len(),
        "{name}: flows and table rows"
    );
    assert_eq!(found.len(), sessions.len(), "{name}: flows and table rows");

    let mut verdict = BTreeSet::new();
    let mut rule = BTreeSet::new();
    for ((session, a), b) in sessions.iter().zip(&written).zip(&found) {
        if a.0 != b.0 {
            verdict.insert(session.clone());
        } else if a.1 != b.1 {
            rule.insert(session.clone());
        }
    }
    (verdict, rule)
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|item| item.to_string()).collect()
}

#[test]
fn no_edge_verdicts_match() {
    let (verdict, rule) = verdict_differences("exchange-no-edge.pcap");
    // N34, N35: IMAP and POP3S are in use although the site turns them off
    // (the discovered file allows them). N37: 10.20.0.11 shows no Client
    // Access behaviour, so SSH to it is no longer an Exchange path.
    assert_eq!(verdict, set(&["N34", "N35", "N37"]));
    assert!(rule.is_empty(), "{rule:?}");
}

#[test]
fn edge_verdicts_match() {
    let (verdict, rule) = verdict_differences("exchange-edge.pcap");
    // E13: the administrator's SSH is allowed by the site's [[allow]] entry,
    // which discovery never proposes. E21: the Edge used the proxy on 3128,
    // which the site leaves out of proxy_ports.
    assert_eq!(verdict, set(&["E13", "E21"]));
    assert!(rule.is_empty(), "{rule:?}");
}

#[test]
fn clients_verdicts_match() {
    let (verdict, rule) = verdict_differences("exchange-clients.pcapng");
    assert!(verdict.is_empty(), "{verdict:?}");
    // C10 and C12 stay allowed, by mail.inbound instead of
    // client.submission-25: the traffic cannot show submission on 25.
    assert_eq!(rule, set(&["C10", "C12"]));
}

#[test]
fn roles_verdicts_match() {
    let (verdict, rule) = verdict_differences("exchange-roles.pcap");
    assert!(verdict.is_empty(), "{verdict:?}");
    assert!(rule.is_empty(), "{rule:?}");
}

#[test]
fn no_exchange_traffic_gives_empty_inventory() {
    for name in [
        "zeek__http__get-to-ssh-server.pcap",
        "tcpdump__dns_udp.pcap",
    ] {
        let path = corpus_dir().join(name);
        let discovery = discover(&[&path]);
        assert!(discovery.observations().flows > 0, "{name}: no flows read");
        let inventory = discovery.inventory();
        assert!(inventory.is_empty(), "{name}: {:?}", inventory.site.roles);
        assert!(inventory.assignments.is_empty(), "{name}");
        assert_eq!(inventory.site.topology, Default::default(), "{name}");
        assert_eq!(inventory.site.features, Default::default(), "{name}");

        let output = exflow(&["discover", path.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(0), "{name}: {}", stderr(&output));
        let text = String::from_utf8(output.stdout.clone()).unwrap();
        assert!(
            text.contains("# No Client Access, Mailbox or Edge Transport server was found"),
            "{name}: {text}"
        );
        assert!(
            stderr(&output).contains("no Client Access, Mailbox or Edge Transport server found"),
            "{name}: {}",
            stderr(&output)
        );
        let (site, _) = Site::parse(name, &text).unwrap();
        assert!(site.roles.is_empty(), "{name}");
    }
}

#[test]
fn internal_resolver_without_exchange_is_a_comment() {
    let path = corpus_dir().join("ndpi__dns.pcap");
    let inventory = discover(&[&path]).inventory();
    assert!(inventory.is_empty());
    // The private resolver serves a workstation only. A DNS server matters
    // to the matrix only for Exchange servers, so it stays a comment.
    let resolver = ip("192.168.170.20");
    let candidate = inventory
        .candidates
        .iter()
        .find(|candidate| candidate.address == resolver)
        .expect("the resolver is listed");
    let roles: Vec<(Role, Confidence, &str)> = candidate
        .rejected
        .iter()
        .map(|r| (r.assessment.role, r.assessment.confidence, r.reason.id()))
        .collect();
    assert_eq!(roles, [(Role::Dns, Confidence::Low, "too_little_evidence")]);
}

#[test]
fn output_is_the_same_for_any_thread_count() {
    let capture = repo_path("captures/exchange-no-edge.pcap");
    let one = exflow(&["discover", "--threads", "1", capture.to_str().unwrap()]);
    let two = exflow(&["discover", "--threads", "2", capture.to_str().unwrap()]);
    assert_eq!(one.status.code(), Some(0));
    assert_eq!(one.stdout, two.stdout);
}

#[test]
fn several_captures_make_one_inventory() {
    let paths = [
        repo_path("captures/exchange-no-edge.pcap"),
        repo_path("captures/exchange-clients.pcapng"),
    ];
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    let inventory = discover(&refs).inventory();
    // The clients capture adds nothing new to the roles of the no-edge one.
    let no_edge = discover(&refs[..1]).inventory();
    assert_eq!(inventory.site.roles, no_edge.site.roles);
    assert!(inventory.site.features.imap4);
    assert!(inventory.site.features.pop3);
}

#[test]
fn internal_option_admits_public_servers() {
    // The internet resolver of the no-edge capture serves the Mailbox
    // server (N38). Declared internal, it becomes a site DNS server.
    let capture = repo_path("captures/exchange-no-edge.pcap");
    let output = exflow(&[
        "discover",
        "--internal",
        "203.0.113.0/24",
        capture.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout.clone()).unwrap();
    let (site, _) = Site::parse("discovered", &text).unwrap();
    let dns = addresses(&site.roles.dns);
    assert_eq!(dns, BTreeSet::from([ip("10.20.0.53"), ip("203.0.113.53")]));
    assert!(
        site.networks
            .internal
            .contains(&"203.0.113.0/24".parse().unwrap())
    );

    let output = exflow(&[
        "discover",
        "--internal",
        "not-a-net",
        capture.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("invalid network `not-a-net`"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn damaged_input_still_writes_the_file() {
    let path = corpus_dir().join("derived__smtp_truncated_midpacket.pcap");
    let output = exflow(&["discover", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("truncated"), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout.clone()).unwrap();
    assert!(Site::parse("discovered", &text).is_ok(), "{text}");
}

#[test]
fn corpus_gives_no_roles() {
    // The shared corpus holds public captures of many protocols and no
    // Exchange organisation, so any role discovered there is a false
    // positive. Damaged files end with status 2 and still give a valid file.
    let mut with_roles = Vec::new();
    for path in corpus_captures() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let output = exflow(&["discover", path.to_str().unwrap()]);
        let status = output.status.code();
        assert!(
            matches!(status, Some(0) | Some(2)),
            "{name}: status {status:?}: {}",
            stderr(&output)
        );
        let text = String::from_utf8(output.stdout).unwrap();
        let (site, _) =
            Site::parse(&name, &text).unwrap_or_else(|errors| panic!("{name}: {errors:?}"));
        if !site.roles.is_empty() {
            with_roles.push(name);
        }
    }
    assert!(with_roles.is_empty(), "roles discovered in {with_roles:?}");
}
