//! Hostile strings end to end: a capture the project recorded, with every TLS
//! SNI, SMTP EHLO name, HTTP Host and request path and DNS query name
//! rewritten to bytes an attacker would send (terminal escape sequences, C0
//! and C1 controls, NUL, invalid UTF-8, a bidirectional override, markup,
//! spreadsheet formula starts), saved under a hostile file name and run
//! through `exflow analyze` in every format and with `--report`. No output
//! may carry a character a terminal acts on, markup a browser runs or a cell
//! a spreadsheet evaluates, and the JSON must give back the exact bytes.
//!
//! The rewrites keep each field's length, so no TCP sequence number or TLS
//! length changes; one test instead grows a request path to 64 KiB over many
//! segments and shifts the sequence numbers after it.

#[path = "common/cli.rs"]
mod cli;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use etherparse::{NetHeaders, PacketHeaders, TcpHeader, TransportHeader};
use exflow::report::escape::{csv_text, is_unsafe_char, wire_text};
use serde_json::Value;

/// The recording: internet and internal clients of a site without an Edge
/// server, with SMTP, TLS, HTTP and DNS flows.
const RECORDING: &str = "captures/exchange-no-edge.pcap";
const SITE: &str = "captures/exchange-no-edge.site.toml";

/// The bytes the hostile fields are cut from: escape sequences (CSI, OSC
/// with BEL), a right-to-left override, NUL, a C1 CSI in UTF-8 and as a lone
/// byte, invalid UTF-8, markup, quotes, formula starts, DEL and a zero-width
/// space. No space, CR, LF, `.` or `\`, which the protocols or DNS
/// presentation would treat as syntax.
const PATTERN: &[u8] =
    b"\x1b[2J\x1b]0;x\x07\xe2\x80\xae\x00\xc2\x9b\x9b\xff\xfe<xss-probe>&\"'=+-@\t\x7f\xe2\x80\x8b";

/// Markup that must never reach the HTML report unescaped.
const MARKUP: &str = "<xss-probe";

/// Returns `len` hostile bytes starting with `first` and ending with `x` (so
/// that no parser trims a trailing tab), cut from [`PATTERN`] at `shift`.
fn hostile(len: usize, first: u8, shift: usize) -> Vec<u8> {
    let mut bytes: Vec<u8> = PATTERN
        .iter()
        .cycle()
        .skip(shift)
        .take(len)
        .copied()
        .collect();
    if let Some(byte) = bytes.first_mut() {
        *byte = first;
    }
    if len > 1 {
        bytes[len - 1] = b'x';
    }
    bytes
}

/// One packet record of a classic pcap file.
struct Record {
    header: [u8; 16],
    data: Vec<u8>,
}

/// A classic little-endian pcap file, as records.
struct Pcap {
    header: Vec<u8>,
    records: Vec<Record>,
}

