//! The JSON Lines record of a flow, written straight from the finished flow and
//! its judgement into a byte buffer.
//!
//! It writes the same bytes as serializing the [`FlowRecord`] that
//! [`flow_record`](super::build::flow_record) builds with
//! [`write_line`](super::jsonl::write_line), without building that record: no
//! owned strings per field, no serde. `tests/record_line.rs` checks that both
//! paths give equal bytes on every flow of the shipped captures and the corpus. Strings
//! that need escaping go through serde_json with the same
//! [`SafeFormatter`], so escapes cannot drift apart.
//!
//! [`FlowRecord`]: super::record::FlowRecord

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use super::build::tls_version_name;
use super::escape::wire_text;
use super::jsonl::SafeFormatter;
use super::timestamp::{digits, duration_micros, write_rfc3339_micros};
use crate::fingerprint::dns::{qtype_name, rcode_name};
use crate::fingerprint::{AppInfo, WireText};
use crate::flow::FinishedFlow;
use crate::flow::community_id::write_community_id_v1;
use crate::policy::{Judgement, RoleSet};

/// Bytes to reserve for one record line. Most records fit.
pub const LINE_CAPACITY: usize = 1536;

/// The parts of a record line that come from neither the flow nor its judgement.
pub struct LineFields<'a> {
    /// The flow id, 16 hex digits.
    pub flow_id: &'a str,
    /// The input's name as the record gives it.
    pub source: &'a str,
    /// The English reason sentence.
    pub reason: &'a str,
}

/// Appends the JSON Lines record of `flow`, judged `judgement`, to `out`,
/// newline included.
pub fn write_record_line(
    out: &mut Vec<u8>,
    flow: &FinishedFlow,
    judgement: &Judgement,
    fields: &LineFields<'_>,
) {
    let app = &flow.app;
    let duration_micros = duration_micros(flow.ts_start, flow.ts_end);

    out.extend_from_slice(b"{\"flow_id\":");
    string(out, fields.flow_id);
    out.extend_from_slice(b",\"source\":");
    string(out, fields.source);
    out.extend_from_slice(b",\"ts_start\":\"");
    write_rfc3339_micros(out, flow.ts_start);
    out.extend_from_slice(b"\",\"ts_end\":\"");
    write_rfc3339_micros(out, flow.ts_end);
    out.extend_from_slice(b"\",\"duration\":");
    seconds(out, duration_micros);
    out.extend_from_slice(b",\"ip_version\":");
    integer(out, flow.ip_version);
    out.extend_from_slice(b",\"transport\":");
    name(out, flow.transport.as_str());
    out.extend_from_slice(b",\"client\":");
    endpoint(out, flow.client, judgement.client_roles);
    out.extend_from_slice(b",\"server\":");
    endpoint(out, flow.server, judgement.server_roles);
    out.extend_from_slice(b",\"direction_evidence\":");
    name(out, flow.direction_evidence.as_str());
    out.extend_from_slice(b",\"conn_state\":");
    name(out, flow.conn_state.as_str());
    out.extend_from_slice(b",\"vlan\":[");
    for (index, id) in flow.vlan.as_slice().iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        integer(out, *id);
    }
    out.extend_from_slice(b"],\"community_id\":\"");
    write_community_id_v1(out, flow.transport, flow.client, flow.server);
    out.push(b'"');
    let counters = [
        (
            b",\"packets\":".as_slice(),
            flow.to_server.packets,
            flow.to_client.packets,
        ),
        (b",\"bytes\":", flow.to_server.bytes, flow.to_client.bytes),
        (
            b",\"payload_bytes\":",
            flow.to_server.payload_bytes,
            flow.to_client.payload_bytes,
        ),
    ];
    for (key, to_server, to_client) in counters {
        out.extend_from_slice(key);
        out.extend_from_slice(b"{\"to_server\":");
        integer(out, to_server);
        out.extend_from_slice(b",\"to_client\":");
        integer(out, to_client);
        out.push(b'}');
    }
    out.extend_from_slice(b",\"missed_bytes\":");
    integer(out, flow.missed_bytes);
    out.extend_from_slice(b",\"app\":");
    name(out, app.app.as_str());
    out.extend_from_slice(b",\"app_evidence\":");
    name(out, app.evidence.as_str());
    out.extend_from_slice(b",\"starttls\":");
    out.extend_from_slice(if app.upgrade.accepted && app.upgrade.tls_followed {
        b"true"
    } else {
        b"false"
    });
    tls(out, app);
    http(out, app);
    out.extend_from_slice(b",\"smtp\":{\"helo\":");
    optional_wire(out, app.smtp.as_deref().and_then(|smtp| smtp.helo.as_ref()));
    out.push(b'}');
    dns(out, app);
    out.extend_from_slice(b",\"verdict\":");
    name(out, judgement.verdict.as_str());
    out.extend_from_slice(b",\"risks\":[");
    for (index, risk) in judgement.risks.names().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        name(out, risk);
    }
    out.extend_from_slice(b"],\"rule\":");
    optional_string(out, judgement.rule.as_deref());
    out.extend_from_slice(b",\"reason\":");
    string(out, fields.reason);
    out.extend_from_slice(b"}\n");
}

