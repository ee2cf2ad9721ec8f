//! A flow's `app` and fingerprint fields depend only on its reassembled
//! bytes, not on how TCP cut them into segments nor on how the two directions'
//! segments interleave.
//!
//! Conversations come from real bytes: the project's captures in `captures/`
//! and the shared corpus (`../shared/corpus`, read in place), both turned into
//! per-direction streams by exflow's own reader, decoder and flow table, and
//! the recorded fingerprint fixtures under `tests/fixtures/fingerprint`. Each
//! conversation is fed to a [`Dissector`] the way the flow table feeds it: both
//! sides' whole in-order prefixes after every change, and nothing more once it
//! returns `Done`. The finished [`AppInfo`] must equal the one from delivering
//! each direction whole in one call.
//!
//! A causal replay delivers a segment only after the other side's bytes that
//! its sender had acknowledged when sending it: up to the TCP acknowledgement
//! number when the capture has the handshake, else everything the other side
//! sent before it in capture order. Within that, the property test cuts
//! segments at random points, coalesces neighbouring pieces and picks either
//! side when both may go, and the deterministic tests cut every stream at
//! every byte of its first bytes. A side's in-order bytes may also reach the
//! dissector late (a hole waiting for a retransmission, or directions read
//! from different capture queues), so further tests let either side run
//! ahead of the other.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use exflow::capture::{FrameSource, SliceReader};
use exflow::decode::{DecoderConfig, Packet, Transport};
use exflow::fingerprint::{App, AppEvidence, AppInfo, Dissector, PROBE_ORDER, Progress, Side};
use exflow::flow::{FlowConfig, FlowKey};
use exflow::pipeline::engine::Engine;
use proptest::prelude::*;

/// Bytes of each stream cut at every position by the deterministic tests.
const CUT_EVERY_BYTE_LEN: usize = 48;

/// Property test cases. Each case replays one conversation.
const PROPTEST_CASES: u32 = 512;

/// One growth of a side's in-order prefix, in capture order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Event {
    side: Side,
    /// Length of the side's prefix after the growth.
    end: usize,
    /// Length of the other side's prefix that must be delivered first.
    needs: usize,
}

/// One TCP conversation: each side's in-order bytes and how they grew.
#[derive(Debug)]
struct Conversation {
    name: String,
    ports: [u16; 2],
    client_hint: Option<Side>,
    /// Each side's in-order bytes, indexed by [`Side::index`].
    streams: [Vec<u8>; 2],
    events: Vec<Event>,
}

impl Conversation {
    fn stream(&self, side: Side) -> &[u8] {
        &self.streams[side.index()]
    }

    /// Returns the conversation as a capture that saw only `side`'s packets
    /// shows it, or `None` unless both sides sent bytes.
    fn only(&self, side: Side) -> Option<Conversation> {
        let other = side.other();
        if self.stream(side).is_empty() || self.stream(other).is_empty() {
            return None;
        }
        let mut streams = [Vec::new(), Vec::new()];
        streams[side.index()] = self.stream(side).to_vec();
        let events = self
            .events
            .iter()
            .filter(|event| event.side == side)
            .map(|event| Event { needs: 0, ..*event })
            .collect();
        Some(Conversation {
            name: format!("{} ({:?} only)", self.name, side),
            ports: self.ports,
            client_hint: self.client_hint,
            streams,
            events,
        })
    }
}

/// A delivery plan: after each step, both sides' prefix lengths.
type Schedule = Vec<[usize; 2]>;

/// Feeds a dissector the prefixes a schedule names, as the flow table does,
/// and returns what it learned.
fn replay(conversation: &Conversation, schedule: &[[usize; 2]]) -> AppInfo {
    let mut dissector =
        Dissector::new(Transport::Tcp, conversation.ports, conversation.client_hint);
    let [originator, responder] = &conversation.streams;
    for &[originator_len, responder_len] in schedule {
        let progress =
            dissector.on_stream(&originator[..originator_len], &responder[..responder_len]);
        if progress == Progress::Done {
            break;
        }
    }
    dissector.finish()
}

/// Replays the reference delivery: each direction whole, in one call.
fn whole(conversation: &Conversation) -> AppInfo {
    let lengths = conversation.streams.each_ref().map(Vec::len);
    replay(conversation, &[lengths])
}

