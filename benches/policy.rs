//! Role lookup and per-flow verdict cost, on the shipped example site with an
//! Edge Transport server and on a generated site with a thousand entries.
//!
//! Run with `cargo bench --bench policy`.

use std::hint::black_box;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use exflow::capture::Timestamp;
use exflow::decode::{Transport, VlanIds};
use exflow::fingerprint::{App, AppInfo};
use exflow::flow::{ConnState, DirectionCounters, DirectionEvidence, EndReason, FinishedFlow};
use exflow::i18n::Lang;
use exflow::policy::{Policy, Source};

fn example_policy() -> Policy {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/site-edge.example.toml");
    Policy::load(None, Some(&path)).expect("the example site is valid")
}

/// Builds a site with 1000 role entries: 250 Client Access and 250 Mailbox hosts over
/// IPv4, 250 over IPv6, and 250 /28 blocks of domain controllers.
fn large_policy() -> Policy {
    let mut client_access = Vec::new();
    let mut mailbox = Vec::new();
    let mut domain_controller = Vec::new();
    for index in 0..250u32 {
        client_access.push(format!("\"10.1.{}.{}\"", index / 200, index % 200 + 1));
        mailbox.push(format!("\"10.2.{}.{}\"", index / 200, index % 200 + 1));
        client_access.push(format!("\"2001:db8:1::{:x}\"", index + 1));
        domain_controller.push(format!("\"10.3.{}.{}/28\"", index / 16, (index % 16) * 16));
    }
    let text = format!(
        "[topology]\nedge_transport = true\n\n[roles]\nclient_access = [{}]\nmailbox = [{}]\n\
         edge_transport = [\"172.16.50.5\"]\ndomain_controller = [{}]\ndns = [\"10.3.0.1\"]\n\n\
         [networks]\ninternal = [\"10.0.0.0/8\", \"2001:db8::/32\"]\nperimeter = [\"172.16.50.0/24\"]\n",
        client_access.join(", "),
        mailbox.join(", "),
        domain_controller.join(", "),
    );
    let source = Source {
        name: "large.toml",
        text: &text,
    };
    Policy::from_sources(None, Some(source)).expect("the generated site is valid")
}

fn flow(transport: Transport, client: &str, server: &str, port: u16, app: App) -> FinishedFlow {
    let client: IpAddr = client.parse().unwrap();
    let server: IpAddr = server.parse().unwrap();
    FinishedFlow {
        transport,
        ip_version: if client.is_ipv4() { 4 } else { 6 },
        client: SocketAddr::new(client, 50123),
        server: SocketAddr::new(server, port),
        direction_evidence: DirectionEvidence::Syn,
        conn_state: ConnState::Sf,
        vlan: VlanIds::default(),
        ts_start: Timestamp(0),
        ts_end: Timestamp(1),
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

fn lookup(c: &mut Criterion) {
    let example = example_policy();
    let large = large_policy();
    let mut group = c.benchmark_group("lookup");
    for (name, policy, address) in [
        ("example/listed_v4", &example, "10.20.0.10"),
        ("example/internal_v4", &example, "10.99.1.1"),
        ("example/internet_v4", &example, "198.51.100.7"),
        ("example/listed_v6", &example, "2001:db8:20::10"),
        ("large/listed_v4", &large, "10.2.1.7"),
        ("large/block_v4", &large, "10.3.7.9"),
        ("large/listed_v6", &large, "2001:db8:1::a0"),
        ("large/internet_v6", &large, "2001:db9::1"),
    ] {
        let address: IpAddr = address.parse().unwrap();
        group.bench_function(name, |b| b.iter(|| policy.roles(black_box(address))));
    }
    group.finish();
}

fn judge(c: &mut Criterion) {
    let example = example_policy();
    let large = large_policy();
    let cases = [
        // Matches the first row.
        (
            "client_https",
            &example,
            flow(Transport::Tcp, "198.51.100.7", "10.20.0.10", 443, App::Tls),
        ),
        // Matches the last row, after every other row and the site entries.
        (
            "internal_unrestricted",
            &example,
            flow(Transport::Tcp, "10.20.0.10", "10.20.0.2", 135, App::Unknown),
        ),
        // No row matches: the nearest row is searched.
        (
            "unexpected",
            &example,
            flow(Transport::Tcp, "198.51.100.7", "10.20.0.11", 22, App::Ssh),
        ),
        (
            "out_of_scope",
            &example,
            flow(Transport::Udp, "10.99.1.1", "198.51.100.7", 53, App::Dns),
        ),
        (
            "large/edge_to_mailbox",
            &large,
            flow(Transport::Tcp, "172.16.50.5", "10.2.0.9", 25, App::Smtp),
        ),
        (
            "large/unexpected",
            &large,
            flow(
                Transport::Tcp,
                "2001:db8:1::5",
                "2001:db9::1",
                25,
                App::Smtp,
            ),
        ),
    ];

    let mut group = c.benchmark_group("judge");
    for (name, policy, flow) in &cases {
        group.bench_function(*name, |b| b.iter(|| policy.judge(black_box(flow))));
    }
    group.finish();

    // Rendering the English reason is paid once per record as well.
    let mut group = c.benchmark_group("judge_and_render");
    for (name, policy, flow) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| policy.judge(black_box(flow)).reason.render(Lang::En))
        });
    }
    group.finish();
}

criterion_group!(benches, lookup, judge);
criterion_main!(benches);
