//! What every PostgreSQL test shares: finding the server, and throwaway schemas.
//!
//! Also compiled into `store_conformance.rs` (through `#[path]`), so it holds only what both use.

use std::io::Write as _;
use std::sync::OnceLock;
use std::time::Duration;

use sqlx::Connection as _;

/// The PostgreSQL the tests run against (trust auth, database `test`); `.ci/run` starts it
/// when it is down. `CLOAKROOM_TEST_POSTGRES_URL` points the tests elsewhere.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The test database's URL, if it answers. When it does not: under CI (`CI` set to anything
/// but empty, `0` or `false`) the test fails, since a skipped test would pass silently;
/// elsewhere this warns loudly on stderr and returns `None`, and the test returns early.
///
/// ```ignore
/// let Some(url) = support::postgres_url() else { return };
/// ```
pub fn postgres_url() -> Option<&'static str> {
    static PROBE: OnceLock<(String, Result<(), String>)> = OnceLock::new();
    let (url, probe) = PROBE.get_or_init(|| {
        let url =
            std::env::var("CLOAKROOM_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_URL.into());
        let probe = on_own_runtime({
            let url = url.clone();
            async move {
                let mut conn = sqlx::PgConnection::connect(&url).await?;
                sqlx::query("SELECT 1").execute(&mut conn).await?;
                conn.close().await
            }
        });
        (url, probe)
    });
    match probe {
        Ok(()) => Some(url.as_str()),
        Err(e) if in_ci() => panic!("PostgreSQL at {url} is required under CI: {e}"),
        Err(e) => {
            // Straight to the stderr handle: libtest captures `eprintln!` of passing tests,
            // and this warning must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
                 !!! SKIPPED: PostgreSQL at {url} does not answer ({e}).\n\
                 !!! This PostgreSQL test did NOT run. Start PostgreSQL, or set CI=true\n\
                 !!! to make this a failure.\n\
                 !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
            );
            None
        }
    }
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// Runs `task` to completion on a runtime of its own, on a thread of its own: callable from
/// sync code, from `Drop`, and from inside another runtime alike. Gives up after 10 s.
fn on_own_runtime<F>(task: F) -> Result<(), String>
where
    F: Future<Output = Result<(), sqlx::Error>> + Send + 'static,
{
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            match tokio::time::timeout(Duration::from_secs(10), task).await {
                Ok(result) => result.map_err(|e| e.to_string()),
                Err(_) => Err("timed out after 10 s".to_owned()),
            }
        })
    })
    .join()
    .unwrap_or_else(|_| Err("the probe panicked".to_owned()))
}

/// A fresh schema, so that tests running in parallel on the one database never share
/// tables. It is dropped, with everything in it, when this is dropped, even when the test
/// fails. Create the stores that use it after it, so that they are dropped first.
#[derive(Debug)]
pub struct TempSchema {
    url: String,
    name: String,
}

impl TempSchema {
    /// A new, random schema name on the database at `url` (the store creates the schema).
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            name: format!("t_{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// The schema's name, for `PostgresOptions::schema`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TempSchema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        let dropped = on_own_runtime(async move {
            let mut conn = sqlx::PgConnection::connect(&url).await?;
            // Never wait long on a lock that a leaked connection of a failed test holds.
            sqlx::query("SET lock_timeout = '5s'")
                .execute(&mut conn)
                .await?;
            sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                .execute(&mut conn)
                .await?;
            conn.close().await
        });
        if let Err(e) = dropped {
            eprintln!("could not drop schema {}: {e}", self.name);
        }
    }
}
