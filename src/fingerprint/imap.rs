//! IMAP (RFC 9051, RFC 3501) up to authentication or STARTTLS.
//!
//! The server greets with an untagged `* OK`, `* PREAUTH` or `* BYE` (RFC 9051
//! section 7.1); the client sends tagged commands (`a001 CAPABILITY`). The probe
//! reads the first line of a direction. The parser reads the capabilities
//! (STARTTLS, LOGINDISABLED), the first LOGIN or AUTHENTICATE and the STARTTLS
//! exchange, matched by tag, after which both streams are TLS.

use nom::IResult;

use super::text::{self, split_token, tokens};
use super::tls::TlsParser;
use super::{AppInfo, ProbeResult, Progress, StreamParser, copy_wire_text};

/// Maximum length of an IMAP line, line ending included. RFC 9051 sets no
/// limit; RFC 7162 section 4 recommends that clients keep command lines within
/// 8192 octets, and servers' pre-login lines are far shorter.
pub const MAX_IMAP_LINE_LEN: usize = 8_192;

/// Longest tag stored to match the server's reply to STARTTLS.
const MAX_TAG_LEN: usize = 32;

/// Commands of RFC 9051 and RFC 3501 and common extensions (ID, IDLE, MOVE,
/// NAMESPACE, ENABLE, COMPRESS, QUOTA, UNSELECT, XLIST).
const IMAP_COMMANDS: [&[u8]; 38] = [
    b"CAPABILITY",
    b"NOOP",
    b"LOGOUT",
    b"STARTTLS",
    b"AUTHENTICATE",
    b"LOGIN",
    b"ENABLE",
    b"SELECT",
    b"EXAMINE",
    b"CREATE",
    b"DELETE",
    b"RENAME",
    b"SUBSCRIBE",
    b"UNSUBSCRIBE",
    b"LIST",
    b"LSUB",
    b"NAMESPACE",
    b"STATUS",
    b"APPEND",
    b"IDLE",
    b"CHECK",
    b"CLOSE",
    b"UNSELECT",
    b"EXPUNGE",
    b"SEARCH",
    b"FETCH",
    b"STORE",
    b"COPY",
    b"MOVE",
    b"UID",
    b"ID",
    b"COMPRESS",
    b"GETQUOTA",
    b"GETQUOTAROOT",
    b"SETQUOTA",
    b"XLIST",
    b"GETACL",
    b"MYRIGHTS",
];

/// Untagged statuses a server may greet with (RFC 9051 section 7.1).
const GREETINGS: [&[u8]; 3] = [b"* OK", b"* PREAUTH", b"* BYE"];

/// One IMAP line and the literal announced at its end, if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImapLine<'a> {
    pub text: &'a [u8],
    /// `{N}` or `{N+}` (RFC 7888) at the end of the line: N bytes of literal
    /// data follow, then the same command or response goes on.
    pub literal: Option<u32>,
}

/// Parses one line and the literal length it ends with (RFC 9051 section 4.3).
pub fn parse_imap_line(i: &[u8]) -> IResult<&[u8], ImapLine<'_>> {
    let (rest, text) = text::parse_line(i, MAX_IMAP_LINE_LEN)?;
    Ok((
        rest,
        ImapLine {
            text,
            literal: trailing_literal(text),
        },
    ))
}

fn trailing_literal(line: &[u8]) -> Option<u32> {
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|&byte| byte == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u32, |value, digit| {
        Some(value * 10 + u32::from(digit - b'0'))
    })
}

/// Probes the first line of one direction.
pub fn probe(i: &[u8]) -> ProbeResult {
    match i.first() {
        None => ProbeResult::unsure(None),
        Some(b'*') => probe_server(i),
        Some(_) => probe_client(i),
    }
}

