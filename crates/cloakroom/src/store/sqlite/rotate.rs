//! [`RotatingStore`] on SQLite: hybrid mode's refresh sessions, rotated in one transaction.

use async_trait::async_trait;
use sqlx::Row as _;

use super::SqliteStore;
use super::sessions::decode;
use crate::clock::Timestamp;
use crate::session::{RotatingStore, Rotation, SessionHandle, SessionKey};
use crate::store::StoreError;

/// Moves the session and returns every column, in the order [`decode`] reads them.
const MOVE: &str = "UPDATE sessions SET key = ?2 WHERE key = ?1 \
     RETURNING key, handle, user_id, user_name, roles, created_at, last_seen_at, \
     idle_expires_at, absolute_expires_at, user_agent, ip, version, data";

#[async_trait]
impl RotatingStore for SqliteStore {
    /// One transaction on the one writer connection: the `UPDATE` takes SQLite's write lock
    /// before it matches anything, so of several rotations of one key (from this process or
    /// another) exactly one finds the session; the others find the key spent.
    async fn rotate(
        &self,
        old: &SessionKey,
        new: &SessionKey,
        _now: Timestamp,
    ) -> Result<Rotation, StoreError> {
        let mut tx = self.pool().begin().await?;
        let moved = sqlx::query(MOVE)
            .bind(old.as_bytes().as_slice())
            .bind(new.as_bytes().as_slice())
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = moved {
            let (_, record) = decode(&row)?;
            sqlx::query(
                "INSERT INTO spent_session_keys (key, user_id, handle, until) \
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .bind(old.as_bytes().as_slice())
            .bind(&record.user.id)
            .bind(record.handle.as_str())
            .bind(record.absolute_expires_at.unix())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(Rotation::Rotated(record));
        }
        let spent = sqlx::query("SELECT user_id, handle FROM spent_session_keys WHERE key = ?1")
            .bind(old.as_bytes().as_slice())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(spent) = spent else {
            // Nothing was written; dropping the transaction rolls it back.
            return Ok(Rotation::Unknown);
        };
        let user_id: String = spent.try_get(0)?;
        let handle = SessionHandle::parse(spent.try_get(1)?).map_err(super::corrupt)?;
        sqlx::query("DELETE FROM sessions WHERE handle = ?1 AND user_id = ?2")
            .bind(handle.as_str())
            .bind(&user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Rotation::Reused { user_id, handle })
    }
}

/// Forgets spent keys whose session has ended for good: part of the store's `purge_expired`.
pub(super) async fn purge_spent(store: &SqliteStore, now: Timestamp) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM spent_session_keys WHERE until <= ?1")
        .bind(now.unix())
        .execute(store.pool())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;
    use crate::session::{ClientInfo, SessionData, SessionRecord, SessionStore as _, SessionUser};

    #[tokio::test]
    async fn a_rotation_and_a_reuse_leave_the_file_consistent_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let store = SqliteStore::open(&path).await.unwrap();
        let t = Timestamp::from_unix(1_700_000_000);
        let record = SessionRecord {
            handle: SessionHandle::generate().unwrap(),
            user: SessionUser::new("u1", "one").into(),
            created_at: t,
            last_seen_at: t,
            idle_expires_at: t.saturating_add(std::time::Duration::from_secs(60)),
            absolute_expires_at: t.saturating_add(std::time::Duration::from_secs(60)),
            client: ClientInfo::new(Some("ua"), Some(IpAddr::from([127, 0, 0, 1]))),
            version: 0,
            data: SessionData::default(),
        };
        let key = || SessionKey::from_bytes(crate::random::bytes().unwrap());
        let (k1, k2, k3) = (key(), key(), key());
        store.create(&k1, &record).await.unwrap();
        assert_eq!(
            store.rotate(&k1, &k2, t).await.unwrap(),
            Rotation::Rotated(record.clone())
        );
        store.close().await;

        // The spent mark was committed with the move: a replay after a restart is reuse.
        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(store.load(&k2).await.unwrap(), Some(record.clone()));
        assert!(matches!(
            store.rotate(&k1, &k3, t).await.unwrap(),
            Rotation::Reused { .. }
        ));
        assert_eq!(store.load(&k2).await.unwrap(), None);
        // Rotating onto a key that is taken is refused, and changes nothing.
        let (k4, k5) = (key(), key());
        store
            .create(&k4, &record_with_new_handle(&record))
            .await
            .unwrap();
        store
            .create(&k5, &record_with_new_handle(&record))
            .await
            .unwrap();
        assert!(matches!(
            store.rotate(&k4, &k5, t).await,
            Err(StoreError::Duplicate)
        ));
        assert!(store.load(&k4).await.unwrap().is_some());
        assert_eq!(
            store
                .rotate(&k4, &key(), t)
                .await
                .ok()
                .map(|r| matches!(r, Rotation::Rotated(_))),
            Some(true)
        );
    }

    fn record_with_new_handle(r: &SessionRecord) -> SessionRecord {
        SessionRecord {
            handle: SessionHandle::generate().unwrap(),
            ..r.clone()
        }
    }
}
