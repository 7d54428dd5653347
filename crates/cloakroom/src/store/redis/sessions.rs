//! The [`SessionStore`] operations, each one command or one script.

use async_trait::async_trait;
use redis::Value;

use super::error::unexpected;
use super::keys::{member, parse_member};
use super::{MAX_TTL_MS, MIN_TTL_MS, PURGE_BATCH, RedisStore, Retry, codec};
use crate::clock::Timestamp;
use crate::session::{SessionData, SessionHandle, SessionKey, SessionRecord, SessionStore};
use crate::store::StoreError;

#[async_trait]
impl SessionStore for RedisStore {
    async fn create(&self, key: &SessionKey, record: &SessionRecord) -> Result<(), StoreError> {
        let fields = codec::encode(record)?;
        let expires_at = record.expires_at();
        let mut script = self.scripts.create.prepare_invoke();
        script
            .key(self.keys.record(key))
            .key(self.keys.user(&record.user.id))
            .key(self.keys.expiry())
            .arg(member(key))
            .arg(self.ttl_ms(expires_at))
            .arg(expires_at.unix());
        for (name, value) in codec::FIELDS.iter().zip(&fields) {
            script.arg(*name).arg(value);
        }
        match self.invoke_int(&script, Retry::Never, "create").await? {
            1 => Ok(()),
            0 => Err(StoreError::Duplicate),
            _ => Err(unexpected("create")),
        }
    }

    async fn load(&self, key: &SessionKey) -> Result<Option<SessionRecord>, StoreError> {
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.keys.record(key)).arg(&codec::FIELDS[..]);
        codec::decode(self.query(&cmd, Retry::Once).await?)
    }

    async fn touch(
        &self,
        key: &SessionKey,
        last_seen_at: Timestamp,
        idle_expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut script = self.scripts.touch.prepare_invoke();
        script
            .key(self.keys.record(key))
            .key(self.keys.expiry())
            .arg(member(key))
            .arg(last_seen_at.unix())
            .arg(idle_expires_at.unix())
            .arg(self.clock.now().unix())
            .arg(MIN_TTL_MS)
            .arg(MAX_TTL_MS)
            .arg(self.keys.user_prefix());
        Ok(self.invoke_int(&script, Retry::Once, "touch").await? == 1)
    }

    async fn save_data(
        &self,
        key: &SessionKey,
        expected_version: u64,
        data: &SessionData,
    ) -> Result<u64, StoreError> {
        let conflict = StoreError::Conflict {
            expected: expected_version,
        };
        // No version comes after the last one; no writer can win from it.
        let next = expected_version.checked_add(1).ok_or(conflict)?;
        let mut script = self.scripts.save_data.prepare_invoke();
        script
            .key(self.keys.record(key))
            .arg(expected_version)
            .arg(next)
            .arg(data.to_json());
        match self.invoke_int(&script, Retry::Never, "save_data").await? {
            1 => Ok(next),
            0 => Err(StoreError::Conflict {
                expected: expected_version,
            }),
            -1 => Err(StoreError::NotFound),
            _ => Err(unexpected("save_data")),
        }
    }

    async fn delete(&self, key: &SessionKey) -> Result<bool, StoreError> {
        let mut script = self.scripts.delete.prepare_invoke();
        script
            .key(self.keys.record(key))
            .key(self.keys.expiry())
            .arg(member(key))
            .arg(self.keys.user_prefix());
        Ok(self.invoke_int(&script, Retry::Never, "delete").await? == 1)
    }

    async fn delete_by_handle(
        &self,
        user_id: &str,
        handle: &SessionHandle,
    ) -> Result<bool, StoreError> {
        let mut script = self.scripts.delete_by_handle.prepare_invoke();
        script
            .key(self.keys.user(user_id))
            .key(self.keys.expiry())
            .arg(self.keys.record_prefix())
            .arg(user_id)
            .arg(handle.as_str());
        Ok(self
            .invoke_int(&script, Retry::Never, "delete_by_handle")
            .await?
            == 1)
    }

    async fn delete_user(&self, user_id: &str) -> Result<u64, StoreError> {
        let mut script = self.scripts.delete_user.prepare_invoke();
        script
            .key(self.keys.user(user_id))
            .key(self.keys.expiry())
            .arg(self.keys.record_prefix())
            .arg(user_id);
        let n = self
            .invoke_int(&script, Retry::Never, "delete_user")
            .await?;
        u64::try_from(n).map_err(|_| unexpected("delete_user"))
    }

    async fn list_user(
        &self,
        user_id: &str,
    ) -> Result<Vec<(SessionKey, SessionRecord)>, StoreError> {
        let mut script = self.scripts.list_user.prepare_invoke();
        script
            .key(self.keys.user(user_id))
            .key(self.keys.expiry())
            .arg(self.keys.record_prefix())
            .arg(user_id)
            .arg(&codec::FIELDS[..]);
        let Value::Array(flat) = self.invoke(&script, Retry::Once).await? else {
            return Err(unexpected("list_user"));
        };
        let per_session = 1 + codec::FIELDS.len();
        if flat.len() % per_session != 0 {
            return Err(unexpected("list_user"));
        }
        let mut out = Vec::with_capacity(flat.len() / per_session);
        let mut flat = flat.into_iter();
        while let Some(first) = flat.next() {
            let Value::BulkString(m) = first else {
                return Err(unexpected("list_user"));
            };
            let key = parse_member(&m).ok_or_else(|| unexpected("list_user"))?;
            let fields = flat.by_ref().take(codec::FIELDS.len()).collect();
            if let Some(record) = codec::decode_fields(fields)? {
                out.push((key, record));
            }
        }
        out.sort_by(|a, b| (a.1.created_at, &a.1.handle).cmp(&(b.1.created_at, &b.1.handle)));
        Ok(out)
    }

    async fn count_active(&self, now: Timestamp) -> Result<u64, StoreError> {
        // Active means ending strictly after `now`.
        let mut cmd = redis::cmd("ZCOUNT");
        cmd.arg(self.keys.expiry())
            .arg(format!("({}", now.unix()))
            .arg("+inf");
        match self.query(&cmd, Retry::Once).await? {
            Value::Int(n) => u64::try_from(n).map_err(|_| unexpected("count_active")),
            _ => Err(unexpected("count_active")),
        }
    }

    async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        let mut purged = 0u64;
        loop {
            let mut script = self.scripts.purge.prepare_invoke();
            script
                .key(self.keys.expiry())
                .arg(self.keys.record_prefix())
                .arg(self.keys.user_prefix())
                .arg(now.unix())
                .arg(PURGE_BATCH);
            let reply = self.invoke(&script, Retry::Never).await?;
            let (examined, deleted) = match reply {
                Value::Array(v) => match v.as_slice() {
                    [Value::Int(e), Value::Int(d)] => (*e, *d),
                    _ => return Err(unexpected("purge_expired")),
                },
                _ => return Err(unexpected("purge_expired")),
            };
            purged += u64::try_from(deleted).map_err(|_| unexpected("purge_expired"))?;
            if examined < PURGE_BATCH {
                return Ok(purged);
            }
        }
    }
}
