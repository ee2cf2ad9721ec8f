//! POP3 (RFC 1939) with CAPA (RFC 2449), STLS (RFC 2595) and AUTH (RFC 5034),
//! up to authentication or STLS.
//!
//! The server greets with `+OK` and text; a bare `+OK` leaves the probe unsure,
//! because a Redis server answers `+OK` too. On the client side CAPA, APOP and
//! STLS are POP3's alone; USER, PASS, AUTH, QUIT and the mailbox commands are
//! shared with FTP or SMTP, so the probe reads further lines for a command that
//! settles it. POP3 responses carry no tag: the parser pairs them with the
//! client's lines by counting, to find the answer to STLS.

use nom::IResult;
use nom::error::{Error, ErrorKind};

use super::text::{self, split_token, tokens};
use super::tls::TlsParser;
use super::{AppInfo, ProbeResult, Progress, StreamParser};

/// Maximum length of a POP3 line, line ending included. RFC 1939 section 3
/// limits responses to 512 octets and RFC 2449 section 4 commands to 255; SASL
/// responses after AUTH (RFC 5034 section 4) may be longer, so the parser
/// accepts 4096.
pub const MAX_POP3_LINE_LEN: usize = 4_096;

/// Client lines the probe reads before it stays unsure.
const MAX_PROBE_COMMAND_LINES: usize = 8;

/// Commands only POP3 has.
const POP3_ONLY_COMMANDS: [&[u8]; 5] = [b"CAPA", b"APOP", b"STLS", b"UIDL", b"TOP"];

/// POP3 commands that FTP, SMTP or IMAP clients send too.
const SHARED_COMMANDS: [&[u8]; 10] = [
    b"USER", b"PASS", b"AUTH", b"QUIT", b"NOOP", b"RSET", b"STAT", b"LIST", b"RETR", b"DELE",
];

/// A status line from the server (RFC 1939 section 3, RFC 5034 section 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pop3Status<'a> {
    Ok(&'a [u8]),
    Err(&'a [u8]),
    /// `+ ` and a SASL challenge.
    Continue(&'a [u8]),
}

/// Parses one server line as a status line.
pub fn parse_pop3_status(i: &[u8]) -> IResult<&[u8], Pop3Status<'_>> {
    let (rest, line) = text::parse_line(i, MAX_POP3_LINE_LEN)?;
    let status = if let Some(text) = strip_status(line, b"+OK") {
        Pop3Status::Ok(text)
    } else if let Some(text) = strip_status(line, b"-ERR") {
        Pop3Status::Err(text)
    } else if let Some(text) = line
        .strip_prefix(b"+ ")
        .or((line == b"+").then_some(&[][..]))
    {
        Pop3Status::Continue(text)
    } else {
        return Err(nom::Err::Error(Error::new(i, ErrorKind::Tag)));
    };
    Ok((rest, status))
}

fn strip_status<'a>(line: &'a [u8], status: &[u8]) -> Option<&'a [u8]> {
    if !text::starts_with_ignore_case(line, status) {
        return None;
    }
    match &line[status.len()..] {
        [] => Some(&[]),
        [b' ', text @ ..] => Some(text),
        _ => None,
    }
}

/// Probes the first bytes of one direction.
pub fn probe(i: &[u8]) -> ProbeResult {
    match i.first() {
        None => ProbeResult::unsure(None),
        Some(b'+' | b'-') => probe_server(i),
        Some(_) => probe_client(i),
    }
}

fn probe_server(i: &[u8]) -> ProbeResult {
    let server = Some(true);
    match text::parse_line(i, MAX_POP3_LINE_LEN) {
        // RFC 1939 section 4: the greeting is a positive response.
        Ok((_, line)) => match strip_status(line, b"+OK") {
            Some(text) if !text.is_empty() => ProbeResult::certain(server),
            Some(_) => ProbeResult::unsure(server),
            None => ProbeResult::NOT_MINE,
        },
        Err(nom::Err::Incomplete(_)) => {
            let i = text::partial_line(i);
            let fits = text::is_prefix_of_ignore_case(i, b"+OK ")
                || text::starts_with_ignore_case(i, b"+OK ");
            if fits {
                ProbeResult::unsure(server)
            } else {
                ProbeResult::NOT_MINE
            }
        }
        Err(_) => ProbeResult::NOT_MINE,
    }
}

