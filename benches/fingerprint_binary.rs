//! Parse costs of the TLS, JA4, DNS and LDAP fingerprints on the recorded
//! fixtures (tests/fixtures/fingerprint). Run with
//! `cargo bench --bench fingerprint_binary`.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use exflow::fingerprint::dns::{self, DnsParser};
use exflow::fingerprint::ldap::{self, LdapParser};
use exflow::fingerprint::tls::{self, TlsHandshake, TlsParser};
use exflow::fingerprint::{AppInfo, StreamParser, ja4};

fn fixture(path: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fingerprint")
        .join(path);
    std::fs::read(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

fn tls_benches(c: &mut Criterion) {
    let client = fixture("tls/tls13-curl.client.bin");
    let server = fixture("tls/tls13-curl.server.bin");
    let record = tls::parse_tls_record(&client)
        .expect("a whole first record")
        .1;

    let mut group = c.benchmark_group("tls");
    group.throughput(Throughput::Bytes(record.fragment.len() as u64));
    group.bench_function("client_hello_parse", |b| {
        b.iter(|| tls::parse_tls_handshake_message(black_box(record.fragment)).unwrap())
    });
    group.bench_function("client_hello_parse_and_ja4", |b| {
        b.iter(
            || match tls::parse_tls_handshake_message(black_box(record.fragment)) {
                Ok((_, TlsHandshake::ClientHello(hello))) => ja4::ja4(&hello),
                other => panic!("not a ClientHello: {other:?}"),
            },
        )
    });
    // One probe or one flow per iteration.
    group.throughput(Throughput::Elements(1));
    group.bench_function("probe", |b| b.iter(|| tls::probe(black_box(&client))));
    group.bench_function("stream_parser_both_hellos", |b| {
        b.iter(|| {
            let mut info = AppInfo::default();
            TlsParser::default().on_stream(black_box(&client), black_box(&server), &mut info);
            info
        })
    });
    group.finish();
}

fn dns_benches(c: &mut Criterion) {
    let response = fixture("dns/udp-srv/02-server.bin");
    let query = fixture("dns/udp-srv/01-client.bin");

    let mut group = c.benchmark_group("dns");
    group.throughput(Throughput::Bytes(response.len() as u64));
    group.bench_function("message_parse", |b| {
        b.iter(|| dns::parse_dns_message(black_box(&response)).unwrap())
    });
    group.bench_function("probe_datagram", |b| {
        b.iter(|| dns::probe_datagram(black_box(&response)))
    });
    // One exchange per iteration.
    group.throughput(Throughput::Elements(1));
    group.bench_function("parser_query_and_response", |b| {
        b.iter(|| {
            let mut parser = DnsParser::default();
            let mut info = AppInfo::default();
            parser.on_datagram(black_box(&query), false, &mut info);
            parser.on_datagram(black_box(&response), true, &mut info);
            info
        })
    });
    group.finish();
}

fn ldap_benches(c: &mut Criterion) {
    let client = fixture("ldap/simple-bind-search.client.bin");
    let server = fixture("ldap/simple-bind-search.server.bin");
    let (_, head) = ldap::parse_ldap_message_head(&client).expect("a message head");
    let bind = &client[..head.message_len];

    let mut group = c.benchmark_group("ldap");
    group.throughput(Throughput::Bytes(bind.len() as u64));
    group.bench_function("message_parse", |b| {
        b.iter(|| ldap::parse_ldap_message(black_box(bind)).unwrap())
    });
    // One probe or one session per iteration.
    group.throughput(Throughput::Elements(1));
    group.bench_function("probe", |b| b.iter(|| ldap::probe(black_box(&client))));
    group.bench_function("stream_parser_session", |b| {
        b.iter(|| {
            let mut info = AppInfo::default();
            LdapParser::default().on_stream(black_box(&client), black_box(&server), &mut info);
            info
        })
    });
    group.finish();
}

criterion_group!(benches, tls_benches, dns_benches, ldap_benches);
criterion_main!(benches);
