//! How many failures are allowed, how long they are remembered, and how long a lockout lasts.

use std::time::Duration;

/// The limits of a [`LoginThrottle`](super::LoginThrottle).
///
/// The `max_failures`-th failure within `window` locks the account (or address) out for
/// `lockout`; each further failure doubles that, up to `max_lockout`. Failures are forgotten
/// `window` after the first one, or, once locked out, `window` after the lockout ends, so that
/// a patient attacker meets ever longer lockouts instead of a fresh allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed before the lockout starts. Default 5.
    pub max_failures: u32,
    /// How long failures are counted together. Default 15 minutes.
    pub window: Duration,
    /// The first lockout. Default 1 minute.
    pub lockout: Duration,
    /// The longest lockout. Default 1 hour.
    pub max_lockout: Duration,
}

/// A policy whose values cannot work together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// `max_failures` is zero: every sign-in would be refused.
    #[error("max_failures must be at least 1")]
    NoFailuresAllowed,
    /// A duration under one second (lockouts are counted in whole seconds).
    #[error("{0} must be at least one second")]
    TooShort(&'static str),
    /// `max_lockout` is shorter than `lockout`.
    #[error("max_lockout must not be shorter than lockout")]
    CapBelowLockout,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window: Duration::from_secs(15 * 60),
            lockout: Duration::from_secs(60),
            max_lockout: Duration::from_secs(3600),
        }
    }
}

impl ThrottlePolicy {
    /// Checks that the values work together.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.max_failures == 0 {
            return Err(PolicyError::NoFailuresAllowed);
        }
        for (name, d) in [
            ("window", self.window),
            ("lockout", self.lockout),
            ("max_lockout", self.max_lockout),
        ] {
            if d < Duration::from_secs(1) {
                return Err(PolicyError::TooShort(name));
            }
        }
        if self.max_lockout < self.lockout {
            return Err(PolicyError::CapBelowLockout);
        }
        Ok(())
    }

    /// The lockout that `failures` failures in a row earn: `None` below the limit, then
    /// `lockout` doubled for each failure past the limit, capped at `max_lockout`.
    pub fn lockout_after(&self, failures: u32) -> Option<Duration> {
        let past = failures.checked_sub(self.max_failures)?;
        let mut lock = self.lockout;
        for _ in 0..past {
            if lock >= self.max_lockout {
                break;
            }
            lock = lock.saturating_mul(2);
        }
        Some(lock.min(self.max_lockout))
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
    fn policies_that_cannot_work_are_refused() {
        let ok = ThrottlePolicy::default();
        assert_eq!(ok.validate(), Ok(()));
        let zero = ThrottlePolicy {
            max_failures: 0,
            ..ok
        };
        assert_eq!(zero.validate(), Err(PolicyError::NoFailuresAllowed));
        let short = ThrottlePolicy {
            window: Duration::from_millis(10),
            ..ok
        };
        assert_eq!(short.validate(), Err(PolicyError::TooShort("window")));
        let capped = ThrottlePolicy {
            max_lockout: Duration::from_secs(1),
            ..ok
        };
        assert_eq!(capped.validate(), Err(PolicyError::CapBelowLockout));
    }
}
