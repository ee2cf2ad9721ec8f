//! TCP state of one flow as a passive observer sees it: the handshake, FIN
//! teardown, RST, the connection state of the record, and which side is the
//! client.
//!
//! Sides are indexed by [`Side::index`]: the originator sent the flow's first
//! packet, which need not be the client.

use crate::decode::Packet;
use crate::fingerprint::Side;
use crate::flow::{ConnState, DirectionEvidence};

/// The side sent a SYN without ACK.
const SENT_SYN: u8 = 1 << 0;
/// The side sent a SYN-ACK.
const SENT_SYN_ACK: u8 = 1 << 1;
/// The side sent a FIN.
const SENT_FIN: u8 = 1 << 2;
/// The side sent a RST that was taken as a teardown.
const SENT_RST: u8 = 1 << 3;
/// `next_seq` and `base` hold the side's sequence numbers: it sent a packet
/// other than an ignored RST.
const SEQ_KNOWN: u8 = 1 << 4;
/// `max_ack` holds the highest acknowledgement the side sent.
const ACK_KNOWN: u8 = 1 << 5;
/// The side sent payload.
const SENT_DATA: u8 = 1 << 6;
/// The side's last advertised window was zero, so the other side may send
/// zero-window probes.
const ZERO_WINDOW: u8 = 1 << 7;

/// The largest receive window a TCP peer can advertise, 2^30 bytes (RFC 7323
/// §2.3: a 16-bit window shifted by at most 14).
pub(crate) const MAX_WINDOW: i64 = 1 << 30;

/// How far a RST's sequence number may lie below the next sequence number this
/// observer saw from its sender and still tear the connection down. The receiver
/// accepts a RST inside its receive window (RFC 9293 §3.10.7.4). That window
/// starts at the bytes the receiver got, which can lag what the observer saw.
const RST_BEHIND_SLACK: i64 = 65_535;

/// TCP view of one direction.
#[derive(Clone, Copy, Debug, Default)]
struct TcpSide {
    /// Sequence number of the stream's first payload byte: the ISN + 1 after a
    /// SYN or SYN-ACK, else the first sequence number seen (mid-stream).
    base: u32,
    /// Sequence number after the highest byte, SYN or FIN the side sent.
    next_seq: u32,
    /// Highest acknowledgement number the side sent (it covers the other side's
    /// stream).
    max_ack: u32,
    /// First acknowledgement number the side sent: where the other side's stream
    /// starts when none of its packets was seen.
    first_ack: u32,
    /// Sequence number of the side's first FIN.
    fin_seq: u32,
    flags: u8,
}

impl TcpSide {
    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// Effects of a segment on the flow's streams, as [`TcpState::update`] found them.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SegmentAction {
    /// Sequence number of the first payload byte (after the SYN, if any).
    pub data_seq: u32,
    /// The payload continues the sender's stream.
    pub reassemble: bool,
    /// A keep-alive: at most one byte one below the next sequence number.
    pub keepalive: bool,
    /// A RST that was judged out of window and ignored.
    pub rst_ignored: bool,
    /// Payload sent beyond the sender's FIN.
    pub data_after_fin: bool,
    /// The acknowledgement number, when it advanced the other side's acknowledged
    /// bytes.
    pub ack: Option<u32>,
    /// Sequence number of the sender's FIN, when this segment carried its first.
    pub fin_seq: Option<u32>,
    /// The sender's stream restarts at this sequence number: a SYN-ACK with a new
    /// sequence number came before any payload from the sender.
    pub rebase: Option<u32>,
}

/// TCP state of one flow.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TcpState {
    sides: [TcpSide; 2],
    /// The side whose SYN came first, as `index + 1` (0: none).
    first_syn: u8,
    /// The side whose SYN-ACK came first, as `index + 1` (0: none).
    first_syn_ack: u8,
    /// Both sides had sent FIN before the first accepted RST: the connection
    /// closed normally and the RST only answered a late segment.
    reset_after_close: bool,
}

impl TcpState {
    /// Decides whether a packet from `side` opens a new connection on the same
    /// 5-tuple: a SYN without ACK whose sequence number is not the ISN this side
    /// already sent, on a flow that is closed or whose earlier SYN got no answer.
    /// A retransmitted SYN carries the same ISN and stays in its flow.
    pub(crate) fn starts_new_connection(&self, side: Side, pkt: &Packet<'_>) -> bool {
        let flags = pkt.tcp.flags;
        if !flags.syn() || flags.ack() || flags.rst() {
            return false;
        }
        let this = &self.sides[side.index()];
        let peer = &self.sides[side.other().index()];
        if this.has(SENT_SYN) && this.base == pkt.tcp.seq.wrapping_add(1) {
            return false;
        }

        let unanswered = this.has(SENT_SYN) && !peer.has(SEQ_KNOWN) && !peer.has(SENT_RST);
        self.is_closed() || unanswered
    }

