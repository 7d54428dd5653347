//! Opening what the settings name: the users and keys database (SQLite or PostgreSQL), the
//! session store (memory, the database, or Redis), the stored deny-list and the revocation
//! bus that spreads it between nodes, and the password hasher.

mod database;
mod sqlite;

use std::sync::Arc;

use cloakroom::clock::SharedClock;
use cloakroom::revocation::{RevocationBus, RevocationStore};
use cloakroom::session::{RotatingStore, SessionStore};
use cloakroom::store::{
    CacheConfig, CachingStore, MemoryStore, PostgresBus, RedisBus, RedisRevocationStore,
    RedisStore, StoreError,
};
use cloakroom::user::{HashParams, PasswordHasher};

pub use database::DatabaseStore;

use crate::error::Error;
use crate::settings::{Database, Mode, SessionStoreKind, Settings, redact_url};

/// Everything the server keeps, opened. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Stores {
    /// Users and keys (and sessions, for `session_store` `sqlite` or `postgres`).
    pub database: DatabaseStore,
    /// The Redis sessions store, when `session_store` is a `redis://` URL.
    pub redis: Option<RedisStore>,
    /// Sessions (through the near-cache, when one is configured).
    pub sessions: Arc<dyn SessionStore>,
    /// The same sessions, as the rotating store of hybrid mode's refresh sessions.
    pub rotating: Arc<dyn RotatingStore>,
    /// Whether another process opening the same settings reaches these sessions: false for
    /// a memory store, which only the server that made it sees (so the `user` commands
    /// cannot end its sessions, and say so).
    pub sessions_shared: bool,
    /// Where revocations are kept: Redis with Redis, else the database.
    pub revocations: Arc<dyn RevocationStore>,
    /// The bus that spreads revocations and session invalidations between nodes: Redis
    /// pub/sub with Redis, else PostgreSQL `LISTEN`/`NOTIFY` when the database is PostgreSQL;
    /// none with SQLite (one node).
    pub bus: Option<Arc<dyn RevocationBus>>,
}

impl Stores {
    /// Opens the stores the settings name, measuring time with `clock`.
    pub async fn open(settings: &Settings, clock: SharedClock) -> Result<Self, Error> {
        let database = DatabaseStore::open(settings).await?;
        let kind = settings.session_store();
        let mut stores = match &kind {
            SessionStoreKind::Redis(url) => {
                let (store, revocations, bus) =
                    open_redis(url, &settings.redis.namespace, clock.clone()).await?;
                Self {
                    database,
                    sessions: Arc::new(store.clone()),
                    rotating: Arc::new(store.clone()),
                    redis: Some(store),
                    sessions_shared: true,
                    revocations: Arc::new(revocations),
                    bus: Some(Arc::new(bus)),
                }
            }
            SessionStoreKind::Memory => {
                let store = Arc::new(MemoryStore::new(settings.session.max_sessions));
                Self {
                    revocations: database.revocations(),
                    bus: open_postgres_bus(settings, &database).await?,
                    database,
                    redis: None,
                    sessions: store.clone(),
                    rotating: store,
                    sessions_shared: false,
                }
            }
            SessionStoreKind::Sqlite | SessionStoreKind::Postgres => {
                let (sessions, rotating) = database.sessions();
                Self {
                    revocations: database.revocations(),
                    bus: open_postgres_bus(settings, &database).await?,
                    database,
                    redis: None,
                    sessions,
                    rotating,
                    sessions_shared: true,
                }
            }
        };
        // The near-cache serves session mode's lookups; refresh sessions are read once per
        // refresh, and must never be answered from a copy. On SQLite (the default store) a
        // short one of its own (`session.sqlite_cache`, 1 s): a lookup is a hop to sqlx's
        // worker thread and a read transaction, most of a request's cost; the copy is
        // dropped by this node's own writes at once, and by other processes' within the TTL.
        let sqlite_ttl = settings.session.sqlite_cache;
        if settings.mode == Mode::Session && !sqlite_ttl.is_zero() {
            if let (DatabaseStore::Sqlite(sqlite), SessionStoreKind::Sqlite) =
                (&stores.database, &kind)
            {
                let config = CacheConfig {
                    ttl: sqlite_ttl,
                    capacity: settings.session.max_sessions,
                };
                stores.sessions = Arc::new(stores.cached(sqlite.clone(), config, &clock));
            }
        }
        let ttl = settings.session.near_cache;
        if settings.mode == Mode::Session && !ttl.is_zero() {
            let config = CacheConfig {
                ttl,
                capacity: settings.session.max_sessions,
            };
            match (stores.redis.clone(), &stores.database, &kind) {
                (Some(store), _, _) => {
                    stores.sessions = Arc::new(stores.cached(store, config, &clock));
                }
                (None, DatabaseStore::Postgres(pg), SessionStoreKind::Postgres) => {
                    stores.sessions = Arc::new(stores.cached(pg.clone(), config, &clock));
                }
                _ => tracing::info!(
                    "session.near_cache is ignored: the session store is this node's own"
                ),
            }
        }
        Ok(stores)
    }

