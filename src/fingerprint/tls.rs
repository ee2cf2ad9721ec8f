//! TLS over TCP: the probe, the record and handshake parsers, and the stream
//! parser that fills [`TlsInfo`] from the ClientHello and the ServerHello.
//!
//! Versions: SSL 3.0 (RFC 6101) to TLS 1.3 (RFC 8446). Unknown version codes
//! are kept as integers. A handshake message may span several records
//! (RFC 5246 §6.2.1) and a record may span several TCP segments; both are
//! reassembled, the first without copying unless the message really spans
//! records.
//!
//! SSL 2.0: the probe and the parser accept an SSL 2.0 CLIENT-HELLO, both the
//! real SSL 2.0 one and the SSLv2-compatible hello of SSL 3.0 and TLS 1.0-1.2
//! clients (RFC 5246 Appendix E.2), and the SSL 2.0 SERVER-HELLO. The version
//! they name is reported; they carry no extensions, so SNI, ALPN and JA4 stay
//! empty.
//!
//! DTLS is out of scope: its record version (0xfeff, 0xfefd) is not 0x03xx, so
//! the probe returns [`ProbeAnswer::NotMine`] for DTLS datagrams.

use nom::bytes::streaming::take;
use nom::error::{ErrorKind, ParseError};
use nom::number::streaming::{be_u8, be_u16, be_u24};
use nom::{Err, IResult};

use super::ja4;
use super::{AppInfo, ProbeAnswer, ProbeResult, Progress, StreamParser, TlsInfo, WireText};

/// Record content types (RFC 8446 §5.1, RFC 6520 for heartbeat).
pub const CONTENT_CHANGE_CIPHER_SPEC: u8 = 20;
pub const CONTENT_ALERT: u8 = 21;
pub const CONTENT_HANDSHAKE: u8 = 22;
pub const CONTENT_APPLICATION_DATA: u8 = 23;
pub const CONTENT_HEARTBEAT: u8 = 24;

/// Handshake message types (RFC 8446 §4).
pub const HANDSHAKE_CLIENT_HELLO: u8 = 1;
pub const HANDSHAKE_SERVER_HELLO: u8 = 2;

/// Extension types (IANA TLS ExtensionType Values).
pub const EXT_SERVER_NAME: u16 = 0;
pub const EXT_SIGNATURE_ALGORITHMS: u16 = 13;
pub const EXT_ALPN: u16 = 16;
pub const EXT_SUPPORTED_VERSIONS: u16 = 43;

/// Version codes on the wire.
pub const VERSION_SSL_2_0: u16 = 0x0002;
pub const VERSION_SSL_3_0: u16 = 0x0300;
pub const VERSION_TLS_1_3: u16 = 0x0304;

/// Length of a record header: type, version, length.
pub const RECORD_HEADER_LEN: usize = 5;
/// Length of a handshake message header: type and a 24-bit length.
pub const HANDSHAKE_HEADER_LEN: usize = 4;

/// Maximum record fragment length: 2^14 bytes of plaintext plus the 2048 bytes
/// of expansion RFC 5246 §6.2.3 allows a TLSCiphertext (TLS 1.3 allows 256).
pub const MAX_RECORD_LEN: usize = (1 << 14) + 2048;
/// Maximum handshake message length reassembled. The wire field has 24 bits,
/// and a ClientHello with every list at its maximum would be about 128 KiB.
/// Real ones stay well under this cap: the largest in the test corpus has
/// 11414 bytes.
pub const MAX_HANDSHAKE_LEN: usize = 1 << 16;
/// Maximum SNI host name bytes kept: a DNS name has at most 253 characters in
/// presentation form (RFC 1035 §3.1), so longer names are cut to this length.
pub const MAX_SNI_LEN: usize = 255;
/// Maximum ALPN protocol names kept from one ClientHello; later names are not
/// kept (JA4 reads only the first).
pub const MAX_ALPN_PROTOCOLS: usize = 8;
/// Maximum session id length (RFC 5246 §7.4.1.2).
const MAX_SESSION_ID_LEN: usize = 32;
/// Bytes of the SSL 2.0 record header in its two-byte form.
const SSL2_HEADER_LEN: usize = 2;

/// Reasons a TLS parser rejects its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TlsErrorKind {
    #[error("unknown TLS record content type {0}")]
    UnknownContentType(u8),
    #[error("TLS record version {0:#06x} is not an SSL 3.0 to TLS 1.3 version (0x03xx)")]
    InvalidRecordVersion(u16),
    #[error("TLS record length {0} is over the maximum of {MAX_RECORD_LEN}")]
    RecordTooLong(usize),
    #[error("empty TLS handshake record")]
    EmptyHandshakeRecord,
    #[error("TLS handshake message length {0} is over the maximum of {MAX_HANDSHAKE_LEN}")]
    HandshakeTooLong(usize),
    #[error("truncated TLS {0}: a length field points past the end of its message")]
    Truncated(&'static str),
    #[error("invalid TLS {field} length {len}")]
    InvalidLength { field: &'static str, len: usize },
    #[error("TLS {0} has bytes after its last field")]
    TrailingBytes(&'static str),
    #[error("invalid SSL 2.0 {field} value {value:#x}")]
    InvalidSsl2 { field: &'static str, value: u16 },
    #[error("invalid TLS data ({0:?})")]
    Nom(ErrorKind),
}

/// A TLS parse failure with its position.
///
/// `offset` counts from the start of the stream, except for a handshake
/// message that spanned several records: there it counts from the start of the
/// reassembled message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{kind} at byte {offset}; the bytes are not TLS or are damaged, so this direction is not read further"
)]
pub struct TlsError {
    pub kind: TlsErrorKind,
    pub offset: usize,
}

/// The error type of the nom parsers in this module: what failed, and the
/// input where it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsParseError<'a> {
    pub kind: TlsErrorKind,
    pub input: &'a [u8],
}

