//! The flow table: finds each packet's flow, keeps its counters and TCP state,
//! feeds its payload to the flow's dissector, and hands out a [`FinishedFlow`]
//! when the flow closes, times out, is evicted or the input ends.
//!
//! Capture time drives every timer, never the wall clock. Idle timeouts count
//! on the input clock ([`Packet::input_clock`], the latest capture time read
//! so far), which never goes backwards and which every packet carries, so a
//! flow's fate depends only on its own packets and the clock they carry. An
//! idle timeout is applied when [`FlowTable::expire`] runs or, at the latest,
//! when the flow's next packet arrives. So the records are the same however
//! often `expire` is called and however flows are spread over tables
//! (threads), also when capture times go backwards. The caps are the
//! exception: which flow a full table evicts depends on the other flows in it.
//!
//! Memory is bounded: at most [`FlowConfig::max_flows`] flows, and at most
//! [`FlowConfig::reassembly_memory_cap`] bytes of stream buffers. Over a cap the
//! flow idle the longest is evicted, found in O(1) at the front of a list kept
//! in order of last activity (one list per timeout class, so that the front of
//! each list is also the next flow to time out).

use std::time::Duration;

use crate::capture::Timestamp;
use crate::decode::{Packet, Transport, VlanIds};
use crate::fingerprint::{App, AppInfo, Dissector, Progress, Side};
use crate::flow::duplicate::{DuplicateWindow, frame_signature};
use crate::flow::index::FlowIndex;
use crate::flow::key::FlowKey;
use crate::flow::lru::{Link, List};
use crate::flow::reassembly::StreamReassembler;
use crate::flow::tcp::TcpState;
use crate::flow::{ConnState, DirectionCounters, DirectionEvidence, EndReason, FinishedFlow};

/// Default cap on flows held at once. A flow takes 284 bytes in the table before
/// it carries payload ([`FlowTable::bytes_per_flow`]), so a full default table
/// needs about 135 MiB plus the index's spare slots.
pub const DEFAULT_MAX_FLOWS: usize = 500_000;
/// Default bytes kept per direction for the fingerprints.
pub const DEFAULT_REASSEMBLY_BUDGET: usize = 16 * 1024;
/// Default cap on stream buffer bytes over all flows, sized so that all
/// default caps together stay under 512 MiB (their sum is in docs/SECURITY.md).
pub const DEFAULT_REASSEMBLY_MEMORY_CAP: usize = 192 * 1024 * 1024;
/// Default idle timeout of an established or mid-stream TCP flow (Zeek's
/// `tcp_inactivity_timeout`).
pub const DEFAULT_TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Default idle timeout of a TCP connection attempt (a SYN with no reply). It
/// exceeds the longest pause between SYN retransmissions on Linux, whose initial
/// 1 s timeout doubles up to 32 s over its default six retries.
pub const DEFAULT_TCP_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time a closed TCP flow (FIN both ways, or RST) stays, so that late
/// ACKs and retransmitted FINs count in the same flow.
pub const DEFAULT_TCP_CLOSE_LINGER: Duration = Duration::from_secs(2);
/// Default idle timeout of a UDP flow (Zeek's `udp_inactivity_timeout`).
pub const DEFAULT_UDP_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time a hole in a stream may stay open before it is given up and the
/// dissector gets `on_gap`. Retransmissions come after the retransmission timeout
/// (1 s minimum in RFC 6298 §2.4) and back off, so a second try falls within it.
pub const DEFAULT_GAP_TIMEOUT: Duration = Duration::from_secs(3);
/// Default window within which an identical frame counts as a duplicate.
pub const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_millis(2);

/// Settings of a [`FlowTable`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowConfig {
    /// Flows held at once; a new flow over the cap evicts the flow idle longest.
    /// At least 1.
    pub max_flows: usize,
    /// Bytes of each direction kept for the fingerprints.
    pub reassembly_budget: usize,
    /// Stream buffer bytes over all flows; over it, the flows idle longest that
    /// hold buffers are evicted.
    pub reassembly_memory_cap: usize,
    pub tcp_idle_timeout: Duration,
    pub tcp_attempt_timeout: Duration,
    pub tcp_close_linger: Duration,
    pub udp_idle_timeout: Duration,
    pub gap_timeout: Duration,
    /// Zero turns duplicate detection off.
    pub duplicate_window: Duration,
    /// Put VLAN ids in the flow key, so the same 5-tuple on two VLANs is two flows.
    pub vlan_in_key: bool,
    /// Keep reassembling each direction up to the budget after the dissector is
    /// done, so [`FlowTable::stream_prefixes`] shows whole prefixes. For tests
    /// and debugging: it costs the budget's memory for every flow with payload.
    pub keep_streams: bool,
}