    /// Updates the state with a segment from `side` and returns what the segment
    /// does to the streams.
    pub(crate) fn update(&mut self, side: Side, pkt: &Packet<'_>) -> SegmentAction {
        let index = side.index();
        let flags = pkt.tcp.flags;
        let seq = pkt.tcp.seq;
        let mut action = SegmentAction {
            data_seq: seq,
            ..SegmentAction::default()
        };

        // A RST changes nothing but the teardown. Payload in a RST is diagnostic
        // text (RFC 9293 §3.5.3), not stream data.
        if flags.rst() {
            if self.rst_acceptable(side, pkt) {
                let any_reset = self.sides.iter().any(|side| side.has(SENT_RST));
                let both_closed = self.sides.iter().all(|side| side.has(SENT_FIN));
                if !any_reset && both_closed {
                    self.reset_after_close = true;
                }
                self.sides[index].flags |= SENT_RST;
            } else {
                action.rst_ignored = true;
            }
            return action;
        }

        if flags.syn() {
            action.data_seq = seq.wrapping_add(1);
            if flags.ack() {
                action.rebase = self.on_syn_ack(side, seq);
            } else {
                self.on_syn(side, seq);
            }
        }

        let this = &mut self.sides[index];
        if !this.has(SEQ_KNOWN) {
            this.base = action.data_seq;
            this.next_seq = action.data_seq;
            this.flags |= SEQ_KNOWN;
        }

        // A keep-alive (RFC 9293 §3.8.4) repeats one old byte, or none, one below
        // the next sequence number. A zero-window probe looks the same when
        // repeated, so a segment is a keep-alive only while the receiver's window
        // is open.
        let len = pkt.payload_len;
        let peer_window_zero = self.sides[side.other().index()].has(ZERO_WINDOW);
        let this = &mut self.sides[index];
        action.keepalive = len <= 1
            && !flags.syn()
            && !flags.fin()
            && !peer_window_zero
            && action.data_seq == this.next_seq.wrapping_sub(1);
        if pkt.tcp.window == 0 {
            this.flags |= ZERO_WINDOW;
        } else {
            this.flags &= !ZERO_WINDOW;
        }
        if len > 0 && !action.keepalive {
            action.reassemble = true;
            this.flags |= SENT_DATA;
            if this.has(SENT_FIN) {
                let end = action.data_seq.wrapping_add(len);
                action.data_after_fin = end.wrapping_sub(this.fin_seq) as i32 > 0;
            }
        }

        let end = action
            .data_seq
            .wrapping_add(len)
            .wrapping_add(u32::from(flags.fin()));
        if end.wrapping_sub(this.next_seq) as i32 > 0 {
            this.next_seq = end;
        }
        if flags.fin() && !this.has(SENT_FIN) {
            this.flags |= SENT_FIN;
            this.fin_seq = action.data_seq.wrapping_add(len);
            action.fin_seq = Some(this.fin_seq);
        }

        if flags.ack() {
            let ack = pkt.tcp.ack;
            if !this.has(ACK_KNOWN) {
                this.first_ack = ack;
            }
            if !this.has(ACK_KNOWN) || ack.wrapping_sub(this.max_ack) as i32 > 0 {
                this.max_ack = ack;
                this.flags |= ACK_KNOWN;
                action.ack = Some(ack);
            }
        }
        action
    }

    fn on_syn(&mut self, side: Side, seq: u32) {
        let this = &mut self.sides[side.index()];
        if this.has(SENT_SYN) {
            // A retransmission, or a new ISN that `starts_new_connection` did not
            // take as a new connection (the flow is established): ignored.
            return;
        }
        this.flags |= SENT_SYN;
        if !this.has(SEQ_KNOWN) {
            this.base = seq.wrapping_add(1);
            this.next_seq = this.base;
            this.flags |= SEQ_KNOWN;
        }
        if self.first_syn == 0 {
            self.first_syn = side.index() as u8 + 1;
        }
    }

    /// Records a SYN-ACK; returns the new stream base when it replaced an earlier
    /// SYN-ACK's sequence number.
    fn on_syn_ack(&mut self, side: Side, seq: u32) -> Option<u32> {
        let base = seq.wrapping_add(1);
        let this = &mut self.sides[side.index()];
        let mut rebase = None;
        if this.has(SENT_SYN_ACK) {
            // Several SYN-ACKs with different sequence numbers: until the side
            // sends payload the latest wins, because the client answers the one
            // that reached it last.
            if this.base != base && !this.has(SENT_DATA) {
                this.base = base;
                this.next_seq = base;
                rebase = Some(base);
            }
        } else {
            this.flags |= SENT_SYN_ACK;
            if !this.has(SENT_DATA) {
                if this.has(SEQ_KNOWN) && this.base != base {
                    rebase = Some(base);
                }
                this.base = base;
                this.next_seq = base;
                this.flags |= SEQ_KNOWN;
            }
        }
        if self.first_syn_ack == 0 {
            self.first_syn_ack = side.index() as u8 + 1;
        }
        rebase
    }

