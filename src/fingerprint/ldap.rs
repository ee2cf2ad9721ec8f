//! LDAP (RFC 4511) over TCP: the probe, the LDAPMessage parsers, and the
//! parser that fills [`LdapInfo`], follows StartTLS and hands the bytes after
//! it to a [`TlsParser`].
//!
//! The parser reads the client's first operation, its binds (a simple bind with
//! a password, or the SASL mechanism) and the StartTLS extended operation with
//! its response. Messages it does not need are skipped by their length, so a
//! large search result costs nothing.
//!
//! After a successful SASL bind whose mechanism can add a security layer
//! (GSSAPI, GSS-SPNEGO, DIGEST-MD5), later messages may be wrapped and
//! encrypted (RFC 4513 §5.2.1.3), so the parser stops there: the flow is
//! classified from the cleartext bind.

mod ber;

use nom::Err;
use nom::error::{ErrorKind, ParseError};

use self::ber::{
    BOOLEAN, ENUMERATED, INTEGER, OCTET_STRING, SEQUENCE, fail, parse_ber_element,
    parse_ber_header, parse_ber_integer, parse_ber_tagged,
};
use super::tls::{TlsParser, offset_in};
use super::{AppInfo, LdapInfo, ProbeAnswer, ProbeResult, Progress, StreamParser, WireText};

pub use self::ber::{BerHeader, MAX_LENGTH_OCTETS};

/// Maximum length of one element, and so of one LDAPMessage. Skipped
/// messages are not buffered, so the cap only rejects absurd lengths; real
/// search results stay well under it.
pub const MAX_LDAP_MESSAGE_LEN: usize = 1 << 24;
/// Maximum messages read from each direction of a flow. The parser is done
/// after the client's; after the server's, only the server's reading stops.
/// Each direction counts its own, so that where reading stops does not depend
/// on how the two directions' bytes interleaved.
pub const MAX_LDAP_MESSAGES: usize = 256;
/// Maximum SASL mechanism name bytes kept; registered names have at most 20
/// characters (RFC 4422 §3.1).
pub const MAX_SASL_MECHANISM_LEN: usize = 64;
/// The StartTLS extended operation (RFC 4511 §4.14.1).
pub const STARTTLS_OID: &[u8] = b"1.3.6.1.4.1.1466.20037";

/// SASL mechanisms that can wrap later messages in a security layer.
const SECURITY_LAYER_MECHANISMS: [&[u8]; 3] = [b"GSSAPI", b"GSS-SPNEGO", b"DIGEST-MD5"];

/// Reasons an LDAP parser rejects its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LdapErrorKind {
    #[error("BER identifier {found:#04x} where LDAP expects {expected:#04x}")]
    UnexpectedIdentifier { expected: u8, found: u8 },
    #[error("BER high-tag-number identifiers are not used by LDAP")]
    HighTagNumber,
    #[error("indefinite BER length, which LDAP does not allow (RFC 4511 §5.1)")]
    IndefiniteLength,
    #[error("BER length of {0} octets is not supported (at most {MAX_LENGTH_OCTETS})")]
    LengthTooLong(usize),
    #[error("BER element length {0} is over the maximum of {MAX_LDAP_MESSAGE_LEN}")]
    ElementTooLong(usize),
    #[error("BER integer of {len} octets is not supported (one to eight)")]
    InvalidInteger { len: usize },
    #[error("LDAP message ID {0} is outside 0 to 2147483647")]
    InvalidMessageId(i64),
    #[error("unknown LDAP protocol operation identifier {0:#04x}")]
    UnknownOperation(u8),
    #[error("invalid LDAP {field} value {value}")]
    InvalidValue { field: &'static str, value: i64 },
    #[error("truncated LDAP {0}: an element overruns its enclosing element")]
    Truncated(&'static str),
    #[error("LDAP {0} has bytes after its last element")]
    TrailingBytes(&'static str),
    #[error("invalid LDAP data ({0:?})")]
    Nom(ErrorKind),
}

/// An LDAP parse failure with its stream offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}; the stream is not LDAP or is damaged, so no more of it is read")]
pub struct LdapError {
    pub kind: LdapErrorKind,
    pub offset: usize,
}

/// The error type of the nom parsers in this module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LdapParseError<'a> {
    pub kind: LdapErrorKind,
    pub input: &'a [u8],
}

impl LdapParseError<'_> {
    /// Converts the failure into an [`LdapError`] whose offset counts from the
    /// start of `base`, the buffer the parsed input was cut from.
    pub fn locate(&self, base: &[u8]) -> LdapError {
        LdapError {
            kind: self.kind,
            offset: offset_in(base, self.input),
        }
    }
}

