//! Groups statements into single-partition UNLOGGED batches, capped by count and bytes, with at most
//! one batch in flight per partition: a partition's records are applied in offset order, and while
//! one batch is out the next one fills up (adaptive batching, no timer).
//!
//! Batches fill before they go: while records keep arriving faster than they are written, only full
//! batches are sent ([`Batcher::next_full_batch`]); partial ones go when Cassandra has too little to
//! do or the task stops ([`Batcher::next_batch`]), or when they waited too long
//! ([`Batcher::next_overdue_batch`]). Many small batches cost Cassandra far more CPU per row than a
//! few full ones.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

/// A partition's place in the batcher: stable while it has statements waiting or a batch in
/// flight, then reused.
pub type Slot = u32;

#[derive(Debug)]
struct Partition<T> {
    /// The table's index, then the serialized partition key (the map's key, kept to free it).
    key: Box<[u8]>,
    table: usize,
    items: VecDeque<(T, usize)>,
    bytes: usize,
    /// A batch of it is in flight.
    busy: bool,
    /// It has an entry in `ready` / in `full` (entries may be stale, checked when taken).
    in_ready: bool,
    in_full: bool,
}

/// The batching state of one task. Pure: `T` is whatever the task tracks per statement.
///
/// A partition is looked up by its key once per statement; everything after that goes by its
/// slot. `ready` holds the partitions with statements waiting and nothing in flight, `full` those of
/// them with a full batch waiting.
#[derive(Debug)]
pub struct Batcher<T> {
    max_statements: usize,
    max_bytes: usize,
    slots: FxHashMap<Box<[u8]>, Slot>,
    partitions: Vec<Partition<T>>,
    free: Vec<Slot>,
    ready: VecDeque<Slot>,
    full: VecDeque<Slot>,
    queued: usize,
    /// The lookup key of the statement being pushed (table, then partition key), reused.
    scratch: Vec<u8>,
}

impl<T> Batcher<T> {
    /// A batcher emitting at most `max_statements` statements and about `max_bytes` per batch.
    pub fn new(max_statements: usize, max_bytes: usize) -> Self {
        Self {
            max_statements: max_statements.max(1),
            max_bytes,
            slots: FxHashMap::default(),
            partitions: Vec::new(),
            free: Vec::new(),
            ready: VecDeque::new(),
            full: VecDeque::new(),
            queued: 0,
            scratch: Vec::new(),
        }
    }

    fn is_full(&self, p: &Partition<T>) -> bool {
        p.items.len() >= self.max_statements || p.bytes >= self.max_bytes
    }

    /// Marks the partition ready (and full, when it is) unless it has a batch in flight.
    fn offer(&mut self, slot: Slot) {
        let p = &self.partitions[slot as usize];
        if p.busy || p.items.is_empty() {
            return;
        }
        let full = self.is_full(p);
        let p = &mut self.partitions[slot as usize];
        if !p.in_ready {
            p.in_ready = true;
            self.ready.push_back(slot);
        }
        if full && !p.in_full {
            p.in_full = true;
            self.full.push_back(slot);
        }
    }

    /// Queues a statement of `size` bytes for the partition `key` of table `table`, after those
    /// already queued.
    pub fn push(&mut self, table: usize, key: &[u8], item: T, size: usize) {
        self.scratch.clear();
        self.scratch.extend_from_slice(&(table as u64).to_le_bytes());
        self.scratch.extend_from_slice(key);
        let slot = match self.slots.get(self.scratch.as_slice()) {
            Some(&slot) => slot,
            None => self.open(table),
        };
        let p = &mut self.partitions[slot as usize];
        p.items.push_back((item, size));
        p.bytes += size;
        self.queued += 1;
        self.offer(slot);
    }

