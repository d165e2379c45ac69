//! Groups statements into single-partition UNLOGGED batches, capped by count and bytes, with at most
//! one batch in flight per partition: a partition's records are applied in offset order, and while
//! one batch is out the next one fills up (adaptive batching, no timer).
//!
//! Batches fill before they go: while records keep arriving faster than they are written, only full
//! batches are sent ([`Batcher::next_full_batch`]); partial ones go when the task would otherwise
//! wait ([`Batcher::next_batch`]: the consumer has nothing more right now, too many records are
//! pending, or Cassandra has too little to do). Many small batches cost Cassandra far more CPU per
//! row than a few full ones.

use std::collections::VecDeque;

use rustc_hash::{FxHashMap, FxHashSet};

/// A table (index into the task's writers) and a serialized partition key.
pub type GroupKey = (usize, Vec<u8>);

#[derive(Debug)]
struct Queue<T> {
    items: VecDeque<(T, usize)>,
    bytes: usize,
}

/// The batching state of one task. Pure: `T` is whatever the task tracks per statement.
///
/// `ready` holds every partition with statements waiting and nothing in flight, `full` those of
/// them with a full batch waiting; both may hold stale entries, checked when taken.
#[derive(Debug)]
pub struct Batcher<T> {
    max_statements: usize,
    max_bytes: usize,
    waiting: FxHashMap<GroupKey, Queue<T>>,
    ready: VecDeque<GroupKey>,
    ready_set: FxHashSet<GroupKey>,
    full: VecDeque<GroupKey>,
    full_set: FxHashSet<GroupKey>,
    busy: FxHashSet<GroupKey>,
    queued: usize,
}

impl<T> Batcher<T> {
    /// A batcher emitting at most `max_statements` statements and about `max_bytes` per batch.
    pub fn new(max_statements: usize, max_bytes: usize) -> Self {
        Self {
            max_statements: max_statements.max(1),
            max_bytes,
            waiting: FxHashMap::default(),
            ready: VecDeque::new(),
            ready_set: FxHashSet::default(),
            full: VecDeque::new(),
            full_set: FxHashSet::default(),
            busy: FxHashSet::default(),
            queued: 0,
        }
    }

    fn is_full(&self, queue: &Queue<T>) -> bool {
        queue.items.len() >= self.max_statements || queue.bytes >= self.max_bytes
    }

    /// Marks `key` ready (and full, when it is) unless it has a batch in flight.
    fn offer(&mut self, key: &GroupKey) {
        if self.busy.contains(key) {
            return;
        }
        let Some(queue) = self.waiting.get(key) else { return };
        let full = self.is_full(queue);
        if self.ready_set.insert(key.clone()) {
            self.ready.push_back(key.clone());
        }
        if full && self.full_set.insert(key.clone()) {
            self.full.push_back(key.clone());
        }
    }

    /// Queues a statement of `size` bytes for its partition, after those already queued.
    pub fn push(&mut self, key: GroupKey, item: T, size: usize) {
        // The key is cloned only when its partition starts a new queue (once per batch, not per
        // statement).
        match self.waiting.get_mut(&key) {
            Some(queue) => {
                queue.items.push_back((item, size));
                queue.bytes += size;
            }
            None => {
                self.waiting.insert(key.clone(), Queue { items: VecDeque::from([(item, size)]), bytes: size });
            }
        }
        self.queued += 1;
        self.offer(&key);
    }

    /// The next batch to send, full or not, from a partition with nothing in flight; marks that
    /// partition busy.
    pub fn next_batch(&mut self) -> Option<(GroupKey, Vec<T>)> {
        if let Some(full) = self.next_full_batch() {
            return Some(full);
        }
        while let Some(key) = self.ready.pop_front() {
            self.ready_set.remove(&key);
            if !self.busy.contains(&key) && self.waiting.contains_key(&key) {
                return Some(self.take(key));
            }
        }
        None
    }

    /// The next full batch (by count or bytes) from a partition with nothing in flight.
    pub fn next_full_batch(&mut self) -> Option<(GroupKey, Vec<T>)> {
        while let Some(key) = self.full.pop_front() {
            self.full_set.remove(&key);
            let full = !self.busy.contains(&key) && self.waiting.get(&key).is_some_and(|q| self.is_full(q));
            if full {
                return Some(self.take(key));
            }
        }
        None
    }

