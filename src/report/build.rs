//! Turns a finished flow and its verdict into the flow record.

use std::net::SocketAddr;

use super::escape::wire_text;
use super::record::{
    Directional, DnsRecord, Endpoint, FlowRecord, HttpRecord, SmtpRecord, TlsRecord,
};
use super::timestamp::{duration_micros, write_rfc3339_micros};
use crate::capture::Timestamp;
use crate::fingerprint::dns::{qtype_name, rcode_name};
use crate::fingerprint::{AppInfo, WireText};
use crate::flow::FinishedFlow;

/// The verdict of a flow and the roles of its ends, as the record states them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Judged {
    pub verdict: &'static str,
    pub rule: Option<String>,
    /// One English sentence.
    pub reason: String,
    pub risks: Vec<&'static str>,
    pub client_roles: Vec<String>,
    pub server_roles: Vec<String>,
}

/// Formats a capture timestamp as RFC 3339 UTC with microseconds, truncated,
/// the form of `ts_start` and `ts_end`.
pub fn format_timestamp(ts: Timestamp) -> String {
    let mut text = Vec::with_capacity(27);
    write_rfc3339_micros(&mut text, ts);
    // The text is ASCII digits and punctuation.
    String::from_utf8(text).unwrap_or_default()
}

/// Returns the name of a TLS version code (`TLSv1.3`), or its hex value when
/// the code is not a known version.
pub fn tls_version_name(version: u16) -> String {
    match version {
        0x0200 => "SSLv2".to_string(),
        0x0300 => "SSLv3".to_string(),
        0x0301 => "TLSv1.0".to_string(),
        0x0302 => "TLSv1.1".to_string(),
        0x0303 => "TLSv1.2".to_string(),
        0x0304 => "TLSv1.3".to_string(),
        other => format!("0x{other:04x}"),
    }
}

fn text(value: &Option<WireText>) -> Option<String> {
    value.as_deref().map(wire_text)
}

fn endpoint(address: SocketAddr, roles: Vec<String>) -> Endpoint {
    Endpoint {
        ip: address.ip().to_string(),
        port: address.port(),
        roles,
    }
}

fn tls_record(app: &AppInfo) -> TlsRecord {
    let Some(tls) = app.tls.as_deref() else {
        return TlsRecord::default();
    };
    TlsRecord {
        sni: text(&tls.sni),
        alpn: tls
            .alpn
            .iter()
            .map(|protocol| wire_text(protocol))
            .collect(),
        version: tls.version.map(tls_version_name),
        ja4: tls.ja4.clone(),
    }
}

fn http_record(app: &AppInfo) -> HttpRecord {
    let Some(http) = app.http.as_deref() else {
        return HttpRecord::default();
    };
    HttpRecord {
        host: text(&http.host),
        method: text(&http.method),
        path: text(&http.path),
        status: http.status,
        user_agent: text(&http.user_agent),
        service: http.service.map(|service| service.as_str().to_string()),
    }
}

fn dns_record(app: &AppInfo) -> DnsRecord {
    let Some(dns) = app.dns.as_deref() else {
        return DnsRecord::default();
    };
    DnsRecord {
        qname: text(&dns.qname),
        qtype: dns.qtype.map(|qtype| qtype_name(qtype).into_owned()),
        rcode: dns.rcode.map(|rcode| rcode_name(rcode).into_owned()),
    }
}

