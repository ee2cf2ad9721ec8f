//! Verdicts against the built-in Exchange 2013 rules, site file diagnostics and
//! the effective matrix, with flows built in code.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use exflow::capture::Timestamp;
use exflow::decode::{Transport, VlanIds};
use exflow::fingerprint::{App, AppInfo, Upgrade};
use exflow::flow::{ConnState, DirectionCounters, DirectionEvidence, EndReason, FinishedFlow};
use exflow::i18n::Lang;
use exflow::policy::{
    BUILTIN_RULES, BUILTIN_RULES_NAME, Diagnostic, Judgement, Policy, PolicyError, Problem, Role,
    Rules, Severity, Site, Source, TABLE_WIDTH, Verdict,
};
use unicode_width::UnicodeWidthStr;

// Addresses of the test site.
const CLIENT_ACCESS: &str = "10.20.0.10";
const MAILBOX: &str = "10.20.0.20";
const MAILBOX_LATE: &str = "10.20.0.21";
const COMBINED: &str = "10.20.0.30";
const DC_DNS: &str = "10.20.0.2";
const DNS: &str = "10.20.0.53";
const LYNC: &str = "10.20.0.40";
const EDGE: &str = "172.16.50.5";
const PROXY: &str = "172.16.50.8";
const WORKSTATION: &str = "10.30.0.99";
const INTERNET: &str = "198.51.100.7";
const CLIENT_ACCESS_V6: &str = "2001:db8:20::10";
const EDGE_V6: &str = "2001:db8:50::5";
const INTERNET_V6: &str = "2001:db8:ffff::7";

/// Settings of the test site file.
#[derive(Clone, Copy, Default)]
struct SiteOptions {
    edge: bool,
    imap4: bool,
    pop3: bool,
    front_end_proxy: bool,
    submission_on_port_25: bool,
    /// `roles.edge_subscribed_mailbox`; empty means every mailbox.
    subscribed: &'static [&'static str],
    proxy_ports: &'static [u16],
    /// Extra `[[allow]]` tables.
    allows: &'static str,
}