impl<'a> ParseError<&'a [u8]> for LdapParseError<'a> {
    fn from_error_kind(input: &'a [u8], kind: ErrorKind) -> Self {
        LdapParseError {
            kind: LdapErrorKind::Nom(kind),
            input,
        }
    }

    fn append(_input: &'a [u8], _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

pub type LdapNomResult<'a, T> = nom::IResult<&'a [u8], T, LdapParseError<'a>>;

/// Parses an element inside content that is all present, so that running
/// short is an error.
fn within<'a, T>(
    what: &'static str,
    content: &'a [u8],
    parser: impl FnOnce(&'a [u8]) -> LdapNomResult<'a, T>,
) -> LdapNomResult<'a, T> {
    match parser(content) {
        Err(Err::Incomplete(_)) => fail(
            content.get(content.len()..).unwrap_or_default(),
            LdapErrorKind::Truncated(what),
        ),
        other => other,
    }
}

/// Fails unless the content was read to its end.
fn expect_end<'a>(what: &'static str, rest: &'a [u8]) -> LdapNomResult<'a, ()> {
    if rest.is_empty() {
        Ok((rest, ()))
    } else {
        fail(rest, LdapErrorKind::TrailingBytes(what))
    }
}

/// The protocol operations of RFC 4511 §4.2 to §4.14 with their identifier
/// octets ([APPLICATION n], constructed unless the type is a simple one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LdapOperation {
    BindRequest,
    BindResponse,
    UnbindRequest,
    SearchRequest,
    SearchResultEntry,
    SearchResultDone,
    ModifyRequest,
    ModifyResponse,
    AddRequest,
    AddResponse,
    DelRequest,
    DelResponse,
    ModifyDnRequest,
    ModifyDnResponse,
    CompareRequest,
    CompareResponse,
    AbandonRequest,
    SearchResultReference,
    ExtendedRequest,
    ExtendedResponse,
    IntermediateResponse,
}

impl LdapOperation {
    pub fn from_identifier(identifier: u8) -> Option<LdapOperation> {
        let operation = match identifier {
            0x60 => LdapOperation::BindRequest,
            0x61 => LdapOperation::BindResponse,
            0x42 => LdapOperation::UnbindRequest,
            0x63 => LdapOperation::SearchRequest,
            0x64 => LdapOperation::SearchResultEntry,
            0x65 => LdapOperation::SearchResultDone,
            0x66 => LdapOperation::ModifyRequest,
            0x67 => LdapOperation::ModifyResponse,
            0x68 => LdapOperation::AddRequest,
            0x69 => LdapOperation::AddResponse,
            0x4a => LdapOperation::DelRequest,
            0x6b => LdapOperation::DelResponse,
            0x6c => LdapOperation::ModifyDnRequest,
            0x6d => LdapOperation::ModifyDnResponse,
            0x6e => LdapOperation::CompareRequest,
            0x6f => LdapOperation::CompareResponse,
            0x50 => LdapOperation::AbandonRequest,
            0x73 => LdapOperation::SearchResultReference,
            0x77 => LdapOperation::ExtendedRequest,
            0x78 => LdapOperation::ExtendedResponse,
            0x79 => LdapOperation::IntermediateResponse,
            _ => return None,
        };
        Some(operation)
    }

