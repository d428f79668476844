//! The connection cap: how many connections are served, how many more are only told `503`,
//! and the ceiling beyond which a socket is closed the moment it is accepted. The ceiling stays
//! below the open-file limit, so `accept` itself never fails for want of a descriptor.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// Connections beyond the cap that are still answered `503` (each for at most a second or
/// two) before the rest are closed unanswered.
const OVERFLOW_ANSWERED: usize = 512;

/// Descriptors kept free for everything that is not a client connection: database
/// connections, the listeners, log and certificate files, the embedded server's pipes.
const RESERVED_DESCRIPTORS: u64 = 256;

/// What to do with an accepted connection.
#[derive(Debug)]
pub enum Admission {
    /// Serve it.
    Serve(Slot),
    /// Answer `503 unavailable` and close it.
    Overflow(Slot),
    /// Close it now.
    Refuse,
}

/// One open connection; counted until dropped.
#[derive(Debug)]
pub struct Slot {
    counts: Arc<Counts>,
    served: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if self.served {
            self.counts.served.fetch_sub(1, Ordering::Relaxed);
        }
        self.counts.open.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug, Default)]
struct Counts {
    /// Every connection held, served or being answered `503`.
    open: AtomicUsize,
    served: AtomicUsize,
    overflowed: AtomicU64,
    refused: AtomicU64,
}

/// Counts open connections of one listener against its limits.
#[derive(Clone, Debug)]
pub struct ConnectionGate {
    counts: Arc<Counts>,
    max_served: usize,
    ceiling: usize,
}

impl ConnectionGate {
    /// A gate serving `max_served` connections, within an open-file limit of `file_limit`.
    /// When the limit is too low for the cap, the cap shrinks to fit (and says so).
    pub fn new(max_served: usize, file_limit: u64) -> Self {
        let budget = file_limit.saturating_sub(RESERVED_DESCRIPTORS).max(2);
        let budget = usize::try_from(budget).unwrap_or(usize::MAX);
        let wanted = max_served.saturating_add(OVERFLOW_ANSWERED);
        let ceiling = wanted.min(budget);
        // Squeezed by the limit: keep an eighth of what fits for the `503` answers.
        let max_served = if wanted <= budget {
            max_served
        } else {
            max_served.min(ceiling - ceiling / 8).max(1)
        };
        Self {
            counts: Arc::default(),
            max_served,
            ceiling,
        }
    }

    /// The connections served at once (after fitting the open-file limit).
    pub fn max_served(&self) -> usize {
        self.max_served
    }

    /// The open connections beyond which new ones are closed unanswered.
    pub fn ceiling(&self) -> usize {
        self.ceiling
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.counts.open.load(Ordering::Relaxed)
    }

    /// Connections answered `503` and connections closed unanswered, since start.
    pub fn turned_away(&self) -> (u64, u64) {
        (
            self.counts.overflowed.load(Ordering::Relaxed),
            self.counts.refused.load(Ordering::Relaxed),
        )
    }

    /// Admits one accepted connection.
    pub fn admit(&self) -> Admission {
        let open = self.counts.open.fetch_add(1, Ordering::Relaxed);
        let mut slot = Slot {
            counts: self.counts.clone(),
            served: false,
        };
        if open >= self.ceiling {
            drop(slot);
            self.counts.refused.fetch_add(1, Ordering::Relaxed);
            return Admission::Refuse;
        }
        // Overflow slots do not hold served places: once served connections close, the
        // next ones are served again even while `503`s are still being written.
        if self.counts.served.fetch_add(1, Ordering::Relaxed) < self.max_served {
            slot.served = true;
            Admission::Serve(slot)
        } else {
            self.counts.served.fetch_sub(1, Ordering::Relaxed);
            self.counts.overflowed.fetch_add(1, Ordering::Relaxed);
            Admission::Overflow(slot)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_served_then_answered_503_then_closed_and_slots_come_back() {
        let gate = ConnectionGate::new(2, 1 << 20);
        assert_eq!(gate.ceiling(), 2 + OVERFLOW_ANSWERED);
        let served: Vec<_> = (0..2).map(|_| gate.admit()).collect();
        assert!(served.iter().all(|a| matches!(a, Admission::Serve(_))));
        let overflow: Vec<_> = (0..OVERFLOW_ANSWERED).map(|_| gate.admit()).collect();
        assert!(overflow.iter().all(|a| matches!(a, Admission::Overflow(_))));
        assert!(matches!(gate.admit(), Admission::Refuse));
        assert_eq!(gate.open(), 2 + OVERFLOW_ANSWERED);
        drop(served);
        // Served places free up even while `503`s are still open...
        let again: Vec<_> = (0..2).map(|_| gate.admit()).collect();
        assert!(again.iter().all(|a| matches!(a, Admission::Serve(_))));
        // ...but the ceiling counts every socket.
        assert!(matches!(gate.admit(), Admission::Refuse));
        drop((overflow, again));
        assert_eq!(gate.open(), 0);
        assert_eq!(gate.turned_away(), (OVERFLOW_ANSWERED as u64, 2));
    }

    #[test]
    fn a_low_open_file_limit_shrinks_the_cap_below_it() {
        let gate = ConnectionGate::new(10_000, 1024);
        assert_eq!(gate.ceiling(), 1024 - 256);
        assert!(gate.max_served() < gate.ceiling());
    }
}
