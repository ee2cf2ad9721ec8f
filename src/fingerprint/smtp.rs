//! SMTP (RFC 5321) with STARTTLS (RFC 3207), AUTH (RFC 4954), pipelining
//! (RFC 2920) and Exchange's X-ANONYMOUSTLS.
//!
//! The probe tells a server's reply stream from a client's command stream by
//! the first byte (a reply code starts with a digit). A `220` greeting alone is
//! not enough, because FTP greets with `220` too: the greeting must name SMTP
//! (`ESMTP`, as Postfix, Exim, Sendmail and Exchange do), or a later reply must
//! be SMTP's own (an EHLO keyword line, `354`, `334`, `235`). A reply code that
//! SMTP does not define, or a greeting that names FTP, is not mine.
//!
//! The parser reads the client's commands and the server's replies separately,
//! which also serves captures that hold only one side. The server's second
//! `220` reply can only answer STARTTLS or X-ANONYMOUSTLS, and the bytes after
//! it are TLS; on the client side, the TLS starts after the upgrade command
//! when the next bytes are a TLS handshake record.

use nom::IResult;
use nom::error::{Error, ErrorKind};

use super::text::{self, split_token, starts_with_ignore_case, tokens};
use super::tls::TlsParser;
use super::{AppInfo, ProbeResult, Progress, SmtpInfo, StreamParser, copy_wire_text};

/// Maximum length of an SMTP line, line ending included. RFC 5321 section
/// 4.5.3.1 allows 512 octets for commands and replies, and RFC 4954 section 4
/// raises the limit to 12288 octets for an AUTH command with its initial
/// response; the larger limit applies to both sides.
pub const MAX_SMTP_LINE_LEN: usize = 12_288;

/// Maximum number of AUTH mechanisms kept from the EHLO response.
pub const MAX_AUTH_MECHANISMS: usize = 16;

/// Reply lines the server probe reads before it stays unsure.
const MAX_PROBE_REPLY_LINES: usize = 64;

/// Longest command verb (`X-ANONYMOUSTLS`).
const MAX_VERB_LEN: usize = 16;

/// Verbs of RFC 5321, 3207, 4954, 3030 and 1985, and Exchange's upgrade verb.
const SMTP_VERBS: [&[u8]; 16] = [
    b"EHLO",
    b"HELO",
    b"MAIL",
    b"RCPT",
    b"DATA",
    b"BDAT",
    b"RSET",
    b"VRFY",
    b"EXPN",
    b"HELP",
    b"NOOP",
    b"QUIT",
    b"STARTTLS",
    b"AUTH",
    b"ETRN",
    b"X-ANONYMOUSTLS",
];

/// Reply codes of RFC 5321 section 4.2.3, RFC 3207, RFC 4954 and RFC 1985.
const SMTP_REPLY_CODES: [u16; 31] = [
    211, 214, 220, 221, 235, 250, 251, 252, 253, 334, 354, 421, 432, 450, 451, 452, 453, 454, 455,
    458, 459, 500, 501, 502, 503, 504, 530, 534, 535, 538, 550,
];

/// EHLO keywords that mark a server as SMTP (RFC 5321 section 4.1.1.1 and the
/// extensions registered with IANA that real servers announce).
const EHLO_KEYWORDS: [&[u8]; 14] = [
    b"PIPELINING",
    b"SIZE",
    b"8BITMIME",
    b"STARTTLS",
    b"AUTH",
    b"ENHANCEDSTATUSCODES",
    b"DSN",
    b"CHUNKING",
    b"SMTPUTF8",
    b"BINARYMIME",
    b"ETRN",
    b"VRFY",
    b"X-ANONYMOUSTLS",
    b"DELIVERBY",
];

/// One line of a server reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SmtpReplyLine<'a> {
    pub code: u16,
    /// A `-` after the code: more lines of the same reply follow.
    pub more: bool,
    pub text: &'a [u8],
}

/// One client command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SmtpCommand<'a> {
    pub verb: &'a [u8],
    pub argument: &'a [u8],
}

