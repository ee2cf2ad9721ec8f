//! The fuzz harnesses: one function per entry point that takes bytes, with the
//! checks each makes on every input. The fuzz targets call them, and the
//! regression tests (`tests/hardening_fuzz.rs`) run the committed inputs
//! through the same functions, so a fixed crash stays fixed.
//!
//! Every harness must return normally on any input: a panic is a finding.
//! Beyond "no panic", each one checks what must hold whatever the bytes are:
//! the two capture readers agree, every reassembled prefix is the stream's true
//! start, wire texts stay within their cap, and no output carries a character
//! a terminal would act on or a cell a spreadsheet would run.

use std::io::{self, Read};
use std::sync::OnceLock;

use exflow::capture::{Frame, FrameSource, LinkType, SliceReader, StreamReader, Timestamp};
use exflow::decode::{Decoded, Decoder, DecoderConfig, link_supported};
use exflow::fingerprint::{
    self, App, AppInfo, Dissector, MAX_WIRE_TEXT_LEN, Progress, Side, StreamParser,
};
use exflow::flow::{FinishedFlow, FlowConfig, StreamReassembler};
use exflow::i18n::Lang;
use exflow::pipeline::engine::Engine;
use exflow::policy::Policy;
use exflow::report::build::flow_record;
use exflow::report::csv::CsvWriter;
use exflow::report::escape::is_unsafe_char;
use exflow::report::html::HtmlReport;
use exflow::report::jsonl::write_line;
use exflow::report::record::FlowRecord;
use exflow::report::stats::RunStats;
use exflow::report::summary::{SummaryAggregator, SummaryOptions, write_summary};

/// A reader that hands out at most `step` bytes per call, so that the stream
/// reader meets records split at every possible point.
struct Chunks<'a> {
    bytes: &'a [u8],
    step: usize,
}

impl Read for Chunks<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = self.bytes.len().min(buf.len()).min(self.step);
        buf[..len].copy_from_slice(&self.bytes[..len]);
        self.bytes = &self.bytes[len..];
        Ok(len)
    }
}

/// The parts of a frame two readers must agree on.
type FrameFacts = (i64, u32, Vec<u8>, u32, u32);

fn frame_facts(frame: &Frame<'_>) -> FrameFacts {
    (
        frame.ts.0,
        frame.link.0,
        frame.data.to_vec(),
        frame.orig_len,
        frame.interface,
    )
}

/// Reads every frame of `source`; returns the frames and whether an error
/// ended the input.
fn read_all(source: &mut dyn FrameSource) -> (Vec<FrameFacts>, bool) {
    let mut frames = Vec::new();
    while let Some(next) = source.next_frame() {
        match next {
            Ok(frame) => frames.push(frame_facts(&frame)),
            Err(_) => return (frames, true),
        }
    }
    (frames, false)
}

/// Capture reader: the memory-map reader and the stream reader (fed in chunks
/// of 1 to 256 bytes, chosen by the input's last byte) read the same frames
/// from any bytes and stop at the same point.
pub fn capture(data: &[u8]) {
    let step = usize::from(data.last().copied().unwrap_or(0)) + 1;
    let slice = SliceReader::new(data, "fuzz");
    let stream = StreamReader::new(Chunks { bytes: data, step }, "fuzz");
    let (mut slice, mut stream) = match (slice, stream) {
        (Ok(slice), Ok(stream)) => (slice, stream),
        (Err(_), Err(_)) => return,
        (slice, stream) => panic!(
            "the readers disagree on the header: slice {:?}, stream {:?}",
            slice.err(),
            stream.err()
        ),
    };

    let (slice_frames, slice_failed) = read_all(&mut slice);
    let (stream_frames, stream_failed) = read_all(&mut stream);
    assert_eq!(
        slice_frames.len(),
        stream_frames.len(),
        "frame counts differ"
    );
    assert!(slice_frames == stream_frames, "frames differ");
    assert_eq!(
        slice_failed, stream_failed,
        "one reader failed, not the other"
    );
    assert_eq!(
        slice.stats().corrupt_blocks,
        stream.stats().corrupt_blocks,
        "corrupt block counts differ"
    );
}

/// Flow engine settings with small caps, so that short inputs reach every
/// eviction path.
fn small_flow_config() -> FlowConfig {
    FlowConfig {
        max_flows: 16,
        reassembly_budget: 4096,
        reassembly_memory_cap: 16 * 1024,
        ..FlowConfig::default()
    }
}

fn small_decoder_config() -> DecoderConfig {
    DecoderConfig {
        max_fragment_memory: 64 * 1024,
        max_fragments_per_datagram: 16,
        max_pending_datagrams: 8,
        ..DecoderConfig::default()
    }
}

