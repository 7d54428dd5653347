//! What every Redis test shares: finding the server, and throwaway namespaces.
//!
//! Also compiled into `store_conformance.rs` (through `#[path]`), so it holds only what both use.

use std::io::Write as _;
use std::sync::OnceLock;
use std::time::Duration;

/// The Redis the tests run against; `.ci/run` starts it when it is down.
pub const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// The test Redis, if it answers. When it does not: under CI (`CI` set to anything but empty,
/// `0` or `false`) the test fails, since a skipped test would pass silently; elsewhere this
/// warns loudly on stderr and returns `None`, and the test returns early.
///
/// ```ignore
/// let Some(url) = support::redis_url() else { return };
/// ```
pub fn redis_url() -> Option<&'static str> {
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    let probe = PROBE.get_or_init(|| {
        let client = redis::Client::open(REDIS_URL).map_err(|e| e.to_string())?;
        let mut conn = client
            .get_connection_with_timeout(Duration::from_secs(2))
            .map_err(|e| e.to_string())?;
        redis::cmd("PING")
            .query::<String>(&mut conn)
            .map(drop)
            .map_err(|e| e.to_string())
    });
    match probe {
        Ok(()) => Some(REDIS_URL),
        Err(e) if in_ci() => panic!("Redis at {REDIS_URL} is required under CI: {e}"),
        Err(e) => {
            // Straight to the stderr handle: libtest captures `eprintln!` of passing tests,
            // and this warning must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
                 !!! SKIPPED: Redis at {REDIS_URL} does not answer ({e}).\n\
                 !!! This Redis test did NOT run. Start Redis, or set CI=true to make\n\
                 !!! this a failure.\n\
                 !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
            );
            None
        }
    }
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// A fresh namespace, so that tests running in parallel never share keys. Every key under it
/// is deleted when it is dropped, even when the test fails.
#[derive(Debug)]
pub struct Namespace(String);

impl Namespace {
    /// A new, random namespace.
    pub fn new() -> Self {
        Self(format!("cloakroom-test-{}", uuid::Uuid::new_v4().simple()))
    }

    /// The namespace, to give to `RedisStore::connect`.
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // A blocking connection: drop cannot await, and the runtime may be shutting down.
        let cleanup = || -> redis::RedisResult<()> {
            let client = redis::Client::open(REDIS_URL)?;
            let mut conn = client.get_connection_with_timeout(Duration::from_secs(2))?;
            let pattern = format!("{}:*", self.0);
            let keys: Vec<Vec<u8>> = redis::cmd("SCAN")
                .cursor_arg(0)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .clone()
                .iter(&mut conn)?
                .collect::<Result<_, _>>()?;
            for chunk in keys.chunks(500) {
                redis::cmd("DEL").arg(chunk).exec(&mut conn)?;
            }
            Ok(())
        };
        if let Err(e) = cleanup() {
            eprintln!("could not delete the keys of namespace {}: {e}", self.0);
        }
    }
}