    fn take(&mut self, key: GroupKey) -> (GroupKey, Vec<T>) {
        let queue = self.waiting.get_mut(&key).expect("a ready partition has statements waiting");
        let (mut items, mut bytes) = (Vec::new(), 0);
        while let Some((_, size)) = queue.items.front() {
            let full = items.len() >= self.max_statements || (!items.is_empty() && bytes + size > self.max_bytes);
            if full {
                break;
            }
            let (item, size) = queue.items.pop_front().expect("front exists");
            bytes += size;
            items.push(item);
        }
        queue.bytes -= bytes;
        if queue.items.is_empty() {
            self.waiting.remove(&key);
        }
        self.queued -= items.len();
        self.busy.insert(key.clone());
        (key, items)
    }

    /// The partition's batch is done; what queued up meanwhile becomes ready.
    pub fn done(&mut self, key: &GroupKey) {
        self.busy.remove(key);
        self.offer(key);
    }

    /// Statements queued and not yet sent.
    pub fn queued(&self) -> usize {
        self.queued
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: u8) -> GroupKey {
        (0, vec![k])
    }

    #[test]
    fn one_batch_per_partition_in_flight_in_order() {
        let mut b = Batcher::new(3, 1000);
        for i in 0..5 {
            b.push(key(1), i, 10);
        }
        b.push(key(2), 100, 10);
        assert_eq!(b.next_batch(), Some((key(1), vec![0, 1, 2])));
        assert_eq!(b.next_batch(), Some((key(2), vec![100])));
        assert_eq!(b.next_batch(), None, "key 1 is busy");
        b.push(key(1), 5, 10);
        assert_eq!(b.next_batch(), None, "still busy");
        b.done(&key(1));
        assert_eq!(b.next_batch(), Some((key(1), vec![3, 4, 5])));
        b.done(&key(1));
        b.done(&key(2));
        assert_eq!(b.next_batch(), None);
        assert_eq!(b.queued(), 0);
    }

    #[test]
    fn byte_cap_splits_but_never_starves_a_big_statement() {
        let mut b = Batcher::new(10, 100);
        b.push(key(1), 'a', 60);
        b.push(key(1), 'b', 60);
        b.push(key(1), 'c', 500);
        assert_eq!(b.next_batch(), Some((key(1), vec!['a'])));
        b.done(&key(1));
        assert_eq!(b.next_batch(), Some((key(1), vec!['b'])));
        b.done(&key(1));
        assert_eq!(b.next_batch(), Some((key(1), vec!['c'])), "an oversized statement goes alone");
        assert_eq!(b.queued(), 0);
    }

    #[test]
    fn tables_are_separate_partitions() {
        let mut b = Batcher::new(10, 1000);
        b.push((0, vec![1]), 'x', 1);
        b.push((1, vec![1]), 'y', 1);
        assert_eq!(b.next_batch().map(|(_, v)| v), Some(vec!['x']));
        assert_eq!(b.next_batch().map(|(_, v)| v), Some(vec!['y']));
    }

    #[test]
    fn full_batches_first_partial_ones_only_when_asked() {
        let mut b = Batcher::new(2, 1000);
        b.push(key(1), 'a', 1);
        assert_eq!(b.next_full_batch(), None, "one statement is not a full batch");
        b.push(key(2), 'x', 1);
        b.push(key(2), 'y', 1);
        b.push(key(2), 'z', 1);
        assert_eq!(b.next_full_batch(), Some((key(2), vec!['x', 'y'])));
        assert_eq!(b.next_full_batch(), None, "key 2 is busy, key 1 is not full");
        b.push(key(1), 'b', 1);
        assert_eq!(b.next_full_batch(), Some((key(1), vec!['a', 'b'])));
        b.done(&key(2));
        assert_eq!(b.next_full_batch(), None, "z alone is not full");
        assert_eq!(b.next_batch(), Some((key(2), vec!['z'])), "but goes when asked");
        assert_eq!(b.next_batch(), None);
        assert_eq!(b.queued(), 0);
    }
}
