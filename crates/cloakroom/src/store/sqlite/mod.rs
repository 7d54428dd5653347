//! Sessions and users in one SQLite file: the embedded default.

/// Runs a query on a read connection: `read!(store, query, fetch_optional)`.
macro_rules! read {
    ($store:expr, $query:expr, $fetch:ident) => {{
        let mut reader = $store.readers.get().await?;
        let result = $query.$fetch(reader.conn()?).await;
        reader.check(result)
    }};
}

#[cfg(feature = "jwt")]
mod keys;
mod readers;
#[cfg(feature = "jwt")]
mod revocations;
mod rotate;
mod sessions;
mod users;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::StoreError;
use readers::Readers;

/// How long a statement waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a caller waits for a free connection before the store counts as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Bounds on the number of read connections; each is one worker thread in sqlx.
const MIN_READERS: usize = 2;
const MAX_READERS: usize = 8;
/// Page cache of each read connection, in KiB (negative: SQLite's unit for a size in KiB),
/// filled only as pages are read. Sessions are looked up in no particular order, so with
/// SQLite's default of 2 MiB a lookup in 10 000 sessions (about 4 MiB) often went to the file
/// again, which made it about 30% slower (docs/PERFORMANCE.md).
const READER_CACHE_SIZE: &str = "-16384";

/// The embedded migrations, run at every open; later features add their tables here.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Sessions and users kept in a SQLite file, with embedded migrations, WAL journaling and
/// `synchronous=NORMAL`: a committed write survives a crash of the process (a power cut may
/// lose the last few), and readers never wait for the writer.
///
/// Writes go through one connection, since SQLite admits one writer at a time anyway and this
/// keeps the process's own writers from failing with "database is locked"; reads (the hot
/// path of every request) go through a few query-only connections of their own. Cheap to
/// clone.
///
/// ```
/// use cloakroom::auth::SessionManager;
/// use cloakroom::session::{ClientInfo, SessionPolicy, SessionUser};
/// use cloakroom::store::SqliteStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let name = format!("cloakroom-doc-{}.db", u64::from_le_bytes(cloakroom::random::bytes()?));
/// let path = std::env::temp_dir().join(name);
/// let store = SqliteStore::open(&path).await?;
/// store.ping().await?;
///
/// let sessions = SessionManager::new(store.clone(), SessionPolicy::default());
/// let (id, _) = sessions.start(SessionUser::new("1", "Ada"), ClientInfo::default()).await?;
/// assert_eq!(sessions.authenticate(&id).await?.record.user.name, "Ada");
/// # store.close().await;
/// # for suffix in ["", "-wal", "-shm"] {
/// #     let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
/// # }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// One read-write connection.
    writer: SqlitePool,
    /// Query-only connections to the same database.
    readers: Arc<Readers>,
}

impl SqliteStore {
    /// Opens the database file at `path`, creating it if it is missing, and brings its schema
    /// up to date.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        Self::with_options(options, false).await
    }

    /// Opens the database a URL names: `sqlite://path`, `sqlite:path`, or `sqlite::memory:`
    /// for a private database that lives as long as the store. A missing file is created;
    /// the schema is brought up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        // sqlx would take anything else for a file name, e.g. create `postgres:` directories.
        if !url.starts_with("sqlite:") {
            let e = format!("not a SQLite URL (sqlite://path): {url:?}");
            return Err(StoreError::Backend(Box::new(sqlx::Error::Configuration(
                e.into(),
            ))));
        }
        let options = SqliteConnectOptions::from_str(url)?.create_if_missing(true);
        Self::with_options(options, is_in_memory(url)).await
    }

    async fn with_options(
        options: SqliteConnectOptions,
        in_memory: bool,
    ) -> Result<Self, StoreError> {
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        // A local file cannot hang up like a socket: pinging before every acquire would only
        // add a round trip to the connection's worker thread on the hot path.
        let pool_options = || {
            SqlitePoolOptions::new()
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .test_before_acquire(false)
        };
        let writer_options = if in_memory {
            // The database is gone once its last connection closes: keep that one forever.
            pool_options()
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            pool_options()
        };
        let writer = writer_options
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        MIGRATOR
            .run(&writer)
            .await
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let readers = std::thread::available_parallelism()
            .map_or(MIN_READERS, usize::from)
            .clamp(MIN_READERS, MAX_READERS);
        // Not SQLITE_OPEN_READONLY: such a connection cannot recreate the WAL index after the
        // writer closed; `query_only` refuses writes just the same.
        let options = options
            .pragma("query_only", "ON")
            .pragma("cache_size", READER_CACHE_SIZE);
        let readers = Readers::open(options, readers, ACQUIRE_TIMEOUT).await?;
        Ok(Self {
            writer,
            readers: Arc::new(readers),
        })
    }

    /// The read-write pool, for features that keep their own tables in the same file (add
    /// their migrations to `migrations/sqlite`). It has one connection: hold it briefly.
    pub fn pool(&self) -> &SqlitePool {
        &self.writer
    }

    /// Checks that the database answers, for readiness probes.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.writer).await?;
        read!(self, sqlx::query("SELECT 1"), execute)?;
        Ok(())
    }

    /// Closes every connection, waiting for them to finish; later calls fail with
    /// [`StoreError::Unavailable`]. Dropping the last clone closes them too, without waiting.
    pub async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
    }
}

