//! DNS (RFC 1035, EDNS per RFC 6891) over UDP and TCP: the probes, the
//! message parsers, and the parser that fills [`DnsInfo`] with the first
//! question and the response code of the first response.
//!
//! Names are read in place: a [`DnsName`] is a position in its message. It is
//! checked once (labels of at most 63 octets, at most 255 octets in all,
//! compression pointers that point backwards, at most
//! [`MAX_COMPRESSION_POINTERS`] of them) and copied only when the flow record
//! needs its presentation form.
//! Label bytes are kept as they are, non-ASCII included; the report escapes
//! them.

use std::borrow::Cow;

use nom::bytes::streaming::take;
use nom::error::{ErrorKind, ParseError};
use nom::number::streaming::{be_u16, be_u32};
use nom::{Err, IResult};

use super::tls::offset_in;
use super::{AppInfo, DnsInfo, ProbeAnswer, ProbeResult, Progress, StreamParser};

/// Length of the message header (RFC 1035 §4.1.1).
pub const DNS_HEADER_LEN: usize = 12;
/// Maximum length of a name in wire form, length octets included (RFC 1035
/// §3.1).
pub const MAX_NAME_LEN: usize = 255;
/// Maximum length of one label (RFC 1035 §3.1).
pub const MAX_LABEL_LEN: usize = 63;
/// Maximum compression pointers followed in one name. Each pointer must point
/// before itself, which already ends every chain; the cap bounds the work on
/// long chains of pointers to pointers. A name of 255 octets has at most 127
/// labels, so no real name needs more.
pub const MAX_COMPRESSION_POINTERS: usize = 127;
/// Length of the length prefix of a message over TCP (RFC 1035 §4.2.2).
pub const TCP_LENGTH_PREFIX_LEN: usize = 2;

/// The OPT pseudo-record type (RFC 6891 §6.1.1).
pub const TYPE_OPT: u16 = 41;

/// Header opcodes (IANA DNS OpCodes).
const OPCODE_QUERY: u8 = 0;
const OPCODE_IQUERY: u8 = 1;
const OPCODE_STATUS: u8 = 2;
const OPCODE_NOTIFY: u8 = 4;
const OPCODE_UPDATE: u8 = 5;

/// Reasons a DNS parser rejects its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DnsErrorKind {
    #[error("truncated DNS {0}")]
    Truncated(&'static str),
    #[error("DNS message length {0} is shorter than the {DNS_HEADER_LEN}-byte header")]
    MessageTooShort(usize),
    #[error(
        "DNS label length byte {0:#04x} is neither a label of at most {MAX_LABEL_LEN} octets nor a compression pointer"
    )]
    InvalidLabelType(u8),
    #[error("DNS name is longer than {MAX_NAME_LEN} octets")]
    NameTooLong,
    #[error("DNS compression pointer to offset {target} does not point before itself")]
    PointerNotBackwards { target: usize },
    #[error("DNS name follows more than {MAX_COMPRESSION_POINTERS} compression pointers")]
    TooManyPointers,
    #[error("invalid DNS data ({0:?})")]
    Nom(ErrorKind),
}

/// A DNS parse failure with its position, counted from the start of the
/// message (for TCP, from the start of the stream).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{kind} at byte {offset}; the message is not DNS or is damaged, so its fields are not used"
)]
pub struct DnsError {
    pub kind: DnsErrorKind,
    pub offset: usize,
}

/// The error type of the nom parsers in this module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnsParseError<'a> {
    pub kind: DnsErrorKind,
    pub input: &'a [u8],
}

impl DnsParseError<'_> {
    /// Converts the failure into a [`DnsError`] whose offset counts from the
    /// start of `base`, the buffer the parsed input was cut from.
    pub fn locate(&self, base: &[u8]) -> DnsError {
        DnsError {
            kind: self.kind,
            offset: offset_in(base, self.input),
        }
    }
}