/// Builds the record of `flow`, read from `source`, with its verdict.
/// `flow_id` is left empty: the caller sets it once the records are in order.
pub fn flow_record(flow: &FinishedFlow, source: &str, judged: Judged) -> FlowRecord {
    let app = &flow.app;
    // Whole microseconds, so the value is as exact as the timestamps.
    let duration = duration_micros(flow.ts_start, flow.ts_end) as f64 / 1e6;

    FlowRecord {
        flow_id: String::new(),
        source: source.to_string(),
        ts_start: format_timestamp(flow.ts_start),
        ts_end: format_timestamp(flow.ts_end),
        duration,
        ip_version: flow.ip_version,
        transport: flow.transport.as_str().to_string(),
        client: endpoint(flow.client, judged.client_roles),
        server: endpoint(flow.server, judged.server_roles),
        direction_evidence: flow.direction_evidence.as_str().to_string(),
        conn_state: flow.conn_state.as_str().to_string(),
        vlan: flow.vlan.as_slice().to_vec(),
        community_id: flow.community_id(),
        packets: Directional {
            to_server: flow.to_server.packets,
            to_client: flow.to_client.packets,
        },
        bytes: Directional {
            to_server: flow.to_server.bytes,
            to_client: flow.to_client.bytes,
        },
        payload_bytes: Directional {
            to_server: flow.to_server.payload_bytes,
            to_client: flow.to_client.payload_bytes,
        },
        missed_bytes: flow.missed_bytes,
        app: app.app.as_str().to_string(),
        app_evidence: app.evidence.as_str().to_string(),
        starttls: app.upgrade.accepted && app.upgrade.tls_followed,
        tls: tls_record(app),
        http: http_record(app),
        smtp: SmtpRecord {
            helo: app.smtp.as_deref().and_then(|smtp| text(&smtp.helo)),
        },
        dns: dns_record(app),
        verdict: judged.verdict.to_string(),
        risks: judged.risks.iter().map(|risk| risk.to_string()).collect(),
        rule: judged.rule,
        reason: judged.reason,
    }
}

/// Builds the part of the record of `flow` that the summary reads for its
/// verdict: counts, path and rule, and for an `unexpected` flow the example's
/// id, ends, start time and reason. The other fields keep their defaults.
///
/// A run whose only use of whole records is the summary builds these instead
/// of [`flow_record`]: that spares about fifteen allocations and a SHA-1
/// digest per flow. `tests/record_line.rs` checks that both give the same
/// summary on every flow of the shipped captures and the corpus.
pub fn summary_record(flow: &FinishedFlow, flow_id: &str, judged: Judged) -> FlowRecord {
    let example = judged.verdict == "unexpected";
    let address = |address: SocketAddr, roles: Vec<String>| Endpoint {
        ip: if example {
            address.ip().to_string()
        } else {
            String::new()
        },
        port: address.port(),
        roles,
    };
    FlowRecord {
        flow_id: if example {
            flow_id.to_string()
        } else {
            String::new()
        },
        ts_start: if example {
            format_timestamp(flow.ts_start)
        } else {
            String::new()
        },
        transport: flow.transport.as_str().to_string(),
        client: address(flow.client, judged.client_roles),
        server: address(flow.server, judged.server_roles),
        bytes: Directional {
            to_server: flow.to_server.bytes,
            to_client: flow.to_client.bytes,
        },
        app: flow.app.app.as_str().to_string(),
        verdict: judged.verdict.to_string(),
        rule: judged.rule,
        reason: if example {
            judged.reason
        } else {
            String::new()
        },
        ..FlowRecord::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_has_microseconds() {
        let ts = Timestamp::from_secs_nanos(1_368_518_052, 123_456_789);
        assert_eq!(format_timestamp(ts), "2013-05-14T07:54:12.123456Z");
    }

    #[test]
    fn timestamp_before_epoch() {
        let ts = Timestamp(-1_500_000_000);
        assert_eq!(format_timestamp(ts), "1969-12-31T23:59:58.500000Z");
    }

    #[test]
    fn timestamp_extremes_format() {
        assert!(format_timestamp(Timestamp(i64::MAX)).starts_with("2262-"));
        assert!(format_timestamp(Timestamp(i64::MIN)).starts_with("1677-"));
    }

    #[test]
    fn tls_versions_named() {
        assert_eq!(tls_version_name(0x0304), "TLSv1.3");
        assert_eq!(tls_version_name(0x0300), "SSLv3");
        assert_eq!(tls_version_name(0x7f1c), "0x7f1c");
    }
}