impl TlsParseError<'_> {
    /// Converts the failure into a [`TlsError`] whose offset counts from the
    /// start of `base`, the buffer the parsed input was cut from.
    pub fn locate(&self, base: &[u8]) -> TlsError {
        TlsError {
            kind: self.kind,
            offset: offset_in(base, self.input),
        }
    }
}

impl<'a> ParseError<&'a [u8]> for TlsParseError<'a> {
    fn from_error_kind(input: &'a [u8], kind: ErrorKind) -> Self {
        TlsParseError {
            kind: TlsErrorKind::Nom(kind),
            input,
        }
    }

    fn append(_input: &'a [u8], _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

pub type TlsResult<'a, T> = IResult<&'a [u8], T, TlsParseError<'a>>;

/// Returns where `part` starts inside `base`, or `base.len()` when it does not
/// lie inside it.
pub(crate) fn offset_in(base: &[u8], part: &[u8]) -> usize {
    let start = base.as_ptr() as usize;
    let at = part.as_ptr() as usize;
    at.checked_sub(start)
        .filter(|&offset| offset <= base.len())
        .unwrap_or(base.len())
}

fn fail<T>(input: &[u8], kind: TlsErrorKind) -> TlsResult<'_, T> {
    Err(Err::Error(TlsParseError { kind, input }))
}

/// Parses a field whose bytes are all present (its enclosing length was
/// checked), so that running short means the field is damaged, not that more
/// bytes will come.
fn within<'a, T>(
    what: &'static str,
    body: &'a [u8],
    parser: impl FnOnce(&'a [u8]) -> TlsResult<'a, T>,
) -> TlsResult<'a, T> {
    match parser(body) {
        Err(Err::Incomplete(_)) => fail(
            body.get(body.len()..).unwrap_or_default(),
            TlsErrorKind::Truncated(what),
        ),
        other => other,
    }
}

fn take_bytes(count: usize) -> impl FnMut(&[u8]) -> TlsResult<'_, &[u8]> {
    move |i| take(count)(i)
}

/// Parses an opaque vector with a one-byte length (RFC 8446 §3.4).
fn parse_tls_vec_u8(i: &[u8]) -> TlsResult<'_, &[u8]> {
    let (i, len) = be_u8(i)?;
    take_bytes(usize::from(len))(i)
}

/// Parses an opaque vector with a two-byte length (RFC 8446 §3.4).
fn parse_tls_vec_u16(i: &[u8]) -> TlsResult<'_, &[u8]> {
    let (i, len) = be_u16(i)?;
    take_bytes(usize::from(len))(i)
}

/// Reads a list of 16-bit values whose length was checked to be even.
fn u16_items(bytes: &[u8]) -> impl Iterator<Item = u16> + '_ {
    bytes
        .chunks_exact(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
}

/// Tells whether a 16-bit value is a GREASE value (RFC 8701 §2): both bytes
/// equal, each of the form 0x?A.
pub fn is_grease(value: u16) -> bool {
    value & 0x0f0f == 0x0a0a && value >> 8 == value & 0xff
}

/// A TLS record header (RFC 8446 §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsRecordHeader {
    pub content_type: u8,
    pub version: u16,
    pub length: u16,
}

/// A TLS record: its header and its fragment, borrowed from the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsRecord<'a> {
    pub header: TlsRecordHeader,
    pub fragment: &'a [u8],
}

/// Parses a record header, rejecting each field as soon as its bytes are
/// there, so that a probe can reject other protocols after one byte.
pub fn parse_tls_record_header(i: &[u8]) -> TlsResult<'_, TlsRecordHeader> {
    let start = i;
    let (i, content_type) = be_u8(i)?;
    if !(CONTENT_CHANGE_CIPHER_SPEC..=CONTENT_HEARTBEAT).contains(&content_type) {
        return fail(start, TlsErrorKind::UnknownContentType(content_type));
    }
    let (i, version) = be_u16(i)?;
    if version >> 8 != 0x03 {
        return fail(start, TlsErrorKind::InvalidRecordVersion(version));
    }
    let (i, length) = be_u16(i)?;
    if usize::from(length) > MAX_RECORD_LEN {
        return fail(start, TlsErrorKind::RecordTooLong(usize::from(length)));
    }
    // RFC 8446 §5.1: implementations must not send empty handshake fragments.
    if length == 0 && content_type == CONTENT_HANDSHAKE {
        return fail(start, TlsErrorKind::EmptyHandshakeRecord);
    }
    Ok((
        i,
        TlsRecordHeader {
            content_type,
            version,
            length,
        },
    ))
}

/// Parses one whole record. A record cut short returns `Incomplete`.
pub fn parse_tls_record(i: &[u8]) -> TlsResult<'_, TlsRecord<'_>> {
    let (i, header) = parse_tls_record_header(i)?;
    let (i, fragment) = take_bytes(usize::from(header.length))(i)?;
    Ok((i, TlsRecord { header, fragment }))
}

/// A handshake message header (RFC 8446 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsHandshakeHeader {
    pub msg_type: u8,
    pub length: u32,
}

pub fn parse_tls_handshake_header(i: &[u8]) -> TlsResult<'_, TlsHandshakeHeader> {
    let start = i;
    let (i, msg_type) = be_u8(i)?;
    let (i, length) = be_u24(i)?;
    let len = usize::try_from(length).unwrap_or(usize::MAX);
    if len > MAX_HANDSHAKE_LEN {
        return fail(start, TlsErrorKind::HandshakeTooLong(len));
    }
    Ok((i, TlsHandshakeHeader { msg_type, length }))
}