impl<'a> ParseError<&'a [u8]> for DnsParseError<'a> {
    fn from_error_kind(input: &'a [u8], kind: ErrorKind) -> Self {
        DnsParseError {
            kind: DnsErrorKind::Nom(kind),
            input,
        }
    }

    fn append(_input: &'a [u8], _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

pub type DnsResult<'a, T> = IResult<&'a [u8], T, DnsParseError<'a>>;

fn fail<T>(input: &[u8], kind: DnsErrorKind) -> DnsResult<'_, T> {
    Err(Err::Error(DnsParseError { kind, input }))
}

/// Runs a parser on bytes that are all present (a datagram or a TCP frame),
/// so that running short is an error, not a request for more.
fn within<'a, T>(
    what: &'static str,
    message: &'a [u8],
    input: &'a [u8],
    parser: impl FnOnce(&'a [u8]) -> DnsResult<'a, T>,
) -> DnsResult<'a, T> {
    match parser(input) {
        Err(Err::Incomplete(_)) => fail(
            message.get(message.len()..).unwrap_or_default(),
            DnsErrorKind::Truncated(what),
        ),
        other => other,
    }
}

/// The message header (RFC 1035 §4.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnsHeader {
    pub id: u16,
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
}

impl DnsHeader {
    /// Returns the QR bit, set in a response.
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }

    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0x0f) as u8
    }

    /// Returns the four-bit RCODE of the header (without the EDNS extension).
    pub fn rcode(&self) -> u16 {
        self.flags & 0x000f
    }

    /// Returns the TC bit, set when the message was truncated to fit the
    /// transport.
    pub fn is_truncated(&self) -> bool {
        self.flags & 0x0200 != 0
    }

    fn record_count(&self) -> u32 {
        u32::from(self.qdcount)
            + u32::from(self.ancount)
            + u32::from(self.nscount)
            + u32::from(self.arcount)
    }
}

pub fn parse_dns_header(i: &[u8]) -> DnsResult<'_, DnsHeader> {
    let (i, id) = be_u16(i)?;
    let (i, flags) = be_u16(i)?;
    let (i, qdcount) = be_u16(i)?;
    let (i, ancount) = be_u16(i)?;
    let (i, nscount) = be_u16(i)?;
    let (i, arcount) = be_u16(i)?;
    let header = DnsHeader {
        id,
        flags,
        qdcount,
        ancount,
        nscount,
        arcount,
    };
    Ok((i, header))
}

/// A checked name, read in place in its message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnsName<'a> {
    message: &'a [u8],
    /// Offset of the name's first octet in `message`.
    start: usize,
}

impl<'a> DnsName<'a> {
    /// Returns the labels from the leftmost one, compression pointers
    /// followed; the root label is not returned.
    pub fn labels(&self) -> DnsLabels<'a> {
        DnsLabels {
            message: self.message,
            pos: self.start,
            pointers: 0,
        }
    }

    /// Returns the name in presentation form without the trailing dot (`.` for
    /// the root). A `.` or `\` inside a label is escaped with `\` (RFC 1035
    /// §5.1); every other byte is kept as it is.
    pub fn to_presentation(&self) -> Vec<u8> {
        let mut text = Vec::with_capacity(MAX_NAME_LEN);
        for (n, label) in self.labels().enumerate() {
            if n > 0 {
                text.push(b'.');
            }
            for &byte in label {
                if byte == b'.' || byte == b'\\' {
                    text.push(b'\\');
                }
                text.push(byte);
            }
        }
        if text.is_empty() {
            text.push(b'.');
        }
        text
    }
}

/// Iterates over the labels of a checked name.
#[derive(Clone, Debug)]
pub struct DnsLabels<'a> {
    message: &'a [u8],
    pos: usize,
    pointers: usize,
}

