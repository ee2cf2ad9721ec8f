//! HTTP/1.x (RFC 9112) request and status lines, and the HTTP/2 connection
//! preface (RFC 9113 section 3.4).
//!
//! A request line is certain once it is complete and ends in an `HTTP/x.y`
//! version; the same shape with `RTSP/1.0` or `SIP/2.0` (RFC 2326, RFC 3261) is
//! not mine. HTTP/0.9's `GET /path` without a version (RFC 1945 section 4.1) is
//! certain too. A status line starts with `HTTP/x.y` and a three-digit code.
//!
//! HTTP/2 with prior knowledge (h2c, RFC 9113 section 3.3) is `http`: it is
//! HTTP over cleartext TCP, the protocol the matrix expects on port 80. The
//! client's preface is certain; the server's first frame must be SETTINGS
//! (section 3.4), which the probe checks field by field. HPACK-compressed
//! headers are not decoded, so such flows carry `http.http2` and no method,
//! path or status.

use nom::IResult;
use nom::error::{Error, ErrorKind};

use super::text::{self, split_token};
use super::{
    AppInfo, ExchangeService, HttpInfo, ProbeResult, Progress, StreamParser, copy_wire_text,
};

/// Maximum length of a request, status or header line, line ending included.
/// RFC 9112 section 3 recommends accepting request lines of at least 8000
/// octets.
pub const MAX_HTTP_LINE_LEN: usize = 8_192;

/// Header lines of the first request read for Host and User-Agent.
pub const MAX_HTTP_HEADER_LINES: usize = 128;

/// Longest method token the probe accepts (`VERSION-CONTROL`, WebDAV's longest,
/// has 15 characters).
const MAX_METHOD_LEN: usize = 32;

/// The client connection preface of HTTP/2 (RFC 9113 section 3.4).
pub const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Exchange virtual directories by their first path segment, compared
/// without case.
const EXCHANGE_DIRECTORIES: [(&[u8], ExchangeService); 8] = [
    (b"autodiscover", ExchangeService::Autodiscover),
    (b"ews", ExchangeService::Ews),
    (b"microsoft-server-activesync", ExchangeService::ActiveSync),
    (b"oab", ExchangeService::Oab),
    (b"owa", ExchangeService::Owa),
    (b"ecp", ExchangeService::Ecp),
    (b"mapi", ExchangeService::Mapi),
    (b"rpc", ExchangeService::Rpc),
];

/// A request line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestLine<'a> {
    pub method: &'a [u8],
    pub target: &'a [u8],
    /// `None` for an HTTP/0.9 simple request.
    pub version: Option<&'a [u8]>,
}

/// Parses a request line: `method SP request-target SP HTTP-version`
/// (RFC 9112 section 3). The method is the first token and the version the
/// last, and the target is everything between, since some clients send spaces
/// in it. Another protocol's version (`RTSP/1.0`) is an error.
pub fn parse_http_request_line(i: &[u8]) -> IResult<&[u8], RequestLine<'_>> {
    let (rest, line) = text::parse_line(i, MAX_HTTP_LINE_LEN)?;
    let (method, after_method) = split_token(line);
    if !is_method(method) || after_method.is_empty() {
        return Err(nom::Err::Error(Error::new(i, ErrorKind::Tag)));
    }
    let (target, version) = match after_method.iter().rposition(|&byte| byte == b' ') {
        Some(at) => (&after_method[..at], Some(&after_method[at + 1..])),
        None => (after_method, None),
    };
    match version {
        Some(version) if is_http_version(version) && !target.is_empty() => {}
        // HTTP/0.9 knew only GET (RFC 1945 section 4.1).
        None if method == b"GET" => {}
        _ => return Err(nom::Err::Error(Error::new(i, ErrorKind::Verify))),
    }
    Ok((
        rest,
        RequestLine {
            method,
            target,
            version,
        },
    ))
}

/// Parses a status line: `HTTP-version SP status-code SP [reason-phrase]`
/// (RFC 9112 section 4), and returns the status code. The version is matched
/// without case, as some servers send `http/1.1`.
pub fn parse_http_status_line(i: &[u8]) -> IResult<&[u8], u16> {
    let (rest, line) = text::parse_line(i, MAX_HTTP_LINE_LEN)?;
    let (version, after_version) = split_token(line);
    let code = after_version.get(..3).unwrap_or_default();
    let after_code = after_version.get(3);
    if !is_http_version(version)
        || code.len() != 3
        || !code.iter().all(u8::is_ascii_digit)
        || after_code.is_some_and(|&byte| byte != b' ')
    {
        return Err(nom::Err::Error(Error::new(i, ErrorKind::Verify)));
    }
    let status = code
        .iter()
        .fold(0u16, |value, digit| value * 10 + u16::from(digit - b'0'));
    Ok((rest, status))
}

