//! Intrusive doubly linked lists over the flow table's slot indices, so that a
//! flow moves to the back of its list, or leaves it, in O(1).
//!
//! The links live in a vector beside the slots (one pair of links per list a
//! flow can be on), and a [`List`] holds only its ends.

/// Marks the end of a list, or a flow that is on no list.
pub(crate) const NIL: u32 = u32::MAX;

/// The links of one flow on one list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Link {
    prev: u32,
    next: u32,
    linked: bool,
}

impl Link {
    pub(crate) const UNLINKED: Link = Link {
        prev: NIL,
        next: NIL,
        linked: false,
    };
}

/// The ends of one list; `links[slot][which]` holds each member's links.
#[derive(Clone, Debug)]
pub(crate) struct List {
    head: u32,
    tail: u32,
    which: usize,
}

impl List {
    /// Creates an empty list that uses link `which` of each slot.
    pub(crate) fn new(which: usize) -> List {
        List {
            head: NIL,
            tail: NIL,
            which,
        }
    }

    pub(crate) fn front(&self) -> Option<u32> {
        (self.head != NIL).then_some(self.head)
    }

    #[cfg(test)]
    pub(crate) fn next(&self, links: &[[Link; 2]], slot: u32) -> Option<u32> {
        let next = links[slot as usize][self.which].next;
        (next != NIL).then_some(next)
    }

    pub(crate) fn contains(&self, links: &[[Link; 2]], slot: u32) -> bool {
        links[slot as usize][self.which].linked
    }

    /// Appends `slot`, which must be on no list that uses the same link.
    pub(crate) fn push_back(&mut self, links: &mut [[Link; 2]], slot: u32) {
        let which = self.which;
        debug_assert!(!links[slot as usize][which].linked);

        links[slot as usize][which] = Link {
            prev: self.tail,
            next: NIL,
            linked: true,
        };
        if self.tail == NIL {
            self.head = slot;
        } else {
            links[self.tail as usize][which].next = slot;
        }
        self.tail = slot;
    }

    /// Unlinks `slot` if it is on this list.
    pub(crate) fn remove(&mut self, links: &mut [[Link; 2]], slot: u32) {
        let which = self.which;
        let link = links[slot as usize][which];
        if !link.linked {
            return;
        }

        if link.prev == NIL {
            self.head = link.next;
        } else {
            links[link.prev as usize][which].next = link.next;
        }
        if link.next == NIL {
            self.tail = link.prev;
        } else {
            links[link.next as usize][which].prev = link.prev;
        }
        links[slot as usize][which] = Link::UNLINKED;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(list: &List, links: &[[Link; 2]]) -> Vec<u32> {
        let mut order = Vec::new();
        let mut cursor = list.front();
        while let Some(slot) = cursor {
            order.push(slot);
            cursor = list.next(links, slot);
        }
        order
    }

    #[test]
    fn list_push_remove_order() {
        let mut links = vec![[Link::UNLINKED; 2]; 4];
        let mut list = List::new(0);
        for slot in 0..4 {
            list.push_back(&mut links, slot);
        }
        list.remove(&mut links, 0);
        list.remove(&mut links, 2);
        list.push_back(&mut links, 0);

        assert_eq!(collect(&list, &links), vec![1, 3, 0]);
        assert!(!list.contains(&links, 2));
        list.remove(&mut links, 2);
        assert_eq!(collect(&list, &links), vec![1, 3, 0]);
    }

    #[test]
    fn list_two_links_independent() {
        let mut links = vec![[Link::UNLINKED; 2]; 3];
        let mut by_age = List::new(0);
        let mut by_memory = List::new(1);
        for slot in 0..3 {
            by_age.push_back(&mut links, slot);
        }
        by_memory.push_back(&mut links, 2);
        by_age.remove(&mut links, 2);

        assert_eq!(collect(&by_age, &links), vec![0, 1]);
        assert_eq!(collect(&by_memory, &links), vec![2]);
    }
}