impl<'a> Iterator for DnsLabels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            let len = *self.message.get(self.pos)?;
            match len >> 6 {
                0b00 if len == 0 => return None,
                0b00 => {
                    let start = self.pos + 1;
                    let label = self.message.get(start..start + usize::from(len))?;
                    self.pos = start + usize::from(len);
                    return Some(label);
                }
                0b11 => {
                    // The parser checked every pointer; the cap only guards a
                    // name built by hand.
                    self.pointers += 1;
                    if self.pointers > MAX_COMPRESSION_POINTERS {
                        return None;
                    }
                    let low = *self.message.get(self.pos + 1)?;
                    self.pos = (usize::from(len & 0x3f) << 8) | usize::from(low);
                }
                _ => return None,
            }
        }
    }
}

/// Parses a name (RFC 1035 §3.1, §4.1.4). `message` is the whole message and
/// `i` is the suffix of it where the name starts. The returned input continues
/// after the name's in-place octets, which end after its first pointer.
///
/// The message is whole, so a name that runs past its end is an error.
pub fn parse_dns_name<'a>(message: &'a [u8], i: &'a [u8]) -> DnsResult<'a, DnsName<'a>> {
    let Some(start) = message.len().checked_sub(i.len()) else {
        return fail(i, DnsErrorKind::Truncated("name"));
    };
    let mut pos = start;
    let mut end_in_place = None;
    let mut name_len = 1; // the root label's length octet
    let mut pointers = 0;
    loop {
        let here = message.get(pos..).unwrap_or_default();
        let Some(&len) = message.get(pos) else {
            return fail(here, DnsErrorKind::Truncated("name"));
        };
        match len >> 6 {
            0b00 if len == 0 => {
                end_in_place.get_or_insert(pos + 1);
                break;
            }
            0b00 => {
                name_len += 1 + usize::from(len);
                if name_len > MAX_NAME_LEN {
                    return fail(here, DnsErrorKind::NameTooLong);
                }
                pos += 1 + usize::from(len);
                if pos > message.len() {
                    return fail(here, DnsErrorKind::Truncated("label"));
                }
            }
            0b11 => {
                let Some(&low) = message.get(pos + 1) else {
                    return fail(here, DnsErrorKind::Truncated("compression pointer"));
                };
                let target = (usize::from(len & 0x3f) << 8) | usize::from(low);
                // RFC 1035 §4.1.4: a pointer names a prior occurrence. One that
                // does not point before itself (or points into the header)
                // could loop.
                if target >= pos || target < DNS_HEADER_LEN {
                    return fail(here, DnsErrorKind::PointerNotBackwards { target });
                }
                pointers += 1;
                if pointers > MAX_COMPRESSION_POINTERS {
                    return fail(here, DnsErrorKind::TooManyPointers);
                }
                end_in_place.get_or_insert(pos + 2);
                pos = target;
            }
            _ => return fail(here, DnsErrorKind::InvalidLabelType(len)),
        }
    }
    let consumed = end_in_place.unwrap_or(pos) - start;
    let rest = i.get(consumed..).unwrap_or_default();
    Ok((rest, DnsName { message, start }))
}

/// A question entry (RFC 1035 §4.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnsQuestion<'a> {
    pub name: DnsName<'a>,
    pub qtype: u16,
    pub qclass: u16,
}

pub fn parse_dns_question<'a>(message: &'a [u8], i: &'a [u8]) -> DnsResult<'a, DnsQuestion<'a>> {
    let (i, name) = parse_dns_name(message, i)?;
    let (i, qtype) = within("question", message, i, be_u16)?;
    let (i, qclass) = within("question", message, i, be_u16)?;
    Ok((
        i,
        DnsQuestion {
            name,
            qtype,
            qclass,
        },
    ))
}

/// A resource record (RFC 1035 §4.1.3); the data is not interpreted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnsRecord<'a> {
    pub name: DnsName<'a>,
    pub rtype: u16,
    pub rclass: u16,
    pub ttl: u32,
    pub rdata: &'a [u8],
}