/// Returns the events as captured, one call each.
fn capture_order(conversation: &Conversation) -> Schedule {
    let mut lengths = [0; 2];
    conversation
        .events
        .iter()
        .map(|event| {
            lengths[event.side.index()] = event.end;
            lengths
        })
        .collect()
}

/// Returns the events as captured, with the event of `side` that covers
/// byte `at` cut in two there.
fn capture_order_cut_at(conversation: &Conversation, side: Side, at: usize) -> Schedule {
    let mut lengths = [0; 2];
    let mut schedule = Vec::new();
    for event in &conversation.events {
        let start = lengths[event.side.index()];
        if event.side == side && start < at && at < event.end {
            lengths[side.index()] = at;
            schedule.push(lengths);
        }
        lengths[event.side.index()] = event.end;
        schedule.push(lengths);
    }
    schedule
}

/// Returns the events as captured, with the first `count` bytes of each side
/// delivered one byte at a time.
fn capture_order_bytewise(conversation: &Conversation, count: usize) -> Schedule {
    let mut lengths = [0; 2];
    let mut schedule = Vec::new();
    for event in &conversation.events {
        let at = event.side.index();
        while lengths[at] < event.end.min(count) {
            lengths[at] += 1;
            schedule.push(lengths);
        }
        lengths[at] = event.end;
        schedule.push(lengths);
    }
    schedule
}

/// Bytes that steer a random schedule; read in a cycle. All zeros give the
/// capture order, so shrinking moves towards it.
struct Choices<'a> {
    bytes: &'a [u8],
    next: usize,
}

impl Choices<'_> {
    fn take(&mut self) -> u8 {
        if self.bytes.is_empty() {
            return 0;
        }
        let byte = self.bytes[self.next % self.bytes.len()];
        self.next += 1;
        byte
    }
}

/// One piece of a side's stream and the other side's prefix it waits for.
#[derive(Clone, Copy, Debug)]
struct Piece {
    end: usize,
    needs: usize,
}

/// Cuts every event into pieces and merges the two sides' pieces as the
/// choices steer: in an order that keeps causality when `causal`, else in
/// any order.
fn random_schedule(
    conversation: &Conversation,
    choices: &mut Choices<'_>,
    causal: bool,
) -> Schedule {
    let mut pieces: [Vec<Piece>; 2] = [Vec::new(), Vec::new()];
    let mut lengths = [0; 2];
    for event in &conversation.events {
        let at = event.side.index();
        let mut start = lengths[at];
        while start < event.end {
            let remaining = event.end - start;
            let choice = usize::from(choices.take());
            let len = match choice % 4 {
                0 => remaining,
                1 => 1 + (choice >> 2) % 8,
                2 => 1 + (choice >> 2) * (choice >> 2) % 1500,
                _ => (remaining * (choice >> 2) / 64).max(1),
            }
            .min(remaining);
            start += len;
            pieces[at].push(Piece {
                end: start,
                needs: event.needs,
            });
        }
        lengths[at] = event.end;
    }

    let mut schedule = Vec::new();
    let mut next = [0; 2];
    let mut delivered = [0; 2];
    loop {
        let ready = |side: usize, next: &[usize; 2], delivered: &[usize; 2]| {
            pieces[side]
                .get(next[side])
                .is_some_and(|piece| !causal || piece.needs <= delivered[1 - side])
        };
        let candidates: Vec<usize> = (0..2)
            .filter(|&side| ready(side, &next, &delivered))
            .collect();
        let choice = usize::from(choices.take());
        let side = match candidates.as_slice() {
            [] => break,
            [only] => *only,
            // Zero picks the side whose next piece the capture had first.
            _ => (choice & 1) ^ first_captured(conversation, &pieces, &next),
        };
        // Coalesce up to three ready pieces of that side into one call.
        let mut count = 1 + (choice >> 1) % 3;
        while count > 0 && ready(side, &next, &delivered) {
            delivered[side] = pieces[side][next[side]].end;
            next[side] += 1;
            count -= 1;
        }
        schedule.push(delivered);
    }
    assert!(
        next[0] == pieces[0].len() && next[1] == pieces[1].len(),
        "{}: the schedule deadlocked; the events are not causal",
        conversation.name
    );
    schedule
}