    /// Returns the operation's name in the ASN.1 of RFC 4511 §4.2.
    pub fn name(self) -> &'static str {
        match self {
            LdapOperation::BindRequest => "bindRequest",
            LdapOperation::BindResponse => "bindResponse",
            LdapOperation::UnbindRequest => "unbindRequest",
            LdapOperation::SearchRequest => "searchRequest",
            LdapOperation::SearchResultEntry => "searchResEntry",
            LdapOperation::SearchResultDone => "searchResDone",
            LdapOperation::ModifyRequest => "modifyRequest",
            LdapOperation::ModifyResponse => "modifyResponse",
            LdapOperation::AddRequest => "addRequest",
            LdapOperation::AddResponse => "addResponse",
            LdapOperation::DelRequest => "delRequest",
            LdapOperation::DelResponse => "delResponse",
            LdapOperation::ModifyDnRequest => "modDNRequest",
            LdapOperation::ModifyDnResponse => "modDNResponse",
            LdapOperation::CompareRequest => "compareRequest",
            LdapOperation::CompareResponse => "compareResponse",
            LdapOperation::AbandonRequest => "abandonRequest",
            LdapOperation::SearchResultReference => "searchResRef",
            LdapOperation::ExtendedRequest => "extendedReq",
            LdapOperation::ExtendedResponse => "extendedResp",
            LdapOperation::IntermediateResponse => "intermediateResponse",
        }
    }

    /// Tells whether servers send this operation.
    pub fn is_response(self) -> bool {
        matches!(
            self,
            LdapOperation::BindResponse
                | LdapOperation::SearchResultEntry
                | LdapOperation::SearchResultDone
                | LdapOperation::ModifyResponse
                | LdapOperation::AddResponse
                | LdapOperation::DelResponse
                | LdapOperation::ModifyDnResponse
                | LdapOperation::CompareResponse
                | LdapOperation::SearchResultReference
                | LdapOperation::ExtendedResponse
                | LdapOperation::IntermediateResponse
        )
    }
}

/// The start of an LDAPMessage: enough to name it and to skip it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LdapMessageHead {
    pub message_id: u32,
    pub operation: LdapOperation,
    /// Length of the whole message, outer header included.
    pub message_len: usize,
}

fn parse_ldap_message_id(i: &[u8]) -> LdapNomResult<'_, u32> {
    let (rest, value) = parse_ber_integer(INTEGER, i)?;
    match u32::try_from(value) {
        Ok(id) if id <= i32::MAX as u32 => Ok((rest, id)),
        _ => fail(i, LdapErrorKind::InvalidMessageId(value)),
    }
}

/// Parses the outer SEQUENCE header, the messageID and the protocolOp's
/// identifier and length, without needing the rest of the message.
pub fn parse_ldap_message_head(i: &[u8]) -> LdapNomResult<'_, LdapMessageHead> {
    let start = i;
    let (i, outer) = parse_ber_header(i)?;
    if outer.identifier != SEQUENCE {
        return fail(
            start,
            LdapErrorKind::UnexpectedIdentifier {
                expected: SEQUENCE,
                found: outer.identifier,
            },
        );
    }
    let outer_header_len = start.len() - i.len();
    let content_start = i;
    let (i, message_id) = parse_ldap_message_id(i)?;
    let op_start = i;
    let (i, op) = parse_ber_header(i)?;
    let Some(operation) = LdapOperation::from_identifier(op.identifier) else {
        return fail(op_start, LdapErrorKind::UnknownOperation(op.identifier));
    };
    let used = (content_start.len() - i.len()).saturating_add(op.length);
    if used > outer.length {
        return fail(op_start, LdapErrorKind::Truncated("protocolOp"));
    }
    let head = LdapMessageHead {
        message_id,
        operation,
        message_len: outer_header_len + outer.length,
    };
    Ok((i, head))
}

