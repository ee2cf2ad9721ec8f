//! The TLS fields of a flow that upgraded from clear text (SMTP STARTTLS,
//! IMAP STARTTLS, POP3 STLS, LDAP StartTLS), end to end through
//! `exflow analyze`: the SNI, ALPN list, version and JA4 of the handshake
//! after the upgrade.
//!
//! The expected values come from TShark's dissection of the same bytes,
//! written to `tests/fixtures/fingerprint/starttls-tls.tsv` by
//! `scripts/starttls-tls-reference.py`, which also computes JA4 from the
//! ClientHello fields TShark shows. The inputs are the project's own
//! recordings: the captures in `captures/`, and the upgrade sessions under
//! `tests/fixtures/fingerprint/`, which this test writes into a pcap one TCP
//! segment per recorded segment, as the script does.

#[path = "common/cli.rs"]
mod cli;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use cli::{endpoint, exflow, records, repo_path, stderr};
use etherparse::PacketBuilder;
use serde_json::Value;

const REFERENCE: &str = "tests/fixtures/fingerprint/starttls-tls.tsv";

/// The TLS fields of one upgraded flow, as the flow record spells them.
#[derive(Debug, PartialEq, Eq)]
struct TlsFields {
    sni: Option<String>,
    version: Option<String>,
    alpn: Vec<String>,
    ja4: Option<String>,
}

impl TlsFields {
    fn from_record(record: &Value) -> TlsFields {
        let text = |field: &str| record["tls"][field].as_str().map(str::to_string);
        TlsFields {
            sni: text("sni"),
            version: text("version"),
            alpn: record["tls"]["alpn"]
                .as_array()
                .expect("tls.alpn is an array")
                .iter()
                .map(|value| {
                    value
                        .as_str()
                        .expect("an ALPN entry is a string")
                        .to_string()
                })
                .collect(),
            ja4: text("ja4"),
        }
    }

    /// Reads the four columns of a reference row, where `-` is empty.
    fn from_reference(columns: &[&str]) -> TlsFields {
        let value = |text: &str| (text != "-").then(|| text.to_string());
        TlsFields {
            sni: value(columns[0]),
            version: value(columns[1]),
            alpn: value(columns[2])
                .map(|list| list.split(',').map(str::to_string).collect())
                .unwrap_or_default(),
            ja4: value(columns[3]),
        }
    }
}

/// Reference rows by source, client and server (`-` for a fixture session).
fn read_reference() -> BTreeMap<(String, String, String), TlsFields> {
    let text = fs::read_to_string(repo_path(REFERENCE)).unwrap();
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .skip(1)
        .map(|line| {
            let columns: Vec<&str> = line.split('\t').collect();
            assert_eq!(columns.len(), 7, "{REFERENCE}: {line:?}");
            let key = (
                columns[0].to_string(),
                columns[1].to_string(),
                columns[2].to_string(),
            );
            (key, TlsFields::from_reference(&columns[3..]))
        })
        .collect()
}

#[test]
fn captures_keep_tls_fields_after_upgrade() {
    let reference = read_reference();
    let expected: BTreeMap<_, _> = reference
        .iter()
        .filter(|((source, _, _), _)| source.starts_with("captures/"))
        .collect();
    assert!(
        expected.len() >= 20,
        "{} upgrades in {REFERENCE}",
        expected.len()
    );

    let mut upgraded = BTreeMap::new();
    let mut apps: BTreeMap<String, usize> = BTreeMap::new();
    for capture in [
        "captures/exchange-no-edge.pcap",
        "captures/exchange-edge.pcap",
        "captures/exchange-clients.pcapng",
    ] {
        let output = exflow(&[
            "analyze",
            "--format",
            "jsonl",
            repo_path(capture).to_str().unwrap(),
        ]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{capture}: {}",
            stderr(&output)
        );
        for record in records(&output) {
            if record["starttls"] != true {
                continue;
            }
            let app = record["app"].as_str().unwrap().to_string();
            *apps.entry(app).or_default() += 1;
            let key = (
                capture.to_string(),
                endpoint(&record, "client"),
                endpoint(&record, "server"),
            );
            upgraded.insert(key, TlsFields::from_record(&record));
        }
    }

    // The captures hold SMTP STARTTLS (25, 587, 2525), IMAP STARTTLS and POP3 STLS.
    for app in ["smtp", "imap", "pop3"] {
        assert!(
            apps.get(app).is_some_and(|&count| count > 0),
            "{app}: {apps:?}"
        );
    }
    for (key, fields) in &expected {
        assert_eq!(
            upgraded.get(*key),
            Some(*fields),
            "{key:?}: exflow's record differs from TShark's dissection"
        );
    }
    for key in upgraded.keys() {
        assert!(
            expected.contains_key(key),
            "{key:?}: exflow reports an upgrade that TShark does not see"
        );
    }
}

