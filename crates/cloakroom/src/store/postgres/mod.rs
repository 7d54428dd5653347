//! Sessions, users, signing keys and the deny-list in PostgreSQL: the store many nodes share.

#[cfg(feature = "jwt")]
mod bus;
mod error;
#[cfg(feature = "jwt")]
mod keys;
#[cfg(feature = "jwt")]
mod revocations;
mod rotate;
mod sessions;
mod users;

use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::StoreError;
#[cfg(feature = "jwt")]
pub use bus::PostgresBus;
use error::{config, db, migrate};

/// The embedded migrations, run at every connect. sqlx holds an advisory lock while it runs
/// them, so nodes that start at once apply each migration once.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How a [`PostgresStore`] connects: the pool's bounds and, optionally, a schema of its own.
///
/// ```
/// use cloakroom::store::PostgresOptions;
///
/// let options = PostgresOptions {
///     max_connections: 20,
///     ..PostgresOptions::default()
/// }
/// .with_schema("cloakroom");
/// assert_eq!(options.schema.as_deref(), Some("cloakroom"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// The schema the store's tables live in; it is created if missing, and every connection
    /// of the pool looks there first (`search_path`). `None`: the server's default search path
    /// (normally `public`). Lowercase ASCII letters, digits and `_`, not starting with a
    /// digit, at most 63 bytes: it is spliced into SQL, so nothing else is accepted.
    pub schema: Option<String>,
    /// The most connections the pool opens.
    pub max_connections: u32,
    /// The connections the pool keeps open even when idle.
    pub min_connections: u32,
    /// How long a caller waits for a connection (including opening one) before the store
    /// counts as [`StoreError::Unavailable`].
    pub acquire_timeout: Duration,
    /// How long an idle connection above `min_connections` is kept; `None`: forever.
    pub idle_timeout: Option<Duration>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            schema: None,
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(5),
            idle_timeout: Some(Duration::from_secs(600)),
        }
    }
}

impl PostgresOptions {
    /// These options with the tables in `schema`.
    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }
}

/// Sessions (rotating refresh sessions too), users and, with feature `jwt`, signing keys and
/// the deny-list, kept in PostgreSQL: what several nodes share. Every write that two nodes
/// could race is one statement or one transaction whose row lock decides the winner.
///
/// Connecting brings the schema up to date. A server that cannot be reached, or a pool with
/// no free connection within the acquire timeout, is [`StoreError::Unavailable`] (with the
/// cause); the pool reconnects by itself when the server is back. Cheap to clone.
///
/// ```no_run
/// use cloakroom::auth::SessionManager;
/// use cloakroom::session::{ClientInfo, SessionPolicy, SessionUser};
/// use cloakroom::store::PostgresStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = PostgresStore::connect("postgres://cloakroom@db.internal/cloakroom").await?;
/// store.ping().await?;
///
/// let sessions = SessionManager::new(store.clone(), SessionPolicy::default());
/// let (id, _) = sessions.start(SessionUser::new("1", "Ada"), ClientInfo::default()).await?;
/// assert_eq!(sessions.authenticate(&id).await?.record.user.name, "Ada");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database a `postgres://` URL names, with the default
    /// [`PostgresOptions`], and brings its schema up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, PostgresOptions::default()).await
    }

    /// Connects with `options`: a sized pool, and the tables in `options.schema` if set.
    pub async fn connect_with(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(config(format!(
                "not a PostgreSQL URL (postgres://user@host/db): {url:?}"
            )));
        }
        let mut connect = PgConnectOptions::from_str(url).map_err(db)?;
        if let Some(schema) = &options.schema {
            check_schema(schema)?;
            // A startup parameter rather than a `SET` after connecting: no extra round trip,
            // and a pooled connection can never be seen without it.
            connect = connect.options([("search_path", schema)]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .min_connections(options.min_connections)
            .acquire_timeout(options.acquire_timeout)
            .idle_timeout(options.idle_timeout)
            .connect_with(connect)
            .await
            .map_err(db)?;
        if let Some(schema) = &options.schema {
            create_schema(&pool, schema).await?;
        }
        MIGRATOR.run(&pool).await.map_err(migrate)?;
        Ok(Self { pool })
    }

    /// The pool, for features that keep their own tables in the same database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Checks that the database answers, for readiness probes.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    /// Closes every connection, waiting for them to finish; later calls fail with
    /// [`StoreError::Unavailable`]. Dropping the last clone closes them too, without waiting.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Refuses a schema name that would need quoting: it is spliced into SQL.
fn check_schema(schema: &str) -> Result<(), StoreError> {
    let mut chars = schema.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && schema.len() <= 63
        && !schema.starts_with("pg_");
    if valid {
        Ok(())
    } else {
        Err(config(format!(
            "invalid schema name {schema:?}: use lowercase letters, digits and _"
        )))
    }
}

/// Creates the schema unless it exists. Nodes starting at once may race on it: losing that
/// race means the schema is there, which is all that is needed.
async fn create_schema(pool: &PgPool, schema: &str) -> Result<(), StoreError> {
    let sql = format!("CREATE SCHEMA IF NOT EXISTS {schema}");
    match sqlx::query(&sql).execute(pool).await {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(e))
            if e.is_unique_violation() || e.code().as_deref() == Some("42P06") =>
        {
            Ok(())
        }
        Err(e) => Err(db(e)),
    }
}

/// A `u64` for a BIGINT column; values past `i64::MAX` cannot be stored.
fn to_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|e| StoreError::Backend(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_schema_names_are_accepted() {
        for ok in ["t_0123abcd", "cloakroom", "_x"] {
            assert!(check_schema(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(64);
        for bad in [
            "",
            "Upper",
            "9lives",
            "a-b",
            "a;drop",
            "\"q\"",
            "pg_catalog",
            long.as_str(),
        ] {
            assert!(
                matches!(check_schema(bad), Err(StoreError::Backend(_))),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn other_urls_are_refused_before_connecting() {
        for url in ["sqlite://x.db", "redis://127.0.0.1", "", "postgres:/x"] {
            let got = PostgresStore::connect(url).await;
            assert!(matches!(got, Err(StoreError::Backend(_))), "{url}");
        }
        let bad_schema = PostgresOptions::default().with_schema("no way");
        let got = PostgresStore::connect_with("postgres://127.0.0.1:1/x", bad_schema).await;
        assert!(matches!(got, Err(StoreError::Backend(_))));
    }
}