impl Default for FlowConfig {
    fn default() -> FlowConfig {
        FlowConfig {
            max_flows: DEFAULT_MAX_FLOWS,
            reassembly_budget: DEFAULT_REASSEMBLY_BUDGET,
            reassembly_memory_cap: DEFAULT_REASSEMBLY_MEMORY_CAP,
            tcp_idle_timeout: DEFAULT_TCP_IDLE_TIMEOUT,
            tcp_attempt_timeout: DEFAULT_TCP_ATTEMPT_TIMEOUT,
            tcp_close_linger: DEFAULT_TCP_CLOSE_LINGER,
            udp_idle_timeout: DEFAULT_UDP_IDLE_TIMEOUT,
            gap_timeout: DEFAULT_GAP_TIMEOUT,
            duplicate_window: DEFAULT_DUPLICATE_WINDOW,
            vlan_in_key: false,
            keep_streams: false,
        }
    }
}

/// Flows finished, by [`EndReason`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndReasonCounts {
    pub closed: u64,
    pub idle_timeout: u64,
    pub evicted_table_full: u64,
    pub evicted_memory: u64,
    pub end_of_input: u64,
    pub port_reuse: u64,
}

impl EndReasonCounts {
    pub fn get(&self, reason: EndReason) -> u64 {
        match reason {
            EndReason::Closed => self.closed,
            EndReason::IdleTimeout => self.idle_timeout,
            EndReason::EvictedTableFull => self.evicted_table_full,
            EndReason::EvictedMemory => self.evicted_memory,
            EndReason::EndOfInput => self.end_of_input,
            EndReason::PortReuse => self.port_reuse,
        }
    }

    pub fn total(&self) -> u64 {
        EndReason::ALL.iter().map(|&reason| self.get(reason)).sum()
    }

    fn add(&mut self, reason: EndReason) {
        let count = match reason {
            EndReason::Closed => &mut self.closed,
            EndReason::IdleTimeout => &mut self.idle_timeout,
            EndReason::EvictedTableFull => &mut self.evicted_table_full,
            EndReason::EvictedMemory => &mut self.evicted_memory,
            EndReason::EndOfInput => &mut self.end_of_input,
            EndReason::PortReuse => &mut self.port_reuse,
        };
        *count += 1;
    }
}

/// Counters of a [`FlowTable`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    pub packets: u64,
    pub flows_created: u64,
    pub active: u64,
    pub peak_active: u64,
    /// Flows finished, by end reason; evictions are the `evicted_*` counts.
    pub finished: EndReasonCounts,
    /// Duplicated frames left out of the flows.
    pub duplicates: u64,
    /// Segments whose bytes differed from bytes already held at the same offsets.
    pub overlaps_differing: u64,
    /// Holes in streams given up (their bytes never seen).
    pub gaps: u64,
    /// Bytes lost in sequence gaps, over finished flows.
    pub missed_bytes: u64,
    /// RSTs judged out of window and ignored.
    pub rst_ignored: u64,
    /// Packets whose TCP or UDP checksum failed, not as a partial checksum,
    /// from a side that had sent a packet without a bad checksum: counted, and
    /// left out of the TCP state and the payload.
    pub bad_checksums_ignored: u64,
    /// TCP keep-alives (left out of the streams).
    pub keepalives: u64,
    /// Segments with payload beyond their sender's FIN.
    pub data_after_fin: u64,
    /// Times the memory cap refused a stream buffer the growth it needed because
    /// no other flow held buffers to evict.
    pub memory_refusals: u64,
    /// Stream buffer bytes allocated now.
    pub reassembly_bytes: u64,
    pub reassembly_bytes_peak: u64,
}

impl FlowStats {
    /// Returns the flows evicted by either cap.
    pub fn evictions(&self) -> u64 {
        self.finished.evicted_table_full + self.finished.evicted_memory
    }

    /// Adds the counters of another table, as when flows were sharded over
    /// several tables. Peaks add up too: the tables held their flows at once.
    pub fn merge(&mut self, other: &FlowStats) {
        self.packets += other.packets;
        self.flows_created += other.flows_created;
        self.active += other.active;
        self.peak_active += other.peak_active;
        let finished = &other.finished;
        self.finished.closed += finished.closed;
        self.finished.idle_timeout += finished.idle_timeout;
        self.finished.evicted_table_full += finished.evicted_table_full;
        self.finished.evicted_memory += finished.evicted_memory;
        self.finished.end_of_input += finished.end_of_input;
        self.finished.port_reuse += finished.port_reuse;
        self.duplicates += other.duplicates;
        self.overlaps_differing += other.overlaps_differing;
        self.gaps += other.gaps;
        self.missed_bytes += other.missed_bytes;
        self.rst_ignored += other.rst_ignored;
        self.bad_checksums_ignored += other.bad_checksums_ignored;
        self.keepalives += other.keepalives;
        self.data_after_fin += other.data_after_fin;
        self.memory_refusals += other.memory_refusals;
        self.reassembly_bytes += other.reassembly_bytes;
        self.reassembly_bytes_peak += other.reassembly_bytes_peak;
    }
}

/// Timeout classes; each has its own list in order of last activity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Class {
    TcpAttempt = 0,
    TcpOpen = 1,
    TcpClosed = 2,
    Udp = 3,
}

const CLASSES: usize = 4;

impl Class {
    /// Returns why a flow of this class ends when its timer runs out.
    fn timeout_reason(self) -> EndReason {
        match self {
            Class::TcpClosed => EndReason::Closed,
            _ => EndReason::IdleTimeout,
        }
    }
}

