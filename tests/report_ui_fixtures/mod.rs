//! Flow records and run statistics for the report tests. The site has a
//! subscribed Edge Transport server. Flows follow the matrix paths: client
//! HTTPS, the Edge mail flow, EdgeSync and name resolution. The cases a report
//! must make stand out are SSH spoken on 443, internet mail straight to a
//! Mailbox server, mail that bypasses Exchange, and strings an attacker chose.
//!
//! Site: Client Access 10.20.0.10-11 and 2001:db8:10::10, Mailbox
//! 10.20.0.20-21, Edge Transport 172.16.50.5 (perimeter 172.16.50.0/24), DNS
//! 10.20.0.53, domain controller 10.20.0.2, internal network 10.0.0.0/8.
//! Internet addresses come from the documentation ranges (RFC 5737, RFC 3849).

#![allow(dead_code)]

use exflow::report::record::{Directional, Endpoint, FlowRecord};
use exflow::report::stats::{RunStats, StatKey};

/// A record and its reason in Japanese, as the pipeline would render it.
pub struct Fixture {
    pub record: FlowRecord,
    pub reason_ja: String,
}

/// A hostile string: markup, a terminal escape that clears the screen and sets
/// the window title, a bidirectional override, quotes and a NUL.
pub const HOSTILE: &str = "<script>alert(\"x\")</script>\u{1b}[2J\u{1b}]0;pwned\u{7}\u{202e}gpj.exe' onmouseover=alert(1) \"\0";

