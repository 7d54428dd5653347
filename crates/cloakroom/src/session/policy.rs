//! How long a session lasts.

use std::time::Duration;

/// A policy that cannot work, e.g. an idle timeout longer than the absolute one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A timeout of zero, or under a second (the clock's resolution).
    #[error("{0} must be at least one second")]
    TooShort(&'static str),
    /// The idle timeout is longer than the absolute timeout.
    #[error("idle_timeout ({idle:?}) must not exceed absolute_timeout ({absolute:?})")]
    IdleExceedsAbsolute {
        /// The idle timeout asked for.
        idle: Duration,
        /// The absolute timeout asked for.
        absolute: Duration,
    },
    /// The touch interval is not shorter than the idle timeout, so sessions would expire while
    /// in use.
    #[error("touch_interval ({touch:?}) must be shorter than idle_timeout ({idle:?})")]
    TouchNotShorterThanIdle {
        /// The touch interval asked for.
        touch: Duration,
        /// The idle timeout asked for.
        idle: Duration,
    },
}

/// Expiry rules for sessions. Both timeouts apply at once: a session ends after
/// `idle_timeout` without a request, and after `absolute_timeout` however busy it is.
///
/// ```
/// use std::time::Duration;
/// use cloakroom::session::SessionPolicy;
///
/// let policy = SessionPolicy::new(Duration::from_secs(30 * 60), Duration::from_secs(12 * 3600))?;
/// // By default the last-seen time is written at most once per tenth of the idle timeout.
/// assert_eq!(policy.touch_interval(), Duration::from_secs(180));
/// # Ok::<(), cloakroom::session::PolicyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    idle_timeout: Duration,
    absolute_timeout: Duration,
    touch_interval: Duration,
    max_data_bytes: usize,
}

impl SessionPolicy {
    /// Default idle timeout: 30 minutes.
    pub const DEFAULT_IDLE: Duration = Duration::from_secs(30 * 60);
    /// Default absolute timeout: 12 hours.
    pub const DEFAULT_ABSOLUTE: Duration = Duration::from_secs(12 * 3600);
    /// Default bound on a session's data, as JSON: 64 KiB.
    pub const DEFAULT_MAX_DATA_BYTES: usize = 64 * 1024;

    /// A policy with the given timeouts; the touch interval is a tenth of the idle timeout
    /// (at least one second).
    pub fn new(idle_timeout: Duration, absolute_timeout: Duration) -> Result<Self, PolicyError> {
        if idle_timeout < Duration::from_secs(1) {
            return Err(PolicyError::TooShort("idle_timeout"));
        }
        if absolute_timeout < Duration::from_secs(1) {
            return Err(PolicyError::TooShort("absolute_timeout"));
        }
        if idle_timeout > absolute_timeout {
            return Err(PolicyError::IdleExceedsAbsolute {
                idle: idle_timeout,
                absolute: absolute_timeout,
            });
        }
        let touch_interval = (idle_timeout / 10).max(Duration::from_secs(1));
        let policy = Self {
            idle_timeout,
            absolute_timeout,
            touch_interval: Duration::ZERO,
            max_data_bytes: Self::DEFAULT_MAX_DATA_BYTES,
        };
        // A one-second idle timeout cannot have a shorter touch interval; touch every time.
        if touch_interval >= idle_timeout {
            return Ok(policy);
        }
        policy.with_touch_interval(touch_interval)
    }

    /// Writes the last-seen time at most once per `touch_interval` (zero: on every request).
    pub fn with_touch_interval(mut self, touch_interval: Duration) -> Result<Self, PolicyError> {
        if touch_interval >= self.idle_timeout {
            return Err(PolicyError::TouchNotShorterThanIdle {
                touch: touch_interval,
                idle: self.idle_timeout,
            });
        }
        self.touch_interval = touch_interval;
        Ok(self)
    }

    /// Bounds the JSON size of a session's data.
    pub fn with_max_data_bytes(mut self, max: usize) -> Self {
        self.max_data_bytes = max;
        self
    }

    /// A session ends after this long without a request.
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }

    /// A session ends this long after it started, however busy.
    pub fn absolute_timeout(&self) -> Duration {
        self.absolute_timeout
    }

    /// The last-seen time is written at most this often.
    pub fn touch_interval(&self) -> Duration {
        self.touch_interval
    }

    /// The largest a session's data may be, as JSON.
    pub fn max_data_bytes(&self) -> usize {
        self.max_data_bytes
    }
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_timeout: Self::DEFAULT_IDLE,
            absolute_timeout: Self::DEFAULT_ABSOLUTE,
            touch_interval: Self::DEFAULT_IDLE / 10,
            max_data_bytes: Self::DEFAULT_MAX_DATA_BYTES,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_impossible_policies() {
        let s = Duration::from_secs;
        assert!(matches!(
            SessionPolicy::new(s(0), s(10)),
            Err(PolicyError::TooShort("idle_timeout"))
        ));
        assert!(matches!(
            SessionPolicy::new(s(20), s(10)),
            Err(PolicyError::IdleExceedsAbsolute { .. })
        ));
        let p = SessionPolicy::new(s(10), s(20)).unwrap();
        assert!(p.with_touch_interval(s(10)).is_err());
        assert_eq!(p.touch_interval(), s(1));
        assert_eq!(
            SessionPolicy::new(s(1), s(1)).unwrap().touch_interval(),
            s(0)
        );
    }
}