/// Payload state of a flow, allocated at its first payload.
#[derive(Debug)]
struct FlowPayload {
    /// `None` once the dissector returned `Done` and was finished.
    dissector: Option<Dissector>,
    /// The dissector's result once it was finished early.
    app: Option<AppInfo>,
    /// Indexed by [`Side::index`]; unused for UDP.
    streams: [StreamReassembler; 2],
}

impl FlowPayload {
    fn capacity(&self) -> usize {
        self.streams.iter().map(StreamReassembler::capacity).sum()
    }

    /// Finishes the dissector and frees the stream buffers; returns the bytes freed.
    fn finish_dissector(&mut self, keep_streams: bool) -> usize {
        if let Some(mut dissector) = self.dissector.take() {
            self.app = Some(dissector.finish());
        }
        if keep_streams {
            return 0;
        }
        self.streams
            .iter_mut()
            .map(StreamReassembler::release)
            .sum()
    }
}

/// One flow in the table. Sides are indexed by [`Side::index`].
#[derive(Debug)]
struct Flow {
    key: FlowKey,
    first_ts: Timestamp,
    last_ts: Timestamp,
    first_offset: u64,
    /// The input clock at the first packet.
    first_clock: Timestamp,
    /// The input clock at the latest packet, which the timeouts count from.
    last_clock: Timestamp,
    counters: [DirectionCounters; 2],
    tcp: TcpState,
    duplicate_window: DuplicateWindow,
    duplicates: u32,
    payload: Option<Box<FlowPayload>>,
    vlan: VlanIds,
    /// The originator (first sender) is the key's lower endpoint.
    originator_is_lo: bool,
    /// Per side: a packet without a bad checksum came from it.
    checksum_seen_good: [bool; 2],
    class: Class,
}

impl Flow {
    /// Returns true when the receiving host drops `pkt` but an offload
    /// capture does not explain it: its own checksum failed, and its side had
    /// sent a good one.
    fn rejects(&self, side: Side, pkt: &Packet<'_>) -> bool {
        pkt.transport_checksum_failed && self.checksum_seen_good[side.index()]
    }

    fn classify(&self) -> Class {
        match self.key.transport() {
            Transport::Udp => Class::Udp,
            Transport::Tcp if self.tcp.is_closed() => Class::TcpClosed,
            Transport::Tcp if self.tcp.is_attempt() => Class::TcpAttempt,
            Transport::Tcp => Class::TcpOpen,
        }
    }
}

/// Flow tracking over decoded packets. See the module documentation.
pub struct FlowTable {
    config: FlowConfig,
    timeouts: [i64; CLASSES],
    gap_timeout: i64,
    duplicate_window_us: u32,
    index: FlowIndex,
    slots: Vec<Option<Flow>>,
    /// Per slot: link 0 on its class list, link 1 on the memory list.
    links: Vec<[Link; 2]>,
    free: Vec<u32>,
    lists: [List; CLASSES],
    /// Flows that hold stream buffers, in order of last activity.
    memory_list: List,
    /// The slot of the flow created last.
    last_created: u32,
    stats: FlowStats,
}

impl FlowTable {
    pub fn new(config: FlowConfig) -> FlowTable {
        let mut config = config;
        config.max_flows = config.max_flows.clamp(1, u32::MAX as usize - 1);

        let timeouts = [
            nanos(config.tcp_attempt_timeout),
            nanos(config.tcp_idle_timeout),
            nanos(config.tcp_close_linger),
            nanos(config.udp_idle_timeout),
        ];
        let duplicate_window_us = config
            .duplicate_window
            .as_micros()
            .min(u32::MAX as u128 / 2) as u32;

        FlowTable {
            gap_timeout: nanos(config.gap_timeout),
            timeouts,
            duplicate_window_us,
            index: FlowIndex::new(),
            slots: Vec::new(),
            links: Vec::new(),
            free: Vec::new(),
            lists: [List::new(0), List::new(0), List::new(0), List::new(0)],
            memory_list: List::new(1),
            last_created: 0,
            stats: FlowStats::default(),
            config,
        }
    }

    pub fn config(&self) -> &FlowConfig {
        &self.config
    }

    pub fn stats(&self) -> &FlowStats {
        &self.stats
    }

    /// Returns the flows held now.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Returns the bytes one flow takes in the table before it carries payload:
    /// its slot, its list links and its index entry (key and slot number), not
    /// counting the hash map's spare capacity.
    pub fn bytes_per_flow() -> usize {
        std::mem::size_of::<Option<Flow>>()
            + std::mem::size_of::<[Link; 2]>()
            + FlowIndex::bytes_per_entry()
    }

