//! Reconnect backoff for the pool: after a failed connection attempt, new attempts are skipped
//! (the request gets its `unavailable` error at once) for a pause that doubles with each further
//! failure, from 100 ms up to 1 s. During an outage the database so gets at most one attempt per
//! pause from a process instead of one per request, and when it is back the first attempt after
//! the pause succeeds and the pause resets: recovery costs at most one pause.

use std::sync::Mutex;
use std::time::{Duration, Instant};

const FIRST_PAUSE: Duration = Duration::from_millis(100);
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub(crate) struct ConnectBackoff {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    failures: u32,
    retry_at: Option<Instant>,
}

impl ConnectBackoff {
    /// Whether an attempt now would come too soon after the last failure.
    pub(crate) fn pausing(&self) -> bool {
        self.with(|state| state.retry_at.is_some_and(|at| Instant::now() < at))
    }

    pub(crate) fn failed(&self) {
        self.with(|state| {
            let pause = FIRST_PAUSE
                .saturating_mul(1 << state.failures.min(4))
                .min(LONGEST_PAUSE);
            state.failures = state.failures.saturating_add(1);
            state.retry_at = Some(Instant::now() + pause);
        });
    }

    pub(crate) fn succeeded(&self) {
        self.with(|state| *state = State::default());
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        // A poisoned lock only means a panic elsewhere mid-update; the state is still usable.
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_pauses_attempts_and_a_success_ends_the_pause() {
        let backoff = ConnectBackoff::default();
        assert!(!backoff.pausing());
        backoff.failed();
        assert!(backoff.pausing());
        backoff.succeeded();
        assert!(!backoff.pausing());
    }

    #[test]
    fn the_pause_doubles_up_to_one_second() {
        let backoff = ConnectBackoff::default();
        for _ in 0..10 {
            backoff.failed();
        }
        let retry_at = backoff.with(|state| state.retry_at).expect("pausing");
        let pause = retry_at.saturating_duration_since(Instant::now());
        assert!(
            pause <= LONGEST_PAUSE && pause > LONGEST_PAUSE / 2,
            "{pause:?}"
        );
    }
}
