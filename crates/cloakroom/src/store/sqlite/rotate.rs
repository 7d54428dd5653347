//! [`RotatingStore`] on SQLite: hybrid mode's refresh sessions, rotated in one transaction.

use async_trait::async_trait;
use sqlx::Row as _;

use super::SqliteStore;
use super::sessions::decode;
use crate::clock::Timestamp;
use crate::session::{
    RotatingStore, Rotation, RotationNonce, RotationRequest, SessionHandle, SessionKey,
};
use crate::store::StoreError;

/// The columns [`decode`] reads, in its order.
const COLUMNS: &str = "key, handle, user_id, user_name, roles, created_at, last_seen_at, \
     idle_expires_at, absolute_expires_at, user_agent, ip, version, data";

/// Records the rotation in the family's one row, replacing the last one's.
const RECORD: &str = "INSERT INTO refresh_families \
     (family, current_key, spent_key, spent_at, nonce, user_id, handle, until) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
     ON CONFLICT (family) DO UPDATE SET current_key = excluded.current_key, \
     spent_key = excluded.spent_key, spent_at = excluded.spent_at, nonce = excluded.nonce, \
     user_id = excluded.user_id, handle = excluded.handle, until = excluded.until";

fn key_of(bytes: &[u8]) -> Result<SessionKey, StoreError> {
    <[u8; 32]>::try_from(bytes)
        .map(SessionKey::from_bytes)
        .map_err(super::corrupt)
}

#[async_trait]
impl RotatingStore for SqliteStore {
    /// One transaction on the one writer connection: the `UPDATE` takes SQLite's write lock
    /// before it matches anything, so of several rotations of one key (from this process or
    /// another) exactly one finds the session; the others then read the family row it wrote.
    async fn rotate(&self, request: &RotationRequest) -> Result<Rotation, StoreError> {
        let (old, new) = (request.old.as_bytes(), request.new.as_bytes());
        let mut tx = self.pool().begin().await?;
        let moved = sqlx::query(&format!(
            "UPDATE sessions SET key = ?2 WHERE key = ?1 RETURNING {COLUMNS}"
        ))
        .bind(old.as_slice())
        .bind(new.as_slice())
        .fetch_optional(&mut *tx)
        .await?;
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
                .await?;
            tx.commit().await?;
            return Ok(Rotation::Rotated(record));
        }
        let family = sqlx::query(
            "SELECT current_key, spent_key, spent_at, nonce, user_id, handle \
             FROM refresh_families WHERE family = ?1",
        )
        .bind(request.family.as_bytes().as_slice())
        .fetch_optional(&mut *tx)
        .await?;
        // Nothing is written below until reuse: dropping the transaction rolls it back.
        let Some(family) = family else {
            return Ok(Rotation::Unknown);
        };
        let current = key_of(family.try_get(0)?)?;
        let spent = key_of(family.try_get(1)?)?;
        let spent_at = Timestamp::from_unix(family.try_get(2)?);
        let nonce =
            RotationNonce::from_slice(family.try_get(3)?).ok_or_else(|| super::corrupt("nonce"))?;
        let recent = spent == request.old && request.within_interval(spent_at);
        let session = sqlx::query(&format!("SELECT {COLUMNS} FROM sessions WHERE key = ?1"))
            .bind(current.as_bytes().as_slice())
            .fetch_optional(&mut *tx)
            .await?;
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
        let user_id: String = family.try_get(4)?;
        let handle = SessionHandle::parse(family.try_get(5)?).map_err(super::corrupt)?;
        sqlx::query("DELETE FROM sessions WHERE handle = ?1 AND user_id = ?2")
            .bind(handle.as_str())
            .bind(&user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Rotation::Reused { user_id, handle })
    }
}

/// Forgets the families of sessions that have ended for good: part of the store's
/// `purge_expired`.
pub(super) async fn purge_spent(store: &SqliteStore, now: Timestamp) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM refresh_families WHERE until <= ?1")
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
            store.rotate(&req(k1, k2, t)).await.unwrap(),
            Rotation::Rotated(record.clone())
        );
        store.close().await;

        // The spent mark was committed with the move: a replay after a restart is reuse.
        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(store.load(&k2).await.unwrap(), Some(record.clone()));
        assert!(matches!(
            store.rotate(&req(k1, k3, t)).await.unwrap(),
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
            store.rotate(&req(k4, k5, t)).await,
            Err(StoreError::Duplicate)
        ));
        assert!(store.load(&k4).await.unwrap().is_some());
        assert_eq!(
            store
                .rotate(&req(k4, key(), t))
                .await
                .ok()
                .map(|r| matches!(r, Rotation::Rotated(_))),
            Some(true)
        );
    }

    fn req(old: SessionKey, new: SessionKey, now: Timestamp) -> RotationRequest {
        RotationRequest {
            old,
            family: crate::session::FamilyKey::from_bytes([9; 32]),
            new,
            nonce: RotationNonce::from_bytes([0; 16]),
            now,
            reuse_interval: std::time::Duration::ZERO,
        }
    }

    fn record_with_new_handle(r: &SessionRecord) -> SessionRecord {
        SessionRecord {
            handle: SessionHandle::generate().unwrap(),
            ..r.clone()
        }
    }
}