    /// Adds a packet to its flow, creating the flow when needed. Flows that end
    /// on the way (a port reused, an idle timeout noticed, an eviction) are passed
    /// to `out`.
    pub fn process(&mut self, pkt: &Packet<'_>, out: &mut impl FnMut(FinishedFlow)) {
        self.stats.packets += 1;
        let (key, sender_is_lo) = FlowKey::from_packet(pkt, self.config.vlan_in_key);
        let mut slot = self.slot_of(&key);

        // A flow idle past its timeout ended before this packet, whether or not
        // `expire` ran in between.
        if let Some(existing) = slot {
            let flow = self.flow(existing);
            let class = flow.class;
            if pkt.input_clock.nanos_since(flow.last_clock) > self.timeouts[class as usize] {
                self.finish(existing, class.timeout_reason(), out);
                slot = None;
            }
        }

        if let Some(existing) = slot {
            let window_us = self.duplicate_window_us;
            let flow = self.flow_mut(existing);
            let side = FlowKey::side_of(sender_is_lo, flow.originator_is_lo);
            // A packet whose checksum fails differs from the frame it copies,
            // so it takes no part in the duplicate window: recorded, it would
            // hide the good frame that follows. Nor does it start a connection
            // when `update` is to leave it out.
            if window_us > 0
                && !pkt.transport_checksum_failed
                && flow.duplicate_window.check_and_record(
                    frame_signature(side, pkt),
                    pkt.ts,
                    window_us,
                )
            {
                flow.duplicates += 1;
                self.stats.duplicates += 1;
                return;
            }
            if pkt.transport == Transport::Tcp
                && !flow.rejects(side, pkt)
                && flow.tcp.starts_new_connection(side, pkt)
            {
                let reason = if flow.tcp.is_closed() {
                    EndReason::Closed
                } else {
                    EndReason::PortReuse
                };
                self.finish(existing, reason, out);
                slot = None;
            }
        }

        let slot = match slot {
            Some(existing) => existing,
            None => self.create(key, sender_is_lo, pkt, out),
        };
        self.update(slot, sender_is_lo, pkt, out);
    }

    /// Ends every flow idle past its timeout at capture time `now`.
    pub fn expire(&mut self, now: Timestamp, out: &mut impl FnMut(FinishedFlow)) {
        for class in [
            Class::TcpAttempt,
            Class::TcpOpen,
            Class::TcpClosed,
            Class::Udp,
        ] {
            let timeout = self.timeouts[class as usize];
            while let Some(head) = self.lists[class as usize].front() {
                if now.nanos_since(self.flow(head).last_clock) <= timeout {
                    break;
                }
                self.finish(head, class.timeout_reason(), out);
            }
        }
    }

    /// Ends every flow at the end of the input, the longest idle first. A closed
    /// TCP flow ends as [`EndReason::Closed`], any other as
    /// [`EndReason::EndOfInput`]. Call [`FlowTable::expire`] with the input's
    /// last timestamp first to end timed-out flows as such.
    pub fn flush(&mut self, out: &mut impl FnMut(FinishedFlow)) {
        while let Some(slot) = self.longest_idle() {
            let reason = match self.flow(slot).class {
                Class::TcpClosed => EndReason::Closed,
                _ => EndReason::EndOfInput,
            };
            self.finish(slot, reason, out);
        }
    }

    /// Returns the in-order bytes held for the flow of `pkt`, indexed by
    /// [`Side::index`], for tests and debugging. `None` when the flow is not in
    /// the table or holds no payload state.
    pub fn stream_prefixes(&self, pkt: &Packet<'_>) -> Option<[&[u8]; 2]> {
        let (key, _) = FlowKey::from_packet(pkt, self.config.vlan_in_key);
        let slot = self.slot_of(&key)?;
        let payload = self.flow(slot).payload.as_deref()?;
        Some([payload.streams[0].prefix(), payload.streams[1].prefix()])
    }

    /// Returns the flow `pkt` belongs to, when the table contains it.
    pub fn open_flow(&self, pkt: &Packet<'_>) -> Option<OpenFlow<'_>> {
        let (key, _) = FlowKey::from_packet(pkt, self.config.vlan_in_key);
        self.open_flow_by_key(&key)
    }

    /// Returns the flow with this key, when the table contains it.
    pub fn open_flow_by_key(&self, key: &FlowKey) -> Option<OpenFlow<'_>> {
        let slot = self.slot_of(key)?;
        Some(OpenFlow {
            flow: self.flow(slot),
        })
    }

