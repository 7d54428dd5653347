//! Throttling password guesses: failed sign-ins are counted per account and per client
//! address, and past a limit both are locked out for a time that doubles with every further
//! failure, up to a cap.
//!
//! The throttle is asked **before** the password is verified ([`LoginThrottle::check`]), so a
//! locked-out flood costs no argon2 at all; the outcome is recorded afterwards
//! ([`LoginThrottle::record_failure`], [`LoginThrottle::record_success`]). A success clears
//! the account's count, never the address's: signing in to one's own account must not wipe
//! the record of guesses the same address made at others.
//!
//! Two implementations: [`MemoryThrottle`] for one process (bounded, lock-striped, entries
//! expire), and `RedisThrottle` (feature `redis`) for many nodes sharing one Redis.
//!
//! ```
//! use cloakroom::throttle::{Attempt, LoginThrottle, MemoryThrottle, ThrottleError, ThrottlePolicy};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let throttle = MemoryThrottle::new(ThrottlePolicy::default(), 10_000);
//! let attempt = Attempt::new("alice", Some("203.0.113.7".parse().unwrap()));
//! for _ in 0..5 {
//!     throttle.check(&attempt).await.unwrap();
//!     throttle.record_failure(&attempt).await.unwrap(); // a wrong password
//! }
//! assert!(matches!(throttle.check(&attempt).await, Err(ThrottleError::Locked { .. })));
//! # }
//! ```

mod memory;
mod policy;
#[cfg(feature = "redis")]
mod redis;
mod subject;

use std::fmt;
use std::time::Duration;

pub use self::memory::MemoryThrottle;
pub use self::policy::{PolicyError, ThrottlePolicy};
#[cfg(feature = "redis")]
pub use self::redis::RedisThrottle;
pub use self::subject::Attempt;
use crate::store::StoreError;

/// Why a sign-in may not go ahead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ThrottleError {
    /// Too many failures for the account or the client address: try again after
    /// `retry_after`. The password was not looked at.
    #[error("too many failed sign-ins; try again in {} s", retry_after.as_secs())]
    Locked {
        /// How long until the lockout ends (at least one second).
        retry_after: Duration,
    },
    /// The throttle's store failed; sign-ins fail closed rather than go unthrottled.
    #[error("the sign-in throttle's store failed")]
    Store(#[source] StoreError),
}

/// Counts failed sign-ins and says when to refuse more. Shared by every sign-in path (the JSON
/// API and the HTML form), so that neither is a way around the other.
#[async_trait::async_trait]
pub trait LoginThrottle: Send + Sync + fmt::Debug + 'static {
    /// Whether `attempt` may be checked at all: [`ThrottleError::Locked`] while its account
    /// or its address is locked out. Call before verifying the password.
    async fn check(&self, attempt: &Attempt) -> Result<(), ThrottleError>;

    /// Counts a failed sign-in against the account and the address; locks either out when it
    /// reaches the limit.
    async fn record_failure(&self, attempt: &Attempt) -> Result<(), ThrottleError>;

    /// Clears the account's count after a successful sign-in (the address's stays).
    async fn record_success(&self, attempt: &Attempt) -> Result<(), ThrottleError>;
}
