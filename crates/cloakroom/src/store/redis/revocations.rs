//! The deny-list in Redis: [`RevocationStore`] for every node that shares a Redis.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use redis::{Script, Value};

use super::error::unexpected;
use super::{MAX_TTL_MS, MIN_TTL_MS, PURGE_BATCH, RedisStore, Retry};
use crate::clock::{SharedClock, Timestamp};
use crate::revocation::{Revocation, RevocationKind, RevocationStore};
use crate::store::StoreError;

/// How many index entries one `load_all` round trip reads: `ZSCAN`'s hint, so no script holds
/// Redis for long however long the list is.
const LOAD_BATCH: i64 = 1_000;

/// KEYS: entry, index. ARGV: member, expires_at, not_before (`''` for none), the store clock's
/// now, min TTL, max TTL (ms). Keeps the later of the stored and the new values (an upsert
/// that only ever makes an entry stricter). Values are compared as numbers but written as
/// the text they came in, so nothing is rounded through a Lua double.
const ADD: &str = r"
local old = redis.call('HMGET', KEYS[1], 'e', 'nb')
local e = ARGV[2]
if old[1] and tonumber(old[1]) > tonumber(e) then e = old[1] end
if ARGV[3] ~= '' then
  local nb = ARGV[3]
  if old[2] and tonumber(old[2]) > tonumber(nb) then nb = old[2] end
  redis.call('HSET', KEYS[1], 'e', e, 'nb', nb)
else
  redis.call('HSET', KEYS[1], 'e', e)
end
local ttl = (tonumber(e) - tonumber(ARGV[4])) * 1000
ttl = math.floor(math.max(tonumber(ARGV[5]), math.min(tonumber(ARGV[6]), ttl)))
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], e, ARGV[1])
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1
";

/// KEYS: index. ARGV: cursor, entry prefix, now, count. One `ZSCAN` step: returns the next
/// cursor, then `member, e, nb` (`''` for none) for each entry that has not expired at `now`.
/// `ZSCAN` returns every entry that stays in the index for the whole scan, however the index
/// changes meanwhile.
const LOAD_PAGE: &str = r"
local page = redis.call('ZSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[4])
local out = {page[1]}
local items = page[2]
for i = 1, #items, 2 do
  local f = redis.call('HMGET', ARGV[2] .. items[i], 'e', 'nb')
  if f[1] and tonumber(f[1]) > tonumber(ARGV[3]) then
    out[#out + 1] = items[i]
    out[#out + 1] = f[1]
    out[#out + 1] = f[2] or ''
  end
end
return out
";

/// KEYS: index. ARGV: entry prefix, now, batch size. Deletes up to a batch of entries that
/// expired at or before `now` (Redis may have expired their keys already) and returns how many.
const PURGE: &str = r"
local ended = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])
for _, m in ipairs(ended) do
  redis.call('DEL', ARGV[1] .. m)
  redis.call('ZREM', KEYS[1], m)
end
return #ended
";

#[derive(Debug)]
struct Scripts {
    add: Script,
    load_page: Script,
    purge: Script,
}

/// The deny-list in Redis, next to the sessions of a [`RedisStore`], so that every node sees
/// the same revocations and a node that restarts or reconnects reloads them.
///
/// ```no_run
/// use std::sync::Arc;
/// use cloakroom::clock::SystemClock;
/// use cloakroom::revocation::Revocations;
/// use cloakroom::store::{RedisRevocationStore, RedisStore};
///
/// # async fn run() -> Result<(), cloakroom::store::StoreError> {
/// let store = RedisStore::connect("redis://127.0.0.1:6379", "cloakroom").await?;
/// let revocations =
///     Revocations::open(Arc::new(RedisRevocationStore::new(&store)), Arc::new(SystemClock)).await?;
/// # let _ = revocations;
/// # Ok(())
/// # }
/// ```
///
/// # Layout
///
/// - `{ns}:r:{kind}:{subject}` — one entry (`kind` is `token`, `session` or `user`; the
///   subject is the `jti`, `sid` or user ID), a hash: `e` when it expires and, for a user,
///   `nb` the not-before time (Unix seconds). The key expires with the entry (a TTL measured
///   from the store's clock, as for sessions).
/// - `{ns}:rx` — a sorted set of every `{kind}:{subject}`, scored by its expiry: what
///   `load_all` walks and `purge_expired` cleans.
///
/// # Round trips
///
/// `add`: 1 (script, an upsert that keeps the later expiry and not-before). `load_all`: 1 per
/// 1 000 entries (`ZSCAN` in a script). `purge_expired`: 1 per 500 expired entries.
#[derive(Clone)]
pub struct RedisRevocationStore {
    store: RedisStore,
    scripts: Arc<Scripts>,
}

impl fmt::Debug for RedisRevocationStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRevocationStore")
            .field("namespace", &self.store.namespace())
            .finish_non_exhaustive()
    }
}

impl RedisRevocationStore {
    /// The deny-list in the Redis and namespace of `store`, sharing its connection and clock.
    /// Its scripts are loaded on first use.
    pub fn new(store: &RedisStore) -> Self {
        Self {
            store: store.clone(),
            scripts: Arc::new(Scripts {
                add: Script::new(ADD),
                load_page: Script::new(LOAD_PAGE),
                purge: Script::new(PURGE),
            }),
        }
    }

    /// Connects to the Redis at `url`, as [`RedisStore::connect`] does.
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, StoreError> {
        Ok(Self::new(&RedisStore::connect(url, namespace).await?))
    }