    /// Returns every flow the table holds, in no particular order.
    pub fn open_flows(&self) -> impl Iterator<Item = OpenFlow<'_>> {
        self.slots.iter().flatten().map(|flow| OpenFlow { flow })
    }

    /// Returns the slot of the flow created last.
    pub fn last_created(&self) -> u32 {
        self.last_created
    }

    /// Returns true when `slot` still contains the flow whose first packet is
    /// at `first_offset` in the input.
    pub fn is_open(&self, slot: u32, first_offset: u64) -> bool {
        self.slots
            .get(slot as usize)
            .and_then(Option::as_ref)
            .is_some_and(|flow| flow.first_offset == first_offset)
    }

    fn flow(&self, slot: u32) -> &Flow {
        self.slots[slot as usize]
            .as_ref()
            .expect("a linked or indexed slot holds a flow")
    }

    fn flow_mut(&mut self, slot: u32) -> &mut Flow {
        self.slots[slot as usize]
            .as_mut()
            .expect("a linked or indexed slot holds a flow")
    }

    /// Returns the flow idle the longest: the oldest front of the class lists.
    fn longest_idle(&self) -> Option<u32> {
        self.lists
            .iter()
            .filter_map(List::front)
            .min_by_key(|&slot| self.flow(slot).last_clock)
    }

    /// Returns the slot of the open flow with `key`.
    fn slot_of(&self, key: &FlowKey) -> Option<u32> {
        self.index.get(key, |slot| key_in(&self.slots, slot))
    }

    fn create(
        &mut self,
        key: FlowKey,
        sender_is_lo: bool,
        pkt: &Packet<'_>,
        out: &mut impl FnMut(FinishedFlow),
    ) -> u32 {
        if self.index.len() >= self.config.max_flows
            && let Some(victim) = self.longest_idle()
        {
            self.finish(victim, EndReason::EvictedTableFull, out);
        }

        let mut flow = Flow {
            key,
            first_ts: pkt.ts,
            last_ts: pkt.ts,
            first_offset: pkt.offset,
            first_clock: pkt.input_clock,
            last_clock: pkt.input_clock,
            counters: [DirectionCounters::default(); 2],
            tcp: TcpState::default(),
            duplicate_window: DuplicateWindow::default(),
            duplicates: 0,
            payload: None,
            vlan: pkt.vlan,
            originator_is_lo: sender_is_lo,
            checksum_seen_good: [false; 2],
            class: match pkt.transport {
                Transport::Tcp => Class::TcpOpen,
                Transport::Udp => Class::Udp,
            },
        };
        if self.duplicate_window_us > 0 {
            let signature = frame_signature(Side::Originator, pkt);
            flow.duplicate_window
                .check_and_record(signature, pkt.ts, self.duplicate_window_us);
        }

        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(flow);
                slot
            }
            None => {
                self.slots.push(Some(flow));
                self.links.push([Link::UNLINKED; 2]);
                (self.slots.len() - 1) as u32
            }
        };
        let class = self.flow(slot).class as usize;
        self.lists[class].push_back(&mut self.links, slot);
        let slots = &self.slots;
        self.index.insert(&key, slot, |slot| key_in(slots, slot));

        self.last_created = slot;
        self.stats.flows_created += 1;
        self.stats.active += 1;
        self.stats.peak_active = self.stats.peak_active.max(self.stats.active);
        slot
    }

    fn update(
        &mut self,
        slot: u32,
        sender_is_lo: bool,
        pkt: &Packet<'_>,
        out: &mut impl FnMut(FinishedFlow),
    ) {
        let flow = self.flow_mut(slot);
        let side = FlowKey::side_of(sender_is_lo, flow.originator_is_lo);
        flow.last_ts = flow.last_ts.max(pkt.ts);
        flow.last_clock = pkt.input_clock;
        let counters = &mut flow.counters[side.index()];
        counters.packets += 1;
        counters.bytes += u64::from(pkt.ip_len);
        counters.payload_bytes += u64::from(pkt.payload_len);
        if flow.vlan.is_empty() {
            flow.vlan = pkt.vlan;
        }

        // The receiving host drops a packet whose TCP or UDP checksum fails,
        // so a crafted one (an insertion) must not decide the protocol or the
        // TCP state. Captures on a host with checksum offload show failed
        // checksums too: the decoder excuses partial ones, and a side that
        // never sent a good checksum is taken for such a host.
        // NOTE: a crafted packet with a partial checksum is still used.
        if !pkt.bad_checksum {
            flow.checksum_seen_good[side.index()] = true;
        } else if flow.rejects(side, pkt) {
            self.stats.bad_checksums_ignored += 1;
            self.touch(slot);
            return;
        }

        // Most recent last: the memory list's front is the flow to evict first.
        if self.memory_list.contains(&self.links, slot) {
            self.memory_list.remove(&mut self.links, slot);
            self.memory_list.push_back(&mut self.links, slot);
        }

        let captured = &pkt.payload[..pkt.payload.len().min(pkt.payload_len as usize)];
        match pkt.transport {
            Transport::Tcp => self.update_tcp(slot, side, pkt, captured, out),
            Transport::Udp => self.update_udp(slot, side, captured),
        }
        self.touch(slot);
    }

    fn update_tcp(
        &mut self,
        slot: u32,
        side: Side,
        pkt: &Packet<'_>,
        captured: &[u8],
        out: &mut impl FnMut(FinishedFlow),
    ) {
        let budget = self.config.reassembly_budget;
        let flow = self.flow_mut(slot);
        let action = flow.tcp.update(side, pkt);
        let (rst_ignored, keepalive, after_fin) =
            (action.rst_ignored, action.keepalive, action.data_after_fin);
        self.stats.rst_ignored += u64::from(rst_ignored);
        self.stats.keepalives += u64::from(keepalive);
        self.stats.data_after_fin += u64::from(after_fin);

        let flow = self.flow_mut(slot);
        if flow.payload.is_none() {
            if !action.reassemble {
                return;
            }
            let ports = flow.key.ports_by_side(flow.originator_is_lo);
            let hint = flow.tcp.handshake_client().map(|(client, _)| client);
            flow.payload = Some(Box::new(FlowPayload {
                dissector: Some(Dissector::new(Transport::Tcp, ports, hint)),
                app: None,
                streams: [
                    StreamReassembler::new(budget),
                    StreamReassembler::new(budget),
                ],
            }));
        }
        let Flow { tcp, payload, .. } = flow;
        let Some(payload) = payload.as_deref_mut() else {
            return;
        };

        let mut gaps = 0;
        for stream_side in [Side::Originator, Side::Responder] {
            if let Some(base) = tcp.stream_base(stream_side) {
                payload.streams[stream_side.index()].set_base(base);
            }
        }
        let stream = &mut payload.streams[side.index()];
        if let Some(base) = action.rebase {
            stream.rebase(base);
        }
        if let Some(fin_seq) = action.fin_seq {
            stream.set_fin(fin_seq);
        }
        if let Some(ack) = action.ack {
            gaps += payload.streams[side.other().index()].on_peer_ack(ack, pkt.ts);
        }

        let mut prefix_grew = false;
        if action.reassemble {
            let stream = &payload.streams[side.index()];
            let current = stream.capacity();
            let wanted = stream.wanted_capacity(action.data_seq, pkt.payload_len);
            let granted = self.reserve(slot, current, wanted, out);

            let flow = self.flow_mut(slot);
            let Some(payload) = flow.payload.as_deref_mut() else {
                return;
            };
            let stream = &mut payload.streams[side.index()];
            let outcome =
                stream.insert(action.data_seq, captured, pkt.payload_len, pkt.ts, granted);
            let grown = stream.capacity().saturating_sub(current);
            gaps += outcome.gaps;
            prefix_grew = outcome.prefix_grew;
            self.stats.overlaps_differing += u64::from(outcome.overlap_differs);
            self.add_reassembly_bytes(grown);
            if grown > 0 && !self.memory_list.contains(&self.links, slot) {
                self.memory_list.push_back(&mut self.links, slot);
            }
        }

        let gap_timeout = self.gap_timeout;
        let keep_streams = self.config.keep_streams;
        let flow = self.flow_mut(slot);
        let Some(payload) = flow.payload.as_deref_mut() else {
            return;
        };
        for stream in &mut payload.streams {
            gaps += stream.check_hole_timeout(pkt.ts, gap_timeout);
        }
        let freed = feed_dissector(payload, prefix_grew, keep_streams);
        self.stats.gaps += u64::from(gaps);
        if freed > 0 {
            self.release_reassembly_bytes(freed);
            self.memory_list.remove(&mut self.links, slot);
        }
    }

    fn update_udp(&mut self, slot: u32, side: Side, captured: &[u8]) {
        let flow = self.flow_mut(slot);
        if captured.is_empty() {
            return;
        }
        let payload = flow.payload.get_or_insert_with(|| {
            let ports = flow.key.ports_by_side(flow.originator_is_lo);
            Box::new(FlowPayload {
                dissector: Some(Dissector::new(Transport::Udp, ports, None)),
                app: None,
                streams: [StreamReassembler::new(0), StreamReassembler::new(0)],
            })
        });
        if let Some(dissector) = payload.dissector.as_mut()
            && dissector.on_datagram(side, captured) == Progress::Done
        {
            payload.finish_dissector(false);
        }
    }

    /// Grants a stream buffer growth from `current` to `wanted` bytes, evicting
    /// the flows idle longest that hold buffers (never `slot` itself) while the
    /// memory cap would be exceeded. Returns the capacity granted.
    fn reserve(
        &mut self,
        slot: u32,
        current: usize,
        wanted: usize,
        out: &mut impl FnMut(FinishedFlow),
    ) -> usize {
        if wanted <= current {
            return current;
        }
        let extra = (wanted - current) as u64;
        let cap = self.config.reassembly_memory_cap as u64;
        while self.stats.reassembly_bytes + extra > cap {
            match self.memory_list.front() {
                Some(victim) if victim != slot => {
                    self.finish(victim, EndReason::EvictedMemory, out)
                }
                _ => break,
            }
        }
        if self.stats.reassembly_bytes + extra <= cap {
            wanted
        } else {
            self.stats.memory_refusals += 1;
            current
        }
    }

    fn add_reassembly_bytes(&mut self, bytes: usize) {
        self.stats.reassembly_bytes += bytes as u64;
        self.stats.reassembly_bytes_peak = self
            .stats
            .reassembly_bytes_peak
            .max(self.stats.reassembly_bytes);
    }

    fn release_reassembly_bytes(&mut self, bytes: usize) {
        self.stats.reassembly_bytes = self.stats.reassembly_bytes.saturating_sub(bytes as u64);
    }

    /// Moves the flow to the back of its (possibly new) class list.
    fn touch(&mut self, slot: u32) {
        let flow = self.flow(slot);
        let (old, new) = (flow.class, flow.classify());
        self.lists[old as usize].remove(&mut self.links, slot);
        self.lists[new as usize].push_back(&mut self.links, slot);
        self.flow_mut(slot).class = new;
    }

    fn finish(&mut self, slot: u32, reason: EndReason, out: &mut impl FnMut(FinishedFlow)) {
        let Some(flow) = self.slots[slot as usize].take() else {
            return;
        };
        self.lists[flow.class as usize].remove(&mut self.links, slot);
        self.memory_list.remove(&mut self.links, slot);
        self.index.remove(&flow.key, slot);
        self.free.push(slot);
        self.stats.active -= 1;
        self.stats.finished.add(reason);

        let record = self.build_record(flow, reason);
        self.stats.missed_bytes += record.missed_bytes;
        out(record);
    }

    fn build_record(&mut self, mut flow: Flow, reason: EndReason) -> FinishedFlow {
        let transport = flow.key.transport();
        let sides = [Side::Originator, Side::Responder];
        let mut missed = 0;
        let app = match flow.payload.take() {
            Some(mut payload) => {
                self.release_reassembly_bytes(payload.capacity());
                if transport == Transport::Tcp {
                    let mut gaps = 0;
                    for side in sides {
                        let stream = &mut payload.streams[side.index()];
                        if let Some(base) = flow.tcp.stream_base(side) {
                            stream.set_base(base);
                        }
                        if let Some(ack) = flow.tcp.max_ack(side.other()) {
                            gaps += stream.on_peer_ack(ack, flow.last_ts);
                        }
                        gaps += stream.close();
                        missed += stream.missed();
                    }
                    self.stats.gaps += u64::from(gaps);
                }
                match payload.dissector.take() {
                    Some(mut dissector) => {
                        for side in sides {
                            if payload.streams[side.index()].take_gap_event() {
                                dissector.on_gap(side);
                            }
                        }
                        dissector.finish()
                    }
                    None => payload.app.take().unwrap_or_default(),
                }
            }
            None => {
                if transport == Transport::Tcp {
                    missed = sides.iter().map(|&side| flow.tcp.acked_unseen(side)).sum();
                }
                AppInfo::default()
            }
        };

        assemble_record(&flow, app, missed, reason)
    }
}

