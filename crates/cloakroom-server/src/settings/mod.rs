//! Settings, layered lowest first: built-in defaults, the TOML file given with `--config`,
//! `CLOAKROOM_*` environment variables (nested keys joined by `__`), then command-line flags.
//!
//! Every table refuses unknown keys, and [`Settings::load`] checks values that the types alone
//! cannot (timeouts that fit together, a URL that parses), so a typo stops start-up with a
//! message that names the key instead of being ignored.

mod backends;
mod checks;
#[cfg(test)]
mod hardening_tests;
mod jwt;
mod limits;
mod load;
mod login;
mod proxies;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use cloakroom::session::SessionPolicy;
use serde::{Deserialize, Serialize};

pub use backends::{PostgresSettings, RedisSettings};
pub use jwt::JwtSettings;
pub use limits::LimitSettings;
pub use login::{LoginSettings, PasswordSettings};
pub use proxies::ForwardedHeaderName;

/// The prefix of the environment variables that set settings.
pub const ENV_PREFIX: &str = "CLOAKROOM_";

/// How the server remembers who is signed in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Server-side sessions: an opaque ID in a cookie, the record in the session store.
    Session,
    /// Signed access tokens only: the server keeps its keys and a deny-list, nothing else.
    Jwt,
    /// Short-lived access tokens and rotating refresh tokens backed by refresh sessions: the
    /// default.
    #[default]
    Hybrid,
}

impl Mode {
    /// The mode's name, as in the settings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Jwt => "jwt",
            Self::Hybrid => "hybrid",
        }
    }

    /// Whether requests are authenticated by access tokens (`jwt` and `hybrid`).
    pub fn uses_tokens(self) -> bool {
        matches!(self, Self::Jwt | Self::Hybrid)
    }
}

/// Where sessions are kept: `memory`, `sqlite`, `postgres` or a `redis://` URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SessionStoreKind {
    /// In the server's memory: fast, bounded by `session.max_sessions`, gone on restart.
    Memory,
    /// In the SQLite database named by `database_url`, next to the users.
    Sqlite,
    /// In the PostgreSQL database named by `database_url`, next to the users: shared by
    /// every node that uses it.
    Postgres,
    /// In Redis at this URL, with the deny-list and the revocation bus: shared by every node.
    Redis(String),
}

impl SessionStoreKind {
    /// The store's name, as in the settings, without a URL's credentials.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::Redis(_) => "redis",
        }
    }

    /// The Redis URL, for `redis://…`.
    pub fn redis_url(&self) -> Option<&str> {
        match self {
            Self::Redis(url) => Some(url),
            _ => None,
        }
    }
}

impl TryFrom<String> for SessionStoreKind {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        match value.as_str() {
            "memory" => Ok(Self::Memory),
            "sqlite" => Ok(Self::Sqlite),
            "postgres" => Ok(Self::Postgres),
            url if url.starts_with("redis://") || url.starts_with("rediss://") => {
                Ok(Self::Redis(value))
            }
            other => Err(format!(
                "unknown session store {other:?}: expected memory, sqlite, postgres or a \
                 redis:// URL"
            )),
        }
    }
}