/// A ClientHello (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2), borrowed from its
/// message. The parser checked every list and the extensions it reads, so the
/// accessors cannot fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsClientHello<'a> {
    /// `legacy_version`; TLS 1.3 clients send 0x0303 and list their versions
    /// in the supported_versions extension.
    pub version: u16,
    pub random: &'a [u8],
    pub session_id: &'a [u8],
    /// Cipher suite codes, two bytes each.
    pub cipher_suites: &'a [u8],
    pub compression_methods: &'a [u8],
    /// The extensions block without its length, or `None` when the hello ends
    /// after the compression methods (SSL 3.0 and old TLS clients).
    pub extensions: Option<&'a [u8]>,
}

impl<'a> TlsClientHello<'a> {
    pub fn cipher_suites(&self) -> impl Iterator<Item = u16> + 'a {
        u16_items(self.cipher_suites)
    }

    pub fn extensions(&self) -> TlsExtensions<'a> {
        TlsExtensions {
            rest: self.extensions.unwrap_or_default(),
        }
    }

    /// Returns the data of the first extension of a type.
    pub fn extension(&self, ext_type: u16) -> Option<&'a [u8]> {
        self.extensions()
            .find(|ext| ext.ext_type == ext_type)
            .map(|ext| ext.data)
    }

    /// Returns the first `host_name` of the server_name extension (RFC 6066 §3).
    pub fn server_name(&self) -> Option<&'a [u8]> {
        let data = self.extension(EXT_SERVER_NAME)?;
        parse_tls_extension_server_name(data).ok()?.1
    }

    /// Returns the ALPN protocol names in the client's order (RFC 7301 §3.1).
    pub fn alpn_protocols(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let list = self
            .extension(EXT_ALPN)
            .and_then(|data| parse_tls_extension_alpn(data).ok())
            .map(|(_, list)| list)
            .unwrap_or_default();
        AlpnProtocols { rest: list }
    }

    /// Returns the versions of the supported_versions extension (RFC 8446
    /// §4.2.1), GREASE included; empty when the extension is absent.
    pub fn supported_versions(&self) -> impl Iterator<Item = u16> + 'a {
        let list = self
            .extension(EXT_SUPPORTED_VERSIONS)
            .and_then(|data| parse_tls_extension_supported_versions(data).ok())
            .map(|(_, list)| list)
            .unwrap_or_default();
        u16_items(list)
    }

    /// Returns the signature_algorithms extension's list (RFC 8446 §4.2.3),
    /// GREASE included; empty when the extension is absent.
    pub fn signature_algorithms(&self) -> impl Iterator<Item = u16> + 'a {
        let list = self
            .extension(EXT_SIGNATURE_ALGORITHMS)
            .and_then(|data| parse_tls_extension_signature_algorithms(data).ok())
            .map(|(_, list)| list)
            .unwrap_or_default();
        u16_items(list)
    }

    /// Returns the highest version the client offers: the largest non-GREASE
    /// value of supported_versions when the extension is there, else
    /// `legacy_version`.
    pub fn highest_version(&self) -> u16 {
        self.supported_versions()
            .filter(|&version| !is_grease(version))
            .max()
            .unwrap_or(self.version)
    }
}

/// A ServerHello (RFC 8446 §4.1.3), borrowed from its message. A
/// HelloRetryRequest has the same form and parses as a ServerHello.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsServerHello<'a> {
    pub version: u16,
    pub random: &'a [u8],
    pub session_id: &'a [u8],
    pub cipher_suite: u16,
    pub compression_method: u8,
    pub extensions: Option<&'a [u8]>,
}

impl<'a> TlsServerHello<'a> {
    pub fn extensions(&self) -> TlsExtensions<'a> {
        TlsExtensions {
            rest: self.extensions.unwrap_or_default(),
        }
    }

    /// Returns the negotiated version: supported_versions' selected_version
    /// when present (TLS 1.3, RFC 8446 §4.2.1), else `legacy_version`.
    pub fn selected_version(&self) -> u16 {
        self.extensions()
            .find(|ext| ext.ext_type == EXT_SUPPORTED_VERSIONS)
            .and_then(|ext| be_u16::<_, TlsParseError>(ext.data).ok())
            .map_or(self.version, |(_, version)| version)
    }
}

/// One extension: its type and its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsExtension<'a> {
    pub ext_type: u16,
    pub data: &'a [u8],
}

/// Iterates over an extensions block that the hello parser checked.
#[derive(Clone, Debug)]
pub struct TlsExtensions<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for TlsExtensions<'a> {
    type Item = TlsExtension<'a>;

    fn next(&mut self) -> Option<TlsExtension<'a>> {
        match parse_tls_extension(self.rest) {
            Ok((rest, ext)) => {
                self.rest = rest;
                Some(ext)
            }
            Err(_) => {
                self.rest = &[];
                None
            }
        }
    }
}

/// Iterates over an ALPN protocol_name_list that the hello parser checked.
struct AlpnProtocols<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for AlpnProtocols<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match parse_tls_vec_u8(self.rest) {
            Ok((rest, name)) => {
                self.rest = rest;
                Some(name)
            }
            Err(_) => {
                self.rest = &[];
                None
            }
        }
    }
}

pub fn parse_tls_extension(i: &[u8]) -> TlsResult<'_, TlsExtension<'_>> {
    let (i, ext_type) = be_u16(i)?;
    let (i, data) = parse_tls_vec_u16(i)?;
    Ok((i, TlsExtension { ext_type, data }))
}

