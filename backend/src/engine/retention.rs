//! Retention in log time: entries a fold keeps only for a while (idempotency records, abandoned
//! carts) expire by the time the log itself has reached, never by a replica's clock at apply
//! time, so every replica and every replay drops the same entries at the same offset.
//!
//! The log's time is the highest `requested_at_ms` its commands carry ([`LogClock`]); each entry's
//! deadline is fixed by the event that wrote it (its own time plus the retention the writing
//! replica put in the event), so a replica's configuration changes what it writes, never how it
//! folds what others wrote. A [`Deadlines`] index keeps entries in deadline order: expiring costs
//! O(log n) per entry dropped, and nothing when none is due.

use std::sync::Arc;

use imbl::{HashMap, OrdSet};

/// The time the log has reached: the highest command time applied so far (Unix ms).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogClock(pub i64);

impl LogClock {
    /// Moves the clock to `at` if that is later; true if it moved.
    pub fn advance(&mut self, at: i64) -> bool {
        let moved = at > self.0;
        if moved {
            self.0 = at;
        }
        moved
    }
}

/// `at + retention`, or `None` (kept for ever) for a retention of 0 or less: events written
/// before retention existed carry 0 and keep their meaning.
pub fn deadline(at: i64, retention_ms: i64) -> Option<i64> {
    (retention_ms > 0).then(|| at.saturating_add(retention_ms))
}

impl LogClock {
    /// The deadline of an entry written now by an event of time `at`: counted from the log's
    /// time when the event's replica is behind it, so a replica with a slow clock never writes
    /// an entry that is already due (its command's answer would vanish before it is read).
    pub fn deadline(&self, at: i64, retention_ms: i64) -> Option<i64> {
        deadline(at.max(self.0), retention_ms)
    }
}

/// Keys in the order they fall due.
#[derive(Debug, Clone)]
pub struct Deadlines<K: Ord + Clone> {
    due: OrdSet<(i64, K)>,
}

impl<K: Ord + Clone> Default for Deadlines<K> {
    fn default() -> Self {
        Deadlines { due: OrdSet::new() }
    }
}

impl<K: Ord + Clone> Deadlines<K> {
    /// Moves `key` from its `previous` deadline to `next` (`None`: not tracked).
    pub fn set(&mut self, key: &K, previous: Option<i64>, next: Option<i64>) {
        if previous == next {
            return;
        }
        if let Some(p) = previous {
            self.due.remove(&(p, key.clone()));
        }
        if let Some(n) = next {
            self.due.insert((n, key.clone()));
        }
    }

    /// Removes and returns every key whose deadline is at or before `now`, earliest first.
    pub fn take_due(&mut self, now: i64) -> Vec<K> {
        let mut keys = Vec::new();
        while self.due.get_min().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, k)) = self.due.remove_min() {
                keys.push(k);
            }
        }
        keys
    }

    pub fn len(&self) -> usize {
        self.due.len()
    }

    pub fn is_empty(&self) -> bool {
        self.due.is_empty()
    }
}

/// A command already applied, kept under its scoped idempotency key so a retry gets the first
/// result without a second effect, until its deadline.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<O> {
    pub fingerprint: u64,
    pub offset: i64,
    pub outcome: O,
    /// Log time after which the record is dropped (`None`: kept for ever).
    pub expires_at_ms: Option<i64>,
}

/// Idempotency records with their deadlines.
#[derive(Debug, Clone)]
pub struct Records<O: Clone> {
    by_key: HashMap<Arc<str>, Record<O>>,
    deadlines: Deadlines<Arc<str>>,
}

impl<O: Clone> Default for Records<O> {
    fn default() -> Self {
        Records {
            by_key: HashMap::new(),
            deadlines: Deadlines::default(),
        }
    }
}

impl<O: Clone> Records<O> {
    pub fn get(&self, key: &str) -> Option<&Record<O>> {
        self.by_key.get(key)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.by_key.contains_key(key)
    }

    /// Records `key` (a key already present keeps its first record: the fold checks first).
    pub fn insert(&mut self, key: &str, record: Record<O>) {
        if self.by_key.contains_key(key) {
            return;
        }
        let key: Arc<str> = key.into();
        self.deadlines.set(&key, None, record.expires_at_ms);
        self.by_key.insert(key, record);
    }

    /// [`Records::insert`] of a key known to be new (a snapshot load, whose keys are checked
    /// to ascend): one hash instead of two per record, a million of them at a start-up.
    pub fn insert_new(&mut self, key: &str, record: Record<O>) {
        let key: Arc<str> = key.into();
        self.deadlines.set(&key, None, record.expires_at_ms);
        self.by_key.insert(key, record);
    }

    /// Drops every record due at `now`; returns how many.
    pub fn expire(&mut self, now: i64) -> usize {
        let due = self.deadlines.take_due(now);
        for key in &due {
            self.by_key.remove(key);
        }
        due.len()
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Every record in key order: what makes a snapshot deterministic.
    pub fn sorted(&self) -> Vec<(&str, &Record<O>)> {
        let mut all: Vec<(&str, &Record<O>)> = self.by_key.iter().map(|(k, r)| (&**k, r)).collect();
        all.sort_unstable_by(|a, b| a.0.cmp(b.0));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(expires_at_ms: Option<i64>) -> Record<()> {
        Record {
            fingerprint: 1,
            offset: 0,
            outcome: (),
            expires_at_ms,
        }
    }

    #[test]
    fn records_fall_due_in_deadline_order_and_only_once_due() {
        let mut r = Records::default();
        r.insert("b", record(Some(20)));
        r.insert("a", record(Some(10)));
        r.insert("forever", record(None));
        assert_eq!(r.expire(9), 0);
        assert_eq!(r.expire(10), 1);
        assert!(!r.contains("a") && r.contains("b"));
        assert_eq!(r.expire(1_000_000), 1);
        assert_eq!((r.len(), r.deadlines.len()), (1, 0));
        assert!(r.contains("forever"));
    }

    #[test]
    fn a_moved_deadline_replaces_the_old_one() {
        let mut d = Deadlines::default();
        d.set(&7u64, None, Some(10));
        d.set(&7u64, Some(10), Some(30));
        assert_eq!(d.take_due(20), Vec::<u64>::new());
        assert_eq!(d.take_due(30), vec![7]);
        assert!(d.is_empty());
    }

    #[test]
    fn the_clock_only_moves_forward() {
        let mut c = LogClock::default();
        assert!(c.advance(5));
        assert!(!c.advance(3));
        assert_eq!(c.0, 5);
        assert_eq!(deadline(5, 0), None);
        assert_eq!(deadline(5, 10), Some(15));
        assert_eq!(deadline(i64::MAX - 1, 10), Some(i64::MAX));
        // A replica whose clock is behind the log's: counted from the log's time.
        assert_eq!(c.deadline(1, 10), Some(15));
        assert_eq!(c.deadline(9, 10), Some(19));
        assert_eq!(c.deadline(1, 0), None);
    }
}
