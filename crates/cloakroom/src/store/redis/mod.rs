//! Sessions in Redis, shared by every node that points at the same server and namespace.
//!
//! The key layout, expiry, atomicity and the round trips of each operation are documented on
//! [`RedisStore`], where rustdoc shows them (this module is private).

#[cfg(feature = "jwt")]
mod bus;
mod codec;
mod error;
mod keys;
#[cfg(feature = "jwt")]
mod revocations;
mod rotate;
mod scripts;
mod sessions;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, ScriptInvocation, Value};

#[cfg(feature = "jwt")]
pub use self::bus::RedisBus;
#[cfg(feature = "jwt")]
pub use self::revocations::RedisRevocationStore;

use self::error::{from_redis, unexpected};
use self::keys::Keys;
use self::scripts::Scripts;
use super::StoreError;
use crate::clock::{SharedClock, SystemClock, Timestamp};

/// The shortest TTL given to a key: a session written after it ended still reads back once.
const MIN_TTL_MS: i64 = 1_000;
/// The longest TTL given to a key (ten years), so absurd expiries cannot overflow Redis.
const MAX_TTL_MS: i64 = 10 * 365 * 24 * 3_600 * 1_000;
/// How many ended sessions one purge script deletes, so no script blocks Redis for long.
const PURGE_BATCH: i64 = 500;

/// Bounds that make a dead or hung Redis fail requests quickly instead of piling them up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
const RECONNECT_RETRIES: usize = 2;
const RECONNECT_MIN_DELAY: Duration = Duration::from_millis(50);
const RECONNECT_MAX_DELAY: Duration = Duration::from_millis(500);

/// Whether an operation may be sent again after the connection dropped under it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Repeating it gives the same result (reads, `touch`).
    Once,
    /// It may have been applied already (a repeated `create` would report `Duplicate`).
    Never,
}

/// Sessions in Redis: every node that connects to the same server with the same namespace
/// sees the same sessions. Cloning is cheap and shares the connection.
///
/// ```no_run
/// use cloakroom::auth::SessionManager;
/// use cloakroom::session::SessionPolicy;
/// use cloakroom::store::RedisStore;
///
/// # async fn run() -> Result<(), cloakroom::store::StoreError> {
/// let store = RedisStore::connect("redis://127.0.0.1:6379", "cloakroom").await?;
/// store.ping().await?; // readiness
/// let sessions = SessionManager::new(store, SessionPolicy::default());
/// # let _ = sessions;
/// # Ok(())
/// # }
/// ```
///
/// # Layout
///
/// Every key starts with the namespace (`{ns}`), so several deployments can share one Redis:
///
/// - `{ns}:s:{hex key}` — one session, a hash: `u` user ID, `h` handle, `ls`/`ie`/`ae` last
///   seen, idle and absolute expiry (Unix seconds), `v` data version, `d` data (JSON), and `r`
///   the rest (name, roles, creation time, client; compact JSON). Scripts read and write the
///   first fields as plain text and never decode JSON;
/// - `{ns}:u:{user id}` — the set of the hex keys of a user's sessions;
/// - `{ns}:x` — a sorted set of every hex key, scored by when its session ends;
/// - `{ns}:f:{hex family}` — a refresh family (hybrid mode's rotating refresh tokens; see
///   [`RefreshRotation`](crate::session::RefreshRotation)): one hash per rotated session,
///   overwritten by each [`rotate`](crate::session::RotatingStore::rotate), holding its current
///   and just-spent keys and the session's user ID, handle and absolute expiry, expiring at
///   that expiry. Any older key of the family presented again ends the session.
///
/// # Expiry
///
/// A session's key expires when the session ends (the earlier of its idle and absolute
/// expiry), and `touch` moves that expiry; an index key never expires before the sessions it
/// names. TTLs are measured from the store's clock ([`with_clock`](RedisStore::with_clock); the
/// system clock by default) and set as relative `PEXPIRE`s rather than `PEXPIREAT`s: the node
/// that decided the expiry also measures it, so a clock skew between a node and Redis does not
/// cut sessions short. A session that has already ended when it is written is kept for one
/// second. Index entries of sessions that Redis expired by itself stay until `purge_expired`,
/// `list_user` or `delete_by_handle` meet them; their scores are past, so `count_active` does
/// not count them.
///
/// Run Redis with `maxmemory-policy noeviction`: an evicted session is a silent logout.
///
/// # Atomicity
///
/// Every write that two nodes could race on is one Lua script, run atomically by Redis:
/// `create` refuses a taken key (`Duplicate`), `save_data` compares the version and writes in
/// one step (`Conflict`, `NotFound`), `touch` changes only a session that exists, deletes
/// update the indexes in the same step, and `rotate` moves the session and rewrites its family
/// in one step, so that of parallel rotations of one key at most one wins. Scripts build
/// some key names from stored values, so this store runs on a single Redis (with replicas or
/// Sentinel), not on Redis Cluster.
///
/// # Round trips
///
/// | operation | round trips |
/// |---|---|
/// | `load` | 1 (`HMGET`) |
/// | `touch` | 1 (script) |
/// | `create`, `save_data`, `delete`, `delete_by_handle`, `delete_user` | 1 (script) |
/// | `list_user` | 1 (script, returns every session of the user) |
/// | `count_active` | 1 (`ZCOUNT`) |
/// | `purge_expired` | 1 per 500 ended sessions (script) |
/// | `ping` | 1 (`PING`) |
/// | `rotate` ([`RotatingStore`](crate::session::RotatingStore)) | 1 (script) |
/// | `connect` | the handshake, then 9 `SCRIPT LOAD`s |
///
/// A script that Redis has forgotten (after a restart) costs two more round trips, once.
///
/// # Failure
///
/// Connection errors, timeouts (1 s to connect, 2 s for a reply) and a server that is loading
/// or read-only are [`StoreError::Unavailable`], with their cause; replies that do not decode
/// are [`StoreError::Corrupt`]. The connection is multiplexed and reconnects by itself. After a
/// dropped connection, the operations that are safe to repeat (`load`, `touch`, `list_user`,
/// `count_active`, `ping`) are sent once more on the new connection, so a blip does not reach
/// the hot path; the others report `Unavailable`, since they may have been applied.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    keys: Arc<Keys>,
    scripts: Arc<Scripts>,
    clock: SharedClock,
}