/// Parses the server_name extension data (RFC 6066 §3) and returns the first
/// `host_name` entry, if any.
pub fn parse_tls_extension_server_name(i: &[u8]) -> TlsResult<'_, Option<&[u8]>> {
    let (rest, list) = parse_tls_vec_u16(i)?;
    let mut entries = list;
    let mut host_name = None;
    while !entries.is_empty() {
        let (next, name_type) = within("server_name entry", entries, be_u8)?;
        let (next, name) = within("server_name entry", next, parse_tls_vec_u16)?;
        if name_type == 0 && host_name.is_none() {
            host_name = Some(name);
        }
        entries = next;
    }
    Ok((rest, host_name))
}

/// Parses the ALPN extension data (RFC 7301 §3.1) and returns the
/// protocol_name_list after checking that each name is one to 255 bytes.
pub fn parse_tls_extension_alpn(i: &[u8]) -> TlsResult<'_, &[u8]> {
    let (rest, list) = parse_tls_vec_u16(i)?;
    let mut names = list;
    while !names.is_empty() {
        let (next, name) = within("ALPN protocol name", names, parse_tls_vec_u8)?;
        if name.is_empty() {
            return fail(
                names,
                TlsErrorKind::InvalidLength {
                    field: "ALPN protocol name",
                    len: 0,
                },
            );
        }
        names = next;
    }
    Ok((rest, list))
}

/// Parses the ClientHello form of supported_versions (RFC 8446 §4.2.1): a list
/// of two-byte versions with a one-byte length.
pub fn parse_tls_extension_supported_versions(i: &[u8]) -> TlsResult<'_, &[u8]> {
    let start = i;
    let (rest, list) = parse_tls_vec_u8(i)?;
    if list.is_empty() || list.len() % 2 != 0 {
        return fail(
            start,
            TlsErrorKind::InvalidLength {
                field: "supported_versions",
                len: list.len(),
            },
        );
    }
    Ok((rest, list))
}

/// Parses signature_algorithms (RFC 8446 §4.2.3): two-byte schemes with a
/// two-byte length.
pub fn parse_tls_extension_signature_algorithms(i: &[u8]) -> TlsResult<'_, &[u8]> {
    let start = i;
    let (rest, list) = parse_tls_vec_u16(i)?;
    if list.is_empty() || list.len() % 2 != 0 {
        return fail(
            start,
            TlsErrorKind::InvalidLength {
                field: "signature_algorithms",
                len: list.len(),
            },
        );
    }
    Ok((rest, list))
}

/// Parses an extensions block (length and extensions) and checks that the
/// extensions fill it exactly.
fn parse_tls_extensions_block(i: &[u8]) -> TlsResult<'_, &[u8]> {
    let (rest, block) = parse_tls_vec_u16(i)?;
    let mut exts = block;
    while !exts.is_empty() {
        let (next, _ext) = within("extension", exts, parse_tls_extension)?;
        exts = next;
    }
    Ok((rest, block))
}

/// Checks the data of the extensions this module reads, so that a damaged one
/// fails the hello rather than disappearing from it.
fn check_client_extensions(block: &[u8]) -> TlsResult<'_, ()> {
    let extensions = TlsExtensions { rest: block };
    for ext in extensions {
        let checked = match ext.ext_type {
            EXT_SERVER_NAME => within("server_name", ext.data, parse_tls_extension_server_name)
                .map(|(rest, _)| rest),
            EXT_ALPN => within("ALPN", ext.data, parse_tls_extension_alpn).map(|(rest, _)| rest),
            EXT_SUPPORTED_VERSIONS => within(
                "supported_versions",
                ext.data,
                parse_tls_extension_supported_versions,
            )
            .map(|(rest, _)| rest),
            EXT_SIGNATURE_ALGORITHMS => within(
                "signature_algorithms",
                ext.data,
                parse_tls_extension_signature_algorithms,
            )
            .map(|(rest, _)| rest),
            _ => Ok(&[][..]),
        };
        let rest = checked?;
        if !rest.is_empty() {
            return fail(rest, TlsErrorKind::TrailingBytes("extension"));
        }
    }
    Ok((block, ()))
}

/// Parses a ClientHello body (the handshake message without its header).
///
/// The body must be whole: a hello that ends after the compression methods is
/// taken to have no extensions.
pub fn parse_tls_handshake_client_hello(i: &[u8]) -> TlsResult<'_, TlsClientHello<'_>> {
    let (i, version) = be_u16(i)?;
    let (i, random) = take_bytes(32)(i)?;
    let session_start = i;
    let (i, session_id) = parse_tls_vec_u8(i)?;
    if session_id.len() > MAX_SESSION_ID_LEN {
        return fail(
            session_start,
            TlsErrorKind::InvalidLength {
                field: "session_id",
                len: session_id.len(),
            },
        );
    }
    let suites_start = i;
    let (i, cipher_suites) = parse_tls_vec_u16(i)?;
    if cipher_suites.is_empty() || cipher_suites.len() % 2 != 0 {
        return fail(
            suites_start,
            TlsErrorKind::InvalidLength {
                field: "cipher_suites",
                len: cipher_suites.len(),
            },
        );
    }
    let methods_start = i;
    let (i, compression_methods) = parse_tls_vec_u8(i)?;
    if compression_methods.is_empty() {
        return fail(
            methods_start,
            TlsErrorKind::InvalidLength {
                field: "compression_methods",
                len: 0,
            },
        );
    }
    // RFC 5246 §7.4.1.2: the extensions block is optional and its absence is
    // told by the message ending here.
    let (i, extensions) = if i.is_empty() {
        (i, None)
    } else {
        let (i, block) = parse_tls_extensions_block(i)?;
        check_client_extensions(block)?;
        (i, Some(block))
    };
    let hello = TlsClientHello {
        version,
        random,
        session_id,
        cipher_suites,
        compression_methods,
        extensions,
    };
    Ok((i, hello))
}