/// Orients a flow client to server and builds its [`FinishedFlow`] from the
/// flow's state and what its dissector learned.
fn assemble_record(flow: &Flow, app: AppInfo, missed: u64, reason: EndReason) -> FinishedFlow {
    let transport = flow.key.transport();
    let (client_side, direction_evidence) = client_side(flow, &app);
    let client_is_lo = (client_side == Side::Originator) == flow.originator_is_lo;
    let (client_ip, client_port) = flow.key.endpoint(client_is_lo);
    let (server_ip, server_port) = flow.key.endpoint(!client_is_lo);
    let conn_state = match transport {
        Transport::Tcp => flow.tcp.conn_state(),
        // UDP has no handshake; as Zeek does, a flow answered by the other
        // side is SF, a one-way flow S0.
        Transport::Udp if flow.counters.iter().all(|c| c.packets > 0) => ConnState::Sf,
        Transport::Udp => ConnState::S0,
    };

    FinishedFlow {
        transport,
        ip_version: flow.key.ip_version(),
        client: (client_ip, client_port).into(),
        server: (server_ip, server_port).into(),
        direction_evidence,
        conn_state,
        vlan: flow.vlan,
        ts_start: flow.first_ts,
        ts_end: flow.last_ts,
        to_server: flow.counters[client_side.index()],
        to_client: flow.counters[client_side.other().index()],
        missed_bytes: missed,
        app,
        end: reason,
        first_offset: flow.first_offset,
        start_clock: flow.first_clock,
        duplicates: u64::from(flow.duplicates),
    }
}

