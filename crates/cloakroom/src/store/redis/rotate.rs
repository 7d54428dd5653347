//! [`RotatingStore`] for Redis: hybrid mode's refresh sessions, rotated by one script.

use async_trait::async_trait;
use redis::Value;

use super::error::unexpected;
use super::keys::{member, parse_member};
use super::{MAX_TTL_MS, MIN_TTL_MS, RedisStore, Retry, codec};
use crate::session::{RotatingStore, Rotation, RotationNonce, RotationRequest};
use crate::store::StoreError;

#[async_trait]
impl RotatingStore for RedisStore {
    /// One script, so that of two nodes rotating one key at once exactly one moves the
    /// session: the other finds the family it wrote. A family is forgotten when its session's
    /// absolute expiry passes (by `now` here, by its TTL in Redis).
    async fn rotate(&self, request: &RotationRequest) -> Result<Rotation, StoreError> {
        let RotationRequest { old, new, .. } = request;
        let mut script = self.scripts.rotate.prepare_invoke();
        script
            .key(self.keys.record(old))
            .key(self.keys.record(new))
            .key(self.keys.expiry())
            .key(self.keys.family(&request.family))
            .arg(member(old))
            .arg(member(new))
            .arg(request.now.unix())
            .arg(self.clock.now().unix())
            .arg(MIN_TTL_MS)
            .arg(MAX_TTL_MS)
            .arg(self.keys.user_prefix())
            .arg(self.keys.record_prefix())
            .arg(request.nonce.as_bytes().as_slice())
            .arg(request.reuse_interval.as_secs())
            .arg(&codec::FIELDS[..]);
        // Never repeated: a rotation that was applied before the connection dropped would
        // come back as reuse, and end the session.
        let Value::Array(reply) = self.invoke(&script, Retry::Never).await? else {
            return Err(unexpected("rotate"));
        };
        if let Some(Value::Int(3)) = reply.first() {
            return recent(reply);
        }
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

/// The `{3, fields, current member, nonce}` reply: the just-spent key within the interval.
fn recent(reply: Vec<Value>) -> Result<Rotation, StoreError> {
    let mut reply = reply.into_iter().skip(1);
    match (reply.next(), reply.next(), reply.next(), reply.next()) {
        (
            Some(Value::Array(fields)),
            Some(Value::BulkString(current)),
            Some(Value::BulkString(nonce)),
            None,
        ) => {
            let session = codec::decode_fields(fields)?.ok_or_else(|| unexpected("rotate"))?;
            let current = parse_member(&current).ok_or_else(|| unexpected("rotate"))?;
            let nonce = RotationNonce::from_slice(&nonce).ok_or_else(|| unexpected("rotate"))?;
            Ok(Rotation::Recent {
                session,
                current,
                nonce,
            })
        }
        _ => Err(unexpected("rotate")),
    }
}