/// Parses a ServerHello body (the handshake message without its header).
pub fn parse_tls_handshake_server_hello(i: &[u8]) -> TlsResult<'_, TlsServerHello<'_>> {
    let (i, version) = be_u16(i)?;
    let (i, random) = take_bytes(32)(i)?;
    let session_start = i;
    let (i, session_id) = parse_tls_vec_u8(i)?;
    if session_id.len() > MAX_SESSION_ID_LEN {
        return fail(
            session_start,
            TlsErrorKind::InvalidLength {
                field: "session_id",
                len: session_id.len(),
            },
        );
    }
    let (i, cipher_suite) = be_u16(i)?;
    let (i, compression_method) = be_u8(i)?;
    let (i, extensions) = if i.is_empty() {
        (i, None)
    } else {
        let (i, block) = parse_tls_extensions_block(i)?;
        (i, Some(block))
    };
    let hello = TlsServerHello {
        version,
        random,
        session_id,
        cipher_suite,
        compression_method,
        extensions,
    };
    Ok((i, hello))
}

/// An SSL 2.0 CLIENT-HELLO (SSL 2.0 draft; RFC 5246 Appendix E.2 for the
/// SSLv2-compatible form).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ssl2ClientHello<'a> {
    /// 0x0002 for SSL 2.0, or the TLS version of an SSLv2-compatible hello.
    pub version: u16,
    /// Cipher specs, three bytes each.
    pub cipher_specs: &'a [u8],
    pub session_id: &'a [u8],
    pub challenge: &'a [u8],
}

/// An SSL 2.0 SERVER-HELLO, without its certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ssl2ServerHello {
    pub version: u16,
    pub session_id_hit: bool,
}

/// Checks an SSL 2.0 field and fails at `at` when `valid` is false.
fn check_ssl2<'a>(at: &'a [u8], valid: bool, field: &'static str, value: u16) -> TlsResult<'a, ()> {
    if valid {
        Ok((at, ()))
    } else {
        fail(at, TlsErrorKind::InvalidSsl2 { field, value })
    }
}

/// Parses an SSL 2.0 CLIENT-HELLO record, its two-byte header included.
///
/// Fields are checked as they arrive, so a probe can say no early; the
/// lengths must add up to the record length.
pub fn parse_ssl2_client_hello(i: &[u8]) -> TlsResult<'_, Ssl2ClientHello<'_>> {
    let record_start = i;
    let (i, header) = be_u16(i)?;
    check_ssl2(record_start, header & 0x8000 != 0, "record header", header)?;
    let length = header & 0x7fff;
    let (i, msg_type) = be_u8(i)?;
    check_ssl2(
        record_start,
        msg_type == 1,
        "message type",
        u16::from(msg_type),
    )?;
    let (i, version) = be_u16(i)?;
    check_ssl2(
        record_start,
        version == VERSION_SSL_2_0 || version >> 8 == 0x03,
        "version",
        version,
    )?;
    let (i, cipher_specs_len) = be_u16(i)?;
    check_ssl2(
        record_start,
        cipher_specs_len > 0 && cipher_specs_len % 3 == 0,
        "cipher specs length",
        cipher_specs_len,
    )?;
    let (i, session_id_len) = be_u16(i)?;
    check_ssl2(
        record_start,
        matches!(session_id_len, 0 | 16),
        "session id length",
        session_id_len,
    )?;
    let (i, challenge_len) = be_u16(i)?;
    check_ssl2(
        record_start,
        (16..=32).contains(&challenge_len),
        "challenge length",
        challenge_len,
    )?;
    let body_len =
        9 + u32::from(cipher_specs_len) + u32::from(session_id_len) + u32::from(challenge_len);
    check_ssl2(
        record_start,
        body_len == u32::from(length),
        "record length",
        length,
    )?;
    let (i, cipher_specs) = take_bytes(usize::from(cipher_specs_len))(i)?;
    let (i, session_id) = take_bytes(usize::from(session_id_len))(i)?;
    let (i, challenge) = take_bytes(usize::from(challenge_len))(i)?;
    let hello = Ssl2ClientHello {
        version,
        cipher_specs,
        session_id,
        challenge,
    };
    Ok((i, hello))
}

/// Parses an SSL 2.0 SERVER-HELLO record, its two-byte header included; the
/// certificate, cipher specs and connection id are skipped.
pub fn parse_ssl2_server_hello(i: &[u8]) -> TlsResult<'_, Ssl2ServerHello> {
    let record_start = i;
    let (i, header) = be_u16(i)?;
    check_ssl2(record_start, header & 0x8000 != 0, "record header", header)?;
    let length = header & 0x7fff;
    let (i, msg_type) = be_u8(i)?;
    check_ssl2(
        record_start,
        msg_type == 4,
        "message type",
        u16::from(msg_type),
    )?;
    let (i, session_id_hit) = be_u8(i)?;
    check_ssl2(
        record_start,
        session_id_hit <= 1,
        "session id hit",
        u16::from(session_id_hit),
    )?;
    let (i, certificate_type) = be_u8(i)?;
    check_ssl2(
        record_start,
        certificate_type <= 1,
        "certificate type",
        u16::from(certificate_type),
    )?;
    let (i, version) = be_u16(i)?;
    check_ssl2(record_start, version == VERSION_SSL_2_0, "version", version)?;
    let (i, certificate_len) = be_u16(i)?;
    let (i, cipher_specs_len) = be_u16(i)?;
    check_ssl2(
        record_start,
        cipher_specs_len % 3 == 0,
        "cipher specs length",
        cipher_specs_len,
    )?;
    let (i, connection_id_len) = be_u16(i)?;
    check_ssl2(
        record_start,
        (16..=32).contains(&connection_id_len),
        "connection id length",
        connection_id_len,
    )?;
    let body_len = 11
        + u32::from(certificate_len)
        + u32::from(cipher_specs_len)
        + u32::from(connection_id_len);
    check_ssl2(
        record_start,
        body_len == u32::from(length),
        "record length",
        length,
    )?;
    let (i, _rest) = take_bytes(usize::from(length).saturating_sub(11))(i)?;
    Ok((
        i,
        Ssl2ServerHello {
            version,
            session_id_hit: session_id_hit == 1,
        },
    ))
}

