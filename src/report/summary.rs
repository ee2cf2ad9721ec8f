//! The summary: the port matrix as observed in a capture, one row per path.
//!
//! A path is a (client roles, server roles, transport and server port,
//! protocol) combination, and a row is a path with one verdict and rule. The
//! [`SummaryAggregator`] takes flow records one at a time, so its memory grows
//! with the number of distinct rows, not of flows. Past [`DEFAULT_MAX_ROWS`]
//! rows per verdict, or the cap given to [`SummaryAggregator::with_max_rows`],
//! the flows of new rows are only counted. Each
//! `unexpected` row keeps one example flow, the earliest by start time, so the
//! example does not depend on the order the records arrive in.
//!
//! [`write_summary`] prints the rows for a terminal (`--format summary`):
//! unexpected paths first with their example and reason, then allowed paths,
//! then out-of-scope paths, then the capture statistics. The HTML report draws
//! the same rows as a flow map.
//!
//! Server ports in the dynamic range (49152-65535, RFC 6335 section 6) are
//! folded into one row for allowed `internal.unrestricted` flows and for
//! out-of-scope flows, where Windows RPC and similar services pick a fresh port
//! per connection; an `unexpected` row always keeps its exact port.

use std::collections::HashMap;

use super::record::FlowRecord;

pub mod labels;
mod terminal;
pub mod text;

pub use terminal::{SummaryOptions, stdout_wants_color, write_summary};

/// Default maximum number of rows kept for each verdict.
pub const DEFAULT_MAX_ROWS: usize = 1000;

/// First port of the dynamic range (RFC 6335 section 6).
pub const DYNAMIC_PORT_START: u16 = 49152;

/// Maximum length, in characters, of a role set, transport, protocol or rule
/// kept in a row key. These come from the inventory and the policy, not the
/// wire, but the cap keeps memory bounded whatever they hold.
pub const MAX_KEY_CHARS: usize = 128;

/// Maximum length, in characters, of an example's address or time.
pub const MAX_ENDPOINT_CHARS: usize = 64;

/// Maximum length, in characters, of an example's reason. A reason quotes
/// names from the wire (SNI, EHLO), which an attacker can make long.
pub const MAX_REASON_CHARS: usize = 1000;

/// A flow verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    Unexpected,
    Allowed,
    OutOfScope,
}

impl Verdict {
    /// Every verdict, in the order the summary shows them.
    pub const ALL: [Verdict; 3] = [Verdict::Unexpected, Verdict::Allowed, Verdict::OutOfScope];

    /// Parses the record's `verdict` field.
    pub fn from_record(verdict: &str) -> Option<Verdict> {
        match verdict {
            "allowed" => Some(Verdict::Allowed),
            "unexpected" => Some(Verdict::Unexpected),
            "out_of_scope" => Some(Verdict::OutOfScope),
            _ => None,
        }
    }

    /// Returns the value of the record's `verdict` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Unexpected => "unexpected",
            Verdict::OutOfScope => "out_of_scope",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The server port of a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServerPort {
    Port(u16),
    /// Any port of the dynamic range, folded into one row.
    Dynamic,
}

/// The path part of a row: who talked to whom, on which port, in which
/// protocol. Role sets are role ids joined with `+` in [`labels::ROLE_ORDER`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PathKey {
    pub client_roles: String,
    pub server_roles: String,
    /// `tcp` or `udp`.
    pub transport: String,
    pub port: ServerPort,
    /// The record's `app` field.
    pub app: String,
}

/// One flow shown as an example of an `unexpected` row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Example {
    pub flow_id: String,
    /// `ip:port`, or `[ip]:port` for IPv6.
    pub client: String,
    pub server: String,
    pub ts_start: String,
    /// The reason in the output language, cut to [`MAX_REASON_CHARS`].
    pub reason: String,
}

/// One row of the observed matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub verdict: Verdict,
    pub path: PathKey,
    /// The matrix row id for `allowed` rows.
    pub rule: Option<String>,
    pub flows: u64,
    /// Bytes on the wire, both directions.
    pub bytes: u64,
    /// The earliest flow of an `unexpected` row.
    pub example: Option<Example>,
}

/// Flows that found no room because their verdict already had the maximum
/// number of rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Overflow {
    pub flows: u64,
    pub bytes: u64,
}

/// Totals of one verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VerdictTotals {
    pub flows: u64,
    pub bytes: u64,
    /// Rows kept for this verdict.
    pub rows: usize,
    pub overflow: Overflow,
}