pub fn parse_dns_record<'a>(message: &'a [u8], i: &'a [u8]) -> DnsResult<'a, DnsRecord<'a>> {
    let (i, name) = parse_dns_name(message, i)?;
    let (i, rtype) = within("resource record", message, i, be_u16)?;
    let (i, rclass) = within("resource record", message, i, be_u16)?;
    let (i, ttl) = within("resource record", message, i, be_u32)?;
    let (i, rdlength) = within("resource record", message, i, be_u16)?;
    let (i, rdata) = within(
        "resource record data",
        message,
        i,
        take(usize::from(rdlength)),
    )?;
    let record = DnsRecord {
        name,
        rtype,
        rclass,
        ttl,
        rdata,
    };
    Ok((i, record))
}

/// The EDNS fields of an OPT record (RFC 6891 §6.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnsEdns {
    pub udp_payload_size: u16,
    /// The upper eight bits of the 12-bit RCODE.
    pub extended_rcode: u8,
    pub version: u8,
}

/// The parts of a message this module reads: the header, the first question
/// and the first OPT record. Every section was walked and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnsMessage<'a> {
    pub header: DnsHeader,
    pub question: Option<DnsQuestion<'a>>,
    pub edns: Option<DnsEdns>,
}

impl DnsMessage<'_> {
    /// Returns the response code, with the EDNS extended bits when an OPT
    /// record is present (RFC 6891 §6.1.3: 12 bits in all).
    pub fn rcode(&self) -> u16 {
        let extended = self.edns.map_or(0, |edns| u16::from(edns.extended_rcode));
        (extended << 4) | self.header.rcode()
    }
}

/// Parses a whole message (a UDP datagram or a TCP frame without its length
/// prefix): the header, every question and every record. Bytes after the last
/// record are returned as the rest.
pub fn parse_dns_message(message: &[u8]) -> DnsResult<'_, DnsMessage<'_>> {
    let (mut i, header) = within("header", message, message, parse_dns_header)?;
    let mut question = None;
    for _ in 0..header.qdcount {
        let (rest, entry) = parse_dns_question(message, i)?;
        question.get_or_insert(entry);
        i = rest;
    }
    let mut edns = None;
    let records = u32::from(header.ancount) + u32::from(header.nscount) + u32::from(header.arcount);
    for _ in 0..records {
        let (rest, record) = parse_dns_record(message, i)?;
        if record.rtype == TYPE_OPT && edns.is_none() {
            let [extended_rcode, version, _, _] = record.ttl.to_be_bytes();
            edns = Some(DnsEdns {
                udp_payload_size: record.rclass,
                extended_rcode,
                version,
            });
        }
        i = rest;
    }
    Ok((
        i,
        DnsMessage {
            header,
            question,
            edns,
        },
    ))
}

/// Parses one TCP frame (RFC 1035 §4.2.2): the two-byte length and the
/// message. A frame cut short returns `Incomplete`.
pub fn parse_dns_tcp_frame(i: &[u8]) -> DnsResult<'_, &[u8]> {
    let start = i;
    let (i, length) = be_u16(i)?;
    if usize::from(length) < DNS_HEADER_LEN {
        return fail(start, DnsErrorKind::MessageTooShort(usize::from(length)));
    }
    take(usize::from(length))(i)
}

/// Maximum questions of a plausible message. A unicast query carries one, and
/// an mDNS query may carry several (RFC 6762 §5.3).
const MAX_PLAUSIBLE_QUESTIONS: u16 = 16;
/// Smallest question on the wire: the root name, type and class.
const MIN_QUESTION_LEN: u64 = 5;
/// Smallest resource record on the wire: the root name, type, class, TTL and
/// data length.
const MIN_RECORD_LEN: u64 = 11;

fn opcode_is_known(opcode: u8) -> bool {
    matches!(
        opcode,
        OPCODE_QUERY | OPCODE_IQUERY | OPCODE_STATUS | OPCODE_NOTIFY | OPCODE_UPDATE
    )
}

