//! One subject's count and what an attempt does to it: the rules the memory and PostgreSQL
//! throttles share (the Redis one has them in Lua, and the conformance suite holds all three
//! to the same behaviour).

use std::time::Duration;

use super::policy::Limit;
use crate::clock::Timestamp;

/// The failures of one subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Count {
    pub(crate) failures: u32,
    /// Attempts are refused until then.
    pub(crate) locked_until: Timestamp,
    /// The count is forgotten then.
    pub(crate) expires_at: Timestamp,
}

impl Count {
    /// How long attempts are still refused, if they are (at least one second, for an honest
    /// `Retry-After`).
    pub(crate) fn locked_for(&self, now: Timestamp) -> Option<Duration> {
        (self.expires_at > now && self.locked_until > now)
            .then(|| self.locked_until.since(now).max(Duration::from_secs(1)))
    }

    /// `previous` (absent or expired: a fresh count) with one more failure; from the limit on,
    /// locked for the hold-off it earns and remembered `window` past its end.
    pub(crate) fn counted(
        previous: Option<Self>,
        limit: &Limit,
        window: Duration,
        now: Timestamp,
    ) -> Self {
        let fresh = Self {
            failures: 0,
            locked_until: now,
            expires_at: now.saturating_add(window),
        };
        let mut count = match previous {
            Some(c) if c.expires_at > now => c,
            _ => fresh,
        };
        count.failures = count.failures.saturating_add(1);
        if let Some(hold) = limit.hold_off(count.failures) {
            count.locked_until = now.saturating_add(hold);
            count.expires_at = count
                .expires_at
                .max(count.locked_until.saturating_add(window));
        }
        count
    }

    /// This count with one attempt taken back, and the lockout it set (a lockout in force
    /// refuses every attempt, so any lockout present was set by an attempt counted since it
    /// began). `None` when nothing is left to remember.
    pub(crate) fn given_back(self, now: Timestamp) -> Option<Self> {
        let count = Self {
            failures: self.failures.saturating_sub(1),
            locked_until: self.locked_until.min(now),
            expires_at: self.expires_at,
        };
        (count.failures > 0 && count.expires_at > now).then_some(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Limit = Limit {
        max_failures: 2,
        first: Duration::from_secs(10),
        cap: Duration::from_secs(25),
    };
    const WINDOW: Duration = Duration::from_secs(100);

    #[test]
    fn the_limit_locks_and_keeps_the_count_a_window_past_the_lockout() {
        let now = Timestamp::from_unix(1000);
        let one = Count::counted(None, &LIMIT, WINDOW, now);
        assert_eq!(one.locked_for(now), None);
        let two = Count::counted(Some(one), &LIMIT, WINDOW, now);
        assert_eq!(two.locked_for(now), Some(Duration::from_secs(10)));
        assert_eq!(two.expires_at, Timestamp::from_unix(1110));
        let later = Timestamp::from_unix(1010);
        let three = Count::counted(Some(two), &LIMIT, WINDOW, later);
        assert_eq!(three.locked_for(later), Some(Duration::from_secs(20)));
        let four = Count::counted(Some(three), &LIMIT, WINDOW, later);
        assert_eq!(
            four.locked_for(later),
            Some(Duration::from_secs(25)),
            "capped"
        );
    }

    #[test]
    fn expired_counts_start_again_and_given_back_ones_unlock() {
        let now = Timestamp::from_unix(1000);
        let one = Count::counted(None, &LIMIT, WINDOW, now);
        let after = now.saturating_add(WINDOW);
        assert_eq!(Count::counted(Some(one), &LIMIT, WINDOW, after).failures, 1);
        let two = Count::counted(Some(one), &LIMIT, WINDOW, now);
        let back = two.given_back(now).expect("one failure left");
        assert_eq!((back.failures, back.locked_for(now)), (1, None));
        assert_eq!(back.given_back(now), None);
    }
}
