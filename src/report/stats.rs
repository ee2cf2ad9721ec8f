//! Run statistics: the counters the pipeline fills while it reads captures, and
//! the errors it met in each file, for the summary and the HTML report.
//!
//! Every counter is a [`StatKey`]. A key has a stable id (`frames`,
//! `skipped.not_ip`) and a group, and its English and Japanese labels live in
//! `locales/report.yml` under `report.stat.<id>`.
//!
//! To add a counter, add a variant, give it an id and a group in
//! [`StatKey::id`] and [`StatKey::group`], and append it to [`StatKey::ALL`],
//! which sets the display order. Then add its labels: a test fails for a key
//! without both.
//!
//! ```
//! use exflow::report::stats::{RunStats, StatKey};
//!
//! let mut stats = RunStats::default();
//! stats.add(StatKey::Frames, 1);
//! stats.add(StatKey::BytesRead, 1514);
//! stats.push_error("a.pcap", Some(4096), "truncated packet record");
//! assert_eq!(stats.get(StatKey::Frames), 1);
//! ```

/// Maximum number of per-file errors kept; later ones are only counted in
/// [`RunStats::errors_omitted`], so a file full of garbage cannot fill memory.
pub const MAX_FILE_ERRORS: usize = 100;

/// Maximum length, in characters, of a kept error's file name and message.
pub const MAX_ERROR_TEXT_CHARS: usize = 1024;

/// A group of counters, shown under one heading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatGroup {
    /// Capture files and the frames and bytes read from them.
    Input,
    /// Link-layer to TCP/UDP decoding and what it set aside.
    Decode,
    /// Flows, their verdicts and evictions.
    Flows,
}

impl StatGroup {
    pub const ALL: [StatGroup; 3] = [StatGroup::Input, StatGroup::Decode, StatGroup::Flows];

    /// Returns the stable id, used in message keys (`report.stat_group.<id>`).
    pub fn id(self) -> &'static str {
        match self {
            StatGroup::Input => "input",
            StatGroup::Decode => "decode",
            StatGroup::Flows => "flows",
        }
    }
}

/// One run counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StatKey {
    /// Capture files (or standard input) opened and read.
    FilesRead,
    /// Frames (packet records) read from the captures.
    Frames,
    /// Bytes read from the captures, headers included.
    BytesRead,
    /// Damaged pcapng blocks or pcap records skipped by resynchronising.
    CorruptBlocksSkipped,
    /// Frames the snapshot length cut shorter than the packet on the wire.
    TruncatedBySnaplen,
    /// Frames decoded down to a TCP or UDP packet.
    PacketsDecoded,
    /// Frames whose headers could not be decoded (invalid or truncated headers).
    DecodeErrors,
    /// Packets whose IP, TCP or UDP checksum did not verify.
    BadChecksums,
    /// Packets with a bad checksum that the receiving host drops, from a side
    /// of a flow that sent good ones: counted, and left out of the flow's TCP
    /// state and payload.
    BadChecksumsIgnored,
    /// The same frame captured twice, left out of the flows.
    Duplicates,
    /// IP datagrams rebuilt from fragments.
    FragmentsReassembled,
    /// Fragments dropped on arrival: inconsistent, overlapping, duplicated,
    /// or too large. Datagrams evicted later count in the three keys below.
    FragmentsDropped,
    /// Incomplete IP datagrams dropped when their fragments did not all come
    /// within the fragment timeout.
    FragmentsTimedOut,
    /// Incomplete IP datagrams evicted to stay within the fragment memory cap.
    FragmentsMemoryCap,
    /// Incomplete IP datagrams evicted to stay within the cap on datagrams
    /// being reassembled.
    FragmentsPendingCap,
    /// Frames skipped: not IP (ARP, LLDP, spanning tree ...).
    SkippedNotIp,
    /// Frames skipped: IP, but neither TCP nor UDP (ICMP, ESP, GRE ...).
    SkippedNotTcpUdp,
    /// Frames skipped: a link-layer header type exflow does not decode.
    SkippedLinkType,
    /// Frames skipped by the `--filter` expression.
    SkippedFiltered,
    /// Flow records written.
    Flows,
    /// Flows judged `allowed`.
    FlowsAllowed,
    /// Flows judged `unexpected`.
    FlowsUnexpected,
    /// Flows judged `out_of_scope`.
    FlowsOutOfScope,
    /// Flows ended early because the flow table was full.
    EvictedTableFull,
    /// Flows whose reassembly buffers were dropped under the memory cap.
    EvictedMemory,
}

