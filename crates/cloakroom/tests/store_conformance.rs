//! Every session store passes the same conformance suite.

#[cfg(feature = "memory")]
mod memory {
    cloakroom::session_store_conformance!(std::sync::Arc::new(cloakroom::store::MemoryStore::new(
        10_000
    )));
    cloakroom::rotating_store_conformance!(std::sync::Arc::new(
        cloakroom::store::MemoryStore::new(10_000)
    ));
}

/// The near-cache in front of the memory store: a cache that is itself a store passes the same
/// suite. Its clock stands at the suite's records, so that they are cached rather than judged
/// ended already (and so bypassed).
#[cfg(feature = "memory")]
mod caching {
    use std::sync::Arc;

    use cloakroom::clock::{ManualClock, Timestamp};
    use cloakroom::store::{CacheConfig, CachingStore, MemoryStore};

    fn fresh() -> Arc<CachingStore<MemoryStore>> {
        let clock = ManualClock::new(Timestamp::from_unix(1_700_000_000));
        Arc::new(
            CachingStore::new(MemoryStore::new(10_000), CacheConfig::default())
                .with_clock(Arc::new(clock)),
        )
    }

    cloakroom::session_store_conformance!(fresh());
    cloakroom::rotating_store_conformance!(fresh());
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use cloakroom::store::SqliteStore;
    use tempfile::TempDir;

    /// A store on a fresh file that is deleted, with its directory, when the test drops it.
    type TempSqlite = cloakroom::store::conformance::Guarded<SqliteStore, TempDir>;

    async fn fresh() -> std::sync::Arc<TempSqlite> {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(dir.path().join("sessions.db"))
            .await
            .expect("open");
        std::sync::Arc::new(TempSqlite::new(store, dir))
    }

    cloakroom::session_store_conformance!(fresh().await);

    mod rotating {
        use super::fresh;

        cloakroom::rotating_store_conformance!(fresh().await);
    }

    /// `sqlite::memory:`: the same code on a database that lives as long as the store.
    mod in_memory {
        cloakroom::session_store_conformance!(std::sync::Arc::new(
            cloakroom::store::SqliteStore::connect("sqlite::memory:")
                .await
                .expect("open")
        ));
    }
}

// Nested modules of this one are found in `tests/redis_store/`, beside the Redis tests.
#[cfg(feature = "redis")]
#[path = "redis_store"]
mod redis {
    use std::sync::Arc;

    use cloakroom::clock::{ManualClock, Timestamp};
    use cloakroom::store::RedisStore;

    mod support;

    /// The suite's records start here (its `T0`); the store's clock stands there too, so that
    /// their keys get TTLs of minutes rather than expiring on arrival.
    const SUITE_EPOCH: i64 = 1_700_000_000;

    /// A store on a namespace of its own, whose keys are deleted when the test drops it.
    type TempRedis = cloakroom::store::conformance::Guarded<RedisStore, support::Namespace>;

    /// `None` (the test returns early) only outside CI, when Redis does not answer.
    async fn fresh() -> Option<Arc<TempRedis>> {
        let url = support::redis_url()?;
        let namespace = support::Namespace::new();
        let clock = ManualClock::new(Timestamp::from_unix(SUITE_EPOCH));
        let store = RedisStore::connect(url, namespace.name())
            .await
            .expect("connect")
            .with_clock(Arc::new(clock));
        Some(Arc::new(TempRedis::new(store, namespace)))
    }

    cloakroom::session_store_conformance!(match fresh().await {
        Some(store) => store,
        None => return,
    });

    mod rotating {
        use super::fresh;

        cloakroom::rotating_store_conformance!(match fresh().await {
            Some(store) => store,
            None => return,
        });
    }
}

// Nested modules of this one are found in `tests/postgres_store/`, beside the PostgreSQL tests.
#[cfg(feature = "postgres")]
#[path = "postgres_store"]
mod postgres {
    use std::sync::Arc;

    use cloakroom::store::{PostgresOptions, PostgresStore};

    mod support;

    /// A store in a schema of its own, dropped with the test. The store is declared first, so
    /// that its pool is gone before the schema is dropped.
    type TempPostgres = cloakroom::store::conformance::Guarded<PostgresStore, support::TempSchema>;

    /// `None` (the test returns early) only outside CI, when PostgreSQL does not answer.
    async fn fresh() -> Option<Arc<TempPostgres>> {
        let url = support::postgres_url()?;
        let schema = support::TempSchema::new(url);
        let store =
            PostgresStore::connect_with(url, PostgresOptions::default().with_schema(schema.name()))
                .await
                .expect("connect");
        Some(Arc::new(TempPostgres::new(store, schema)))
    }

    cloakroom::session_store_conformance!(match fresh().await {
        Some(store) => store,
        None => return,
    });

    mod rotating {
        use super::fresh;

        cloakroom::rotating_store_conformance!(match fresh().await {
            Some(store) => store,
            None => return,
        });
    }
}
