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
    use async_trait::async_trait;
    use cloakroom::clock::Timestamp;
    use cloakroom::session::{
        RotatingStore, Rotation, SessionData, SessionHandle, SessionKey, SessionRecord,
        SessionStore,
    };
    use cloakroom::store::{SqliteStore, StoreError};
    use tempfile::TempDir;

    /// A store on a fresh file that is deleted, with its directory, when the test drops it.
    #[derive(Debug)]
    struct TempSqlite {
        store: SqliteStore,
        _dir: TempDir,
    }

    async fn fresh() -> std::sync::Arc<TempSqlite> {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(dir.path().join("sessions.db"))
            .await
            .expect("open");
        std::sync::Arc::new(TempSqlite { store, _dir: dir })
    }

    #[async_trait]
    impl SessionStore for TempSqlite {
        async fn create(&self, key: &SessionKey, record: &SessionRecord) -> Result<(), StoreError> {
            self.store.create(key, record).await
        }
        async fn load(&self, key: &SessionKey) -> Result<Option<SessionRecord>, StoreError> {
            self.store.load(key).await
        }
        async fn touch(
            &self,
            key: &SessionKey,
            last_seen_at: Timestamp,
            idle_expires_at: Timestamp,
        ) -> Result<bool, StoreError> {
            self.store.touch(key, last_seen_at, idle_expires_at).await
        }
        async fn save_data(
            &self,
            key: &SessionKey,
            expected_version: u64,
            data: &SessionData,
        ) -> Result<u64, StoreError> {
            self.store.save_data(key, expected_version, data).await
        }
        async fn delete(&self, key: &SessionKey) -> Result<bool, StoreError> {
            self.store.delete(key).await
        }
        async fn delete_by_handle(
            &self,
            user_id: &str,
            handle: &SessionHandle,
        ) -> Result<bool, StoreError> {
            self.store.delete_by_handle(user_id, handle).await
        }
        async fn delete_user(&self, user_id: &str) -> Result<u64, StoreError> {
            self.store.delete_user(user_id).await
        }
        async fn list_user(
            &self,
            user_id: &str,
        ) -> Result<Vec<(SessionKey, SessionRecord)>, StoreError> {
            self.store.list_user(user_id).await
        }
        async fn count_active(&self, now: Timestamp) -> Result<u64, StoreError> {
            self.store.count_active(now).await
        }
        async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
            self.store.purge_expired(now).await
        }
    }

    #[async_trait]
    impl RotatingStore for TempSqlite {
        async fn rotate(
            &self,
            old: &SessionKey,
            new: &SessionKey,
            now: Timestamp,
        ) -> Result<Rotation, StoreError> {
            self.store.rotate(old, new, now).await
        }
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

    use async_trait::async_trait;
    use cloakroom::clock::{ManualClock, Timestamp};
    use cloakroom::session::{
        RotatingStore, Rotation, SessionData, SessionHandle, SessionKey, SessionRecord,
        SessionStore,
    };
    use cloakroom::store::{RedisStore, StoreError};

    mod support;

    /// The suite's records start here (its `T0`); the store's clock stands there too, so that
    /// their keys get TTLs of minutes rather than expiring on arrival.
    const SUITE_EPOCH: i64 = 1_700_000_000;

    /// A store on a namespace of its own, whose keys are deleted when the test drops it.
    #[derive(Debug)]
    struct TempRedis {
        store: RedisStore,
        _namespace: support::Namespace,
    }

    /// `None` (the test returns early) only outside CI, when Redis does not answer.
    async fn fresh() -> Option<Arc<TempRedis>> {
        let url = support::redis_url()?;
        let namespace = support::Namespace::new();
        let clock = ManualClock::new(Timestamp::from_unix(SUITE_EPOCH));
        let store = RedisStore::connect(url, namespace.name())
            .await
            .expect("connect")
            .with_clock(Arc::new(clock));
        Some(Arc::new(TempRedis {
            store,
            _namespace: namespace,
        }))
    }

    #[async_trait]
    impl SessionStore for TempRedis {
        async fn create(&self, key: &SessionKey, record: &SessionRecord) -> Result<(), StoreError> {
            self.store.create(key, record).await
        }
        async fn load(&self, key: &SessionKey) -> Result<Option<SessionRecord>, StoreError> {
            self.store.load(key).await
        }
        async fn touch(
            &self,
            key: &SessionKey,
            last_seen_at: Timestamp,
            idle_expires_at: Timestamp,
        ) -> Result<bool, StoreError> {
            self.store.touch(key, last_seen_at, idle_expires_at).await
        }
        async fn save_data(
            &self,
            key: &SessionKey,
            expected_version: u64,
            data: &SessionData,
        ) -> Result<u64, StoreError> {
            self.store.save_data(key, expected_version, data).await
        }
        async fn delete(&self, key: &SessionKey) -> Result<bool, StoreError> {
            self.store.delete(key).await
        }
        async fn delete_by_handle(
            &self,
            user_id: &str,
            handle: &SessionHandle,
        ) -> Result<bool, StoreError> {
            self.store.delete_by_handle(user_id, handle).await
        }
        async fn delete_user(&self, user_id: &str) -> Result<u64, StoreError> {
            self.store.delete_user(user_id).await
        }
        async fn list_user(
            &self,
            user_id: &str,
        ) -> Result<Vec<(SessionKey, SessionRecord)>, StoreError> {
            self.store.list_user(user_id).await
        }
        async fn count_active(&self, now: Timestamp) -> Result<u64, StoreError> {
            self.store.count_active(now).await
        }
        async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
            self.store.purge_expired(now).await
        }
    }

    #[async_trait]
    impl RotatingStore for TempRedis {
        async fn rotate(
            &self,
            old: &SessionKey,
            new: &SessionKey,
            now: Timestamp,
        ) -> Result<Rotation, StoreError> {
            self.store.rotate(old, new, now).await
        }
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

    use async_trait::async_trait;
    use cloakroom::clock::Timestamp;
    use cloakroom::session::{
        RotatingStore, Rotation, SessionData, SessionHandle, SessionKey, SessionRecord,
        SessionStore,
    };
    use cloakroom::store::{PostgresOptions, PostgresStore, StoreError};

    mod support;

    /// A store in a schema of its own, dropped with the test. The store is declared first, so
    /// that its pool is gone before the schema is dropped.
    #[derive(Debug)]
    struct TempPostgres {
        store: PostgresStore,
        _schema: support::TempSchema,
    }

    /// `None` (the test returns early) only outside CI, when PostgreSQL does not answer.
    async fn fresh() -> Option<Arc<TempPostgres>> {
        let url = support::postgres_url()?;
        let schema = support::TempSchema::new(url);
        let store =
            PostgresStore::connect_with(url, PostgresOptions::default().with_schema(schema.name()))
                .await
                .expect("connect");
        Some(Arc::new(TempPostgres {
            store,
            _schema: schema,
        }))
    }

    #[async_trait]
    impl SessionStore for TempPostgres {
        async fn create(&self, key: &SessionKey, record: &SessionRecord) -> Result<(), StoreError> {
            self.store.create(key, record).await
        }
        async fn load(&self, key: &SessionKey) -> Result<Option<SessionRecord>, StoreError> {
            self.store.load(key).await
        }
        async fn touch(
            &self,
            key: &SessionKey,
            last_seen_at: Timestamp,
            idle_expires_at: Timestamp,
        ) -> Result<bool, StoreError> {
            self.store.touch(key, last_seen_at, idle_expires_at).await
        }
        async fn save_data(
            &self,
            key: &SessionKey,
            expected_version: u64,
            data: &SessionData,
        ) -> Result<u64, StoreError> {
            self.store.save_data(key, expected_version, data).await
        }
        async fn delete(&self, key: &SessionKey) -> Result<bool, StoreError> {
            self.store.delete(key).await
        }
        async fn delete_by_handle(
            &self,
            user_id: &str,
            handle: &SessionHandle,
        ) -> Result<bool, StoreError> {
            self.store.delete_by_handle(user_id, handle).await
        }
        async fn delete_user(&self, user_id: &str) -> Result<u64, StoreError> {
            self.store.delete_user(user_id).await
        }
        async fn list_user(
            &self,
            user_id: &str,
        ) -> Result<Vec<(SessionKey, SessionRecord)>, StoreError> {
            self.store.list_user(user_id).await
        }
        async fn count_active(&self, now: Timestamp) -> Result<u64, StoreError> {
            self.store.count_active(now).await
        }
        async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
            self.store.purge_expired(now).await
        }
    }

    #[async_trait]
    impl RotatingStore for TempPostgres {
        async fn rotate(
            &self,
            old: &SessionKey,
            new: &SessionKey,
            now: Timestamp,
        ) -> Result<Rotation, StoreError> {
            self.store.rotate(old, new, now).await
        }
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
