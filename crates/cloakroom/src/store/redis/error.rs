//! From the `redis` crate's errors to [`StoreError`].

use redis::{ErrorKind, RedisError, ServerErrorKind};

use super::StoreError;

/// Unreachable, timed out, dropped, or a server that cannot serve right now (loading, a replica
/// after failover) → `Unavailable`, so callers fail closed and retry later; a key of the wrong
/// type → `Corrupt`; the rest → `Backend`. The cause is always kept.
pub(super) fn from_redis(e: RedisError) -> StoreError {
    match e.kind() {
        ErrorKind::Io
        | ErrorKind::ClusterConnectionNotFound
        | ErrorKind::Server(
            ServerErrorKind::BusyLoading
            | ServerErrorKind::TryAgain
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::MasterDown
            | ServerErrorKind::ReadOnly,
        ) => StoreError::Unavailable(Box::new(e)),
        ErrorKind::UnexpectedReturnType => StoreError::Corrupt(Box::new(e)),
        _ if is_wrong_type(&e) => StoreError::Corrupt(Box::new(e)),
        _ => StoreError::Backend(Box::new(e)),
    }
}

/// `WRONGTYPE`, as a reply or raised inside a script: someone else wrote our key.
fn is_wrong_type(e: &RedisError) -> bool {
    e.code() == Some("WRONGTYPE") || e.detail().is_some_and(|d| d.contains("WRONGTYPE"))
}

/// A reply of a shape the store never asks for.
#[derive(Debug, thiserror::Error)]
#[error("Redis answered {what} with an unexpected reply")]
pub(super) struct UnexpectedReply {
    pub(super) what: &'static str,
}

/// `Corrupt`, for a reply of the wrong shape.
pub(super) fn unexpected(what: &'static str) -> StoreError {
    StoreError::Corrupt(Box::new(UnexpectedReply { what }))
}