/// Parses one reply line: `Reply-code [ ( "-" / SP ) textstring ] CRLF`
/// (RFC 5321 section 4.2).
pub fn parse_smtp_reply_line(i: &[u8]) -> IResult<&[u8], SmtpReplyLine<'_>> {
    let (rest, line) = text::parse_line(i, MAX_SMTP_LINE_LEN)?;
    let (code, separator, text) = match line {
        [a, b, c] => ([*a, *b, *c], None, &[][..]),
        [a, b, c, separator, text @ ..] => ([*a, *b, *c], Some(*separator), text),
        _ => return Err(nom::Err::Error(Error::new(i, ErrorKind::Digit))),
    };
    let code = parse_reply_code(code).ok_or(nom::Err::Error(Error::new(i, ErrorKind::Digit)))?;
    let more = match separator {
        None | Some(b' ') => false,
        Some(b'-') => true,
        Some(_) => return Err(nom::Err::Error(Error::new(i, ErrorKind::Char))),
    };
    Ok((rest, SmtpReplyLine { code, more, text }))
}

/// Parses one command line into its verb and argument (RFC 5321 section 4.1.1).
pub fn parse_smtp_command(i: &[u8]) -> IResult<&[u8], SmtpCommand<'_>> {
    let (rest, line) = text::parse_line(i, MAX_SMTP_LINE_LEN)?;
    let (verb, argument) = split_token(line);
    if !is_verb(verb) {
        return Err(nom::Err::Error(Error::new(i, ErrorKind::Alpha)));
    }
    Ok((rest, SmtpCommand { verb, argument }))
}

/// Probes the first bytes of one direction.
pub fn probe(i: &[u8]) -> ProbeResult {
    match i.first() {
        None => ProbeResult::unsure(None),
        Some(byte) if byte.is_ascii_digit() => probe_server(i),
        Some(_) => probe_client(i),
    }
}

fn probe_server(i: &[u8]) -> ProbeResult {
    let server = Some(true);
    let mut rest = i;
    let mut replies = 0usize;
    let mut open_reply: Option<u16> = None;
    let mut line_in_reply = 0usize;

    for _ in 0..MAX_PROBE_REPLY_LINES {
        let (next, line) = match parse_smtp_reply_line(rest) {
            Ok(parsed) => parsed,
            Err(nom::Err::Incomplete(_)) => {
                return if partial_reply_line_fits(text::partial_line(rest)) {
                    ProbeResult::unsure(server)
                } else {
                    ProbeResult::NOT_MINE
                };
            }
            Err(_) => return ProbeResult::NOT_MINE,
        };
        if open_reply.is_some_and(|code| code != line.code) {
            // RFC 5321 section 4.2.1: every line of a reply has the same code.
            return ProbeResult::NOT_MINE;
        }

        if replies == 0 {
            if !matches!(line.code, 220 | 421 | 554) {
                return ProbeResult::NOT_MINE;
            }
            if text::contains_ignore_case(line.text, b"SMTP") {
                return ProbeResult::certain(server);
            }
            if text::contains_ignore_case(line.text, b"FTP") {
                return ProbeResult::NOT_MINE;
            }
        } else {
            if !SMTP_REPLY_CODES.contains(&line.code) && !matches!(line.code, 551..=555) {
                return ProbeResult::NOT_MINE;
            }
            if matches!(line.code, 354 | 334 | 235) {
                return ProbeResult::certain(server);
            }
            let keyword = split_token(line.text).0;
            if line.code == 250 && line_in_reply > 0 && is_ehlo_keyword(keyword) {
                return ProbeResult::certain(server);
            }
        }

        if line.more {
            open_reply = Some(line.code);
            line_in_reply += 1;
        } else {
            open_reply = None;
            line_in_reply = 0;
            replies += 1;
            // After the STARTTLS reply the rest is TLS, not replies.
            if replies > 1 && line.code == 220 {
                return ProbeResult::unsure(server);
            }
        }
        rest = next;
    }
    ProbeResult::unsure(server)
}

