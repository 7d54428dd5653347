//! The stores: where sessions and users are kept.
//!
//! - [`MemoryStore`] (feature `memory`): in this process; fast, gone on restart.
//! - [`SqliteStore`] (feature `sqlite`): a file, with migrations and WAL; the embedded default.
//! - [`PostgresStore`] (feature `postgres`): a PostgreSQL database shared by many nodes, for
//!   sessions, users, and with `jwt` keys and the deny-list.
//! - [`RedisStore`] (feature `redis`): a Redis server shared by many nodes; keys expire with
//!   their sessions.
//!
//! Each is a [`SessionStore`](crate::session::SessionStore); the SQLite one is also a
//! [`UserStore`](crate::user::UserStore).

mod cache;
#[cfg(feature = "test-suite")]
pub mod conformance;
mod error;
#[cfg(feature = "memory")]
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "redis")]
pub use self::redis::RedisStore;
#[cfg(all(feature = "redis", feature = "jwt"))]
pub use self::redis::{RedisBus, RedisRevocationStore};
pub use cache::{CacheConfig, CacheHandle, CachingStore, Invalidation, InvalidationSink};
pub use error::{BoxError, StoreError};
#[cfg(feature = "memory")]
pub use memory::MemoryStore;
#[cfg(all(feature = "postgres", feature = "jwt"))]
pub use postgres::PostgresBus;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresOptions, PostgresStore};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