impl From<SessionStoreKind> for String {
    fn from(kind: SessionStoreKind) -> Self {
        match kind {
            SessionStoreKind::Redis(url) => url,
            other => other.as_str().to_owned(),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per event, for log collectors.
    Json,
}

/// All settings of the server and the `user` commands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// How the server remembers who is signed in.
    pub mode: Mode,
    /// The address to listen on.
    pub listen: SocketAddr,
    /// Where relative paths (e.g. the SQLite file) are resolved.
    pub data_dir: PathBuf,
    /// The users and keys database: `sqlite://FILE` or `postgres://…` (and the sessions, with
    /// `session_store` `sqlite` or `postgres`).
    pub database_url: String,
    /// Where sessions are kept; unset: in the database (see [`Settings::session_store`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_store: Option<SessionStoreKind>,
    /// The URL clients reach the server at, and the `iss` of its tokens; with `https` the
    /// session cookie is `Secure` and named with the `__Host-` prefix. When no layer sets it,
    /// [`Settings::load`] makes it `http://` and the listen address.
    pub public_url: String,
    /// Session lifetime and cookie.
    pub session: SessionSettings,
    /// Access tokens, their keys, and refresh sessions.
    pub jwt: JwtSettings,
    /// The Redis connection's namespace, when `session_store` is a `redis://` URL.
    pub redis: RedisSettings,
    /// The PostgreSQL pool, when `database_url` is a `postgres://` URL.
    pub postgres: PostgresSettings,
    /// Logging.
    pub log: LogSettings,
    /// Failed sign-ins: how many, in what window, and the lockouts.
    pub login: LoginSettings,
    /// What passwords must be.
    pub password: PasswordSettings,
    /// Connections and request heads: how many, how slow, how large.
    pub limits: LimitSettings,
    /// Reverse proxies (addresses or CIDR ranges) whose `forwarded_header` is believed.
    /// Default none: the client's address is the TCP peer's.
    #[serde(deserialize_with = "proxies::list_or_commas")]
    pub trusted_proxies: Vec<String>,
    /// The header trusted proxies report the client's address in. Default `x-forwarded-for`.
    pub forwarded_header: ForwardedHeaderName,
    /// Serves `/metrics` on this address instead of the main listener (which then has no
    /// `/metrics`). Keep it private: it tells who signs in how often.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,
    /// A file holding the key-encryption key (32 bytes as 64 hex digits, or base64) that
    /// encrypts the signing keys in the database; or set `CLOAKROOM_KEY_ENCRYPTION_KEY`.
    /// Unset: the signing keys are stored in clear.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_encryption_key_file: Option<PathBuf>,
    /// Hashes passwords with the cheapest argon2 parameters instead of OWASP's. For the
    /// test-suite only: passwords hashed this way are cheap to crack.
    #[doc(hidden)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub insecure_fast_hashing_for_tests: bool,
}

/// The `[session]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    /// A session ends after this long without a request.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, however busy.
    #[serde(with = "humantime_serde")]
    pub absolute_timeout: Duration,
    /// The session cookie's name (`__Host-` is prefixed when `public_url` is https).
    pub cookie_name: String,
    /// The last-seen time is written at most this often; default a tenth of `idle_timeout`.
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub touch_interval: Option<Duration>,
    /// The most sessions the memory store holds.
    pub max_sessions: usize,
    /// How often ended sessions are deleted from the store.
    #[serde(with = "humantime_serde")]
    pub purge_interval: Duration,
    /// `session` mode on a shared store (Redis, PostgreSQL): how long each node may answer
    /// from its own copy of a session instead of asking the store. A logout reaches every
    /// node's copy at once over the revocation bus; if the bus is down, a copy is never used
    /// longer than this. `0s` (the default) turns the near-cache off.
    #[serde(with = "humantime_serde")]
    pub near_cache: Duration,
    /// `session` mode on SQLite: how long this node may answer from its own copy of a session
    /// record instead of reading the file (1 s by default). Its own writes (sign-out, touch,
    /// rotation) update or drop the copy at once; a session ended by another process sharing
    /// the file (`cloakroom user remove`, another node) stops working within this bound.
    /// `0s` turns it off.
    #[serde(with = "humantime_serde")]
    pub sqlite_cache: Duration,
}

/// The `[log]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: LogFormat,
    /// Which events to write, in `tracing-subscriber`'s `EnvFilter` syntax, e.g. `info` or
    /// `info,cloakroom=debug`.
    pub filter: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mode: Mode::Hybrid,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("."),
            database_url: "sqlite://cloakroom.db".to_owned(),
            session_store: None,
            public_url: "http://127.0.0.1:8080".to_owned(),
            session: SessionSettings::default(),
            jwt: JwtSettings::default(),
            redis: RedisSettings::default(),
            postgres: PostgresSettings::default(),
            log: LogSettings::default(),
            login: LoginSettings::default(),
            password: PasswordSettings::default(),
            limits: LimitSettings::default(),
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeaderName::default(),
            metrics_listen: None,
            key_encryption_key_file: None,
            insecure_fast_hashing_for_tests: false,
        }
    }
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle_timeout: SessionPolicy::DEFAULT_IDLE,
            absolute_timeout: SessionPolicy::DEFAULT_ABSOLUTE,
            cookie_name: "cloakroom_session".to_owned(),
            touch_interval: None,
            max_sessions: 100_000,
            purge_interval: Duration::from_secs(60),
            near_cache: Duration::ZERO,
            sqlite_cache: Duration::from_secs(1),
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info".to_owned(),
        }
    }
}

/// Settings given as command-line flags: the highest layer. `None` leaves the lower layers be.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    /// `--listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// `--mode`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
}

/// Where the users database is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file, its path resolved against `data_dir`.
    File(PathBuf),
    /// A SQLite URL passed on as it is (in-memory databases, or URLs with options).
    Url(String),
    /// A PostgreSQL URL.
    Postgres(String),
}

impl Database {
    /// Where the database is, for people: a path, or the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Url(url) | Self::Postgres(url) => redact_url(url),
        }
    }
}

/// `url` with the password of its user-info replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let tail = redact_query(tail);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info
                .split_once(':')
                .map_or(user_info, |(user, _)| user);
            if user_info.contains(':') {
                format!("{scheme}://{user}:***@{host}{tail}")
            } else {
                format!("{scheme}://{user}@{host}{tail}")
            }
        }
        None => format!("{scheme}://{authority}{tail}"),
    }
}

/// `tail` (path, query, fragment) with the value of every `password=` parameter (libpq and
/// sqlx take one in the query string too) replaced by `***`.
fn redact_query(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let (query, fragment) = query
        .split_once('#')
        .map_or((query, None), |(q, f)| (q, Some(f)));
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((name, _)) if name.eq_ignore_ascii_case("password") => format!("{name}=***"),
            _ => param.to_owned(),
        })
        .collect();
    let mut out = format!("{path}?{}", params.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}