/// Returns the side (as an index) whose next piece the capture delivered first.
fn first_captured(
    conversation: &Conversation,
    pieces: &[Vec<Piece>; 2],
    next: &[usize; 2],
) -> usize {
    let starts = [0, 1].map(|side| {
        next[side]
            .checked_sub(1)
            .map_or(0, |previous| pieces[side][previous].end)
    });
    let position = |side: usize| {
        conversation
            .events
            .iter()
            .position(|event| event.side.index() == side && event.end > starts[side])
            .unwrap_or(usize::MAX)
    };
    usize::from(position(1) < position(0))
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fingerprint")
}

/// Returns the server port a fixture's protocol runs on.
fn fixture_port(protocol: &str) -> u16 {
    match protocol {
        "dns" => 53,
        "http" => 80,
        "imap" => 143,
        "ldap" => 389,
        "pop3" => 110,
        "smtp" => 25,
        "ssh" => 22,
        _ => 443,
    }
}

/// Loads the recorded TCP fixtures: `<name>.client.bin`, `<name>.server.bin` and
/// `<name>.segments` (one `client N`/`c N` or `server N`/`s N` line per
/// segment in capture order). The client is the originator.
fn fixture_conversations() -> Vec<Conversation> {
    let mut found = Vec::new();
    let mut protocols: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("tests/fixtures/fingerprint is readable")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    protocols.sort();
    for dir in protocols {
        let protocol = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".segments").map(str::to_owned)
            })
            .collect();
        names.sort();
        for name in names {
            let read = |suffix: &str| {
                let path = dir.join(format!("{name}.{suffix}"));
                std::fs::read(&path)
                    .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
            };
            let listing = String::from_utf8(read("segments")).expect("segments file is text");
            let mut lengths = [0; 2];
            let mut events = Vec::new();
            for (number, line) in listing.lines().enumerate() {
                let (side, len) = line.split_once(' ').unwrap_or_else(|| {
                    panic!(
                        "{protocol}/{name}.segments:{}: invalid line {line:?}",
                        number + 1
                    )
                });
                let side = if side.starts_with('c') {
                    Side::Originator
                } else {
                    Side::Responder
                };
                let len: usize = len.parse().unwrap_or_else(|error| {
                    panic!("{protocol}/{name}.segments:{}: {error}", number + 1)
                });
                lengths[side.index()] += len;
                events.push(Event {
                    side,
                    end: lengths[side.index()],
                    needs: lengths[side.other().index()],
                });
            }
            let streams = [read("client.bin"), read("server.bin")];
            assert_eq!(
                lengths,
                streams.each_ref().map(Vec::len),
                "{protocol}/{name}: the segments do not add up to the byte files"
            );
            found.push(Conversation {
                name: format!("fixture {protocol}/{name}"),
                ports: [40000, fixture_port(&protocol)],
                client_hint: Some(Side::Originator),
                streams,
                events,
            });
        }
    }
    found
}

/// A TCP flow being recorded from a capture.
struct Recording {
    originator: (IpAddr, u16),
    ports: [u16; 2],
    client_hint: Option<Side>,
    /// Sequence number of each side's first stream byte, from the handshake.
    base: [Option<u32>; 2],
    streams: [Vec<u8>; 2],
    events: Vec<Event>,
    /// A prefix shrank (the stream was rebased), so the events are not a
    /// replay of the bytes any more.
    rebased: bool,
}

impl Recording {
    fn new(packet: &Packet<'_>) -> Recording {
        let flags = packet.tcp.flags;
        let client_hint = if flags.syn() {
            Some(if flags.ack() {
                Side::Responder
            } else {
                Side::Originator
            })
        } else {
            None
        };
        Recording {
            originator: (packet.src, packet.src_port),
            ports: [packet.src_port, packet.dst_port],
            client_hint,
            base: [None; 2],
            streams: [Vec::new(), Vec::new()],
            events: Vec::new(),
            rebased: false,
        }
    }

    fn side_of(&self, packet: &Packet<'_>) -> Side {
        if (packet.src, packet.src_port) == self.originator {
            Side::Originator
        } else {
            Side::Responder
        }
    }