    /// `inner` behind a near-cache whose invalidations travel on this node's bus.
    fn cached<S: SessionStore>(
        &self,
        inner: S,
        config: CacheConfig,
        clock: &SharedClock,
    ) -> CachingStore<S> {
        let cache = CachingStore::new(inner, config).with_clock(clock.clone());
        match &self.bus {
            Some(bus) => cache.with_bus(bus.clone()),
            None => cache,
        }
    }

    /// Each store this node depends on and whether it answers, by name: `database`,
    /// `sessions` (Redis) and `bus`.
    pub async fn check(&self) -> Vec<(&'static str, String, Result<(), StoreError>)> {
        let mut out = vec![(
            "database",
            self.database.kind().to_owned(),
            self.database.ping().await,
        )];
        if let Some(redis) = &self.redis {
            out.push(("sessions", "redis".to_owned(), redis.ping().await));
        }
        if let Some(bus) = &self.bus {
            let connected = if bus.is_connected() {
                Ok(())
            } else {
                Err(StoreError::Unavailable("the bus is reconnecting".into()))
            };
            out.push(("bus", self.bus_kind().to_owned(), connected));
        }
        out
    }

    /// What the bus runs on: `redis` or `postgres` (meaningless without a bus).
    pub fn bus_kind(&self) -> &'static str {
        if self.redis.is_some() {
            "redis"
        } else {
            "postgres"
        }
    }
}

/// The bus over PostgreSQL `LISTEN`/`NOTIFY`, when the database is PostgreSQL (and there is no
/// Redis to carry it); none for SQLite, which one node alone uses.
async fn open_postgres_bus(
    settings: &Settings,
    database: &DatabaseStore,
) -> Result<Option<Arc<dyn RevocationBus>>, Error> {
    let DatabaseStore::Postgres(pg) = database else {
        return Ok(None);
    };
    let bus = PostgresBus::connect(pg)
        .await
        .map_err(|source| Error::OpenStore {
            what: "PostgreSQL revocation bus",
            location: describe_database(settings).unwrap_or_default(),
            source,
        })?;
    Ok(Some(Arc::new(bus)))
}

/// Connects the Redis session store, its deny-list and its bus.
async fn open_redis(
    url: &str,
    namespace: &str,
    clock: SharedClock,
) -> Result<(RedisStore, RedisRevocationStore, RedisBus), Error> {
    let failed = |source| Error::OpenStore {
        what: "Redis session store",
        location: redact_url(url),
        source,
    };
    let store = RedisStore::connect(url, namespace)
        .await
        .map_err(failed)?
        .with_clock(clock.clone());
    let revocations = RedisRevocationStore::new(&store).with_clock(clock);
    let bus = RedisBus::connect(url, namespace).await.map_err(failed)?;
    Ok((store, revocations, bus))
}

/// Where the database is, for people (a URL's password left out).
pub(crate) fn describe_database(settings: &Settings) -> Result<String, Error> {
    Ok(match settings.database()? {
        Database::File(path) => path.display().to_string(),
        other => other.describe(),
    })
}

/// The password hasher: OWASP's argon2id parameters, unless the test-only setting asks for
/// the cheapest ones.
pub(crate) fn hasher(settings: &Settings) -> Result<PasswordHasher, Error> {
    let params = if settings.insecure_fast_hashing_for_tests {
        tracing::warn!(
            "insecure_fast_hashing_for_tests is on: passwords are hashed with parameters that \
             are cheap to crack; never use this outside the test-suite"
        );
        HashParams::INSECURE_FAST_FOR_TESTS
    } else {
        HashParams::OWASP
    };
    hasher_with(params)
}

/// A hasher with `params`, hashing on one blocking thread fewer than there are cores (at least
/// one): with a hash on every core, a flood of sign-ins made the requests of users already
/// signed in wait up to 11x longer at p99 (docs/PERFORMANCE.md, "Login flood").
pub(crate) fn hasher_with(params: HashParams) -> Result<PasswordHasher, Error> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    Ok(PasswordHasher::new(params, cores.saturating_sub(1).max(1))?)
}