fn site_text(options: &SiteOptions) -> String {
    let quoted = |items: &[&str]| {
        items
            .iter()
            .map(|item| format!("{item:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (edge, proxy) = if options.edge {
        (quoted(&[EDGE, EDGE_V6]), quoted(&[PROXY]))
    } else {
        (String::new(), String::new())
    };
    let ports: Vec<String> = options.proxy_ports.iter().map(u16::to_string).collect();
    format!(
        r#"
[topology]
edge_transport = {edge_flag}

[features]
imap4 = {imap4}
pop3 = {pop3}
front_end_proxy = {front_end_proxy}
submission_on_port_25 = {submission}

[roles]
client_access = ["{CLIENT_ACCESS}", "{COMBINED}", "{CLIENT_ACCESS_V6}"]
mailbox = ["{MAILBOX}", "{MAILBOX_LATE}", "{COMBINED}"]
edge_transport = [{edge}]
dns = ["{DC_DNS}", "{DNS}"]
domain_controller = ["{DC_DNS}"]
lync = ["{LYNC}"]
proxy = [{proxy}]
edge_subscribed_mailbox = [{subscribed}]

[sender_reputation]
proxy_ports = [{ports}]

[networks]
internal = ["10.0.0.0/8", "2001:db8:20::/48"]
perimeter = ["172.16.50.0/24", "2001:db8:50::/48"]
{allows}
"#,
        edge_flag = options.edge,
        imap4 = options.imap4,
        pop3 = options.pop3,
        front_end_proxy = options.front_end_proxy,
        submission = options.submission_on_port_25,
        subscribed = quoted(options.subscribed),
        ports = ports.join(", "),
        allows = options.allows,
    )
}

fn policy(options: SiteOptions) -> Policy {
    let text = site_text(&options);
    let source = Source {
        name: "site.toml",
        text: &text,
    };
    match Policy::from_sources(None, Some(source)) {
        Ok(policy) => policy,
        Err(error) => panic!("test site is invalid: {:#?}", error.diagnostics()),
    }
}

fn edge_site() -> SiteOptions {
    SiteOptions {
        edge: true,
        proxy_ports: &[8080],
        ..SiteOptions::default()
    }
}

fn address(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn flow(transport: Transport, client: &str, server: &str, port: u16, app: App) -> FinishedFlow {
    let client = address(client);
    FinishedFlow {
        transport,
        ip_version: if client.is_ipv4() { 4 } else { 6 },
        client: SocketAddr::new(client, 50123),
        server: SocketAddr::new(address(server), port),
        direction_evidence: DirectionEvidence::Syn,
        conn_state: ConnState::Sf,
        vlan: VlanIds::default(),
        ts_start: Timestamp(0),
        ts_end: Timestamp(1_000_000_000),
        to_server: DirectionCounters::default(),
        to_client: DirectionCounters::default(),
        missed_bytes: 0,
        app: AppInfo {
            app,
            ..AppInfo::default()
        },
        end: EndReason::Closed,
        first_offset: 0,
        start_clock: Timestamp(0),
        duplicates: 0,
    }
}

fn tcp(client: &str, server: &str, port: u16, app: App) -> FinishedFlow {
    flow(Transport::Tcp, client, server, port, app)
}

fn udp(client: &str, server: &str, port: u16, app: App) -> FinishedFlow {
    flow(Transport::Udp, client, server, port, app)
}

fn assert_allowed(judgement: &Judgement, rule: &str) {
    assert_eq!(
        judgement.verdict,
        Verdict::Allowed,
        "expected {rule}, got: {}",
        judgement.reason.render(Lang::En)
    );
    assert_eq!(judgement.rule.as_deref(), Some(rule));
}

fn assert_unexpected(judgement: &Judgement) {
    assert_eq!(
        judgement.verdict,
        Verdict::Unexpected,
        "reason: {}",
        judgement.reason.render(Lang::En)
    );
    assert_eq!(judgement.rule, None);
}

/// One row of the matrix: a site where the row is on, a flow it allows, and a
/// site where its condition is off (`None` for rows without a condition).
struct RowCase {
    id: &'static str,
    site: SiteOptions,
    flow: fn() -> FinishedFlow,
    condition_off: Option<SiteOptions>,
}

fn row_cases() -> Vec<RowCase> {
    let imap = SiteOptions {
        imap4: true,
        ..SiteOptions::default()
    };
    let pop3 = SiteOptions {
        pop3: true,
        ..SiteOptions::default()
    };
    let submission_25 = SiteOptions {
        submission_on_port_25: true,
        ..edge_site()
    };
    let outbound_proxy = SiteOptions {
        front_end_proxy: true,
        ..SiteOptions::default()
    };
    let only_first_mailbox = SiteOptions {
        subscribed: &[MAILBOX],
        ..edge_site()
    };
    vec![
        RowCase {
            id: "client.https",
            site: SiteOptions::default(),
            flow: || tcp(INTERNET, CLIENT_ACCESS, 443, App::Tls),
            condition_off: None,
        },
        RowCase {
            id: "client.http",
            site: SiteOptions::default(),
            flow: || tcp(WORKSTATION, CLIENT_ACCESS, 80, App::Http),
            condition_off: None,
        },
        RowCase {
            id: "client.imap",
            site: imap,
            flow: || tcp(WORKSTATION, CLIENT_ACCESS, 143, App::Imap),
            condition_off: Some(SiteOptions::default()),
        },
        RowCase {
            id: "client.imaps",
            site: imap,
            flow: || tcp(INTERNET, CLIENT_ACCESS, 993, App::Tls),
            condition_off: Some(SiteOptions::default()),
        },
        RowCase {
            id: "client.pop3",
            site: pop3,
            flow: || tcp(WORKSTATION, CLIENT_ACCESS, 110, App::Pop3),
            condition_off: Some(SiteOptions::default()),
        },
        RowCase {
            id: "client.pop3s",
            site: pop3,
            flow: || tcp(INTERNET, CLIENT_ACCESS, 995, App::Tls),
            condition_off: Some(SiteOptions::default()),
        },
        RowCase {
            id: "client.submission",
            site: SiteOptions::default(),
            flow: || tcp(INTERNET, CLIENT_ACCESS, 587, App::Smtp),
            condition_off: None,
        },
        RowCase {
            id: "client.submission-25",
            site: submission_25,
            flow: || tcp(INTERNET, CLIENT_ACCESS, 25, App::Smtp),
            condition_off: Some(edge_site()),
        },
        RowCase {
            id: "mail.inbound",
            site: SiteOptions::default(),
            flow: || tcp(INTERNET, CLIENT_ACCESS, 25, App::Smtp),
            condition_off: Some(edge_site()),
        },
        RowCase {
            id: "mail.outbound",
            site: SiteOptions::default(),
            flow: || tcp(MAILBOX, INTERNET, 25, App::Smtp),
            condition_off: Some(edge_site()),
        },
        RowCase {
            id: "mail.outbound-proxy",
            site: outbound_proxy,
            flow: || tcp(CLIENT_ACCESS, INTERNET, 25, App::Smtp),
            condition_off: Some(SiteOptions::default()),
        },
        RowCase {
            id: "mail.dns",
            site: SiteOptions::default(),
            flow: || udp(MAILBOX, DNS, 53, App::Dns),
            condition_off: None,
        },
        RowCase {
            id: "edge.inbound",
            site: edge_site(),
            flow: || tcp(INTERNET, EDGE, 25, App::Smtp),
            condition_off: Some(SiteOptions::default()),
        },
        RowCase {
            id: "edge.to-mailbox",
            site: edge_site(),
            flow: || tcp(EDGE, MAILBOX_LATE, 25, App::Smtp),
            condition_off: Some(only_first_mailbox),
        },
        RowCase {
            id: "edge.from-mailbox",
            site: edge_site(),
            flow: || tcp(MAILBOX_LATE, EDGE, 25, App::Smtp),
            condition_off: Some(only_first_mailbox),
        },
        RowCase {
            id: "edge.outbound",
            site: edge_site(),
            flow: || tcp(EDGE, INTERNET, 25, App::Smtp),
            condition_off: Some(SiteOptions::default()),
        },
        RowCase {
            id: "edge.edgesync",
            site: edge_site(),
            flow: || tcp(MAILBOX_LATE, EDGE, 50636, App::Tls),
            condition_off: Some(only_first_mailbox),
        },
        RowCase {
            id: "edge.dns",
            site: edge_site(),
            flow: || udp(EDGE, DNS, 53, App::Dns),
            condition_off: Some(SiteOptions::default()),
        },
        RowCase {
            id: "edge.reputation-proxy",
            site: edge_site(),
            flow: || tcp(EDGE, PROXY, 8080, App::Http),
            condition_off: Some(SiteOptions {
                proxy_ports: &[3128],
                ..edge_site()
            }),
        },
        RowCase {
            id: "internal.unrestricted",
            site: SiteOptions::default(),
            flow: || tcp(MAILBOX, DC_DNS, 135, App::Unknown),
            condition_off: None,
        },
    ]
}

#[test]
fn every_row_allows_its_flow() {
    for case in row_cases() {
        let judgement = policy(case.site).judge(&(case.flow)());
        assert_allowed(&judgement, case.id);
        assert!(
            judgement
                .reason
                .render(Lang::En)
                .starts_with(&format!("matches {}", case.id)),
            "{}",
            judgement.reason.render(Lang::En)
        );
    }
}

#[test]
fn every_row_refused_when_condition_off() {
    for case in row_cases() {
        let Some(site) = case.condition_off else {
            continue;
        };
        let judgement = policy(site).judge(&(case.flow)());
        assert_ne!(
            judgement.verdict,
            Verdict::Allowed,
            "{} stayed allowed",
            case.id
        );
        assert_eq!(judgement.rule, None, "{}", case.id);
    }
}

#[test]
fn row_cases_cover_every_builtin_row() {
    let case_ids: BTreeSet<&str> = row_cases().iter().map(|case| case.id).collect();
    let rules = Rules::builtin();
    let row_ids: BTreeSet<&str> = rules.rows.iter().map(|row| row.id.as_str()).collect();
    assert_eq!(case_ids, row_ids);
}

#[test]
fn flow_without_payload_matches_row() {
    let judgement =
        policy(SiteOptions::default()).judge(&tcp(INTERNET, CLIENT_ACCESS, 443, App::None));
    assert_allowed(&judgement, "client.https");
}

/// Parses the row ids out of the matrix document's tables: the first cell of
/// each table row, when it is a backquoted `group.name`.
fn matrix_row_ids() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/MATRIX.md");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let mut ids = BTreeSet::new();
    for line in text.lines() {
        let Some(cell) = line.strip_prefix("| `") else {
            continue;
        };
        let Some((id, _)) = cell.split_once('`') else {
            continue;
        };
        if id.contains('.') {
            ids.insert(id.to_string());
        }
    }
    ids
}

#[test]
fn builtin_rules_cover_matrix_ids() {
    let matrix_ids = matrix_row_ids();
    assert_eq!(matrix_ids.len(), 20, "{matrix_ids:?}");
    let (rules, warnings) = Rules::parse(BUILTIN_RULES_NAME, BUILTIN_RULES).unwrap();
    assert!(warnings.is_empty());
    let rule_ids: BTreeSet<String> = rules.rows.iter().map(|row| row.id.clone()).collect();
    assert_eq!(rule_ids, matrix_ids);
}

#[test]
fn builtin_order_is_fixed() {
    let policy = policy(SiteOptions {
        allows: "[[allow]]\nname = \"x\"\nfrom = [\"internal\"]\nto = [\"internet\"]\nports = [\"tcp/1\"]\n",
        ..SiteOptions::default()
    });
    let ids: Vec<String> = policy
        .effective_rows()
        .into_iter()
        .map(|row| row.id)
        .collect();
    let groups: Vec<&str> = ids.iter().map(|id| id.split('.').next().unwrap()).collect();
    let mut deduplicated = groups.clone();
    deduplicated.dedup();
    assert_eq!(deduplicated, ["client", "mail", "edge", "site", "internal"]);
    assert_eq!(ids.iter().position(|id| id == "site.x"), Some(19));
}

#[test]
fn topology_decides_inbound_path() {
    let inbound = tcp(INTERNET, MAILBOX, 25, App::Smtp);

    let with_edge = policy(edge_site()).judge(&inbound);
    assert_unexpected(&with_edge);
    assert_eq!(with_edge.reason.nearest_row(), Some("edge.inbound"));
    assert_eq!(
        with_edge.reason.render(Lang::En),
        "mail from the internet must reach the Edge Transport server, not the Mailbox server, \
         in a topology with Edge (nearest row: edge.inbound)"
    );
    assert_eq!(
        with_edge.reason.render(Lang::Ja),
        "エッジ トランスポート サーバーのあるトポロジでは、インターネットからのメールはメールボックス サーバーではなく\
         エッジ トランスポート サーバーに届く必要があります (最も近い行: edge.inbound)"
    );

    let without_edge = policy(SiteOptions::default()).judge(&inbound);
    assert_unexpected(&without_edge);
    assert_eq!(without_edge.reason.nearest_row(), Some("mail.inbound"));
    assert_eq!(
        without_edge.reason.render(Lang::En),
        "mail from the internet must reach the Client Access server, not the Mailbox server, \
         in a topology without Edge (nearest row: mail.inbound)"
    );
}

#[test]
fn edge_topology_turns_off_mail_rows() {
    let to_client_access = policy(edge_site()).judge(&tcp(INTERNET, CLIENT_ACCESS, 25, App::Smtp));
    assert_unexpected(&to_client_access);
    assert_eq!(to_client_access.reason.nearest_row(), Some("mail.inbound"));
    assert_eq!(to_client_access.reason.code(), "condition");
    assert_eq!(
        to_client_access.reason.render(Lang::En),
        "mail from the internet must reach the Edge Transport server, not the Client Access server, \
         in a topology with Edge (nearest row: mail.inbound)"
    );

    let outbound = policy(edge_site()).judge(&tcp(MAILBOX, INTERNET, 25, App::Smtp));
    assert_unexpected(&outbound);
    assert_eq!(outbound.reason.nearest_row(), Some("mail.outbound"));
    assert_eq!(
        outbound.reason.render(Lang::En),
        "mail to the internet must leave through the Edge Transport server, not from the Mailbox server, \
         in a topology with Edge (nearest row: mail.outbound)"
    );
    assert!(
        outbound
            .reason
            .render(Lang::Ja)
            .contains("インターネットへのメールはメールボックス サーバーからではなく")
    );

    // Client submission is unaffected by the Edge.
    let submission = policy(edge_site()).judge(&tcp(INTERNET, CLIENT_ACCESS, 587, App::Smtp));
    assert_allowed(&submission, "client.submission");
}

#[test]
fn wrong_source_role_reason() {
    let site = policy(edge_site());

    let edge_to_web = site.judge(&tcp(EDGE, CLIENT_ACCESS, 443, App::Tls));
    assert_unexpected(&edge_to_web);
    assert_eq!(edge_to_web.reason.code(), "client_role");
    assert_eq!(
        edge_to_web.reason.render(Lang::En),
        "the Edge Transport server takes no part in 443/tcp traffic to the Client Access server \
         (nearest row: client.https)"
    );
    assert_eq!(
        edge_to_web.reason.render(Lang::Ja),
        "エッジ トランスポート サーバーはクライアント アクセス サーバーへの 443/tcp の通信に関与しません \
         (最も近い行: client.https)"
    );

    let sync_from_internet = site.judge(&tcp(INTERNET, EDGE, 50636, App::Tls));
    assert_unexpected(&sync_from_internet);
    assert_eq!(
        sync_from_internet.reason.render(Lang::En),
        "the Edge Transport server accepts 50636/tcp only from the Mailbox server, not from the internet \
         (nearest row: edge.edgesync)"
    );
    assert_eq!(
        sync_from_internet.reason.render(Lang::Ja),
        "エッジ トランスポート サーバーが 50636/tcp で受け付けるのはメールボックス サーバーからだけで、\
         インターネットからではありません (最も近い行: edge.edgesync)"
    );
}

#[test]
fn wrong_port_reason() {
    let judgement =
        policy(SiteOptions::default()).judge(&tcp(INTERNET, CLIENT_ACCESS, 8443, App::Tls));
    assert_unexpected(&judgement);
    assert_eq!(judgement.reason.code(), "port");
    assert_eq!(
        judgement.reason.render(Lang::En),
        "no row allows 8443/tcp from the internet to the Client Access server; \
         the nearest row, client.https, allows 443/tcp"
    );
    assert_eq!(
        judgement.reason.render(Lang::Ja),
        "インターネットからクライアント アクセス サーバーへの 8443/tcp を許可する行はありません。\
         最も近い行 client.https が許可するのは 443/tcp です"
    );

    // The roles differ too: the reason shows the nearest row whole.
    let edge_to_workstation =
        policy(edge_site()).judge(&tcp(EDGE, WORKSTATION, 3389, App::Unknown));
    assert_unexpected(&edge_to_workstation);
    let text = edge_to_workstation.reason.render(Lang::En);
    assert!(
        text.starts_with("no row allows 3389/tcp from the Edge Transport server to an internal host; the nearest row, edge."),
        "{text}"
    );
}

#[test]
fn condition_off_reason() {
    let judgement =
        policy(SiteOptions::default()).judge(&tcp(INTERNET, CLIENT_ACCESS, 143, App::Imap));
    assert_unexpected(&judgement);
    assert_eq!(judgement.reason.code(), "condition");
    assert_eq!(
        judgement.reason.render(Lang::En),
        "IMAP4 is disabled by default; set features.imap4 = true if this site enables it (nearest row: client.imap)"
    );
    assert_eq!(
        judgement.reason.render(Lang::Ja),
        "IMAP4 は既定では無効になっています。このサイトで有効にしている場合は features.imap4 = true を設定してください \
         (最も近い行: client.imap)"
    );

    let pop3 = policy(SiteOptions::default()).judge(&tcp(INTERNET, CLIENT_ACCESS, 995, App::Tls));
    assert_eq!(pop3.reason.nearest_row(), Some("client.pop3s"));
    assert!(
        pop3.reason
            .render(Lang::En)
            .starts_with("POP3 is disabled by default; set features.pop3 = true")
    );

    let proxy = policy(SiteOptions::default()).judge(&tcp(CLIENT_ACCESS, INTERNET, 25, App::Smtp));
    assert_eq!(proxy.reason.nearest_row(), Some("mail.outbound-proxy"));
    assert!(
        proxy
            .reason
            .render(Lang::En)
            .contains("set features.front_end_proxy = true")
    );
    assert!(
        proxy
            .reason
            .render(Lang::Ja)
            .contains("features.front_end_proxy = true を設定してください")
    );
}

#[test]
fn protocol_mismatch_reason() {
    let ssh = policy(SiteOptions::default()).judge(&tcp(INTERNET, CLIENT_ACCESS, 443, App::Ssh));
    assert_unexpected(&ssh);
    assert_eq!(ssh.reason.code(), "protocol");
    assert_eq!(
        ssh.reason.render(Lang::En),
        "port 443/tcp expects TLS, the payload is SSH (nearest row: client.https)"
    );
    assert_eq!(
        ssh.reason.render(Lang::Ja),
        "ポート 443/tcp では TLS を想定していますが、ペイロードは SSH でした (最も近い行: client.https)"
    );

    let ldap = policy(edge_site()).judge(&tcp(MAILBOX, EDGE, 50636, App::Ldap));
    assert_unexpected(&ldap);
    assert_eq!(
        ldap.reason.render(Lang::En),
        "port 50636/tcp expects TLS, the payload is cleartext LDAP (nearest row: edge.edgesync)"
    );
    assert_eq!(
        ldap.reason.render(Lang::Ja),
        "ポート 50636/tcp では TLS を想定していますが、ペイロードは LDAP (平文) でした (最も近い行: edge.edgesync)"
    );

    let unknown =
        policy(SiteOptions::default()).judge(&tcp(INTERNET, CLIENT_ACCESS, 80, App::Unknown));
    assert_eq!(
        unknown.reason.render(Lang::En),
        "port 80/tcp expects HTTP, the payload is an unrecognised protocol (nearest row: client.http)"
    );
}

#[test]
fn condition_needs_edge_reason() {
    // Without an Edge, EdgeSync traffic from a Mailbox server to the internet
    // is nearest to edge.edgesync, which needs an Edge topology.
    let judgement = policy(SiteOptions::default()).judge(&tcp(MAILBOX, INTERNET, 50636, App::Tls));
    assert_unexpected(&judgement);
    assert_eq!(judgement.reason.nearest_row(), Some("edge.edgesync"));
    let text = judgement.reason.render(Lang::En);
    assert!(
        text.contains("edge.edgesync applies only with a subscribed Edge Transport server; set topology.edge_transport = true"),
        "{text}"
    );
}

#[test]
fn reasons_render_every_message() {
    let sites = [
        SiteOptions::default(),
        edge_site(),
        SiteOptions {
            subscribed: &[MAILBOX],
            allows: ALLOWS,
            ..edge_site()
        },
    ];
    let addresses = [
        CLIENT_ACCESS,
        MAILBOX,
        MAILBOX_LATE,
        COMBINED,
        DC_DNS,
        DNS,
        LYNC,
        EDGE,
        PROXY,
        WORKSTATION,
        INTERNET,
    ];
    let services = [
        (Transport::Tcp, 25, App::Smtp),
        (Transport::Tcp, 443, App::Ssh),
        (Transport::Tcp, 50636, App::Ldap),
        (Transport::Udp, 53, App::Dns),
        (Transport::Tcp, 3389, App::None),
    ];
    for site in sites {
        let policy = policy(site);
        for client in addresses {
            for server in addresses {
                for (transport, port, app) in services {
                    let judgement = policy.judge(&flow(transport, client, server, port, app));
                    for lang in [Lang::En, Lang::Ja] {
                        let text = judgement.reason.render(lang);
                        assert!(!text.contains("policy."), "{lang:?}: {text}");
                        assert!(!text.contains("%{"), "{lang:?}: {text}");
                    }
                }
            }
        }
    }
}

#[test]
fn wrong_destination_role_reason() {
    let judgement = policy(SiteOptions::default()).judge(&tcp(WORKSTATION, MAILBOX, 443, App::Tls));
    assert_unexpected(&judgement);
    assert_eq!(judgement.reason.code(), "server_role");
    assert_eq!(
        judgement.reason.render(Lang::En),
        "443/tcp from an internal host must reach the Client Access server, not the Mailbox server \
         (nearest row: client.https)"
    );
    assert_eq!(
        judgement.reason.render(Lang::Ja),
        "内部のホストからの 443/tcp はメールボックス サーバーではなくクライアント アクセス サーバーに届く必要があります \
         (最も近い行: client.https)"
    );

    // The ground rule covers Exchange servers, domain controllers and Lync only.
    let to_workstation =
        policy(SiteOptions::default()).judge(&tcp(CLIENT_ACCESS, WORKSTATION, 445, App::Unknown));
    assert_unexpected(&to_workstation);
    assert_eq!(
        to_workstation.reason.nearest_row(),
        Some("internal.unrestricted")
    );
    assert!(
        to_workstation
            .reason
            .render(Lang::En)
            .starts_with("445/tcp from the Client Access server must reach the Client Access server, the Mailbox server, a domain controller or a Lync server, not an internal host"),
        "{}",
        to_workstation.reason.render(Lang::En)
    );
}

#[test]
fn not_subscribed_reason() {
    let site = policy(SiteOptions {
        subscribed: &[MAILBOX],
        ..edge_site()
    });
    assert_allowed(
        &site.judge(&tcp(MAILBOX, EDGE, 50636, App::Tls)),
        "edge.edgesync",
    );

    let late = site.judge(&tcp(MAILBOX_LATE, EDGE, 50636, App::Tls));
    assert_unexpected(&late);
    assert_eq!(late.reason.code(), "not_subscribed");
    assert!(
        late.reason
            .render(Lang::En)
            .starts_with("the Mailbox server is not in roles.edge_subscribed_mailbox, so it takes no part in EdgeSync"),
    );
    assert!(
        late.reason
            .render(Lang::Ja)
            .contains("roles.edge_subscribed_mailbox に含まれていないため")
    );
}

#[test]
fn edge_to_internal_hosts_is_unexpected() {
    let site = policy(edge_site());
    for (server, port) in [(DC_DNS, 389), (LYNC, 5061), (WORKSTATION, 445)] {
        let judgement = site.judge(&tcp(EDGE, server, port, App::Unknown));
        assert_unexpected(&judgement);
    }
    // The Edge may resolve names through a DNS server that is also a domain controller.
    assert_allowed(&site.judge(&udp(EDGE, DC_DNS, 53, App::Dns)), "edge.dns");
}

#[test]
fn mail_bypassing_exchange() {
    let site = policy(SiteOptions::default());
    let cases = [
        tcp(WORKSTATION, INTERNET, 25, App::Smtp),
        tcp(INTERNET, WORKSTATION, 143, App::Imap),
        tcp(WORKSTATION, INTERNET, 587, App::Tls),
        tcp(WORKSTATION, INTERNET, 995, App::None),
        // A mail protocol on another port still bypasses Exchange.
        tcp(WORKSTATION, INTERNET, 2525, App::Smtp),
        // Domain controllers and DNS servers are not mail servers either.
        tcp(DC_DNS, INTERNET, 25, App::Smtp),
    ];
    for flow in cases {
        let judgement = site.judge(&flow);
        assert_unexpected(&judgement);
        assert_eq!(judgement.reason.code(), "mail_bypass", "{flow:?}");
    }

    let judgement = site.judge(&tcp(WORKSTATION, INTERNET, 25, App::Smtp));
    assert_eq!(
        judgement.reason.render(Lang::En),
        "mail bypasses Exchange: SMTP on 25/tcp from an internal host to the internet, and neither is an Exchange server"
    );
    assert_eq!(
        judgement.reason.render(Lang::Ja),
        "メールが Exchange を経由していません: 内部のホストからインターネットへの 25/tcp の SMTP で、\
         どちらも Exchange サーバーではありません"
    );
}

#[test]
fn out_of_scope_flows() {
    let site = policy(SiteOptions::default());
    let cases = [
        udp(WORKSTATION, DNS, 53, App::Dns),
        tcp(INTERNET, DC_DNS, 389, App::Ldap),
        tcp(WORKSTATION, INTERNET, 443, App::Tls),
        // Mail between two internal hosts does not cross the site boundary.
        tcp(WORKSTATION, LYNC, 25, App::Smtp),
    ];
    for flow in cases {
        let judgement = site.judge(&flow);
        assert_eq!(judgement.verdict, Verdict::OutOfScope, "{flow:?}");
        assert_eq!(judgement.rule, None);
        assert_eq!(judgement.reason.code(), "out_of_scope");
    }
    let judgement = site.judge(&udp(WORKSTATION, DNS, 53, App::Dns));
    assert_eq!(
        judgement.reason.render(Lang::En),
        "no Exchange server takes part: 53/udp from an internal host to a DNS server"
    );
}

#[test]
fn without_site_everything_is_out_of_scope() {
    let policy = Policy::builtin();
    let judgement = policy.judge(&tcp(INTERNET, CLIENT_ACCESS, 443, App::Tls));
    assert_eq!(judgement.verdict, Verdict::OutOfScope);
    assert_eq!(
        judgement.client_roles.names().collect::<Vec<_>>(),
        ["internet"]
    );
    assert_eq!(
        judgement.server_roles.names().collect::<Vec<_>>(),
        ["internet"]
    );
}

#[test]
fn multi_role_host_matches_either_role() {
    let site = policy(edge_site());
    assert_eq!(
        site.roles(address(COMBINED)).names().collect::<Vec<_>>(),
        ["client_access", "mailbox"]
    );
    assert_allowed(
        &site.judge(&tcp(INTERNET, COMBINED, 443, App::Tls)),
        "client.https",
    );
    assert_allowed(
        &site.judge(&tcp(EDGE, COMBINED, 25, App::Smtp)),
        "edge.to-mailbox",
    );
    assert_allowed(
        &site.judge(&tcp(COMBINED, EDGE, 50636, App::Tls)),
        "edge.edgesync",
    );
    assert_allowed(
        &site.judge(&tcp(COMBINED, CLIENT_ACCESS, 6001, App::Unknown)),
        "internal.unrestricted",
    );

    let no_edge = policy(SiteOptions::default());
    assert_allowed(
        &no_edge.judge(&tcp(INTERNET, COMBINED, 25, App::Smtp)),
        "mail.inbound",
    );
    assert_allowed(
        &no_edge.judge(&tcp(COMBINED, INTERNET, 25, App::Smtp)),
        "mail.outbound",
    );
}

#[test]
fn ipv6_roles() {
    let site = policy(edge_site());
    assert_eq!(
        site.roles(address(CLIENT_ACCESS_V6))
            .names()
            .collect::<Vec<_>>(),
        ["client_access"]
    );
    assert_eq!(
        site.roles(address(EDGE_V6)).names().collect::<Vec<_>>(),
        ["edge_transport"]
    );
    assert_eq!(
        site.roles(address("2001:db8:20::99"))
            .names()
            .collect::<Vec<_>>(),
        ["internal"]
    );
    assert_eq!(
        site.roles(address(INTERNET_V6)).names().collect::<Vec<_>>(),
        ["internet"]
    );

    assert_allowed(
        &site.judge(&tcp(INTERNET_V6, CLIENT_ACCESS_V6, 443, App::Tls)),
        "client.https",
    );
    assert_allowed(
        &site.judge(&tcp(INTERNET_V6, EDGE_V6, 25, App::Smtp)),
        "edge.inbound",
    );
    let ssh = site.judge(&tcp(INTERNET_V6, EDGE_V6, 22, App::Ssh));
    assert_unexpected(&ssh);
}

const ALLOWS: &str = r#"
[[allow]]
name = "backup"
from = ["10.40.0.5", "2001:db8:40::5"]
to = ["mailbox"]
ports = ["tcp/3260"]

[[allow]]
name = "relay"
from = ["10.30.0.25"]
to = ["internet"]
ports = ["tcp/25"]

[[allow]]
name = "monitoring"
from = ["internal"]
to = ["client_access", "10.20.0.40"]
ports = ["udp/161", "tcp/5985-5986"]

[[allow]]
name = "web-admin"
from = ["internet"]
to = ["client_access"]
ports = ["tcp/443"]
"#;

#[test]
fn allow_entries() {
    let site = policy(SiteOptions {
        allows: ALLOWS,
        ..SiteOptions::default()
    });

    assert_allowed(
        &site.judge(&tcp("10.40.0.5", MAILBOX, 3260, App::Unknown)),
        "site.backup",
    );
    assert_allowed(
        &site.judge(&tcp("2001:db8:40::5", MAILBOX, 3260, App::Unknown)),
        "site.backup",
    );
    assert_unexpected(&site.judge(&tcp("10.40.0.5", MAILBOX, 3261, App::Unknown)));
    assert_unexpected(&site.judge(&tcp("10.40.0.6", MAILBOX, 3260, App::Unknown)));

    // An entry allows a flow with no Exchange server, which would otherwise
    // bypass Exchange.
    assert_allowed(
        &site.judge(&tcp("10.30.0.25", INTERNET, 25, App::Smtp)),
        "site.relay",
    );

    // Role names, port ranges and an address on the server side.
    assert_allowed(
        &site.judge(&udp(WORKSTATION, CLIENT_ACCESS, 161, App::Unknown)),
        "site.monitoring",
    );
    assert_allowed(
        &site.judge(&tcp(WORKSTATION, LYNC, 5986, App::Unknown)),
        "site.monitoring",
    );
    // `internal` goes only to addresses with no listed role.
    assert_unexpected(&site.judge(&udp(MAILBOX, EDGE_V6, 161, App::Unknown)));

    let reason = site
        .judge(&tcp("10.40.0.5", MAILBOX, 3260, App::Unknown))
        .reason;
    assert_eq!(
        reason.render(Lang::En),
        "matches the site's [[allow]] entry `backup` (site.backup) on 3260/tcp"
    );
}

#[test]
fn rule_precedence() {
    let site = policy(SiteOptions {
        allows: ALLOWS,
        ..SiteOptions::default()
    });
    // mail.* comes before internal.unrestricted.
    assert_allowed(
        &site.judge(&udp(CLIENT_ACCESS, DC_DNS, 53, App::Dns)),
        "mail.dns",
    );
    assert_allowed(
        &site.judge(&tcp(CLIENT_ACCESS, DC_DNS, 53, App::Dns)),
        "mail.dns",
    );
    assert_allowed(
        &site.judge(&tcp(CLIENT_ACCESS, DC_DNS, 389, App::Ldap)),
        "internal.unrestricted",
    );
    // client.* comes before site entries...
    assert_allowed(
        &site.judge(&tcp(INTERNET, CLIENT_ACCESS, 443, App::Tls)),
        "client.https",
    );
    // ...and site entries before internal.unrestricted.
    assert_allowed(
        &site.judge(&udp(WORKSTATION, CLIENT_ACCESS, 161, App::Unknown)),
        "site.monitoring",
    );
    // A site entry allows what the payload check of a row refuses.
    assert_allowed(
        &site.judge(&tcp(INTERNET, CLIENT_ACCESS, 443, App::Ssh)),
        "site.web-admin",
    );
}

#[test]
fn risks_leave_verdict_alone() {
    let site = policy(SiteOptions::default());
    let mut submission = tcp(INTERNET, CLIENT_ACCESS, 587, App::Smtp);
    submission.app.cleartext_auth = true;
    submission.app.upgrade = Upgrade {
        offered: true,
        ..Upgrade::default()
    };
    let judgement = site.judge(&submission);
    assert_allowed(&judgement, "client.submission");
    assert_eq!(
        judgement.risks.names().collect::<Vec<_>>(),
        ["cleartext_auth", "starttls_not_used"]
    );

    let mut failed = tcp(WORKSTATION, INTERNET, 25, App::Smtp);
    failed.app.upgrade = Upgrade {
        offered: true,
        requested: true,
        accepted: true,
        tls_followed: false,
    };
    let judgement = site.judge(&failed);
    assert_unexpected(&judgement);
    assert_eq!(
        judgement.risks.names().collect::<Vec<_>>(),
        ["starttls_failed"]
    );
}

// --- Site file diagnostics -------------------------------------------------

fn site_errors(text: &str) -> Vec<Diagnostic> {
    match Site::parse("bad.toml", text) {
        Ok((_, warnings)) => panic!("expected errors, got warnings only: {warnings:#?}"),
        Err(diagnostics) => diagnostics,
    }
}

/// Finds the diagnostic at `line` for `key`; fails listing all of them.
fn at<'d>(diagnostics: &'d [Diagnostic], line: usize, key: &str) -> &'d Diagnostic {
    diagnostics
        .iter()
        .find(|diagnostic| diagnostic.line == line && diagnostic.key == key)
        .unwrap_or_else(|| panic!("no diagnostic at line {line} for {key}: {diagnostics:#?}"))
}