/// One recorded session: each side's bytes and the segments in capture order.
struct Session {
    client: Vec<u8>,
    server: Vec<u8>,
    /// `(from_client, length)` per segment with payload.
    segments: Vec<(bool, usize)>,
}

/// Loads `tests/fixtures/fingerprint/<proto>/<name>.*`. Segment lines are
/// `c N` / `s N` (text protocols) or `client N` / `server N` (LDAP).
fn load_session(proto: &str, name: &str) -> Session {
    let directory = repo_path("tests/fixtures/fingerprint").join(proto);
    let read = |suffix: &str| {
        let path = directory.join(format!("{name}.{suffix}"));
        fs::read(&path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
    };
    let segments = String::from_utf8(read("segments"))
        .unwrap()
        .lines()
        .map(|line| {
            let (side, length) = line.split_once(' ').expect("segment line is `side length`");
            (
                matches!(side, "c" | "client"),
                length.parse().expect("segment length is a number"),
            )
        })
        .collect();
    Session {
        client: read("client.bin"),
        server: read("server.bin"),
        segments,
    }
}

const CLIENT: [u8; 4] = [10, 0, 0, 1];
const SERVER: [u8; 4] = [10, 0, 0, 2];
const CLIENT_PORT: u16 = 40000;
const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const SERVER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];

/// The TCP flags of one built segment.
#[derive(Clone, Copy)]
enum Flags {
    Syn,
    SynAck,
    Ack,
    PshAck,
    FinAck,
}

/// Builds one Ethernet, IPv4 and TCP frame.
fn tcp_frame(
    from_client: bool,
    server_port: u16,
    (seq, ack): (u32, u32),
    flags: Flags,
    payload: &[u8],
) -> Vec<u8> {
    let (source, destination, source_port, destination_port, source_mac, destination_mac) =
        if from_client {
            (
                CLIENT,
                SERVER,
                CLIENT_PORT,
                server_port,
                CLIENT_MAC,
                SERVER_MAC,
            )
        } else {
            (
                SERVER,
                CLIENT,
                server_port,
                CLIENT_PORT,
                SERVER_MAC,
                CLIENT_MAC,
            )
        };
    let builder = PacketBuilder::ethernet2(source_mac, destination_mac)
        .ipv4(source, destination, 64)
        .tcp(source_port, destination_port, seq, 65535);
    let builder = match flags {
        Flags::Syn => builder.syn(),
        Flags::SynAck => builder.syn().ack(ack),
        Flags::Ack => builder.ack(ack),
        Flags::PshAck => builder.psh().ack(ack),
        Flags::FinAck => builder.fin().ack(ack),
    };
    let mut frame = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut frame, payload).unwrap();
    frame
}