fn endpoint(out: &mut Vec<u8>, address: SocketAddr, roles: RoleSet) {
    out.extend_from_slice(b"{\"ip\":\"");
    match address.ip() {
        IpAddr::V4(ip) => {
            // Each octet's text is copied whole from a table, then the line is
            // cut back to the address's length.
            let mut text = [0u8; 16];
            let mut len = 0;
            for (index, octet) in ip.octets().into_iter().enumerate() {
                if index > 0 {
                    text[len] = b'.';
                    len += 1;
                }
                let (digits, digit_count) = OCTETS[usize::from(octet)];
                text[len..len + 3].copy_from_slice(&digits);
                len += usize::from(digit_count);
            }
            let start = out.len();
            out.extend_from_slice(&text);
            out.truncate(start + len);
        }
        // Formatting into a Vec returns no error, so the result is dropped.
        IpAddr::V6(ip) => {
            let _ = write!(out, "{ip}");
        }
    }
    out.extend_from_slice(b"\",\"port\":");
    integer(out, address.port());
    out.extend_from_slice(b",\"roles\":[");
    for (index, role) in roles.names().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        name(out, role);
    }
    out.extend_from_slice(b"]}");
}

/// The decimal text of every octet, padded to three bytes, and its length.
const OCTETS: [([u8; 3], u8); 256] = {
    let mut octets = [([0u8; 3], 0u8); 256];
    let mut n = 0;
    while n < 256 {
        let (hundreds, tens, ones) = (
            b'0' + (n / 100) as u8,
            b'0' + (n / 10 % 10) as u8,
            b'0' + (n % 10) as u8,
        );
        octets[n] = match n {
            0..=9 => ([ones, 0, 0], 1),
            10..=99 => ([tens, ones, 0], 2),
            _ => ([hundreds, tens, ones], 3),
        };
        n += 1;
    }
    octets
};

fn tls(out: &mut Vec<u8>, app: &AppInfo) {
    let tls = app.tls.as_deref();
    out.extend_from_slice(b",\"tls\":{\"sni\":");
    optional_wire(out, tls.and_then(|tls| tls.sni.as_ref()));
    out.extend_from_slice(b",\"alpn\":[");
    for (index, protocol) in tls.iter().flat_map(|tls| &tls.alpn).enumerate() {
        if index > 0 {
            out.push(b',');
        }
        wire(out, protocol);
    }
    out.extend_from_slice(b"],\"version\":");
    optional_string(
        out,
        tls.and_then(|tls| tls.version)
            .map(tls_version_name)
            .as_deref(),
    );
    out.extend_from_slice(b",\"ja4\":");
    optional_string(out, tls.and_then(|tls| tls.ja4.as_deref()));
    out.push(b'}');
}