const BAD_SITE: &str = r#"[topology]
edge_transport = true
colour = "blue"

[features]
imap = true

[roles]
client_access = ["10.20.0.10", "10.20.0.300"]
mailbox = ["10.20.0.20/33", "10.20.0.10"]
edge_transport = ["10.20.0.8/29"]
mailbx = ["10.20.0.9"]
internet = ["198.51.100.0/24"]
edge_subscribed_mailbox = ["10.20.0.99"]
dns = "10.20.0.53"

[sender_reputation]
proxy_ports = [8080, 70000, 0]

[networks]
internal = ["10.0.0.0/8", "fe80::/129"]

[[allow]]
name = "backup"
from = ["10.40.0.5", "mailserver"]
to = ["mailbox"]
ports = ["tcp/3260", "tcp/99999", "sctp/9", "tcp/10-9", "any"]

[[allow]]
name = "backup"
from = []
to = ["internal"]

[[allow]]
name = "two words"
from = ["internet"]
to = ["client_access"]
ports = ["udp/53"]
"#;

#[test]
fn check_reports_every_site_error_at_once() {
    let diagnostics = site_errors(BAD_SITE);
    let errors: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|diagnostic| diagnostic.is_error())
        .collect();

    let unknown = at(&diagnostics, 3, "topology.colour");
    assert!(matches!(unknown.problem, Problem::UnknownKey { .. }));
    assert_eq!(unknown.column, 1);
    assert!(matches!(
        at(&diagnostics, 6, "features.imap").problem,
        Problem::UnknownKey { .. }
    ));

    let address = at(&diagnostics, 9, "roles.client_access");
    assert_eq!(
        address.problem,
        Problem::InvalidAddress {
            value: "10.20.0.300".into()
        }
    );
    assert_eq!(address.column, 32);
    assert_eq!(
        at(&diagnostics, 10, "roles.mailbox").problem,
        Problem::InvalidAddress {
            value: "10.20.0.20/33".into()
        }
    );

    // The /29 block holds 10.20.0.10 (client_access and mailbox) and 10.20.0.9.
    let shared: Vec<_> = diagnostics
        .iter()
        .filter(|diagnostic| matches!(diagnostic.problem, Problem::EdgeSharesHost { .. }))
        .collect();
    assert_eq!(shared.len(), 2, "{shared:#?}");
    assert!(
        shared
            .iter()
            .all(|diagnostic| diagnostic.line == 11 && diagnostic.key == "roles.edge_transport")
    );

    assert_eq!(
        at(&diagnostics, 12, "roles.mailbx").problem,
        Problem::UnknownRole {
            value: "mailbx".into()
        }
    );
    assert_eq!(
        at(&diagnostics, 13, "roles.internet").problem,
        Problem::ImplicitRoleListed {
            role: Role::Internet
        }
    );
    assert_eq!(
        at(&diagnostics, 14, "roles.edge_subscribed_mailbox").problem,
        Problem::NotAMailbox {
            value: "10.20.0.99".into()
        }
    );
    assert!(matches!(
        at(&diagnostics, 15, "roles.dns").problem,
        Problem::WrongType { .. }
    ));

    let ports: Vec<_> = diagnostics
        .iter()
        .filter(|diagnostic| {
            diagnostic.is_error() && diagnostic.key == "sender_reputation.proxy_ports"
        })
        .map(|diagnostic| {
            (
                diagnostic.line,
                diagnostic.column,
                diagnostic.problem.clone(),
            )
        })
        .collect();
    assert_eq!(
        ports,
        [
            (
                18,
                22,
                Problem::PortOutOfRange {
                    value: "70000".into()
                }
            ),
            (18, 29, Problem::PortOutOfRange { value: "0".into() }),
        ]
    );

    assert_eq!(
        at(&diagnostics, 21, "networks.internal").problem,
        Problem::InvalidAddress {
            value: "fe80::/129".into()
        }
    );

    assert_eq!(
        at(&diagnostics, 25, "allow[1].from").problem,
        Problem::UnknownRole {
            value: "mailserver".into()
        }
    );
    let allow_ports: Vec<_> = diagnostics
        .iter()
        .filter(|diagnostic| diagnostic.key == "allow[1].ports")
        .map(|diagnostic| diagnostic.problem.clone())
        .collect();
    assert_eq!(
        allow_ports,
        [
            Problem::PortOutOfRange {
                value: "tcp/99999".into()
            },
            Problem::InvalidPort {
                value: "sctp/9".into()
            },
            Problem::ReversedPortRange {
                value: "tcp/10-9".into()
            },
        ]
    );

    assert_eq!(
        at(&diagnostics, 30, "allow[2].name").problem,
        Problem::DuplicateName {
            name: "backup".into(),
            first_line: 24
        }
    );
    assert_eq!(
        at(&diagnostics, 31, "allow[2].from").problem,
        Problem::EmptyList
    );
    assert_eq!(
        at(&diagnostics, 29, "allow[2].ports").problem,
        Problem::MissingKey
    );
    assert_eq!(
        at(&diagnostics, 35, "allow[3].name").problem,
        Problem::InvalidName {
            value: "two words".into()
        }
    );

    // Nothing else: every error above, and no error twice.
    assert_eq!(errors.len(), 21, "{errors:#?}");
}