/// Whether an unfinished reply line can still become one: up to three digits
/// of a code whose first digit is 2 to 5, then a space or `-`.
fn partial_reply_line_fits(i: &[u8]) -> bool {
    let code_fits = i
        .iter()
        .take(3)
        .enumerate()
        .all(|(at, byte)| byte.is_ascii_digit() && (at != 0 || (b'2'..=b'5').contains(byte)));
    code_fits && i.get(3).is_none_or(|byte| matches!(byte, b' ' | b'-'))
}

fn probe_client(i: &[u8]) -> ProbeResult {
    let client = Some(false);
    match parse_smtp_command(i) {
        Ok((_, command)) => classify_first_command(command),
        Err(nom::Err::Incomplete(_)) => {
            let i = text::partial_line(i);
            let (verb, after) = split_token(i);
            let verb_done = verb.len() < i.len();
            let fits = if verb_done {
                is_smtp_verb(verb)
            } else {
                SMTP_VERBS
                    .iter()
                    .any(|known| text::is_prefix_of_ignore_case(verb, known))
            };
            // The argument of MAIL and RCPT shows itself as it arrives.
            let argument_fits = !verb_done
                || !(verb.eq_ignore_ascii_case(b"MAIL") || verb.eq_ignore_ascii_case(b"RCPT"))
                || argument_may_start(verb, after);
            if fits && argument_fits {
                ProbeResult::unsure(client)
            } else {
                ProbeResult::NOT_MINE
            }
        }
        Err(_) => ProbeResult::NOT_MINE,
    }
}

fn argument_may_start(verb: &[u8], argument: &[u8]) -> bool {
    let keyword: &[u8] = if verb.eq_ignore_ascii_case(b"MAIL") {
        b"FROM:"
    } else {
        b"TO:"
    };
    text::is_prefix_of_ignore_case(&argument[..argument.len().min(keyword.len())], keyword)
}

/// A stream's first command: EHLO, HELO, `MAIL FROM:` and `RCPT TO:` are
/// SMTP's alone. Other SMTP verbs leave the probe unsure (a capture that
/// starts mid-session), and AUTH needs a mechanism, unlike POP3's bare AUTH.
fn classify_first_command(command: SmtpCommand<'_>) -> ProbeResult {
    let client = Some(false);
    let verb = command.verb;
    if verb.eq_ignore_ascii_case(b"EHLO") || verb.eq_ignore_ascii_case(b"HELO") {
        return ProbeResult::certain(client);
    }
    if (verb.eq_ignore_ascii_case(b"MAIL") && starts_with_ignore_case(command.argument, b"FROM:"))
        || (verb.eq_ignore_ascii_case(b"RCPT") && starts_with_ignore_case(command.argument, b"TO:"))
    {
        return ProbeResult::certain(client);
    }
    let takes_no_argument = [b"DATA", b"RSET", b"QUIT"]
        .iter()
        .any(|known| verb.eq_ignore_ascii_case(*known));
    if !is_smtp_verb(verb)
        || verb.eq_ignore_ascii_case(b"MAIL")
        || verb.eq_ignore_ascii_case(b"RCPT")
        || (verb.eq_ignore_ascii_case(b"AUTH") && command.argument.is_empty())
        || (takes_no_argument && !command.argument.is_empty())
    {
        return ProbeResult::NOT_MINE;
    }
    ProbeResult::unsure(client)
}

fn parse_reply_code(digits: [u8; 3]) -> Option<u16> {
    let [a, b, c] = digits;
    // RFC 5321 section 4.2: the first digit is 2 to 5, the second 0 to 5.
    if !(b'2'..=b'5').contains(&a) || !(b'0'..=b'5').contains(&b) || !c.is_ascii_digit() {
        return None;
    }
    Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
}

fn is_verb(verb: &[u8]) -> bool {
    !verb.is_empty()
        && verb.len() <= MAX_VERB_LEN
        && verb
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || *byte == b'-')
}

fn is_smtp_verb(verb: &[u8]) -> bool {
    SMTP_VERBS
        .iter()
        .any(|known| verb.eq_ignore_ascii_case(known))
}