    /// Notes a packet and the prefixes the flow table contains after it.
    fn on_packet(&mut self, packet: &Packet<'_>, prefixes: [&[u8]; 2]) {
        let side = self.side_of(packet);
        let other = side.other();
        if packet.tcp.flags.syn() && self.base[side.index()].is_none() {
            self.base[side.index()] = Some(packet.tcp.seq.wrapping_add(1));
        }
        if prefixes
            .iter()
            .zip(&self.streams)
            .any(|(prefix, recorded)| prefix.len() < recorded.len())
        {
            self.rebased = true;
        }
        if self.rebased {
            return;
        }

        let grown = prefixes[side.index()].len();
        if grown == self.streams[side.index()].len() {
            return;
        }
        // The sender had received the other side's bytes up to its
        // acknowledgement number, and no more of them can have shaped what
        // it sent.
        let other_len = self.streams[other.index()].len();
        let acknowledged = match self.base[other.index()] {
            Some(base) if packet.tcp.flags.ack() => {
                (packet.tcp.ack.wrapping_sub(base) as usize).min(other_len)
            }
            _ => other_len,
        };
        let previous_needs = self
            .events
            .iter()
            .rev()
            .find(|event| event.side == side)
            .map_or(0, |event| event.needs);

        let stream = &mut self.streams[side.index()];
        stream.extend_from_slice(&prefixes[side.index()][stream.len()..]);
        self.events.push(Event {
            side,
            end: grown,
            needs: acknowledged.max(previous_needs),
        });
    }
}

/// Reads a capture with exflow's reader, decoder and flow table, and returns
/// each TCP flow that carried payload.
fn capture_conversations(path: &Path) -> Vec<Conversation> {
    let bytes = std::fs::read(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let Ok(mut reader) = SliceReader::new(&bytes, file.as_str()) else {
        return Vec::new();
    };
    let config = FlowConfig {
        keep_streams: true,
        ..FlowConfig::default()
    };
    let mut engine = Engine::new(DecoderConfig::default(), config, None);
    let mut recordings: HashMap<(FlowKey, u64), Recording> = HashMap::new();
    let mut order: Vec<(FlowKey, u64)> = Vec::new();
    while let Some(frame) = reader.next_frame() {
        // A damaged capture ends at its first bad record.
        let Ok(frame) = frame else { break };
        engine.on_frame_inspect(&frame, &mut |_| {}, |stage, packet| {
            if packet.transport != Transport::Tcp {
                return;
            }
            let table = stage.table();
            let (Some(flow), Some(prefixes)) =
                (table.open_flow(packet), table.stream_prefixes(packet))
            else {
                return;
            };
            let identity = (flow.key(), flow.first_offset());
            let recording = recordings.entry(identity).or_insert_with(|| {
                order.push(identity);
                Recording::new(packet)
            });
            recording.on_packet(packet, prefixes);
        });
    }
    engine.finish(&mut |_| {});

    order
        .into_iter()
        .filter_map(|identity| {
            let recording = recordings.remove(&identity)?;
            if recording.rebased || recording.events.is_empty() {
                return None;
            }
            let (address, port) = recording.originator;
            Some(Conversation {
                name: format!("{file} {address}:{port} offset {}", identity.1),
                ports: recording.ports,
                client_hint: recording.client_hint,
                streams: recording.streams,
                events: recording.events,
            })
        })
        .collect()
}

fn capture_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name.ends_with(".pcap") || name.ends_with(".pcapng")
        })
        .collect();
    files.sort();
    files
}

/// Returns every conversation of the fixtures, the project's captures and the
/// shared corpus, without repeats of the same bytes.
fn conversations() -> &'static [Conversation] {
    static ALL: OnceLock<Vec<Conversation>> = OnceLock::new();
    ALL.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut all = fixture_conversations();
        let mut files = capture_files(&root.join("captures"));
        let corpus = root.join("../shared/corpus");
        if corpus.is_dir() {
            files.extend(capture_files(&corpus));
        } else {
            println!("../shared/corpus not found: only fixtures and captures/ are replayed");
        }
        for file in files {
            all.extend(capture_conversations(&file));
        }
        // A span port that passes one direction only shows one side.
        let one_sided: Vec<Conversation> = all
            .iter()
            .flat_map(|conversation| {
                [Side::Originator, Side::Responder]
                    .into_iter()
                    .filter_map(|side| conversation.only(side))
            })
            .collect();
        all.extend(one_sided);
        let mut seen = HashSet::new();
        all.retain(|conversation| {
            let mut hasher = DefaultHasher::new();
            conversation.streams.hash(&mut hasher);
            conversation
                .events
                .iter()
                .map(|e| (e.side.index(), e.end))
                .for_each(|e| e.hash(&mut hasher));
            seen.insert(hasher.finish())
        });
        all
    })
}