#[test]
fn check_rejects_edge_topology_mismatch() {
    let without_servers =
        site_errors("[topology]\nedge_transport = true\n\n[roles]\nedge_transport = []\n");
    let diagnostic = at(&without_servers, 2, "topology.edge_transport");
    assert_eq!(diagnostic.problem, Problem::EdgeTopologyWithoutServers);
    assert_eq!(diagnostic.column, 18);

    let without_topology = site_errors("[roles]\nedge_transport = [\"172.16.50.5\"]\n");
    assert_eq!(
        at(&without_topology, 2, "roles.edge_transport").problem,
        Problem::EdgeServersWithoutTopology
    );
}

#[test]
fn check_reports_syntax_errors_with_position() {
    let diagnostics = site_errors("[roles]\nmailbox = [\"10.20.0.20\"\n");
    assert!(!diagnostics.is_empty());
    assert!(matches!(diagnostics[0].problem, Problem::Syntax { .. }));
    assert_eq!(diagnostics[0].line, 2);

    let duplicate = site_errors("[roles]\nmailbox = []\nmailbox = []\n");
    assert!(matches!(duplicate[0].problem, Problem::Syntax { .. }));
    assert_eq!(duplicate[0].line, 3);
}

#[test]
fn check_warns_about_unlikely_sites() {
    let text = r#"[topology]
edge_transport = true

[features]
front_end_proxy = true

[roles]
mailbox = ["10.20.0.21/31", "10.20.0.20/31"]
edge_transport = ["172.16.50.5"]
domain_controller = ["192.0.2.2"]

[sender_reputation]
proxy_ports = [8080]

[networks]
internal = ["10.0.0.0/8"]
perimeter = ["172.16.50.0/24"]
"#;
    let (site, warnings) = Site::parse("site.toml", text).unwrap();
    assert_eq!(site.roles.mailbox.len(), 1);
    let kinds: Vec<(usize, &str, &Problem)> = warnings
        .iter()
        .map(|diagnostic| {
            assert_eq!(diagnostic.severity, Severity::Warning);
            (
                diagnostic.line,
                diagnostic.key.as_str(),
                &diagnostic.problem,
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (
                5,
                "features.front_end_proxy",
                &Problem::FrontEndProxyWithEdge
            ),
            (
                8,
                "roles.mailbox",
                &Problem::HostBitsSet {
                    value: "10.20.0.21/31".into(),
                    network: "10.20.0.20/31".into()
                }
            ),
            (
                8,
                "roles.mailbox",
                &Problem::DuplicateEntry {
                    value: "10.20.0.20/31".into(),
                    first_line: 8
                }
            ),
            (
                10,
                "roles.domain_controller",
                &Problem::OutsideNetworks {
                    value: "192.0.2.2".into(),
                    role: Role::DomainController
                }
            ),
            (
                13,
                "sender_reputation.proxy_ports",
                &Problem::ProxyPortsWithoutProxy
            ),
        ]
    );
}

#[test]
fn diagnostics_render_in_both_languages() {
    let diagnostics = site_errors("[roles]\nmailbx = [\"10.20.0.9\"]\n");
    let diagnostic = &diagnostics[0];
    assert_eq!(
        diagnostic.render(Lang::En),
        "bad.toml:2:1: error: roles.mailbx: unknown role `mailbx`; known roles: client_access, mailbox, \
         edge_transport, dns, domain_controller, lync, proxy, edge_subscribed_mailbox (and internet, internal in [[allow]])"
    );
    assert_eq!(
        diagnostic.render(Lang::Ja),
        "bad.toml:2:1: エラー: roles.mailbx: 不明な役割 `mailbx` です。使える役割: client_access, mailbox, \
         edge_transport, dns, domain_controller, lync, proxy, edge_subscribed_mailbox ([[allow]] では internet と internal も使えます)"
    );
}

#[test]
fn load_reports_errors_of_both_files() {
    let rules = "format = 2\norder = [\"client\"]\n";
    let site = "[roles]\nmailbx = []\n";
    let error = Policy::from_sources(
        Some(Source {
            name: "rules.toml",
            text: rules,
        }),
        Some(Source {
            name: "site.toml",
            text: site,
        }),
    )
    .unwrap_err();
    let files: BTreeSet<&str> = error
        .diagnostics()
        .iter()
        .map(|diagnostic| diagnostic.file.as_str())
        .collect();
    assert_eq!(files, BTreeSet::from(["rules.toml", "site.toml"]));
    assert!(error.to_string().contains("error(s)"));
}

#[test]
fn site_load_reads_file() {
    let (site, warnings) = Site::load(&example("site-no-edge.example.toml")).unwrap();
    assert!(warnings.is_empty());
    assert!(site.features.imap4);
    assert_eq!(site.allows[0].rule_id(), "site.fax-relay");
    let error = Site::load(Path::new("/nonexistent/site.toml")).unwrap_err();
    assert!(matches!(error, PolicyError::Read { .. }));
}

#[test]
fn load_reports_missing_file() {
    let error = Policy::load(None, Some(Path::new("/nonexistent/site.toml"))).unwrap_err();
    assert!(matches!(error, PolicyError::Read { .. }));
    assert!(
        error
            .to_string()
            .starts_with("failed to read /nonexistent/site.toml")
    );
}

#[test]
fn rules_file_errors() {
    let text = r#"format = 1
order = ["client", "mail", "client"]

[[row]]
id = "client.web"
origin = "page"
from = ["any", "internet"]
to = ["client_access"]
ports = ["tcp/443"]
app = "quic"
when = { features.imap5 = true }
description = { en = "x", ja = "x", ja_source = "page" }

[[row]]
id = "client.web"
origin = "guess"
from = ["internet"]
to = ["client_acces"]
ports = ["tcp/443"]
ports_from = "sender_reputation.proxy_ports"
app = "tls"
description = { en = "x", ja = "x", ja_source = "page" }

[[row]]
id = "edge.x"
origin = "page"
from = ["internet"]
to = ["edge_transport"]
ports = ["tcp/25"]
app = "smtp"
when = { roles.edge_subscribed_mailbox = true }
description = { en = "x" }

[[row]]
id = "site.x"
origin = "page"
from = ["internet"]
to = ["edge_transport"]
ports = ["tcp/25"]
app = "smtp"
description = { en = "x", ja = "x", ja_source = "page" }
"#;
    let diagnostics = Rules::parse("rules.toml", text).unwrap_err();
    assert_eq!(
        at(&diagnostics, 2, "order").problem,
        Problem::OrderWithoutSite
    );
    assert_eq!(at(&diagnostics, 2, "order").column, 9);
    assert!(diagnostics.iter().any(|diagnostic| diagnostic.problem
        == Problem::DuplicateGroup {
            group: "client".into()
        }));
    assert_eq!(
        at(&diagnostics, 7, "row[1].from").problem,
        Problem::AnyNotAlone
    );
    assert_eq!(
        at(&diagnostics, 10, "row[1].app").problem,
        Problem::UnknownApp {
            value: "quic".into()
        }
    );
    assert_eq!(
        at(&diagnostics, 11, "row[1].when.features.imap5").problem,
        Problem::UnknownCondition {
            value: "features.imap5".into()
        }
    );
    assert_eq!(
        at(&diagnostics, 15, "row[2].id").problem,
        Problem::DuplicateRowId {
            id: "client.web".into(),
            first_line: 5
        }
    );
    assert!(matches!(
        at(&diagnostics, 16, "row[2].origin").problem,
        Problem::UnknownValue { .. }
    ));
    assert_eq!(
        at(&diagnostics, 18, "row[2].to").problem,
        Problem::UnknownRole {
            value: "client_acces".into()
        }
    );
    assert!(matches!(
        at(&diagnostics, 20, "row[2].ports_from").problem,
        Problem::ConflictingKeys { .. }
    ));
    assert_eq!(
        at(&diagnostics, 25, "row[3].id").problem,
        Problem::GroupNotInOrder {
            group: "edge".into()
        }
    );
    assert_eq!(
        at(
            &diagnostics,
            31,
            "row[3].when.roles.edge_subscribed_mailbox"
        )
        .problem,
        Problem::InvalidSubscribedCondition
    );
    assert_eq!(
        at(&diagnostics, 32, "row[3].description.ja").problem,
        Problem::MissingKey
    );
    assert_eq!(
        at(&diagnostics, 35, "row[4].id").problem,
        Problem::ReservedGroup
    );
}

#[test]
fn replacement_rules_file_is_used() {
    let rules = r#"format = 1
order = ["site", "lab"]

[[row]]
id = "lab.ssh"
origin = "product"
from = ["internal"]
to = ["mailbox"]
ports = ["tcp/22"]
app = "ssh"
description = { en = "SSH to the Mailbox servers", ja = "メールボックス サーバーへの SSH", ja_source = "exflow" }
"#;
    let site = site_text(&SiteOptions::default());
    let policy = Policy::from_sources(
        Some(Source {
            name: "lab.toml",
            text: rules,
        }),
        Some(Source {
            name: "site.toml",
            text: &site,
        }),
    )
    .unwrap();
    assert_allowed(
        &policy.judge(&tcp(WORKSTATION, MAILBOX, 22, App::Ssh)),
        "lab.ssh",
    );
    let https = policy.judge(&tcp(INTERNET, CLIENT_ACCESS, 443, App::Tls));
    assert_unexpected(&https);
    assert_eq!(https.reason.nearest_row(), Some("lab.ssh"));
}

// --- Example site files ----------------------------------------------------

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("rules")
        .join(name)
}

