//! [`SessionStore`] on SQLite: one row per session, keyed by the 32-byte digest.

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::Row as _;
use sqlx::sqlite::SqliteRow;

use super::{SqliteStore, corrupt, to_i64};
use crate::clock::Timestamp;
use crate::session::{
    ClientInfo, SessionData, SessionHandle, SessionKey, SessionRecord, SessionStore, SessionUser,
};
use crate::store::StoreError;

/// `SELECT` of every column, in the order [`decode`] reads them, followed by `$rest`.
macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT key, handle, user_id, user_name, roles, created_at, last_seen_at, \
             idle_expires_at, absolute_expires_at, user_agent, ip, version, data \
             FROM sessions ",
            $rest
        )
    };
}

/// Turns a row of [`select!`] into a session; anything unexpected is [`StoreError::Corrupt`].
pub(super) fn decode(row: &SqliteRow) -> Result<(SessionKey, SessionRecord), StoreError> {
    let key: &[u8] = row.try_get(0)?;
    let key = <[u8; 32]>::try_from(key).map_err(corrupt)?;
    let handle = SessionHandle::parse(row.try_get(1)?).map_err(corrupt)?;
    let roles: Vec<String> = serde_json::from_str(row.try_get(4)?).map_err(corrupt)?;
    let ip = row
        .try_get::<Option<&str>, _>(10)?
        .map(str::parse::<IpAddr>)
        .transpose()
        .map_err(corrupt)?;
    let version = u64::try_from(row.try_get::<i64, _>(11)?).map_err(corrupt)?;
    let data = SessionData::from_json(row.try_get(12)?).map_err(corrupt)?;
    let record = SessionRecord {
        handle,
        user: Arc::new(SessionUser {
            id: row.try_get(2)?,
            name: row.try_get(3)?,
            roles,
        }),
        created_at: Timestamp::from_unix(row.try_get(5)?),
        last_seen_at: Timestamp::from_unix(row.try_get(6)?),
        idle_expires_at: Timestamp::from_unix(row.try_get(7)?),
        absolute_expires_at: Timestamp::from_unix(row.try_get(8)?),
        client: ClientInfo {
            user_agent: row.try_get::<Option<&str>, _>(9)?.map(Arc::from),
            ip,
        },
        version,
        data,
    };
    Ok((SessionKey::from_bytes(key), record))
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create(&self, key: &SessionKey, record: &SessionRecord) -> Result<(), StoreError> {
        let roles = serde_json::to_string(&record.user.roles).map_err(|e| {
            // A list of strings always serializes; keep the cause if it ever does not.
            StoreError::Backend(Box::new(e))
        })?;
        sqlx::query(
            "INSERT INTO sessions (key, handle, user_id, user_name, roles, created_at, \
             last_seen_at, idle_expires_at, absolute_expires_at, user_agent, ip, version, data) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )
        .bind(key.as_bytes().as_slice())
        .bind(record.handle.as_str())
        .bind(&record.user.id)
        .bind(&record.user.name)
        .bind(roles)
        .bind(record.created_at.unix())
        .bind(record.last_seen_at.unix())
        .bind(record.idle_expires_at.unix())
        .bind(record.absolute_expires_at.unix())
        .bind(record.client.user_agent.as_deref())
        .bind(record.client.ip.map(|ip| ip.to_string()))
        .bind(to_i64(record.version)?)
        .bind(record.data.to_json())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn load(&self, key: &SessionKey) -> Result<Option<SessionRecord>, StoreError> {
        let row = read!(
            self,
            sqlx::query(select!("WHERE key = ?1")).bind(key.as_bytes().as_slice()),
            fetch_optional
        )?;
        row.map(|row| decode(&row).map(|(_, record)| record))
            .transpose()
    }

    async fn touch(
        &self,
        key: &SessionKey,
        last_seen_at: Timestamp,
        idle_expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET last_seen_at = ?2, idle_expires_at = ?3 WHERE key = ?1",
        )
        .bind(key.as_bytes().as_slice())
        .bind(last_seen_at.unix())
        .bind(idle_expires_at.unix())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn save_data(
        &self,
        key: &SessionKey,
        expected_version: u64,
        data: &SessionData,
    ) -> Result<u64, StoreError> {
        // The version check is in the WHERE clause of the one UPDATE, so two writers from the
        // same version cannot both match.
        let written = match i64::try_from(expected_version) {
            Ok(expected) => {
                sqlx::query_scalar::<_, i64>(
                    "UPDATE sessions SET data = ?3, version = version + 1 \
                     WHERE key = ?1 AND version = ?2 RETURNING version",
                )
                .bind(key.as_bytes().as_slice())
                .bind(expected)
                .bind(data.to_json())
                .fetch_optional(self.pool())
                .await?
            }
            // No stored version is that large: nothing can match.
            Err(_) => None,
        };
        if let Some(version) = written {
            return u64::try_from(version).map_err(corrupt);
        }
        // Nothing matched: either the session is gone or its version moved on.
        let exists = read!(
            self,
            sqlx::query("SELECT 1 FROM sessions WHERE key = ?1").bind(key.as_bytes().as_slice()),
            fetch_optional
        )?
        .is_some();
        Err(if exists {
            StoreError::Conflict {
                expected: expected_version,
            }
        } else {
            StoreError::NotFound
        })
    }

    async fn delete(&self, key: &SessionKey) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE key = ?1")
            .bind(key.as_bytes().as_slice())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_by_handle(
        &self,
        user_id: &str,
        handle: &SessionHandle,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE handle = ?1 AND user_id = ?2")
            .bind(handle.as_str())
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_user(&self, user_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = ?1")
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    async fn list_user(
        &self,
        user_id: &str,
    ) -> Result<Vec<(SessionKey, SessionRecord)>, StoreError> {
        // Same order as the memory store: by start, ties broken by handle (bytewise).
        let rows = read!(
            self,
            sqlx::query(select!("WHERE user_id = ?1 ORDER BY created_at, handle")).bind(user_id),
            fetch_all
        )?;
        rows.iter().map(decode).collect()
    }

    async fn count_active(&self, now: Timestamp) -> Result<u64, StoreError> {
        // The expression matches the `sessions_by_expiry` index.
        let n: i64 = read!(
            self,
            sqlx::query_scalar(
                "SELECT count(*) FROM sessions \
                 WHERE min(idle_expires_at, absolute_expires_at) > ?1",
            )
            .bind(now.unix()),
            fetch_one
        )?;
        u64::try_from(n).map_err(corrupt)
    }

    async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM sessions WHERE min(idle_expires_at, absolute_expires_at) <= ?1",
        )
        .bind(now.unix())
        .execute(self.pool())
        .await?;
        super::rotate::purge_spent(self, now).await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store_with_one() -> (tempfile::TempDir, SqliteStore, SessionKey) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("s.db")).await.unwrap();
        let k = SessionKey::from_bytes(crate::random::bytes().unwrap());
        let t = Timestamp::from_unix(1_700_000_000);
        let record = SessionRecord {
            handle: SessionHandle::generate().unwrap(),
            user: SessionUser::new("u1", "one").with_roles(["r"]).into(),
            created_at: t,
            last_seen_at: t,
            idle_expires_at: t,
            absolute_expires_at: t,
            client: ClientInfo::new(Some("ua"), Some(IpAddr::from([127, 0, 0, 1]))),
            version: 0,
            data: SessionData::default(),
        };
        store.create(&k, &record).await.unwrap();
        (dir, store, k)
    }

    #[tokio::test]
    async fn undecodable_rows_are_corrupt_not_panics() {
        for damage in [
            "UPDATE sessions SET roles = 'not json'",
            "UPDATE sessions SET roles = 42",
            "UPDATE sessions SET ip = 'not an address'",
            "UPDATE sessions SET data = '[1, 2]'",
            "UPDATE sessions SET handle = '../etc'",
            "UPDATE sessions SET created_at = 'yesterday'",
        ] {
            let (_dir, store, k) = store_with_one().await;
            sqlx::query(damage).execute(store.pool()).await.unwrap();
            let loaded = store.load(&k).await;
            assert!(
                matches!(loaded, Err(StoreError::Corrupt(_))),
                "{damage}: {loaded:?}"
            );
            let listed = store.list_user("u1").await;
            assert!(
                matches!(listed, Err(StoreError::Corrupt(_))),
                "{damage}: {listed:?}"
            );
        }
    }

    #[tokio::test]
    async fn the_schema_refuses_malformed_keys() {
        let (_dir, store, _) = store_with_one().await;
        let short = sqlx::query("UPDATE sessions SET key = x'0102'")
            .execute(store.pool())
            .await;
        assert!(short.is_err());
    }

    #[tokio::test]
    async fn lookups_and_purges_use_the_indexes() {
        let (_dir, store, _) = store_with_one().await;
        for (sql, index) in [
            (select!("WHERE key = ?1"), "sqlite_autoindex_sessions_1"),
            (
                select!("WHERE user_id = ?1 ORDER BY created_at, handle"),
                "sessions_by_user",
            ),
            (
                "SELECT count(*) FROM sessions WHERE min(idle_expires_at, absolute_expires_at) > ?1",
                "sessions_by_expiry",
            ),
        ] {
            let plan: Vec<String> =
                sqlx::query_as::<_, (i64, i64, i64, String)>(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .bind(0)
                    .fetch_all(store.pool())
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|(_, _, _, detail)| detail)
                    .collect();
            assert!(plan.iter().any(|d| d.contains(index)), "{sql}: {plan:?}");
            assert!(
                !plan.iter().any(|d| d.contains("TEMP B-TREE")),
                "{sql}: {plan:?}"
            );
        }
    }
}
