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

/// KEYS: pairs of (counter, lock marker), one pair per subject. ARGV: max failures, window,
/// first lockout, longest lockout (ms). For each subject: count the failure (the counter's TTL
/// is the window, set with the first failure); from the limit on, set the lock marker with the
/// lockout (doubled per failure past the limit, capped) as its TTL, and keep the counter at
/// least `window` past the lockout's end. Returns the counts.
const RECORD_FAILURE: &str = r"
local max, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local first, cap = tonumber(ARGV[3]), tonumber(ARGV[4])
local counts = {}
for i = 1, #KEYS, 2 do
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
  counts[#counts + 1] = n
end
return counts
";

/// A [`LoginThrottle`] in Redis, for many nodes: a guess counts wherever it lands.
///
/// Keys, under the namespace `{ns}`, for a subject `a:{sha-256 of the lowercased username}` or
/// `i:{address}`: `{ns}:throttle:{subject}:n`, the failure count (expires `window` after the
/// first failure, or `window` after the lockout ends), and `{ns}:throttle:{subject}:lock`,
/// present while locked out (its TTL is the time left). Recording a failure is one script
/// (`INCR`, `PEXPIRE`, `SET PX`, atomic for all subjects), checking is one pipelined pair of
/// `PTTL`s, a success one `DEL`. Expiry is Redis's own, in milliseconds.
///
/// A Redis that cannot be reached makes every check fail with
/// [`ThrottleError::Store`]: sign-ins fail closed.
#[derive(Clone)]
pub struct RedisThrottle {
    conn: ConnectionManager,
    prefix: Arc<str>,
    policy: ThrottlePolicy,
    script: Arc<Script>,
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
        let script = Script::new(RECORD_FAILURE);
        script.load_async(&mut conn).await.map_err(backend)?;
        Ok(Self {
            conn,
            prefix: format!("{namespace}:throttle:").into(),
            policy,
            script: Arc::new(script),
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

#[async_trait::async_trait]
impl LoginThrottle for RedisThrottle {
    async fn check(&self, attempt: &Attempt) -> Result<(), ThrottleError> {
        let mut pipe = redis::pipe();
        for s in attempt.subjects() {
            pipe.cmd("PTTL").arg(self.lock_marker(&s));
        }
        let mut conn = self.conn.clone();
        let ttls: Vec<i64> = pipe.query_async(&mut conn).await.map_err(from_redis)?;
        // -2: no marker, -1: a marker without a TTL, which this code never writes.
        match ttls.into_iter().max() {
            Some(ms) if ms > 0 || ms == -1 => {
                let ms = u64::try_from(ms).unwrap_or(1000);
                // Rounded up to whole seconds, as Retry-After carries them.
                let secs = ms.div_ceil(1000).max(1);
                Err(ThrottleError::Locked {
                    retry_after: Duration::from_secs(secs),
                })
            }
            _ => Ok(()),
        }
    }

    async fn record_failure(&self, attempt: &Attempt) -> Result<(), ThrottleError> {
        let mut invocation = self.script.prepare_invoke();
        for s in attempt.subjects() {
            invocation.key(self.counter(&s)).key(self.lock_marker(&s));
        }
        let p = &self.policy;
        invocation
            .arg(p.max_failures)
            .arg(ms(p.window))
            .arg(ms(p.lockout))
            .arg(ms(p.max_lockout));
        let mut conn = self.conn.clone();
        let _counts: Vec<i64> = invocation
            .invoke_async(&mut conn)
            .await
            .map_err(from_redis)?;
        Ok(())
    }

    async fn record_success(&self, attempt: &Attempt) -> Result<(), ThrottleError> {
        let account = attempt.account();
        let mut conn = self.conn.clone();
        redis::cmd("DEL")
            .arg(self.counter(&account))
            .arg(self.lock_marker(&account))
            .exec_async(&mut conn)
            .await
            .map_err(from_redis)
    }
}