/// The aggregated summary, ready to print or draw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Rows grouped by verdict in [`Verdict::ALL`] order, each group sorted by
    /// flows (most first), then bytes, then path.
    pub rows: Vec<Row>,
    /// Totals indexed like [`Verdict::ALL`]; use [`Summary::totals`].
    totals: [VerdictTotals; 3],
    /// Records whose verdict was none of the three.
    pub invalid_verdicts: u64,
}

impl Summary {
    pub fn totals(&self, verdict: Verdict) -> VerdictTotals {
        self.totals[verdict.index()]
    }

    /// Returns the rows of one verdict, in display order.
    pub fn rows_of(&self, verdict: Verdict) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(move |row| row.verdict == verdict)
    }

    pub fn total_flows(&self) -> u64 {
        self.totals
            .iter()
            .fold(0u64, |total, verdict| total.saturating_add(verdict.flows))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct RowKey {
    path: PathKey,
    rule: Option<String>,
}

#[derive(Clone, Debug, Default)]
struct RowCounts {
    flows: u64,
    bytes: u64,
    example: Option<Example>,
}

/// Builds a [`Summary`] from flow records, one at a time.
#[derive(Clone, Debug)]
pub struct SummaryAggregator {
    max_rows: usize,
    /// Rows by key. [`SummaryAggregator::summary`] sorts them, so the map's
    /// order does not matter, and hashing a key costs less than the string
    /// comparisons of a search tree.
    rows: [HashMap<RowKey, RowCounts, ahash::RandomState>; 3],
    totals: [VerdictTotals; 3],
    invalid_verdicts: u64,
}

impl Default for SummaryAggregator {
    fn default() -> SummaryAggregator {
        SummaryAggregator::new()
    }
}

impl SummaryAggregator {
    /// Creates an aggregator that keeps up to [`DEFAULT_MAX_ROWS`] rows per
    /// verdict.
    pub fn new() -> SummaryAggregator {
        SummaryAggregator::with_max_rows(DEFAULT_MAX_ROWS)
    }

    /// Creates an aggregator that keeps up to `max_rows` rows per verdict.
    pub fn with_max_rows(max_rows: usize) -> SummaryAggregator {
        SummaryAggregator {
            max_rows,
            rows: Default::default(),
            totals: Default::default(),
            invalid_verdicts: 0,
        }
    }

    /// Adds one flow record; `localized_reason` is its `reason` in the output
    /// language.
    pub fn add(&mut self, record: &FlowRecord, localized_reason: &str) {
        let Some(verdict) = Verdict::from_record(&record.verdict) else {
            self.invalid_verdicts = self.invalid_verdicts.saturating_add(1);
            return;
        };
        let bytes = record
            .bytes
            .to_server
            .saturating_add(record.bytes.to_client);
        let totals = &mut self.totals[verdict.index()];
        totals.flows = totals.flows.saturating_add(1);
        totals.bytes = totals.bytes.saturating_add(bytes);

        let key = row_key(record, verdict);
        let rows = &mut self.rows[verdict.index()];
        if !rows.contains_key(&key) && rows.len() >= self.max_rows {
            totals.overflow.flows = totals.overflow.flows.saturating_add(1);
            totals.overflow.bytes = totals.overflow.bytes.saturating_add(bytes);
            return;
        }
        let counts = rows.entry(key).or_default();
        counts.flows = counts.flows.saturating_add(1);
        counts.bytes = counts.bytes.saturating_add(bytes);

        if verdict == Verdict::Unexpected {
            let earlier = match &counts.example {
                None => true,
                Some(example) => {
                    (record.ts_start.as_str(), record.flow_id.as_str())
                        < (example.ts_start.as_str(), example.flow_id.as_str())
                }
            };
            if earlier {
                counts.example = Some(example_of(record, localized_reason));
            }
        }
    }

    /// Returns the summary of the records added so far.
    pub fn summary(&self) -> Summary {
        let mut summary = Summary {
            rows: Vec::new(),
            totals: self.totals,
            invalid_verdicts: self.invalid_verdicts,
        };
        for verdict in Verdict::ALL {
            let rows = &self.rows[verdict.index()];
            summary.totals[verdict.index()].rows = rows.len();
            let mut group: Vec<Row> = rows
                .iter()
                .map(|(key, counts)| Row {
                    verdict,
                    path: key.path.clone(),
                    rule: key.rule.clone(),
                    flows: counts.flows,
                    bytes: counts.bytes,
                    example: counts.example.clone(),
                })
                .collect();
            group.sort_by(|a, b| {
                b.flows
                    .cmp(&a.flows)
                    .then(b.bytes.cmp(&a.bytes))
                    .then_with(|| a.path.cmp(&b.path))
                    .then_with(|| a.rule.cmp(&b.rule))
            });
            summary.rows.extend(group);
        }
        summary
    }
}

/// Returns the roles joined with `+`, in [`labels::ROLE_ORDER`], without
/// repeats. A flow whose side has no role is shown as `internet`, as the
/// record contract defaults it.
pub fn role_set(roles: &[String]) -> String {
    let mut sorted: Vec<&str> = roles.iter().map(String::as_str).collect();
    sorted.sort_by(|a, b| {
        labels::role_rank(a)
            .cmp(&labels::role_rank(b))
            .then(a.cmp(b))
    });
    sorted.dedup();
    if sorted.is_empty() {
        return "internet".to_string();
    }
    cut(&sorted.join("+"), MAX_KEY_CHARS)
}

/// Returns the path of a record. The server port is folded into
/// [`ServerPort::Dynamic`] for the verdicts and rules the module
/// documentation lists.
pub fn path_of(record: &FlowRecord, verdict: Verdict) -> PathKey {
    let port = record.server.port;
    let fold = port >= DYNAMIC_PORT_START
        && match verdict {
            Verdict::OutOfScope => true,
            Verdict::Allowed => record.rule.as_deref() == Some("internal.unrestricted"),
            Verdict::Unexpected => false,
        };
    PathKey {
        client_roles: role_set(&record.client.roles),
        server_roles: role_set(&record.server.roles),
        transport: cut(&record.transport, MAX_KEY_CHARS),
        port: if fold {
            ServerPort::Dynamic
        } else {
            ServerPort::Port(port)
        },
        app: cut(&record.app, MAX_KEY_CHARS),
    }
}

fn row_key(record: &FlowRecord, verdict: Verdict) -> RowKey {
    RowKey {
        path: path_of(record, verdict),
        rule: record.rule.as_deref().map(|rule| cut(rule, MAX_KEY_CHARS)),
    }
}

/// Formats an endpoint as `ip:port`, bracketing an IPv6 address (RFC 3986
/// section 3.2.2).
pub fn endpoint_text(ip: &str, port: u16) -> String {
    let ip = cut(ip, MAX_ENDPOINT_CHARS);
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

fn example_of(record: &FlowRecord, localized_reason: &str) -> Example {
    Example {
        flow_id: cut(&record.flow_id, MAX_ENDPOINT_CHARS),
        client: endpoint_text(&record.client.ip, record.client.port),
        server: endpoint_text(&record.server.ip, record.server.port),
        ts_start: cut(&record.ts_start, MAX_ENDPOINT_CHARS),
        reason: cut(localized_reason, MAX_REASON_CHARS),
    }
}

fn cut(value: &str, max_chars: usize) -> String {
    text::cut_chars(value, max_chars).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::record::Endpoint;

    fn record(verdict: &str, client: &str, server: &str, port: u16, app: &str) -> FlowRecord {
        FlowRecord {
            flow_id: format!("f{port}"),
            ts_start: "2024-05-01T10:00:00.000000Z".to_string(),
            transport: "tcp".to_string(),
            client: Endpoint {
                ip: "203.0.113.7".to_string(),
                port: 50000,
                roles: vec![client.to_string()],
            },
            server: Endpoint {
                ip: "10.20.0.10".to_string(),
                port,
                roles: server.split('+').map(str::to_string).collect(),
            },
            app: app.to_string(),
            verdict: verdict.to_string(),
            ..FlowRecord::default()
        }
    }

    #[test]
    fn rows_group_flows_of_one_path() {
        let mut aggregator = SummaryAggregator::new();
        for _ in 0..3 {
            let mut allowed = record("allowed", "internet", "client_access", 443, "tls");
            allowed.rule = Some("client.https".to_string());
            allowed.bytes.to_server = 100;
            allowed.bytes.to_client = 1000;
            aggregator.add(&allowed, "");
        }
        aggregator.add(
            &record("unexpected", "internet", "client_access", 443, "ssh"),
            "SSH on 443",
        );

        let summary = aggregator.summary();
        assert_eq!(summary.rows.len(), 2);
        assert_eq!(summary.rows[0].verdict, Verdict::Unexpected);
        assert_eq!(summary.rows[1].flows, 3);
        assert_eq!(summary.rows[1].bytes, 3300);
        assert_eq!(summary.totals(Verdict::Allowed).flows, 3);
        assert_eq!(summary.total_flows(), 4);
    }

    #[test]
    fn example_is_the_earliest_flow() {
        let mut late = record("unexpected", "internet", "mailbox", 25, "smtp");
        late.ts_start = "2024-05-01T10:00:09.000000Z".to_string();
        let mut early = late.clone();
        early.ts_start = "2024-05-01T10:00:01.000000Z".to_string();
        early.client.port = 40001;

        for order in [[&late, &early], [&early, &late]] {
            let mut aggregator = SummaryAggregator::new();
            for flow in order {
                aggregator.add(flow, &format!("reason {}", flow.ts_start));
            }
            let example = aggregator.summary().rows[0].example.clone().unwrap();
            assert_eq!(example.ts_start, early.ts_start);
            assert_eq!(example.client, "203.0.113.7:40001");
            assert_eq!(example.reason, format!("reason {}", early.ts_start));
        }
    }

    #[test]
    fn rows_past_the_cap_are_counted() {
        let mut aggregator = SummaryAggregator::with_max_rows(2);
        for port in [1, 2, 3, 4, 2] {
            let mut flow = record("unexpected", "internet", "mailbox", port, "unknown");
            flow.bytes.to_server = 10;
            aggregator.add(&flow, "");
        }
        let summary = aggregator.summary();
        let totals = summary.totals(Verdict::Unexpected);
        assert_eq!(summary.rows.len(), 2);
        assert_eq!(totals.rows, 2);
        assert_eq!(totals.flows, 5);
        assert_eq!(
            totals.overflow,
            Overflow {
                flows: 2,
                bytes: 20
            }
        );
        // A flow of a row already kept still lands in it after the cap.
        assert_eq!(summary.rows.iter().map(|row| row.flows).sum::<u64>(), 3);
    }

    #[test]
    fn dynamic_ports_fold_only_where_documented() {
        let mut internal = record("allowed", "client_access", "mailbox", 49170, "unknown");
        internal.rule = Some("internal.unrestricted".to_string());
        assert_eq!(
            path_of(&internal, Verdict::Allowed).port,
            ServerPort::Dynamic
        );

        let mut edgesync = record("allowed", "mailbox", "edge_transport", 50636, "tls");
        edgesync.rule = Some("edge.edgesync".to_string());
        assert_eq!(
            path_of(&edgesync, Verdict::Allowed).port,
            ServerPort::Port(50636)
        );

        let unexpected = record("unexpected", "internet", "mailbox", 50000, "unknown");
        assert_eq!(
            path_of(&unexpected, Verdict::Unexpected).port,
            ServerPort::Port(50000)
        );
    }

    #[test]
    fn role_sets_are_ordered_and_deduplicated() {
        let roles = vec![
            "mailbox".to_string(),
            "client_access".to_string(),
            "mailbox".to_string(),
        ];
        assert_eq!(role_set(&roles), "client_access+mailbox");
        assert_eq!(role_set(&[]), "internet");
    }

    #[test]
    fn invalid_verdict_is_counted() {
        let mut aggregator = SummaryAggregator::new();
        aggregator.add(&record("maybe", "internet", "mailbox", 25, "smtp"), "");
        let summary = aggregator.summary();
        assert_eq!(summary.invalid_verdicts, 1);
        assert!(summary.rows.is_empty());
    }

    #[test]
    fn ipv6_endpoints_are_bracketed() {
        assert_eq!(endpoint_text("2001:db8::5", 443), "[2001:db8::5]:443");
        assert_eq!(endpoint_text("192.0.2.1", 25), "192.0.2.1:25");
    }

    #[test]
    fn long_reason_is_cut() {
        let mut aggregator = SummaryAggregator::new();
        let reason = "x".repeat(64 * 1024);
        aggregator.add(
            &record("unexpected", "internet", "mailbox", 25, "smtp"),
            &reason,
        );
        let example = aggregator.summary().rows[0].example.clone().unwrap();
        assert!(example.reason.chars().count() <= MAX_REASON_CHARS + text::CUT_MARKER.len());
    }
}
