//! The sign-in throttle the settings ask for. Every password check of every door goes through
//! it, inside the authority ([`cloakroom::authority::Authority::check_password`]).

use std::sync::Arc;

use cloakroom::clock::SharedClock;
use cloakroom::throttle::{LoginThrottle, MemoryThrottle, RedisThrottle};

use crate::error::Error;
use crate::settings::{Settings, redact_url};

/// The sign-in throttle the settings ask for: with `session_store = "redis://…"` the counts
/// live in Redis, shared by every node (one atomic script per attempt); otherwise, with a
/// `postgres://` `database_url`, in PostgreSQL, shared the same way (one transaction under row
/// locks per attempt, on a pool of its own of `postgres.max_connections`); so that nodes
/// cannot race past the limits together. Otherwise (SQLite: one node) a [`MemoryThrottle`] of
/// this node, bounded by `login.max_tracked`.
pub async fn throttle_for(
    settings: &Settings,
    clock: SharedClock,
) -> Result<Arc<dyn LoginThrottle>, Error> {
    let policy = settings.throttle_policy()?;
    if let Some(url) = settings.session_store().redis_url() {
        let throttle = RedisThrottle::connect(url, &settings.redis.namespace, policy)
            .await
            .map_err(|source| Error::OpenStore {
                what: "Redis sign-in throttle",
                location: redact_url(url),
                source,
            })?;
        return Ok(Arc::new(throttle));
    }
    if let crate::settings::Database::Postgres(url) = settings.database()? {
        let p = &settings.postgres;
        let options = cloakroom::store::PostgresOptions {
            schema: p.schema.clone(),
            max_connections: p.max_connections,
            acquire_timeout: p.acquire_timeout,
            ..cloakroom::store::PostgresOptions::default()
        };
        let store = cloakroom::store::PostgresStore::connect_with(&url, options)
            .await
            .map_err(|source| Error::OpenStore {
                what: "PostgreSQL sign-in throttle",
                location: crate::settings::Database::Postgres(url.clone()).describe(),
                source,
            })?;
        return Ok(Arc::new(cloakroom::throttle::PostgresThrottle::new(
            &store, policy,
        )));
    }
    Ok(Arc::new(
        MemoryThrottle::new(policy, settings.login.max_tracked).with_clock(clock),
    ))
}
