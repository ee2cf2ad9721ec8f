//! Where the records of `exflow live` go, and the shapes of its JSON records.
//!
//! JSON Lines carry four kinds of object, distinguished by their first key,
//! `record_type`:
//!
//! - `flow`: a flow ended. Apart from `record_type` it is the object `analyze`
//!   writes, field for field.
//! - `alert`: a flow was judged `unexpected`. Same fields as `flow`, with the
//!   flow as it stood at that moment.
//! - `interim`: a long-lived flow as it stands, at each `--interim-interval`.
//!   Same fields as `flow`.
//! - `stats`: counters of the run ([`StatsRecord`]).
//!
//! CSV has one fixed header, so it carries only the final (`flow`) records.
//!
//! A JSON Lines file is opened for appending, so a restart adds to it. A CSV
//! file is truncated when opened, because it must start with its one header
//! row. SIGHUP reopens the file by name, for logrotate.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::ser::SerializeMap;

use crate::capture::live::InterfaceCounters;
use crate::pipeline::live::{LatencySummary, LiveStats, RecordCounts, RecordKind};
use crate::report::csv::CsvWriter;
use crate::report::jsonl::write_line;
use crate::report::record::FlowRecord;
use crate::report::stats::RunStats;

/// Size of the output buffer. It is flushed after each burst of records, so
/// readers of the file see records within a fraction of a second.
const OUTPUT_BUFFER: usize = 64 * 1024;

/// A flow record with its `record_type` in front.
#[derive(Serialize)]
pub struct TypedRecord<'a> {
    pub record_type: &'static str,
    #[serde(flatten)]
    pub record: &'a FlowRecord,
}

/// A `stats` record. Counters count from the start of the run; `latency_ns`
/// covers the packets since the previous `stats` record, or the whole run in
/// the final one.
#[derive(Debug, Serialize)]
pub struct StatsRecord {
    pub record_type: &'static str,
    /// Wall-clock time the record was made, RFC 3339 UTC with microseconds.
    pub ts: String,
    /// True for the record written at exit, after every flow was flushed.
    #[serde(rename = "final")]
    pub is_final: bool,
    /// Seconds since capture started.
    pub uptime: f64,
    /// Frames the engine read, over all interfaces.
    pub packets: u64,
    /// Bytes of those frames on the wire.
    pub bytes: u64,
    pub active_flows: u64,
    /// Flows ended early by the flow table's caps.
    pub evictions: u64,
    /// Sums of the interfaces' counters below.
    pub kernel_drops: u64,
    pub interface_drops: u64,
    pub interfaces: Vec<InterfaceRecord>,
    /// Records written so far, by `record_type`.
    pub records: RecordCounts,
    pub latency_ns: LatencySummary,
    /// The counters of `analyze`'s summary, under the same ids.
    pub counters: Counters,
}

/// libpcap's counters of one interface.
#[derive(Debug, Serialize)]
pub struct InterfaceRecord {
    pub name: String,
    pub received: u64,
    pub kernel_drops: u64,
    pub interface_drops: u64,
}

/// Run counters, written as an object from counter id to value in display
/// order.
#[derive(Debug)]
pub struct Counters(pub RunStats);

impl Serialize for Counters {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.0.iter() {
            map.serialize_entry(key.id(), &value)?;
        }
        map.end()
    }
}

impl StatsRecord {
    /// Builds the record from the engine's and the interfaces' counters.
    pub fn new(
        stats: &LiveStats,
        names: &[String],
        interfaces: &[InterfaceCounters],
        uptime: f64,
        is_final: bool,
    ) -> StatsRecord {
        StatsRecord {
            record_type: "stats",
            ts: crate::report::build::format_timestamp(wall_clock()),
            is_final,
            uptime,
            packets: stats.frames,
            bytes: stats.wire_bytes,
            active_flows: stats.active_flows,
            evictions: stats.evictions,
            kernel_drops: interfaces
                .iter()
                .map(|counters| counters.kernel_drops)
                .sum(),
            interface_drops: interfaces
                .iter()
                .map(|counters| counters.interface_drops)
                .sum(),
            interfaces: names
                .iter()
                .zip(interfaces)
                .map(|(name, counters)| InterfaceRecord {
                    name: name.clone(),
                    received: counters.received,
                    kernel_drops: counters.kernel_drops,
                    interface_drops: counters.interface_drops,
                })
                .collect(),
            records: stats.records,
            latency_ns: stats.latency,
            counters: Counters(stats.run.clone()),
        }
    }
}

