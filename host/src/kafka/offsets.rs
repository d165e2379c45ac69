//! Per-partition watermarks: the one place that decides which offsets may be committed.
//!
//! A record is `track`ed when it is read and `ack`ed when its write is acknowledged (or it was handed
//! to the error policy). The committable offset of a partition is the lowest offset still pending, or
//! one past the highest seen when nothing is pending: every record below it is done, so committing
//! it never loses a record, whatever order acknowledgements arrive in.

use std::collections::{BTreeSet, HashMap};

/// A topic-partition.
pub type TopicPartition = (String, i32);

#[derive(Debug, Default)]
struct Partition {
    pending: BTreeSet<i64>,
    next_after_seen: Option<i64>,
    committed: Option<i64>,
}

/// Tracks pending and acknowledged offsets for every assigned partition.
#[derive(Debug, Default)]
pub struct Watermarks {
    partitions: HashMap<TopicPartition, Partition>,
}

impl Watermarks {
    /// A record was read and is now in flight.
    pub fn track(&mut self, topic: &str, partition: i32, offset: i64) {
        let p = self.partitions.entry((topic.to_string(), partition)).or_default();
        p.pending.insert(offset);
        p.next_after_seen = Some(p.next_after_seen.map_or(offset + 1, |n| n.max(offset + 1)));
    }

    /// A record is done (written, or handed to the error policy). Unknown partitions (revoked since)
    /// are ignored: their records will be redelivered to the new owner.
    pub fn ack(&mut self, topic: &str, partition: i32, offset: i64) {
        if let Some(p) = self.partitions.get_mut(&(topic.to_string(), partition)) {
            p.pending.remove(&offset);
        }
    }

    /// Offsets that may be committed now and were not committed yet (Kafka's "next offset to read").
    pub fn committable(&self) -> Vec<(TopicPartition, i64)> {
        let mut out: Vec<_> = self
            .partitions
            .iter()
            .filter_map(|(tp, p)| {
                let next = p.pending.first().copied().or(p.next_after_seen)?;
                (p.committed != Some(next)).then(|| (tp.clone(), next))
            })
            .collect();
        out.sort();
        out
    }

    /// Records that these offsets were committed.
    pub fn mark_committed(&mut self, offsets: &[(TopicPartition, i64)]) {
        for (tp, offset) in offsets {
            if let Some(p) = self.partitions.get_mut(tp) {
                p.committed = Some(*offset);
            }
        }
    }

    /// Forgets what was committed, so the next `committable` repeats it (after a failed commit).
    pub fn reset_committed(&mut self) {
        for p in self.partitions.values_mut() {
            p.committed = None;
        }
    }

    /// Forgets a partition (revoked in a rebalance).
    pub fn forget(&mut self, topic: &str, partition: i32) {
        self.partitions.remove(&(topic.to_string(), partition));
    }

    /// Number of records read but not yet done.
    pub fn in_flight(&self) -> usize {
        self.partitions.values().map(|p| p.pending.len()).sum()
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
    fn revoked_partitions_are_forgotten() {
        let mut w = Watermarks::default();
        w.track("t", 0, 3);
        w.forget("t", 0);
        w.ack("t", 0, 3);
        assert!(w.committable().is_empty());
        assert_eq!(w.in_flight(), 0);
    }
}