/// Tells whether a header could start a real message of `message_len` bytes.
///
/// The opcode must be known and there are at most
/// [`MAX_PLAUSIBLE_QUESTIONS`] questions. A query has RCODE 0 and at least one
/// question, except an IQUERY (RFC 1035 §6.4). A message has at least one
/// entry unless it is an error response, because a FORMERR or NOTIMP answer
/// may carry nothing. The smallest encoding of the counts must fit in the
/// message.
fn header_is_plausible(header: &DnsHeader, message_len: usize) -> bool {
    if !opcode_is_known(header.opcode()) || header.qdcount > MAX_PLAUSIBLE_QUESTIONS {
        return false;
    }
    if header.record_count() == 0 && !(header.is_response() && header.rcode() != 0) {
        return false;
    }
    if !header.is_response() {
        let needs_question = header.opcode() != OPCODE_IQUERY;
        if header.rcode() != 0 || (needs_question && header.qdcount == 0) {
            return false;
        }
    }
    let records = u64::from(header.record_count()) - u64::from(header.qdcount);
    let min_len = DNS_HEADER_LEN as u64
        + MIN_QUESTION_LEN * u64::from(header.qdcount)
        + MIN_RECORD_LEN * records;
    min_len <= message_len as u64
}

/// Checks the header fields of a message whose header has not all arrived,
/// as far as their bytes are there (the same rules as
/// [`header_is_plausible`]).
fn header_prefix_is_plausible(prefix: &[u8]) -> bool {
    if let Some(&flags_high) = prefix.get(2) {
        if !opcode_is_known((flags_high >> 3) & 0x0f) {
            return false;
        }
        let is_query = flags_high & 0x80 == 0;
        if is_query
            && prefix
                .get(3)
                .is_some_and(|&flags_low| flags_low & 0x0f != 0)
        {
            return false;
        }
    }
    // QDCOUNT is at most MAX_PLAUSIBLE_QUESTIONS, so its high byte is zero.
    prefix.get(4).is_none_or(|&qdcount_high| qdcount_high == 0)
}

/// Length of a NetBIOS name in first-level encoding (RFC 1001 §14.1): each
/// of its 16 bytes becomes two letters, `'A'` plus one half of the byte.
const NETBIOS_ENCODED_NAME_LEN: usize = 32;

/// Tells whether the name right after the header is a NetBIOS name in
/// first-level encoding: a label of exactly 32 letters from `A` to `P`.
///
/// The NetBIOS name service (RFC 1002 §4.1, §4.2, port 137) borrows the DNS
/// message layout, and each of its messages starts with such a name, which
/// nothing precedes to compress against. Those names are not DNS names and
/// its servers are not DNS servers. A DNS name rarely starts with such a
/// label: even a random 32-character NSEC3 hash label (RFC 5155 §3,
/// base32hex) uses only these 16 upper-case letters in 2^-32 of cases.
fn starts_with_netbios_name(message: &[u8]) -> bool {
    let end = DNS_HEADER_LEN + 1 + NETBIOS_ENCODED_NAME_LEN;
    let Some((&label_len, letters)) = message
        .get(DNS_HEADER_LEN..end)
        .and_then(<[u8]>::split_first)
    else {
        return false;
    };
    usize::from(label_len) == NETBIOS_ENCODED_NAME_LEN
        && letters.iter().all(|letter| (b'A'..=b'P').contains(letter))
}

fn probe_result(answer: ProbeAnswer, header: &DnsHeader) -> ProbeResult {
    ProbeResult {
        answer,
        sender_is_server: Some(header.is_response()),
    }
}

