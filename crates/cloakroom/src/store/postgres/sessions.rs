//! [`SessionStore`] on PostgreSQL: one row per session, keyed by the 32-byte digest.

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::Row as _;
use sqlx::postgres::PgRow;

use super::error::{corrupt, db};
use super::{PostgresStore, to_i64};
use crate::clock::Timestamp;
use crate::session::{
    ClientInfo, SessionData, SessionHandle, SessionKey, SessionRecord, SessionStore, SessionUser,
};
use crate::store::StoreError;

/// Every column of a session, in the order [`decode`] reads them (`host` drops the `/32`
/// that an `inet` would print).
macro_rules! columns {
    () => {
        "key, handle, user_id, user_name, roles, created_at, last_seen_at, idle_expires_at, \
         absolute_expires_at, user_agent, host(ip), version, data"
    };
}
pub(super) use columns;

/// `SELECT` of [`columns!`] followed by `$rest`.
macro_rules! select {
    ($rest:literal) => {
        concat!("SELECT ", columns!(), " FROM sessions ", $rest)
    };
}

/// Turns a row of [`columns!`] into a session; anything unexpected is [`StoreError::Corrupt`].
pub(super) fn decode(row: &PgRow) -> Result<(SessionKey, SessionRecord), StoreError> {
    let key: &[u8] = row.try_get(0).map_err(db)?;
    let key = <[u8; 32]>::try_from(key).map_err(corrupt)?;
    let handle = SessionHandle::parse(row.try_get(1).map_err(db)?).map_err(corrupt)?;
    let ip = row
        .try_get::<Option<&str>, _>(10)
        .map_err(db)?
        .map(str::parse::<IpAddr>)
        .transpose()
        .map_err(corrupt)?;
    let version = u64::try_from(row.try_get::<i64, _>(11).map_err(db)?).map_err(corrupt)?;
    let data = SessionData::from_json(row.try_get(12).map_err(db)?).map_err(corrupt)?;
    let at = |i: usize| -> Result<Timestamp, StoreError> {
        Ok(Timestamp::from_unix(row.try_get(i).map_err(db)?))
    };
    let record = SessionRecord {
        handle,
        user: Arc::new(SessionUser {
            id: row.try_get(2).map_err(db)?,
            name: row.try_get(3).map_err(db)?,
            roles: row.try_get(4).map_err(db)?,
        }),
        created_at: at(5)?,
        last_seen_at: at(6)?,
        idle_expires_at: at(7)?,
        absolute_expires_at: at(8)?,
        client: ClientInfo {
            user_agent: row
                .try_get::<Option<&str>, _>(9)
                .map_err(db)?
                .map(Arc::from),
            ip,
        },
        version,
        data,
    };
    Ok((SessionKey::from_bytes(key), record))
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn create(&self, key: &SessionKey, record: &SessionRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (key, handle, user_id, user_name, roles, created_at, \
             last_seen_at, idle_expires_at, absolute_expires_at, user_agent, ip, version, data) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::inet, $12, $13)",
        )
        .bind(key.as_bytes().as_slice())
        .bind(record.handle.as_str())
        .bind(&record.user.id)
        .bind(&record.user.name)
        .bind(&record.user.roles)
        .bind(record.created_at.unix())
        .bind(record.last_seen_at.unix())
        .bind(record.idle_expires_at.unix())
        .bind(record.absolute_expires_at.unix())
        .bind(record.client.user_agent.as_deref())
        .bind(record.client.ip.map(|ip| ip.to_string()))
        .bind(to_i64(record.version)?)
        .bind(record.data.to_json())
        .execute(self.pool())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn load(&self, key: &SessionKey) -> Result<Option<SessionRecord>, StoreError> {
        let row = sqlx::query(select!("WHERE key = $1"))
            .bind(key.as_bytes().as_slice())
            .fetch_optional(self.pool())
            .await
            .map_err(db)?;
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
            "UPDATE sessions SET last_seen_at = $2, idle_expires_at = $3 WHERE key = $1",
        )
        .bind(key.as_bytes().as_slice())
        .bind(last_seen_at.unix())
        .bind(idle_expires_at.unix())
        .execute(self.pool())
        .await
        .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    /// One statement: the version check is in the `WHERE` of the `UPDATE`, so of two writers
    /// from one version the second waits for the first's row lock, then matches nothing. The
    /// `EXISTS` (same snapshot) tells a conflict from a missing session without a second trip.
    async fn save_data(
        &self,
        key: &SessionKey,
        expected_version: u64,
        data: &SessionData,
    ) -> Result<u64, StoreError> {
        // No stored version is past i64::MAX: such an expectation can only conflict or miss.
        let expected = i64::try_from(expected_version).unwrap_or(-1);
        let (written, exists): (Option<i64>, bool) = sqlx::query_as(
            "WITH written AS (UPDATE sessions SET data = $3, version = version + 1 \
             WHERE key = $1 AND version = $2 RETURNING version) \
             SELECT (SELECT version FROM written), \
             EXISTS (SELECT 1 FROM sessions WHERE key = $1)",
        )
        .bind(key.as_bytes().as_slice())
        .bind(expected)
        .bind(data.to_json())
        .fetch_one(self.pool())
        .await
        .map_err(db)?;
        match (written, exists) {
            (Some(version), _) => u64::try_from(version).map_err(corrupt),
            (None, true) => Err(StoreError::Conflict {
                expected: expected_version,
            }),
            (None, false) => Err(StoreError::NotFound),
        }
    }

    async fn delete(&self, key: &SessionKey) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE key = $1")
            .bind(key.as_bytes().as_slice())
            .execute(self.pool())
            .await
            .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_by_handle(
        &self,
        user_id: &str,
        handle: &SessionHandle,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE handle = $1 AND user_id = $2")
            .bind(handle.as_str())
            .bind(user_id)
            .execute(self.pool())
            .await
            .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_user(&self, user_id: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(self.pool())
            .await
            .map_err(db)?;
        Ok(done.rows_affected())
    }

    async fn list_user(
        &self,
        user_id: &str,
    ) -> Result<Vec<(SessionKey, SessionRecord)>, StoreError> {
        // Same order as the memory store: by start, ties broken by handle (bytewise: the
        // column's collation is "C").
        let rows = sqlx::query(select!("WHERE user_id = $1 ORDER BY created_at, handle"))
            .bind(user_id)
            .fetch_all(self.pool())
            .await
            .map_err(db)?;
        rows.iter().map(decode).collect()
    }

    async fn count_active(&self, now: Timestamp) -> Result<u64, StoreError> {
        // The expression matches the `sessions_by_expiry` index.
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sessions \
             WHERE least(idle_expires_at, absolute_expires_at) > $1",
        )
        .bind(now.unix())
        .fetch_one(self.pool())
        .await
        .map_err(db)?;
        u64::try_from(n).map_err(corrupt)
    }

    /// Also forgets the refresh families of sessions that have ended for good, in the same
    /// statement (a data-modifying `WITH` runs whether or not it is read).
    async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "WITH spent AS (DELETE FROM refresh_families WHERE until <= $1) \
             DELETE FROM sessions WHERE least(idle_expires_at, absolute_expires_at) <= $1",
        )
        .bind(now.unix())
        .execute(self.pool())
        .await
        .map_err(db)?;
        Ok(done.rows_affected())
    }
}
