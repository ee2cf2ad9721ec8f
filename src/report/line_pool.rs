//! Record line buffers used again: the JSON Lines writer gives the lines back
//! once they are written, and the next records are built into them.
//!
//! With worker threads, a worker builds a line and the merging thread writes
//! and drops it. With glibc's allocator, allocating and freeing those lines
//! took about 8% of the samples of a two-thread run on the benchmark capture
//! (about 4% with a pool).
//!
//! Buffers travel in bundles: the writer gives back the lines of one vectored
//! write together, and a thread that builds lines moves a whole bundle into a
//! stash of its own. The queue that the threads share is then touched once per
//! bundle rather than twice per line.

use std::cell::RefCell;

use crossbeam_channel::{Receiver, Sender};

use super::line::LINE_CAPACITY;

/// Number of bundles a pool keeps.
const MAX_SPARE_BUNDLES: usize = 8;

/// Lines a bundle keeps at most. The writer's batches take up to 1,024 lines,
/// but about 200 record lines of 1.2 KB fill their 256 KiB. With
/// [`MAX_SPARE_BUNDLES`], at most 4,096 spare lines wait in a pool.
const MAX_BUNDLE_LINES: usize = 512;

/// Largest buffer kept. A line that grew past it, such as a record with a
/// long HTTP path, goes back to the allocator.
const MAX_KEPT_CAPACITY: usize = 4 * LINE_CAPACITY;

thread_local! {
    /// Spare lines that this thread took from a pool's queue: at most one
    /// bundle, kept as long as the thread lives.
    static STASH: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// Spare line buffers, shared by the threads that build lines and the writer
/// that gives them back. Clones share the buffers.
#[derive(Clone, Debug)]
pub struct LinePool {
    bundles_in: Sender<Vec<Vec<u8>>>,
    bundles_out: Receiver<Vec<Vec<u8>>>,
}

impl Default for LinePool {
    fn default() -> LinePool {
        let (bundles_in, bundles_out) = crossbeam_channel::bounded(MAX_SPARE_BUNDLES);
        LinePool {
            bundles_in,
            bundles_out,
        }
    }
}

impl LinePool {
    /// Returns an empty buffer: a spare from this thread's stash, refilled
    /// from the pool when it is empty, or a new one of [`LINE_CAPACITY`].
    pub fn take(&self) -> Vec<u8> {
        STASH
            .with_borrow_mut(|stash| {
                if stash.is_empty()
                    && let Ok(bundle) = self.bundles_out.try_recv()
                {
                    *stash = bundle;
                }
                stash.pop()
            })
            .unwrap_or_else(|| Vec::with_capacity(LINE_CAPACITY))
    }

    /// Keeps the written `lines` as one bundle of spares, emptied. Lines that
    /// grew too large, and those past [`MAX_BUNDLE_LINES`], go back to the
    /// allocator, and so does the whole bundle when the pool is full.
    pub fn give_back(&self, mut lines: Vec<Vec<u8>>) {
        lines.truncate(MAX_BUNDLE_LINES);
        lines.retain_mut(|line| {
            line.clear();
            line.capacity() <= MAX_KEPT_CAPACITY
        });
        if !lines.is_empty() {
            let _ = self.bundles_in.try_send(lines);
        }
    }

    /// Returns the number of bundles waiting in the pool.
    pub fn bundles(&self) -> usize {
        self.bundles_out.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Empties this thread's stash, so that a test takes only from its own pool.
    fn empty_stash() {
        STASH.with_borrow_mut(Vec::clear);
    }

    #[test]
    fn given_back_buffer_is_taken_again() {
        empty_stash();
        let pool = LinePool::default();
        let mut line = pool.take();
        line.extend_from_slice(b"{\"flow_id\":\"x\"}\n");
        let place = line.as_ptr();
        pool.give_back(vec![line]);
        assert_eq!(pool.bundles(), 1);

        let again = pool.take();
        assert_eq!(again.as_ptr(), place);
        assert!(again.is_empty());
        assert_eq!(pool.bundles(), 0);
    }

    #[test]
    fn bundle_moves_whole_into_stash() {
        empty_stash();
        let pool = LinePool::default();
        let lines: Vec<Vec<u8>> = (0..3).map(|_| pool.take()).collect();
        let places: Vec<*const u8> = lines.iter().map(|line| line.as_ptr()).collect();
        pool.give_back(lines);
        let mut reused = vec![pool.take()];
        assert_eq!(pool.bundles(), 0);
        reused.push(pool.take());
        reused.push(pool.take());
        let mut reused_places: Vec<*const u8> = reused.iter().map(|line| line.as_ptr()).collect();
        reused_places.reverse();
        assert_eq!(reused_places, places);
        // The stash is empty again, so the next buffer is new.
        assert!(!places.contains(&pool.take().as_ptr()));
    }

    #[test]
    fn grown_buffer_is_dropped() {
        empty_stash();
        let pool = LinePool::default();
        pool.give_back(vec![Vec::with_capacity(MAX_KEPT_CAPACITY + 1)]);
        assert_eq!(pool.bundles(), 0);
        pool.give_back(vec![
            Vec::with_capacity(MAX_KEPT_CAPACITY + 1),
            Vec::with_capacity(LINE_CAPACITY),
        ]);
        assert_eq!(pool.bundles(), 1);
        assert_eq!(pool.take().capacity(), LINE_CAPACITY);
    }

    #[test]
    fn full_pool_drops_bundles() {
        let pool = LinePool::default();
        for _ in 0..MAX_SPARE_BUNDLES + 3 {
            let lines = (0..MAX_BUNDLE_LINES + 5)
                .map(|_| Vec::with_capacity(LINE_CAPACITY))
                .collect();
            pool.give_back(lines);
        }
        assert_eq!(pool.bundles(), MAX_SPARE_BUNDLES);
        let bundle = pool.bundles_out.try_recv().unwrap();
        assert_eq!(bundle.len(), MAX_BUNDLE_LINES);
    }

    #[test]
    fn clones_share_spares() {
        let pool = LinePool::default();
        let writer_side = pool.clone();
        writer_side.give_back(vec![Vec::with_capacity(LINE_CAPACITY)]);
        assert_eq!(pool.bundles(), 1);
    }
}