impl Pcap {
    fn read(path: &Path) -> Pcap {
        let bytes = std::fs::read(path).expect("the recording");
        assert_eq!(&bytes[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "little-endian pcap");
        let mut records = Vec::new();
        let mut at = 24;
        while at + 16 <= bytes.len() {
            let header: [u8; 16] = bytes[at..at + 16].try_into().unwrap();
            let len = u32::from_le_bytes(header[8..12].try_into().unwrap()) as usize;
            records.push(Record {
                header,
                data: bytes[at + 16..at + 16 + len].to_vec(),
            });
            at += 16 + len;
        }
        Pcap {
            header: bytes[..24].to_vec(),
            records,
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.header.clone();
        for record in &self.records {
            let mut header = record.header;
            let len = (record.data.len() as u32).to_le_bytes();
            header[8..12].copy_from_slice(&len);
            header[12..16].copy_from_slice(&len);
            bytes.extend_from_slice(&header);
            bytes.extend_from_slice(&record.data);
        }
        bytes
    }
}

/// Where a packet's payload sits in its frame, with its transport.
struct Located {
    payload_start: usize,
    tcp: bool,
    src_port: u16,
    dst_port: u16,
}

fn locate(frame: &[u8]) -> Option<Located> {
    let headers = PacketHeaders::from_ethernet_slice(frame).ok()?;
    let payload = headers.payload.slice();
    let payload_start = frame.len() - payload.len();
    // A frame padded to the Ethernet minimum carries bytes past the payload.
    let ip_payload_end = match &headers.net {
        Some(NetHeaders::Ipv4(ip, _)) => 14 + usize::from(ip.total_len),
        Some(NetHeaders::Ipv6(ip, _)) => 14 + 40 + usize::from(ip.payload_length),
        _ => return None,
    };
    if ip_payload_end != frame.len() {
        return None;
    }
    match headers.transport? {
        TransportHeader::Tcp(tcp) => Some(Located {
            payload_start,
            tcp: true,
            src_port: tcp.source_port,
            dst_port: tcp.destination_port,
        }),
        TransportHeader::Udp(udp) => Some(Located {
            payload_start,
            tcp: false,
            src_port: udp.source_port,
            dst_port: udp.destination_port,
        }),
        _ => None,
    }
}

/// Rebuilds a frame with `payload` (or its own), after `edit` changed its TCP
/// header, and with every length and checksum recomputed.
fn rebuild(frame: &[u8], payload: Option<&[u8]>, edit: impl FnOnce(&mut TcpHeader)) -> Vec<u8> {
    let headers = PacketHeaders::from_ethernet_slice(frame).expect("a frame that parsed before");
    let payload = payload.unwrap_or(headers.payload.slice()).to_vec();
    let link = headers.link.clone().expect("Ethernet");
    let mut transport = headers.transport.clone().expect("TCP or UDP");
    if let TransportHeader::Tcp(tcp) = &mut transport {
        edit(tcp);
    }
    let transport_len = transport.header_len() + payload.len();

    let mut rebuilt = Vec::with_capacity(14 + 60 + transport_len);
    link.write(&mut rebuilt).unwrap();
    match headers.net.clone().expect("IP") {
        NetHeaders::Ipv4(mut ip, _) => {
            ip.set_payload_len(transport_len).unwrap();
            ip.write(&mut rebuilt).unwrap();
            match transport {
                TransportHeader::Tcp(mut tcp) => {
                    tcp.checksum = tcp.calc_checksum_ipv4(&ip, &payload).unwrap();
                    tcp.write(&mut rebuilt).unwrap();
                }
                TransportHeader::Udp(mut udp) => {
                    udp.length = transport_len as u16;
                    udp.checksum = udp.calc_checksum_ipv4(&ip, &payload).unwrap();
                    udp.write(&mut rebuilt).unwrap();
                }
                _ => unreachable!("TCP or UDP"),
            }
        }
        NetHeaders::Ipv6(mut ip, _) => {
            ip.set_payload_length(transport_len).unwrap();
            ip.write(&mut rebuilt).unwrap();
            match transport {
                TransportHeader::Tcp(mut tcp) => {
                    tcp.checksum = tcp.calc_checksum_ipv6(&ip, &payload).unwrap();
                    tcp.write(&mut rebuilt).unwrap();
                }
                TransportHeader::Udp(mut udp) => {
                    udp.length = transport_len as u16;
                    udp.checksum = udp.calc_checksum_ipv6(&ip, &payload).unwrap();
                    udp.write(&mut rebuilt).unwrap();
                }
                _ => unreachable!("TCP or UDP"),
            }
        }
        _ => unreachable!("IP"),
    }
    rebuilt.extend_from_slice(&payload);
    rebuilt
}

/// An address and port, as bytes.
type Socket = (Vec<u8>, u16);

/// Returns the sender, receiver, sequence and acknowledgement numbers of a
/// TCP frame.
fn tcp_facts(frame: &[u8]) -> Option<(Socket, Socket, u32, u32)> {
    let headers = PacketHeaders::from_ethernet_slice(frame).ok()?;
    let (source, destination) = match headers.net? {
        NetHeaders::Ipv4(ip, _) => (ip.source.to_vec(), ip.destination.to_vec()),
        NetHeaders::Ipv6(ip, _) => (ip.source.to_vec(), ip.destination.to_vec()),
        _ => return None,
    };
    let TransportHeader::Tcp(tcp) = headers.transport? else {
        return None;
    };
    Some((
        (source, tcp.source_port),
        (destination, tcp.destination_port),
        tcp.sequence_number,
        tcp.acknowledgment_number,
    ))
}

/// Returns whether sequence number `a` lies after `b` (RFC 9293 section 3.4).
fn seq_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// Replaces the payload of the TCP segment at `index` with `payload`, cut
/// into segments of at most 1,448 bytes, and shifts the sequence numbers of
/// the flow's later segments (and the other side's acknowledgements) by the
/// difference in length.
fn grow_segment(pcap: &mut Pcap, index: usize, payload: &[u8]) {
    let frame = pcap.records[index].data.clone();
    let (sender, receiver, seq, _) = tcp_facts(&frame).expect("a TCP segment");
    let old_len = locate(&frame)
        .map(|at| frame.len() - at.payload_start)
        .unwrap();
    let delta = (payload.len() as u32).wrapping_sub(old_len as u32);

    for record in &mut pcap.records[index + 1..] {
        let Some((from, to, their_seq, their_ack)) = tcp_facts(&record.data) else {
            continue;
        };
        if from == sender && to == receiver && seq_after(their_seq, seq) {
            record.data = rebuild(&record.data, None, |tcp| {
                tcp.sequence_number = their_seq.wrapping_add(delta);
            });
        } else if from == receiver && to == sender && seq_after(their_ack, seq) {
            record.data = rebuild(&record.data, None, |tcp| {
                tcp.acknowledgment_number = their_ack.wrapping_add(delta);
            });
        }
    }

    let header = pcap.records[index].header;
    let segments: Vec<Record> = payload
        .chunks(1448)
        .scan(0u32, |offset, chunk| {
            let segment_seq = seq.wrapping_add(*offset);
            *offset += chunk.len() as u32;
            Some(Record {
                header,
                data: rebuild(&frame, Some(chunk), |tcp| tcp.sequence_number = segment_seq),
            })
        })
        .collect();
    pcap.records.splice(index..=index, segments);
}

/// Recomputes the lengths and checksums of a frame after its bytes changed.
fn fix_checksums(frame: &mut Vec<u8>) {
    *frame = rebuild(frame, None, |_| {});
}

/// The fields a rewrite put in, as the bytes exflow should report.
#[derive(Default)]
struct Injected {
    sni: BTreeSet<Vec<u8>>,
    helo: BTreeSet<Vec<u8>>,
    host: BTreeSet<Vec<u8>>,
    path: BTreeSet<Vec<u8>>,
    qname: BTreeSet<Vec<u8>>,
}

/// Replaces the server name of a TLS ClientHello that starts `payload`.
/// Returns the new name.
fn rewrite_sni(payload: &mut [u8], shift: usize) -> Option<Vec<u8>> {
    // Record header (5), handshake header (4), version (2), random (32).
    if payload.len() < 44 || payload[0] != 0x16 || payload[5] != 0x01 {
        return None;
    }
    let mut at = 43;
    let session_id_len = usize::from(*payload.get(at)?);
    at += 1 + session_id_len;
    let suites_len = usize::from(u16::from_be_bytes([
        *payload.get(at)?,
        *payload.get(at + 1)?,
    ]));
    at += 2 + suites_len;
    let compression_len = usize::from(*payload.get(at)?);
    at += 1 + compression_len;
    let extensions_len = usize::from(u16::from_be_bytes([
        *payload.get(at)?,
        *payload.get(at + 1)?,
    ]));
    at += 2;
    let end = (at + extensions_len).min(payload.len());
    while at + 4 <= end {
        let kind = u16::from_be_bytes([payload[at], payload[at + 1]]);
        let len = usize::from(u16::from_be_bytes([payload[at + 2], payload[at + 3]]));
        if kind == 0 {
            // server_name_list length (2), name type (1), name length (2).
            let name_len = usize::from(u16::from_be_bytes([
                *payload.get(at + 7)?,
                *payload.get(at + 8)?,
            ]));
            let name = payload.get_mut(at + 9..at + 9 + name_len)?;
            let new = hostile(name_len, b'=', shift);
            name.copy_from_slice(&new);
            return Some(new);
        }
        at += 4 + len;
    }
    None
}

/// Replaces the argument of an EHLO or HELO command that starts `payload`.
fn rewrite_helo(payload: &mut [u8], shift: usize) -> Option<Vec<u8>> {
    let verb = payload.get(..5)?;
    if !verb.eq_ignore_ascii_case(b"EHLO ") && !verb.eq_ignore_ascii_case(b"HELO ") {
        return None;
    }
    let end = payload.windows(2).position(|pair| pair == b"\r\n")?;
    let name = &mut payload[5..end];
    let new = hostile(name.len(), b'@', shift);
    name.copy_from_slice(&new);
    Some(new)
}

/// Replaces the request target (keeping its leading `/`) and the Host value
/// of an HTTP request that starts `payload`. Returns (path, host).
fn rewrite_http(payload: &mut [u8], shift: usize) -> Option<(Vec<u8>, Vec<u8>)> {
    // A method token (upper-case letters and `_`), a space and an origin-form
    // target.
    let method_len = payload
        .iter()
        .position(|&byte| !(byte.is_ascii_uppercase() || byte == b'_'))?;
    if method_len == 0 || !payload[method_len..].starts_with(b" /") {
        return None;
    }
    let method_len = method_len + 1;
    let line_end = payload.windows(2).position(|pair| pair == b"\r\n")?;
    let target_end = method_len
        + payload[method_len..line_end]
            .iter()
            .position(|&b| b == b' ')?;
    let target = &mut payload[method_len..target_end];
    let mut path = hostile(target.len(), b'/', shift);
    path[0] = b'/';
    target.copy_from_slice(&path);

    let host_at = payload
        .windows(8)
        .position(|window| window.eq_ignore_ascii_case(b"\r\nHost: "))?
        + 8;
    let host_end = host_at
        + payload[host_at..]
            .windows(2)
            .position(|pair| pair == b"\r\n")?;
    let value = &mut payload[host_at..host_end];
    let host = hostile(value.len(), b'+', shift + 3);
    value.copy_from_slice(&host);
    Some((path, host))
}

/// Replaces the first label of the question name of a DNS message (query or
/// response) with hostile bytes. Returns the name in presentation form.
fn rewrite_qname(payload: &mut [u8], shift: usize) -> Option<Vec<u8>> {
    let first_len = usize::from(*payload.get(12)?);
    if first_len == 0 || first_len > 63 {
        return None;
    }
    let label = payload.get_mut(13..13 + first_len)?;
    label.copy_from_slice(&hostile(first_len, b'-', shift));

    let mut name = Vec::new();
    let mut at = 12;
    loop {
        let len = usize::from(*payload.get(at)?);
        if len == 0 {
            break;
        }
        if !name.is_empty() {
            name.push(b'.');
        }
        name.extend_from_slice(payload.get(at + 1..at + 1 + len)?);
        at += 1 + len;
    }
    Some(name)
}

/// Rewrites every field of the recording; returns the capture bytes and what
/// was put in.
fn hostile_capture() -> (Vec<u8>, Injected) {
    let mut pcap = Pcap::read(&cli::repo_path(RECORDING));
    let mut injected = Injected::default();
    // A query and its response must carry the same name: the shift comes
    // from the DNS id, which both share.
    for (index, record) in pcap.records.iter_mut().enumerate() {
        let Some(located) = locate(&record.data) else {
            continue;
        };
        let payload = &mut record.data[located.payload_start..];
        if payload.is_empty() {
            continue;
        }
        let mut changed = false;
        if located.tcp {
            if let Some(name) = rewrite_sni(payload, index) {
                injected.sni.insert(name);
                changed = true;
            } else if let Some(name) = rewrite_helo(payload, index) {
                injected.helo.insert(name);
                changed = true;
            } else if let Some((path, host)) = rewrite_http(payload, index) {
                injected.path.insert(path);
                injected.host.insert(host);
                changed = true;
            }
        } else if located.src_port == 53 || located.dst_port == 53 {
            let id = usize::from(u16::from_be_bytes([payload[0], payload[1]]));
            if let Some(name) = rewrite_qname(payload, id) {
                injected.qname.insert(name);
                changed = true;
            }
        }
        if changed {
            fix_checksums(&mut record.data);
        }
    }
    (pcap.to_bytes(), injected)
}

/// Returns a file name with an escape sequence, a line feed, a right-to-left
/// override, markup, a formula start and an invalid UTF-8 byte.
fn hostile_file_name() -> &'static OsStr {
    OsStr::from_bytes(b"=cmd\x1b[31m\n\xe2\x80\xae<xss-probe>\xff.pcap")
}

/// Writes the hostile capture, with a last record cut short so that the
/// input error (which names the file) reaches every sink, into `dir`.
fn write_capture(dir: &Path) -> (PathBuf, Injected) {
    let (mut bytes, injected) = hostile_capture();
    // A record header that promises 100 bytes, then 10.
    let mut header = [0u8; 16];
    header[8..12].copy_from_slice(&100u32.to_le_bytes());
    header[12..16].copy_from_slice(&100u32.to_le_bytes());
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(&[0u8; 10]);
    let path = dir.join(hostile_file_name());
    std::fs::write(&path, bytes).unwrap();
    (path, injected)
}

/// Runs exflow on the hostile capture with `args` after the capture path.
fn run(path: &Path, args: &[&str]) -> std::process::Output {
    let mut all: Vec<&OsStr> = vec![OsStr::new("analyze"), OsStr::new("--site")];
    let site = cli::repo_path(SITE);
    all.push(site.as_os_str());
    all.push(path.as_os_str());
    all.extend(args.iter().map(OsStr::new));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_exflow"))
        .args(all)
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .env("NO_COLOR", "1")
        .output()
        .expect("exflow runs");
    // The cut record makes the input damaged: exit 2, after every record.
    assert_eq!(output.status.code(), Some(2), "{}", cli::stderr(&output));
    output
}

/// Asserts that `bytes` are UTF-8 with no character a terminal acts on other
/// than line feeds, and no unescaped markup from the capture.
fn assert_terminal_safe(sink: &str, bytes: &[u8]) {
    let text = std::str::from_utf8(bytes).unwrap_or_else(|error| panic!("{sink}: {error}"));
    for (number, line) in text.lines().enumerate() {
        if let Some(c) = line.chars().find(|&c| is_unsafe_char(c)) {
            panic!(
                "{sink} line {}: unsafe character {c:?} in {line:?}",
                number + 1
            );
        }
    }
}

/// Reverses [`wire_text`]: `\\` is a backslash, `\xNN` is byte NN.
fn wire_bytes(text: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        match (byte, tail) {
            (b'\\', [b'\\', after @ ..]) => {
                bytes.push(b'\\');
                rest = after;
            }
            (b'\\', [b'x', high, low, after @ ..]) => {
                let hex = std::str::from_utf8(&[*high, *low]).unwrap().to_string();
                bytes.push(u8::from_str_radix(&hex, 16).unwrap());
                rest = after;
            }
            _ => {
                bytes.push(byte);
                rest = tail;
            }
        }
    }
    bytes
}

