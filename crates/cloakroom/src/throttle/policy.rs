//! How many failures are allowed, to whom, how long they are remembered, and what happens
//! past the limits.

use std::time::Duration;

/// The limits of a [`LoginThrottle`](super::LoginThrottle).
///
/// Failures are counted three ways, each over `window`:
///
/// - per **account and client** (the client's address, an IPv6 one by its /64): the
///   `max_failures`-th failure locks that pair out for `lockout`, doubled by each further
///   failure up to `max_lockout`. This is what stops a guesser; it locks out nobody else.
/// - per **client**, across accounts (password spraying): `client_max_failures` locks the
///   address out the same way.
/// - per **account**, across clients (a guesser with many addresses): past
///   `account_max_failures` the account is *slowed*, never locked: each attempt past the
///   ceiling holds the next one back for `account_delay`, doubled up to `account_max_delay`,
///   so the owner waits seconds while a distributed guesser gets one guess per delay.
///
/// Failures are forgotten `window` after the first one, or, once a limit is reached, `window`
/// after the lockout (or delay) ends, so that a patient guesser meets ever longer lockouts
/// instead of a fresh allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed per account and client before that pair is locked out. Default 5.
    pub max_failures: u32,
    /// How long failures are counted together. Default 15 minutes.
    pub window: Duration,
    /// The first lockout. Default 1 minute.
    pub lockout: Duration,
    /// The longest lockout. Default 1 hour.
    pub max_lockout: Duration,
    /// Failures allowed per client across all accounts before the client is locked out (with
    /// `lockout` and `max_lockout`). Default 20; raised to `max_failures` if lower.
    pub client_max_failures: u32,
    /// Failures per account, from all clients together, past which the account is slowed.
    /// Default 100; raised to `max_failures` if lower.
    pub account_max_failures: u32,
    /// The first delay between attempts at an account past its ceiling. Default 1 second.
    pub account_delay: Duration,
    /// The longest such delay. Default 30 seconds.
    pub account_max_delay: Duration,
}

/// One counter's limit: how many failures, then how long a hold-off, doubled up to a cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limit {
    pub(crate) max_failures: u32,
    pub(crate) first: Duration,
    pub(crate) cap: Duration,
}

impl Limit {
    /// The hold-off that `failures` failures earn: `None` below the limit, then `first`
    /// doubled for each failure past the limit, capped at `cap`.
    pub(crate) fn hold_off(&self, failures: u32) -> Option<Duration> {
        let past = failures.checked_sub(self.max_failures)?;
        let mut hold = self.first;
        for _ in 0..past {
            if hold >= self.cap {
                break;
            }
            hold = hold.saturating_mul(2);
        }
        Some(hold.min(self.cap))
    }
}

/// A policy whose values cannot work together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A failure limit is zero: every sign-in would be refused. Names the field.
    #[error("{0} must be at least 1")]
    NoFailuresAllowed(&'static str),
    /// A duration under one second (lockouts are counted in whole seconds). Names the field.
    #[error("{0} must be at least one second")]
    TooShort(&'static str),
    /// A cap is shorter than the first hold-off. Names the cap.
    #[error("{0} must not be shorter than the first one")]
    CapBelowFirst(&'static str),
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(60),
            max_lockout: Duration::from_secs(3600),
            client_max_failures: 20,
            account_max_failures: 100,
            account_delay: Duration::from_secs(1),
            account_max_delay: Duration::from_secs(30),
        }
    }
}

impl ThrottlePolicy {
    /// Checks that the values work together.
    pub fn validate(&self) -> Result<(), PolicyError> {
        for (name, n) in [
            ("max_failures", self.max_failures),
            ("client_max_failures", self.client_max_failures),
            ("account_max_failures", self.account_max_failures),
        ] {
            if n == 0 {
                return Err(PolicyError::NoFailuresAllowed(name));
            }
        }
        for (name, d) in [
            ("window", self.window),
            ("lockout", self.lockout),
            ("max_lockout", self.max_lockout),
            ("account_delay", self.account_delay),
            ("account_max_delay", self.account_max_delay),
        ] {
            if d < Duration::from_secs(1) {
                return Err(PolicyError::TooShort(name));
            }
        }
        if self.max_lockout < self.lockout {
            return Err(PolicyError::CapBelowFirst("max_lockout"));
        }
        if self.account_max_delay < self.account_delay {
            return Err(PolicyError::CapBelowFirst("account_max_delay"));
        }
        Ok(())
    }

