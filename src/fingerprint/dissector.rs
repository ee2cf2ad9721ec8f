//! The [`Dissector`]: runs the protocol probes over a flow's first bytes and
//! hands both sides to the chosen protocol's parser.

use std::fmt;

use crate::decode::Transport;

use super::{
    App, AppEvidence, AppInfo, MAX_DNS_DATAGRAMS, MAX_PROBE_DATAGRAMS, MAX_PROBE_WINDOW,
    PROBE_COUNT, PROBE_ORDER, ProbeAnswer, ProbeResult, Progress, Side, StreamParser, dns, http,
    imap, ldap, pop3, probe_stream, smtp, ssh, tls,
};

/// The chosen protocol's parser. An enum rather than a boxed trait object, so
/// that choosing a protocol does not allocate.
enum Parser {
    Tls(tls::TlsParser),
    Ssh(ssh::SshParser),
    Http(http::HttpParser),
    Smtp(smtp::SmtpParser),
    Imap(imap::ImapParser),
    Pop3(pop3::Pop3Parser),
    Ldap(ldap::LdapParser),
    Dns(dns::DnsParser),
}

impl Parser {
    fn new(app: App) -> Option<Parser> {
        let parser = match app {
            App::Tls => Parser::Tls(tls::TlsParser::default()),
            App::Ssh => Parser::Ssh(ssh::SshParser::default()),
            App::Http => Parser::Http(http::HttpParser::default()),
            App::Smtp => Parser::Smtp(smtp::SmtpParser::default()),
            App::Imap => Parser::Imap(imap::ImapParser::default()),
            App::Pop3 => Parser::Pop3(pop3::Pop3Parser::default()),
            App::Ldap => Parser::Ldap(ldap::LdapParser::default()),
            App::Dns => Parser::Dns(dns::DnsParser::default()),
            App::Unknown | App::None => return None,
        };
        Some(parser)
    }

    fn on_stream(&mut self, client: &[u8], server: &[u8], info: &mut AppInfo) -> Progress {
        match self {
            Parser::Tls(parser) => parser.on_stream(client, server, info),
            Parser::Ssh(parser) => parser.on_stream(client, server, info),
            Parser::Http(parser) => parser.on_stream(client, server, info),
            Parser::Smtp(parser) => parser.on_stream(client, server, info),
            Parser::Imap(parser) => parser.on_stream(client, server, info),
            Parser::Pop3(parser) => parser.on_stream(client, server, info),
            Parser::Ldap(parser) => parser.on_stream(client, server, info),
            Parser::Dns(parser) => parser.on_stream(client, server, info),
        }
    }
}

enum Phase {
    /// No protocol is certain yet.
    Probing,
    /// `PROBE_ORDER[index]` is the first protocol certain so far, and its
    /// parser reads both sides. `parser_done` is set once the parser returned
    /// [`Progress::Done`]; it is not called again until a restart.
    Parsing {
        index: usize,
        parser: Box<Parser>,
        parser_done: bool,
    },
    /// Every field is known, or every protocol is out.
    Done,
}

/// Drives the protocol probes for one flow.
///
/// TCP: after each change to a side's in-order bytes, the flow engine calls
/// [`Dissector::on_stream`] with both sides' whole in-order prefixes so far (each
/// at most the reassembly budget). UDP: [`Dissector::on_datagram`] once per
/// datagram. [`Dissector::finish`] is called once, when the flow ends or after
/// the dissector returned [`Progress::Done`].
///
/// Every protocol's probe reads the first bytes of each side that has payload.
/// The first protocol in [`PROBE_ORDER`] that is certain about either side
/// wins, and its parser reads both sides as client and server: the probes'
/// `sender_is_server` decides which is which, else the handshake hint, else the
/// ports (a port below 1024 facing a higher one is the server), else the
/// responder is the server.
///
/// The result depends only on each side's bytes, not on how they were cut
/// into segments or how the two sides' segments interleaved. So a winner
/// stays provisional while an earlier protocol in the order may still become
/// certain on either side, including a side that has not sent anything yet:
/// the earlier protocol takes over if it does, and its parser starts again
/// from the first bytes (the flow engine always passes whole prefixes). A
/// change of server side restarts the parser the same way. The dissector is
/// done only when the parser is done and no later bytes can change the
/// winner, the server side or `app_evidence`. A protocol that is not mine to
/// both sides is out; when all are out the flow is `unknown`, and a side that
/// has sent nothing keeps every protocol in until it sends or ends.
pub struct Dissector {
    transport: Transport,
    ports: [u16; 2],
    client_hint: Option<Side>,
    phase: Phase,
    /// The latest answer of each probe for each side, indexed by
    /// [`Side::index`] and then by position in [`PROBE_ORDER`].
    answers: [[ProbeResult; PROBE_COUNT]; 2],
    /// How many bytes of each side the probes last read.
    probed_len: [usize; 2],
    has_payload: [bool; 2],
    /// No more in-order bytes will come from this side (a gap).
    ended: [bool; 2],
    /// The server side, once a protocol was chosen.
    server: Side,
    info: AppInfo,
    datagrams: u32,
}

