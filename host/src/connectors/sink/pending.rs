//! Records in flight by their sequence number. Numbers are handed out in increasing order and most
//! records finish in about that order, so a ring of slots from the oldest unfinished number does
//! what a hash map did with no hashing: a lookup is a subtraction.

use std::collections::VecDeque;

/// Values by increasing sequence number.
#[derive(Debug)]
pub struct BySeq<T> {
    /// The sequence number of `slots[0]`.
    base: u64,
    slots: VecDeque<Option<T>>,
    live: usize,
}

impl<T> Default for BySeq<T> {
    fn default() -> Self {
        Self { base: 0, slots: VecDeque::new(), live: 0 }
    }
}

impl<T> BySeq<T> {
    /// Adds `value` under `seq`, which must be above every number added before.
    pub fn insert(&mut self, seq: u64, value: T) {
        if self.slots.is_empty() {
            self.base = seq;
        }
        let end = self.base + self.slots.len() as u64;
        assert!(seq >= end, "sequence numbers go up: {seq} after {end}");
        self.slots.extend(std::iter::repeat_with(|| None).take((seq - end) as usize));
        self.slots.push_back(Some(value));
        self.live += 1;
    }

    /// The value under `seq`.
    pub fn get_mut(&mut self, seq: u64) -> Option<&mut T> {
        let at = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        self.slots.get_mut(at)?.as_mut()
    }

    /// Takes the value under `seq` out.
    pub fn remove(&mut self, seq: u64) -> Option<T> {
        let at = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        let value = self.slots.get_mut(at)?.take()?;
        self.live -= 1;
        while let Some(None) = self.slots.front() {
            self.slots.pop_front();
            self.base += 1;
        }
        Some(value)
    }

    /// How many values it holds.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Slots allocated: how far apart the oldest and newest values have been (for the stop log).
    pub fn capacity(&self) -> usize {
        self.slots.capacity()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }
}

#[cfg(test)]
mod tests {
    use super::BySeq;

    #[test]
    fn finds_inserts_and_removes_in_any_order_with_gaps() {
        let mut m = BySeq::default();
        for seq in [5u64, 6, 9, 10] {
            m.insert(seq, seq * 10);
        }
        assert_eq!(m.len(), 4);
        assert_eq!(m.get_mut(7), None, "a gap holds nothing");
        assert_eq!(m.get_mut(4), None, "nor a number below the first");
        assert_eq!(m.remove(9), Some(90));
        assert_eq!(m.remove(9), None, "removed once");
        *m.get_mut(10).unwrap() += 1;
        assert_eq!(m.remove(5), Some(50));
        assert_eq!(m.remove(6), Some(60));
        assert_eq!((m.len(), m.slots.len(), m.base), (1, 1, 10), "the front moves past removed slots and gaps");
        assert_eq!(m.remove(10), Some(101));
        assert!(m.is_empty());
        m.insert(1_000, 1);
        assert_eq!(
            (m.slots.len(), m.get_mut(1_000).copied()),
            (1, Some(1)),
            "an empty ring restarts at the next number"
        );
    }

    #[test]
    #[should_panic(expected = "sequence numbers go up")]
    fn a_number_below_the_last_is_a_bug() {
        let mut m = BySeq::default();
        m.insert(3, ());
        m.insert(2, ());
    }
}