/// Probes one UDP datagram.
///
/// - [`ProbeAnswer::Certain`]: a plausible header (see below) and every
///   question and record parse, filling the datagram exactly.
/// - [`ProbeAnswer::Unsure`]: a plausible header, but a name or record does
///   not parse or bytes are left over (a damaged or cut message).
/// - [`ProbeAnswer::NotMine`] otherwise, and for a NetBIOS name service
///   message, which has the DNS layout but a NetBIOS name first.
///
/// A plausible header has a known opcode (QUERY, IQUERY, STATUS, NOTIFY,
/// UPDATE), at most 16 questions, at least one entry unless it is an error
/// response, RCODE 0 and a question in a query (except IQUERY), and counts
/// whose smallest encoding fits in the datagram. Random bytes rarely pass
/// this (the question count alone once in 2^12), so a damaged message behind
/// such a header is still worth an unsure.
/// `sender_is_server` follows the QR bit.
pub fn probe_datagram(bytes: &[u8]) -> ProbeResult {
    probe_message(bytes)
}

/// Probes the first bytes of one direction of a TCP flow: a two-byte length
/// and a message, probed as [`probe_datagram`] does once the frame is whole.
/// Until then a plausible header is unsure and any other header not mine.
pub fn probe_stream(bytes: &[u8]) -> ProbeResult {
    let unsure = ProbeResult {
        answer: ProbeAnswer::Unsure,
        sender_is_server: None,
    };
    match parse_dns_tcp_frame(bytes) {
        Ok((_, message)) => probe_message(message),
        Err(Err::Incomplete(_)) => {
            let partial = bytes.get(TCP_LENGTH_PREFIX_LEN..).unwrap_or_default();
            let Ok((_, header)) = parse_dns_header(partial) else {
                if header_prefix_is_plausible(partial) {
                    return unsure;
                }
                return ProbeResult::NOT_MINE;
            };
            // The header arrived, so the length prefix did too.
            let frame_len =
                be_u16::<_, DnsParseError>(bytes).map_or(0, |(_, len)| usize::from(len));
            if !header_is_plausible(&header, frame_len) {
                return ProbeResult::NOT_MINE;
            }
            probe_result(ProbeAnswer::Unsure, &header)
        }
        Err(_) => ProbeResult::NOT_MINE,
    }
}

fn probe_message(message: &[u8]) -> ProbeResult {
    let Ok((_, header)) = within("header", message, message, parse_dns_header) else {
        return ProbeResult::NOT_MINE;
    };
    if !header_is_plausible(&header, message.len()) || starts_with_netbios_name(message) {
        return ProbeResult::NOT_MINE;
    }
    match parse_dns_message(message) {
        Ok(([], _)) => probe_result(ProbeAnswer::Certain, &header),
        _ => probe_result(ProbeAnswer::Unsure, &header),
    }
}

/// The fields one message gives to [`DnsInfo`].
struct DnsSummary<'a> {
    is_response: bool,
    /// The first question, copied into the record only when it is kept, so
    /// that reading a message allocates nothing.
    question: Option<DnsQuestion<'a>>,
    rcode: u16,
}

/// Reads the fields of one message. A message whose records are damaged still
/// gives its header and first question (without the EDNS extended RCODE).
fn summarize(message: &[u8]) -> Result<DnsSummary<'_>, DnsError> {
    match parse_dns_message(message) {
        Ok((_, parsed)) => Ok(DnsSummary {
            is_response: parsed.header.is_response(),
            question: parsed.question,
            rcode: parsed.rcode(),
        }),
        Err(Err::Error(error) | Err::Failure(error)) => {
            let (rest, header) = within("header", message, message, parse_dns_header)
                .map_err(|_| error.locate(message))?;
            let question = if header.qdcount > 0 {
                let (_, question) =
                    parse_dns_question(message, rest).map_err(|_| error.locate(message))?;
                Some(question)
            } else {
                None
            };
            log::trace!("dns: records not read: {}", error.locate(message));
            Ok(DnsSummary {
                is_response: header.is_response(),
                question,
                rcode: header.rcode(),
            })
        }
        Err(Err::Incomplete(_)) => Err(DnsError {
            kind: DnsErrorKind::Truncated("message"),
            offset: message.len(),
        }),
    }
}

