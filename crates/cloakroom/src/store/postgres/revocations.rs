//! [`RevocationStore`] on PostgreSQL: the deny-list, so that a revoked token stays revoked
//! after a restart, and a node that was away reloads what it missed.

use async_trait::async_trait;
use sqlx::Row as _;
use sqlx::postgres::PgRow;

use super::PostgresStore;
use super::error::{corrupt, db};
use crate::clock::Timestamp;
use crate::revocation::{Revocation, RevocationStore};
use crate::store::StoreError;

/// A row that names no kind of entry this build knows, or a user without a not-before.
#[derive(Debug, thiserror::Error)]
#[error("invalid deny-list row of kind {0:?}")]
struct BadRow(String);

/// Turns a row of `SELECT kind, subject, not_before, expires_at` into an entry.
fn decode(row: &PgRow) -> Result<Revocation, StoreError> {
    let kind: String = row.try_get(0).map_err(db)?;
    let subject: String = row.try_get(1).map_err(db)?;
    let not_before: Option<i64> = row.try_get(2).map_err(db)?;
    let expires_at = Timestamp::from_unix(row.try_get(3).map_err(db)?);
    Ok(match (kind.as_str(), not_before) {
        ("token", _) => Revocation::token(subject, expires_at),
        ("session", _) => Revocation::session(subject, expires_at),
        ("user", Some(nb)) => Revocation::user(subject, Timestamp::from_unix(nb), expires_at),
        _ => return Err(corrupt(BadRow(kind))),
    })
}

#[async_trait]
impl RevocationStore for PostgresStore {
    /// An upsert that only ever makes the entry stricter: the later expiry and not-before win,
    /// as [`Revocation::merge`] says (`greatest` skips NULLs). Two nodes revoking the same
    /// subject at once both land: the second waits on the row and merges into it.
    async fn add(&self, revocation: &Revocation) -> Result<(), StoreError> {
        let not_before = match revocation {
            Revocation::User { not_before, .. } => Some(not_before.unix()),
            Revocation::Token { .. } | Revocation::Session { .. } => None,
        };
        sqlx::query(
            "INSERT INTO revocations AS r (kind, subject, not_before, expires_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (kind, subject) DO UPDATE SET \
             not_before = greatest(r.not_before, excluded.not_before), \
             expires_at = greatest(r.expires_at, excluded.expires_at)",
        )
        .bind(revocation.kind().as_str())
        .bind(revocation.subject())
        .bind(not_before)
        .bind(revocation.expires_at().unix())
        .execute(self.pool())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn load_all(&self, now: Timestamp) -> Result<Vec<Revocation>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, subject, not_before, expires_at FROM revocations \
             WHERE expires_at > $1",
        )
        .bind(now.unix())
        .fetch_all(self.pool())
        .await
        .map_err(db)?;
        rows.iter().map(decode).collect()
    }

    async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM revocations WHERE expires_at <= $1")
            .bind(now.unix())
            .execute(self.pool())
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }
}
