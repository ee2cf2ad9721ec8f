//! Application protocol fingerprints from reassembled payload bytes.
//!
//! A flow's `app` comes from what its payload says, never from its port. Each
//! protocol probes the first bytes of each direction and answers certain, unsure
//! or not mine. The first protocol in probe order that is certain about either
//! direction wins, however the bytes were cut into segments and whichever
//! direction's bytes came first. The [`Dissector`] drives the probes for one
//! flow and collects the fields the flow record carries in an [`AppInfo`].
//! This module does no I/O and never sees packets, only stream bytes and datagrams.
//!
//! Probe order ([`PROBE_ORDER`]): TLS, SSH, HTTP, SMTP, IMAP, POP3, LDAP, DNS.
//! The probes with an exact signature come first: a TLS record header, the
//! `SSH-` identification string, an HTTP request or status line with its version
//! token. The three mail protocols come next; their first bytes exclude each
//! other (`220`, `* OK`, `+OK`), and SMTP leads because Exchange carries most of
//! its traffic. LDAP and DNS over TCP come last because their probes check BER
//! and length-prefixed headers that many binary payloads happen to match. The
//! order only matters when two probes are certain about the same flow; each
//! protocol's real samples are tested to be "not mine" to every other probe.

mod dissector;
pub mod dns;
pub mod http;
pub mod imap;
pub mod ja4;
pub mod ldap;
pub mod pop3;
pub mod smtp;
pub mod ssh;
mod text;
pub mod tls;

pub use dissector::Dissector;

/// One side of a flow. The originator sent the flow's first packet; the flow
/// engine decides later which side is the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Originator,
    Responder,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Originator => Side::Responder,
            Side::Responder => Side::Originator,
        }
    }

    pub fn index(self) -> usize {
        match self {
            Side::Originator => 0,
            Side::Responder => 1,
        }
    }
}

/// The application protocol seen in a flow's payload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum App {
    Smtp,
    Imap,
    Pop3,
    Http,
    Tls,
    Ldap,
    Dns,
    Ssh,
    /// Payload that no probe recognised.
    Unknown,
    /// No payload in either direction.
    #[default]
    None,
}

impl App {
    pub const ALL: [App; 10] = [
        App::Smtp,
        App::Imap,
        App::Pop3,
        App::Http,
        App::Tls,
        App::Ldap,
        App::Dns,
        App::Ssh,
        App::Unknown,
        App::None,
    ];

    /// Returns the value of the record's `app` field.
    pub fn as_str(self) -> &'static str {
        match self {
            App::Smtp => "smtp",
            App::Imap => "imap",
            App::Pop3 => "pop3",
            App::Http => "http",
            App::Tls => "tls",
            App::Ldap => "ldap",
            App::Dns => "dns",
            App::Ssh => "ssh",
            App::Unknown => "unknown",
            App::None => "none",
        }
    }

    /// Parses a record's `app` value.
    pub fn from_name(name: &str) -> Option<App> {
        App::ALL.into_iter().find(|app| app.as_str() == name)
    }
}

/// How much payload backs a flow's `app`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AppEvidence {
    /// Payload from both sides agreed.
    Both,
    /// Only one side's payload was seen or needed (asymmetric span ports).
    OneSide,
    /// No payload decided the protocol.
    #[default]
    None,
}

impl AppEvidence {
    pub fn as_str(self) -> &'static str {
        match self {
            AppEvidence::Both => "both",
            AppEvidence::OneSide => "one_side",
            AppEvidence::None => "none",
        }
    }
}

/// Bytes taken from the wire (a host name, a path, an EHLO name). They may hold
/// invalid UTF-8 or control characters; the report module escapes them for each
/// output.
pub type WireText = Box<[u8]>;

/// The Exchange service an HTTP request path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExchangeService {
    Autodiscover,
    Ews,
    ActiveSync,
    Oab,
    Owa,
    Ecp,
    Mapi,
    Rpc,
}

impl ExchangeService {
    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeService::Autodiscover => "autodiscover",
            ExchangeService::Ews => "ews",
            ExchangeService::ActiveSync => "activesync",
            ExchangeService::Oab => "oab",
            ExchangeService::Owa => "owa",
            ExchangeService::Ecp => "ecp",
            ExchangeService::Mapi => "mapi",
            ExchangeService::Rpc => "rpc",
        }
    }
}

