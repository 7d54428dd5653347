//! sqlx's errors as [`StoreError`]s, read the PostgreSQL way.
//!
//! Kept here rather than relying on the crate's `From<sqlx::Error>` (which exists only with
//! feature `sqlite`): a server can also be out of reach through an error *response* (shutting
//! down, starting up, out of connection slots), which SQLite never sends.

use crate::store::{BoxError, StoreError};

/// Classifies a sqlx error, keeping it as the cause.
pub(super) fn db(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(Box::new(e)),
        sqlx::Error::Decode(_) | sqlx::Error::ColumnDecode { .. } => {
            StoreError::Corrupt(Box::new(e))
        }
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Duplicate,
        sqlx::Error::Database(d) if d.code().is_some_and(|c| out_of_reach(&c)) => {
            StoreError::Unavailable(Box::new(e))
        }
        _ => StoreError::Backend(Box::new(e)),
    }
}

/// SQLSTATEs that say "try again later" rather than "this request is wrong": connection
/// exceptions (class 08), too many connections, and a server shutting down or starting up.
fn out_of_reach(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "53300" | "57P01" | "57P02" | "57P03")
}

/// A migration that failed: a database error inside it is classified like any other.
pub(super) fn migrate(e: sqlx::migrate::MigrateError) -> StoreError {
    match e {
        sqlx::migrate::MigrateError::Execute(e) => db(e),
        other => StoreError::Backend(Box::new(other)),
    }
}

/// A setting that cannot work (a bad URL, a bad schema name).
pub(super) fn config(message: String) -> StoreError {
    StoreError::Backend(Box::new(sqlx::Error::Configuration(message.into())))
}

/// A value read back that the store cannot turn into its type.
pub(super) fn corrupt(e: impl Into<BoxError>) -> StoreError {
    StoreError::Corrupt(e.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_trouble_is_unavailable() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        for e in [
            sqlx::Error::Io(refused),
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
        ] {
            assert!(matches!(db(e), StoreError::Unavailable(_)));
        }
        for code in ["08006", "08001", "57P01", "57P03", "53300"] {
            assert!(out_of_reach(code), "{code}");
        }
        for code in ["23505", "42P01", "40001", "28P01"] {
            assert!(!out_of_reach(code), "{code}");
        }
        assert!(matches!(
            db(sqlx::Error::RowNotFound),
            StoreError::Backend(_)
        ));
    }
}
