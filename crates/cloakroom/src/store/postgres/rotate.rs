//! [`RotatingStore`] on PostgreSQL: hybrid mode's refresh sessions, rotated in one
//! transaction whose row lock decides the winner.

use async_trait::async_trait;
use sqlx::Row as _;

use super::PostgresStore;
use super::error::{corrupt, db};
use super::sessions::{columns, decode};
use crate::clock::Timestamp;
use crate::session::{
    RotatingStore, Rotation, RotationNonce, RotationRequest, SessionHandle, SessionKey,
};
use crate::store::StoreError;

/// Moves the session and returns every column, in the order [`decode`] reads them.
const MOVE: &str = concat!(
    "UPDATE sessions SET key = $2 WHERE key = $1 RETURNING ",
    columns!()
);

/// The session under a key, every column.
const LOAD: &str = concat!("SELECT ", columns!(), " FROM sessions WHERE key = $1");

/// Records the rotation in the family's one row, replacing the last one's.
const RECORD: &str = "INSERT INTO refresh_families \
     (family, current_key, spent_key, spent_at, nonce, user_id, handle, until) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
     ON CONFLICT (family) DO UPDATE SET current_key = excluded.current_key, \
     spent_key = excluded.spent_key, spent_at = excluded.spent_at, nonce = excluded.nonce, \
     user_id = excluded.user_id, handle = excluded.handle, until = excluded.until";

fn key_of(bytes: &[u8]) -> Result<SessionKey, StoreError> {
    <[u8; 32]>::try_from(bytes)
        .map(SessionKey::from_bytes)
        .map_err(corrupt)
}

#[async_trait]
impl RotatingStore for PostgresStore {
    /// One transaction (READ COMMITTED). Concurrent rotations of one key, from any node, queue
    /// on the session's row lock; the first moves it. Each later one then re-reads the row,
    /// finds its key changed, and matches nothing; its next statement sees the family row the
    /// winner committed with the move: the same successor within the reuse interval, reuse
    /// otherwise.
    async fn rotate(&self, request: &RotationRequest) -> Result<Rotation, StoreError> {
        let (old, new) = (request.old.as_bytes(), request.new.as_bytes());
        let mut tx = self.pool().begin().await.map_err(db)?;
        let moved = sqlx::query(MOVE)
            .bind(old.as_slice())
            .bind(new.as_slice())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if let Some(row) = moved {
            let (_, record) = decode(&row)?;
            sqlx::query(RECORD)
                .bind(request.family.as_bytes().as_slice())
                .bind(new.as_slice())
                .bind(old.as_slice())
                .bind(request.now.unix())
                .bind(request.nonce.as_bytes().as_slice())
                .bind(&record.user.id)
                .bind(record.handle.as_str())
                .bind(record.absolute_expires_at.unix())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            tx.commit().await.map_err(db)?;
            return Ok(Rotation::Rotated(record));
        }
        let family = sqlx::query(
            "SELECT current_key, spent_key, spent_at, nonce, user_id, handle \
             FROM refresh_families WHERE family = $1",
        )
        .bind(request.family.as_bytes().as_slice())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        // Nothing is written below until reuse: dropping the transaction rolls it back.
        let Some(family) = family else {
            return Ok(Rotation::Unknown);
        };
        let current = key_of(family.try_get(0).map_err(db)?)?;
        let spent = key_of(family.try_get(1).map_err(db)?)?;
        let spent_at = Timestamp::from_unix(family.try_get(2).map_err(db)?);
        let nonce = RotationNonce::from_slice(family.try_get(3).map_err(db)?)
            .ok_or_else(|| corrupt("nonce"))?;
        let recent = spent == request.old && request.within_interval(spent_at);
        let session = sqlx::query(LOAD)
            .bind(current.as_bytes().as_slice())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        match session {
            Some(row) if recent => {
                let (_, session) = decode(&row)?;
                return Ok(Rotation::Recent {
                    session,
                    current,
                    nonce,
                });
            }
            // The family's session ended (signed out, expired): nothing left to protect.
            None if recent || current == request.old => return Ok(Rotation::Unknown),
            _ => {}
        }
        let user_id: String = family.try_get(4).map_err(db)?;
        let handle = SessionHandle::parse(family.try_get(5).map_err(db)?).map_err(corrupt)?;
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