/// AuthenticationChoice (RFC 4511 §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LdapAuthentication<'a> {
    /// [0] simple: the password.
    Simple(&'a [u8]),
    /// [3] sasl: SaslCredentials.
    Sasl {
        mechanism: &'a [u8],
        credentials: Option<&'a [u8]>,
    },
    /// Another choice (reserved ones, or Microsoft's NTLM "sicily" binds).
    Other(u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LdapBindRequest<'a> {
    pub version: u8,
    pub name: &'a [u8],
    pub authentication: LdapAuthentication<'a>,
}

/// LDAPResult (RFC 4511 §4.1.9), without the referral.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LdapResult<'a> {
    pub result_code: u32,
    pub matched_dn: &'a [u8],
    pub diagnostic_message: &'a [u8],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LdapSearchRequest<'a> {
    pub base_object: &'a [u8],
    pub scope: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LdapExtendedRequest<'a> {
    pub request_name: &'a [u8],
    pub request_value: Option<&'a [u8]>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LdapExtendedResponse<'a> {
    pub result: LdapResult<'a>,
    pub response_name: Option<&'a [u8]>,
}

/// A protocolOp: the operations this module reads, and the others by type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LdapProtocolOp<'a> {
    BindRequest(LdapBindRequest<'a>),
    BindResponse(LdapResult<'a>),
    SearchRequest(LdapSearchRequest<'a>),
    SearchResultDone(LdapResult<'a>),
    ExtendedRequest(LdapExtendedRequest<'a>),
    ExtendedResponse(LdapExtendedResponse<'a>),
    /// A known operation whose content is not read.
    Other(LdapOperation),
}

impl LdapProtocolOp<'_> {
    pub fn operation(&self) -> LdapOperation {
        match self {
            LdapProtocolOp::BindRequest(_) => LdapOperation::BindRequest,
            LdapProtocolOp::BindResponse(_) => LdapOperation::BindResponse,
            LdapProtocolOp::SearchRequest(_) => LdapOperation::SearchRequest,
            LdapProtocolOp::SearchResultDone(_) => LdapOperation::SearchResultDone,
            LdapProtocolOp::ExtendedRequest(_) => LdapOperation::ExtendedRequest,
            LdapProtocolOp::ExtendedResponse(_) => LdapOperation::ExtendedResponse,
            LdapProtocolOp::Other(operation) => *operation,
        }
    }
}

/// An LDAPMessage (RFC 4511 §4.1.1), borrowed from the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LdapMessage<'a> {
    pub message_id: u32,
    pub op: LdapProtocolOp<'a>,
    /// The content of the [0] Controls element, when present.
    pub controls: Option<&'a [u8]>,
}

/// Parses the content of a BindRequest.
pub fn parse_ldap_bind_request(i: &[u8]) -> LdapNomResult<'_, LdapBindRequest<'_>> {
    let version_start = i;
    let (i, version) = within("bindRequest", i, |i| parse_ber_integer(INTEGER, i))?;
    let version = match u8::try_from(version) {
        Ok(version) if version >= 1 => version,
        _ => {
            return fail(
                version_start,
                LdapErrorKind::InvalidValue {
                    field: "bind version",
                    value: version,
                },
            );
        }
    };
    let (i, name) = within("bindRequest", i, |i| parse_ber_tagged(OCTET_STRING, i))?;
    let (i, (auth, content)) = within("bindRequest", i, parse_ber_element)?;
    let authentication = match auth.identifier {
        0x80 => LdapAuthentication::Simple(content),
        0xa3 => {
            let (rest, mechanism) = within("SaslCredentials", content, |i| {
                parse_ber_tagged(OCTET_STRING, i)
            })?;
            let (rest, credentials) = if rest.is_empty() {
                (rest, None)
            } else {
                let (rest, credentials) = within("SaslCredentials", rest, |i| {
                    parse_ber_tagged(OCTET_STRING, i)
                })?;
                (rest, Some(credentials))
            };
            expect_end("SaslCredentials", rest)?;
            LdapAuthentication::Sasl {
                mechanism,
                credentials,
            }
        }
        other => LdapAuthentication::Other(other),
    };
    let bind = LdapBindRequest {
        version,
        name,
        authentication,
    };
    Ok((i, bind))
}

/// Parses the leading LDAPResult fields; a referral or a response's own
/// fields may follow in the returned rest.
pub fn parse_ldap_result(i: &[u8]) -> LdapNomResult<'_, LdapResult<'_>> {
    let code_start = i;
    let (i, result_code) = within("LDAPResult", i, |i| parse_ber_integer(ENUMERATED, i))?;
    let Ok(result_code) = u32::try_from(result_code) else {
        return fail(
            code_start,
            LdapErrorKind::InvalidValue {
                field: "resultCode",
                value: result_code,
            },
        );
    };
    let (i, matched_dn) = within("LDAPResult", i, |i| parse_ber_tagged(OCTET_STRING, i))?;
    let (i, diagnostic_message) = within("LDAPResult", i, |i| parse_ber_tagged(OCTET_STRING, i))?;
    let result = LdapResult {
        result_code,
        matched_dn,
        diagnostic_message,
    };
    Ok((i, result))
}

/// Parses the content of a SearchRequest up to typesOnly and checks that a
/// filter and the attribute list follow.
pub fn parse_ldap_search_request(i: &[u8]) -> LdapNomResult<'_, LdapSearchRequest<'_>> {
    let (i, base_object) = within("searchRequest", i, |i| parse_ber_tagged(OCTET_STRING, i))?;
    let scope_start = i;
    let (i, scope) = within("searchRequest", i, |i| parse_ber_integer(ENUMERATED, i))?;
    let Ok(scope @ 0..=2) = u8::try_from(scope) else {
        return fail(
            scope_start,
            LdapErrorKind::InvalidValue {
                field: "search scope",
                value: scope,
            },
        );
    };
    let (i, _deref_aliases) = within("searchRequest", i, |i| parse_ber_integer(ENUMERATED, i))?;
    let (i, _size_limit) = within("searchRequest", i, |i| parse_ber_integer(INTEGER, i))?;
    let (i, _time_limit) = within("searchRequest", i, |i| parse_ber_integer(INTEGER, i))?;
    let (i, _types_only) = within("searchRequest", i, |i| parse_ber_tagged(BOOLEAN, i))?;
    // Filter: a context-specific choice (RFC 4511 §4.5.1.7).
    let filter_start = i;
    let (i, (filter, _)) = within("searchRequest", i, parse_ber_element)?;
    if filter.identifier & 0xc0 != 0x80 {
        return fail(
            filter_start,
            LdapErrorKind::InvalidValue {
                field: "search filter identifier",
                value: i64::from(filter.identifier),
            },
        );
    }
    let (i, _attributes) = within("searchRequest", i, |i| parse_ber_tagged(SEQUENCE, i))?;
    Ok((i, LdapSearchRequest { base_object, scope }))
}

/// Parses the content of an ExtendedRequest.
pub fn parse_ldap_extended_request(i: &[u8]) -> LdapNomResult<'_, LdapExtendedRequest<'_>> {
    let (i, request_name) = within("extendedReq", i, |i| parse_ber_tagged(0x80, i))?;
    let (i, request_value) = if i.is_empty() {
        (i, None)
    } else {
        let (i, value) = within("extendedReq", i, |i| parse_ber_tagged(0x81, i))?;
        (i, Some(value))
    };
    let request = LdapExtendedRequest {
        request_name,
        request_value,
    };
    Ok((i, request))
}

/// Parses the content of an ExtendedResponse.
pub fn parse_ldap_extended_response(i: &[u8]) -> LdapNomResult<'_, LdapExtendedResponse<'_>> {
    let (mut i, result) = parse_ldap_result(i)?;
    let mut response_name = None;
    while !i.is_empty() {
        let (rest, (header, content)) = within("extendedResp", i, parse_ber_element)?;
        match header.identifier {
            // referral [3], responseValue [11]
            0xa3 | 0x8b => {}
            0x8a => response_name = Some(content),
            other => {
                return fail(
                    i,
                    LdapErrorKind::UnexpectedIdentifier {
                        expected: 0x8a,
                        found: other,
                    },
                );
            }
        }
        i = rest;
    }
    let response = LdapExtendedResponse {
        result,
        response_name,
    };
    Ok((i, response))
}

/// Parses the content of a protocolOp of a known operation.
fn parse_ldap_protocol_op(
    operation: LdapOperation,
    content: &[u8],
) -> LdapNomResult<'_, LdapProtocolOp<'_>> {
    let (rest, op) = match operation {
        LdapOperation::BindRequest => parse_ldap_bind_request(content)
            .map(|(rest, bind)| (rest, LdapProtocolOp::BindRequest(bind)))?,
        LdapOperation::BindResponse => {
            // A serverSaslCreds [7] may follow the result.
            let (rest, result) = parse_ldap_result(content)?;
            let rest = if rest.is_empty() {
                rest
            } else {
                within("bindResponse", rest, |i| parse_ber_tagged(0x87, i))?.0
            };
            (rest, LdapProtocolOp::BindResponse(result))
        }
        LdapOperation::SearchRequest => parse_ldap_search_request(content)
            .map(|(rest, search)| (rest, LdapProtocolOp::SearchRequest(search)))?,
        LdapOperation::SearchResultDone => {
            let (rest, result) = parse_ldap_result(content)?;
            let rest = if rest.is_empty() {
                rest
            } else {
                within("searchResDone", rest, |i| parse_ber_tagged(0xa3, i))?.0
            };
            (rest, LdapProtocolOp::SearchResultDone(result))
        }
        LdapOperation::ExtendedRequest => parse_ldap_extended_request(content)
            .map(|(rest, request)| (rest, LdapProtocolOp::ExtendedRequest(request)))?,
        LdapOperation::ExtendedResponse => parse_ldap_extended_response(content)
            .map(|(rest, response)| (rest, LdapProtocolOp::ExtendedResponse(response)))?,
        other => (
            content.get(content.len()..).unwrap_or_default(),
            LdapProtocolOp::Other(other),
        ),
    };
    expect_end(operation.name(), rest)?;
    Ok((rest, op))
}

/// Parses a whole LDAPMessage. A message cut short returns `Incomplete`.
pub fn parse_ldap_message(i: &[u8]) -> LdapNomResult<'_, LdapMessage<'_>> {
    parse_ldap_message_head(i)?;
    let (rest, content) = parse_ber_tagged(SEQUENCE, i)?;
    let (inner, message_id) = within("LDAPMessage", content, parse_ldap_message_id)?;
    let (inner, (op_header, op_content)) = within("LDAPMessage", inner, parse_ber_element)?;
    let Some(operation) = LdapOperation::from_identifier(op_header.identifier) else {
        return fail(inner, LdapErrorKind::UnknownOperation(op_header.identifier));
    };
    let (_, op) = parse_ldap_protocol_op(operation, op_content)?;
    let (inner, controls) = if inner.is_empty() {
        (inner, None)
    } else {
        let (inner, controls) = within("LDAPMessage", inner, |i| parse_ber_tagged(0xa0, i))?;
        (inner, Some(controls))
    };
    expect_end("LDAPMessage", inner)?;
    let message = LdapMessage {
        message_id,
        op,
        controls,
    };
    Ok((rest, message))
}

/// Probes the first bytes of one direction of a TCP flow.
///
/// - [`ProbeAnswer::Certain`]: a whole LDAPMessage parses: a SEQUENCE with a
///   definite length, a messageID, a known protocolOp (whose content is
///   checked for binds, searches, results and extended operations) and
///   optional controls, nothing left over inside.
/// - [`ProbeAnswer::Unsure`]: every byte so far fits, but the message has not
///   all arrived.
/// - [`ProbeAnswer::NotMine`] otherwise.
///
/// `sender_is_server` follows the operation once its identifier has arrived.
pub fn probe(bytes: &[u8]) -> ProbeResult {
    let sender_is_server = match parse_ldap_message_head(bytes) {
        Ok((_, head)) => Some(head.operation.is_response()),
        Err(Err::Incomplete(_)) => None,
        Err(_) => return ProbeResult::NOT_MINE,
    };
    let answer = match parse_ldap_message(bytes) {
        Ok(_) => ProbeAnswer::Certain,
        Err(Err::Incomplete(_)) => ProbeAnswer::Unsure,
        Err(_) => return ProbeResult::NOT_MINE,
    };
    ProbeResult {
        answer,
        sender_is_server,
    }
}

/// State of the StartTLS exchange.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum StartTls {
    #[default]
    NotRequested,
    /// The client asked; its bytes after the request wait for the response.
    Requested {
        message_id: u32,
        client_tls_start: usize,
    },
    /// The server accepted: TLS starts at these stream offsets.
    Accepted {
        client_tls_start: usize,
        server_tls_start: usize,
    },
}

/// Reading state of one direction.
#[derive(Debug, Default)]
struct LdapDirection {
    /// Stream offset of the next message; it may lie past the bytes seen so
    /// far when a message is skipped before it has all arrived.
    offset: usize,
    finished: bool,
    /// Messages read or skipped.
    messages: usize,
}

/// Fills [`AppInfo::ldap`], [`AppInfo::cleartext_auth`] and, for StartTLS,
/// [`AppInfo::upgrade`] and [`AppInfo::tls`].
#[derive(Debug, Default)]
pub struct LdapParser {
    client: LdapDirection,
    server: LdapDirection,
    start_tls: StartTls,
    tls: Option<TlsParser>,
    /// The messageID of a SASL bind whose mechanism can add a security layer,
    /// while its response has not been read. The client sends nothing else
    /// until then (RFC 4511 §4.2.1), so its reading pauses.
    security_layer_bind: Option<u32>,
    /// Bind and extended requests the client's reader has read.
    client_requests: u32,
    /// Bind and extended responses the server's reader has read, unsolicited
    /// notifications (messageID 0) left out.
    server_responses: u32,
    error: Option<LdapError>,
}

impl LdapParser {
    /// Returns the first parse error, if any.
    pub fn error(&self) -> Option<&LdapError> {
        self.error.as_ref()
    }

    /// Returns how many messages were read or skipped, both directions together.
    pub fn messages_read(&self) -> usize {
        self.client.messages + self.server.messages
    }

    fn stop(&mut self) {
        self.client.finished = true;
        self.server.finished = true;
    }

    fn note_error(&mut self, error: LdapError, side: &'static str) {
        log::debug!("ldap: {side} stream: {error}");
        self.error.get_or_insert(error);
    }

    /// Reads the client's messages until it pauses for a StartTLS response,
    /// runs out of bytes, or fails.
    fn read_client(&mut self, stream: &[u8], info: &mut AppInfo) {
        while !self.client.finished
            && matches!(self.start_tls, StartTls::NotRequested)
            && self.security_layer_bind.is_none()
        {
            let Some(message) = self.next_message(stream, Side::Client, |op| {
                matches!(
                    op,
                    LdapOperation::BindRequest | LdapOperation::ExtendedRequest
                )
            }) else {
                return;
            };
            // NOTE: only the client's operations are named, so a capture that
            // holds just the server's side leaves `first_operation` empty.
            ldap_info(info)
                .first_operation
                .get_or_insert(message.operation.name());
            if message.operation == LdapOperation::UnbindRequest {
                // RFC 4511 §4.3: the client ends the session.
                self.stop();
                return;
            }
            let Some(message) = message.parsed else {
                continue;
            };
            self.client_requests += 1;
            match message.op {
                LdapProtocolOp::BindRequest(bind) => {
                    self.on_bind_request(message.message_id, bind, info)
                }
                LdapProtocolOp::ExtendedRequest(request)
                    if request.request_name == STARTTLS_OID =>
                {
                    // NOTE: `upgrade.offered` stays false. LDAP advertises
                    // StartTLS only in the root DSE's supportedExtension,
                    // inside search results this parser skips.
                    info.upgrade.requested = true;
                    self.start_tls = StartTls::Requested {
                        message_id: message.message_id,
                        client_tls_start: self.client.offset,
                    };
                }
                _ => {}
            }
        }
    }

    fn on_bind_request(&mut self, message_id: u32, bind: LdapBindRequest<'_>, info: &mut AppInfo) {
        match bind.authentication {
            // RFC 4513 §5.1.2: a simple bind with an empty password is an
            // unauthenticated bind and carries no credential.
            LdapAuthentication::Simple(password) if !password.is_empty() => {
                ldap_info(info).simple_bind = true;
                info.cleartext_auth = true;
            }
            LdapAuthentication::Sasl {
                mechanism,
                credentials,
            } => {
                let ldap = ldap_info(info);
                ldap.sasl_mechanism.get_or_insert_with(|| {
                    WireText::from(mechanism.get(..MAX_SASL_MECHANISM_LEN).unwrap_or(mechanism))
                });
                // PLAIN (RFC 4616) sends the password itself.
                if mechanism == b"PLAIN" && credentials.is_some_and(|c| !c.is_empty()) {
                    info.cleartext_auth = true;
                }
                if SECURITY_LAYER_MECHANISMS.contains(&mechanism) {
                    self.security_layer_bind = Some(message_id);
                }
            }
            _ => {}
        }
    }

    /// Reads the server's messages: bind responses (a security layer may
    /// start) and the StartTLS response.
    fn read_server(&mut self, stream: &[u8], info: &mut AppInfo) {
        while !self.server.finished && !matches!(self.start_tls, StartTls::Accepted { .. }) {
            if self.server_waits_for_client(stream) {
                return;
            }
            let Some(message) = self.next_message(stream, Side::Server, |op| {
                matches!(
                    op,
                    LdapOperation::BindResponse | LdapOperation::ExtendedResponse
                )
            }) else {
                return;
            };
            let Some(parsed) = message.parsed else {
                continue;
            };
            if parsed.message_id != 0 {
                self.server_responses += 1;
            }
            match parsed.op {
                LdapProtocolOp::BindResponse(result)
                    if self.security_layer_bind == Some(parsed.message_id) =>
                {
                    self.security_layer_bind = None;
                    // After a successful bind, later messages may be
                    // SASL-wrapped (RFC 4513 §5.2.1.3); any other result lets
                    // the client go on (saslBindInProgress: the next leg).
                    if result.result_code == 0 {
                        self.stop();
                    }
                }
                LdapProtocolOp::ExtendedResponse(response) => {
                    self.on_extended_response(parsed.message_id, response, info)
                }
                _ => {}
            }
        }
    }

    /// Returns whether the server's next message is a bind or extended
    /// response to a request that the client's reader has not read yet. A
    /// response carries its request's messageID (RFC 4511 section 4.1.1.1),
    /// and bind and extended requests get one response each. Read before its
    /// request, a StartTLS or bind response would be ignored, so the server's
    /// reader waits there until the client's bytes catch up or the client's
    /// side ends. This keeps the result the same whichever side's bytes
    /// arrive first.
    fn server_waits_for_client(&self, stream: &[u8]) -> bool {
        if self.client.finished || self.server_responses < self.client_requests {
            return false;
        }
        let Some(rest) = stream.get(self.server.offset..) else {
            return false;
        };
        matches!(
            parse_ldap_message_head(rest),
            Ok((_, head)) if head.message_id != 0
                && matches!(
                    head.operation,
                    LdapOperation::BindResponse | LdapOperation::ExtendedResponse
                )
        )
    }

    fn on_extended_response(
        &mut self,
        message_id: u32,
        response: LdapExtendedResponse<'_>,
        info: &mut AppInfo,
    ) {
        let StartTls::Requested {
            message_id: request_id,
            client_tls_start,
        } = self.start_tls
        else {
            return;
        };
        if message_id != request_id {
            return;
        }
        if response.result.result_code == 0 {
            info.upgrade.accepted = true;
            self.start_tls = StartTls::Accepted {
                client_tls_start,
                server_tls_start: self.server.offset,
            };
            self.tls = Some(TlsParser::default());
        } else {
            // Refused: the client goes on in cleartext (RFC 4511 §4.14.2).
            self.start_tls = StartTls::NotRequested;
        }
    }

    /// Reads the next message of a direction. Messages whose operation
    /// `wanted` does not accept are skipped by their length; the others are
    /// parsed once they have all arrived. Returns `None` when more bytes are
    /// needed or the direction failed.
    fn next_message<'s>(
        &mut self,
        stream: &'s [u8],
        side: Side,
        wanted: impl Fn(LdapOperation) -> bool,
    ) -> Option<ReadMessage<'s>> {
        let direction = match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        };
        let rest = stream.get(direction.offset..)?;
        let head = match parse_ldap_message_head(rest) {
            Ok((_, head)) => head,
            Err(Err::Incomplete(_)) => return None,
            Err(Err::Error(error) | Err::Failure(error)) => {
                direction.finished = true;
                self.note_error(error.locate(stream), side.name());
                return None;
            }
        };
        let parsed = if wanted(head.operation) {
            let bytes = rest.get(..head.message_len)?;
            match parse_ldap_message(bytes) {
                Ok((_, message)) => Some(message),
                Err(Err::Incomplete(_)) => return None,
                Err(Err::Error(error) | Err::Failure(error)) => {
                    direction.finished = true;
                    self.note_error(error.locate(stream), side.name());
                    return None;
                }
            }
        } else {
            None
        };
        direction.offset += head.message_len;
        direction.messages += 1;
        if direction.messages >= MAX_LDAP_MESSAGES {
            match side {
                Side::Client => self.stop(),
                Side::Server => direction.finished = true,
            }
        }
        Some(ReadMessage {
            operation: head.operation,
            parsed,
        })
    }
}

/// A message read by [`LdapParser::next_message`].
struct ReadMessage<'a> {
    operation: LdapOperation,
    /// The parsed message, when its operation was wanted.
    parsed: Option<LdapMessage<'a>>,
}