impl StatKey {
    /// Every key, in display order.
    pub const ALL: [StatKey; 25] = [
        StatKey::FilesRead,
        StatKey::Frames,
        StatKey::BytesRead,
        StatKey::CorruptBlocksSkipped,
        StatKey::TruncatedBySnaplen,
        StatKey::PacketsDecoded,
        StatKey::DecodeErrors,
        StatKey::BadChecksums,
        StatKey::BadChecksumsIgnored,
        StatKey::Duplicates,
        StatKey::FragmentsReassembled,
        StatKey::FragmentsDropped,
        StatKey::FragmentsTimedOut,
        StatKey::FragmentsMemoryCap,
        StatKey::FragmentsPendingCap,
        StatKey::SkippedNotIp,
        StatKey::SkippedNotTcpUdp,
        StatKey::SkippedLinkType,
        StatKey::SkippedFiltered,
        StatKey::Flows,
        StatKey::FlowsAllowed,
        StatKey::FlowsUnexpected,
        StatKey::FlowsOutOfScope,
        StatKey::EvictedTableFull,
        StatKey::EvictedMemory,
    ];

    /// Returns the stable id, used in message keys (`report.stat.<id>`) and in
    /// the HTML report's data attributes.
    pub fn id(self) -> &'static str {
        match self {
            StatKey::FilesRead => "files_read",
            StatKey::Frames => "frames",
            StatKey::BytesRead => "bytes_read",
            StatKey::CorruptBlocksSkipped => "corrupt_blocks_skipped",
            StatKey::TruncatedBySnaplen => "truncated_by_snaplen",
            StatKey::PacketsDecoded => "packets_decoded",
            StatKey::DecodeErrors => "decode_errors",
            StatKey::BadChecksums => "bad_checksums",
            StatKey::BadChecksumsIgnored => "bad_checksums_ignored",
            StatKey::Duplicates => "duplicates",
            StatKey::FragmentsReassembled => "fragments_reassembled",
            StatKey::FragmentsDropped => "fragments_dropped",
            StatKey::FragmentsTimedOut => "fragments.timed_out",
            StatKey::FragmentsMemoryCap => "fragments.memory_cap",
            StatKey::FragmentsPendingCap => "fragments.pending_cap",
            StatKey::SkippedNotIp => "skipped.not_ip",
            StatKey::SkippedNotTcpUdp => "skipped.not_tcp_udp",
            StatKey::SkippedLinkType => "skipped.link_type",
            StatKey::SkippedFiltered => "skipped.filtered",
            StatKey::Flows => "flows",
            StatKey::FlowsAllowed => "flows.allowed",
            StatKey::FlowsUnexpected => "flows.unexpected",
            StatKey::FlowsOutOfScope => "flows.out_of_scope",
            StatKey::EvictedTableFull => "evicted.table_full",
            StatKey::EvictedMemory => "evicted.memory",
        }
    }

    pub fn group(self) -> StatGroup {
        match self {
            StatKey::FilesRead
            | StatKey::Frames
            | StatKey::BytesRead
            | StatKey::CorruptBlocksSkipped
            | StatKey::TruncatedBySnaplen => StatGroup::Input,
            StatKey::PacketsDecoded
            | StatKey::DecodeErrors
            | StatKey::BadChecksums
            | StatKey::BadChecksumsIgnored
            | StatKey::Duplicates
            | StatKey::FragmentsReassembled
            | StatKey::FragmentsDropped
            | StatKey::FragmentsTimedOut
            | StatKey::FragmentsMemoryCap
            | StatKey::FragmentsPendingCap
            | StatKey::SkippedNotIp
            | StatKey::SkippedNotTcpUdp
            | StatKey::SkippedLinkType
            | StatKey::SkippedFiltered => StatGroup::Decode,
            StatKey::Flows
            | StatKey::FlowsAllowed
            | StatKey::FlowsUnexpected
            | StatKey::FlowsOutOfScope
            | StatKey::EvictedTableFull
            | StatKey::EvictedMemory => StatGroup::Flows,
        }
    }

    /// Returns true for a counter shown only when it is not zero: the skip
    /// reasons, the fragment evictions and the ignored bad checksums, of which
    /// a capture usually has few. Every other counter is
    /// shown even at zero, because "0 decode errors" is worth reading.
    pub fn hidden_when_zero(self) -> bool {
        matches!(
            self,
            StatKey::BadChecksumsIgnored
                | StatKey::FragmentsTimedOut
                | StatKey::FragmentsMemoryCap
                | StatKey::FragmentsPendingCap
                | StatKey::SkippedNotIp
                | StatKey::SkippedNotTcpUdp
                | StatKey::SkippedLinkType
                | StatKey::SkippedFiltered
        )
    }

    /// Returns true for a counter that counts bytes, shown with a binary unit.
    pub fn is_bytes(self) -> bool {
        matches!(self, StatKey::BytesRead)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// An error met while reading one capture file; the run went on after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileError {
    pub file: String,
    /// Byte offset in the file, when the error has one.
    pub offset: Option<u64>,
    /// The error message, in the language of the run.
    pub message: String,
}