#[test]
fn example_sites_pass_check() {
    for name in ["site-edge.example.toml", "site-no-edge.example.toml"] {
        let path = example(name);
        let diagnostics = exflow::policy::check(None, Some(&path)).unwrap();
        assert!(diagnostics.is_empty(), "{name}: {diagnostics:#?}");
    }
}

#[test]
fn example_edge_site_judges_flows() {
    let policy = Policy::load(None, Some(&example("site-edge.example.toml"))).unwrap();
    assert!(policy.site().topology.edge_transport);
    assert_allowed(
        &policy.judge(&tcp("10.40.0.5", "10.20.0.11", 3260, App::Unknown)),
        "site.backup",
    );
    assert_allowed(
        &policy.judge(&tcp("2001:db8:20::10", "2001:db8:50::5", 50636, App::Tls)),
        "edge.edgesync",
    );
    assert_allowed(
        &policy.judge(&udp("10.20.0.10", "10.20.0.2", 53, App::Dns)),
        "mail.dns",
    );
    assert_allowed(
        &policy.judge(&tcp("172.16.50.5", "172.16.50.8", 8080, App::Http)),
        "edge.reputation-proxy",
    );
    assert_unexpected(&policy.judge(&tcp("172.16.50.5", "172.16.50.8", 3128, App::Http)));
}