    /// The lockout that `failures` failures of one account and client earn: `None` below
    /// `max_failures`, then `lockout` doubled for each failure past it, capped at
    /// `max_lockout`.
    pub fn lockout_after(&self, failures: u32) -> Option<Duration> {
        self.pair().hold_off(failures)
    }

    /// The delay that `failures` failures at one account, from all clients, impose on its
    /// next attempt: `None` below `account_max_failures`, then `account_delay` doubled for
    /// each failure past it, capped at `account_max_delay`.
    pub fn account_delay_after(&self, failures: u32) -> Option<Duration> {
        self.account().hold_off(failures)
    }

    pub(crate) fn pair(&self) -> Limit {
        Limit {
            max_failures: self.max_failures,
            first: self.lockout,
            cap: self.max_lockout,
        }
    }

    // The wider limits are never below the pair's (which they would make unreachable): a
    // raised `max_failures` (say, to turn the throttle off in a test) raises them too.
    pub(crate) fn client(&self) -> Limit {
        Limit {
            max_failures: self.client_max_failures.max(self.max_failures),
            first: self.lockout,
            cap: self.max_lockout,
        }
    }

    pub(crate) fn account(&self) -> Limit {
        Limit {
            max_failures: self.account_max_failures.max(self.max_failures),
            first: self.account_delay,
            cap: self.account_max_delay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockouts_start_at_the_limit_double_and_stop_at_the_cap() {
        let p = ThrottlePolicy::default();
        assert_eq!(p.lockout_after(0), None);
        assert_eq!(p.lockout_after(4), None);
        let mins = |n: u32| p.lockout_after(n).map(|d| d.as_secs() / 60);
        assert_eq!(mins(5), Some(1));
        assert_eq!(mins(6), Some(2));
        assert_eq!(mins(7), Some(4));
        assert_eq!(mins(10), Some(32));
        assert_eq!(mins(11), Some(60));
        assert_eq!(mins(u32::MAX), Some(60));
    }

    #[test]
    fn the_account_ceiling_slows_by_seconds_and_never_past_its_cap() {
        let p = ThrottlePolicy::default();
        assert_eq!(p.account_delay_after(99), None);
        let secs = |n: u32| p.account_delay_after(n).map(|d| d.as_secs());
        assert_eq!(secs(100), Some(1));
        assert_eq!(secs(101), Some(2));
        assert_eq!(secs(104), Some(16));
        assert_eq!(secs(105), Some(30));
        assert_eq!(secs(u32::MAX), Some(30));
        // Much higher than the pair's limit, and a delay far below its lockout: slowed, not
        // locked.
        assert!(p.account_max_failures >= 10 * p.max_failures);
        assert!(p.account_max_delay < p.lockout);
    }

    #[test]
    fn policies_that_cannot_work_are_refused() {
        let ok = ThrottlePolicy::default();
        assert_eq!(ok.validate(), Ok(()));
        let zero = ThrottlePolicy {
            max_failures: 0,
            ..ok
        };
        assert_eq!(
            zero.validate(),
            Err(PolicyError::NoFailuresAllowed("max_failures"))
        );
        let short = ThrottlePolicy {
            window: Duration::from_millis(10),
            ..ok
        };
        assert_eq!(short.validate(), Err(PolicyError::TooShort("window")));
        let capped = ThrottlePolicy {
            max_lockout: Duration::from_secs(1),
            ..ok
        };
        assert_eq!(
            capped.validate(),
            Err(PolicyError::CapBelowFirst("max_lockout"))
        );
        let delay = ThrottlePolicy {
            account_max_delay: Duration::from_secs(1),
            account_delay: Duration::from_secs(2),
            ..ok
        };
        assert_eq!(
            delay.validate(),
            Err(PolicyError::CapBelowFirst("account_max_delay"))
        );
        // A wider limit below the pair's is raised to it.
        let low = ThrottlePolicy {
            account_max_failures: 4,
            client_max_failures: 1,
            ..ok
        };
        assert_eq!(low.validate(), Ok(()));
        assert_eq!(low.account().max_failures, 5);
        assert_eq!(low.client().max_failures, 5);
    }
}
