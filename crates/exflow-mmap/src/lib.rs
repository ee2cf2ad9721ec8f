//! Read-only memory map of a capture file.
//!
//! This crate holds the only `unsafe` blocks of exflow, so that the main crate
//! can forbid unsafe code outright.

use std::fs::File;
use std::io;
use std::ops::Deref;

/// A capture file mapped read-only into memory.
#[derive(Debug)]
pub struct MappedFile {
    map: memmap2::Mmap,
}

/// Bytes that [`MappedFile::advance`] maps ahead of a sequential reader, and
/// how far the reader goes between two calls.
pub const WINDOW_LEN: usize = 8 * 1024 * 1024;

/// Bytes behind a sequential reader that stay mapped, for packets that worker
/// threads still read after the reader has moved on. A page released too early
/// is read again from the page cache, so this only affects speed. The
/// batches queued for one worker span about 5 MiB of the benchmark capture,
/// so 32 MiB leaves room and keeps the resident set small.
pub const KEEP_BEHIND_LEN: usize = 32 * 1024 * 1024;

impl MappedFile {
    /// Maps `file` read-only and advises the kernel that it will be read
    /// sequentially. No page is loaded yet: [`MappedFile::advance`] loads a
    /// window at a time, so the resident memory stays bounded for any file size.
    pub fn map(file: &File) -> io::Result<MappedFile> {
        // SAFETY: the map is read-only and shared with the page cache
        // (MAP_SHARED, PROT_READ). Another process that truncates or rewrites
        // the file while it is mapped can make reads fault (SIGBUS) or see
        // changed bytes; exflow reads capture files that writers have finished,
        // and every parser treats the bytes as untrusted, so changed bytes
        // cannot break memory safety in safe code.
        let map = unsafe { memmap2::MmapOptions::new().map(file)? };
        #[cfg(unix)]
        {
            // Advice only changes read-ahead; a kernel that rejects it still maps the file.
            let _ = map.advise(memmap2::Advice::Sequential);
        }
        Ok(MappedFile { map })
    }

    /// Prepares the map for a reader that has reached `position`. It maps the
    /// next [`WINDOW_LEN`] bytes in one call, which costs less than a page
    /// fault per page. It releases the window more than [`KEEP_BEHIND_LEN`]
    /// bytes behind, so those pages stop counting in the resident set. They
    /// stay in the page cache, and a later read loads them again. Call it every
    /// [`WINDOW_LEN`] bytes.
    pub fn advance(&self, position: usize) {
        let len = self.map.len();
        if position < len {
            let ahead = WINDOW_LEN.min(len - position);
            // MADV_POPULATE_READ needs Linux 5.14; without it, pages fault in
            // on first touch as before.
            #[cfg(target_os = "linux")]
            let _ = self
                .map
                .advise_range(memmap2::Advice::PopulateRead, position, ahead);
        }
        if let Some(end) = position.checked_sub(KEEP_BEHIND_LEN) {
            let start = end.saturating_sub(WINDOW_LEN);
            self.release_range(start, end - start);
        }
    }

    fn release_range(&self, start: usize, len: usize) {
        #[cfg(unix)]
        {
            // SAFETY: MADV_DONTNEED on a shared, read-only file mapping only
            // drops this process's page table entries: the next read of those
            // addresses maps the same file page again, with the same bytes (the
            // invariant of `map` above). Memory that safe code borrows keeps
            // its contents; only anonymous or private written pages would be
            // zeroed, and this map has none.
            let _ = unsafe {
                self.map
                    .unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, len)
            };
        }
        #[cfg(not(unix))]
        let _ = (start, len);
    }

    /// Returns the mapped bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.map
    }
}

impl Deref for MappedFile {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.map
    }
}