#[derive(Clone, Copy)]
enum Side {
    Client,
    Server,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

fn ldap_info(info: &mut AppInfo) -> &mut LdapInfo {
    info.ldap.get_or_insert_with(Default::default)
}

impl StreamParser for LdapParser {
    fn on_stream(&mut self, client: &[u8], server: &[u8], info: &mut AppInfo) -> Progress {
        // A refused StartTLS or a bind response lets the paused client go
        // on, so read until neither side moves.
        loop {
            let before = (
                self.client.offset,
                self.server.offset,
                self.start_tls,
                self.security_layer_bind,
            );
            self.read_client(client, info);
            self.read_server(server, info);
            if before
                == (
                    self.client.offset,
                    self.server.offset,
                    self.start_tls,
                    self.security_layer_bind,
                )
            {
                break;
            }
        }

        if let (
            StartTls::Accepted {
                client_tls_start,
                server_tls_start,
            },
            Some(tls),
        ) = (self.start_tls, self.tls.as_mut())
        {
            let client_tls = client.get(client_tls_start..).unwrap_or_default();
            let server_tls = server.get(server_tls_start..).unwrap_or_default();
            let progress = tls.on_stream(client_tls, server_tls, info);
            if tls.handshake_seen() {
                info.upgrade.tls_followed = true;
            }
            return progress;
        }
        if self.client.finished && self.server.finished {
            Progress::Done
        } else {
            Progress::NeedMore
        }
    }
}