/// The first handshake message of one direction, as far as this module reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsHandshake<'a> {
    ClientHello(TlsClientHello<'a>),
    ServerHello(TlsServerHello<'a>),
    Ssl2ClientHello(Ssl2ClientHello<'a>),
    Ssl2ServerHello(Ssl2ServerHello),
    /// Any other message type; its body is not parsed.
    Other(u8),
}

/// Parses one whole handshake message (header and body). A message cut short
/// returns `Incomplete`, and a hello whose fields overrun the message is an
/// error.
pub fn parse_tls_handshake_message(i: &[u8]) -> TlsResult<'_, TlsHandshake<'_>> {
    let (i, header) = parse_tls_handshake_header(i)?;
    let body_len = usize::try_from(header.length).unwrap_or(usize::MAX);
    let (i, body) = take_bytes(body_len)(i)?;
    let message = match header.msg_type {
        HANDSHAKE_CLIENT_HELLO => {
            let (rest, hello) = within("ClientHello", body, parse_tls_handshake_client_hello)?;
            if !rest.is_empty() {
                return fail(rest, TlsErrorKind::TrailingBytes("ClientHello"));
            }
            TlsHandshake::ClientHello(hello)
        }
        HANDSHAKE_SERVER_HELLO => {
            let (rest, hello) = within("ServerHello", body, parse_tls_handshake_server_hello)?;
            if !rest.is_empty() {
                return fail(rest, TlsErrorKind::TrailingBytes("ServerHello"));
            }
            TlsHandshake::ServerHello(hello)
        }
        other => TlsHandshake::Other(other),
    };
    Ok((i, message))
}

/// Parses an SSL 2.0 hello of either side.
fn parse_ssl2_hello(i: &[u8]) -> TlsResult<'_, TlsHandshake<'_>> {
    match i.get(SSL2_HEADER_LEN) {
        Some(4) => {
            parse_ssl2_server_hello(i).map(|(i, hello)| (i, TlsHandshake::Ssl2ServerHello(hello)))
        }
        _ => parse_ssl2_client_hello(i).map(|(i, hello)| (i, TlsHandshake::Ssl2ClientHello(hello))),
    }
}

const UNSURE: ProbeResult = ProbeResult {
    answer: ProbeAnswer::Unsure,
    sender_is_server: None,
};

/// Probes the first bytes of one direction of a TCP flow.
///
/// - [`ProbeAnswer::Certain`]: a record header (known content type, version
///   0x03xx, length at most [`MAX_RECORD_LEN`]) starting a ClientHello or
///   ServerHello whose handshake length is sane and whose own version is
///   0x03xx, even when the rest of the message has not arrived; an SSL 2.0
///   CLIENT-HELLO or SERVER-HELLO; a cleartext alert (two bytes, level 1 or
///   2); or a whole encrypted alert (a connection picked up as it closes).
///   For the other content types, two records in a row whose headers check
///   out are certain too (a session picked up after its handshake).
/// - [`ProbeAnswer::Unsure`]: every byte so far fits but too few have arrived,
///   or the stream starts with another handshake message.
/// - [`ProbeAnswer::NotMine`] otherwise.
pub fn probe(bytes: &[u8]) -> ProbeResult {
    match bytes.first() {
        None => UNSURE,
        Some(&first) if first & 0x80 != 0 => probe_ssl2(bytes),
        Some(_) => probe_record(bytes),
    }
}

fn probe_ssl2(bytes: &[u8]) -> ProbeResult {
    match parse_ssl2_hello(bytes) {
        Ok((_, TlsHandshake::Ssl2ServerHello(_))) => certain(Some(true)),
        Ok((_, _)) => certain(Some(false)),
        Err(Err::Incomplete(_)) => {
            let sender_is_server = match bytes.get(SSL2_HEADER_LEN) {
                Some(1) => Some(false),
                Some(4) => Some(true),
                _ => None,
            };
            ProbeResult {
                answer: ProbeAnswer::Unsure,
                sender_is_server,
            }
        }
        Err(_) => ProbeResult::NOT_MINE,
    }
}

fn certain(sender_is_server: Option<bool>) -> ProbeResult {
    ProbeResult {
        answer: ProbeAnswer::Certain,
        sender_is_server,
    }
}

fn probe_record(bytes: &[u8]) -> ProbeResult {
    let (body, header) = match parse_tls_record_header(bytes) {
        Ok(ok) => ok,
        Err(Err::Incomplete(_)) => return UNSURE,
        Err(_) => return ProbeResult::NOT_MINE,
    };
    match header.content_type {
        CONTENT_HANDSHAKE => probe_handshake(body),
        CONTENT_ALERT => probe_alert(header, body),
        _ => probe_second_record(header, body),
    }
}

/// Probes the start of a handshake record's fragment.
fn probe_handshake(fragment: &[u8]) -> ProbeResult {
    let sender_is_server = match fragment.first() {
        None => return UNSURE,
        Some(&HANDSHAKE_CLIENT_HELLO) => Some(false),
        Some(&HANDSHAKE_SERVER_HELLO) => Some(true),
        // Another message first: the capture started mid-handshake, or the
        // record is encrypted (TLS 1.2 Finished).
        Some(_) => return UNSURE,
    };
    let unsure = ProbeResult {
        answer: ProbeAnswer::Unsure,
        sender_is_server,
    };
    let body = match parse_tls_handshake_header(fragment) {
        Ok((body, _)) => body,
        Err(Err::Incomplete(_)) => return unsure,
        Err(_) => return ProbeResult::NOT_MINE,
    };
    match be_u16::<_, TlsParseError>(body) {
        Ok((_, version)) if version >> 8 == 0x03 => certain(sender_is_server),
        Ok(_) => ProbeResult::NOT_MINE,
        Err(_) => unsure,
    }
}

/// Lengths of an encrypted two-byte alert. ChaCha20-Poly1305 adds a 16-byte
/// tag (18 bytes), TLS 1.3 a content type byte more (19), and AES-GCM an
/// 8-byte explicit nonce (26). CBC with a 16-byte IV and a SHA-384 MAC takes
/// up to 80 (RFC 5246 §6.2.3, RFC 8446 §5.2).
const ENCRYPTED_ALERT_LEN: std::ops::RangeInclusive<u16> = 18..=80;

/// Probes an alert record: a cleartext alert has two bytes, a level of 1
/// (warning) or 2 (fatal) and a description (RFC 8446 §6). An encrypted one
/// has a length in [`ENCRYPTED_ALERT_LEN`] and a record version from SSL 3.0
/// to TLS 1.2 (TLS 1.3 records carry 0x0303). It is often all that a flow
/// picked up as it closes carries, such as a retransmitted FIN.
fn probe_alert(header: TlsRecordHeader, body: &[u8]) -> ProbeResult {
    if header.length != 2 {
        let encrypted = ENCRYPTED_ALERT_LEN.contains(&header.length)
            && (0x0300..=0x0303).contains(&header.version);
        return match encrypted && body.len() >= usize::from(header.length) {
            true => certain(None),
            false => UNSURE,
        };
    }
    match body.first() {
        None => UNSURE,
        Some(1 | 2) => certain(None),
        Some(_) => ProbeResult::NOT_MINE,
    }
}

/// Probes a stream that starts with application data, a ChangeCipherSpec or a
/// heartbeat: one five-byte header is weak evidence, so the next record's
/// header must check out too.
fn probe_second_record(header: TlsRecordHeader, body: &[u8]) -> ProbeResult {
    let Some(next) = body.get(usize::from(header.length)..) else {
        return UNSURE;
    };
    match parse_tls_record_header(next) {
        Ok(_) => certain(None),
        Err(Err::Incomplete(_)) => UNSURE,
        Err(_) => ProbeResult::NOT_MINE,
    }
}

/// Reassembly state of one direction of the stream.
#[derive(Debug, Default)]
struct TlsDirection {
    /// Stream offset of the next record to read.
    offset: usize,
    /// The first handshake message while it spans several records; at most
    /// [`HANDSHAKE_HEADER_LEN`] + [`MAX_HANDSHAKE_LEN`] bytes.
    pending: Vec<u8>,
    /// Nothing more to read: the first handshake message was seen, or the
    /// direction cannot carry one.
    finished: bool,
}

impl TlsDirection {
    fn finish(&mut self) {
        self.finished = true;
        self.pending = Vec::new();
    }

    /// Reads the records that arrived since the last call and hands the
    /// direction's first handshake message, once whole, to `on_message`.
    fn read<F>(&mut self, stream: &[u8], on_message: &mut F) -> Result<(), TlsError>
    where
        F: FnMut(TlsHandshake<'_>),
    {
        if self.finished {
            return Ok(());
        }
        if self.offset == 0 && stream.first().is_some_and(|&first| first & 0x80 != 0) {
            return self.read_ssl2(stream, on_message);
        }
        while !self.finished {
            let Some(rest) = stream.get(self.offset..) else {
                return Ok(());
            };
            let record = match parse_tls_record(rest) {
                Ok((_, record)) => record,
                Err(Err::Incomplete(_)) => return Ok(()),
                Err(Err::Error(error) | Err::Failure(error)) => {
                    self.finish();
                    return Err(error.locate(stream));
                }
            };
            self.offset += RECORD_HEADER_LEN + record.fragment.len();
            if record.header.content_type != CONTENT_HANDSHAKE {
                // An alert, ChangeCipherSpec or application data before any
                // hello: no cleartext hello will follow in this direction.
                self.finish();
                return Ok(());
            }
            self.read_handshake_fragment(record.fragment, stream, on_message)?;
        }
        Ok(())
    }

    fn read_handshake_fragment<F>(
        &mut self,
        fragment: &[u8],
        stream: &[u8],
        on_message: &mut F,
    ) -> Result<(), TlsError>
    where
        F: FnMut(TlsHandshake<'_>),
    {
        if self.pending.is_empty() {
            // The usual case: the whole message is in this record, so it is
            // parsed where it lies.
            match parse_tls_handshake_message(fragment) {
                Ok((_, message)) => {
                    on_message(message);
                    self.finish();
                    return Ok(());
                }
                Err(Err::Incomplete(_)) => {}
                Err(Err::Error(error) | Err::Failure(error)) => {
                    self.finish();
                    return Err(error.locate(stream));
                }
            }
        }

        // The message spans records: collect its fragments. The header parser
        // rejects lengths over MAX_HANDSHAKE_LEN, so bytes past this cap belong
        // to later messages, which are not needed.
        let room = (HANDSHAKE_HEADER_LEN + MAX_HANDSHAKE_LEN).saturating_sub(self.pending.len());
        let kept = fragment.get(..room).unwrap_or(fragment);
        self.pending.extend_from_slice(kept);
        let result = match parse_tls_handshake_message(&self.pending) {
            Ok((_, message)) => {
                on_message(message);
                Ok(())
            }
            Err(Err::Incomplete(_)) => return Ok(()),
            Err(Err::Error(error) | Err::Failure(error)) => Err(error.locate(&self.pending)),
        };
        self.finish();
        result
    }

    fn read_ssl2<F>(&mut self, stream: &[u8], on_message: &mut F) -> Result<(), TlsError>
    where
        F: FnMut(TlsHandshake<'_>),
    {
        let result = match parse_ssl2_hello(stream) {
            Ok((_, message)) => {
                on_message(message);
                Ok(())
            }
            Err(Err::Incomplete(_)) => return Ok(()),
            Err(Err::Error(error) | Err::Failure(error)) => Err(error.locate(stream)),
        };
        self.finish();
        result
    }
}

/// Fills [`AppInfo::tls`] from the first handshake message of each direction.
///
/// Both streams start at the first TLS byte (for a STARTTLS session, the byte
/// after the upgrade command's response). A hello is accepted from either
/// direction, so a client and server given the wrong way round still yield
/// their fields.
#[derive(Debug, Default)]
pub struct TlsParser {
    client: TlsDirection,
    server: TlsDirection,
    client_hello_seen: bool,
    server_hello_seen: bool,
    error: Option<TlsError>,
}

impl TlsParser {
    /// Tells whether a ClientHello or ServerHello (of any version) was parsed.
    pub fn handshake_seen(&self) -> bool {
        self.client_hello_seen || self.server_hello_seen
    }

    /// Returns the first parse error, if any; the direction that hit it was
    /// given up.
    pub fn error(&self) -> Option<&TlsError> {
        self.error.as_ref()
    }

    fn note_error(&mut self, result: Result<(), TlsError>, side: &'static str) {
        if let Err(error) = result {
            log::debug!("tls: {side} stream: {error}");
            self.error.get_or_insert(error);
        }
    }
}

/// What the hellos have told so far.
struct HelloState<'p> {
    info: &'p mut AppInfo,
    client_hello_seen: &'p mut bool,
    server_hello_seen: &'p mut bool,
}

impl HelloState<'_> {
    fn on_message(&mut self, message: TlsHandshake<'_>) {
        match message {
            TlsHandshake::ClientHello(hello) => {
                let tls = tls_info(self.info);
                tls.sni = hello
                    .server_name()
                    .map(|name| copy_capped(name, MAX_SNI_LEN));
                tls.alpn = hello
                    .alpn_protocols()
                    .take(MAX_ALPN_PROTOCOLS)
                    .map(WireText::from)
                    .collect();
                if !*self.server_hello_seen {
                    tls.version = Some(hello.highest_version());
                }
                tls.ja4 = Some(ja4::ja4(&hello));
                *self.client_hello_seen = true;
            }
            TlsHandshake::Ssl2ClientHello(hello) => {
                let tls = tls_info(self.info);
                if !*self.server_hello_seen {
                    tls.version = Some(hello.version);
                }
                *self.client_hello_seen = true;
            }
            TlsHandshake::ServerHello(hello) => {
                tls_info(self.info).version = Some(hello.selected_version());
                *self.server_hello_seen = true;
            }
            TlsHandshake::Ssl2ServerHello(hello) => {
                tls_info(self.info).version = Some(hello.version);
                *self.server_hello_seen = true;
            }
            TlsHandshake::Other(msg_type) => {
                log::trace!("tls: first handshake message has type {msg_type}, not a hello");
            }
        }
    }
}

fn tls_info(info: &mut AppInfo) -> &mut TlsInfo {
    info.tls.get_or_insert_with(Default::default)
}

fn copy_capped(bytes: &[u8], max: usize) -> WireText {
    WireText::from(bytes.get(..max).unwrap_or(bytes))
}

impl StreamParser for TlsParser {
    fn on_stream(&mut self, client: &[u8], server: &[u8], info: &mut AppInfo) -> Progress {
        let mut hellos = HelloState {
            info,
            client_hello_seen: &mut self.client_hello_seen,
            server_hello_seen: &mut self.server_hello_seen,
        };
        let client_result = self
            .client
            .read(client, &mut |message| hellos.on_message(message));
        let server_result = self
            .server
            .read(server, &mut |message| hellos.on_message(message));
        self.note_error(client_result, "client");
        self.note_error(server_result, "server");

        if self.client.finished && self.server.finished {
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
    fn grease_values() {
        for high in 0..16u16 {
            let value = (high << 12) | 0x0a00 | (high << 4) | 0x0a;
            assert!(is_grease(value), "{value:#06x}");
        }
        assert!(!is_grease(0x0a1a));
        assert!(!is_grease(0x1301));
        assert!(!is_grease(0x0000));
    }

    #[test]
    fn offset_counts_from_base() {
        let base = [0u8; 10];
        assert_eq!(offset_in(&base, &base[4..]), 4);
        assert_eq!(offset_in(&base, &base[10..]), 10);
        let other = [0u8; 3];
        assert_eq!(offset_in(&base, &other), 10);
    }
}
