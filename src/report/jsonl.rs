//! JSON Lines output: one flow record per line.
//!
//! serde_json escapes C0 controls, quotes and backslashes. This writer also
//! escapes DEL, C1 controls and the Unicode format characters that reorder or hide
//! text (see [`escape::is_unsafe_char`]), so that `cat` or `tail -f` of the output
//! cannot drive a terminal. The escapes are standard JSON, so every parser reads
//! back the original string.

use std::io::{self, IoSlice, Write};

use serde::Serialize;
use serde_json::ser::Formatter;

use super::escape;
use super::line_pool::LinePool;
use super::record::FlowRecord;

/// A compact JSON formatter that also escapes the characters a terminal acts on.
#[derive(Clone, Copy, Debug, Default)]
pub struct SafeFormatter;

impl Formatter for SafeFormatter {
    fn write_string_fragment<W>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()>
    where
        W: ?Sized + Write,
    {
        // Printable ASCII is never unsafe, and most fragments are only that.
        if fragment.bytes().all(|byte| (0x20..0x7f).contains(&byte)) {
            return writer.write_all(fragment.as_bytes());
        }
        let mut start = 0;
        for (index, c) in fragment.char_indices() {
            if escape::is_unsafe_char(c) {
                writer.write_all(&fragment.as_bytes()[start..index])?;
                write!(writer, "\\u{:04x}", c as u32)?;
                start = index + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// Writes `value` as one line of JSON with [`SafeFormatter`].
pub fn write_line<W: Write, T: Serialize>(writer: &mut W, value: &T) -> io::Result<()> {
    let mut serializer = serde_json::Serializer::with_formatter(&mut *writer, SafeFormatter);
    value.serialize(&mut serializer).map_err(io::Error::from)?;
    writer.write_all(b"\n")
}

/// Writes flow records as JSON Lines.
pub struct JsonLinesWriter<W: Write> {
    writer: W,
}

impl<W: Write> JsonLinesWriter<W> {
    pub fn new(writer: W) -> JsonLinesWriter<W> {
        JsonLinesWriter { writer }
    }

    pub fn write(&mut self, record: &FlowRecord) -> io::Result<()> {
        write_line(&mut self.writer, record)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }

    pub fn into_inner(self) -> W {
        self.writer
    }
}

/// Maximum number of lines in one vectored write: `IOV_MAX` (1024) on Linux.
const BATCH_LINES: usize = 1024;

/// Bytes of waiting lines that start a vectored write.
const BATCH_BYTES: usize = 256 * 1024;

/// A JSON Lines output that takes finished lines by value and writes them in
/// vectored writes. Each line goes from the buffer it was built in to the
/// writer without another copy, which matters when a worker thread built it on
/// another core.
pub struct LineBatchWriter<W: Write> {
    writer: W,
    lines: Vec<Vec<u8>>,
    bytes: usize,
    /// The pool that written lines go back to, when the lines come from one.
    pool: Option<LinePool>,
}

impl<W: Write> LineBatchWriter<W> {
    pub fn new(writer: W) -> LineBatchWriter<W> {
        LineBatchWriter {
            writer,
            lines: Vec::with_capacity(BATCH_LINES),
            bytes: 0,
            pool: None,
        }
    }

    /// Returns a writer that gives each line back to `pool` once it is written.
    pub fn with_pool(writer: W, pool: LinePool) -> LineBatchWriter<W> {
        LineBatchWriter {
            pool: Some(pool),
            ..LineBatchWriter::new(writer)
        }
    }

    /// Adds a line (newline included) and writes the batch when it is full.
    pub fn push(&mut self, line: Vec<u8>) -> io::Result<()> {
        self.bytes += line.len();
        self.lines.push(line);
        if self.lines.len() >= BATCH_LINES || self.bytes >= BATCH_BYTES {
            self.write_batch()?;
        }
        Ok(())
    }

    /// Writes the lines that wait and flushes the writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.write_batch()?;
        self.writer.flush()
    }

    fn write_batch(&mut self) -> io::Result<()> {
        let mut slices: Vec<IoSlice<'_>> =
            self.lines.iter().map(|line| IoSlice::new(line)).collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            match self.writer.write_vectored(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(written) => IoSlice::advance_slices(&mut rest, written),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        match &self.pool {
            Some(pool) => pool.give_back(std::mem::replace(
                &mut self.lines,
                Vec::with_capacity(BATCH_LINES),
            )),
            None => self.lines.clear(),
        }
        self.bytes = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_of(text: &str) -> String {
        let mut out = Vec::new();
        write_line(&mut out, &text).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_terminal_controls() {
        assert_eq!(line_of("a\u{1b}[2Jb"), "\"a\\u001b[2Jb\"\n");
        assert_eq!(line_of("x\u{9b}y\u{7f}"), "\"x\\u009by\\u007f\"\n");
        assert_eq!(line_of("\u{202e}gpj.exe"), "\"\\u202egpj.exe\"\n");
    }

    #[test]
    fn escaped_strings_read_back_unchanged() {
        let hostile = "\u{1b}]0;title\u{7}\u{9b}31m\u{202e}\u{2028}\0\\\"日本";
        let line = line_of(hostile);
        assert!(
            !line
                .trim_end_matches('\n')
                .chars()
                .any(escape::is_unsafe_char)
        );
        let back: String = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(back, hostile);
    }

    #[test]
    fn record_has_every_key() {
        let mut out = Vec::new();
        write_line(&mut out, &FlowRecord::default()).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        for key in [
            "flow_id",
            "source",
            "ts_start",
            "ts_end",
            "duration",
            "ip_version",
            "transport",
            "client",
            "server",
            "direction_evidence",
            "conn_state",
            "vlan",
            "community_id",
            "packets",
            "bytes",
            "payload_bytes",
            "missed_bytes",
            "app",
            "app_evidence",
            "starttls",
            "tls",
            "http",
            "smtp",
            "dns",
            "verdict",
            "risks",
            "rule",
            "reason",
        ] {
            assert!(value.get(key).is_some(), "missing key {key}");
        }
        assert!(value["tls"].get("ja4").is_some());
        assert!(value["client"].get("roles").is_some());
        assert!(value["packets"].get("to_client").is_some());
    }

    /// A writer that takes at most `limit` bytes per call, like a pipe that
    /// is nearly full.
    struct Trickle {
        out: Vec<u8>,
        limit: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let len = buf.len().min(self.limit);
            self.out.extend_from_slice(&buf[..len]);
            Ok(len)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn batches_survive_short_writes() {
        let lines: Vec<Vec<u8>> = (0..3000)
            .map(|index| format!("{{\"n\":{index}}}\n").into_bytes())
            .collect();
        for limit in [1, 7, 4096, usize::MAX] {
            let mut writer = LineBatchWriter::new(Trickle {
                out: Vec::new(),
                limit,
            });
            for line in &lines {
                writer.push(line.clone()).unwrap();
            }
            writer.flush().unwrap();
            assert_eq!(writer.writer.out, lines.concat(), "limit {limit}");
        }
    }

    #[test]
    fn written_lines_go_back_to_pool() {
        let pool = LinePool::default();
        let mut writer = LineBatchWriter::with_pool(Vec::new(), pool.clone());
        for index in 0..3 {
            let mut line = pool.take();
            line.extend_from_slice(format!("{{\"n\":{index}}}\n").as_bytes());
            writer.push(line).unwrap();
        }
        assert_eq!(pool.bundles(), 0);

        writer.flush().unwrap();
        assert_eq!(writer.writer, b"{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n");
        assert_eq!(pool.bundles(), 1);
        let spares: Vec<Vec<u8>> = (0..3).map(|_| pool.take()).collect();
        assert!(spares.iter().all(|line| line.is_empty()));
        assert_eq!(pool.bundles(), 0);
    }

    #[test]
    fn batch_write_error_is_returned() {
        let mut writer = LineBatchWriter::new(Trickle {
            out: Vec::new(),
            limit: 0,
        });
        writer.push(b"{}\n".to_vec()).unwrap();
        let error = writer.flush().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WriteZero);
    }
}