/// Checks that every wire text of a flow's fingerprint fields is within its cap.
fn check_app_info(info: &AppInfo) {
    let mut texts: Vec<&[u8]> = Vec::new();
    if let Some(tls) = &info.tls {
        texts.extend(tls.sni.as_deref());
        texts.extend(tls.alpn.iter().map(|alpn| &**alpn));
    }
    if let Some(http) = &info.http {
        for text in [&http.method, &http.host, &http.path, &http.user_agent] {
            texts.extend(text.as_deref());
        }
    }
    if let Some(smtp) = &info.smtp {
        texts.extend(smtp.helo.as_deref());
        texts.extend(smtp.auth_attempted.as_deref());
        texts.extend(smtp.auth_offered.iter().map(|mechanism| &**mechanism));
    }
    if let Some(imap) = &info.imap {
        texts.extend(imap.authenticate_mechanism.as_deref());
    }
    if let Some(dns) = &info.dns {
        texts.extend(dns.qname.as_deref());
    }
    if let Some(ldap) = &info.ldap {
        texts.extend(ldap.sasl_mechanism.as_deref());
    }
    texts.extend(info.ssh_banner.as_deref());
    texts.extend(info.ssh_client_banner.as_deref());
    for text in texts {
        assert!(
            text.len() <= MAX_WIRE_TEXT_LEN,
            "a wire text of {} bytes passed the cap of {MAX_WIRE_TEXT_LEN}",
            text.len()
        );
    }
}

/// Asserts that `output` is UTF-8 with no character a terminal acts on, other
/// than the line feeds between lines.
fn check_terminal_safe(sink: &str, output: &[u8]) {
    let text = std::str::from_utf8(output).unwrap_or_else(|error| panic!("{sink}: {error}"));
    if let Some(c) = text.chars().find(|&c| c != '\n' && is_unsafe_char(c)) {
        panic!("{sink}: unsafe character {c:?} in the output");
    }
}

/// Writes the records to every sink and checks each output.
fn check_sinks(records: &[FlowRecord]) {
    // JSON Lines: valid JSON, nothing a terminal acts on, and each line reads
    // back as the record it came from (the escaping loses nothing).
    for record in records {
        let mut line = Vec::new();
        write_line(&mut line, record).expect("writing to a Vec cannot fail");
        check_terminal_safe("jsonl", line.strip_suffix(b"\n").expect("one line"));
        let back: FlowRecord = serde_json::from_slice(&line).expect("the line is JSON");
        assert!(
            back == *record,
            "a JSON line does not read back as its record"
        );
    }

    // CSV: no cell starts a formula, nothing a terminal acts on (inside quotes
    // the writer keeps line feeds of a cell, and there are none).
    let mut csv = Vec::new();
    {
        let mut writer = CsvWriter::new(&mut csv);
        for record in records {
            writer.write(record).expect("writing to a Vec cannot fail");
        }
        writer.finish().expect("writing to a Vec cannot fail");
    }
    check_terminal_safe("csv", &csv);
    for line in csv.split(|&byte| byte == b'\n') {
        for cell in line.split(|&byte| byte == b',') {
            let cell = cell.strip_prefix(b"\"").unwrap_or(cell);
            assert!(
                !matches!(cell.first(), Some(b'=' | b'+' | b'@' | b'\t' | b'\r')),
                "csv: a cell starts a formula: {:?}",
                String::from_utf8_lossy(cell)
            );
        }
    }

    // Terminal summary and HTML report.
    let mut summary = SummaryAggregator::new();
    let mut html = HtmlReport::new();
    for record in records {
        summary.add(record, &record.reason);
        html.add(record, &record.reason);
    }
    let stats = RunStats::default();
    let mut text = Vec::new();
    write_summary(
        &mut text,
        &summary.summary(),
        &stats,
        &SummaryOptions::new(Lang::En),
    )
    .expect("writing to a Vec cannot fail");
    check_terminal_safe("summary", &text);
    let page = html.render(&stats, Lang::En);
    check_terminal_safe("html", page.as_bytes());
}

/// Turns finished flows into records with the built-in matrix.
fn judge_all(flows: &[FinishedFlow]) -> Vec<FlowRecord> {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    let policy = POLICY.get_or_init(Policy::builtin);
    flows
        .iter()
        .map(|flow| {
            check_app_info(&flow.app);
            let judgement = policy.judge(flow);
            flow_record(flow, "fuzz", exflow::cli::analyze::judged(&judgement))
        })
        .collect()
}