/// What a cleartext session did about upgrading to TLS (SMTP STARTTLS or
/// X-ANONYMOUSTLS, IMAP STARTTLS, POP3 STLS, LDAP StartTLS).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Upgrade {
    /// The server advertised the upgrade (EHLO keyword, CAPABILITY, CAPA).
    pub offered: bool,
    /// The client sent the upgrade command.
    pub requested: bool,
    /// The server accepted the command.
    pub accepted: bool,
    /// A TLS handshake followed the accepted command.
    pub tls_followed: bool,
}

/// Fields from a TLS ClientHello and ServerHello.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsInfo {
    pub sni: Option<WireText>,
    pub alpn: Vec<WireText>,
    /// Negotiated version from the ServerHello (supported_versions first), else
    /// the highest version the ClientHello offered. Values are the wire codes
    /// (0x0300 SSL 3.0 .. 0x0304 TLS 1.3); unknown codes are kept.
    pub version: Option<u16>,
    /// The JA4 client fingerprint (FoxIO JA4, TLS over TCP part).
    pub ja4: Option<String>,
}

/// Fields from the first HTTP/1.x request and response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpInfo {
    pub method: Option<WireText>,
    pub host: Option<WireText>,
    pub path: Option<WireText>,
    pub user_agent: Option<WireText>,
    pub status: Option<u16>,
    pub service: Option<ExchangeService>,
    /// The client opened with the HTTP/2 connection preface (prior knowledge,
    /// RFC 9113 section 3.3). Its HPACK-compressed headers are not decoded, so
    /// method, host, path and status stay empty.
    pub http2: bool,
}

/// Fields from an SMTP session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SmtpInfo {
    /// The EHLO or HELO name.
    pub helo: Option<WireText>,
    /// AUTH mechanisms the server offered in its EHLO response.
    pub auth_offered: Vec<WireText>,
    /// The mechanism of the first AUTH command the client sent.
    pub auth_attempted: Option<WireText>,
    /// The upgrade used Exchange's X-ANONYMOUSTLS rather than STARTTLS.
    pub anonymous_tls: bool,
}

/// Fields from an IMAP session before any TLS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImapInfo {
    /// The server's capabilities included LOGINDISABLED (RFC 9051 section 6.2.3):
    /// it refuses LOGIN until TLS is on.
    pub login_disabled: bool,
    /// The client sent a LOGIN command (user name and password in the clear).
    pub login: bool,
    /// The SASL mechanism of the first AUTHENTICATE command.
    pub authenticate_mechanism: Option<WireText>,
}

/// Fields from the first DNS query and its response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsInfo {
    /// Query name in presentation form, without the trailing dot.
    pub qname: Option<WireText>,
    pub qtype: Option<u16>,
    /// Response code of the first response, when one was seen.
    pub rcode: Option<u16>,
}

/// Fields from a cleartext LDAP session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LdapInfo {
    /// Name of the first protocol operation (`bindRequest`, `searchRequest`, ...).
    pub first_operation: Option<&'static str>,
    /// A simple bind carried a password in cleartext.
    pub simple_bind: bool,
    /// The mechanism of the first SASL bind (`GSSAPI`, `PLAIN`, ...).
    pub sasl_mechanism: Option<WireText>,
}

/// Everything the fingerprints learned about one flow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppInfo {
    pub app: App,
    pub evidence: AppEvidence,
    /// The side the payload shows to be the server (it sent a greeting or a
    /// response), when the payload tells.
    pub server_side: Option<Side>,
    pub upgrade: Upgrade,
    /// Credentials crossed the wire before any TLS: SMTP AUTH, IMAP LOGIN or
    /// AUTHENTICATE, POP3 USER/PASS or AUTH, an LDAP simple bind.
    pub cleartext_auth: bool,
    pub tls: Option<Box<TlsInfo>>,
    pub http: Option<Box<HttpInfo>>,
    pub smtp: Option<Box<SmtpInfo>>,
    pub imap: Option<Box<ImapInfo>>,
    pub dns: Option<Box<DnsInfo>>,
    pub ldap: Option<Box<LdapInfo>>,
    /// The server's SSH identification string (`SSH-2.0-...`).
    pub ssh_banner: Option<WireText>,
    /// The client's SSH identification string.
    pub ssh_client_banner: Option<WireText>,
    /// Wire texts cut to [`MAX_WIRE_TEXT_LEN`] bytes, and list items dropped at
    /// their cap (such as SMTP AUTH mechanisms past [`smtp::MAX_AUTH_MECHANISMS`]).
    pub truncated_fields: u32,
}

