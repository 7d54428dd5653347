//! Throttling password guesses without handing attackers a way to lock owners out.
//!
//! Failed sign-ins are counted three ways ([`ThrottlePolicy`]): per account *and* client (the
//! client's address, IPv6 by its /64), which locks the guesser out, even with the right
//! password, and nobody else; per client across accounts, against one address spraying many
//! accounts; and per account across clients, a much higher ceiling past which the account is
//! *slowed* (seconds between attempts), never locked, against guessers with many addresses. A
//! client that never failed gets in with the right password; while the ceiling is being
//! hammered it waits a few seconds.
//!
//! The throttle is asked **before** the password is verified ([`LoginThrottle::check`]), so a
//! locked-out flood costs no argon2 at all. That same call counts the attempt as a failure in
//! advance, atomically: a burst of parallel guesses cannot all pass the check before the first
//! of them is counted, so no more than `max_failures` guesses are ever verified per lockout. A
//! wrong password then needs nothing more; the right one calls
//! [`LoginThrottle::record_success`], which clears the pair's count and takes this attempt
//! back from the client's and the account's (never more: signing in to one's own account must
//! not wipe the record of guesses the same address made at others, or others made at it). An
//! attempt whose password was never checked (the user store failed) is given back with
//! [`LoginThrottle::release`].
//!
//! Three implementations, held to one behaviour by [`conformance`] (feature `test-suite`):
//! [`MemoryThrottle`] for one process (bounded, lock-striped, entries expire),
//! `RedisThrottle` (feature `redis`) and `PostgresThrottle` (feature `postgres`) for many
//! nodes sharing one Redis or one PostgreSQL database.
//!
//! ```
//! use cloakroom::throttle::{Attempt, LoginThrottle, MemoryThrottle, ThrottleError, ThrottlePolicy};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let throttle = MemoryThrottle::new(ThrottlePolicy::default(), 10_000);
//! let attempt = Attempt::new("alice", Some("203.0.113.7".parse().unwrap()));
//! for _ in 0..5 {
//!     throttle.check(&attempt).await.unwrap(); // counted; then a wrong password
//! }
//! assert!(matches!(throttle.check(&attempt).await, Err(ThrottleError::Locked { .. })));
//! // The owner, elsewhere, is not locked out.
//! let owner = Attempt::new("alice", Some("198.51.100.4".parse().unwrap()));
//! assert!(throttle.check(&owner).await.is_ok());
//! # }
//! ```

#[cfg(any(test, feature = "test-suite"))]
pub mod conformance;
mod count;
mod memory;
mod policy;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;
mod subject;

use std::fmt;
use std::time::Duration;

pub use self::memory::MemoryThrottle;
pub use self::policy::{PolicyError, ThrottlePolicy};
#[cfg(feature = "postgres")]
pub use self::postgres::PostgresThrottle;
#[cfg(feature = "redis")]
pub use self::redis::RedisThrottle;
pub use self::subject::Attempt;
use crate::store::StoreError;

/// Why a sign-in may not go ahead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ThrottleError {
    /// Too many failures for this account from this client, or for this client, or (slowed)
    /// for this account: try again after `retry_after`. The password was not looked at.
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
    /// Call before verifying the password. [`ThrottleError::Locked`] while the pair or the
    /// client is locked out or the account is slowed (nothing is counted then); otherwise
    /// counts the attempt against all three as a failure, atomically, locking each out when it
    /// reaches its limit.
    async fn check(&self, attempt: &Attempt) -> Result<(), ThrottleError>;

    /// After the right password: clears the pair's count, and takes this attempt back from
    /// the client's and the account's counts (their other failures stay).
    async fn record_success(&self, attempt: &Attempt) -> Result<(), ThrottleError>;

    /// Takes back an attempt that [`check`](Self::check) counted but whose password was never
    /// verified (the user store failed, say).
    async fn release(&self, attempt: &Attempt) -> Result<(), ThrottleError>;
}