/// The whole offline path: capture bytes through the reader, the decoder,
/// the flow table (TCP reassembly and every fingerprint) and the policy into
/// every output format.
pub fn pipeline(data: &[u8]) {
    let Ok(mut reader) = SliceReader::new(data, "fuzz") else {
        return;
    };
    let mut engine = Engine::new(small_decoder_config(), small_flow_config(), None);
    let mut flows = Vec::new();
    let mut frames = 0u64;
    while let Some(Ok(frame)) = reader.next() {
        if link_supported(frame.link) {
            frames += 1;
            engine.on_frame(&frame, &mut |flow| flows.push(flow));
        }
    }
    engine.finish(&mut |flow| flows.push(flow));

    let stats = engine.flows().table().stats();
    assert_eq!(engine.decoder().stats().frames, frames);
    assert_eq!(stats.active, 0, "flows left after finish");
    assert_eq!(
        stats.finished.total(),
        flows.len() as u64,
        "finished flows not counted by reason"
    );
    assert!(
        stats.reassembly_bytes_peak <= small_flow_config().reassembly_memory_cap as u64,
        "stream buffers passed the memory cap"
    );
    check_sinks(&judge_all(&flows));
}

/// Link types the `decode` harness picks from, by the input's first byte.
const LINK_TYPES: [u32; 15] = [
    0, 1, 9, 10, 12, 14, 101, 108, 113, 129, 228, 229, 239, 258, 276,
];

/// The decoder alone: the input's first byte picks a link type, and the rest
/// is a sequence of frames, each led by a two-byte big-endian length (the
/// last frame takes whatever is left). Frames 1 ms apart, so that fragment
/// timeouts run.
pub fn decode(data: &[u8]) {
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let link = LinkType(LINK_TYPES[usize::from(selector) % LINK_TYPES.len()]);
    let mut decoder = Decoder::new(small_decoder_config());
    let mut count = 0u64;
    while !rest.is_empty() {
        let (frame_bytes, next) = match rest {
            [high, low, tail @ ..] => {
                let len = usize::from(u16::from_be_bytes([*high, *low])).min(tail.len());
                tail.split_at(len)
            }
            _ => (rest, &[][..]),
        };
        rest = next;
        count += 1;
        let frame = Frame {
            ts: Timestamp(count as i64 * 1_000_000),
            link,
            data: frame_bytes,
            orig_len: frame_bytes.len() as u32,
            interface: 0,
            offset: count,
        };
        match decoder.decode(&frame) {
            Decoded::Packet(packet) => {
                assert!(packet.payload.len() <= frame_bytes.len());
                assert!(packet.payload.len() <= packet.payload_len as usize);
            }
            Decoded::Datagram(datagram) => {
                let packet = datagram.packet();
                assert!(packet.payload.len() <= 65_535);
            }
            Decoded::Held | Decoded::Skipped(_) | Decoded::Error(_) => {}
        }
    }
    assert_eq!(decoder.stats().frames, count);
}

/// The byte at `offset` of the stream the `reassembly` harness cuts up: the
/// same at every delivery, so overlaps never differ.
fn stream_byte(offset: u64) -> u8 {
    (offset.wrapping_mul(0x9e37_79b9) >> 7) as u8
}

/// TCP reassembly: the input drives one stream reassembler through segments,
/// acknowledgements, hole timeouts, a FIN and a close, with the sequence
/// numbers near the wrap-around. Whatever happens, the in-order prefix is the
/// stream's true start and the buffer stays within the budget.
///
/// Layout: budget (u16), base sequence number (u32), then 5-byte operations:
/// kind, offset (u16), length (u16).
pub fn reassembly(data: &[u8]) {
    let [b0, b1, s0, s1, s2, s3, ops @ ..] = data else {
        return;
    };
    let budget = usize::from(u16::from_le_bytes([*b0, *b1])) + 1;
    let base = u32::from_le_bytes([*s0, *s1, *s2, *s3]);
    let mut stream = StreamReassembler::new(budget);
    stream.set_base(base);
    let mut segment = Vec::new();
    let mut now = 0i64;

    for op in ops.chunks_exact(5) {
        let offset = u64::from(u16::from_le_bytes([op[1], op[2]]));
        let len = u32::from(u16::from_le_bytes([op[3], op[4]]) % 2048);
        let seq = base.wrapping_add(offset as u32);
        now += 100_000_000;
        match op[0] % 8 {
            // Whole segments, most of the time.
            0..=3 => {
                segment.clear();
                segment.extend((offset..offset + u64::from(len)).map(stream_byte));
                stream.insert(seq, &segment, len, Timestamp(now), budget);
            }
            // A segment cut by the snapshot length.
            4 => {
                segment.clear();
                segment.extend((offset..offset + u64::from(len / 2)).map(stream_byte));
                stream.insert(seq, &segment, len, Timestamp(now), budget);
            }
            5 => {
                stream.on_peer_ack(seq, Timestamp(now));
            }
            6 => {
                stream.check_hole_timeout(Timestamp(now), 1_000_000_000);
            }
            _ => stream.set_fin(seq),
        }
        let prefix = stream.prefix();
        assert!(
            stream.capacity() <= budget.max(1024),
            "buffer over the budget"
        );
        assert!(prefix.len() <= budget, "prefix longer than the budget");
        for (offset, &byte) in prefix.iter().enumerate() {
            assert_eq!(
                byte,
                stream_byte(offset as u64),
                "prefix byte {offset} is wrong"
            );
        }
    }
    stream.close();
    let prefix = stream.prefix();
    for (offset, &byte) in prefix.iter().enumerate() {
        assert_eq!(
            byte,
            stream_byte(offset as u64),
            "prefix byte {offset} is wrong"
        );
    }
}

