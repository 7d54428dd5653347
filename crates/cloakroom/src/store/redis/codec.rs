//! How a session is laid out in its Redis hash.
//!
//! The parts that scripts read or change have a field each, as plain text, so that no script
//! has to decode JSON (Redis's Lua `cjson` would turn big integers into floats and `[]` into
//! `{}` in the free-form data):
//!
//! | field | holds |
//! |---|---|
//! | `u` | the user ID |
//! | `h` | the public handle |
//! | `r` | the rest, compact JSON: user name, roles, creation time, client |
//! | `ls`, `ie`, `ae` | last seen, idle expiry, absolute expiry (Unix seconds) |
//! | `v` | the data version |
//! | `d` | the data, JSON |

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use redis::Value;
use serde::de::IntoDeserializer as _;
use serde::de::value::{Error as ValueError, StrDeserializer};
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::clock::Timestamp;
use crate::session::{ClientInfo, SessionData, SessionHandle, SessionRecord, SessionUser};

/// The hash fields, in the order that `HMGET` asks for them and [`decode`] reads them.
/// Scripts rely on `u` being first.
pub(super) const FIELDS: [&str; 8] = ["u", "h", "r", "ls", "ie", "ae", "v", "d"];

/// A field that is missing or does not parse.
#[derive(Debug, thiserror::Error)]
#[error("session field `{field}` {problem}")]
pub(super) struct BadField {
    field: &'static str,
    problem: &'static str,
}

fn corrupt(field: &'static str, problem: &'static str) -> StoreError {
    StoreError::Corrupt(Box::new(BadField { field, problem }))
}

/// The part of a record that no script looks into.
#[derive(Serialize, Deserialize)]
struct Rest<'a> {
    n: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "<[String]>::is_empty")]
    ro: Cow<'a, [String]>,
    c: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ua: Option<Cow<'a, str>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ip: Option<IpAddr>,
}

/// The field values of `record`, in the order of [`FIELDS`].
pub(super) fn encode(record: &SessionRecord) -> Result<[String; 8], StoreError> {
    let rest = Rest {
        n: Cow::Borrowed(&record.user.name),
        ro: Cow::Borrowed(&record.user.roles),
        c: record.created_at,
        ua: record.client.user_agent.as_deref().map(Cow::Borrowed),
        ip: record.client.ip,
    };
    let rest = serde_json::to_string(&rest).map_err(|e| StoreError::Backend(Box::new(e)))?;
    Ok([
        record.user.id.clone(),
        record.handle.as_str().to_owned(),
        rest,
        record.last_seen_at.unix().to_string(),
        record.idle_expires_at.unix().to_string(),
        record.absolute_expires_at.unix().to_string(),
        record.version.to_string(),
        record.data.to_json(),
    ])
}

/// Reads the answer to `HMGET key FIELDS…`: `None` when the hash does not exist.
pub(super) fn decode(reply: Value) -> Result<Option<SessionRecord>, StoreError> {
    match reply {
        Value::Array(values) => decode_fields(values),
        _ => Err(corrupt("*", "is not an array of fields")),
    }
}

/// Reads the values of [`FIELDS`], in order: `None` when all are missing.
pub(super) fn decode_fields(values: Vec<Value>) -> Result<Option<SessionRecord>, StoreError> {
    if values.len() != FIELDS.len() {
        return Err(corrupt("*", "has the wrong number of fields"));
    }
    if values.iter().all(|v| matches!(v, Value::Nil)) {
        return Ok(None);
    }
    let mut values = values.into_iter();
    // The length was checked above, so every `next` below yields a value.
    let mut field = |name: &'static str| match values.next() {
        Some(Value::BulkString(bytes)) => Ok(bytes),
        Some(Value::SimpleString(text)) => Ok(text.into_bytes()),
        _ => Err(corrupt(name, "is missing")),
    };
    let user_id = text("u", field("u")?)?;
    let handle = handle(&field("h")?)?;
    let rest: Rest<'static> =
        serde_json::from_slice(&field("r")?).map_err(|e| StoreError::Corrupt(Box::new(e)))?;
    let last_seen_at = timestamp("ls", &field("ls")?)?;
    let idle_expires_at = timestamp("ie", &field("ie")?)?;
    let absolute_expires_at = timestamp("ae", &field("ae")?)?;
    let version = number::<u64>("v", &field("v")?)?;
    let data: SessionData =
        serde_json::from_slice(&field("d")?).map_err(|e| StoreError::Corrupt(Box::new(e)))?;
    Ok(Some(SessionRecord {
        handle,
        user: Arc::new(SessionUser {
            id: user_id,
            name: rest.n.into_owned(),
            roles: rest.ro.into_owned(),
        }),
        created_at: rest.c,
        last_seen_at,
        idle_expires_at,
        absolute_expires_at,
        client: ClientInfo {
            user_agent: rest.ua.map(Arc::from),
            ip: rest.ip,
        },
        version,
        data,
    }))
}