fn is_ehlo_keyword(keyword: &[u8]) -> bool {
    let keyword = keyword
        .split(|&byte| byte == b'=')
        .next()
        .unwrap_or(keyword);
    EHLO_KEYWORDS
        .iter()
        .any(|known| keyword.eq_ignore_ascii_case(known))
}

/// The state of the client's command reader.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum ClientState {
    #[default]
    Commands,
    /// After AUTH: lines are SASL responses until a known command comes.
    AuthExchange,
    /// After STARTTLS or X-ANONYMOUSTLS: TLS, or more cleartext commands if
    /// the client went on without TLS.
    AfterUpgrade,
    /// DATA, BDAT or QUIT was sent, or the rest is TLS.
    Finished,
    /// A line was over-long or not a command.
    Failed,
}

/// Reads an SMTP session from both sides and fills [`SmtpInfo`], the upgrade
/// and `cleartext_auth`, then hands the TLS after an upgrade to [`TlsParser`].
///
/// NOTE: reading stops at the first DATA, BDAT or QUIT, so an AUTH or STARTTLS
/// after a first mail transaction is not seen.
#[derive(Default)]
pub struct SmtpParser {
    client_offset: usize,
    client_state: ClientState,
    /// Command and SASL response lines read, each answered by one reply.
    client_lines: u32,
    client_tls_start: Option<usize>,
    server_offset: usize,
    server_failed: bool,
    /// Complete replies read, greeting included.
    server_replies: u32,
    open_reply: Option<u16>,
    line_in_reply: u32,
    server_tls_start: Option<usize>,
    tls: Option<TlsParser>,
}

