//! The `[jwt]` table: signed access tokens (`jwt` and `hybrid` modes), their keys, and the
//! refresh sessions of `hybrid` mode.

use std::time::Duration;

use cloakroom::session::SessionPolicy;
use cloakroom::token::{
    Algorithm, DEFAULT_VERIFIED_CACHE_BYTES, KeyPolicy, TokenVerifier, Validation,
};
use serde::{Deserialize, Serialize};

use super::{Mode, Settings};
use crate::error::Error;

/// Access tokens live this long in `hybrid` mode, where refreshing is cheap.
const HYBRID_ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
/// Access tokens live this long in `jwt` mode, where the only way to a new one is to sign in.
const JWT_ACCESS_TTL: Duration = Duration::from_secs(3600);
/// The longest access-token lifetime accepted: a token cannot be taken back except through the
/// deny-list, so a day is already generous.
const MAX_ACCESS_TTL: Duration = Duration::from_secs(24 * 3600);
/// The most verified tokens remembered by the deprecated entry bound: about 1 GiB at worst.
const MAX_VERIFIED_CACHE: usize = 1_000_000;
/// The largest memory budget of the verified-token cache.
const MAX_VERIFIED_CACHE_BYTES: u64 = 16 * 1024 * 1024 * 1024;
/// The largest clock skew tolerated.
const MAX_LEEWAY: Duration = Duration::from_secs(300);
/// The longest reuse interval accepted: past a minute, a copied refresh token would be
/// answered rather than caught for too long.
const MAX_REUSE_INTERVAL: Duration = Duration::from_secs(60);

/// The `[jwt]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwtSettings {
    /// The algorithm of new signing keys (`EdDSA` by default). Changing it rotates to a key of
    /// the new algorithm at the next start.
    pub algorithm: Algorithm,
    /// How long an access token is valid; when unset, 15 minutes in `hybrid` mode and an hour
    /// in `jwt` mode.
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub access_ttl: Option<Duration>,
    /// How long a refresh session lasts from sign-in, however often it is refreshed (`hybrid`).
    #[serde(with = "humantime_serde")]
    pub refresh_ttl: Duration,
    /// How long a just-spent refresh token presented again gets the same successor instead of
    /// counting as reuse (`hybrid`): two tabs or a server-side render and its browser refresh
    /// at once. 5 s by default, whole seconds, at most 1m; `0s` makes every second
    /// presentation reuse. See docs/MODES.md.
    #[serde(with = "humantime_serde")]
    pub refresh_reuse_interval: Duration,
    /// The `aud` of every token, and what a token must name to be accepted.
    pub audience: String,
    /// The clock skew tolerated when checking `exp`, `nbf` and `iat`.
    #[serde(with = "humantime_serde")]
    pub leeway: Duration,
    /// Makes a new signing key this often, if set; `cloakroom keys rotate` does it by hand.
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub rotate_every: Option<Duration>,
    /// How often the server reloads keys and revocations that another process wrote to the
    /// database (`cloakroom keys rotate`, `cloakroom user remove`).
    #[serde(with = "humantime_serde")]
    pub reload_interval: Duration,
    /// How much memory, in bytes, the cache of verified access tokens may hold (128 MiB by
    /// default: about 170 000 tokens of ~780 bytes), so that a token presented again skips
    /// its signature check; the keys, the clock and the deny-list are still checked on every
    /// request. 0 turns the cache off.
    pub verified_cache_bytes: u64,
    /// Deprecated: the cache's bound as a number of tokens, whatever their size. When set, it
    /// replaces `verified_cache_bytes` (0 still turns the cache off); a warning says so at
    /// start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_cache: Option<usize>,
    /// A PEM file with the signing key (PKCS#8 `PRIVATE KEY`, of `algorithm`), instead of a
    /// generated one: at start it becomes the active key (the previous one keeps verifying its
    /// tokens). Automatic and `cloakroom keys` rotation are then off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_key_file: Option<std::path::PathBuf>,
}

impl JwtSettings {
    /// `verifier` with the verified-token cache these settings ask for.
    pub fn size_verified_cache(&self, verifier: TokenVerifier) -> TokenVerifier {
        match self.verified_cache {
            Some(entries) => {
                tracing::warn!(
                    entries,
                    "jwt.verified_cache (a number of tokens) is deprecated; \
                     use jwt.verified_cache_bytes (a memory budget)"
                );
                verifier.with_verified_cache(entries)
            }
            None => verifier.with_verified_cache_bytes(self.verified_cache_bytes),
        }
    }
}

