//! Groups statements into single-partition UNLOGGED batches, capped by count and bytes, with at most
//! one batch in flight per partition: a partition's records are applied in offset order, and while
//! one batch is out the next one fills up (adaptive batching, no timer).

use std::collections::VecDeque;

use rustc_hash::{FxHashMap, FxHashSet};

/// A table (index into the task's writers) and a serialized partition key.
pub type GroupKey = (usize, Vec<u8>);

/// The batching state of one task. Pure: `T` is whatever the task tracks per statement.
#[derive(Debug)]
pub struct Batcher<T> {
    max_statements: usize,
    max_bytes: usize,
    waiting: FxHashMap<GroupKey, VecDeque<(T, usize)>>,
    ready: VecDeque<GroupKey>,
    ready_set: FxHashSet<GroupKey>,
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
            busy: FxHashSet::default(),
            queued: 0,
        }
    }

    /// Queues a statement of `size` bytes for its partition, after those already queued.
    pub fn push(&mut self, key: GroupKey, item: T, size: usize) {
        self.waiting.entry(key.clone()).or_default().push_back((item, size));
        self.queued += 1;
        if !self.busy.contains(&key) && self.ready_set.insert(key.clone()) {
            self.ready.push_back(key);
        }
    }

    /// The next batch to send, from a partition with nothing in flight; marks that partition busy.
    pub fn next_batch(&mut self) -> Option<(GroupKey, Vec<T>)> {
        let key = self.ready.pop_front()?;
        self.ready_set.remove(&key);
        let queue = self.waiting.get_mut(&key)?;
        let (mut items, mut bytes) = (Vec::new(), 0);
        while let Some((_, size)) = queue.front() {
            let full = items.len() >= self.max_statements || (!items.is_empty() && bytes + size > self.max_bytes);
            if full {
                break;
            }
            let (item, size) = queue.pop_front().expect("front exists");
            bytes += size;
            items.push(item);
        }
        if queue.is_empty() {
            self.waiting.remove(&key);
        }
        self.queued -= items.len();
        self.busy.insert(key.clone());
        Some((key, items))
    }

    /// The partition's batch is done; what queued up meanwhile becomes ready.
    pub fn done(&mut self, key: &GroupKey) {
        self.busy.remove(key);
        if self.waiting.contains_key(key) && self.ready_set.insert(key.clone()) {
            self.ready.push_back(key.clone());
        }
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
}
