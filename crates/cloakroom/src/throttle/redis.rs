//! The throttle in Redis, shared by every node: one counter and one lock marker per subject,
//! both with TTLs, written by one Lua script so that racing nodes never lose a failure.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::subject::Subject;
use super::{Attempt, LoginThrottle, ThrottleError, ThrottlePolicy};
use crate::store::StoreError;

/// Bounds that make a dead Redis fail sign-ins quickly (closed) instead of piling them up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// KEYS: pairs of (counter, lock marker), one pair per subject. ARGV: the window (ms), then
/// per subject its limit: max failures, first hold-off, longest hold-off (ms). If any subject
/// is locked out, returns the longest time left (ms) and counts nothing. Otherwise, for each
/// subject: count the attempt (the counter's TTL is the window, set with the first failure);
/// from its limit on, set the lock marker with the hold-off (doubled per failure past the
/// limit, capped) as its TTL, and keep the counter at least `window` past the hold-off's end.
/// Returns 0.
const BEGIN: &str = r"
local wait = 0
for i = 2, #KEYS, 2 do
  local t = redis.call('PTTL', KEYS[i])
  if t == -1 then t = 1000 end
  if t > wait then wait = t end
end
if wait > 0 then return wait end
local window = tonumber(ARGV[1])
for i = 1, #KEYS, 2 do
  local a = 2 + (i - 1) / 2 * 3
  local max, first, cap = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local n = redis.call('INCR', KEYS[i])
  if n == 1 or redis.call('PTTL', KEYS[i]) < 0 then
    redis.call('PEXPIRE', KEYS[i], window)
  end
  if n >= max then
    local lock, past = first, n - max
    while past > 0 and lock < cap do
      lock = lock * 2
      past = past - 1
    end
    if lock > cap then lock = cap end
    redis.call('SET', KEYS[i + 1], '1', 'PX', lock)
    if redis.call('PTTL', KEYS[i]) < lock + window then
      redis.call('PEXPIRE', KEYS[i], lock + window)
    end
  end
end
return 0
";

/// KEYS: pairs of (counter, lock marker). ARGV: how many leading pairs to clear outright (the
/// account and client pair, after a success). The other pairs give one counted attempt back, and the lockout it
/// set: a lockout in force refuses every attempt, so any present was set since it began.
const RELEASE: &str = r"
local clear = tonumber(ARGV[1])
for i = 1, #KEYS, 2 do
  if (i + 1) / 2 <= clear then
    redis.call('DEL', KEYS[i])
  elseif redis.call('EXISTS', KEYS[i]) == 1 and redis.call('DECR', KEYS[i]) <= 0 then
    redis.call('DEL', KEYS[i])
  end
  redis.call('DEL', KEYS[i + 1])
end
return 0
";

/// A [`LoginThrottle`] in Redis, for many nodes: a guess counts wherever it lands.
///
/// Keys, under the namespace `{ns}`, for a subject `p:{sha-256 of the lowercased
/// username}:{address}` (the account from one client), `i:{address}` (the client) or
/// `a:{sha-256}` (the account): `{ns}:throttle:{subject}:n`, the count (expires `window` after
/// the first failure, or `window` after the lockout ends), and `{ns}:throttle:{subject}:lock`,
/// present while locked out or slowed (its TTL is the time left). Checking and counting is one
/// script (`PTTL`, `INCR`, `PEXPIRE`, `SET PX`), atomic for all three subjects, so racing
/// nodes can neither lose a count nor let more than the limit through; a success or a release
/// is one more script.
/// Expiry is Redis's own, in milliseconds.
///
/// A Redis that cannot be reached makes every check fail with
/// [`ThrottleError::Store`]: sign-ins fail closed.
#[derive(Clone)]
pub struct RedisThrottle {
    conn: ConnectionManager,
    prefix: Arc<str>,
    policy: ThrottlePolicy,
    begin: Arc<Script>,
    release: Arc<Script>,
}