    /// The same store, measuring TTLs from `clock` (see [`RedisStore::with_clock`]).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.store = self.store.with_clock(clock);
        self
    }
}

/// How an entry is named in the index and in its key.
fn member(revocation: &Revocation) -> String {
    format!("{}:{}", revocation.kind().as_str(), revocation.subject())
}

fn bulk(value: Value, what: &'static str) -> Result<String, StoreError> {
    match value {
        Value::BulkString(b) => String::from_utf8(b).map_err(|_| unexpected(what)),
        Value::SimpleString(s) => Ok(s),
        _ => Err(unexpected(what)),
    }
}

fn seconds(text: &str, what: &'static str) -> Result<Timestamp, StoreError> {
    text.parse()
        .map(Timestamp::from_unix)
        .map_err(|_| unexpected(what))
}

/// An entry from its member and fields.
fn decode(member: &str, e: &str, nb: &str) -> Result<Revocation, StoreError> {
    const WHAT: &str = "load_all";
    let (kind, subject) = member.split_once(':').ok_or_else(|| unexpected(WHAT))?;
    let until = seconds(e, WHAT)?;
    Ok(match kind {
        k if k == RevocationKind::Token.as_str() => Revocation::token(subject, until),
        k if k == RevocationKind::Session.as_str() => Revocation::session(subject, until),
        k if k == RevocationKind::User.as_str() => {
            Revocation::user(subject, seconds(nb, WHAT)?, until)
        }
        _ => return Err(unexpected(WHAT)),
    })
}

#[async_trait]
impl RevocationStore for RedisRevocationStore {
    async fn add(&self, revocation: &Revocation) -> Result<(), StoreError> {
        let member = member(revocation);
        let not_before = match revocation {
            Revocation::User { not_before, .. } => not_before.unix().to_string(),
            Revocation::Token { .. } | Revocation::Session { .. } => String::new(),
        };
        let mut script = self.scripts.add.prepare_invoke();
        script
            .key(self.store.keys.revocation(&member))
            .key(self.store.keys.revocations())
            .arg(&member)
            .arg(revocation.expires_at().unix())
            .arg(not_before)
            .arg(self.store.clock.now().unix())
            .arg(MIN_TTL_MS)
            .arg(MAX_TTL_MS);
        // Safe to repeat: adding an entry twice keeps the stricter values, as once does.
        match self.store.invoke_int(&script, Retry::Once, "add").await? {
            1 => Ok(()),
            _ => Err(unexpected("add")),
        }
    }

    async fn load_all(&self, now: Timestamp) -> Result<Vec<Revocation>, StoreError> {
        let mut out = Vec::new();
        let mut cursor = String::from("0");
        loop {
            let mut script = self.scripts.load_page.prepare_invoke();
            script
                .key(self.store.keys.revocations())
                .arg(&cursor)
                .arg(self.store.keys.revocation_prefix())
                .arg(now.unix())
                .arg(LOAD_BATCH);
            let Value::Array(page) = self.store.invoke(&script, Retry::Once).await? else {
                return Err(unexpected("load_all"));
            };
            if page.len() % 3 != 1 {
                return Err(unexpected("load_all"));
            }
            let mut page = page.into_iter();
            let next = page.next().ok_or_else(|| unexpected("load_all"))?;
            cursor = bulk(next, "load_all")?;
            while let (Some(m), Some(e), Some(nb)) = (page.next(), page.next(), page.next()) {
                let (m, e, nb) = (
                    bulk(m, "load_all")?,
                    bulk(e, "load_all")?,
                    bulk(nb, "load_all")?,
                );
                out.push(decode(&m, &e, &nb)?);
            }
            if cursor == "0" {
                // A member seen twice by ZSCAN (the index rehashed meanwhile) is one entry.
                out.sort_by(|a, b| (a.kind(), a.subject()).cmp(&(b.kind(), b.subject())));
                out.dedup_by(|a, b| a.kind() == b.kind() && a.subject() == b.subject());
                return Ok(out);
            }
        }
    }

    async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        let mut purged = 0u64;
        loop {
            let mut script = self.scripts.purge.prepare_invoke();
            script
                .key(self.store.keys.revocations())
                .arg(self.store.keys.revocation_prefix())
                .arg(now.unix())
                .arg(PURGE_BATCH);
            let n = self
                .store
                .invoke_int(&script, Retry::Once, "purge_expired")
                .await?;
            purged += u64::try_from(n).map_err(|_| unexpected("purge_expired"))?;
            if n < PURGE_BATCH {
                return Ok(purged);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_name_kind_and_subject_and_decode_back() {
        let t = Timestamp::from_unix;
        for r in [
            Revocation::token("j:1", t(10)),
            Revocation::session("s", t(20)),
            Revocation::user("u:7", t(5), t(30)),
        ] {
            let m = member(&r);
            let nb = match &r {
                Revocation::User { not_before, .. } => not_before.unix().to_string(),
                _ => String::new(),
            };
            let e = r.expires_at().unix().to_string();
            assert_eq!(decode(&m, &e, &nb).unwrap(), r);
        }
        assert_eq!(member(&Revocation::token("j:1", t(1))), "token:j:1");
        assert!(decode("nokind", "1", "").is_err());
        assert!(decode("user:u", "1", "").is_err());
        assert!(decode("other:x", "1", "").is_err());
    }
}