fn probe_client(i: &[u8]) -> ProbeResult {
    let client = Some(false);
    let mut rest = i;
    let mut after_auth = false;
    for _ in 0..MAX_PROBE_COMMAND_LINES {
        let (next, line) = match text::parse_line(rest, MAX_POP3_LINE_LEN) {
            Ok(parsed) => parsed,
            Err(nom::Err::Incomplete(_)) => {
                let rest = text::partial_line(rest);
                let (verb, _) = split_token(rest);
                let verb_done = verb.len() < rest.len();
                let known = POP3_ONLY_COMMANDS.iter().chain(SHARED_COMMANDS.iter());
                let fits = after_auth
                    || known.clone().any(|command| {
                        if verb_done {
                            verb.eq_ignore_ascii_case(command)
                        } else {
                            text::is_prefix_of_ignore_case(verb, command)
                        }
                    });
                return if fits {
                    ProbeResult::unsure(client)
                } else {
                    ProbeResult::NOT_MINE
                };
            }
            Err(_) => return ProbeResult::NOT_MINE,
        };
        let (verb, argument) = split_token(line);
        if is_one_of(verb, &POP3_ONLY_COMMANDS) {
            return ProbeResult::certain(client);
        }
        if is_one_of(verb, &SHARED_COMMANDS) {
            after_auth = verb.eq_ignore_ascii_case(b"AUTH") && !argument.is_empty();
        } else if !after_auth {
            // Not a POP3 command, and not a SASL response either.
            return ProbeResult::NOT_MINE;
        }
        rest = next;
    }
    ProbeResult::unsure(client)
}

fn is_one_of(verb: &[u8], commands: &[&[u8]]) -> bool {
    commands
        .iter()
        .any(|command| verb.eq_ignore_ascii_case(command))
}

/// The state of the client's command reader.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum ClientState {
    #[default]
    Commands,
    /// After STLS: TLS, or more cleartext commands if the client went on
    /// without TLS.
    AfterUpgrade,
    /// PASS, AUTH with a mechanism or QUIT was sent, or the rest is TLS.
    Finished,
    Failed,
}

/// Reads a POP3 session from both sides up to the first authentication or the
/// TLS after STLS, which goes to [`TlsParser`].
///
/// NOTE: APOP sends a digest, not the password, so it does not set
/// `cleartext_auth`; USER/PASS and AUTH with any mechanism do.
#[derive(Default)]
pub struct Pop3Parser {
    client_offset: usize,
    client_state: ClientState,
    /// Lines sent, each answered by one status line.
    client_lines: u32,
    /// The number of client lines before STLS, when STLS was sent.
    stls_line: Option<u32>,
    client_tls_start: Option<usize>,
    server_offset: usize,
    server_failed: bool,
    /// Status lines read, greeting included.
    server_statuses: u32,
    /// Inside a multi-line response, which ends with a line holding `.`.
    in_multiline: bool,
    /// The last status was positive and answered a command, so a line that is
    /// no status starts a multi-line response (CAPA, LIST, UIDL, RETR, TOP).
    last_ok: bool,
    server_tls_start: Option<usize>,
    tls: Option<TlsParser>,
}

impl Pop3Parser {
    /// The offsets in the client and server streams where the TLS after an
    /// accepted STLS starts, when known.
    pub fn tls_offsets(&self) -> (Option<usize>, Option<usize>) {
        (self.client_tls_start, self.server_tls_start)
    }

    fn read_client(&mut self, client: &[u8], info: &mut AppInfo) {
        loop {
            match self.client_state {
                ClientState::Finished | ClientState::Failed => return,
                ClientState::AfterUpgrade => {
                    let rest = &client[self.client_offset..];
                    if text::starts_tls_handshake(rest) {
                        self.client_tls_start = Some(self.client_offset);
                        info.upgrade.accepted = true;
                        self.client_state = ClientState::Finished;
                        return;
                    }
                    if text::may_start_tls_handshake(rest) {
                        return;
                    }
                    self.client_state = ClientState::Commands;
                }
                ClientState::Commands => {}
            }

            let (next, line) =
                match text::parse_line(&client[self.client_offset..], MAX_POP3_LINE_LEN) {
                    Ok(parsed) => parsed,
                    Err(nom::Err::Incomplete(_)) => return,
                    Err(_) => {
                        self.client_state = ClientState::Failed;
                        return;
                    }
                };
            self.client_offset = client.len() - next.len();
            self.client_lines += 1;

            let (verb, argument) = split_token(line);
            if verb.eq_ignore_ascii_case(b"PASS")
                || (verb.eq_ignore_ascii_case(b"AUTH") && !argument.is_empty())
            {
                info.cleartext_auth = true;
                self.client_state = ClientState::Finished;
            } else if verb.eq_ignore_ascii_case(b"STLS") {
                info.upgrade.requested = true;
                self.stls_line = Some(self.client_lines - 1);
                self.client_state = ClientState::AfterUpgrade;
                // The server's reader may have read the +OK already and
                // stopped right after it, waiting for the TLS.
                if self.last_ok
                    && self.server_tls_start.is_none()
                    && self.server_statuses == self.client_lines + 1
                {
                    info.upgrade.accepted = true;
                    self.server_tls_start = Some(self.server_offset);
                }
            } else if verb.eq_ignore_ascii_case(b"QUIT") {
                self.client_state = ClientState::Finished;
            }
        }
    }