impl fmt::Debug for RedisThrottle {
    // The URL is left out: it may carry a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisThrottle")
            .field("prefix", &self.prefix)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// A namespace that is not 1 to 64 ASCII letters, digits, `.`, `_` or `-`.
#[derive(Debug, thiserror::Error)]
#[error("invalid Redis namespace {0:?}: use 1 to 64 ASCII letters, digits, '.', '_' or '-'")]
struct InvalidNamespace(String);

impl RedisThrottle {
    /// Connects to the Redis at `url` and keeps counters under `namespace` (1 to 64 ASCII
    /// letters, digits, `.`, `_` or `-`). [`StoreError::Unavailable`] if Redis cannot be
    /// reached; [`StoreError::Backend`] for a bad URL or namespace, or a server that refuses
    /// scripts.
    pub async fn connect(
        url: &str,
        namespace: &str,
        policy: ThrottlePolicy,
    ) -> Result<Self, StoreError> {
        let valid = !namespace.is_empty()
            && namespace.len() <= 64
            && namespace
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !valid {
            return Err(StoreError::Backend(Box::new(InvalidNamespace(
                namespace.to_owned(),
            ))));
        }
        let client = redis::Client::open(url).map_err(backend)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(2);
        let mut conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(unavailable)?;
        let (begin, release) = (Script::new(BEGIN), Script::new(RELEASE));
        for script in [&begin, &release] {
            script.load_async(&mut conn).await.map_err(backend)?;
        }
        Ok(Self {
            conn,
            prefix: format!("{namespace}:throttle:").into(),
            policy,
            begin: Arc::new(begin),
            release: Arc::new(release),
        })
    }

    /// The policy.
    pub fn policy(&self) -> &ThrottlePolicy {
        &self.policy
    }

    fn counter(&self, s: &Subject) -> String {
        format!("{}{}:n", self.prefix, s.key_suffix())
    }

    fn lock_marker(&self, s: &Subject) -> String {
        format!("{}{}:lock", self.prefix, s.key_suffix())
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

fn backend(e: redis::RedisError) -> StoreError {
    StoreError::Backend(Box::new(e))
}

/// Connection trouble is `Unavailable` (retry later); anything else is a `Backend` fault.
fn from_redis(e: redis::RedisError) -> ThrottleError {
    let store = if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() {
        unavailable(e)
    } else {
        backend(e)
    };
    ThrottleError::Store(store)
}

impl RedisThrottle {
    /// Gives back the attempt of `subjects`, clearing the first `clear` of them outright.
    async fn give_back(
        &self,
        subjects: impl Iterator<Item = Subject>,
        clear: usize,
    ) -> Result<(), ThrottleError> {
        let mut invocation = self.release.prepare_invoke();
        for s in subjects {
            invocation.key(self.counter(&s)).key(self.lock_marker(&s));
        }
        invocation.arg(clear);
        let mut conn = self.conn.clone();
        let _: i64 = invocation
            .invoke_async(&mut conn)
            .await
            .map_err(from_redis)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl LoginThrottle for RedisThrottle {
    async fn check(&self, attempt: &Attempt) -> Result<(), ThrottleError> {
        let mut invocation = self.begin.prepare_invoke();
        let subjects = attempt.subjects(&self.policy);
        for (s, _) in &subjects {
            invocation.key(self.counter(s)).key(self.lock_marker(s));
        }
        invocation.arg(ms(self.policy.window));
        for (_, limit) in &subjects {
            invocation
                .arg(limit.max_failures)
                .arg(ms(limit.first))
                .arg(ms(limit.cap));
        }
        let mut conn = self.conn.clone();
        let wait_ms: i64 = invocation
            .invoke_async(&mut conn)
            .await
            .map_err(from_redis)?;
        match u64::try_from(wait_ms) {
            // Rounded up to whole seconds, as Retry-After carries them.
            Ok(ms) if ms > 0 => Err(ThrottleError::Locked {
                retry_after: Duration::from_secs(ms.div_ceil(1000).max(1)),
            }),
            _ => Ok(()),
        }
    }

    async fn record_success(&self, attempt: &Attempt) -> Result<(), ThrottleError> {
        // The pair comes first: it is the one cleared.
        let subjects = attempt.subjects(&self.policy);
        self.give_back(subjects.into_iter().map(|(s, _)| s), 1)
            .await
    }

    async fn release(&self, attempt: &Attempt) -> Result<(), ThrottleError> {
        let subjects = attempt.subjects(&self.policy);
        self.give_back(subjects.into_iter().map(|(s, _)| s), 0)
            .await
    }
}