/// Returns the distinct non-null values of `field` ("tls.sni") in records.
fn values(records: &[Value], field: &str) -> BTreeSet<Vec<u8>> {
    let (object, key) = field.split_once('.').unwrap();
    records
        .iter()
        .filter_map(|record| record[object][key].as_str())
        .map(wire_bytes)
        .collect()
}

#[test]
fn jsonl_is_safe_and_lossless() {
    let dir = tempfile::tempdir().unwrap();
    let (path, injected) = write_capture(dir.path());
    let output = run(&path, &["--format", "jsonl"]);

    assert_terminal_safe("jsonl", &output.stdout);
    assert_terminal_safe("stderr", &output.stderr);
    let records = cli::records(&output);
    assert!(records.len() > 30, "{} records", records.len());
    assert!(
        injected.sni.len() >= 3,
        "{} SNIs rewritten",
        injected.sni.len()
    );
    assert!(
        injected.helo.len() >= 3,
        "{} EHLOs rewritten",
        injected.helo.len()
    );
    assert!(
        injected.host.len() >= 3,
        "{} Hosts rewritten",
        injected.host.len()
    );
    assert!(
        injected.path.len() >= 3,
        "{} paths rewritten",
        injected.path.len()
    );
    assert!(injected.qname.len() >= 2);

    // Every field reads back as exactly the bytes on the wire.
    assert_eq!(values(&records, "tls.sni"), injected.sni);
    assert_eq!(values(&records, "smtp.helo"), injected.helo);
    assert_eq!(values(&records, "http.host"), injected.host);
    assert_eq!(values(&records, "http.path"), injected.path);
    // The labels hold no `.` or `\`, so the presentation form is the labels
    // joined by dots. DNS over TCP was left alone.
    let reported = values(&records, "dns.qname");
    assert!(
        injected.qname.is_subset(&reported),
        "DNS names missing: {:?}",
        injected.qname.difference(&reported).collect::<Vec<_>>()
    );

    // The source keeps the file name, escaped but recoverable.
    let source = records[0]["source"].as_str().unwrap();
    assert!(source.contains("<xss-probe>"), "{source:?}");
    assert!(source.contains('\u{1b}'), "{source:?}");
    assert!(source.contains('\u{202e}'), "{source:?}");
}