fn probe_server(i: &[u8]) -> ProbeResult {
    let server = Some(true);
    match parse_imap_line(i) {
        Ok((_, line)) => {
            let greeting = GREETINGS.iter().any(|status| {
                text::starts_with_ignore_case(line.text, status)
                    && matches!(line.text.get(status.len()), None | Some(b' '))
            });
            if greeting {
                ProbeResult::certain(server)
            } else {
                ProbeResult::NOT_MINE
            }
        }
        Err(nom::Err::Incomplete(_)) => {
            let i = text::partial_line(i);
            let fits = GREETINGS.iter().any(|status| {
                text::is_prefix_of_ignore_case(i, status)
                    || (text::starts_with_ignore_case(i, status) && i[status.len()] == b' ')
            });
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
    let (line, complete) = match parse_imap_line(i) {
        Ok((_, line)) => (line.text, true),
        Err(nom::Err::Incomplete(_)) => (text::partial_line(i), false),
        Err(_) => return ProbeResult::NOT_MINE,
    };
    let (tag, after_tag) = split_token(line);
    let tag_done = tag.len() < line.len();
    if tag.is_empty() || !tag.iter().all(|&byte| is_tag_char(byte)) {
        return ProbeResult::NOT_MINE;
    }
    if !tag_done {
        return if complete {
            ProbeResult::NOT_MINE
        } else {
            ProbeResult::unsure(client)
        };
    }
    let (command, _) = split_token(after_tag);
    let command_done = complete || command.len() < after_tag.len();
    if command_done {
        if is_imap_command(command) {
            ProbeResult::certain(client)
        } else {
            ProbeResult::NOT_MINE
        }
    } else if IMAP_COMMANDS
        .iter()
        .any(|known| text::is_prefix_of_ignore_case(command, known))
    {
        ProbeResult::unsure(client)
    } else {
        ProbeResult::NOT_MINE
    }
}

/// A tag is 1*<any ASTRING-CHAR except "+"> (RFC 9051 section 9).
fn is_tag_char(byte: u8) -> bool {
    (0x21..=0x7e).contains(&byte) && !b"(){%*\"\\+".contains(&byte)
}

fn is_imap_command(command: &[u8]) -> bool {
    IMAP_COMMANDS
        .iter()
        .any(|known| command.eq_ignore_ascii_case(known))
}

/// The state of the client's command reader.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum ClientState {
    #[default]
    Commands,
    /// After STARTTLS: TLS, or more cleartext commands if the client went on
    /// without TLS.
    AfterUpgrade,
    /// LOGIN, AUTHENTICATE or LOGOUT was sent, or the rest is TLS.
    Finished,
    Failed,
}

/// Reads an IMAP session from both sides up to the first authentication or
/// the TLS after STARTTLS, which goes to [`TlsParser`].
#[derive(Default)]
pub struct ImapParser {
    client_offset: usize,
    client_state: ClientState,
    /// Literal bytes announced at the end of the last line, still to skip; the
    /// line after them goes on the same command.
    client_literal: Option<u32>,
    /// The next line goes on the command before it (it follows a literal).
    client_continues: bool,
    client_commands: u32,
    starttls_tag: [u8; MAX_TAG_LEN],
    starttls_tag_len: usize,
    client_tls_start: Option<usize>,
    server_offset: usize,
    server_literal: Option<u32>,
    server_continues: bool,
    server_failed: bool,
    server_tagged: u32,
    /// The last line was a tagged OK: a TLS handshake right after it shows
    /// that it answered STARTTLS, even without the client's side.
    after_tagged_ok: bool,
    /// The tag of the last tagged OK (empty when longer than
    /// [`MAX_TAG_LEN`]). A STARTTLS read after its tagged OK, because the
    /// server's bytes came first, is matched against it.
    last_ok_tag: [u8; MAX_TAG_LEN],
    last_ok_tag_len: usize,
    server_tls_start: Option<usize>,
    tls: Option<TlsParser>,
}

impl ImapParser {
    /// The offsets in the client and server streams where the TLS after an
    /// accepted STARTTLS starts, when known.
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

            if let Some(length) = self.client_literal {
                let Some(after) = skip(client, self.client_offset, length) else {
                    return;
                };
                self.client_offset = after;
                self.client_literal = None;
                self.client_continues = true;
            }
            let (next, line) = match parse_imap_line(&client[self.client_offset..]) {
                Ok(parsed) => parsed,
                Err(nom::Err::Incomplete(_)) => return,
                Err(_) => {
                    self.client_state = ClientState::Failed;
                    return;
                }
            };
            self.client_offset = client.len() - next.len();
            self.client_literal = line.literal;
            if !std::mem::take(&mut self.client_continues) {
                self.on_command(line.text, info);
            }
        }
    }

    fn on_command(&mut self, line: &[u8], info: &mut AppInfo) {
        let (tag, after_tag) = split_token(line);
        let (command, arguments) = split_token(after_tag);
        self.client_commands += 1;
        let imap = info.imap.get_or_insert_with(Default::default);
        if command.eq_ignore_ascii_case(b"LOGIN") {
            imap.login = true;
            info.cleartext_auth = true;
            self.client_state = ClientState::Finished;
        } else if command.eq_ignore_ascii_case(b"AUTHENTICATE") {
            if imap.authenticate_mechanism.is_none() {
                let mechanism = split_token(arguments).0;
                imap.authenticate_mechanism =
                    Some(copy_wire_text(mechanism, &mut info.truncated_fields));
            }
            info.cleartext_auth = true;
            self.client_state = ClientState::Finished;
        } else if command.eq_ignore_ascii_case(b"STARTTLS") {
            info.upgrade.requested = true;
            let kept = tag.len().min(MAX_TAG_LEN);
            self.starttls_tag[..kept].copy_from_slice(&tag[..kept]);
            self.starttls_tag_len = if tag.len() <= MAX_TAG_LEN { kept } else { 0 };
            self.client_state = ClientState::AfterUpgrade;
            // The server's reader may have read the tagged OK already and
            // stopped right after it, waiting for the TLS.
            let answered = self.after_tagged_ok
                && self.starttls_tag_len > 0
                && self.last_ok_tag[..self.last_ok_tag_len]
                    == self.starttls_tag[..self.starttls_tag_len];
            if answered && self.server_tls_start.is_none() {
                info.upgrade.accepted = true;
                self.server_tls_start = Some(self.server_offset);
            }
        } else if command.eq_ignore_ascii_case(b"LOGOUT") {
            self.client_state = ClientState::Finished;
        }
    }

    fn read_server(&mut self, server: &[u8], info: &mut AppInfo) {
        while !self.server_failed && self.server_tls_start.is_none() {
            if self.after_tagged_ok && text::starts_tls_handshake(&server[self.server_offset..]) {
                info.upgrade.requested = true;
                info.upgrade.accepted = true;
                self.server_tls_start = Some(self.server_offset);
                return;
            }
            if let Some(length) = self.server_literal {
                let Some(after) = skip(server, self.server_offset, length) else {
                    return;
                };
                self.server_offset = after;
                self.server_literal = None;
                self.server_continues = true;
            }
            let (next, line) = match parse_imap_line(&server[self.server_offset..]) {
                Ok(parsed) => parsed,
                Err(nom::Err::Incomplete(_)) => return,
                Err(_) => {
                    self.server_failed = true;
                    return;
                }
            };
            self.server_offset = server.len() - next.len();
            self.server_literal = line.literal;
            self.after_tagged_ok = false;
            if !std::mem::take(&mut self.server_continues) {
                self.on_response(line.text, info);
            }
        }
    }

    fn on_response(&mut self, line: &[u8], info: &mut AppInfo) {
        let (tag, after_tag) = split_token(line);
        let (status, text) = split_token(after_tag);
        read_capabilities(status, text, info);
        if tag == b"*" || tag == b"+" {
            return;
        }

        self.server_tagged += 1;
        if !status.eq_ignore_ascii_case(b"OK") {
            return;
        }
        self.after_tagged_ok = true;
        self.last_ok_tag_len = 0;
        if tag.len() <= MAX_TAG_LEN {
            self.last_ok_tag[..tag.len()].copy_from_slice(tag);
            self.last_ok_tag_len = tag.len();
        }
        let answers_starttls =
            self.starttls_tag_len > 0 && tag == &self.starttls_tag[..self.starttls_tag_len];
        if answers_starttls {
            info.upgrade.requested = true;
            info.upgrade.accepted = true;
            self.server_tls_start = Some(self.server_offset);
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

/// Reads a CAPABILITY response or a `[CAPABILITY ...]` response code
/// (RFC 9051 sections 7.2.2 and 7.1).
fn read_capabilities(status: &[u8], text: &[u8], info: &mut AppInfo) {
    let list = if status.eq_ignore_ascii_case(b"CAPABILITY") {
        text
    } else if let Some(code) = text.strip_prefix(b"[") {
        let Some(end) = code.iter().position(|&byte| byte == b']') else {
            return;
        };
        let (name, list) = split_token(&code[..end]);
        if !name.eq_ignore_ascii_case(b"CAPABILITY") {
            return;
        }
        list
    } else {
        return;
    };
    for capability in tokens(list) {
        if capability.eq_ignore_ascii_case(b"STARTTLS") {
            info.upgrade.offered = true;
        } else if capability.eq_ignore_ascii_case(b"LOGINDISABLED") {
            info.imap
                .get_or_insert_with(Default::default)
                .login_disabled = true;
        }
    }
}

/// Returns the offset after `length` literal bytes from `offset`, when that
/// many bytes are there.
fn skip(stream: &[u8], offset: usize, length: u32) -> Option<usize> {
    let after = offset.checked_add(usize::try_from(length).ok()?)?;
    (after <= stream.len()).then_some(after)
}

impl StreamParser for ImapParser {
    fn on_stream(&mut self, client: &[u8], server: &[u8], info: &mut AppInfo) -> Progress {
        info.imap.get_or_insert_with(Default::default);
        self.read_client(client, info);
        self.read_server(server, info);

        let client_finished = self.client_state == ClientState::Finished;
        if self.client_tls_start.is_some() || self.server_tls_start.is_some() {
            if client_finished && self.client_tls_start.is_none() && !client.is_empty() {
                return Progress::Done;
            }
            return self.read_tls(client, server, info);
        }
        if client_finished && self.server_tagged >= self.client_commands {
            return Progress::Done;
        }
        Progress::NeedMore
    }
}
