//! Keeping a cache from keeping an answer older than the last change it heard of.
//!
//! A lookup that read the database before a change committed can finish after the change's
//! notification cleared the cache, and store its stale answer for a whole TTL (a suspended
//! school served, a revoked key accepted). So every change heard of bumps an epoch; a lookup
//! notes the epoch before its query and tags its answer with it; and a reader accepts a cached
//! answer only if no change *to that key* was heard of after the answer's query began. A stale
//! one is dropped and looked up again.
//!
//! The common case costs one atomic load: an answer loaded since the last change is fresh. Only
//! an answer older than some change takes a lock to ask which key changed, so a change to one
//! school does not send every other school back to the database.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The change epochs of one cache, by key.
#[derive(Debug)]
pub struct Epochs<K> {
    /// The epoch of the latest change heard of. Written under `changes`' lock, after it.
    latest: AtomicU64,
    changes: Mutex<Changes<K>>,
}

#[derive(Debug)]
struct Changes<K> {
    /// The latest change that concerned every key (a resync).
    all: u64,
    /// The latest change to each key, and when it was heard of.
    by_key: HashMap<K, (u64, Instant)>,
    /// How long a change is remembered: longer than any cached answer lives.
    retention: Duration,
}

impl<K: Hash + Eq> Epochs<K> {
    /// `max_age` is the longest a cached answer lives (the cache's TTL).
    pub fn new(max_age: Duration) -> Self {
        Self {
            latest: AtomicU64::new(0),
            changes: Mutex::new(Changes {
                all: 0,
                by_key: HashMap::new(),
                // Twice the TTL, and a minute for a lookup's own query time.
                retention: max_age.saturating_mul(2) + Duration::from_secs(60),
            }),
        }
    }

    /// Read before a lookup's query; the answer is tagged with it.
    pub fn current(&self) -> u64 {
        self.latest.load(Ordering::Acquire)
    }

    /// `key` changed: answers about it whose query began before now are stale.
    pub fn changed(&self, key: K) {
        let mut changes = self.lock();
        let epoch = self.latest.load(Ordering::Relaxed) + 1;
        let now = Instant::now();
        let retention = changes.retention;
        changes
            .by_key
            .retain(|_, (_, heard)| now.duration_since(*heard) < retention);
        changes.by_key.insert(key, (epoch, now));
        // Last: a reader that sees the new epoch finds the key's change recorded.
        self.latest.store(epoch, Ordering::Release);
    }

    /// Anything may have changed: every answer whose query began before now is stale.
    pub fn changed_all(&self) {
        let mut changes = self.lock();
        let epoch = self.latest.load(Ordering::Relaxed) + 1;
        changes.all = epoch;
        changes.by_key.clear();
        self.latest.store(epoch, Ordering::Release);
    }

    /// Whether an answer whose query began at `epoch` may still be served. `key` is what the
    /// answer is about; `None` (an answer about nothing in particular, like "no such school")
    /// is stale after any change.
    pub fn is_fresh(&self, epoch: u64, key: Option<&K>) -> bool {
        if epoch >= self.latest.load(Ordering::Acquire) {
            return true;
        }
        let Some(key) = key else {
            return false;
        };
        let changes = self.lock();
        epoch >= changes.all
            && changes
                .by_key
                .get(key)
                .is_none_or(|(changed, _)| epoch >= *changed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Changes<K>> {
        // Poisoned only if a panic hit between the lines above; the map is still consistent.
        self.changes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_begun_before_a_change_to_its_key_is_stale_and_others_are_not() {
        let epochs = Epochs::new(Duration::from_secs(60));
        let before = epochs.current();
        epochs.changed("hogwarts");
        assert!(!epochs.is_fresh(before, Some(&"hogwarts")));
        assert!(epochs.is_fresh(before, Some(&"castelobruxo")));
        assert!(
            !epochs.is_fresh(before, None),
            "an unknown may be the school just made"
        );
        let after = epochs.current();
        assert!(epochs.is_fresh(after, Some(&"hogwarts")));
        assert!(epochs.is_fresh(after, None));
        epochs.changed_all();
        assert!(!epochs.is_fresh(after, Some(&"castelobruxo")));
        assert!(epochs.is_fresh(epochs.current(), Some(&"castelobruxo")));
    }
}
