//! Per-partition watermarks: the one place that decides which offsets may be committed.
//!
//! A record is `track`ed when it is read and `ack`ed when its write is acknowledged (or it was handed
//! to the error policy). The committable offset of a partition is the lowest offset still pending, or
//! one past the highest seen when nothing is pending: every record below it is done, so committing
//! it never loses a record, whatever order acknowledgements arrive in.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

/// A topic-partition.
pub type TopicPartition = (String, i32);

/// One partition's records in flight, in offset order; done ones leave from the front.
#[derive(Debug, Default)]
struct Partition {
    window: VecDeque<(i64, bool)>,
    not_done: usize,
    next_after_seen: Option<i64>,
    committed: Option<i64>,
}

impl Partition {
    fn track(&mut self, offset: i64) {
        match self.window.back() {
            Some((last, _)) if *last >= offset => {
                // Out of order (a redelivery): keep the window sorted, once per offset.
                if let Err(at) = self.window.binary_search_by_key(&offset, |(o, _)| *o) {
                    self.window.insert(at, (offset, false));
                    self.not_done += 1;
                }
            }
            _ => {
                self.window.push_back((offset, false));
                self.not_done += 1;
            }
        }
        self.next_after_seen = Some(self.next_after_seen.map_or(offset + 1, |n| n.max(offset + 1)));
    }

    /// Where `offset` is in the window. Offsets read in order are consecutive, so the first guess —
    /// its distance from the front — is almost always right; a gap (compacted or transactional
    /// topics) falls back to a binary search.
    fn position(&self, offset: i64) -> Option<usize> {
        let front = self.window.front()?.0;
        let guess = usize::try_from(offset.checked_sub(front)?).ok()?;
        if self.window.get(guess).is_some_and(|(o, _)| *o == offset) {
            return Some(guess);
        }
        self.window.binary_search_by_key(&offset, |(o, _)| *o).ok()
    }

    fn ack(&mut self, offset: i64) {
        if let Some(at) = self.position(offset)
            && !self.window[at].1
        {
            self.window[at].1 = true;
            self.not_done -= 1;
            while self.window.front().is_some_and(|(_, done)| *done) {
                self.window.pop_front();
            }
        }
    }

    fn committable(&self) -> Option<i64> {
        self.window.front().map(|(o, _)| *o).or(self.next_after_seen)
    }
}

/// Tracks pending and acknowledged offsets for every assigned partition.
#[derive(Debug, Default)]
pub struct Watermarks {
    topics: FxHashMap<String, FxHashMap<i32, Partition>>,
}

impl Watermarks {
    /// A record was read and is now in flight.
    pub fn track(&mut self, topic: &str, partition: i32, offset: i64) {
        let partitions = match self.topics.get_mut(topic) {
            Some(p) => p,
            None => self.topics.entry(topic.to_string()).or_default(),
        };
        partitions.entry(partition).or_default().track(offset);
    }

    /// A record is done (written, or handed to the error policy). Unknown partitions (revoked since)
    /// are ignored: their records will be redelivered to the new owner.
    pub fn ack(&mut self, topic: &str, partition: i32, offset: i64) {
        if let Some(p) = self.topics.get_mut(topic).and_then(|ps| ps.get_mut(&partition)) {
            p.ack(offset);
        }
    }

    /// Records of one partition are done ([`Watermarks::ack`] for each, with one lookup).
    pub fn ack_all(&mut self, topic: &str, partition: i32, offsets: impl IntoIterator<Item = i64>) {
        if let Some(p) = self.topics.get_mut(topic).and_then(|ps| ps.get_mut(&partition)) {
            offsets.into_iter().for_each(|o| p.ack(o));
        }
    }

    /// Offsets that may be committed now and were not committed yet (Kafka's "next offset to read").
    pub fn committable(&self) -> Vec<(TopicPartition, i64)> {
        let mut out: Vec<_> = self
            .topics
            .iter()
            .flat_map(|(topic, ps)| ps.iter().map(move |(partition, p)| (topic, *partition, p)))
            .filter_map(|(topic, partition, p)| {
                let next = p.committable()?;
                (p.committed != Some(next)).then(|| ((topic.clone(), partition), next))
            })
            .collect();
        out.sort();
        out
    }

    /// Records that these offsets were committed.
    pub fn mark_committed(&mut self, offsets: &[(TopicPartition, i64)]) {
        for ((topic, partition), offset) in offsets {
            if let Some(p) = self.topics.get_mut(topic.as_str()).and_then(|ps| ps.get_mut(partition)) {
                p.committed = Some(*offset);
            }
        }
    }

    /// Forgets what was committed, so the next `committable` repeats it (after a failed commit).
    pub fn reset_committed(&mut self) {
        for p in self.topics.values_mut().flat_map(|ps| ps.values_mut()) {
            p.committed = None;
        }
    }