/// A flow still in the table, read without changing it. Live capture uses it to
/// report a flow before the flow ends.
#[derive(Clone, Copy)]
pub struct OpenFlow<'t> {
    flow: &'t Flow,
}

impl OpenFlow<'_> {
    pub fn key(&self) -> FlowKey {
        self.flow.key
    }

    /// Returns the offset of the flow's first packet, which is also the
    /// finished flow's [`FinishedFlow::first_offset`].
    pub fn first_offset(&self) -> u64 {
        self.flow.first_offset
    }

    pub fn ts_start(&self) -> Timestamp {
        self.flow.first_ts
    }

    /// Returns the packets counted in both directions (duplicates left out).
    pub fn packets(&self) -> u64 {
        self.flow.counters.iter().map(|side| side.packets).sum()
    }

    /// Returns true once either side sent transport payload.
    pub fn has_payload(&self) -> bool {
        self.flow.counters.iter().any(|side| side.payload_bytes > 0)
    }

    /// Returns the protocol the payload named so far: [`App::None`] while the
    /// probes are still unsure, [`App::Unknown`] once every probe gave up.
    pub fn app(&self) -> App {
        match self.flow.payload.as_deref() {
            None => App::None,
            Some(FlowPayload {
                dissector: Some(dissector),
                ..
            }) => dissector.app(),
            Some(payload) => payload.app.as_ref().map_or(App::None, |info| info.app),
        }
    }

    /// Returns true when the dissector has finished, so the flow's protocol
    /// and its fields no longer change.
    pub fn app_settled(&self) -> bool {
        self.flow
            .payload
            .as_deref()
            .is_some_and(|payload| payload.dissector.is_none())
    }

    /// Returns the flow as its record would show it if the flow ended now,
    /// without ending it. `end` is [`EndReason::EndOfInput`]; `app` is `none`
    /// while the probes are unsure (see [`Dissector::snapshot`]); `missed_bytes`
    /// counts only the gaps already given up.
    pub fn snapshot(&self) -> FinishedFlow {
        let flow = self.flow;
        let tcp = flow.key.transport() == Transport::Tcp;
        let sides = [Side::Originator, Side::Responder];
        let (app, missed) = match flow.payload.as_deref() {
            Some(payload) => {
                let app = match &payload.dissector {
                    Some(dissector) => dissector.snapshot(),
                    None => payload.app.clone().unwrap_or_default(),
                };
                let missed = if tcp {
                    payload.streams.iter().map(StreamReassembler::missed).sum()
                } else {
                    0
                };
                (app, missed)
            }
            None => {
                let missed = if tcp {
                    sides.iter().map(|&side| flow.tcp.acked_unseen(side)).sum()
                } else {
                    0
                };
                (AppInfo::default(), missed)
            }
        };
        assemble_record(flow, app, missed, EndReason::EndOfInput)
    }
}

