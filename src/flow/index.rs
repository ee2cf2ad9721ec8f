//! The flow table's index: the slot number of each open flow, found by the
//! hash of the flow's key.
//!
//! The keys stay in the table's slots, so an entry is a four-byte slot number
//! rather than a 48-byte key beside it. The index of 400,000 flows then takes
//! about 2 MiB instead of 32, and stays mostly in cache. A lookup reads the
//! candidate's key from its slot, which the caller reads next anyway, and a
//! removal compares slot numbers without reading any key.

use hashbrown::HashTable;

use crate::flow::key::FlowKey;

/// Slot numbers by the hash of their flow's key.
pub struct FlowIndex {
    table: HashTable<u32>,
    hasher: ahash::RandomState,
}

impl FlowIndex {
    pub fn new() -> FlowIndex {
        // Fixed seeds: the index's order never reaches the output, but fixed
        // seeds keep runs identical for debugging and benchmarks.
        let hasher = ahash::RandomState::with_seeds(
            0x243f_6a88_85a3_08d3,
            0x1319_8a2e_0370_7344,
            0xa409_3822_299f_31d0,
            0x082e_fa98_ec4e_6c89,
        );
        FlowIndex {
            table: HashTable::new(),
            hasher,
        }
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Returns the bytes one entry takes, not counting the spare capacity.
    pub fn bytes_per_entry() -> usize {
        std::mem::size_of::<u32>()
    }

    /// Returns the slot of the flow with `key`. `key_of` returns the key of
    /// the flow in a slot.
    pub fn get<'k>(
        &self,
        key: &FlowKey,
        key_of: impl Fn(u32) -> Option<&'k FlowKey>,
    ) -> Option<u32> {
        let hash = self.hasher.hash_one(key);
        self.table
            .find(hash, |&slot| key_of(slot) == Some(key))
            .copied()
    }

    /// Adds `slot`, whose flow has `key` and is not in the index yet.
    /// `key_of` returns the key of the flow in every slot of the index, to
    /// place the entries again when the index grows.
    pub fn insert<'k>(
        &mut self,
        key: &FlowKey,
        slot: u32,
        key_of: impl Fn(u32) -> Option<&'k FlowKey>,
    ) {
        let hasher = &self.hasher;
        let hash = hasher.hash_one(key);
        self.table.insert_unique(hash, slot, |&slot| {
            key_of(slot).map_or(0, |key| hasher.hash_one(key))
        });
    }

    /// Removes `slot`, whose flow has `key`. Returns false when the index
    /// does not hold it.
    pub fn remove(&mut self, key: &FlowKey, slot: u32) -> bool {
        let hash = self.hasher.hash_one(key);
        match self.table.find_entry(hash, |&entry| entry == slot) {
            Ok(entry) => {
                entry.remove();
                true
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::key::tests::packet;

    fn key(port: u16) -> FlowKey {
        FlowKey::from_packet(&packet("192.0.2.1", port, "198.51.100.7", 25, &[]), false).0
    }

    #[test]
    fn slots_found_by_key_through_growth() {
        // Slot n contains the flow from port 1000 + n, and a freed slot none.
        let mut slots: Vec<Option<FlowKey>> = Vec::new();
        let mut index = FlowIndex::new();
        for n in 0..5_000u16 {
            slots.push(Some(key(1000 + n)));
            let key_of = |slot: u32| slots.get(slot as usize).and_then(Option::as_ref);
            index.insert(&key(1000 + n), u32::from(n), key_of);
        }
        assert_eq!(index.len(), 5_000);

        for n in (0..5_000u16).step_by(2) {
            assert!(index.remove(&key(1000 + n), u32::from(n)));
            slots[usize::from(n)] = None;
        }
        assert!(!index.remove(&key(1000), 0), "removed twice");
        assert_eq!(index.len(), 2_500);

        let key_of = |slot: u32| slots.get(slot as usize).and_then(Option::as_ref);
        for n in 0..5_000u16 {
            let found = index.get(&key(1000 + n), key_of);
            let expected = (n % 2 == 1).then_some(u32::from(n));
            assert_eq!(found, expected, "port {}", 1000 + n);
        }
        assert_eq!(index.get(&key(9), key_of), None);
    }

    #[test]
    fn removal_matches_slot_not_key() {
        // Two slots with one key (a slot reused before its old entry was
        // removed) must each remove only their own entry.
        let slots = [Some(key(7)), Some(key(7))];
        let key_of = |slot: u32| slots.get(slot as usize).and_then(Option::as_ref);
        let mut index = FlowIndex::new();
        index.insert(&key(7), 0, key_of);
        index.insert(&key(7), 1, key_of);
        assert!(index.remove(&key(7), 1));
        assert_eq!(index.get(&key(7), key_of), Some(0));
        assert!(!index.remove(&key(7), 1));
        assert!(index.remove(&key(7), 0));
        assert!(index.is_empty());
    }
}