impl SmtpParser {
    /// The offsets in the client and server streams where the TLS after an
    /// accepted upgrade starts, when known.
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
                    // No TLS: the client went on in cleartext.
                    self.client_state = ClientState::Commands;
                }
                ClientState::Commands | ClientState::AuthExchange => {}
            }

            let rest = &client[self.client_offset..];
            let (next, command) = match parse_smtp_command(rest) {
                Ok(parsed) => parsed,
                Err(nom::Err::Incomplete(_)) => return,
                Err(_) if self.client_state == ClientState::AuthExchange => {
                    // A SASL response such as `*` or base64 with `=`.
                    match text::parse_line(rest, MAX_SMTP_LINE_LEN) {
                        Ok((next, _)) => {
                            self.client_offset = client.len() - next.len();
                            self.client_lines += 1;
                            continue;
                        }
                        Err(nom::Err::Incomplete(_)) => return,
                        Err(_) => {
                            self.client_state = ClientState::Failed;
                            return;
                        }
                    }
                }
                Err(_) => {
                    self.client_state = ClientState::Failed;
                    return;
                }
            };
            self.client_offset = client.len() - next.len();
            self.client_lines += 1;
            if self.client_state == ClientState::AuthExchange && !is_smtp_verb(command.verb) {
                continue;
            }
            self.client_state = ClientState::Commands;
            self.on_command(command, info);
        }
    }

    fn on_command(&mut self, command: SmtpCommand<'_>, info: &mut AppInfo) {
        let verb = command.verb;
        let smtp = info.smtp.get_or_insert_with(Default::default);
        if verb.eq_ignore_ascii_case(b"EHLO") || verb.eq_ignore_ascii_case(b"HELO") {
            if smtp.helo.is_none() {
                let name = split_token(command.argument).0;
                smtp.helo = Some(copy_wire_text(name, &mut info.truncated_fields));
            }
        } else if verb.eq_ignore_ascii_case(b"AUTH") {
            if smtp.auth_attempted.is_none() {
                let mechanism = split_token(command.argument).0;
                smtp.auth_attempted = Some(copy_wire_text(mechanism, &mut info.truncated_fields));
            }
            info.cleartext_auth = true;
            self.client_state = ClientState::AuthExchange;
        } else if verb.eq_ignore_ascii_case(b"STARTTLS")
            || verb.eq_ignore_ascii_case(b"X-ANONYMOUSTLS")
        {
            info.upgrade.requested = true;
            if verb.eq_ignore_ascii_case(b"X-ANONYMOUSTLS") {
                smtp.anonymous_tls = true;
            }
            self.client_state = ClientState::AfterUpgrade;
        } else if verb.eq_ignore_ascii_case(b"DATA")
            || verb.eq_ignore_ascii_case(b"BDAT")
            || verb.eq_ignore_ascii_case(b"QUIT")
        {
            self.client_state = ClientState::Finished;
        }
    }

    fn read_server(&mut self, server: &[u8], info: &mut AppInfo) {
        while !self.server_failed && self.server_tls_start.is_none() {
            let rest = &server[self.server_offset..];
            let (next, line) = match parse_smtp_reply_line(rest) {
                Ok(parsed) => parsed,
                Err(nom::Err::Incomplete(_)) => return,
                Err(_) => {
                    self.server_failed = true;
                    return;
                }
            };
            self.server_offset = server.len() - next.len();

            if line.code == 250 && self.line_in_reply > 0 {
                on_ehlo_keyword_line(line.text, info);
            }
            if line.more {
                self.open_reply = Some(line.code);
                self.line_in_reply += 1;
                continue;
            }
            self.open_reply = None;
            self.line_in_reply = 0;
            self.server_replies += 1;
            // RFC 3207 section 4: 220 after the greeting answers the upgrade
            // command, and the TLS handshake starts right after it.
            if self.server_replies > 1 && line.code == 220 {
                info.upgrade.requested = true;
                info.upgrade.accepted = true;
                self.server_tls_start = Some(self.server_offset);
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

/// Reads one keyword line of an EHLO response (RFC 5321 section 4.1.1.1).
fn on_ehlo_keyword_line(line: &[u8], info: &mut AppInfo) {
    let (keyword, parameters) = split_token(line);
    if keyword.eq_ignore_ascii_case(b"STARTTLS") || keyword.eq_ignore_ascii_case(b"X-ANONYMOUSTLS")
    {
        info.upgrade.offered = true;
        return;
    }
    // `AUTH=PLAIN LOGIN` is the form older clients understood (RFC 4954
    // section 3 mentions servers that announce both).
    let first_mechanism: &[u8] = if keyword.eq_ignore_ascii_case(b"AUTH") {
        &[]
    } else if starts_with_ignore_case(keyword, b"AUTH=") {
        &keyword[5..]
    } else {
        return;
    };
    let smtp = info.smtp.get_or_insert_with(Default::default);
    let mechanisms = tokens(first_mechanism).chain(tokens(parameters));
    for mechanism in mechanisms {
        add_mechanism(smtp, mechanism, &mut info.truncated_fields);
    }
}

fn add_mechanism(smtp: &mut SmtpInfo, mechanism: &[u8], truncated_fields: &mut u32) {
    if smtp
        .auth_offered
        .iter()
        .any(|known| known.eq_ignore_ascii_case(mechanism))
    {
        return;
    }
    if smtp.auth_offered.len() >= MAX_AUTH_MECHANISMS {
        *truncated_fields = truncated_fields.saturating_add(1);
        return;
    }
    smtp.auth_offered
        .push(copy_wire_text(mechanism, truncated_fields));
}

impl StreamParser for SmtpParser {
    fn on_stream(&mut self, client: &[u8], server: &[u8], info: &mut AppInfo) -> Progress {
        info.smtp.get_or_insert_with(Default::default);
        self.read_client(client, info);
        self.read_server(server, info);

        let client_finished = self.client_state == ClientState::Finished;
        if self.client_tls_start.is_some() || self.server_tls_start.is_some() {
            if client_finished && self.client_tls_start.is_none() && !client.is_empty() {
                // The server accepted the upgrade but the client went on in
                // cleartext and ended the session: no TLS will follow.
                return Progress::Done;
            }
            return self.read_tls(client, server, info);
        }
        if client_finished && self.server_replies > self.client_lines {
            return Progress::Done;
        }
        Progress::NeedMore
    }
}
