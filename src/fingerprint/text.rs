//! Line helpers shared by the text protocols (SMTP, IMAP, POP3, HTTP/1.x and
//! the SSH identification string).
//!
//! Lines end in CR LF; a bare LF is accepted as well, as most servers do. A line
//! without its LF yet is `Incomplete`, so the caller waits for more bytes, and
//! a line longer than the protocol's limit is an error.

use nom::error::{Error, ErrorKind};
use nom::{Err, IResult, Needed};

/// Splits the first line off `i` and returns it without its line ending.
/// `max_len` counts the line ending too: a line that has no LF within
/// `max_len` bytes is an error (`ErrorKind::TooLarge`).
pub(crate) fn parse_line(i: &[u8], max_len: usize) -> IResult<&[u8], &[u8]> {
    let window = &i[..i.len().min(max_len)];
    match nom::bytes::streaming::take_until::<_, _, Error<&[u8]>>(&b"\n"[..])(window) {
        Ok((_, line)) => {
            let rest = &i[line.len() + 1..];
            Ok((rest, line.strip_suffix(b"\r").unwrap_or(line)))
        }
        Err(Err::Incomplete(_)) if i.len() >= max_len => {
            Err(Err::Error(Error::new(i, ErrorKind::TooLarge)))
        }
        Err(Err::Incomplete(_)) => Err(Err::Incomplete(Needed::Unknown)),
        Err(error) => Err(error),
    }
}

/// The bytes of an unfinished line without a CR at their end, which is the
/// first half of the line ending.
pub(crate) fn partial_line(i: &[u8]) -> &[u8] {
    i.strip_suffix(b"\r").unwrap_or(i)
}

/// Splits `line` at its first space into a token and the rest after the space.
pub(crate) fn split_token(line: &[u8]) -> (&[u8], &[u8]) {
    match line.iter().position(|&byte| byte == b' ') {
        Some(at) => (&line[..at], &line[at + 1..]),
        None => (line, &[]),
    }
}

/// Iterates over the space-separated tokens of `text`, skipping empty ones.
pub(crate) fn tokens(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|&byte| byte == b' ')
        .filter(|token| !token.is_empty())
}

/// Whether `text` starts with `prefix`, ignoring ASCII case.
pub(crate) fn starts_with_ignore_case(text: &[u8], prefix: &[u8]) -> bool {
    text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Whether `text` is a prefix of `word` (ignoring ASCII case): the bytes so
/// far may still grow into `word`.
pub(crate) fn is_prefix_of_ignore_case(text: &[u8], word: &[u8]) -> bool {
    text.len() <= word.len() && word[..text.len()].eq_ignore_ascii_case(text)
}

/// Whether `needle` occurs in `text`, ignoring ASCII case.
pub(crate) fn contains_ignore_case(text: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && text
            .windows(needle.len())
            .any(|window| window.eq_ignore_ascii_case(needle))
}

/// Whether `i` starts with a TLS handshake record header (RFC 8446 section
/// 5.1): content type 22 and a legacy record version 3.x. The text protocols
/// use it to find where the TLS after STARTTLS or STLS begins.
pub(crate) fn starts_tls_handshake(i: &[u8]) -> bool {
    matches!(i, [0x16, 0x03, minor, ..] if *minor <= 0x04)
}

/// Whether `i` is too short to tell if a TLS handshake record starts there.
pub(crate) fn may_start_tls_handshake(i: &[u8]) -> bool {
    matches!(i, [] | [0x16] | [0x16, 0x03])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_with_crlf() {
        assert_eq!(
            parse_line(b"EHLO a\r\nrest", 64),
            Ok((&b"rest"[..], &b"EHLO a"[..]))
        );
    }

    #[test]
    fn line_with_bare_lf() {
        assert_eq!(parse_line(b"+OK\nx", 64), Ok((&b"x"[..], &b"+OK"[..])));
    }

    #[test]
    fn line_without_lf_is_incomplete() {
        assert_eq!(
            parse_line(b"220 mail.exa", 64),
            Err(Err::Incomplete(Needed::Unknown))
        );
    }

    #[test]
    fn line_over_limit_is_error() {
        let line = [b'a'; 64];
        assert!(matches!(parse_line(&line, 64), Err(Err::Error(_))));
        // The LF must fall inside the limit.
        let mut long = vec![b'a'; 64];
        long.push(b'\n');
        assert!(matches!(parse_line(&long, 64), Err(Err::Error(_))));
        assert!(parse_line(&long, 65).is_ok());
    }

    #[test]
    fn tls_handshake_start() {
        assert!(starts_tls_handshake(&[0x16, 0x03, 0x01, 0x02, 0x00]));
        assert!(!starts_tls_handshake(&[0x17, 0x03, 0x03]));
        assert!(!starts_tls_handshake(b"QUIT\r\n"));
        assert!(may_start_tls_handshake(&[0x16]));
        assert!(!may_start_tls_handshake(b"Q"));
    }
}