/// Splits a fingerprint input into client bytes, server bytes and the step
/// by which the prefixes grow: two bytes of client length (little-endian), one
/// byte of step, then the client bytes and the server bytes.
fn split_sides(data: &[u8]) -> Option<(&[u8], &[u8], usize)> {
    let [l0, l1, step, rest @ ..] = data else {
        return None;
    };
    let client_len = usize::from(u16::from_le_bytes([*l0, *l1])).min(rest.len());
    let (client, server) = rest.split_at(client_len);
    Some((client, server, usize::from(*step) + 1))
}

/// Feeds growing prefixes of both sides to `on_stream`, the way the flow
/// engine does, until it returns `Done` or the sides are whole.
fn feed_prefixes(
    client: &[u8],
    server: &[u8],
    step: usize,
    mut on_stream: impl FnMut(&[u8], &[u8]) -> Progress,
) {
    let (mut client_len, mut server_len) = (0, 0);
    loop {
        client_len = (client_len + step).min(client.len());
        server_len = (server_len + step / 2 + 1).min(server.len());
        let progress = on_stream(&client[..client_len], &server[..server_len]);
        if progress == Progress::Done || (client_len == client.len() && server_len == server.len())
        {
            return;
        }
    }
}

/// One protocol's probe and parser, then the whole dissector, on a client and
/// a server byte stream. The parser is fed in pieces and all at once.
pub fn fingerprint<P: StreamParser + Default>(app: App, data: &[u8]) {
    let Some((client, server, step)) = split_sides(data) else {
        return;
    };
    for side in [client, server] {
        let result = fingerprint::probe_stream(app, side);
        let _ = result.sender_is_server;
    }

    let mut pieces = AppInfo::default();
    let mut parser = P::default();
    feed_prefixes(client, server, step, |c, s| {
        parser.on_stream(c, s, &mut pieces)
    });
    check_app_info(&pieces);

    let mut whole = AppInfo::default();
    P::default().on_stream(client, server, &mut whole);
    check_app_info(&whole);
    // NOTE: the text parsers may learn different fields from pieces than from
    // the whole stream (an HTTP/2 preface read as an HTTP/1 request line when
    // its first line comes alone, an upgrade missed when one side runs ahead).
    // That is not checked here: only that neither way panics.

    let mut dissector = Dissector::new(exflow::decode::Transport::Tcp, [51_000, 443], None);
    feed_prefixes(client, server, step, |c, s| dissector.on_stream(c, s));
    if step % 3 == 0 {
        dissector.on_gap(Side::Responder);
    }
    check_app_info(&dissector.finish());
}

/// DNS: datagrams through the probe and the dissector, and the stream form
/// through the DNS stream parser. The input is a sequence of datagrams, each
/// led by one byte of length, alternately from the client and the server.
pub fn dns(data: &[u8]) {
    let mut dissector = Dissector::new(exflow::decode::Transport::Udp, [53_000, 53], None);
    let mut rest = data;
    let mut side = Side::Originator;
    while let [len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (datagram, next) = tail.split_at(len);
        let _ = fingerprint::dns::probe_datagram(datagram);
        let _ = fingerprint::dns::parse_dns_message(datagram);
        dissector.on_datagram(side, datagram);
        side = side.other();
        rest = next;
    }
    check_app_info(&dissector.finish());
    fingerprint::<fingerprint::dns::DnsParser>(App::Dns, data);
}