/// Whether a SQLite URL names an in-memory database (sqlx's own reading of it is private).
fn is_in_memory(url: &str) -> bool {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    database == ":memory:" || params.split('&').any(|p| p == "mode=memory")
}

/// A value read back that the store cannot turn into its type.
fn corrupt(e: impl Into<super::BoxError>) -> StoreError {
    StoreError::Corrupt(e.into())
}

/// A `u64` for an INTEGER column; values past `i64::MAX` cannot be stored.
fn to_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|e| StoreError::Backend(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_memory_urls_are_recognised() {
        assert!(is_in_memory("sqlite::memory:"));
        assert!(is_in_memory("sqlite://:memory:"));
        assert!(is_in_memory("sqlite://x.db?mode=memory&cache=shared"));
        assert!(!is_in_memory("sqlite://cloakroom.db"));
        assert!(!is_in_memory("sqlite:data/memory.db?mode=rwc"));
    }

    #[tokio::test]
    async fn opens_with_the_pragmas_it_promises() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("c.db")).await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let read = || async {
            let fk: i64 = read!(store, sqlx::query_scalar("PRAGMA foreign_keys"), fetch_one)?;
            let sync: i64 = read!(store, sqlx::query_scalar("PRAGMA synchronous"), fetch_one)?;
            let cache: i64 = read!(store, sqlx::query_scalar("PRAGMA cache_size"), fetch_one)?;
            Ok::<_, StoreError>((fk, sync, cache.to_string()))
        };
        assert_eq!(
            read().await.unwrap(),
            (1, 1, READER_CACHE_SIZE.to_owned()),
            "foreign keys on, synchronous NORMAL, the larger cache"
        );
        store.ping().await.unwrap();
    }

    #[tokio::test]
    async fn readers_refuse_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("c.db")).await.unwrap();
        let write = async { read!(store, sqlx::query("DELETE FROM sessions"), execute) };
        assert!(write.await.is_err());
    }

    #[tokio::test]
    async fn connect_accepts_both_url_forms_and_memory() {
        let dir = tempfile::tempdir().unwrap();
        for url in [
            format!("sqlite://{}", dir.path().join("a.db").display()),
            format!("sqlite:{}", dir.path().join("b.db").display()),
            "sqlite::memory:".to_owned(),
        ] {
            let store = SqliteStore::connect(&url).await.unwrap();
            store.ping().await.unwrap();
        }
        assert!(dir.path().join("a.db").exists());
        assert!(dir.path().join("b.db").exists());
        let other = SqliteStore::connect("postgres://localhost/cloakroom").await;
        assert!(matches!(other, Err(StoreError::Backend(_))), "{other:?}");
    }

    #[tokio::test]
    async fn a_closed_store_is_unavailable() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        store.close().await;
        assert!(matches!(
            store.ping().await,
            Err(StoreError::Unavailable(_))
        ));
    }

    #[tokio::test]
    async fn a_database_from_a_newer_version_is_refused_with_its_cause() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let store = SqliteStore::open(&path).await.unwrap();
        // A migration this build does not know was applied by a newer build.
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (999999, 'from the future', 1, x'00', 0)",
        )
        .execute(store.pool())
        .await
        .unwrap();
        store.close().await;
        let err = SqliteStore::open(&path).await.unwrap_err();
        assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
        let cause = std::error::Error::source(&err).unwrap().to_string();
        assert!(cause.contains("999999"), "{cause}");
    }
}