    /// A slot for the partition in `scratch` (the key is copied once per partition, not per
    /// statement).
    fn open(&mut self, table: usize) -> Slot {
        let key: Box<[u8]> = self.scratch.as_slice().into();
        let partition = Partition {
            key: key.clone(),
            table,
            items: VecDeque::new(),
            bytes: 0,
            busy: false,
            in_ready: false,
            in_full: false,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.partitions[slot as usize] = partition;
                slot
            }
            None => {
                self.partitions.push(partition);
                (self.partitions.len() - 1) as Slot
            }
        };
        self.slots.insert(key, slot);
        slot
    }

    /// The next batch to send, full or not, from a partition with nothing in flight: its table,
    /// its slot (for [`Batcher::done`]) and its statements.
    pub fn next_batch(&mut self) -> Option<(usize, Slot, Vec<T>)> {
        if let Some(full) = self.next_full_batch() {
            return Some(full);
        }
        while let Some(slot) = self.ready.pop_front() {
            let p = &mut self.partitions[slot as usize];
            p.in_ready = false;
            if !p.busy && !p.items.is_empty() {
                return Some(self.take(slot));
            }
        }
        None
    }

    /// The next full batch (by count or bytes) from a partition with nothing in flight.
    pub fn next_full_batch(&mut self) -> Option<(usize, Slot, Vec<T>)> {
        while let Some(slot) = self.full.pop_front() {
            let p = &self.partitions[slot as usize];
            let full = !p.busy && self.is_full(p);
            self.partitions[slot as usize].in_full = false;
            if full {
                return Some(self.take(slot));
            }
        }
        None
    }

    /// A partial batch that waited too long: from the partition that has been ready the longest,
    /// when its first statement is `overdue`. A partition whose records stopped coming (its sensor
    /// went quiet, or its Kafka partition was revoked) would otherwise wait for the next lull,
    /// holding its records' offsets back meanwhile.
    pub fn next_overdue_batch(&mut self, overdue: impl Fn(&T) -> bool) -> Option<(usize, Slot, Vec<T>)> {
        while let Some(&slot) = self.ready.front() {
            let p = &self.partitions[slot as usize];
            let waiting = !p.busy && !p.items.is_empty();
            if waiting && !overdue(&p.items.front().expect("not empty").0) {
                return None;
            }
            self.ready.pop_front();
            self.partitions[slot as usize].in_ready = false;
            if waiting {
                return Some(self.take(slot));
            }
        }
        None
    }

    fn take(&mut self, slot: Slot) -> (usize, Slot, Vec<T>) {
        let (max_statements, max_bytes) = (self.max_statements, self.max_bytes);
        let p = &mut self.partitions[slot as usize];
        let (mut items, mut bytes) = (Vec::with_capacity(p.items.len().min(max_statements)), 0);
        while let Some((_, size)) = p.items.front() {
            let full = items.len() >= max_statements || (!items.is_empty() && bytes + size > max_bytes);
            if full {
                break;
            }
            let (item, size) = p.items.pop_front().expect("front exists");
            bytes += size;
            items.push(item);
        }
        p.bytes -= bytes;
        p.busy = true;
        self.queued -= items.len();
        (p.table, slot, items)
    }

    /// The partition's batch is done; what queued up meanwhile becomes ready, and a partition with
    /// nothing left gives its slot back.
    pub fn done(&mut self, slot: Slot) {
        let p = &mut self.partitions[slot as usize];
        p.busy = false;
        if p.items.is_empty() {
            p.in_ready = false;
            p.in_full = false;
            let key = std::mem::take(&mut p.key);
            self.slots.remove(&key);
            self.free.push(slot);
        } else {
            self.offer(slot);
        }
    }

    /// Statements queued and not yet sent.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// Partitions with statements waiting or a batch in flight.
    pub fn partitions(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes statement `item` for partition `[k]` of table 0.
    fn push<T>(b: &mut Batcher<T>, k: u8, item: T, size: usize) {
        b.push(0, &[k], item, size);
    }

    /// The next batch as (partition, statements), and marks it done when `done`.
    fn next<T>(b: &mut Batcher<T>, full_only: bool, done: bool) -> Option<(u8, Vec<T>)> {
        let (_, slot, items) = if full_only { b.next_full_batch()? } else { b.next_batch()? };
        let k = *b.partitions[slot as usize].key.last().expect("a key");
        if done {
            b.done(slot);
        }
        Some((k, items))
    }

    #[test]
    fn one_batch_per_partition_in_flight_in_order() {
        let mut b = Batcher::new(3, 1000);
        for i in 0..5 {
            push(&mut b, 1, i, 10);
        }
        push(&mut b, 2, 100, 10);
        let (_, one, items) = b.next_batch().unwrap();
        assert_eq!(items, vec![0, 1, 2]);
        let (_, two, items) = b.next_batch().unwrap();
        assert_eq!(items, vec![100]);
        assert_eq!(b.next_batch(), None, "partition 1 is busy");
        push(&mut b, 1, 5, 10);
        assert_eq!(b.next_batch(), None, "still busy");
        b.done(one);
        assert_eq!(next(&mut b, false, true), Some((1, vec![3, 4, 5])));
        b.done(two);
        assert_eq!(b.next_batch(), None);
        assert_eq!((b.queued(), b.partitions()), (0, 0), "nothing left, every slot given back");
    }

    #[test]
    fn byte_cap_splits_but_never_starves_a_big_statement() {
        let mut b = Batcher::new(10, 100);
        push(&mut b, 1, 'a', 60);
        push(&mut b, 1, 'b', 60);
        push(&mut b, 1, 'c', 500);
        assert_eq!(next(&mut b, false, true), Some((1, vec!['a'])));
        assert_eq!(next(&mut b, false, true), Some((1, vec!['b'])));
        assert_eq!(next(&mut b, false, true), Some((1, vec!['c'])), "an oversized statement goes alone");
        assert_eq!(b.queued(), 0);
    }

    #[test]
    fn tables_are_separate_partitions() {
        let mut b = Batcher::new(10, 1000);
        b.push(0, &[1], 'x', 1);
        b.push(1, &[1], 'y', 1);
        assert_eq!(b.next_batch().map(|(t, _, v)| (t, v)), Some((0, vec!['x'])));
        assert_eq!(b.next_batch().map(|(t, _, v)| (t, v)), Some((1, vec!['y'])));
    }

    #[test]
    fn full_batches_first_partial_ones_only_when_asked() {
        let mut b = Batcher::new(2, 1000);
        push(&mut b, 1, 'a', 1);
        assert_eq!(b.next_full_batch(), None, "one statement is not a full batch");
        push(&mut b, 2, 'x', 1);
        push(&mut b, 2, 'y', 1);
        push(&mut b, 2, 'z', 1);
        let (_, two, items) = b.next_full_batch().unwrap();
        assert_eq!(items, vec!['x', 'y']);
        assert_eq!(b.next_full_batch(), None, "partition 2 is busy, partition 1 is not full");
        push(&mut b, 1, 'b', 1);
        assert_eq!(next(&mut b, true, true), Some((1, vec!['a', 'b'])));
        b.done(two);
        assert_eq!(b.next_full_batch(), None, "z alone is not full");
        assert_eq!(next(&mut b, false, true), Some((2, vec!['z'])), "but goes when asked");
        assert_eq!(b.next_batch(), None);
        assert_eq!((b.queued(), b.partitions()), (0, 0));
    }

    #[test]
    fn an_overdue_partial_batch_goes_before_it_fills() {
        let mut b = Batcher::new(4, 1000);
        push(&mut b, 1, 10, 1);
        push(&mut b, 2, 20, 1);
        push(&mut b, 1, 30, 1);
        assert_eq!(b.next_overdue_batch(|&seq| seq < 10), None, "nothing is overdue yet");
        assert_eq!(b.next_overdue_batch(|&seq| seq < 25), Some((0, 0, vec![10, 30])), "the oldest partition, whole");
        assert_eq!(b.next_overdue_batch(|&seq| seq < 25), Some((0, 1, vec![20])));
        assert_eq!(b.next_overdue_batch(|_| true), None, "both are in flight");
        push(&mut b, 1, 40, 1);
        b.done(0);
        assert_eq!(b.next_overdue_batch(|&seq| seq < 40), None, "40 is not overdue");
        assert_eq!(b.next_overdue_batch(|&seq| seq < 50), Some((0, 0, vec![40])));
        b.done(0);
        b.done(1);
        assert_eq!((b.queued(), b.partitions()), (0, 0));
    }

    #[test]
    fn freed_slots_are_reused_without_mixing_partitions() {
        let mut b = Batcher::new(2, 1000);
        for round in 0..50u8 {
            // Many short-lived partitions: each batch done leaves its slot free for the next.
            push(&mut b, round, u32::from(round), 1);
            push(&mut b, round.wrapping_add(100), 1000 + u32::from(round), 1);
            let mut got = vec![next(&mut b, false, true).unwrap(), next(&mut b, false, true).unwrap()];
            got.sort();
            assert_eq!(got, vec![(round, vec![u32::from(round)]), (round + 100, vec![1000 + u32::from(round)])]);
            assert_eq!(b.next_batch(), None);
        }
        assert!(b.partitions.len() <= 2, "slots reused: {}", b.partitions.len());
        assert_eq!(b.partitions(), 0);
    }
}
