//! The part of BER (ITU-T X.690 §8.1) that LDAP uses (RFC 4511 §5.1):
//! one-octet identifiers (tag numbers up to 30) and definite lengths of at most
//! four octets. Indefinite lengths are rejected, as LDAP forbids them.

use nom::Err;
use nom::bytes::streaming::take;
use nom::number::streaming::be_u8;

use super::{LdapErrorKind, LdapNomResult, LdapParseError, MAX_LDAP_MESSAGE_LEN};

/// Identifier octets of the universal types LDAP uses.
pub const BOOLEAN: u8 = 0x01;
pub const INTEGER: u8 = 0x02;
pub const OCTET_STRING: u8 = 0x04;
pub const ENUMERATED: u8 = 0x0a;
pub const SEQUENCE: u8 = 0x30;

/// Maximum octets of a long-form length: four give lengths up to 2^32 - 1,
/// and LDAP messages are capped far below that.
pub const MAX_LENGTH_OCTETS: usize = 4;
/// Maximum content octets of an INTEGER or ENUMERATED read here (an i64).
const MAX_INTEGER_LEN: usize = 8;

/// An identifier and length (X.690 §8.1.2, §8.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BerHeader {
    /// The whole identifier octet: class, constructed bit and tag number.
    pub identifier: u8,
    pub length: usize,
}

pub(super) fn fail<T>(input: &[u8], kind: LdapErrorKind) -> LdapNomResult<'_, T> {
    Err(Err::Error(LdapParseError { kind, input }))
}

/// Parses an identifier and a definite length; each is checked as soon as its
/// octets are there.
pub fn parse_ber_header(i: &[u8]) -> LdapNomResult<'_, BerHeader> {
    let start = i;
    let (i, identifier) = be_u8(i)?;
    if identifier & 0x1f == 0x1f {
        return fail(start, LdapErrorKind::HighTagNumber);
    }
    let (mut i, first) = be_u8(i)?;
    let length = if first & 0x80 == 0 {
        usize::from(first)
    } else {
        let octets = usize::from(first & 0x7f);
        if octets == 0 {
            return fail(start, LdapErrorKind::IndefiniteLength);
        }
        if octets > MAX_LENGTH_OCTETS {
            return fail(start, LdapErrorKind::LengthTooLong(octets));
        }
        let mut length = 0usize;
        for _ in 0..octets {
            let (rest, octet) = be_u8(i)?;
            length = (length << 8) | usize::from(octet);
            i = rest;
        }
        length
    };
    if length > MAX_LDAP_MESSAGE_LEN {
        return fail(start, LdapErrorKind::ElementTooLong(length));
    }
    Ok((i, BerHeader { identifier, length }))
}

/// Parses one element and returns its header and content. An element cut
/// short returns `Incomplete`.
pub fn parse_ber_element(i: &[u8]) -> LdapNomResult<'_, (BerHeader, &[u8])> {
    let (i, header) = parse_ber_header(i)?;
    let (i, content) = take(header.length)(i)?;
    Ok((i, (header, content)))
}

/// Parses one element whose identifier must be `identifier` and returns its
/// content.
pub fn parse_ber_tagged(identifier: u8, i: &[u8]) -> LdapNomResult<'_, &[u8]> {
    let start = i;
    let (i, (header, content)) = parse_ber_element(i)?;
    if header.identifier != identifier {
        return fail(
            start,
            LdapErrorKind::UnexpectedIdentifier {
                expected: identifier,
                found: header.identifier,
            },
        );
    }
    Ok((i, content))
}

/// Decodes the content of an INTEGER or ENUMERATED (X.690 §8.3): two's
/// complement, big-endian, one to eight octets.
pub fn decode_ber_integer(content: &[u8]) -> Result<i64, LdapErrorKind> {
    if content.is_empty() || content.len() > MAX_INTEGER_LEN {
        return Err(LdapErrorKind::InvalidInteger { len: content.len() });
    }
    let negative = content.first().is_some_and(|&octet| octet & 0x80 != 0);
    let mut value: i64 = if negative { -1 } else { 0 };
    for &octet in content {
        value = (value << 8) | i64::from(octet);
    }
    Ok(value)
}

/// Parses an INTEGER or ENUMERATED element with the given identifier.
pub fn parse_ber_integer(identifier: u8, i: &[u8]) -> LdapNomResult<'_, i64> {
    let (rest, content) = parse_ber_tagged(identifier, i)?;
    match decode_ber_integer(content) {
        Ok(value) => Ok((rest, value)),
        Err(kind) => fail(i, kind),
    }
}
