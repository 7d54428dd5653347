//! The `[limits]` table: what one connection and all of them together may take.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Settings;
use super::checks::invalid;
use crate::error::Error;

/// The `[limits]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// The most connections served at once; past it, new ones are answered 503 and closed.
    /// Default 2048.
    pub max_connections: usize,
    /// A client must send a request's line and headers within this, or its connection is
    /// closed (slowloris). Idle keep-alive connections are closed after it too. Default 10s.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// The largest request line and headers, in bytes; larger gets 431. Default 16384.
    pub max_header_bytes: usize,
    /// The most connections one client address (an IPv6 /64) holds at once; past it, its new
    /// ones are answered 503, so that one client with slow request heads cannot take every
    /// slot. Trusted proxies (`trusted_proxies`) are not capped: they carry everyone.
    /// Default 512 (a quarter of `max_connections`: many users behind one NAT share an address).
    pub max_connections_per_client: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            max_connections: 2048,
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            max_connections_per_client: 512,
        }
    }
}

impl Settings {
    /// Checks the `[limits]` table.
    pub(super) fn check_limits(&self) -> Result<(), Error> {
        let l = &self.limits;
        if !(1..=1_000_000).contains(&l.max_connections) {
            return Err(invalid(
                "limits.max_connections",
                "must be between 1 and 1000000",
            ));
        }
        if !(Duration::from_millis(100)..=Duration::from_secs(300)).contains(&l.header_read_timeout)
        {
            return Err(invalid(
                "limits.header_read_timeout",
                "must be between 100ms and 5m",
            ));
        }
        if l.max_connections_per_client == 0 {
            return Err(invalid(
                "limits.max_connections_per_client",
                "must be at least 1 (above limits.max_connections it changes nothing)",
            ));
        }
        if !(4096..=1024 * 1024).contains(&l.max_header_bytes) {
            return Err(invalid(
                "limits.max_header_bytes",
                "must be between 4096 and 1048576",
            ));
        }
        Ok(())
    }
}
