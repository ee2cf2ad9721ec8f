//! A small memo shared by the threads that judge flows: values computed once
//! per key, with a cap on the number of keys.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};

/// Values by key, computed on a miss. Past `max_len` keys the cache starts
/// again, so that keys such as ephemeral ports cannot grow it without end.
pub(super) struct BoundedCache<K, V> {
    entries: Mutex<HashMap<K, V, ahash::RandomState>>,
    max_len: usize,
}

impl<K: Eq + Hash, V: Clone> BoundedCache<K, V> {
    pub(super) fn new(max_len: usize) -> BoundedCache<K, V> {
        BoundedCache {
            entries: Mutex::default(),
            max_len,
        }
    }

    /// Returns the value of `key`, from `compute` on a miss.
    pub(super) fn get_or_insert_with(&self, key: K, compute: impl FnOnce() -> V) -> V {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(value) = entries.get(&key) {
            return value.clone();
        }
        let value = compute();
        if entries.len() >= self.max_len {
            entries.clear();
        }
        entries.insert(key, value.clone());
        value
    }
}

impl<K, V> Clone for BoundedCache<K, V> {
    /// Returns an empty cache with the same cap, which fills again on use.
    fn clone(&self) -> BoundedCache<K, V> {
        BoundedCache {
            entries: Mutex::default(),
            max_len: self.max_len,
        }
    }
}

impl<K, V> fmt::Debug for BoundedCache<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoundedCache")
    }
}