/// Writes a session as a classic pcap: the handshake, one frame per recorded
/// segment and a FIN from each side, 1 ms apart.
fn write_session_pcap(session: &Session, server_port: u16, path: &Path) {
    let (mut client_seq, mut server_seq) = (1000u32, 5000u32);
    let mut frames = vec![
        tcp_frame(true, server_port, (client_seq, 0), Flags::Syn, &[]),
        tcp_frame(
            false,
            server_port,
            (server_seq, client_seq + 1),
            Flags::SynAck,
            &[],
        ),
        tcp_frame(
            true,
            server_port,
            (client_seq + 1, server_seq + 1),
            Flags::Ack,
            &[],
        ),
    ];
    client_seq += 1;
    server_seq += 1;
    let (mut client_sent, mut server_sent) = (0usize, 0usize);
    for &(from_client, length) in &session.segments {
        let frame = if from_client {
            let payload = &session.client[client_sent..client_sent + length];
            client_sent += length;
            let frame = tcp_frame(
                true,
                server_port,
                (client_seq, server_seq),
                Flags::PshAck,
                payload,
            );
            client_seq += length as u32;
            frame
        } else {
            let payload = &session.server[server_sent..server_sent + length];
            server_sent += length;
            let frame = tcp_frame(
                false,
                server_port,
                (server_seq, client_seq),
                Flags::PshAck,
                payload,
            );
            server_seq += length as u32;
            frame
        };
        frames.push(frame);
    }
    frames.push(tcp_frame(
        true,
        server_port,
        (client_seq, server_seq),
        Flags::FinAck,
        &[],
    ));
    frames.push(tcp_frame(
        false,
        server_port,
        (server_seq, client_seq + 1),
        Flags::FinAck,
        &[],
    ));

    // Classic pcap header (microseconds, Ethernet) and one record per frame.
    let mut pcap = Vec::new();
    for field in [0xa1b2_c3d4u32.to_le_bytes(), [2, 0, 4, 0], [0; 4], [0; 4]] {
        pcap.extend_from_slice(&field);
    }
    pcap.extend_from_slice(&262_144u32.to_le_bytes());
    pcap.extend_from_slice(&1u32.to_le_bytes());
    for (index, frame) in frames.iter().enumerate() {
        let length = frame.len() as u32;
        for field in [1_700_000_000, index as u32 * 1000, length, length] {
            pcap.extend_from_slice(&field.to_le_bytes());
        }
        pcap.extend_from_slice(frame);
    }
    fs::write(path, pcap).unwrap();
}

/// Upgrade sessions: protocol, fixture, server port, the app exflow names,
/// and the reference row that holds their TLS fields.
const SESSIONS: [(&str, &str, u16, &str, &str); 5] = [
    ("smtp", "starttls", 25, "smtp", "smtp/starttls"),
    // The rewritten session keeps the recorded TLS bytes of `starttls`
    // (see the SMTP fixture README), and TShark does not follow
    // X-ANONYMOUSTLS, so it shares that row.
    (
        "smtp",
        "x-anonymoustls-rewritten",
        25,
        "smtp",
        "smtp/starttls",
    ),
    (
        "imap",
        "starttls-logindisabled",
        143,
        "imap",
        "imap/starttls-logindisabled",
    ),
    ("pop3", "stls", 110, "pop3", "pop3/stls"),
    ("ldap", "starttls", 389, "ldap", "ldap/starttls"),
];

#[test]
fn fixture_sessions_keep_tls_fields_after_upgrade() {
    let reference = read_reference();
    let directory = tempfile::tempdir().unwrap();
    for (proto, name, port, app, row) in SESSIONS {
        let session = load_session(proto, name);
        let path = directory.path().join(format!("{proto}-{name}.pcap"));
        write_session_pcap(&session, port, &path);

        let output = exflow(&["analyze", "--format", "jsonl", path.to_str().unwrap()]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{proto}/{name}: {}",
            stderr(&output)
        );
        let records = records(&output);
        assert_eq!(records.len(), 1, "{proto}/{name}: {records:?}");
        let record = &records[0];
        assert_eq!(record["app"], app, "{proto}/{name}");
        assert_eq!(record["starttls"], true, "{proto}/{name}");
        assert_eq!(record["server"]["port"], port, "{proto}/{name}");

        let key = (row.to_string(), "-".to_string(), "-".to_string());
        let expected = reference
            .get(&key)
            .unwrap_or_else(|| panic!("{REFERENCE} has no row {row}"));
        assert_eq!(&TlsFields::from_record(record), expected, "{proto}/{name}");
    }
}