/// Lists the fields in which two results differ, each with both values.
fn field_differences(expected: &AppInfo, got: &AppInfo) -> Vec<String> {
    let fields: [(&str, String, String); 14] = [
        (
            "app",
            format!("{:?}", expected.app),
            format!("{:?}", got.app),
        ),
        (
            "evidence",
            format!("{:?}", expected.evidence),
            format!("{:?}", got.evidence),
        ),
        (
            "server_side",
            format!("{:?}", expected.server_side),
            format!("{:?}", got.server_side),
        ),
        (
            "upgrade",
            format!("{:?}", expected.upgrade),
            format!("{:?}", got.upgrade),
        ),
        (
            "cleartext_auth",
            format!("{:?}", expected.cleartext_auth),
            format!("{:?}", got.cleartext_auth),
        ),
        (
            "tls",
            format!("{:?}", expected.tls),
            format!("{:?}", got.tls),
        ),
        (
            "http",
            format!("{:?}", expected.http),
            format!("{:?}", got.http),
        ),
        (
            "smtp",
            format!("{:?}", expected.smtp),
            format!("{:?}", got.smtp),
        ),
        (
            "imap",
            format!("{:?}", expected.imap),
            format!("{:?}", got.imap),
        ),
        (
            "dns",
            format!("{:?}", expected.dns),
            format!("{:?}", got.dns),
        ),
        (
            "ldap",
            format!("{:?}", expected.ldap),
            format!("{:?}", got.ldap),
        ),
        (
            "ssh_banner",
            format!("{:?}", expected.ssh_banner),
            format!("{:?}", got.ssh_banner),
        ),
        (
            "ssh_client_banner",
            format!("{:?}", expected.ssh_client_banner),
            format!("{:?}", got.ssh_client_banner),
        ),
        (
            "truncated_fields",
            format!("{:?}", expected.truncated_fields),
            format!("{:?}", got.truncated_fields),
        ),
    ];
    fields
        .into_iter()
        .filter(|(_, whole, segmented)| whole != segmented)
        .map(|(name, whole, segmented)| format!("    {name}: whole {whole}, segmented {segmented}"))
        .collect()
}

/// Describes how a segmented delivery's result differs from the whole one.
fn describe(
    conversation: &Conversation,
    schedule: &[[usize; 2]],
    expected: &AppInfo,
    got: &AppInfo,
) -> String {
    let steps: Vec<String> = schedule
        .iter()
        .take(24)
        .map(|[o, r]| format!("{o}/{r}"))
        .collect();
    format!(
        "{} ({} app):\n  schedule (originator/responder lengths): {}{}\n{}",
        conversation.name,
        expected.app.as_str(),
        steps.join(" "),
        if schedule.len() > 24 { " ..." } else { "" },
        field_differences(expected, got).join("\n"),
    )
}

#[test]
fn conversations_cover_protocols() {
    let all = conversations();
    let mut by_app: BTreeMap<App, usize> = BTreeMap::new();
    for conversation in all {
        *by_app.entry(whole(conversation).app).or_default() += 1;
    }
    println!("{} conversations: {by_app:?}", all.len());
    for app in PROBE_ORDER {
        assert!(
            by_app.get(&app).copied().unwrap_or(0) > 0,
            "no {app:?} conversation to replay"
        );
    }
}

/// Fails with every listed difference.
fn assert_none_differ(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} schedules differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn capture_order_matches_whole() {
    let failures: Vec<String> = conversations()
        .iter()
        .flat_map(|conversation| differing(conversation, [capture_order(conversation)]))
        .collect();
    assert_none_differ(&failures);
}

#[test]
fn every_cut_in_first_bytes_matches_whole() {
    let mut failures = Vec::new();
    for conversation in conversations() {
        for side in [Side::Originator, Side::Responder] {
            let len = conversation.stream(side).len().min(CUT_EVERY_BYTE_LEN);
            let cuts = (1..len).map(|at| capture_order_cut_at(conversation, side, at));
            // The first differing cut of each side is enough to go on.
            failures.extend(differing(conversation, cuts).into_iter().take(1));
        }
    }
    assert_none_differ(&failures);
}

#[test]
fn bytewise_first_bytes_match_whole() {
    let failures: Vec<String> = conversations()
        .iter()
        .flat_map(|conversation| {
            let schedule = capture_order_bytewise(conversation, CUT_EVERY_BYTE_LEN * 4);
            differing(conversation, [schedule])
        })
        .collect();
    assert_none_differ(&failures);
}

