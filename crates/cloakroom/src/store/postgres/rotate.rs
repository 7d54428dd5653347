//! [`RotatingStore`] on PostgreSQL: hybrid mode's refresh sessions, rotated in one
//! transaction whose row lock decides the winner.

use async_trait::async_trait;
use sqlx::Row as _;

use super::PostgresStore;
use super::error::{corrupt, db};
use super::sessions::{columns, decode};
use crate::clock::Timestamp;
use crate::session::{RotatingStore, Rotation, SessionHandle, SessionKey};
use crate::store::StoreError;

/// Moves the session and returns every column, in the order [`decode`] reads them.
const MOVE: &str = concat!(
    "UPDATE sessions SET key = $2 WHERE key = $1 RETURNING ",
    columns!()
);

#[async_trait]
impl RotatingStore for PostgresStore {
    /// One transaction (READ COMMITTED). Concurrent rotations of one key, from any node, queue
    /// on the session's row lock; the first moves it. Each later one then re-reads the row,
    /// finds its key changed, and matches nothing; its next statement sees the spent mark the
    /// winner committed with the move, so it ends the session and reports reuse.
    async fn rotate(
        &self,
        old: &SessionKey,
        new: &SessionKey,
        _now: Timestamp,
    ) -> Result<Rotation, StoreError> {
        let mut tx = self.pool().begin().await.map_err(db)?;
        let moved = sqlx::query(MOVE)
            .bind(old.as_bytes().as_slice())
            .bind(new.as_bytes().as_slice())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if let Some(row) = moved {
            let (_, record) = decode(&row)?;
            sqlx::query(
                "INSERT INTO spent_session_keys (key, user_id, handle, until) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(old.as_bytes().as_slice())
            .bind(&record.user.id)
            .bind(record.handle.as_str())
            .bind(record.absolute_expires_at.unix())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            tx.commit().await.map_err(db)?;
            return Ok(Rotation::Rotated(record));
        }
        let spent = sqlx::query("SELECT user_id, handle FROM spent_session_keys WHERE key = $1")
            .bind(old.as_bytes().as_slice())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        let Some(spent) = spent else {
            // Nothing was written; dropping the transaction rolls it back.
            return Ok(Rotation::Unknown);
        };
        let user_id: String = spent.try_get(0).map_err(db)?;
        let handle = SessionHandle::parse(spent.try_get(1).map_err(db)?).map_err(corrupt)?;
        sqlx::query("DELETE FROM sessions WHERE handle = $1 AND user_id = $2")
            .bind(handle.as_str())
            .bind(&user_id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Rotation::Reused { user_id, handle })
    }
}