impl fmt::Debug for RedisStore {
    // The URL is left out: it may carry a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("namespace", &self.keys.namespace())
            .finish_non_exhaustive()
    }
}

/// A multiplexed connection that reconnects by itself, within the bounds above.
async fn connection_manager(client: redis::Client) -> Result<ConnectionManager, StoreError> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(RECONNECT_RETRIES)
        .set_min_delay(RECONNECT_MIN_DELAY)
        .set_max_delay(RECONNECT_MAX_DELAY);
    ConnectionManager::new_with_config(client, config)
        .await
        .map_err(from_redis)
}

impl RedisStore {
    /// Connects to the Redis at `url` (`redis://[user:password@]host:port[/db]`; `rediss://`
    /// needs one of the `redis` crate's TLS features) and keeps sessions under `namespace`.
    ///
    /// `namespace` is 1 to 64 ASCII letters, digits, `.`, `_` or `-`. Fails with
    /// [`StoreError::Unavailable`] if Redis cannot be reached, and with [`StoreError::Backend`]
    /// for a malformed URL or namespace, or a server that refuses scripts.
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, StoreError> {
        let keys = Keys::new(namespace).map_err(|e| StoreError::Backend(Box::new(e)))?;
        let client = redis::Client::open(url).map_err(from_redis)?;
        let mut conn = connection_manager(client).await?;
        let scripts = Scripts::new();
        // Loaded now so that the first requests are one round trip each, and so that a server
        // that forbids scripts is found at start-up rather than at the first login.
        for script in scripts.all() {
            script.load_async(&mut conn).await.map_err(from_redis)?;
        }
        Ok(Self {
            conn,
            keys: Arc::new(keys),
            scripts: Arc::new(scripts),
            clock: Arc::new(SystemClock),
        })
    }

    /// The same store, measuring TTLs from `clock`. Give it the clock that the
    /// [`SessionManager`](crate::auth::SessionManager) uses, so that keys expire when that clock
    /// says sessions end.
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The namespace the keys live under.
    pub fn namespace(&self) -> &str {
        self.keys.namespace()
    }

    /// Checks that Redis answers, for readiness probes: [`StoreError::Unavailable`] if not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self.query(&redis::cmd("PING"), Retry::Once).await? {
            Value::SimpleString(s) if s == "PONG" => Ok(()),
            Value::BulkString(b) if b == b"PONG" => Ok(()),
            _ => Err(unexpected("PING")),
        }
    }

    /// The TTL of a key for something that ends at `ends`, by the store's clock.
    fn ttl_ms(&self, ends: Timestamp) -> i64 {
        ends.unix()
            .saturating_sub(self.clock.now().unix())
            .saturating_mul(1_000)
            .clamp(MIN_TTL_MS, MAX_TTL_MS)
    }

    async fn query(&self, cmd: &Cmd, retry: Retry) -> Result<Value, StoreError> {
        let mut conn = self.conn.clone();
        let mut result = cmd.query_async::<Value>(&mut conn).await;
        if let Err(e) = &result {
            // The manager has started reconnecting; the second try waits for that.
            if retry == Retry::Once && e.is_unrecoverable_error() {
                result = cmd.query_async::<Value>(&mut conn).await;
            }
        }
        result.map_err(from_redis)
    }

    async fn invoke(
        &self,
        script: &ScriptInvocation<'_>,
        retry: Retry,
    ) -> Result<Value, StoreError> {
        let mut conn = self.conn.clone();
        let mut result = script.invoke_async::<Value>(&mut conn).await;
        if let Err(e) = &result {
            if retry == Retry::Once && e.is_unrecoverable_error() {
                result = script.invoke_async::<Value>(&mut conn).await;
            }
        }
        result.map_err(from_redis)
    }

    /// Runs `script` and reads its integer answer.
    async fn invoke_int(
        &self,
        script: &ScriptInvocation<'_>,
        retry: Retry,
        what: &'static str,
    ) -> Result<i64, StoreError> {
        match self.invoke(script, retry).await? {
            Value::Int(n) => Ok(n),
            _ => Err(unexpected(what)),
        }
    }
}