    /// Forgets a partition (revoked in a rebalance).
    pub fn forget(&mut self, topic: &str, partition: i32) {
        if let Some(ps) = self.topics.get_mut(topic) {
            ps.remove(&partition);
        }
    }

    /// Number of records read but not yet done.
    pub fn in_flight(&self) -> usize {
        self.topics.values().flat_map(|ps| ps.values()).map(|p| p.not_done).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        ("t".to_string(), p)
    }

    #[test]
    fn commits_only_below_the_lowest_pending() {
        let mut w = Watermarks::default();
        for o in 10..15 {
            w.track("t", 0, o);
        }
        assert_eq!(w.committable(), vec![(tp(0), 10)]);
        w.ack("t", 0, 12);
        w.ack("t", 0, 14);
        assert_eq!(w.committable(), vec![(tp(0), 10)], "out-of-order acks must not move the mark");
        w.ack("t", 0, 10);
        assert_eq!(w.committable(), vec![(tp(0), 11)]);
        w.ack("t", 0, 11);
        assert_eq!(w.committable(), vec![(tp(0), 13)]);
        w.ack("t", 0, 13);
        assert_eq!(w.committable(), vec![(tp(0), 15)]);
        assert_eq!(w.in_flight(), 0);
    }

    #[test]
    fn committed_offsets_are_not_repeated_and_partitions_are_independent() {
        let mut w = Watermarks::default();
        w.track("t", 0, 0);
        w.track("t", 1, 5);
        w.ack("t", 1, 5);
        let c = w.committable();
        assert_eq!(c, vec![(tp(0), 0), (tp(1), 6)]);
        w.mark_committed(&c);
        assert!(w.committable().is_empty());
        w.reset_committed();
        assert_eq!(w.committable(), c, "a failed commit is repeated");
        w.mark_committed(&c);
        w.ack("t", 0, 0);
        assert_eq!(w.committable(), vec![(tp(0), 1)]);
    }

    #[test]
    fn acks_of_one_partition_at_once_are_acks_one_by_one() {
        let (mut one, mut all) = (Watermarks::default(), Watermarks::default());
        for w in [&mut one, &mut all] {
            (0..6).for_each(|o| w.track("t", 0, o));
            w.track("t", 1, 0);
        }
        for o in [3, 0, 1, 5] {
            one.ack("t", 0, o);
        }
        all.ack_all("t", 0, [3, 0, 1, 5]);
        all.ack_all("t", 7, [0]);
        all.ack_all("u", 0, [2]);
        assert_eq!(all.committable(), one.committable());
        assert_eq!(all.committable(), vec![(tp(0), 2), (tp(1), 0)]);
        assert_eq!((all.in_flight(), one.in_flight()), (3, 3), "unknown partitions are ignored");
    }

    #[test]
    fn redelivered_and_repeated_offsets_keep_the_window_sorted() {
        let mut w = Watermarks::default();
        w.track("t", 0, 5);
        w.track("t", 0, 6);
        w.track("t", 0, 3);
        w.track("t", 0, 5);
        assert_eq!(w.in_flight(), 3);
        assert_eq!(w.committable(), vec![(tp(0), 3)]);
        w.ack("t", 0, 3);
        w.ack("t", 0, 3);
        assert_eq!(w.committable(), vec![(tp(0), 5)]);
        assert_eq!(w.in_flight(), 2);
    }

    #[test]
    fn offsets_with_gaps_are_found_past_the_first_guess() {
        // A compacted or transactional topic skips offsets: the distance from the front points at
        // the wrong entry (or past the end), and the search must still find the right one.
        let mut w = Watermarks::default();
        for o in [100, 101, 105, 106, 200] {
            w.track("t", 0, o);
        }
        w.ack("t", 0, 105);
        w.ack("t", 0, 200);
        w.ack("t", 0, 99);
        w.ack("t", 0, 150);
        assert_eq!(w.in_flight(), 3, "only tracked offsets are acknowledged");
        assert_eq!(w.committable(), vec![(tp(0), 100)]);
        w.ack("t", 0, 100);
        w.ack("t", 0, 101);
        assert_eq!(w.committable(), vec![(tp(0), 106)]);
        w.ack("t", 0, 106);
        assert_eq!(w.committable(), vec![(tp(0), 201)]);
        assert_eq!(w.in_flight(), 0);
    }

    #[test]
    fn revoked_partitions_are_forgotten() {
        let mut w = Watermarks::default();
        w.track("t", 0, 3);
        w.forget("t", 0);
        w.ack("t", 0, 3);
        assert!(w.committable().is_empty());
        assert_eq!(w.in_flight(), 0);
    }
}
