//! One worker's stages: frames through the decoder and the flow table into
//! finished flows. The single-threaded path runs one engine over a whole input;
//! the sharded path runs one per worker thread.

use crate::capture::{Frame, Timestamp};
use crate::decode::{Decoded, Decoder, DecoderConfig, Packet};
use crate::flow::{FinishedFlow, FlowConfig, FlowTable};

/// How often, in capture time, the engine runs the flow table's timeouts.
/// Records do not depend on it (a flow's timeout is also checked at its next
/// packet); it only bounds how long idle flows hold memory.
const EXPIRE_INTERVAL_NANOS: i64 = 1_000_000_000;

/// A predicate that keeps a packet away from flow tracking when it returns false.
pub type PacketFilter<'a> = dyn Fn(&Packet<'_>) -> bool + Sync + 'a;

/// Counters of packets the filter or the decoder kept away from the flow table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineCounters {
    /// Packets the `--filter` expression rejected.
    pub filtered_out: u64,
}

/// The flow-tracking half of a worker: flow table, filter and timers.
pub struct FlowStage<'f> {
    table: FlowTable,
    filter: Option<&'f PacketFilter<'f>>,
    counters: EngineCounters,
    /// The input clock of the latest packet: the latest capture time of the
    /// input so far, so timers never run backwards.
    clock: Timestamp,
    last_expire: Timestamp,
    started: bool,
}

impl<'f> FlowStage<'f> {
    pub fn new(config: FlowConfig, filter: Option<&'f PacketFilter<'f>>) -> FlowStage<'f> {
        FlowStage {
            table: FlowTable::new(config),
            filter,
            counters: EngineCounters::default(),
            clock: Timestamp::default(),
            last_expire: Timestamp::default(),
            started: false,
        }
    }

    /// Tracks one decoded packet; flows that end are passed to `out`.
    pub fn on_packet(&mut self, packet: &Packet<'_>, out: &mut impl FnMut(FinishedFlow)) {
        if let Some(filter) = self.filter
            && !filter(packet)
        {
            self.counters.filtered_out += 1;
            return;
        }
        self.advance_clock(packet.input_clock, out);
        self.table.process(packet, out);
    }

    /// Advances capture time to `now` with no packet, running the timeouts when
    /// they are due. Live capture calls it while the link is quiet, so that idle
    /// flows still end. Before the first packet it does nothing.
    pub fn advance_to(&mut self, now: Timestamp, out: &mut impl FnMut(FinishedFlow)) {
        if self.started {
            self.advance_clock(now, out);
        }
    }

    /// Returns the latest capture time seen, or `None` before the first packet.
    pub fn clock(&self) -> Option<Timestamp> {
        self.started.then_some(self.clock)
    }

    fn advance_clock(&mut self, ts: Timestamp, out: &mut impl FnMut(FinishedFlow)) {
        if !self.started {
            self.started = true;
            self.clock = ts;
            self.last_expire = ts;
            return;
        }
        if ts > self.clock {
            self.clock = ts;
        }
        if self.clock.nanos_since(self.last_expire) >= EXPIRE_INTERVAL_NANOS {
            self.last_expire = self.clock;
            self.table.expire(self.clock, out);
        }
    }

    /// Ends the input: flows past their timeout end as timed out, every other
    /// flow as still open.
    pub fn finish(&mut self, out: &mut impl FnMut(FinishedFlow)) {
        if self.started {
            self.table.expire(self.clock, out);
        }
        self.table.flush(out);
    }

    pub fn table(&self) -> &FlowTable {
        &self.table
    }

    pub fn counters(&self) -> EngineCounters {
        self.counters
    }
}

/// A single-threaded engine: decoder and flow stage together.
pub struct Engine<'f> {
    decoder: Decoder,
    flows: FlowStage<'f>,
}

impl<'f> Engine<'f> {
    pub fn new(
        decoder: DecoderConfig,
        flows: FlowConfig,
        filter: Option<&'f PacketFilter<'f>>,
    ) -> Engine<'f> {
        Engine {
            decoder: Decoder::new(decoder),
            flows: FlowStage::new(flows, filter),
        }
    }

    /// Decodes and tracks one frame.
    pub fn on_frame(&mut self, frame: &Frame<'_>, out: &mut impl FnMut(FinishedFlow)) {
        self.on_frame_inspect(frame, out, |_, _| {});
    }

    /// Decodes and tracks one frame, then passes the flow stage and the packet
    /// it tracked to `inspect`, which is not called when the frame gave no
    /// packet.
    pub fn on_frame_inspect(
        &mut self,
        frame: &Frame<'_>,
        out: &mut impl FnMut(FinishedFlow),
        inspect: impl FnOnce(&FlowStage<'f>, &Packet<'_>),
    ) {
        match self.decoder.decode(frame) {
            Decoded::Packet(packet) => {
                self.flows.on_packet(&packet, out);
                inspect(&self.flows, &packet);
            }
            Decoded::Datagram(datagram) => {
                let packet = datagram.packet();
                self.flows.on_packet(&packet, out);
                inspect(&self.flows, &packet);
            }
            Decoded::Error(error) => log::debug!("decode: {error}"),
            Decoded::Held | Decoded::Skipped(_) => {}
        }
    }

    /// Advances capture time to `now` with no packet: fragments and flows
    /// whose timeouts passed are dropped or ended.
    pub fn advance_to(&mut self, now: Timestamp, out: &mut impl FnMut(FinishedFlow)) {
        if self.flows.started {
            self.decoder.expire(now);
        }
        self.flows.advance_to(now, out);
    }

    /// Ends the input. Fragments expire on the input clock, as with worker
    /// threads, so that packets the filter dropped still count.
    pub fn finish(&mut self, out: &mut impl FnMut(FinishedFlow)) {
        self.decoder.expire(self.decoder.input_clock());
        self.flows.finish(out);
    }

    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    pub fn flows(&self) -> &FlowStage<'f> {
        &self.flows
    }
}