/// Counters and per-file errors of one run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunStats {
    counters: [u64; StatKey::ALL.len()],
    /// Wall-clock seconds the run took.
    pub elapsed_secs: f64,
    /// The first [`MAX_FILE_ERRORS`] errors, in the order they were pushed.
    pub errors: Vec<FileError>,
    /// Errors counted but not kept because [`MAX_FILE_ERRORS`] were kept.
    pub errors_omitted: u64,
}

impl RunStats {
    /// Adds `count` to a counter, saturating.
    pub fn add(&mut self, key: StatKey, count: u64) {
        let counter = &mut self.counters[key.index()];
        *counter = counter.saturating_add(count);
    }

    pub fn set(&mut self, key: StatKey, count: u64) {
        self.counters[key.index()] = count;
    }

    pub fn get(&self, key: StatKey) -> u64 {
        self.counters[key.index()]
    }

    /// Returns the frames skipped for any reason.
    pub fn skipped_total(&self) -> u64 {
        StatKey::ALL
            .iter()
            .filter(|key| key.id().starts_with("skipped."))
            .fold(0u64, |total, &key| total.saturating_add(self.get(key)))
    }

    /// Returns every counter with its value, in display order.
    pub fn iter(&self) -> impl Iterator<Item = (StatKey, u64)> + '_ {
        StatKey::ALL.iter().map(|&key| (key, self.get(key)))
    }

    /// Records an error met in `file` at byte `offset`. Long file names and
    /// messages are cut to [`MAX_ERROR_TEXT_CHARS`]; past [`MAX_FILE_ERRORS`]
    /// errors only the count grows.
    pub fn push_error(&mut self, file: &str, offset: Option<u64>, message: &str) {
        if self.errors.len() >= MAX_FILE_ERRORS {
            self.errors_omitted = self.errors_omitted.saturating_add(1);
            return;
        }
        self.errors.push(FileError {
            file: cut_chars(file, MAX_ERROR_TEXT_CHARS),
            offset,
            message: cut_chars(message, MAX_ERROR_TEXT_CHARS),
        });
    }

    /// Adds another worker's counters and errors to these. Elapsed time is the
    /// longer of the two, because workers run at the same time.
    pub fn merge(&mut self, other: &RunStats) {
        for (key, count) in other.iter() {
            self.add(key, count);
        }
        self.elapsed_secs = self.elapsed_secs.max(other.elapsed_secs);
        for error in &other.errors {
            if self.errors.len() >= MAX_FILE_ERRORS {
                self.errors_omitted = self.errors_omitted.saturating_add(1);
            } else {
                self.errors.push(error.clone());
            }
        }
        self.errors_omitted = self.errors_omitted.saturating_add(other.errors_omitted);
    }

    /// Returns the total number of errors, kept or not.
    pub fn error_count(&self) -> u64 {
        (self.errors.len() as u64).saturating_add(self.errors_omitted)
    }
}

