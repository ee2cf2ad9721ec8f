//! A small memo shared by the threads that judge flows: values computed once
//! per key, with a cap on the number of keys.
//!
//! Each thread uses its own shard, so that worker threads do not pass the
//! lock's cache line back and forth on every flow. With two worker threads
//! on two cores, a single shared lock put the verdict and reason lookups at
//! about 6% of the samples, against 4% with one thread.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// Number of shards. Threads past this number share shards: the values stay
/// correct, and some of the contention comes back.
const SHARDS: usize = 8;

/// Values by key, computed on a miss. Past `max_len` keys in a shard, that
/// shard starts again, so that keys such as ephemeral ports cannot grow the
/// cache without end: at most `max_len` times [`SHARDS`] keys in all.
pub(super) struct BoundedCache<K, V> {
    shards: Box<[Shard<K, V>]>,
    max_len: usize,
}

/// The entries of one shard, alone on its cache lines.
#[repr(align(128))]
struct Shard<K, V>(Mutex<HashMap<K, V, ahash::RandomState>>);

impl<K, V> Default for Shard<K, V> {
    fn default() -> Shard<K, V> {
        Shard(Mutex::default())
    }
}

/// Returns the shard of the calling thread: threads take shards in the order
/// they first use a cache.
fn shard_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    INDEX.with(|index| *index)
}

impl<K, V> BoundedCache<K, V> {
    pub(super) fn new(max_len: usize) -> BoundedCache<K, V> {
        BoundedCache {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            max_len,
        }
    }
}

impl<K: Eq + Hash, V: Clone> BoundedCache<K, V> {
    /// Returns the value of `key`, from `compute` on a miss.
    pub(super) fn get_or_insert_with(&self, key: K, compute: impl FnOnce() -> V) -> V {
        self.read_or_insert_with(key, compute, V::clone)
    }
}

impl<K: Eq + Hash, V> BoundedCache<K, V> {
    /// Returns what `read` makes of the value of `key`, computed by `compute`
    /// on a miss. The value is lent rather than cloned, so a shared value
    /// costs no reference-count update. The thread's shard stays locked while
    /// `read` runs, so `read` must not use this cache.
    pub(super) fn read_or_insert_with<R>(
        &self,
        key: K,
        compute: impl FnOnce() -> V,
        read: impl FnOnce(&V) -> R,
    ) -> R {
        let shard = &self.shards[shard_index()];
        let mut entries = shard.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(value) = entries.get(&key) {
            return read(value);
        }
        let value = compute();
        if entries.len() >= self.max_len {
            entries.clear();
        }
        read(entries.entry(key).or_insert(value))
    }

    /// Returns the number of keys in all shards.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.0.lock().unwrap().len())
            .sum()
    }
}

impl<K, V> Clone for BoundedCache<K, V> {
    /// Returns an empty cache with the same cap, which fills again on use.
    fn clone(&self) -> BoundedCache<K, V> {
        BoundedCache::new(self.max_len)
    }
}

impl<K, V> fmt::Debug for BoundedCache<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoundedCache")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_computed_once_per_thread() {
        let cache: BoundedCache<u32, u32> = BoundedCache::new(16);
        let mut computed = 0;
        for _ in 0..3 {
            let value = cache.get_or_insert_with(7, || {
                computed += 1;
                49
            });
            assert_eq!(value, 49);
        }
        assert_eq!(computed, 1);
    }

    #[test]
    fn value_lent_once_computed() {
        let cache: BoundedCache<u32, String> = BoundedCache::new(16);
        let mut computed = 0;
        for _ in 0..3 {
            let len = cache.read_or_insert_with(
                7,
                || {
                    computed += 1;
                    "seven".to_string()
                },
                String::len,
            );
            assert_eq!(len, 5);
        }
        assert_eq!(computed, 1);
        assert_eq!(cache.get_or_insert_with(7, String::new), "seven");
    }

    #[test]
    fn full_shard_starts_again() {
        let cache: BoundedCache<u32, u32> = BoundedCache::new(4);
        for key in 0..4 {
            cache.get_or_insert_with(key, || key);
        }
        assert_eq!(cache.len(), 4);
        cache.get_or_insert_with(100, || 100);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn threads_fill_their_own_shards() {
        let cache: BoundedCache<u32, u32> = BoundedCache::new(16);
        // The second thread takes the next shard index, so it cannot see the
        // first thread's value unless seven more threads of this test binary
        // took an index in between.
        let [first, second] = [10, 20].map(|value| {
            std::thread::scope(|scope| {
                scope
                    .spawn(|| cache.get_or_insert_with(1, || value))
                    .join()
                    .unwrap()
            })
        });
        assert_eq!(first, 10);
        assert_eq!(second, 20);
        assert_eq!(cache.len(), 2);
    }
}