/// Probes the first bytes of one direction.
pub fn probe(i: &[u8]) -> ProbeResult {
    if i.is_empty() {
        return ProbeResult::unsure(None);
    }
    if text::is_prefix_of_ignore_case(&i[..i.len().min(5)], b"HTTP/") {
        return probe_status_line(i);
    }
    if i[0] == 0 {
        return probe_http2_settings(i);
    }
    if HTTP2_PREFACE.starts_with(&i[..i.len().min(HTTP2_PREFACE.len())]) {
        return if i.len() >= HTTP2_PREFACE.len() {
            ProbeResult::certain(Some(false))
        } else {
            ProbeResult::unsure(Some(false))
        };
    }
    probe_request_line(i)
}

fn probe_status_line(i: &[u8]) -> ProbeResult {
    let server = Some(true);
    match parse_http_status_line(i) {
        Ok(_) => ProbeResult::certain(server),
        Err(nom::Err::Incomplete(_)) => ProbeResult::unsure(server),
        Err(_) => ProbeResult::NOT_MINE,
    }
}

fn probe_request_line(i: &[u8]) -> ProbeResult {
    let client = Some(false);
    match parse_http_request_line(i) {
        Ok(_) => ProbeResult::certain(client),
        Err(nom::Err::Incomplete(_)) => {
            let i = text::partial_line(i);
            let (method, _) = split_token(i);
            let method_done = method.len() < i.len();
            let method_fits = if method_done {
                is_method(method)
            } else {
                method.len() <= MAX_METHOD_LEN && method.iter().all(|&byte| is_tchar(byte))
            };
            if method_fits {
                ProbeResult::unsure(client)
            } else {
                ProbeResult::NOT_MINE
            }
        }
        Err(_) => ProbeResult::NOT_MINE,
    }
}

/// An h2c server's first bytes: a SETTINGS frame on stream 0 without flags,
/// whose length is a multiple of six and whose setting identifiers are the
/// ones RFC 9113 section 6.5.2, RFC 8441 and RFC 9218 define.
fn probe_http2_settings(i: &[u8]) -> ProbeResult {
    const FRAME_HEADER_LEN: usize = 9;
    const MAX_SETTINGS: usize = 16;
    let server = Some(true);
    let Some(header) = i.get(..FRAME_HEADER_LEN) else {
        return ProbeResult::unsure(server);
    };
    let length = usize::from(header[1]) << 8 | usize::from(header[2]);
    let frame_fits = header[0] == 0
        && length % 6 == 0
        && length <= 6 * MAX_SETTINGS
        && header[3] == 0x04
        && header[4] == 0
        && header[5..9] == [0, 0, 0, 0];
    if !frame_fits {
        return ProbeResult::NOT_MINE;
    }
    let Some(payload) = i.get(FRAME_HEADER_LEN..FRAME_HEADER_LEN + length) else {
        return ProbeResult::unsure(server);
    };
    let identifiers_known = payload
        .chunks_exact(6)
        .all(|setting| matches!(u16::from_be_bytes([setting[0], setting[1]]), 1..=6 | 8 | 9));
    if identifiers_known {
        ProbeResult::certain(server)
    } else {
        ProbeResult::NOT_MINE
    }
}

/// `HTTP/` DIGIT `.` DIGIT (RFC 9112 section 2.3), without case.
fn is_http_version(version: &[u8]) -> bool {
    matches!(version, [h, t1, t2, p, b'/', major, b'.', minor]
        if [*h, *t1, *t2, *p].eq_ignore_ascii_case(b"HTTP")
            && major.is_ascii_digit()
            && minor.is_ascii_digit())
}

fn is_method(method: &[u8]) -> bool {
    !method.is_empty()
        && method.len() <= MAX_METHOD_LEN
        && method.iter().all(|&byte| is_tchar(byte))
}

/// `tchar` of RFC 9110 section 5.6.2.
fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// The Exchange service a request names: the first path segment of the
/// target, or Outlook Anywhere's RPC_IN_DATA and RPC_OUT_DATA methods.
pub fn exchange_service(method: &[u8], target: &[u8]) -> Option<ExchangeService> {
    if method == b"RPC_IN_DATA" || method == b"RPC_OUT_DATA" {
        return Some(ExchangeService::Rpc);
    }
    let path = request_path(target);
    let first_segment = path
        .strip_prefix(b"/")?
        .split(|&byte| byte == b'/')
        .next()
        .unwrap_or_default();
    EXCHANGE_DIRECTORIES
        .iter()
        .find(|(directory, _)| first_segment.eq_ignore_ascii_case(directory))
        .map(|&(_, service)| service)
}