#[test]
fn csv_is_quoted_and_neutralised() {
    let dir = tempfile::tempdir().unwrap();
    let (path, injected) = write_capture(dir.path());
    let output = run(&path, &["--format", "csv"]);

    assert_terminal_safe("csv", &output.stdout);
    assert_terminal_safe("stderr", &output.stderr);
    let mut reader = csv::Reader::from_reader(output.stdout.as_slice());
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(|row| row.unwrap()).collect();
    assert!(rows.len() > 30);

    for row in &rows {
        assert_eq!(row.len(), headers.len(), "a row of another width: {row:?}");
        for cell in row.iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a cell starts a formula: {cell:?}"
            );
        }
    }
    // Each hostile field is in its column, escaped exactly as documented.
    for (name, expected) in [
        ("tls.sni", &injected.sni),
        ("smtp.helo", &injected.helo),
        ("http.host", &injected.host),
        ("http.path", &injected.path),
    ] {
        let cells: BTreeSet<String> = rows
            .iter()
            .map(|row| row[column(name)].to_string())
            .filter(|cell| !cell.is_empty())
            .collect();
        let wanted: BTreeSet<String> = expected
            .iter()
            .map(|bytes| csv_text(&wire_text(bytes)).into_owned())
            .collect();
        assert_eq!(cells, wanted, "column {name}");
    }
    // Cells holding quotes, commas or line breaks are quoted: the file has
    // as many lines as rows plus the header, whatever the cells hold.
    let lines = output.stdout.iter().filter(|&&byte| byte == b'\n').count();
    assert_eq!(lines, rows.len() + 1);
}

