//! [`RotatingStore`] for Redis: hybrid mode's refresh sessions, rotated by one script.

use async_trait::async_trait;
use redis::Value;

use super::error::unexpected;
use super::keys::member;
use super::{MAX_TTL_MS, MIN_TTL_MS, RedisStore, Retry, codec};
use crate::clock::Timestamp;
use crate::session::{RotatingStore, Rotation, SessionKey};
use crate::store::StoreError;

#[async_trait]
impl RotatingStore for RedisStore {
    /// One script, so that of two nodes rotating one key at once exactly one moves the
    /// session: the other finds the key spent. A spent key is forgotten when its session's
    /// absolute expiry passes (by `now` here, by its TTL in Redis).
    async fn rotate(
        &self,
        old: &SessionKey,
        new: &SessionKey,
        now: Timestamp,
    ) -> Result<Rotation, StoreError> {
        let mut script = self.scripts.rotate.prepare_invoke();
        script
            .key(self.keys.record(old))
            .key(self.keys.record(new))
            .key(self.keys.expiry())
            .key(self.keys.spent(old))
            .arg(member(old))
            .arg(member(new))
            .arg(now.unix())
            .arg(self.clock.now().unix())
            .arg(MIN_TTL_MS)
            .arg(MAX_TTL_MS)
            .arg(self.keys.user_prefix())
            .arg(self.keys.record_prefix())
            .arg(&codec::FIELDS[..]);
        // Never repeated: a rotation that was applied before the connection dropped would
        // come back as reuse, and end the session.
        let Value::Array(reply) = self.invoke(&script, Retry::Never).await? else {
            return Err(unexpected("rotate"));
        };
        let mut reply = reply.into_iter();
        match (reply.next(), reply.next(), reply.next()) {
            (Some(Value::Int(1)), Some(Value::Array(fields)), None) => {
                match codec::decode_fields(fields)? {
                    Some(record) => Ok(Rotation::Rotated(record)),
                    None => Err(unexpected("rotate")),
                }
            }
            (Some(Value::Int(2)), Some(Value::BulkString(user)), Some(Value::BulkString(h))) => {
                Ok(Rotation::Reused {
                    user_id: codec::text("u", user)?,
                    handle: codec::handle(&h)?,
                })
            }
            (Some(Value::Int(0)), None, None) => Ok(Rotation::Unknown),
            (Some(Value::Int(-1)), None, None) => Err(StoreError::Duplicate),
            _ => Err(unexpected("rotate")),
        }
    }
}