    /// Decides whether a RST from `side` tears the connection down. A receiver
    /// in SYN-SENT accepts a RST only if it acknowledges its SYN (RFC 9293
    /// §3.10.7.3); otherwise the RST must fall in the receiver's window, which
    /// the observer approximates from the sender's next sequence number and the
    /// largest possible window.
    fn rst_acceptable(&self, side: Side, pkt: &Packet<'_>) -> bool {
        let this = &self.sides[side.index()];
        let peer = &self.sides[side.other().index()];

        if peer.has(SENT_SYN) && !this.has(SEQ_KNOWN) {
            return pkt.tcp.flags.ack() && pkt.tcp.ack == peer.base;
        }
        if !this.has(SEQ_KNOWN) {
            return true;
        }
        let distance = i64::from(pkt.tcp.seq.wrapping_sub(this.next_seq) as i32);
        (-RST_BEHIND_SLACK..=MAX_WINDOW).contains(&distance)
    }

    /// Returns `true` after a RST or a FIN from each side.
    pub(crate) fn is_closed(&self) -> bool {
        let [a, b] = &self.sides;
        a.has(SENT_RST) || b.has(SENT_RST) || (a.has(SENT_FIN) && b.has(SENT_FIN))
    }

    /// Returns `true` while the flow is a connection attempt: a SYN the other side
    /// has not answered.
    pub(crate) fn is_attempt(&self) -> bool {
        match self.first_syn {
            0 => false,
            first => {
                let responder = &self.sides[2 - first as usize];
                !responder.has(SEQ_KNOWN) && !self.is_closed()
            }
        }
    }

    /// Returns the connection state for the flow's record.
    pub(crate) fn conn_state(&self) -> ConnState {
        let syn_ack_seen = self.sides.iter().any(|side| side.has(SENT_SYN_ACK));
        if self.first_syn == 0 && !syn_ack_seen {
            return ConnState::Oth;
        }
        if self.first_syn != 0 && !syn_ack_seen {
            let responder = &self.sides[2 - self.first_syn as usize];
            if responder.has(SENT_RST) {
                return ConnState::Rej;
            }
            if !responder.has(SEQ_KNOWN) {
                return ConnState::S0;
            }
        }
        if self.sides.iter().any(|side| side.has(SENT_RST)) && !self.reset_after_close {
            return ConnState::Rst;
        }
        if self.sides.iter().all(|side| side.has(SENT_FIN)) {
            return ConnState::Sf;
        }
        ConnState::Open
    }

    /// Returns the client side when the handshake shows it: the sender of the
    /// first SYN, else the receiver of the first SYN-ACK.
    pub(crate) fn handshake_client(&self) -> Option<(Side, DirectionEvidence)> {
        let side = |tagged: u8| {
            if tagged == 1 {
                Side::Originator
            } else {
                Side::Responder
            }
        };
        if self.first_syn != 0 {
            return Some((side(self.first_syn), DirectionEvidence::Syn));
        }
        if self.first_syn_ack != 0 {
            return Some((side(self.first_syn_ack).other(), DirectionEvidence::SynAck));
        }
        None
    }

    /// Returns the sequence number of `side`'s first stream byte: from its own
    /// packets, else from the first acknowledgement the other side sent (a
    /// capture that holds one direction only).
    pub(crate) fn stream_base(&self, side: Side) -> Option<u32> {
        let this = &self.sides[side.index()];
        let peer = &self.sides[side.other().index()];
        if this.has(SEQ_KNOWN) {
            Some(this.base)
        } else {
            peer.has(ACK_KNOWN).then_some(peer.first_ack)
        }
    }

    /// Returns the highest acknowledgement `side` sent, once it sent one.
    pub(crate) fn max_ack(&self, side: Side) -> Option<u32> {
        let this = &self.sides[side.index()];
        this.has(ACK_KNOWN).then_some(this.max_ack)
    }

    /// Returns the bytes of `side`'s stream that the other side acknowledged
    /// beyond the highest sequence number seen from `side`: data the capture
    /// missed. Used for a side that sent no payload, so has no reassembler.
    pub(crate) fn acked_unseen(&self, side: Side) -> u64 {
        let this = &self.sides[side.index()];
        let Some(ack) = self.max_ack(side.other()) else {
            return 0;
        };
        let seen_until = if this.has(SEQ_KNOWN) {
            this.next_seq
        } else {
            self.sides[side.other().index()].first_ack
        };
        let ahead = i64::from(ack.wrapping_sub(seen_until) as i32);
        if ahead > 0 && ahead <= MAX_WINDOW {
            ahead as u64
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_state_size() {
        // Two sides of five u32 and a flag byte (padded to 24), and two bytes of
        // handshake order, padded to the u32 alignment.
        assert_eq!(std::mem::size_of::<TcpState>(), 52);
    }
}