impl fmt::Debug for Dissector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match &self.phase {
            Phase::Probing => "probing",
            Phase::Parsing { .. } => "parsing",
            Phase::Done => "done",
        };
        f.debug_struct("Dissector")
            .field("transport", &self.transport)
            .field("phase", &phase)
            .field("app", &self.info.app)
            .field("has_payload", &self.has_payload)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl Dissector {
    /// Creates the dissector of a flow. `ports` are indexed by [`Side::index`];
    /// `client_hint` is the side the handshake showed to be the client, if any.
    pub fn new(transport: Transport, ports: [u16; 2], client_hint: Option<Side>) -> Dissector {
        Dissector {
            transport,
            ports,
            client_hint,
            phase: Phase::Probing,
            answers: [[ProbeResult::unsure(None); PROBE_COUNT]; 2],
            probed_len: [0; 2],
            has_payload: [false; 2],
            ended: [false; 2],
            server: Side::Responder,
            info: AppInfo::default(),
            datagrams: 0,
        }
    }

    /// Reads both sides' in-order prefixes so far and returns whether the
    /// dissector wants more bytes.
    pub fn on_stream(&mut self, originator: &[u8], responder: &[u8]) -> Progress {
        let sides = [originator, responder];
        for side in [Side::Originator, Side::Responder] {
            self.has_payload[side.index()] |= !sides[side.index()].is_empty();
        }

        // Only the winner and the protocols before it can still matter.
        let probes = match self.phase {
            Phase::Probing => PROBE_COUNT,
            Phase::Parsing { index, .. } => index + 1,
            Phase::Done => return Progress::Done,
        };
        for side in [Side::Originator, Side::Responder] {
            self.probe_side(side, sides[side.index()], probes);
        }
        self.decide();

        let (client, server) = match self.server {
            Side::Responder => (originator, responder),
            Side::Originator => (responder, originator),
        };
        if let Phase::Parsing {
            parser,
            parser_done,
            ..
        } = &mut self.phase
            && !*parser_done
        {
            *parser_done = parser.on_stream(client, server, &mut self.info) == Progress::Done;
        }
        self.finish_if_settled();
        self.progress()
    }

    /// Tells the dissector that bytes are missing in `side`'s stream: no more
    /// in-order bytes will come from that side. Probes still unsure about that
    /// side become not mine, because no more bytes can make them certain.
    pub fn on_gap(&mut self, side: Side) {
        self.ended[side.index()] = true;
        for answer in &mut self.answers[side.index()] {
            if answer.answer == ProbeAnswer::Unsure {
                answer.answer = ProbeAnswer::NotMine;
            }
        }
        match self.phase {
            Phase::Probing => self.decide(),
            Phase::Parsing { .. } => self.finish_if_settled(),
            Phase::Done => {}
        }
    }

    /// Reads one UDP datagram. Only DNS is recognised over UDP: the first
    /// [`MAX_PROBE_DATAGRAMS`] datagrams are probed, and a DNS flow's first
    /// [`MAX_DNS_DATAGRAMS`] datagrams go to the DNS parser.
    pub fn on_datagram(&mut self, side: Side, payload: &[u8]) -> Progress {
        if payload.is_empty() {
            return self.progress();
        }
        self.has_payload[side.index()] = true;
        self.datagrams = self.datagrams.saturating_add(1);
        let dns_index = probe_index(App::Dns);

        if let Phase::Probing = self.phase {
            let result = dns::probe_datagram(payload);
            self.answers[side.index()][dns_index] = result;
            for (index, answer) in self.answers[side.index()].iter_mut().enumerate() {
                if index != dns_index {
                    *answer = ProbeResult::NOT_MINE;
                }
            }
            if result.answer == ProbeAnswer::Certain {
                let (server, from_payload) = self.server_for(dns_index);
                self.choose(dns_index, server);
                self.info.server_side = from_payload.then_some(server);
            } else if self.all_out() || self.datagrams >= MAX_PROBE_DATAGRAMS {
                self.give_up();
            }
        } else if let Phase::Parsing { index, .. } = self.phase
            && self.answers[side.index()][index].answer == ProbeAnswer::Unsure
        {
            self.answers[side.index()][index] = dns::probe_datagram(payload);
        }

        let from_server = side == self.server;
        if let Phase::Parsing { parser, .. } = &mut self.phase {
            let progress = match &mut **parser {
                Parser::Dns(parser) => parser.on_datagram(payload, from_server, &mut self.info),
                _ => Progress::NeedMore,
            };
            if progress == Progress::Done || self.datagrams >= MAX_DNS_DATAGRAMS {
                self.phase = Phase::Done;
            }
        }
        self.progress()
    }

    /// Returns what the dissector learned about the flow, with `app_evidence`
    /// decided from the probes' final answers.
    pub fn finish(&mut self) -> AppInfo {
        let any_payload = self.has_payload.iter().any(|&seen| seen);
        if let App::None | App::Unknown = self.info.app {
            self.info.app = if any_payload { App::Unknown } else { App::None };
        }
        self.info.evidence = self.evidence(self.info.app);
        self.phase = Phase::Done;
        std::mem::take(&mut self.info)
    }

    /// Returns the protocol chosen so far: `none` while the probes are unsure,
    /// `unknown` once they all gave up.
    pub fn app(&self) -> App {
        self.info.app
    }

    /// Returns what the dissector learned so far, without finishing it. Unlike
    /// [`Dissector::finish`], a flow whose payload the probes are still unsure
    /// about stays `none` rather than `unknown`, because more bytes may name it.
    pub fn snapshot(&self) -> AppInfo {
        let mut info = self.info.clone();
        info.evidence = self.evidence(info.app);
        info
    }

    /// Decides `app_evidence` from the probes' latest answers.
    fn evidence(&self, app: App) -> AppEvidence {
        if let App::None | App::Unknown = app {
            return AppEvidence::None;
        }
        let index = probe_index(app);
        let agreeing = [Side::Originator, Side::Responder]
            .into_iter()
            .filter(|side| {
                self.has_payload[side.index()]
                    && self.answers[side.index()][index].answer == ProbeAnswer::Certain
            })
            .count();
        if agreeing == 2 {
            AppEvidence::Both
        } else {
            AppEvidence::OneSide
        }
    }

    fn progress(&self) -> Progress {
        match self.phase {
            Phase::Done => Progress::Done,
            Phase::Probing | Phase::Parsing { .. } => Progress::NeedMore,
        }
    }

    /// Runs each of the first `probes` protocols of [`PROBE_ORDER`] that is
    /// still unsure about `side` on its first bytes, when they grew since the
    /// last run.
    fn probe_side(&mut self, side: Side, bytes: &[u8], probes: usize) {
        let at = side.index();
        if bytes.is_empty() || self.ended[at] || self.probed_len[at] == bytes.len() {
            return;
        }
        if self.probed_len[at] >= MAX_PROBE_WINDOW {
            return;
        }
        self.probed_len[at] = bytes.len();
        let window = &bytes[..bytes.len().min(MAX_PROBE_WINDOW)];
        let window_full = bytes.len() >= MAX_PROBE_WINDOW;
        for (index, app) in PROBE_ORDER.into_iter().enumerate().take(probes) {
            if self.answers[at][index].answer != ProbeAnswer::Unsure {
                continue;
            }
            let mut result = probe_stream(app, window);
            if window_full && result.answer == ProbeAnswer::Unsure {
                result.answer = ProbeAnswer::NotMine;
            }
            self.answers[at][index] = result;
        }
    }

    /// Chooses the first certain protocol, or gives up when every protocol is
    /// out or no side can bring more bytes. A winner that changed, or whose
    /// server side changed, gets a new parser.
    fn decide(&mut self) {
        let current = match self.phase {
            Phase::Probing => None,
            Phase::Parsing { index, .. } => Some(index),
            Phase::Done => return,
        };
        let winner = (0..PROBE_COUNT).find(|&index| {
            [Side::Originator, Side::Responder].into_iter().any(|side| {
                self.has_payload[side.index()]
                    && self.answers[side.index()][index].answer == ProbeAnswer::Certain
            })
        });
        if let Some(index) = winner {
            let (server, from_payload) = self.server_for(index);
            if current != Some(index) || server != self.server {
                self.choose(index, server);
            }
            self.info.server_side = from_payload.then_some(server);
        } else if self.all_out() || self.ended == [true, true] {
            self.give_up();
        }
    }

    /// Ends the dissector when the parser is done and no later bytes can
    /// change the result. That needs every protocol before the winner to be
    /// not mine to both sides, and the winner's probe to be sure about both
    /// sides, so that `app_evidence` and the server side are final. It also
    /// ends when neither side can bring more bytes.
    fn finish_if_settled(&mut self) {
        let Phase::Parsing {
            index, parser_done, ..
        } = self.phase
        else {
            return;
        };
        let settled = [Side::Originator, Side::Responder].into_iter().all(|side| {
            let answers = &self.answers[side.index()];
            answers[..index]
                .iter()
                .all(|result| result.answer == ProbeAnswer::NotMine)
                && answers[index].answer != ProbeAnswer::Unsure
        });
        if (parser_done && settled) || self.ended == [true, true] {
            self.phase = Phase::Done;
        }
    }

    /// Returns whether every protocol is not mine to both sides. A side that
    /// has sent nothing and has not ended keeps them all in, because its first
    /// bytes may still name any of them.
    fn all_out(&self) -> bool {
        self.has_payload.iter().any(|&seen| seen)
            && self
                .answers
                .iter()
                .flatten()
                .all(|result| result.answer == ProbeAnswer::NotMine)
    }

    fn give_up(&mut self) {
        self.info.app = if self.has_payload.iter().any(|&seen| seen) {
            App::Unknown
        } else {
            App::None
        };
        self.phase = Phase::Done;
    }

    /// Starts the parser of the protocol at `index` with `server` as the
    /// server side, dropping what an earlier parser learned.
    fn choose(&mut self, index: usize, server: Side) {
        let app = PROBE_ORDER[index];
        self.server = server;
        self.info = AppInfo {
            app,
            ..AppInfo::default()
        };
        self.phase = match Parser::new(app) {
            Some(parser) => Phase::Parsing {
                index,
                parser: Box::new(parser),
                parser_done: false,
            },
            None => Phase::Done,
        };
    }

    /// Decides the server side for the protocol at `index`, and whether the
    /// payload decided it.
    fn server_for(&self, index: usize) -> (Side, bool) {
        let mut sides = [Side::Originator, Side::Responder];
        // The side the winner is certain about speaks first.
        sides.sort_by_key(|side| self.answers[side.index()][index].answer != ProbeAnswer::Certain);
        for side in sides {
            let result = self.answers[side.index()][index];
            if !self.has_payload[side.index()] || result.answer == ProbeAnswer::NotMine {
                continue;
            }
            match result.sender_is_server {
                Some(true) => return (side, true),
                Some(false) => return (side.other(), true),
                None => {}
            }
        }
        if let Some(client) = self.client_hint {
            return (client.other(), false);
        }
        let [originator_port, responder_port] = self.ports;
        if originator_port < 1024 && responder_port >= 1024 {
            return (Side::Originator, false);
        }
        (Side::Responder, false)
    }
}

fn probe_index(app: App) -> usize {
    PROBE_ORDER
        .iter()
        .position(|&candidate| candidate == app)
        .unwrap_or(0)
}