#[test]
fn site_round_trips_through_toml() {
    for name in ["site-edge.example.toml", "site-no-edge.example.toml"] {
        let text = std::fs::read_to_string(example(name)).unwrap();
        let (site, _) = Site::parse(name, &text).unwrap();
        let written = site.to_toml();
        let (again, warnings) = Site::parse("written.toml", &written).unwrap();
        assert_eq!(again, site, "{written}");
        assert!(warnings.is_empty(), "{warnings:#?}");
    }
}

// --- Effective matrix ------------------------------------------------------

#[test]
fn effective_rows_follow_site() {
    let off = policy(SiteOptions::default());
    let on = policy(SiteOptions {
        imap4: true,
        ..SiteOptions::default()
    });
    let state = |policy: &Policy, id: &str| {
        policy
            .effective_rows()
            .into_iter()
            .find(|row| row.id == id)
            .unwrap_or_else(|| panic!("no row {id}"))
    };

    let imap_off = state(&off, "client.imap");
    assert!(!imap_off.enabled);
    assert_eq!(
        imap_off.status_text(Lang::En),
        "off: features.imap4 is false, the row needs true"
    );
    assert_eq!(
        imap_off.status_text(Lang::Ja),
        "無効: features.imap4 は false ですが、この行には true が必要です"
    );
    let imap_on = state(&on, "client.imap");
    assert!(imap_on.enabled);
    assert_eq!(imap_on.status_text(Lang::En), "on: features.imap4 = true");

    assert!(state(&off, "mail.inbound").enabled);
    assert!(!state(&off, "edge.inbound").enabled);
    let edge = policy(edge_site());
    assert!(!state(&edge, "mail.inbound").enabled);
    assert!(state(&edge, "edge.inbound").enabled);
    assert_eq!(
        state(&edge, "client.https").status_text(Lang::En),
        "on: always"
    );
    assert_eq!(
        state(&edge, "edge.reputation-proxy").ports_text(),
        "tcp/8080",
        "ports come from sender_reputation.proxy_ports"
    );
}

#[test]
fn table_fits_width_in_both_languages() {
    let policy = policy(SiteOptions {
        allows: ALLOWS,
        ..edge_site()
    });
    for lang in [Lang::En, Lang::Ja] {
        let table = policy.render_table(lang);
        for line in table.lines() {
            assert!(
                line.width() <= TABLE_WIDTH,
                "{lang:?}: {} columns: {line}",
                line.width()
            );
        }
        for row in policy.effective_rows() {
            assert!(table.contains(&row.id), "{lang:?}: {} missing", row.id);
        }
    }

    // Every row's first line puts its "on" cell at the same display column.
    let table = policy.render_table(Lang::Ja);
    for row in policy.effective_rows() {
        let line = table
            .lines()
            .find(|line| line.starts_with(&format!("{} ", row.id)))
            .unwrap();
        let on = if row.enabled { "はい" } else { "いいえ" };
        let prefix = &line[..line.find(on).unwrap()];
        assert_eq!(prefix.width(), 23, "{line}");
    }
}
