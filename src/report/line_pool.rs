//! Record line buffers used again: the JSON Lines writer gives each line back
//! once it is written, and the next record is built into it.
//!
//! With worker threads, a worker builds a line and the merging thread writes
//! and drops it. With glibc's allocator, allocating and freeing those lines
//! took about 8% of the samples of a two-thread run on the benchmark capture
//! (about 4% with this pool). A bounded channel carries written buffers back.

use crossbeam_channel::{Receiver, Sender};

use super::line::LINE_CAPACITY;

/// Number of spare buffers a pool keeps: enough for the lines of several
/// output batches, about 6 MiB at the usual capacity.
const MAX_SPARE_LINES: usize = 4096;

/// Largest buffer kept. A line that grew past it, such as a record with a
/// long HTTP path, goes back to the allocator.
const MAX_KEPT_CAPACITY: usize = 4 * LINE_CAPACITY;

/// Spare line buffers, shared by the threads that build lines and the writer
/// that gives them back. Clones share the buffers.
#[derive(Clone, Debug)]
pub struct LinePool {
    spares_in: Sender<Vec<u8>>,
    spares_out: Receiver<Vec<u8>>,
}

impl Default for LinePool {
    fn default() -> LinePool {
        let (spares_in, spares_out) = crossbeam_channel::bounded(MAX_SPARE_LINES);
        LinePool {
            spares_in,
            spares_out,
        }
    }
}

impl LinePool {
    /// Returns an empty buffer: a spare, or a new one of [`LINE_CAPACITY`].
    pub fn take(&self) -> Vec<u8> {
        self.spares_out
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(LINE_CAPACITY))
    }

    /// Keeps `line` as a spare, emptied, unless the pool is full or the
    /// buffer grew too large.
    pub fn give_back(&self, mut line: Vec<u8>) {
        if line.capacity() > MAX_KEPT_CAPACITY {
            return;
        }
        line.clear();
        // A full pool drops the buffer, and the allocator takes it back.
        let _ = self.spares_in.try_send(line);
    }

    /// Returns the number of spare buffers waiting.
    pub fn spares(&self) -> usize {
        self.spares_out.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_back_buffer_is_taken_again() {
        let pool = LinePool::default();
        let mut line = pool.take();
        line.extend_from_slice(b"{\"flow_id\":\"x\"}\n");
        let place = line.as_ptr();
        pool.give_back(line);
        assert_eq!(pool.spares(), 1);

        let again = pool.take();
        assert_eq!(again.as_ptr(), place);
        assert!(again.is_empty());
        assert_eq!(pool.spares(), 0);
    }

    #[test]
    fn grown_buffer_is_dropped() {
        let pool = LinePool::default();
        pool.give_back(Vec::with_capacity(MAX_KEPT_CAPACITY + 1));
        assert_eq!(pool.spares(), 0);
    }

    #[test]
    fn full_pool_drops_buffers() {
        let pool = LinePool::default();
        for _ in 0..MAX_SPARE_LINES + 10 {
            pool.give_back(Vec::with_capacity(LINE_CAPACITY));
        }
        assert_eq!(pool.spares(), MAX_SPARE_LINES);
    }

    #[test]
    fn clones_share_spares() {
        let pool = LinePool::default();
        let writer_side = pool.clone();
        writer_side.give_back(Vec::with_capacity(LINE_CAPACITY));
        assert_eq!(pool.spares(), 1);
    }
}
