//! The error every store returns.

/// A boxed error from a store's backend, kept as the cause.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong in a store. Backend errors keep their cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A record with this key already exists.
    #[error("a record with this key already exists")]
    Duplicate,
    /// The record does not exist (any more).
    #[error("the record does not exist")]
    NotFound,
    /// Someone else changed the record since it was read.
    #[error("the record was changed concurrently (expected version {expected})")]
    Conflict {
        /// The version the writer expected.
        expected: u64,
    },
    /// A bounded store has no room left.
    #[error("the store is full ({capacity} records)")]
    Full {
        /// How many records the store holds at most.
        capacity: usize,
    },
    /// The backend could not be reached (connection refused, pool timed out, …). Retrying later
    /// may work; callers fail closed meanwhile.
    #[error("the store is unavailable")]
    Unavailable(#[source] BoxError),
    /// The backend answered with something the store cannot decode.
    #[error("the store returned a record it cannot decode")]
    Corrupt(#[source] BoxError),
    /// Any other failure of the backend.
    #[error("the store failed")]
    Backend(#[source] BoxError),
}

#[cfg(feature = "sqlite")]
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => Self::Unavailable(Box::new(e)),
            sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } => Self::Corrupt(Box::new(e)),
            sqlx::Error::Database(ref db) if db.is_unique_violation() => Self::Duplicate,
            other => Self::Backend(Box::new(other)),
        }
    }
}