/// Maximum length of one wire text copied into an [`AppInfo`] (a host name, a
/// path, an EHLO name, a banner); longer texts are cut and counted in
/// [`AppInfo::truncated_fields`].
pub const MAX_WIRE_TEXT_LEN: usize = 256;

/// Copies `bytes` into a [`WireText`], cut to [`MAX_WIRE_TEXT_LEN`] bytes.
pub(crate) fn copy_wire_text(bytes: &[u8], truncated_fields: &mut u32) -> WireText {
    if bytes.len() > MAX_WIRE_TEXT_LEN {
        *truncated_fields = truncated_fields.saturating_add(1);
        return bytes[..MAX_WIRE_TEXT_LEN].into();
    }
    bytes.into()
}

/// A probe's answer about the first bytes of one direction of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeAnswer {
    /// The bytes are this protocol's.
    Certain,
    /// The bytes could be this protocol's; more bytes may decide.
    Unsure,
    /// The bytes cannot start this protocol.
    NotMine,
}

/// What a protocol's probe learned from one direction's first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeResult {
    pub answer: ProbeAnswer,
    /// Whether the side that sent the bytes is the server (`Some(true)` for a
    /// greeting or a response), when the bytes tell.
    pub sender_is_server: Option<bool>,
}

impl ProbeResult {
    pub const NOT_MINE: ProbeResult = ProbeResult {
        answer: ProbeAnswer::NotMine,
        sender_is_server: None,
    };

    pub const fn certain(sender_is_server: Option<bool>) -> ProbeResult {
        ProbeResult {
            answer: ProbeAnswer::Certain,
            sender_is_server,
        }
    }

    pub const fn unsure(sender_is_server: Option<bool>) -> ProbeResult {
        ProbeResult {
            answer: ProbeAnswer::Unsure,
            sender_is_server,
        }
    }
}

/// Whether a dissector wants more bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    NeedMore,
    /// Every field is known; the caller may stop feeding bytes and free its buffers.
    Done,
}

/// One protocol's parser for a flow, once the probes chose that protocol.
///
/// `client` and `server` are each side's whole in-order prefix so far (at most
/// the reassembly budget); a parser remembers how far it has read each of them.
pub trait StreamParser {
    fn on_stream(&mut self, client: &[u8], server: &[u8], info: &mut AppInfo) -> Progress;
}

/// The protocols the dissector probes, in the order it tries them: the first
/// protocol that is certain about either side's bytes wins. The module
/// documentation gives the reasons for this order.
pub const PROBE_ORDER: [App; 8] = [
    App::Tls,
    App::Ssh,
    App::Http,
    App::Smtp,
    App::Imap,
    App::Pop3,
    App::Ldap,
    App::Dns,
];

pub(crate) const PROBE_COUNT: usize = PROBE_ORDER.len();

/// Maximum prefix of one side that the probes read. A protocol still unsure
/// after this many bytes is out for that side: every supported protocol shows
/// itself in its first line or record.
pub const MAX_PROBE_WINDOW: usize = 16 * 1024;

/// UDP: datagrams probed before a flow that has not shown DNS is `unknown`.
pub const MAX_PROBE_DATAGRAMS: u32 = 4;

/// UDP: datagrams fed to the DNS parser after DNS was chosen; past this the
/// dissector is done even if no response was seen.
pub const MAX_DNS_DATAGRAMS: u32 = 16;

/// Runs one protocol's stream probe on the first bytes of one direction.
/// `App::Unknown` and `App::None` have no probe and return not mine.
pub fn probe_stream(app: App, bytes: &[u8]) -> ProbeResult {
    match app {
        App::Tls => tls::probe(bytes),
        App::Ssh => ssh::probe(bytes),
        App::Http => http::probe(bytes),
        App::Smtp => smtp::probe(bytes),
        App::Imap => imap::probe(bytes),
        App::Pop3 => pop3::probe(bytes),
        App::Ldap => ldap::probe(bytes),
        App::Dns => dns::probe_stream(bytes),
        App::Unknown | App::None => ProbeResult::NOT_MINE,
    }
}
