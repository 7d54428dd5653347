//! The `[redis]` and `[postgres]` tables: how the shared stores of a many-node deployment are
//! reached. They matter only when `session_store` is a `redis://` URL or `database_url` a
//! `postgres://` one.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The `[redis]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisSettings {
    /// The prefix of every key and of the bus channel (default `cloakroom`): deployments that
    /// share one Redis keep apart by it. 1 to 64 ASCII letters, digits, `.`, `_` or `-`.
    pub namespace: String,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            namespace: "cloakroom".to_owned(),
        }
    }
}

/// The `[postgres]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresSettings {
    /// The schema the tables live in, created if missing; unset (the default): the server's
    /// search path, normally `public`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The most connections this node opens (default 10).
    pub max_connections: u32,
    /// How long a request waits for a connection before failing with 503 (default 5 s).
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
}

impl Default for PostgresSettings {
    fn default() -> Self {
        Self {
            schema: None,
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}