/// Returns the conversation whose name contains `fragment`, or `None` for a
/// corpus conversation when the corpus is not beside the repository.
fn named(fragment: &str) -> Option<&'static Conversation> {
    let found = conversations()
        .iter()
        .find(|conversation| conversation.name.contains(fragment));
    if found.is_none() && !fragment.starts_with("fixture ") {
        println!("{fragment}: not found; is ../shared/corpus beside the repository?");
        return None;
    }
    Some(found.unwrap_or_else(|| panic!("no conversation named {fragment:?}")))
}

/// Replays each schedule and lists those whose result differs from the
/// whole delivery.
fn differing(
    conversation: &Conversation,
    schedules: impl IntoIterator<Item = Schedule>,
) -> Vec<String> {
    let expected = whole(conversation);
    schedules
        .into_iter()
        .filter_map(|schedule| {
            let got = replay(conversation, &schedule);
            (got != expected).then(|| describe(conversation, &schedule, &expected, &got))
        })
        .collect()
}

/// Returns schedules that deliver all of `first`'s bytes before any of the
/// other side's, with `first`'s stream cut at each of its first `count` bytes.
fn one_side_first(conversation: &Conversation, first: Side, count: usize) -> Vec<Schedule> {
    let lengths = conversation.streams.each_ref().map(Vec::len);
    let first_len = lengths[first.index()];
    (0..=first_len.min(count))
        .map(|cut| {
            let mut at_cut = [0; 2];
            at_cut[first.index()] = cut;
            let mut first_whole = [0; 2];
            first_whole[first.index()] = first_len;
            vec![at_cut, first_whole, lengths]
        })
        .collect()
}

#[test]
fn each_side_first_matches_whole() {
    // A side's in-order bytes reach the dissector late when the monitor waits
    // for a retransmission to fill a hole, or reads the two directions from
    // different queues: a response may come before its request.
    let mut failures = Vec::new();
    for conversation in conversations() {
        for first in [Side::Originator, Side::Responder] {
            failures.extend(differing(
                conversation,
                one_side_first(conversation, first, 0),
            ));
        }
    }
    assert_none_differ(&failures);
}

#[test]
fn h2c_preface_split_after_server_settings() {
    // Class: `PRI * HTTP/2.0` is an HTTP/1.1 request line too. The server's
    // SETTINGS frame may come first and choose HTTP while the client's
    // preface is still cut short, so the parser must wait for all of it.
    let conversation = named("fixture http/h2c-prior-knowledge").unwrap();
    let preface_len = exflow::fingerprint::http::HTTP2_PREFACE.len();
    let failures = differing(
        conversation,
        one_side_first(conversation, Side::Responder, 0)
            .into_iter()
            .chain((1..=preface_len).map(|cut| {
                let server_len = conversation.stream(Side::Responder).len();
                vec![
                    [0, server_len],
                    [cut, server_len],
                    [conversation.stream(Side::Originator).len(), server_len],
                ]
            })),
    );
    assert_none_differ(&failures);
    let info = whole(conversation);
    assert!(
        info.http.as_ref().is_some_and(|http| http.http2),
        "{info:?}"
    );
}

#[test]
fn upgrade_answer_before_request() {
    // Class: a StartTLS, STARTTLS or STLS response read before its request
    // was missed (LDAP ignored the response, IMAP and POP3 could not
    // tie it to the command), so the upgrade was lost or the client's later
    // cleartext bind went unread.
    let fixtures = [
        "fixture ldap/starttls",
        "fixture ldap/starttls-rejected",
        "fixture imap/starttls-logindisabled",
        "fixture pop3/stls",
        "fixture smtp/starttls",
        "fixture smtp/x-anonymoustls-rewritten",
    ];
    let mut failures = Vec::new();
    for name in fixtures {
        let conversation = named(name).unwrap();
        let info = whole(conversation);
        assert!(info.upgrade.requested, "{name}: {info:?}");
        // The server's side whole, with the client's cut at each of its
        // bytes, and the other way round.
        for first in [Side::Responder, Side::Originator] {
            failures.extend(differing(
                conversation,
                one_side_first(conversation, first, usize::MAX),
            ));
        }
    }
    assert_none_differ(&failures);
}

