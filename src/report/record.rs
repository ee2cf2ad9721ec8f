//! The flow record: one JSON object per flow, with the field names and types that
//! the command-line contract fixes. Every key is always present (null or empty when
//! unknown), so log pipelines see one stable schema.

use serde::{Deserialize, Serialize};

/// One end of a flow.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub ip: String,
    pub port: u16,
    /// Roles from the site inventory; `internet` or `internal` when it lists none.
    pub roles: Vec<String>,
}

/// A pair of counters, one for each direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directional {
    pub to_server: u64,
    pub to_client: u64,
}

/// Fields from the TLS ClientHello and ServerHello.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsRecord {
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    pub version: Option<String>,
    pub ja4: Option<String>,
}

/// Fields from the first HTTP request and response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRecord {
    pub host: Option<String>,
    pub method: Option<String>,
    pub path: Option<String>,
    pub status: Option<u16>,
    pub user_agent: Option<String>,
    pub service: Option<String>,
}

/// Fields from an SMTP session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmtpRecord {
    pub helo: Option<String>,
}

/// Fields from the first DNS query and its response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecord {
    pub qname: Option<String>,
    pub qtype: Option<String>,
    pub rcode: Option<String>,
}

/// One flow record. Field order is the order of the JSON keys and CSV columns.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowRecord {
    pub flow_id: String,
    pub source: String,
    pub ts_start: String,
    pub ts_end: String,
    /// Seconds from the first to the last packet.
    pub duration: f64,
    pub ip_version: u8,
    pub transport: String,
    pub client: Endpoint,
    pub server: Endpoint,
    pub direction_evidence: String,
    pub conn_state: String,
    pub vlan: Vec<u16>,
    pub community_id: String,
    pub packets: Directional,
    pub bytes: Directional,
    pub payload_bytes: Directional,
    pub missed_bytes: u64,
    pub app: String,
    pub app_evidence: String,
    pub starttls: bool,
    pub tls: TlsRecord,
    pub http: HttpRecord,
    pub smtp: SmtpRecord,
    pub dns: DnsRecord,
    pub verdict: String,
    pub risks: Vec<String>,
    pub rule: Option<String>,
    pub reason: String,
}