impl Default for JwtSettings {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::EdDSA,
            access_ttl: None,
            refresh_ttl: Duration::from_secs(30 * 86_400),
            refresh_reuse_interval: cloakroom::session::DEFAULT_REUSE_INTERVAL,
            audience: "cloakroom".to_owned(),
            leeway: Duration::from_secs(30),
            rotate_every: None,
            reload_interval: Duration::from_secs(10),
            verified_cache_bytes: DEFAULT_VERIFIED_CACHE_BYTES,
            verified_cache: None,
            signing_key_file: None,
        }
    }
}

impl Settings {
    /// How long access tokens are valid in the configured mode.
    pub fn access_ttl(&self) -> Duration {
        self.jwt.access_ttl.unwrap_or(match self.mode {
            Mode::Jwt => JWT_ACCESS_TTL,
            Mode::Session | Mode::Hybrid => HYBRID_ACCESS_TTL,
        })
    }

    /// How keys are made, how long a replaced key keeps verifying, and when they rotate.
    pub fn key_policy(&self) -> KeyPolicy {
        KeyPolicy {
            algorithm: self.jwt.algorithm,
            max_token_ttl: self.access_ttl(),
            leeway: self.jwt.leeway,
            rotate_every: self.jwt.rotate_every,
        }
    }

    /// What a token must say: issued by `public_url`, for `jwt.audience`, within the leeway.
    pub fn validation(&self) -> Validation {
        Validation::new(self.public_url.clone(), self.jwt.audience.clone())
            .with_leeway(self.jwt.leeway)
    }

    /// The lifetime of a refresh session: `jwt.refresh_ttl` from sign-in. Refreshing is what
    /// keeps it in use, so it has no shorter idle timeout.
    pub fn refresh_policy(&self) -> Result<SessionPolicy, Error> {
        let ttl = self.jwt.refresh_ttl;
        SessionPolicy::new(ttl, ttl)
            .map_err(|e| super::checks::invalid_because("jwt.refresh_ttl", e))
    }

    /// Checks the `[jwt]` table.
    pub(super) fn check_jwt(&self) -> Result<(), Error> {
        use super::checks::invalid;
        let j = &self.jwt;
        if let Some(ttl) = j.access_ttl {
            if ttl < Duration::from_secs(1) || ttl > MAX_ACCESS_TTL {
                return Err(invalid("jwt.access_ttl", "must be between 1s and 24h"));
            }
        }
        self.refresh_policy()?;
        if j.refresh_ttl < self.access_ttl() {
            return Err(invalid(
                "jwt.refresh_ttl",
                "must not be shorter than jwt.access_ttl",
            ));
        }
        let audience_ok = !j.audience.trim().is_empty()
            && j.audience.len() <= 256
            && !j.audience.chars().any(char::is_control);
        if !audience_ok {
            return Err(invalid(
                "jwt.audience",
                "must be 1 to 256 characters, without control characters",
            ));
        }
        if j.refresh_reuse_interval > MAX_REUSE_INTERVAL
            || j.refresh_reuse_interval.subsec_nanos() != 0
        {
            return Err(invalid(
                "jwt.refresh_reuse_interval",
                "must be whole seconds, at most 1m",
            ));
        }
        if j.leeway > MAX_LEEWAY {
            return Err(invalid("jwt.leeway", "must be at most 5m"));
        }
        if j.rotate_every
            .is_some_and(|every| every < Duration::from_secs(60))
        {
            return Err(invalid("jwt.rotate_every", "must be at least 1m"));
        }
        if j.verified_cache.is_some_and(|n| n > MAX_VERIFIED_CACHE) {
            return Err(invalid("jwt.verified_cache", "must be at most 1000000"));
        }
        if j.verified_cache_bytes > MAX_VERIFIED_CACHE_BYTES {
            return Err(invalid(
                "jwt.verified_cache_bytes",
                "must be at most 17179869184 (16 GiB)",
            ));
        }
        if j.reload_interval < Duration::from_secs(1) {
            return Err(invalid(
                "jwt.reload_interval",
                "must be at least one second",
            ));
        }
        Ok(())
    }
}