/// Passes the streams' new bytes and gaps to the dissector. Returns the buffer
/// bytes freed when the dissector is done.
fn feed_dissector(payload: &mut FlowPayload, prefix_grew: bool, keep_streams: bool) -> usize {
    let Some(dissector) = payload.dissector.as_mut() else {
        return 0;
    };
    let [originator, responder] = &mut payload.streams;

    let mut progress = Progress::NeedMore;
    if prefix_grew {
        progress = dissector.on_stream(originator.prefix(), responder.prefix());
    }
    if originator.take_gap_event() {
        dissector.on_gap(Side::Originator);
    }
    if responder.take_gap_event() {
        dissector.on_gap(Side::Responder);
    }

    if progress == Progress::Done {
        payload.finish_dissector(keep_streams)
    } else {
        0
    }
}

/// Decides the client side of a finished flow and what showed it.
fn client_side(flow: &Flow, app: &AppInfo) -> (Side, DirectionEvidence) {
    match flow.key.transport() {
        Transport::Tcp => flow
            .tcp
            .handshake_client()
            .or_else(|| {
                app.server_side
                    .map(|server| (server.other(), DirectionEvidence::Payload))
            })
            .unwrap_or_else(|| client_by_port(flow.key.ports_by_side(flow.originator_is_lo))),
        Transport::Udp => match app.server_side {
            Some(Side::Originator) => (Side::Responder, DirectionEvidence::Payload),
            _ => (Side::Originator, DirectionEvidence::FirstPacket),
        },
    }
}

/// Service ports of 1024 and above that Exchange sites use: LDAP and LDAPS to
/// the global catalog, EdgeSync's LDAPS, and HTTP proxies.
const REGISTERED_SERVICE_PORTS: [u16; 5] = [3268, 3269, 8080, 8443, 50636];

fn is_service_port(port: u16) -> bool {
    port < 1024 || REGISTERED_SERVICE_PORTS.contains(&port)
}

/// Decides the client side from the ports, indexed by [`Side::index`]: a
/// service port (below 1024, or a listed one) against any other marks the
/// server, else the lower port. Equal ports leave the first sender as client.
fn client_by_port(ports: [u16; 2]) -> (Side, DirectionEvidence) {
    let [originator, responder] = ports;
    let by_port = |client| (client, DirectionEvidence::Port);
    match (is_service_port(originator), is_service_port(responder)) {
        (false, true) => by_port(Side::Originator),
        (true, false) => by_port(Side::Responder),
        _ if responder < originator => by_port(Side::Originator),
        _ if originator < responder => by_port(Side::Responder),
        _ => (Side::Originator, DirectionEvidence::FirstPacket),
    }
}

/// Returns the key of the flow in `slot`, when the slot contains one.
fn key_in(slots: &[Option<Flow>], slot: u32) -> Option<&FlowKey> {
    slots.get(slot as usize)?.as_ref().map(|flow| &flow.key)
}

fn nanos(duration: Duration) -> i64 {
    duration.as_nanos().min(i64::MAX as u128) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_entry_size() {
        // The per-flow cost before any payload is 250 bytes, padded to 256 for
        // the key's 16-byte alignment. That is the key 48, timestamps, clocks
        // and offset 40, counters 48, TCP state 52, duplicate window 40, and 22
        // for the payload box pointer, duplicate count, VLAN ids and four flags.
        // A flow with payload adds its boxed dissector and two reassemblers.
        assert_eq!(std::mem::size_of::<Flow>(), 256);
        // Plus two list links (12 bytes each) and the index entry, a slot
        // number: the key stays in the slot.
        assert_eq!(FlowTable::bytes_per_flow(), 256 + 24 + 4);
    }

    #[test]
    fn client_by_port_rules() {
        assert_eq!(client_by_port([51234, 25]).0, Side::Originator);
        assert_eq!(client_by_port([443, 51234]).0, Side::Responder);
        assert_eq!(client_by_port([50000, 3268]).0, Side::Originator);
        assert_eq!(client_by_port([2000, 3000]).0, Side::Responder);
        assert_eq!(client_by_port([3000, 2000]).0, Side::Originator);
        assert_eq!(
            client_by_port([53, 53]),
            (Side::Originator, DirectionEvidence::FirstPacket)
        );
    }
}