fn http(out: &mut Vec<u8>, app: &AppInfo) {
    let http = app.http.as_deref();
    out.extend_from_slice(b",\"http\":{\"host\":");
    optional_wire(out, http.and_then(|http| http.host.as_ref()));
    out.extend_from_slice(b",\"method\":");
    optional_wire(out, http.and_then(|http| http.method.as_ref()));
    out.extend_from_slice(b",\"path\":");
    optional_wire(out, http.and_then(|http| http.path.as_ref()));
    out.extend_from_slice(b",\"status\":");
    match http.and_then(|http| http.status) {
        Some(status) => integer(out, status),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"user_agent\":");
    optional_wire(out, http.and_then(|http| http.user_agent.as_ref()));
    out.extend_from_slice(b",\"service\":");
    match http.and_then(|http| http.service) {
        Some(service) => name(out, service.as_str()),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

fn dns(out: &mut Vec<u8>, app: &AppInfo) {
    let dns = app.dns.as_deref();
    out.extend_from_slice(b",\"dns\":{\"qname\":");
    optional_wire(out, dns.and_then(|dns| dns.qname.as_ref()));
    out.extend_from_slice(b",\"qtype\":");
    optional_string(
        out,
        dns.and_then(|dns| dns.qtype).map(qtype_name).as_deref(),
    );
    out.extend_from_slice(b",\"rcode\":");
    optional_string(
        out,
        dns.and_then(|dns| dns.rcode).map(rcode_name).as_deref(),
    );
    out.push(b'}');
}

/// Writes an unsigned integer in decimal, as serde_json does.
///
/// The digits go straight into `out`: a fixed run of 20 bytes is appended
/// and cut back to the number's length. A copy of a slice whose length the
/// compiler cannot see becomes a call to the C library's `memcpy`, and a
/// record has about twenty numbers.
fn integer(out: &mut Vec<u8>, value: impl Into<u64>) {
    let value: u64 = value.into();
    let len = value.checked_ilog10().map_or(1, |log| log as usize + 1);
    let start = out.len();
    out.extend_from_slice(&[b'0'; 20]);
    digits(&mut out[start..start + len], value);
    out.truncate(start + len);
}

/// Writes a finite float the way serde_json does.
fn float(out: &mut Vec<u8>, value: f64) {
    out.extend_from_slice(ryu::Buffer::new().format_finite(value).as_bytes());
}

/// Writes a duration in microseconds as seconds, from the integer's digits,
/// with the same text that [`float`] gives for `micros as f64 / 1e6`. Below
/// 10 µs that text has an exponent, and from 10^15 µs the double's shortest
/// form can differ from the decimal, so those values go through [`float`].
fn seconds(out: &mut Vec<u8>, micros: i64) {
    if !(10..1_000_000_000_000_000).contains(&micros) {
        float(out, micros as f64 / 1e6);
        return;
    }
    integer(out, (micros / 1_000_000).unsigned_abs());
    let mut fraction = micros % 1_000_000;
    if fraction == 0 {
        out.extend_from_slice(b".0");
        return;
    }
    let mut digits = [b'.', b'0', b'0', b'0', b'0', b'0', b'0'];
    let mut len = 7;
    while fraction % 10 == 0 {
        fraction /= 10;
        len -= 1;
    }
    for digit in digits[1..len].iter_mut().rev() {
        *digit = b'0' + (fraction % 10) as u8;
        fraction /= 10;
    }
    out.extend_from_slice(&digits[..len]);
}

/// Returns true when `bytes` go into a JSON string as they are: printable
/// ASCII other than the quote and the backslash.
fn plain(bytes: &[u8]) -> bool {
    // A fold without an early exit leaves the compiler free to test several
    // bytes at once. It took `string` from 4% to 1% of a one-thread profile.
    let escaped = bytes.iter().fold(false, |escaped, &byte| {
        escaped | !(0x20..0x7f).contains(&byte) | (byte == b'"') | (byte == b'\\')
    });
    !escaped
}

/// Writes bytes that need no escape between quotes.
fn quoted(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    out.extend_from_slice(bytes);
    out.push(b'"');
}

/// Writes one of exflow's own names (a transport, state, role or verdict),
/// which are plain ASCII, as a JSON string.
fn name(out: &mut Vec<u8>, name: &'static str) {
    debug_assert!(plain(name.as_bytes()), "{name}");
    quoted(out, name.as_bytes());
}

/// Writes `text` as a JSON string with the escapes of [`SafeFormatter`].
fn string(out: &mut Vec<u8>, text: &str) {
    if plain(text.as_bytes()) {
        quoted(out, text.as_bytes());
        return;
    }
    let mut serializer = serde_json::Serializer::with_formatter(&mut *out, SafeFormatter);
    // Serializing a string into a Vec returns no error, so the result is dropped.
    let _ = text.serialize(&mut serializer);
}

/// Writes wire bytes as the JSON string of their [`wire_text`].
fn wire(out: &mut Vec<u8>, bytes: &[u8]) {
    // Plain bytes are their own wire text: valid UTF-8 with no backslash.
    if plain(bytes) {
        quoted(out, bytes);
    } else {
        string(out, &wire_text(bytes));
    }
}

fn optional_string(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => string(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

fn optional_wire(out: &mut Vec<u8>, bytes: Option<&WireText>) {
    match bytes {
        Some(bytes) => wire(out, bytes),
        None => out.extend_from_slice(b"null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn both(micros: i64) -> (String, String) {
        let mut fast = Vec::new();
        seconds(&mut fast, micros);
        let mut plain = Vec::new();
        float(&mut plain, micros as f64 / 1e6);
        (
            String::from_utf8(fast).unwrap(),
            String::from_utf8(plain).unwrap(),
        )
    }

    #[test]
    fn seconds_match_float_near_bounds() {
        let edges: [i64; 4] = [0, 10, 1_000_000, 1_000_000_000_000_000];
        for edge in edges {
            for micros in (edge - 3_000).max(0)..edge + 3_000 {
                let (fast, plain) = both(micros);
                assert_eq!(fast, plain, "{micros} µs");
            }
        }
        for micros in [i64::MAX / 1_000, 999_999_999_999_999, 123_000_000] {
            let (fast, plain) = both(micros);
            assert_eq!(fast, plain, "{micros} µs");
        }
    }

    #[test]
    fn ipv4_octets_match_display() {
        for octet in 0..=255u8 {
            for ip in [
                std::net::Ipv4Addr::new(octet, 0, 255, octet),
                std::net::Ipv4Addr::new(9, octet, octet, 100),
            ] {
                let mut out = Vec::new();
                endpoint(&mut out, SocketAddr::from((ip, 7)), RoleSet::default());
                let expected = format!("{{\"ip\":\"{ip}\",\"port\":7,\"roles\":[]}}");
                assert_eq!(String::from_utf8(out).unwrap(), expected);
            }
        }
    }

    fn integer_text(value: u64) -> String {
        let mut out = b"x".to_vec();
        integer(&mut out, value);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn integers_match_display_at_every_length() {
        let mut edges = vec![0, u64::MAX];
        for power in 1..20 {
            let ten = 10u64.pow(power);
            edges.extend([ten - 1, ten, ten + 1]);
        }
        for value in edges {
            assert_eq!(integer_text(value), format!("x{value}"));
        }
    }

    proptest! {
        #[test]
        fn integers_match_display(value in any::<u64>()) {
            prop_assert_eq!(integer_text(value), format!("x{value}"));
        }

        #[test]
        fn seconds_match_float(micros in 0i64..i64::MAX / 1_000) {
            let (fast, plain) = both(micros);
            prop_assert_eq!(fast, plain);
        }

        #[test]
        fn short_seconds_match_float(micros in 0i64..100_000_000) {
            let (fast, plain) = both(micros);
            prop_assert_eq!(fast, plain);
        }
    }
}
