//! The sign-in throttle the settings ask for. Every password check of every door goes through
//! it, inside the authority ([`cloakroom::authority::Authority::check_password`]).

use std::sync::Arc;

use cloakroom::clock::SharedClock;
use cloakroom::throttle::{LoginThrottle, MemoryThrottle, RedisThrottle};

use crate::error::Error;
use crate::settings::{Settings, redact_url};

/// The sign-in throttle the settings ask for: with `session_store = "redis://…"` the counts
/// live in Redis, shared by every node (one atomic script per attempt, so nodes cannot race
/// past `login.max_failures` together); otherwise a [`MemoryThrottle`] of this node, bounded by
/// `login.max_tracked`.
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
    Ok(Arc::new(
        MemoryThrottle::new(policy, settings.login.max_tracked).with_clock(clock),
    ))
}