/// Reading state of one direction of a TCP flow.
#[derive(Debug, Default)]
struct DnsDirection {
    /// Stream offset of the next frame.
    offset: usize,
    /// A frame length was invalid; nothing more is read from this direction.
    failed: bool,
}

/// Fills [`AppInfo::dns`]: the name and type of the first question (from the
/// first query, or from the first response when no query was seen) and the
/// response code of the first response.
#[derive(Debug, Default)]
pub struct DnsParser {
    client: DnsDirection,
    server: DnsDirection,
    /// The question came from a response; a query seen later replaces it.
    question_from_response: bool,
    messages_read: usize,
    error: Option<DnsError>,
}

impl DnsParser {
    /// Reads one UDP datagram. `from_server` names the side that sent it, but
    /// the QR bit decides whether it is a query or a response.
    pub fn on_datagram(
        &mut self,
        payload: &[u8],
        from_server: bool,
        info: &mut AppInfo,
    ) -> Progress {
        match summarize(payload) {
            Ok(summary) => {
                if summary.is_response != from_server {
                    log::trace!(
                        "dns: QR bit {} in a datagram from the other side",
                        summary.is_response
                    );
                }
                self.on_message(summary, info);
            }
            Err(error) => self.note_error(error),
        }
        progress(info)
    }

    /// Returns the first parse error, if any.
    pub fn error(&self) -> Option<&DnsError> {
        self.error.as_ref()
    }

    /// Returns how many messages were read, both directions together.
    pub fn messages_read(&self) -> usize {
        self.messages_read
    }

    fn note_error(&mut self, error: DnsError) {
        log::debug!("dns: {error}");
        self.error.get_or_insert(error);
    }

    fn on_message(&mut self, summary: DnsSummary<'_>, info: &mut AppInfo) {
        self.messages_read += 1;
        let dns = info.dns.get_or_insert_with(Default::default);
        let take_question =
            dns.qname.is_none() || (self.question_from_response && !summary.is_response);
        if let (Some(question), true) = (summary.question, take_question) {
            // Escaping a `.` or `\` inside a label can take a 255-byte name
            // past the wire text cap.
            let name = question.name.to_presentation();
            dns.qname = Some(super::copy_wire_text(&name, &mut info.truncated_fields));
            dns.qtype = Some(question.qtype);
            self.question_from_response = summary.is_response;
        }
        if summary.is_response && dns.rcode.is_none() {
            dns.rcode = Some(summary.rcode);
        }
    }