    fn read_server(&mut self, server: &[u8], info: &mut AppInfo) {
        while !self.server_failed && self.server_tls_start.is_none() {
            let rest = &server[self.server_offset..];
            // Without the client's side, a TLS handshake right after a
            // positive status shows that it answered STLS.
            if self.last_ok && text::starts_tls_handshake(rest) {
                info.upgrade.requested = true;
                info.upgrade.accepted = true;
                self.server_tls_start = Some(self.server_offset);
                return;
            }
            if self.in_multiline {
                let (next, line) = match text::parse_line(rest, MAX_POP3_LINE_LEN) {
                    Ok(parsed) => parsed,
                    Err(nom::Err::Incomplete(_)) => return,
                    Err(_) => {
                        self.server_failed = true;
                        return;
                    }
                };
                self.server_offset = server.len() - next.len();
                if line == b"." {
                    self.in_multiline = false;
                } else {
                    read_capability(line, info);
                }
                continue;
            }

            let (next, status) = match parse_pop3_status(rest) {
                Ok(parsed) => parsed,
                Err(nom::Err::Incomplete(_)) => return,
                Err(_) if self.last_ok => {
                    self.in_multiline = true;
                    self.last_ok = false;
                    continue;
                }
                Err(_) => {
                    self.server_failed = true;
                    return;
                }
            };
            self.server_offset = server.len() - next.len();
            self.server_statuses += 1;
            self.last_ok = self.server_statuses > 1 && matches!(status, Pop3Status::Ok(_));
            if !self.last_ok {
                continue;
            }

            // The answer to STLS is the status after the greeting and one
            // status for each client line before STLS.
            let answers_stls = self
                .stls_line
                .is_some_and(|before| self.server_statuses == before + 2);
            if answers_stls {
                info.upgrade.requested = true;
                info.upgrade.accepted = true;
                self.server_tls_start = Some(self.server_offset);
                return;
            }
        }
    }

    fn read_tls(&mut self, client: &[u8], server: &[u8], info: &mut AppInfo) -> Progress {
        let server_tls = self
            .server_tls_start
            .map_or(&server[server.len()..], |start| &server[start..]);
        let client_tls = self
            .client_tls_start
            .map_or(&client[client.len()..], |start| &client[start..]);
        if text::starts_tls_handshake(client_tls) || text::starts_tls_handshake(server_tls) {
            info.upgrade.tls_followed = true;
        }
        if !info.upgrade.tls_followed {
            return Progress::NeedMore;
        }
        self.tls
            .get_or_insert_with(TlsParser::default)
            .on_stream(client_tls, server_tls, info)
    }
}

/// Reads one line of a CAPA response (RFC 2449 section 6).
fn read_capability(line: &[u8], info: &mut AppInfo) {
    let mut words = tokens(line);
    if words
        .next()
        .is_some_and(|name| name.eq_ignore_ascii_case(b"STLS"))
    {
        info.upgrade.offered = true;
    }
}

impl StreamParser for Pop3Parser {
    fn on_stream(&mut self, client: &[u8], server: &[u8], info: &mut AppInfo) -> Progress {
        self.read_client(client, info);
        self.read_server(server, info);

        let client_finished = self.client_state == ClientState::Finished;
        if self.client_tls_start.is_some() || self.server_tls_start.is_some() {
            if client_finished && self.client_tls_start.is_none() && !client.is_empty() {
                return Progress::Done;
            }
            return self.read_tls(client, server, info);
        }
        if client_finished && self.server_statuses > self.client_lines {
            return Progress::Done;
        }
        Progress::NeedMore
    }
}
