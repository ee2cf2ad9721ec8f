//! An output file that keeps its old content until the run has something to
//! put in its place.
//!
//! `-o FILE` and `--report FILE` are opened before any input is read, so that
//! a path that cannot be written fails at once. Opening does not empty the
//! file. It is emptied at its first write, or by [`PendingControl::settle`]
//! once an input has been read. When no input could be read, `settle` leaves
//! the file as it was and drops any later write.

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// Nothing written yet; the file still has its old content.
const WAITING: u8 = 0;
/// The file was emptied and takes writes.
const STARTED: u8 = 1;
/// No input was read: writes are dropped.
const ABANDONED: u8 = 2;

/// The file and its state, shared by the writer and the run.
#[derive(Debug)]
struct Shared {
    file: File,
    /// A regular file, which can be emptied. A device or a pipe cannot, and
    /// keeps no old content to protect.
    regular: bool,
    state: AtomicU8,
}

impl Shared {
    /// Empties the file on the first call, and returns whether writes go to
    /// it.
    fn begin(&self) -> io::Result<bool> {
        match self
            .state
            .compare_exchange(WAITING, STARTED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => {
                if self.regular {
                    self.file.set_len(0)?;
                }
                Ok(true)
            }
            Err(state) => Ok(state == STARTED),
        }
    }
}

/// The writer of a pending output file.
#[derive(Debug)]
pub struct PendingFile {
    shared: Arc<Shared>,
}

/// The run's handle on a [`PendingFile`].
#[derive(Clone, Debug)]
pub struct PendingControl {
    shared: Arc<Shared>,
}

/// Opens `path` for writing, creating it when missing, without emptying it.
pub fn open(path: &Path) -> io::Result<(PendingFile, PendingControl)> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    let regular = file.metadata()?.is_file();
    let shared = Arc::new(Shared {
        file,
        regular,
        state: AtomicU8::new(WAITING),
    });
    let control = PendingControl {
        shared: Arc::clone(&shared),
    };
    Ok((PendingFile { shared }, control))
}

impl PendingControl {
    /// Ends the wait: starts the file when an input was read, and abandons it
    /// otherwise.
    pub fn settle(&self, input_read: bool) -> io::Result<()> {
        if input_read {
            self.start()
        } else {
            self.abandon();
            Ok(())
        }
    }

    /// Empties the file unless a write already did, so that a run that read an
    /// input but found no flow leaves an empty file.
    fn start(&self) -> io::Result<()> {
        self.shared.begin().map(|_| ())
    }

    /// Leaves the file as it was: later writes, such as a buffer flushed when
    /// it is dropped, are dropped too. A file already started stays started.
    fn abandon(&self) {
        let _ = self.shared.state.compare_exchange(
            WAITING,
            ABANDONED,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }
}

impl Write for PendingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.shared.begin()? {
            return Ok(buf.len());
        }
        (&self.shared.file).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if !self.shared.begin()? {
            return Ok(bufs.iter().map(|buf| buf.len()).sum());
        }
        (&self.shared.file).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&self.shared.file).flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &[u8] = b"records of an earlier run\n";

    fn pending(dir: &tempfile::TempDir) -> (std::path::PathBuf, PendingFile, PendingControl) {
        let path = dir.path().join("out.jsonl");
        std::fs::write(&path, OLD).unwrap();
        let (file, control) = open(&path).unwrap();
        (path, file, control)
    }

    #[test]
    fn opening_keeps_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let (path, file, _control) = pending(&dir);
        drop(file);
        assert_eq!(std::fs::read(&path).unwrap(), OLD);
    }

    #[test]
    fn first_write_replaces_content() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut file, _control) = pending(&dir);
        file.write_all(b"new\n").unwrap();
        file.write_all(b"more\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new\nmore\n");
    }

    #[test]
    fn start_without_write_empties() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _file, control) = pending(&dir);
        control.start().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"");
    }

    #[test]
    fn start_after_write_keeps_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut file, control) = pending(&dir);
        file.write_all(b"new\n").unwrap();
        control.start().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new\n");
    }

    #[test]
    fn abandon_drops_later_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (path, file, control) = pending(&dir);
        control.abandon();
        let mut buffered = io::BufWriter::new(file);
        buffered.write_all(b"flow_id,source\n").unwrap();
        drop(buffered);
        assert_eq!(std::fs::read(&path).unwrap(), OLD);
    }

    #[test]
    fn vectored_write_replaces_content() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut file, _control) = pending(&dir);
        let parts = [IoSlice::new(b"a\n"), IoSlice::new(b"b\n")];
        let written = file.write_vectored(&parts).unwrap();
        assert_eq!(written, 4);
        assert_eq!(std::fs::read(&path).unwrap(), b"a\nb\n");
    }
}