#[test]
fn dns_tcp_first_message_cut_anywhere() {
    // Class: DNS over TCP with the two-byte length prefix or the first
    // message split over segments, alone or both sides interleaved.
    let dns: Vec<&Conversation> = conversations()
        .iter()
        .filter(|conversation| whole(conversation).app == App::Dns)
        .collect();
    assert!(dns.len() >= 3, "{} DNS over TCP conversations", dns.len());
    let mut failures = Vec::new();
    for conversation in dns {
        for side in [Side::Originator, Side::Responder] {
            let stream = conversation.stream(side);
            let first_message_len = match stream {
                [high, low, ..] => 2 + usize::from(u16::from_be_bytes([*high, *low])),
                _ => stream.len(),
            };
            failures.extend(differing(
                conversation,
                (1..first_message_len.min(stream.len()))
                    .map(|at| capture_order_cut_at(conversation, side, at)),
            ));
            failures.extend(differing(
                conversation,
                one_side_first(conversation, side, first_message_len),
            ));
        }
    }
    assert_none_differ(&failures);
}

#[test]
fn silent_side_may_still_name_protocol() {
    // Class: the first side's bytes were no protocol's, and the dissector
    // gave up before the other side spoke, whose bytes name the protocol.
    // Kerberos LDAP: the client's bytes are the tail of a request (the
    // capture starts mid-stream); the server's are LDAP. The IPv6 flow: the
    // capture contains the HTML response before the `GET` request.
    for (name, app) in [
        ("ndpi__kerberos.pcap 172.16.8.201:49179", App::Ldap),
        (
            "zeek__ipv6-http-atomic-frag.pcap 2001:db8:1::1:80",
            App::Http,
        ),
    ] {
        let Some(conversation) = named(name) else {
            continue;
        };
        assert_eq!(whole(conversation).app, app, "{name}");
        let failures = differing(conversation, [capture_order(conversation)]);
        assert_none_differ(&failures);
    }
}

#[test]
fn earlier_protocol_on_later_side_wins() {
    // Class: a client's HTTP request made HTTP win before the server's SSH
    // identification string arrived, though SSH comes first in the probe
    // order and wins when both sides are there.
    for name in [
        "zeek__http__http-to-ssh.pcap 127.0.0.1:40896",
        "zeek__http__get-to-ssh-server.pcap",
    ] {
        let Some(conversation) = named(name) else {
            continue;
        };
        assert_eq!(whole(conversation).app, App::Ssh, "{name}");
        let failures = differing(conversation, [capture_order(conversation)]);
        assert_none_differ(&failures);
    }
}

#[test]
fn evidence_waits_for_other_side() {
    // Class: the dissector was done before the other side's probe was sure,
    // so `app_evidence` was one_side where the whole streams give both. The
    // h2c client's preface ended parsing at once; TLS application data with
    // no handshake ended it after one record of each side.
    let mut checked = Vec::new();
    for name in [
        "fixture http/h2c-prior-knowledge",
        "ndpi__whatsapp_login_call.pcap 192.168.2.4:49199",
    ] {
        let Some(conversation) = named(name) else {
            continue;
        };
        let expected = whole(conversation);
        assert_eq!(expected.evidence, AppEvidence::Both, "{name}");
        let got = replay(conversation, &capture_order(conversation));
        assert_eq!(got.evidence, AppEvidence::Both, "{name}");
        checked.push(name);
    }
    assert!(!checked.is_empty());
}

/// Replays one random schedule of the conversation `pick` selects and
/// compares it with the whole delivery.
fn check_random_schedule(
    pick: prop::sample::Index,
    choices: &[u8],
    causal: bool,
) -> Result<(), TestCaseError> {
    let all = conversations();
    let conversation = &all[pick.index(all.len())];
    let expected = whole(conversation);
    let mut choices = Choices {
        bytes: choices,
        next: 0,
    };
    let schedule = random_schedule(conversation, &mut choices, causal);
    let got = replay(conversation, &schedule);
    prop_assert!(
        got == expected,
        "{}",
        describe(conversation, &schedule, &expected, &got)
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: PROPTEST_CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_segmentation_matches_whole(
        pick in any::<prop::sample::Index>(),
        choices in prop::collection::vec(any::<u8>(), 0..48),
    ) {
        check_random_schedule(pick, &choices, true)?;
    }

    #[test]
    fn random_lagging_side_matches_whole(
        pick in any::<prop::sample::Index>(),
        choices in prop::collection::vec(any::<u8>(), 0..48),
    ) {
        // Either side may lag behind the other by any amount (see
        // `each_side_first_matches_whole`), so any merge of the pieces counts.
        check_random_schedule(pick, &choices, false)?;
    }
}