#[test]
fn summary_shows_no_escape_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_capture(dir.path());
    let output = run(&path, &["--format", "summary"]);

    assert_terminal_safe("summary", &output.stdout);
    assert_terminal_safe("stderr", &output.stderr);
    let summary = String::from_utf8(output.stdout).unwrap();
    // The input error names the file, escaped.
    assert!(summary.contains("<xss-probe>"), "{summary}");
    assert!(summary.contains("\\u{001b}[31m"), "{summary}");
}

#[test]
fn html_report_shows_no_markup() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_capture(dir.path());
    let report = dir.path().join("report.html");
    let output = run(
        &path,
        &["--format", "jsonl", "--report", report.to_str().unwrap()],
    );
    assert_terminal_safe("stderr", &output.stderr);

    let page = std::fs::read_to_string(&report).unwrap();
    assert_terminal_safe("html", page.as_bytes());
    assert!(
        !page.contains(MARKUP),
        "markup from the capture in the page"
    );
    assert!(
        page.contains("&lt;xss-probe&gt;"),
        "the file name is missing"
    );
}

/// Returns the index of the first client segment whose payload starts with
/// `prefix`.
fn first_segment_starting(pcap: &Pcap, prefix: &[u8]) -> usize {
    pcap.records
        .iter()
        .position(|record| {
            locate(&record.data)
                .is_some_and(|at| at.tcp && record.data[at.payload_start..].starts_with(prefix))
        })
        .expect("a segment with that prefix")
}