fn wall_clock() -> crate::capture::Timestamp {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    crate::capture::Timestamp(now.as_nanos().min(i64::MAX as u128) as i64)
}

/// The record formats `exflow live` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveFormat {
    Jsonl,
    Csv,
}

type Target = BufWriter<Box<dyn Write + Send>>;

enum Writer {
    Jsonl(Target),
    Csv(Box<CsvWriter<Target>>),
}

/// The output file (or standard output) in the chosen format.
pub struct RecordSink {
    /// `None` for standard output.
    path: Option<PathBuf>,
    format: LiveFormat,
    writer: Writer,
}

impl RecordSink {
    /// Opens `path` ("-" or `None` is standard output): for appending in JSON
    /// Lines, truncated in CSV.
    pub fn open(path: Option<&Path>, format: LiveFormat) -> io::Result<RecordSink> {
        let path = path
            .filter(|path| path.as_os_str() != "-")
            .map(Path::to_path_buf);
        let writer = Self::writer(path.as_deref(), format)?;
        Ok(RecordSink {
            path,
            format,
            writer,
        })
    }

    fn writer(path: Option<&Path>, format: LiveFormat) -> io::Result<Writer> {
        let target: Box<dyn Write + Send> = match (path, format) {
            (Some(path), LiveFormat::Jsonl) => Box::new(append(path)?),
            (Some(path), LiveFormat::Csv) => Box::new(File::create(path)?),
            (None, _) => Box::new(crate::cli::stdout::open()?),
        };
        let target = BufWriter::with_capacity(OUTPUT_BUFFER, target);
        Ok(match format {
            LiveFormat::Jsonl => Writer::Jsonl(target),
            LiveFormat::Csv => Writer::Csv(Box::new(CsvWriter::new(target))),
        })
    }

    /// Returns the output file, or `None` for standard output.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Closes the file and opens it again by name, so that a file renamed by
    /// logrotate is left behind. Returns false for standard output, which
    /// is left as it is. On failure the old file stays open and in use.
    pub fn reopen(&mut self) -> io::Result<bool> {
        let Some(path) = self.path.clone() else {
            return Ok(false);
        };
        self.flush()?;
        self.writer = Self::writer(Some(&path), self.format)?;
        Ok(true)
    }

    /// Writes a flow, alert or interim record. CSV takes final records only.
    pub fn write_flow(&mut self, kind: RecordKind, record: &FlowRecord) -> io::Result<()> {
        match &mut self.writer {
            Writer::Jsonl(target) => write_line(
                target,
                &TypedRecord {
                    record_type: kind.as_str(),
                    record,
                },
            ),
            Writer::Csv(writer) if kind == RecordKind::Flow => writer.write(record),
            Writer::Csv(_) => Ok(()),
        }
    }

    /// Writes a `stats` record; CSV has no place for one.
    pub fn write_stats(&mut self, record: &StatsRecord) -> io::Result<()> {
        match &mut self.writer {
            Writer::Jsonl(target) => write_line(target, record),
            Writer::Csv(_) => Ok(()),
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.writer {
            Writer::Jsonl(target) => target.flush(),
            Writer::Csv(writer) => writer.finish(),
        }
    }
}

fn append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_record_prefixes_analyze_object() {
        let record = FlowRecord {
            flow_id: "0123456789abcdef".to_string(),
            source: "eth1".to_string(),
            verdict: "unexpected".to_string(),
            ..FlowRecord::default()
        };
        let mut plain = Vec::new();
        write_line(&mut plain, &record).unwrap();
        let mut typed = Vec::new();
        write_line(
            &mut typed,
            &TypedRecord {
                record_type: "alert",
                record: &record,
            },
        )
        .unwrap();

        let expected = format!(
            "{{\"record_type\":\"alert\",{}",
            std::str::from_utf8(&plain[1..]).unwrap()
        );
        assert_eq!(std::str::from_utf8(&typed).unwrap(), expected);
    }

    #[test]
    fn counters_keep_display_order() {
        let mut run = RunStats::default();
        run.add(crate::report::stats::StatKey::Frames, 7);
        let text = serde_json::to_string(&Counters(run)).unwrap();
        assert!(
            text.starts_with("{\"files_read\":0,\"frames\":7,"),
            "{text}"
        );
    }
}
