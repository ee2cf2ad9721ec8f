//! Community ID v1 of real corpus flows, against values computed by an
//! independent implementation: the Python package `communityid` 1.5.0
//! (`CommunityID().calc(FlowTuple.make_tcp/make_udp(...))`, seed 0), run on the
//! 5-tuples of `labels.tsv` in the corpus. Tshark 4.0 has no Community ID field.

use std::net::SocketAddr;
use std::path::Path;

use exflow::decode::Transport;
use exflow::flow::community_id_v1;

/// Corpus file, transport, client, server, expected Community ID.
const CORPUS_VECTORS: [(&str, &str, &str, &str, &str); 7] = [
    (
        "ndpi__smtp.pcap",
        "tcp",
        "194.7.248.153:2127",
        "172.16.114.207:25",
        "1:sX/fxb5sdABI4nHsgdnnbI4n1sk=",
    ),
    (
        "ndpi__smtp-starttls.pcap",
        "tcp",
        "10.0.0.1:57406",
        "173.194.68.26:25",
        "1:q9VhPPmhmImM1YZTfmQO4wbS4N4=",
    ),
    (
        "ndpi__6in4tunnel.pcap",
        "udp",
        "[2001:470:1f16:13f::2]:6404",
        "[2a03:2880:fffe:b:face:b00c:0:99]:53",
        "1:fH9BW9kwsEQ3QbUlKdU9yP1yUtM=",
    ),
    (
        "zeek__ldap__simpleauth.pcap",
        "tcp",
        "10.0.0.1:25936",
        "10.0.0.2:3268",
        "1:j4eVs7ZWhGeqgvl6jJda0FHPSqQ=",
    ),
    (
        "ndpi__tls_multiple_synack_different_seq.pcapng",
        "tcp",
        "192.168.0.1:59927",
        "10.10.10.1:443",
        "1:HllLnhUwGmt/Fsv2NbdyQVjLL68=",
    ),
    (
        "tcpdump__dns_udp.pcap",
        "udp",
        "192.168.1.11:43966",
        "209.87.249.18:53",
        "1:OBOqRVFrvo3F8pH3uiQTx4SF+sA=",
    ),
    (
        "zeek__tcp__rst-inject-rae.pcap",
        "tcp",
        "1.2.0.2:2527",
        "1.2.0.3:6649",
        "1:BCDpFXu2V/LaiKISqHX+Z/iOppE=",
    ),
];

fn transport(name: &str) -> Transport {
    match name {
        "tcp" => Transport::Tcp,
        "udp" => Transport::Udp,
        other => panic!("unknown transport {other}"),
    }
}

#[test]
fn corpus_flows_match_python_communityid() {
    for (file, l4, client, server, expected) in CORPUS_VECTORS {
        let client: SocketAddr = client.parse().unwrap();
        let server: SocketAddr = server.parse().unwrap();
        assert_eq!(
            community_id_v1(transport(l4), client, server),
            expected,
            "{file} {client} -> {server}"
        );
        assert_eq!(
            community_id_v1(transport(l4), server, client),
            expected,
            "{file} {server} -> {client}"
        );
    }
}

#[test]
fn corpus_vectors_are_labelled_flows() {
    // The vectors must stay tied to flows the corpus labels: each 5-tuple is a
    // row of labels.tsv.
    let labels = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/labels.tsv");
    let labels = std::fs::read_to_string(&labels)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", labels.display()));
    for (file, l4, client, server, _) in CORPUS_VECTORS {
        let client: SocketAddr = client.parse().unwrap();
        let server: SocketAddr = server.parse().unwrap();
        let row = format!(
            "{file}\t{l4}\t{}\t{}\t{}\t{}\t",
            client.ip(),
            client.port(),
            server.ip(),
            server.port()
        );
        assert!(labels.contains(&row), "no row {row:?} in labels.tsv");
    }
}