/// Returns (client, server, server port, verdict) of each record.
fn verdicts(records: &[Value]) -> Vec<(String, String, String)> {
    let mut verdicts: Vec<(String, String, String)> = records
        .iter()
        .map(|record| {
            (
                cli::endpoint(record, "client"),
                cli::endpoint(record, "server"),
                record["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    verdicts.sort();
    verdicts
}

#[test]
fn fields_of_64_kib_stay_bounded() {
    let recording = cli::repo_path(RECORDING);
    let baseline = cli::exflow(&[
        "analyze",
        "--site",
        cli::repo_path(SITE).to_str().unwrap(),
        "--format",
        "jsonl",
        recording.to_str().unwrap(),
    ]);
    assert_eq!(
        baseline.status.code(),
        Some(0),
        "{}",
        cli::stderr(&baseline)
    );

    // A 64 KiB request path and Host value, and a 64 KiB EHLO name.
    let mut pcap = Pcap::read(&recording);
    let huge = hostile(64 * 1024, b'=', 0);
    let http = first_segment_starting(&pcap, b"GET /");
    let mut request = b"GET /".to_vec();
    request.extend_from_slice(&huge);
    request.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    request.extend_from_slice(&huge);
    request.extend_from_slice(b"\r\n\r\n");
    grow_segment(&mut pcap, http, &request);
    let smtp = first_segment_starting(&pcap, b"EHLO ");
    let mut ehlo = b"EHLO ".to_vec();
    ehlo.extend_from_slice(&huge);
    ehlo.extend_from_slice(b"\r\n");
    grow_segment(&mut pcap, smtp, &ehlo);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge-fields.pcap");
    std::fs::write(&path, pcap.to_bytes()).unwrap();
    let output = cli::exflow(&[
        "analyze",
        "--site",
        cli::repo_path(SITE).to_str().unwrap(),
        "--format",
        "jsonl",
        path.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", cli::stderr(&output));
    assert_terminal_safe("jsonl", &output.stdout);

    // Every flow is still reported with its verdict, and no field carries
    // more than the cap of wire bytes. The request line that grew past the
    // HTTP line cap is not HTTP to the probe, but the server's status line
    // still is, so the flow stays HTTP without the request's fields.
    let records = cli::records(&output);
    let grown_http = cli::records(&baseline)
        .iter()
        .find(|record| record["http"]["path"] == "/owa/")
        .map(|record| cli::endpoint(record, "client"))
        .expect("the first request of the recording");
    assert_eq!(verdicts(&records), verdicts(&cli::records(&baseline)));
    let grown = records
        .iter()
        .find(|record| cli::endpoint(record, "client") == grown_http)
        .unwrap();
    assert_eq!(grown["app"], "http");
    assert_eq!(grown["app_evidence"], "one_side");
    assert!(grown["http"]["path"].is_null(), "{grown}");
    assert!(grown["http"]["host"].is_null(), "{grown}");
    let ehlo_flows = records
        .iter()
        .filter(|record| record["app"] == "smtp" && record["smtp"]["helo"].is_null())
        .count();
    assert_eq!(ehlo_flows, 1, "the flow with the 64 KiB EHLO is still SMTP");
    for field in [
        "tls.sni",
        "smtp.helo",
        "http.host",
        "http.path",
        "dns.qname",
    ] {
        for value in values(&records, field) {
            assert!(
                value.len() <= exflow::fingerprint::MAX_WIRE_TEXT_LEN,
                "{field} of {} bytes",
                value.len()
            );
        }
    }
    let line_bytes = output
        .stdout
        .split(|&byte| byte == b'\n')
        .map(<[u8]>::len)
        .max();
    assert!(
        line_bytes.unwrap_or(0) < 8 * 1024,
        "a record of {line_bytes:?} bytes"
    );
}