/// The path of a request target without its query: origin form as is, the
/// path of an absolute form (`http://host/path`), and authority and asterisk
/// forms as sent.
pub fn request_path(target: &[u8]) -> &[u8] {
    let mut path = target;
    let scheme_end = target.windows(3).position(|window| window == b"://");
    if let Some(scheme_end) = scheme_end.filter(|_| !target.starts_with(b"/")) {
        let after_scheme = &target[scheme_end + 3..];
        path = match after_scheme.iter().position(|&byte| byte == b'/') {
            Some(at) => &after_scheme[at..],
            None => b"/",
        };
    }
    match path.iter().position(|&byte| byte == b'?') {
        Some(at) => &path[..at],
        None => path,
    }
}

/// Reads the first request and the first response of a flow.
#[derive(Debug, Default)]
pub struct HttpParser {
    client_offset: usize,
    request_line_seen: bool,
    header_lines: usize,
    client_done: bool,
    server_done: bool,
}

impl HttpParser {
    fn read_client(&mut self, client: &[u8], http: &mut HttpInfo, truncated_fields: &mut u32) {
        if self.client_done {
            return;
        }
        if !self.request_line_seen {
            if client.starts_with(HTTP2_PREFACE) {
                http.http2 = true;
                self.client_done = true;
                return;
            }
            // `PRI * HTTP/2.0` is also a valid HTTP/1.1 request line, so bytes
            // that may still grow into the preface are not read as one. The
            // parser runs before the client's preface is whole when the
            // server's SETTINGS frame, which may come first (RFC 9113 section
            // 3.4), chose HTTP.
            if HTTP2_PREFACE.starts_with(client) {
                return;
            }
            let (next, request) = match parse_http_request_line(client) {
                Ok(parsed) => parsed,
                Err(nom::Err::Incomplete(_)) => return,
                Err(_) => {
                    self.client_done = true;
                    return;
                }
            };
            http.method = Some(copy_wire_text(request.method, truncated_fields));
            http.path = Some(copy_wire_text(
                request_path(request.target),
                truncated_fields,
            ));
            http.service = exchange_service(request.method, request.target);
            self.request_line_seen = true;
            self.client_offset = client.len() - next.len();
            if request.version.is_none() {
                self.client_done = true;
                return;
            }
        }

        while self.header_lines < MAX_HTTP_HEADER_LINES {
            let (next, line) =
                match text::parse_line(&client[self.client_offset..], MAX_HTTP_LINE_LEN) {
                    Ok(parsed) => parsed,
                    Err(nom::Err::Incomplete(_)) => return,
                    Err(_) => break,
                };
            self.client_offset = client.len() - next.len();
            self.header_lines += 1;
            if line.is_empty() {
                break;
            }
            read_header(line, http, truncated_fields);
        }
        self.client_done = true;
    }

    fn read_server(&mut self, server: &[u8], http: &mut HttpInfo) {
        if self.server_done || server.is_empty() {
            return;
        }
        match parse_http_status_line(server) {
            Ok((_, status)) => {
                http.status = Some(status);
                self.server_done = true;
            }
            Err(nom::Err::Incomplete(_)) => {}
            Err(_) => self.server_done = true,
        }
    }
}

/// Keeps the first Host and User-Agent header (RFC 9110 section 5.1: field
/// names are case-insensitive).
fn read_header(line: &[u8], http: &mut HttpInfo, truncated_fields: &mut u32) {
    let Some(colon) = line.iter().position(|&byte| byte == b':') else {
        return;
    };
    let name = &line[..colon];
    let value = line[colon + 1..].trim_ascii();
    let field = if name.eq_ignore_ascii_case(b"Host") {
        &mut http.host
    } else if name.eq_ignore_ascii_case(b"User-Agent") {
        &mut http.user_agent
    } else {
        return;
    };
    if field.is_none() {
        *field = Some(copy_wire_text(value, truncated_fields));
    }
}

impl StreamParser for HttpParser {
    fn on_stream(&mut self, client: &[u8], server: &[u8], info: &mut AppInfo) -> Progress {
        let http = info.http.get_or_insert_with(Default::default);
        self.read_client(client, http, &mut info.truncated_fields);
        self.read_server(server, http);
        if http.http2 {
            // Nothing past the preface is decoded.
            return Progress::Done;
        }
        if self.client_done && self.server_done {
            Progress::Done
        } else {
            Progress::NeedMore
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_of_absolute_form() {
        assert_eq!(
            request_path(b"http://gwm.example/research/x.asp?user=1"),
            b"/research/x.asp"
        );
        assert_eq!(request_path(b"/owa/?ae=Folder"), b"/owa/");
        assert_eq!(request_path(b"apache.org:443"), b"apache.org:443");
    }

    #[test]
    fn service_needs_whole_segment() {
        assert_eq!(
            exchange_service(b"GET", b"/OWA/auth.owa"),
            Some(ExchangeService::Owa)
        );
        assert_eq!(exchange_service(b"GET", b"/owa2/"), None);
        assert_eq!(exchange_service(b"GET", b"/"), None);
        assert_eq!(
            exchange_service(b"RPC_OUT_DATA", b"/x"),
            Some(ExchangeService::Rpc)
        );
    }
}
