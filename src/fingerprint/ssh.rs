//! The SSH identification string (RFC 4253 section 4.2).
//!
//! Both sides open with `SSH-protoversion-softwareversion [SP comments] CR LF`,
//! at most 255 bytes with the line ending. RFC 4253 lets a server send other
//! lines first; the probe does not wait for them, so such a server's side is
//! not mine, and its client's side still decides. Both sides send the same
//! shape, so the bytes do not tell which side is the server.

use nom::IResult;
use nom::error::{Error, ErrorKind};

use super::text;
use super::{AppInfo, ProbeResult, Progress, StreamParser, copy_wire_text};

/// Maximum length of the identification string, CR LF included (RFC 4253
/// section 4.2).
pub const MAX_SSH_IDENT_LEN: usize = 255;

/// Lines a server may send before its identification string that the parser
/// skips (RFC 4253 section 4.2).
pub const MAX_SSH_LINES_BEFORE_IDENT: usize = 16;

/// Parses the identification line and returns it without its line ending. A
/// line ending in a bare LF is accepted, as OpenSSH does for old peers.
pub fn parse_ssh_ident(i: &[u8]) -> IResult<&[u8], &[u8]> {
    let (rest, line) = text::parse_line(i, MAX_SSH_IDENT_LEN)?;
    if !is_ident(line) {
        return Err(nom::Err::Error(Error::new(i, ErrorKind::Tag)));
    }
    Ok((rest, line))
}

/// `SSH-` then a protocol version of digits and dots, then `-` and a software
/// version of printable characters (RFC 4253 section 4.2).
fn is_ident(line: &[u8]) -> bool {
    let Some(after) = line.strip_prefix(b"SSH-") else {
        return false;
    };
    let Some(dash) = after.iter().position(|&byte| byte == b'-') else {
        return false;
    };
    let version = &after[..dash];
    let software = &after[dash + 1..];
    !version.is_empty()
        && version
            .iter()
            .all(|&byte| byte.is_ascii_digit() || byte == b'.')
        && !software.is_empty()
        && software.iter().all(|&byte| (0x20..0x7f).contains(&byte))
}

/// Probes the first bytes of one direction.
pub fn probe(i: &[u8]) -> ProbeResult {
    match parse_ssh_ident(i) {
        Ok(_) => ProbeResult::certain(None),
        Err(nom::Err::Incomplete(_)) if partial_ident_fits(i) => ProbeResult::unsure(None),
        Err(_) => ProbeResult::NOT_MINE,
    }
}

fn partial_ident_fits(i: &[u8]) -> bool {
    if i.len() <= 4 {
        return b"SSH-".starts_with(i);
    }
    let after = &i[4..];
    let version_len = after
        .iter()
        .position(|&byte| byte == b'-')
        .unwrap_or(after.len());
    i.starts_with(b"SSH-")
        && after[..version_len]
            .iter()
            .all(|&byte| byte.is_ascii_digit() || byte == b'.')
        && after[version_len..]
            .iter()
            .skip(1)
            .all(|&byte| (0x20..0x7f).contains(&byte) || byte == b'\r')
}

/// Reads each side's identification string.
#[derive(Debug, Default)]
pub struct SshParser {
    client_done: bool,
    server_done: bool,
}

/// Returns the identification string of one side, skipping up to
/// [`MAX_SSH_LINES_BEFORE_IDENT`] other lines; `Err(())` when there is none.
fn find_ident(mut i: &[u8]) -> Result<Option<&[u8]>, ()> {
    for _ in 0..=MAX_SSH_LINES_BEFORE_IDENT {
        match text::parse_line(i, MAX_SSH_IDENT_LEN) {
            Ok((_, line)) if is_ident(line) => return Ok(Some(line)),
            Ok((rest, _)) => i = rest,
            Err(nom::Err::Incomplete(_)) => return Ok(None),
            Err(_) => return Err(()),
        }
    }
    Err(())
}

impl StreamParser for SshParser {
    fn on_stream(&mut self, client: &[u8], server: &[u8], info: &mut AppInfo) -> Progress {
        if !self.client_done {
            match find_ident(client) {
                Ok(Some(ident)) => {
                    info.ssh_client_banner =
                        Some(copy_wire_text(ident, &mut info.truncated_fields));
                    self.client_done = true;
                }
                Ok(None) => {}
                Err(()) => self.client_done = true,
            }
        }
        if !self.server_done {
            match find_ident(server) {
                Ok(Some(ident)) => {
                    info.ssh_banner = Some(copy_wire_text(ident, &mut info.truncated_fields));
                    self.server_done = true;
                }
                Ok(None) => {}
                Err(()) => self.server_done = true,
            }
        }
        if self.client_done && self.server_done {
            Progress::Done
        } else {
            Progress::NeedMore
        }
    }
}
