//! The users and keys database: SQLite (the embedded default) or PostgreSQL (many nodes).

use std::sync::Arc;

use cloakroom::revocation::RevocationStore;
use cloakroom::session::{RotatingStore, SessionStore};
use cloakroom::store::{PostgresOptions, PostgresStore, SqliteStore, StoreError};
use cloakroom::token::KeyStore;
use cloakroom::user::UserStore;

use crate::error::Error;
use crate::settings::{Database, Settings};

/// The database `database_url` names, with its migrations run. Cheap to clone.
#[derive(Debug, Clone)]
pub enum DatabaseStore {
    /// A SQLite file (or URL).
    Sqlite(SqliteStore),
    /// A PostgreSQL database.
    Postgres(PostgresStore),
}

impl DatabaseStore {
    /// Opens (and for SQLite creates) the database and brings its schema up to date.
    pub async fn open(settings: &Settings) -> Result<Self, Error> {
        match settings.database()? {
            Database::Postgres(url) => {
                let p = &settings.postgres;
                let options = PostgresOptions {
                    schema: p.schema.clone(),
                    max_connections: p.max_connections,
                    acquire_timeout: p.acquire_timeout,
                    ..PostgresOptions::default()
                };
                PostgresStore::connect_with(&url, options)
                    .await
                    .map(Self::Postgres)
                    .map_err(|source| Error::OpenStore {
                        what: "PostgreSQL database",
                        location: Database::Postgres(url).describe(),
                        source,
                    })
            }
            sqlite => super::sqlite::open(sqlite).await.map(Self::Sqlite),
        }
    }

    /// `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// The users.
    pub fn users(&self) -> Arc<dyn UserStore> {
        match self {
            Self::Sqlite(s) => Arc::new(s.clone()),
            Self::Postgres(p) => Arc::new(p.clone()),
        }
    }

    /// The signing keys.
    pub fn keys(&self) -> Arc<dyn KeyStore> {
        match self {
            Self::Sqlite(s) => Arc::new(s.clone()),
            Self::Postgres(p) => Arc::new(p.clone()),
        }
    }

    /// The stored deny-list.
    pub fn revocations(&self) -> Arc<dyn RevocationStore> {
        match self {
            Self::Sqlite(s) => Arc::new(s.clone()),
            Self::Postgres(p) => Arc::new(p.clone()),
        }
    }

    /// The sessions kept in this database, once as a plain store and once as the rotating
    /// store refresh sessions need: two handles to the same sessions.
    pub fn sessions(&self) -> (Arc<dyn SessionStore>, Arc<dyn RotatingStore>) {
        match self {
            Self::Sqlite(s) => (Arc::new(s.clone()), Arc::new(s.clone())),
            Self::Postgres(p) => (Arc::new(p.clone()), Arc::new(p.clone())),
        }
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(s) => s.ping().await,
            Self::Postgres(p) => p.ping().await,
        }
    }

    /// Rewrites a SQLite database and empties its write-ahead log, so that replaced values
    /// (signing keys before they were encrypted) do not linger in free pages. PostgreSQL drops
    /// old row versions at its next `VACUUM`; docs/PRODUCTION.md says to run one.
    pub async fn compact(&self) -> Result<(), StoreError> {
        if let Self::Sqlite(s) = self {
            sqlx::query("VACUUM").execute(s.pool()).await?;
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(s.pool())
                .await?;
        }
        Ok(())
    }

    /// Closes every connection; later calls fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        match self {
            Self::Sqlite(s) => s.close().await,
            Self::Postgres(p) => p.close().await,
        }
    }
}
