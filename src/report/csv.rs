//! CSV output: one row per flow, with the record's dotted field names as column
//! headers (`client.ip`, `packets.to_server`, ...).
//!
//! Arrays become one cell with the elements joined by commas; a comma inside an
//! element is written `\x2c`. Absent values are empty cells. Every text cell goes
//! through [`escape::csv_text`], so a cell can neither start a spreadsheet formula
//! nor carry a control character.

use std::io::{self, Write};

use super::escape;
use super::record::FlowRecord;

/// Column headers, in the order of the record's fields.
pub const COLUMNS: [&str; 45] = [
    "flow_id",
    "source",
    "ts_start",
    "ts_end",
    "duration",
    "ip_version",
    "transport",
    "client.ip",
    "client.port",
    "client.roles",
    "server.ip",
    "server.port",
    "server.roles",
    "direction_evidence",
    "conn_state",
    "vlan",
    "community_id",
    "packets.to_server",
    "packets.to_client",
    "bytes.to_server",
    "bytes.to_client",
    "payload_bytes.to_server",
    "payload_bytes.to_client",
    "missed_bytes",
    "app",
    "app_evidence",
    "starttls",
    "tls.sni",
    "tls.alpn",
    "tls.version",
    "tls.ja4",
    "http.host",
    "http.method",
    "http.path",
    "http.status",
    "http.user_agent",
    "http.service",
    "smtp.helo",
    "dns.qname",
    "dns.qtype",
    "dns.rcode",
    "verdict",
    "risks",
    "rule",
    "reason",
];

/// Writes flow records as CSV with a header row.
pub struct CsvWriter<W: Write> {
    writer: csv::Writer<W>,
    header_written: bool,
}

impl<W: Write> CsvWriter<W> {
    pub fn new(writer: W) -> CsvWriter<W> {
        CsvWriter {
            writer: csv::WriterBuilder::new()
                .quote_style(csv::QuoteStyle::Necessary)
                .from_writer(writer),
            header_written: false,
        }
    }

    pub fn write(&mut self, record: &FlowRecord) -> io::Result<()> {
        if !self.header_written {
            self.writer.write_record(COLUMNS).map_err(io_error)?;
            self.header_written = true;
        }
        self.writer.write_record(cells(record)).map_err(io_error)
    }

    /// Writes the header row even when no record came, so an empty run still
    /// gives a well-formed file.
    pub fn finish(&mut self) -> io::Result<()> {
        if !self.header_written {
            self.writer.write_record(COLUMNS).map_err(io_error)?;
            self.header_written = true;
        }
        self.writer.flush()
    }
}

/// Returns the I/O error inside a CSV error, so that its kind (a closed pipe,
/// a full disk) reaches the caller. csv's own conversion wraps every error as
/// `ErrorKind::Other`.
fn io_error(error: csv::Error) -> io::Error {
    if !error.is_io_error() {
        return io::Error::other(error);
    }
    match error.into_kind() {
        csv::ErrorKind::Io(error) => error,
        kind => io::Error::other(format!("{kind:?}")),
    }
}

fn text(value: &str) -> String {
    escape::csv_text(value).into_owned()
}

fn optional_text(value: &Option<String>) -> String {
    value.as_deref().map(text).unwrap_or_default()
}

fn list<T: ToString>(values: &[T]) -> String {
    let joined: Vec<String> = values
        .iter()
        .map(|value| value.to_string().replace(',', "\\x2c"))
        .collect();
    text(&joined.join(","))
}

/// Returns the cells of one record, in column order.
fn cells(record: &FlowRecord) -> Vec<String> {
    vec![
        text(&record.flow_id),
        text(&record.source),
        text(&record.ts_start),
        text(&record.ts_end),
        format!("{:.6}", record.duration),
        record.ip_version.to_string(),
        text(&record.transport),
        text(&record.client.ip),
        record.client.port.to_string(),
        list(&record.client.roles),
        text(&record.server.ip),
        record.server.port.to_string(),
        list(&record.server.roles),
        text(&record.direction_evidence),
        text(&record.conn_state),
        list(&record.vlan),
        text(&record.community_id),
        record.packets.to_server.to_string(),
        record.packets.to_client.to_string(),
        record.bytes.to_server.to_string(),
        record.bytes.to_client.to_string(),
        record.payload_bytes.to_server.to_string(),
        record.payload_bytes.to_client.to_string(),
        record.missed_bytes.to_string(),
        text(&record.app),
        text(&record.app_evidence),
        record.starttls.to_string(),
        optional_text(&record.tls.sni),
        list(&record.tls.alpn),
        optional_text(&record.tls.version),
        optional_text(&record.tls.ja4),
        optional_text(&record.http.host),
        optional_text(&record.http.method),
        optional_text(&record.http.path),
        record
            .http
            .status
            .map(|status| status.to_string())
            .unwrap_or_default(),
        optional_text(&record.http.user_agent),
        optional_text(&record.http.service),
        optional_text(&record.smtp.helo),
        optional_text(&record.dns.qname),
        optional_text(&record.dns.qtype),
        optional_text(&record.dns.rcode),
        text(&record.verdict),
        list(&record.risks),
        optional_text(&record.rule),
        text(&record.reason),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_one(record: &FlowRecord) -> String {
        let mut writer = CsvWriter::new(Vec::new());
        writer.write(record).unwrap();
        writer.finish().unwrap();
        String::from_utf8(writer.writer.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn header_and_row_have_same_width() {
        let output = write_one(&FlowRecord::default());
        let mut reader = csv::Reader::from_reader(output.as_bytes());
        let header_width = reader.headers().unwrap().len();
        let row = reader.records().next().unwrap().unwrap();
        assert_eq!(header_width, COLUMNS.len());
        assert_eq!(row.len(), header_width);
    }

    #[test]
    fn hostile_cells_are_neutralised() {
        let mut record = FlowRecord::default();
        record.http.host = Some("=HYPERLINK(\"http://x\")".to_string());
        record.smtp.helo = Some("evil\u{1b}[2J,\"quoted\"".to_string());
        record.tls.alpn = vec!["h2".to_string(), "a,b".to_string()];
        let output = write_one(&record);
        let mut reader = csv::Reader::from_reader(output.as_bytes());
        let headers = reader.headers().unwrap().clone();
        let row = reader.records().next().unwrap().unwrap();
        let cell = |name: &str| {
            row.get(headers.iter().position(|h| h == name).unwrap())
                .unwrap()
                .to_string()
        };
        assert_eq!(cell("http.host"), "'=HYPERLINK(\"http://x\")");
        assert_eq!(cell("smtp.helo"), "evil\\u{001b}[2J,\"quoted\"");
        assert_eq!(cell("tls.alpn"), "h2,a\\x2cb");
        assert!(!output.contains('\u{1b}'));
    }

    #[test]
    fn write_error_keeps_its_kind() {
        // A pipe whose reader has gone, as standard output is after `| head`.
        // The Rust runtime ignores SIGPIPE, so writes fail with EPIPE.
        let (reader, pipe) = io::pipe().unwrap();
        drop(reader);
        let mut writer = CsvWriter::new(pipe);
        let record = FlowRecord::default();
        // csv buffers rows, so the failure shows once its buffer fills.
        let error = (0..10_000)
            .find_map(|_| writer.write(&record).err())
            .expect("writing to a closed pipe never failed");
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn empty_output_has_header() {
        let mut writer = CsvWriter::new(Vec::new());
        writer.finish().unwrap();
        let output = String::from_utf8(writer.writer.into_inner().unwrap()).unwrap();
        assert!(output.starts_with("flow_id,source,"));
    }
}
