//! Arbitrary and damaged bytes never panic the TLS, JA4, DNS and LDAP probes
//! and parsers, and a stream fed in pieces gives what it gives whole.

mod fingerprint_binary_support;

use exflow::fingerprint::dns::{self, DnsParser};
use exflow::fingerprint::ldap::{self, LdapParser};
use exflow::fingerprint::tls::{self, TlsParser};
use exflow::fingerprint::{AppInfo, StreamParser};
use fingerprint_binary_support::{TcpFixture, load_datagrams};
use proptest::prelude::*;

/// Real first bytes to damage: a ClientHello, an LDAP bind, a DNS query.
fn seeds() -> Vec<Vec<u8>> {
    vec![
        TcpFixture::load("tls", "tls13-gnutls").client,
        TcpFixture::load("tls", "tls12-fragmented-openssl").client,
        TcpFixture::load("tls", "tls12-openssl").server,
        TcpFixture::load("ldap", "starttls").client,
        TcpFixture::load("ldap", "simple-bind-search").server,
        TcpFixture::load("dns", "tcp-keepopen").server,
        load_datagrams("dns", "udp-srv").remove(1).1,
    ]
}

/// A real seed with a few bytes overwritten and maybe cut short.
fn damaged_seed() -> impl Strategy<Value = Vec<u8>> {
    let seeds = seeds();
    (
        0..seeds.len(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        any::<prop::sample::Index>(),
    )
        .prop_map(move |(seed, edits, cut)| {
            let mut bytes = seeds[seed].clone();
            for (at, value) in edits {
                let at = at.index(bytes.len());
                bytes[at] = value;
            }
            let keep = cut.index(bytes.len() + 1);
            bytes.truncate(keep.max(bytes.len() / 2));
            bytes
        })
}

fn bytes_under_test() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![prop::collection::vec(any::<u8>(), 0..600), damaged_seed()]
}

fn run_all(bytes: &[u8], split: usize) {
    let split = split.min(bytes.len());
    let (first, second) = bytes.split_at(split);

    tls::probe(bytes);
    dns::probe_datagram(bytes);
    dns::probe_stream(bytes);
    ldap::probe(bytes);
    let _ = tls::parse_tls_record(bytes);
    let _ = tls::parse_tls_handshake_message(bytes);
    let _ = dns::parse_dns_message(bytes);
    let _ = ldap::parse_ldap_message(bytes);

    let mut info = AppInfo::default();
    DnsParser::default().on_datagram(bytes, false, &mut info);
    let parsers: [Box<dyn StreamParser>; 3] = [
        Box::new(TlsParser::default()),
        Box::new(DnsParser::default()),
        Box::new(LdapParser::default()),
    ];
    for mut parser in parsers {
        let mut info = AppInfo::default();
        parser.on_stream(first, second, &mut info);
        parser.on_stream(bytes, second, &mut info);
        parser.on_stream(bytes, bytes, &mut info);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in bytes_under_test(), split in any::<usize>()) {
        run_all(&bytes, split);
    }

    #[test]
    fn pieces_give_the_same_info(seed in 0..3usize, cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6)) {
        let fixture = match seed {
            0 => TcpFixture::load("tls", "tls12-fragmented-openssl"),
            1 => TcpFixture::load("ldap", "starttls"),
            _ => TcpFixture::load("dns", "tcp-keepopen"),
        };
        let new_parser = || -> Box<dyn StreamParser> {
            match seed {
                0 => Box::new(TlsParser::default()),
                1 => Box::new(LdapParser::default()),
                _ => Box::new(DnsParser::default()),
            }
        };
        let mut whole_info = AppInfo::default();
        new_parser().on_stream(&fixture.client, &fixture.server, &mut whole_info);

        // The client stream arrives in pieces, then the server stream.
        let mut ends: Vec<usize> = cuts.iter().map(|cut| cut.index(fixture.client.len() + 1)).collect();
        ends.sort_unstable();
        let mut parser = new_parser();
        let mut info = AppInfo::default();
        for end in ends {
            parser.on_stream(&fixture.client[..end], &[], &mut info);
        }
        parser.on_stream(&fixture.client, &fixture.server, &mut info);
        prop_assert_eq!(info, whole_info);
    }
}