pub(super) fn text(name: &'static str, bytes: Vec<u8>) -> Result<String, StoreError> {
    String::from_utf8(bytes).map_err(|_| corrupt(name, "is not UTF-8"))
}

/// Handles are read back through serde, as every store does, so a record comes back exactly as
/// it was stored.
pub(super) fn handle(bytes: &[u8]) -> Result<SessionHandle, StoreError> {
    let text = std::str::from_utf8(bytes).map_err(|_| corrupt("h", "is not UTF-8"))?;
    let de: StrDeserializer<'_, ValueError> = text.into_deserializer();
    SessionHandle::deserialize(de).map_err(|_| corrupt("h", "is not a handle"))
}

fn number<T: std::str::FromStr>(name: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| corrupt(name, "is not a number"))
}

fn timestamp(name: &'static str, bytes: &[u8]) -> Result<Timestamp, StoreError> {
    number::<i64>(name, bytes).map(Timestamp::from_unix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SessionRecord {
        let t = Timestamp::from_unix(1_700_000_000);
        let mut data = SessionData::default();
        data.insert("big", u64::MAX).unwrap();
        data.insert("empty", Vec::<u8>::new()).unwrap();
        SessionRecord {
            handle: SessionHandle::generate().unwrap(),
            user: Arc::new(SessionUser::new("u:1", "Ada").with_roles(["admin"])),
            created_at: t,
            last_seen_at: t,
            idle_expires_at: Timestamp::from_unix(1_700_001_800),
            absolute_expires_at: Timestamp::from_unix(i64::MAX),
            client: ClientInfo::new(Some("curl/8"), Some("::1".parse().unwrap())),
            version: 7,
            data,
        }
    }

    fn as_reply(fields: [String; 8]) -> Value {
        Value::Array(
            fields
                .into_iter()
                .map(|f| Value::BulkString(f.into_bytes()))
                .collect(),
        )
    }

    #[test]
    fn round_trips_exactly() {
        let r = sample();
        assert_eq!(decode(as_reply(encode(&r).unwrap())).unwrap(), Some(r));
    }

    #[test]
    fn rest_is_compact() {
        let mut r = sample();
        r.client = ClientInfo::default();
        Arc::make_mut(&mut r.user).roles.clear();
        assert_eq!(encode(&r).unwrap()[2], r#"{"n":"Ada","c":1700000000}"#);
    }

    #[test]
    fn a_missing_hash_is_none_and_a_partial_one_is_corrupt() {
        assert_eq!(decode(Value::Array(vec![Value::Nil; 8])).unwrap(), None);
        let mut fields = encode(&sample())
            .unwrap()
            .map(|f| Value::BulkString(f.into_bytes()));
        fields[6] = Value::Nil;
        let err = decode(Value::Array(fields.to_vec())).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
        assert!(matches!(decode(Value::Int(1)), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn bad_values_are_corrupt() {
        for (i, bad) in [(2, "{not json"), (3, "soon"), (6, "-1"), (7, "[1]")] {
            let mut fields = encode(&sample()).unwrap();
            fields[i] = bad.to_owned();
            let err = decode(as_reply(fields)).unwrap_err();
            assert!(matches!(err, StoreError::Corrupt(_)), "{i}: {err:?}");
        }
    }
}