/// Returns at most `max_chars` characters of `text`.
fn cut_chars(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => text[..end].to_string(),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{Lang, message};

    #[test]
    fn all_lists_each_key_at_its_index() {
        for (position, key) in StatKey::ALL.iter().enumerate() {
            assert_eq!(key.index(), position, "{key:?} is out of order in ALL");
        }
    }

    #[test]
    fn every_key_has_both_labels() {
        for key in StatKey::ALL {
            let message_key = format!("report.stat.{}", key.id());
            for lang in [Lang::En, Lang::Ja] {
                let label = message(lang, &message_key, &[]);
                assert_ne!(label, message_key, "{lang:?} label missing for {key:?}");
                assert!(!label.is_empty());
            }
            assert_ne!(
                message(Lang::En, &message_key, &[]),
                message(Lang::Ja, &message_key, &[]),
                "{key:?} has no Japanese label"
            );
        }
        for group in StatGroup::ALL {
            let message_key = format!("report.stat_group.{}", group.id());
            assert_ne!(message(Lang::Ja, &message_key, &[]), message_key);
            assert_ne!(message(Lang::En, &message_key, &[]), message_key);
        }
    }

    #[test]
    fn add_saturates() {
        let mut stats = RunStats::default();
        stats.add(StatKey::BytesRead, u64::MAX - 1);
        stats.add(StatKey::BytesRead, 5);
        assert_eq!(stats.get(StatKey::BytesRead), u64::MAX);
        assert_eq!(stats.get(StatKey::Frames), 0);
    }

    #[test]
    fn skipped_total_sums_reasons() {
        let mut stats = RunStats::default();
        stats.add(StatKey::SkippedNotIp, 3);
        stats.add(StatKey::SkippedFiltered, 4);
        stats.add(StatKey::DecodeErrors, 100);
        assert_eq!(stats.skipped_total(), 7);
    }

    #[test]
    fn errors_are_capped() {
        let mut stats = RunStats::default();
        for offset in 0..(MAX_FILE_ERRORS as u64 + 7) {
            stats.push_error("a.pcap", Some(offset), "invalid block length");
        }
        assert_eq!(stats.errors.len(), MAX_FILE_ERRORS);
        assert_eq!(stats.errors_omitted, 7);
        assert_eq!(stats.error_count(), MAX_FILE_ERRORS as u64 + 7);
        assert_eq!(stats.errors[0].offset, Some(0));
    }

    #[test]
    fn long_error_text_is_cut() {
        let mut stats = RunStats::default();
        stats.push_error(&"f".repeat(5000), None, &"あ".repeat(5000));
        assert_eq!(stats.errors[0].file.chars().count(), MAX_ERROR_TEXT_CHARS);
        assert_eq!(
            stats.errors[0].message.chars().count(),
            MAX_ERROR_TEXT_CHARS
        );
    }

    #[test]
    fn merge_adds_counters_and_errors() {
        let mut first = RunStats::default();
        first.add(StatKey::Frames, 10);
        first.elapsed_secs = 2.0;
        first.push_error("a.pcap", Some(24), "truncated packet record");
        let mut second = RunStats::default();
        second.add(StatKey::Frames, 5);
        second.add(StatKey::Flows, 2);
        second.elapsed_secs = 3.5;
        second.push_error("b.pcap", None, "invalid magic number");
        second.errors_omitted = 2;

        first.merge(&second);
        assert_eq!(first.get(StatKey::Frames), 15);
        assert_eq!(first.get(StatKey::Flows), 2);
        assert_eq!(first.elapsed_secs, 3.5);
        assert_eq!(first.errors.len(), 2);
        assert_eq!(first.errors[1].file, "b.pcap");
        assert_eq!(first.errors_omitted, 2);
    }
}