struct Flow<'a> {
    id: &'a str,
    ts_start: &'a str,
    ts_end: &'a str,
    transport: &'a str,
    client: (&'a str, u16, &'a [&'a str]),
    server: (&'a str, u16, &'a [&'a str]),
    app: &'a str,
    packets: (u64, u64),
    bytes: (u64, u64),
    verdict: &'a str,
    rule: Option<&'a str>,
    reason: &'a str,
    reason_ja: &'a str,
}

fn endpoint(ip: &str, port: u16, roles: &[&str]) -> Endpoint {
    Endpoint {
        ip: ip.to_string(),
        port,
        roles: roles.iter().map(|role| role.to_string()).collect(),
    }
}

fn build(flow: Flow<'_>) -> Fixture {
    let ip_version = if flow.client.0.contains(':') { 6 } else { 4 };
    let header = if ip_version == 6 { 60 } else { 40 };
    let record = FlowRecord {
        flow_id: flow.id.to_string(),
        source: "exchange-site.pcapng".to_string(),
        ts_start: flow.ts_start.to_string(),
        ts_end: flow.ts_end.to_string(),
        duration: 0.25,
        ip_version,
        transport: flow.transport.to_string(),
        client: endpoint(flow.client.0, flow.client.1, flow.client.2),
        server: endpoint(flow.server.0, flow.server.1, flow.server.2),
        direction_evidence: if flow.transport == "tcp" {
            "syn".to_string()
        } else {
            "first_packet".to_string()
        },
        conn_state: if flow.transport == "tcp" {
            "SF".to_string()
        } else {
            "open".to_string()
        },
        vlan: Vec::new(),
        community_id: format!("1:{}", flow.id),
        packets: Directional {
            to_server: flow.packets.0,
            to_client: flow.packets.1,
        },
        bytes: Directional {
            to_server: flow.bytes.0,
            to_client: flow.bytes.1,
        },
        payload_bytes: Directional {
            to_server: flow.bytes.0.saturating_sub(flow.packets.0 * header),
            to_client: flow.bytes.1.saturating_sub(flow.packets.1 * header),
        },
        missed_bytes: 0,
        app: flow.app.to_string(),
        app_evidence: if flow.app == "none" {
            "none".to_string()
        } else {
            "both".to_string()
        },
        verdict: flow.verdict.to_string(),
        rule: flow.rule.map(str::to_string),
        reason: flow.reason.to_string(),
        ..FlowRecord::default()
    };
    Fixture {
        record,
        reason_ja: flow.reason_ja.to_string(),
    }
}

const INTERNET: &[&str] = &["internet"];
const INTERNAL: &[&str] = &["internal"];
const CAS: &[&str] = &["client_access"];
const MAILBOX: &[&str] = &["mailbox"];
const EDGE: &[&str] = &["edge_transport"];
const DNS: &[&str] = &["dns"];
const DC: &[&str] = &["domain_controller"];

/// An allowed path of the fixtures: name, start time, transport, client (ip,
/// port, roles), server, app, rule, English reason, Japanese reason.
type AllowedPath = (
    &'static str,
    &'static str,
    &'static str,
    (&'static str, u16, &'static [&'static str]),
    (&'static str, u16, &'static [&'static str]),
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// Returns the fixed set of records, in the order a pipeline might emit them.
pub fn fixtures() -> Vec<Fixture> {
    let mut fixtures = Vec::new();

    // Outlook on the internet reaching OWA / MAPI over HTTP (client.https).
    for (index, (client_port, start)) in [
        (52114, "2024-05-14T09:00:01.104233Z"),
        (52120, "2024-05-14T09:00:03.870012Z"),
        (52131, "2024-05-14T09:01:15.004981Z"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut fixture = build(Flow {
            id: &format!("https-{index}"),
            ts_start: start,
            ts_end: "2024-05-14T09:05:00.000000Z",
            transport: "tcp",
            client: ("198.51.100.23", client_port, INTERNET),
            server: ("10.20.0.10", 443, CAS),
            app: "tls",
            packets: (42, 58),
            bytes: (9_840, 71_337),
            verdict: "allowed",
            rule: Some("client.https"),
            reason: "matches client.https: TLS on 443/tcp to a Client Access server",
            reason_ja: "client.https に一致: クライアント アクセス サーバーへの 443/TCP 上の TLS",
        });
        fixture.record.tls.sni = Some("mail.contoso.co.jp".to_string());
        fixture.record.tls.alpn = vec!["h2".to_string(), "http/1.1".to_string()];
        fixture.record.tls.version = Some("1.2".to_string());
        fixtures.push(fixture);
    }

    // The same over IPv6 from an internal client.
    let mut ipv6 = build(Flow {
        id: "https-v6",
        ts_start: "2024-05-14T09:02:10.500000Z",
        ts_end: "2024-05-14T09:02:12.000000Z",
        transport: "tcp",
        client: ("2001:db8:30::15", 50811, INTERNAL),
        server: ("2001:db8:10::10", 443, CAS),
        app: "tls",
        packets: (20, 24),
        bytes: (4_410, 30_002),
        verdict: "allowed",
        rule: Some("client.https"),
        reason: "matches client.https: TLS on 443/tcp to a Client Access server",
        reason_ja: "client.https に一致: クライアント アクセス サーバーへの 443/TCP 上の TLS",
    });
    ipv6.record.tls.sni = Some("autodiscover.contoso.co.jp".to_string());
    fixtures.push(ipv6);

    // SSH spoken on the HTTPS port of a Client Access server.
    fixtures.push(build(Flow {
        id: "ssh-443",
        ts_start: "2024-05-14T09:03:44.120000Z",
        ts_end: "2024-05-14T09:04:02.377100Z",
        transport: "tcp",
        client: ("203.0.113.66", 40522, INTERNET),
        server: ("10.20.0.10", 443, CAS),
        app: "ssh",
        packets: (31, 27),
        bytes: (4_180, 5_903),
        verdict: "unexpected",
        rule: None,
        reason: "closest row client.https: port 443/tcp to a Client Access server is allowed for TLS, but the payload is SSH",
        reason_ja: "最も近い行は client.https: クライアント アクセス サーバーへの 443/TCP は TLS なら許可されますが、ペイロードは SSH です",
    }));

    // Internet mail sent straight to a Mailbox server although the site has an
    // Edge Transport server.
    let mut direct = build(Flow {
        id: "smtp-mailbox",
        ts_start: "2024-05-14T09:06:30.000100Z",
        ts_end: "2024-05-14T09:06:31.904000Z",
        transport: "tcp",
        client: ("192.0.2.45", 33012, INTERNET),
        server: ("10.20.0.20", 25, MAILBOX),
        app: "smtp",
        packets: (14, 12),
        bytes: (2_960, 1_488),
        verdict: "unexpected",
        rule: None,
        reason: "closest row edge.to-mailbox: SMTP on 25/tcp to a Mailbox server must come from an Edge Transport server, not the internet (topology.edge_transport = true)",
        reason_ja: "最も近い行は edge.to-mailbox: メールボックス サーバーへの 25/TCP の SMTP は、インターネットではなくエッジ トランスポート サーバーから送られる必要があります (topology.edge_transport = true)",
    });
    direct.record.smtp.helo = Some("mx.fabrikam.example".to_string());
    fixtures.push(direct);

    // A workstation sending mail to the internet itself (mail bypass).
    let mut bypass = build(Flow {
        id: "smtp-bypass",
        ts_start: "2024-05-14T09:07:02.450000Z",
        ts_end: "2024-05-14T09:07:05.010000Z",
        transport: "tcp",
        client: ("10.30.1.77", 61234, INTERNAL),
        server: ("203.0.113.99", 25, INTERNET),
        app: "smtp",
        packets: (18, 15),
        bytes: (12_200, 1_630),
        verdict: "unexpected",
        rule: None,
        reason: "mail bypasses Exchange: SMTP between an internal host and the internet with no Exchange server on either side",
        reason_ja: "Exchange を経由しないメール: 内部ホストとインターネットの間の SMTP で、どちらの側も Exchange サーバーではありません",
    });
    bypass.record.smtp.helo = Some("DESKTOP-7Q2M".to_string());
    fixtures.push(bypass);

    // The Edge mail flow, EdgeSync and name resolution.
    let allowed: [AllowedPath; 7] = [
        (
            "edge-inbound",
            "2024-05-14T09:00:20.000000Z",
            "tcp",
            ("198.51.100.80", 41000, INTERNET),
            ("172.16.50.5", 25, EDGE),
            "smtp",
            "edge.inbound",
            "matches edge.inbound: SMTP on 25/tcp from the internet to an Edge Transport server",
            "edge.inbound に一致: インターネットからエッジ トランスポート サーバーへの 25/TCP 上の SMTP",
        ),
        (
            "edge-to-mailbox",
            "2024-05-14T09:00:21.500000Z",
            "tcp",
            ("172.16.50.5", 49877, EDGE),
            ("10.20.0.20", 25, MAILBOX),
            "smtp",
            "edge.to-mailbox",
            "matches edge.to-mailbox: SMTP on 25/tcp from an Edge Transport server to a Mailbox server",
            "edge.to-mailbox に一致: エッジ トランスポート サーバーからメールボックス サーバーへの 25/TCP 上の SMTP",
        ),
        (
            "edge-from-mailbox",
            "2024-05-14T09:02:00.000000Z",
            "tcp",
            ("10.20.0.21", 60010, MAILBOX),
            ("172.16.50.5", 25, EDGE),
            "smtp",
            "edge.from-mailbox",
            "matches edge.from-mailbox: SMTP on 25/tcp from a Mailbox server to an Edge Transport server",
            "edge.from-mailbox に一致: メールボックス サーバーからエッジ トランスポート サーバーへの 25/TCP 上の SMTP",
        ),
        (
            "edge-outbound",
            "2024-05-14T09:02:01.200000Z",
            "tcp",
            ("172.16.50.5", 49901, EDGE),
            ("203.0.113.25", 25, INTERNET),
            "smtp",
            "edge.outbound",
            "matches edge.outbound: SMTP on 25/tcp from an Edge Transport server to the internet",
            "edge.outbound に一致: エッジ トランスポート サーバーからインターネットへの 25/TCP 上の SMTP",
        ),
        (
            "edgesync",
            "2024-05-14T09:04:00.000000Z",
            "tcp",
            ("10.20.0.20", 60500, MAILBOX),
            ("172.16.50.5", 50636, EDGE),
            "tls",
            "edge.edgesync",
            "matches edge.edgesync: secure LDAP on 50636/tcp from a Mailbox server to an Edge Transport server",
            "edge.edgesync に一致: メールボックス サーバーからエッジ トランスポート サーバーへの 50636/TCP 上のセキュア LDAP",
        ),
        (
            "edge-dns",
            "2024-05-14T09:00:20.300000Z",
            "udp",
            ("172.16.50.5", 53001, EDGE),
            ("10.20.0.53", 53, DNS),
            "dns",
            "edge.dns",
            "matches edge.dns: DNS on 53/udp from an Edge Transport server to a DNS server",
            "edge.dns に一致: エッジ トランスポート サーバーから DNS サーバーへの 53/UDP 上の DNS",
        ),
        (
            "ldap-dc",
            "2024-05-14T09:00:00.500000Z",
            "tcp",
            ("10.20.0.20", 55002, MAILBOX),
            ("10.20.0.2", 389, DC),
            "ldap",
            "internal.unrestricted",
            "matches internal.unrestricted: traffic between Exchange servers and domain controllers is not restricted",
            "internal.unrestricted に一致: Exchange サーバーとドメイン コントローラーの間の通信は制限されません",
        ),
    ];
    for (id, start, transport, client, server, app, rule, reason, reason_ja) in allowed {
        fixtures.push(build(Flow {
            id,
            ts_start: start,
            ts_end: start,
            transport,
            client,
            server,
            app,
            packets: (10, 9),
            bytes: (3_100, 2_240),
            verdict: "allowed",
            rule: Some(rule),
            reason,
            reason_ja,
        }));
    }

    // Client Access to Mailbox on an RPC port in the dynamic range.
    fixtures.push(build(Flow {
        id: "rpc-dynamic",
        ts_start: "2024-05-14T09:00:05.000000Z",
        ts_end: "2024-05-14T09:00:09.000000Z",
        transport: "tcp",
        client: ("10.20.0.10", 58010, CAS),
        server: ("10.20.0.20", 49703, MAILBOX),
        app: "unknown",
        packets: (60, 61),
        bytes: (48_000, 52_000),
        verdict: "allowed",
        rule: Some("internal.unrestricted"),
        reason: "matches internal.unrestricted: traffic between Exchange servers is not restricted",
        reason_ja: "internal.unrestricted に一致: Exchange サーバー間の通信は制限されません",
    }));

    // Workstations asking the site's DNS server: no Exchange server involved.
    for (index, client_port) in [51515u16, 51516].into_iter().enumerate() {
        let mut query = build(Flow {
            id: &format!("dns-client-{index}"),
            ts_start: "2024-05-14T09:00:00.010000Z",
            ts_end: "2024-05-14T09:00:00.011000Z",
            transport: "udp",
            client: ("10.30.1.15", client_port, INTERNAL),
            server: ("10.20.0.53", 53, DNS),
            app: "dns",
            packets: (1, 1),
            bytes: (74, 90),
            verdict: "out_of_scope",
            rule: None,
            reason: "out of scope: no Client Access, Mailbox or Edge Transport server on either side",
            reason_ja: "対象外: どちらの側もクライアント アクセス サーバー、メールボックス サーバー、エッジ トランスポート サーバーではありません",
        });
        query.record.dns.qname = Some("outlook.contoso.co.jp".to_string());
        query.record.dns.qtype = Some("A".to_string());
        query.record.dns.rcode = Some("NOERROR".to_string());
        fixtures.push(query);
    }

    // Strings an attacker chose: HTTP to a Client Access server on port 80
    // with a hostile Host header, and the policy quoting it in the reason.
    let mut hostile = build(Flow {
        id: "hostile-http",
        ts_start: "2024-05-14T09:08:00.000000Z",
        ts_end: "2024-05-14T09:08:00.500000Z",
        transport: "tcp",
        client: ("198.51.100.200", 44444, INTERNET),
        server: ("10.20.0.11", 8080, CAS),
        app: "http",
        packets: (5, 4),
        bytes: (900, 400),
        verdict: "unexpected",
        rule: None,
        reason: "",
        reason_ja: "",
    });
    hostile.record.http.host = Some(HOSTILE.to_string());
    hostile.record.http.user_agent = Some("=HYPERLINK(\"http://198.51.100.200/x\")".to_string());
    hostile.record.http.path = Some("/owa/\u{9b}31m".to_string());
    hostile.record.reason = format!(
        "closest row client.http: HTTP to a Client Access server is allowed on 80/tcp, not 8080/tcp (Host {HOSTILE})"
    );
    hostile.reason_ja = format!(
        "最も近い行は client.http: クライアント アクセス サーバーへの HTTP は 80/TCP なら許可されますが、ポートは 8080/TCP です (Host {HOSTILE})"
    );
    fixtures.push(hostile);

    fixtures
}

/// Returns statistics of a run over two capture files, with one error.
pub fn run_stats(fixtures: &[Fixture]) -> RunStats {
    let mut stats = RunStats::default();
    stats.add(StatKey::FilesRead, 2);
    stats.add(StatKey::Frames, 15_234);
    stats.add(StatKey::BytesRead, 9_876_543);
    stats.add(StatKey::CorruptBlocksSkipped, 1);
    stats.add(StatKey::PacketsDecoded, 15_102);
    stats.add(StatKey::DecodeErrors, 3);
    stats.add(StatKey::BadChecksums, 12);
    stats.add(StatKey::Duplicates, 4);
    stats.add(StatKey::FragmentsReassembled, 2);
    stats.add(StatKey::SkippedNotIp, 118);
    stats.add(StatKey::SkippedNotTcpUdp, 11);
    for fixture in fixtures {
        stats.add(StatKey::Flows, 1);
        let key = match fixture.record.verdict.as_str() {
            "allowed" => StatKey::FlowsAllowed,
            "unexpected" => StatKey::FlowsUnexpected,
            _ => StatKey::FlowsOutOfScope,
        };
        stats.add(key, 1);
    }
    stats.elapsed_secs = 1.5;
    stats.push_error(
        "branch-office.pcapng",
        Some(1_048_576),
        "invalid block length 7 in an Enhanced Packet Block; skipped to the next block",
    );
    stats
}