    fn read_direction(&mut self, side: Side, stream: &[u8], info: &mut AppInfo) {
        loop {
            let direction = match side {
                Side::Client => &mut self.client,
                Side::Server => &mut self.server,
            };
            if direction.failed {
                return;
            }
            let Some(rest) = stream.get(direction.offset..) else {
                return;
            };
            let message = match parse_dns_tcp_frame(rest) {
                Ok((_, message)) => message,
                Err(Err::Incomplete(_)) => return,
                Err(Err::Error(error) | Err::Failure(error)) => {
                    direction.failed = true;
                    let error = error.locate(stream);
                    self.note_error(error);
                    return;
                }
            };
            direction.offset += TCP_LENGTH_PREFIX_LEN + message.len();
            match summarize(message) {
                Ok(summary) => self.on_message(summary, info),
                Err(error) => self.note_error(DnsError {
                    kind: error.kind,
                    offset: error.offset + offset_in(stream, message),
                }),
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Side {
    Client,
    Server,
}

fn progress(info: &AppInfo) -> Progress {
    match info.dns.as_deref() {
        Some(DnsInfo {
            qname: Some(_),
            qtype: Some(_),
            rcode: Some(_),
        }) => Progress::Done,
        _ => Progress::NeedMore,
    }
}

impl StreamParser for DnsParser {
    fn on_stream(&mut self, client: &[u8], server: &[u8], info: &mut AppInfo) -> Progress {
        self.read_direction(Side::Client, client, info);
        self.read_direction(Side::Server, server, info);
        if self.client.failed && self.server.failed {
            return Progress::Done;
        }
        progress(info)
    }
}

/// Returns the mnemonic of a TYPE or QTYPE (IANA DNS Resource Record TYPEs),
/// or `TYPE<n>` for a code without one (RFC 3597 §5).
pub fn qtype_name(qtype: u16) -> Cow<'static, str> {
    let name = match qtype {
        1 => "A",
        2 => "NS",
        3 => "MD",
        4 => "MF",
        5 => "CNAME",
        6 => "SOA",
        7 => "MB",
        8 => "MG",
        9 => "MR",
        10 => "NULL",
        11 => "WKS",
        12 => "PTR",
        13 => "HINFO",
        14 => "MINFO",
        15 => "MX",
        16 => "TXT",
        17 => "RP",
        18 => "AFSDB",
        19 => "X25",
        20 => "ISDN",
        21 => "RT",
        22 => "NSAP",
        23 => "NSAP-PTR",
        24 => "SIG",
        25 => "KEY",
        26 => "PX",
        27 => "GPOS",
        28 => "AAAA",
        29 => "LOC",
        30 => "NXT",
        31 => "EID",
        32 => "NIMLOC",
        33 => "SRV",
        34 => "ATMA",
        35 => "NAPTR",
        36 => "KX",
        37 => "CERT",
        38 => "A6",
        39 => "DNAME",
        40 => "SINK",
        41 => "OPT",
        42 => "APL",
        43 => "DS",
        44 => "SSHFP",
        45 => "IPSECKEY",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        49 => "DHCID",
        50 => "NSEC3",
        51 => "NSEC3PARAM",
        52 => "TLSA",
        53 => "SMIMEA",
        55 => "HIP",
        56 => "NINFO",
        57 => "RKEY",
        58 => "TALINK",
        59 => "CDS",
        60 => "CDNSKEY",
        61 => "OPENPGPKEY",
        62 => "CSYNC",
        63 => "ZONEMD",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        100 => "UINFO",
        101 => "UID",
        102 => "GID",
        103 => "UNSPEC",
        104 => "NID",
        105 => "L32",
        106 => "L64",
        107 => "LP",
        108 => "EUI48",
        109 => "EUI64",
        249 => "TKEY",
        250 => "TSIG",
        251 => "IXFR",
        252 => "AXFR",
        253 => "MAILB",
        254 => "MAILA",
        255 => "ANY",
        256 => "URI",
        257 => "CAA",
        258 => "AVC",
        259 => "DOA",
        260 => "AMTRELAY",
        32768 => "TA",
        32769 => "DLV",
        _ => return Cow::Owned(format!("TYPE{qtype}")),
    };
    Cow::Borrowed(name)
}

/// Returns the mnemonic of an RCODE, EDNS extended codes included (IANA DNS
/// RCODEs; 16 is BADVERS here, as in an OPT record), or `RCODE<n>`.
pub fn rcode_name(rcode: u16) -> Cow<'static, str> {
    let name = match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        11 => "DSOTYPENI",
        16 => "BADVERS",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        23 => "BADCOOKIE",
        _ => return Cow::Owned(format!("RCODE{rcode}")),
    };
    Cow::Borrowed(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_for_codes() {
        assert_eq!(qtype_name(1), "A");
        assert_eq!(qtype_name(65), "HTTPS");
        assert_eq!(qtype_name(255), "ANY");
        assert_eq!(qtype_name(65280), "TYPE65280");
        assert_eq!(rcode_name(3), "NXDOMAIN");
        assert_eq!(rcode_name(16), "BADVERS");
        assert_eq!(rcode_name(12), "RCODE12");
    }
}
