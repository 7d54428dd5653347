//! Settings, layered lowest first: built-in defaults, the TOML file given with `--config`,
//! `CLOAKROOM_*` environment variables (nested keys joined by `__`), then command-line flags.
//!
//! Every table refuses unknown keys, and [`Settings::load`] checks values that the types alone
//! cannot (timeouts that fit together, a URL that parses), so a typo stops start-up with a
//! message that names the key instead of being ignored.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cloakroom::session::SessionPolicy;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The prefix of the environment variables that set settings.
pub const ENV_PREFIX: &str = "CLOAKROOM_";

/// How the server remembers who is signed in.
///
/// Only `session` exists so far (the default): the server keeps the session, the browser keeps
/// a random ID in a cookie. `jwt` and `hybrid` come later; until they do they are refused
/// rather than accepted and ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Server-side sessions: an opaque ID in a cookie, the record in the session store.
    #[default]
    Session,
}

impl Mode {
    /// The mode's name, as in the settings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
        }
    }
}

/// Where sessions are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionStoreKind {
    /// In the server's memory: fast, bounded by `session.max_sessions`, gone on restart.
    Memory,
    /// In the SQLite database named by `database_url`, next to the users.
    #[default]
    Sqlite,
}

impl SessionStoreKind {
    /// The store's name, as in the settings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Sqlite => "sqlite",
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
    /// How the server remembers who is signed in (only `session` for now).
    pub mode: Mode,
    /// The address to listen on.
    pub listen: SocketAddr,
    /// Where relative paths (e.g. the SQLite file) are resolved.
    pub data_dir: PathBuf,
    /// The users database (and the sessions, with `session_store = "sqlite"`).
    pub database_url: String,
    /// Where sessions are kept.
    pub session_store: SessionStoreKind,
    /// The URL clients reach the server at; with `https` the session cookie is `Secure` and
    /// named with the `__Host-` prefix.
    pub public_url: String,
    /// Session lifetime and cookie.
    pub session: SessionSettings,
    /// Logging.
    pub log: LogSettings,
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
            mode: Mode::Session,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("."),
            database_url: "sqlite://cloakroom.db".to_owned(),
            session_store: SessionStoreKind::Sqlite,
            public_url: "http://127.0.0.1:8080".to_owned(),
            session: SessionSettings::default(),
            log: LogSettings::default(),
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
}

impl Settings {
    /// Reads the settings from every layer and checks them.
    pub fn load(config_file: Option<&Path>, overrides: &Overrides) -> Result<Self, Error> {
        Self::from_figment(&Self::figment(config_file, overrides)?)
    }

    /// The layers, lowest first, without extracting them.
    pub fn figment(config_file: Option<&Path>, overrides: &Overrides) -> Result<Figment, Error> {
        let mut figment = Figment::from(Serialized::defaults(Self::default()));
        if let Some(path) = config_file {
            // `Toml::file` silently skips a missing file; a file named on the command line
            // must exist.
            if !path.is_file() {
                return Err(Error::ConfigFileMissing(path.to_owned()));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        Ok(figment
            .merge(Env::prefixed(ENV_PREFIX).split("__"))
            .merge(Serialized::defaults(overrides)))
    }

    /// Extracts and checks settings from `figment`.
    pub fn from_figment(figment: &Figment) -> Result<Self, Error> {
        let settings: Self = figment.extract().map_err(|e| Error::Config {
            message: describe(&e),
            figment: Box::new(e),
        })?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what the types alone cannot.
    pub fn validate(&self) -> Result<(), Error> {
        self.session_policy()?;
        self.public_url_is_https()?;
        self.database()?;
        check_cookie_name(&self.session.cookie_name)?;
        if self.session.max_sessions == 0 {
            return Err(invalid("session.max_sessions", "must be at least 1"));
        }
        if self.session.purge_interval < Duration::from_secs(1) {
            return Err(invalid(
                "session.purge_interval",
                "must be at least one second",
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.filter)
            .map_err(|e| invalid("log.filter", &e.to_string()))?;
        Ok(())
    }

    /// The session policy these settings describe.
    pub fn session_policy(&self) -> Result<SessionPolicy, Error> {
        let s = &self.session;
        let policy = SessionPolicy::new(s.idle_timeout, s.absolute_timeout)
            .map_err(|e| invalid_because(policy_key(&e), e))?;
        match s.touch_interval {
            Some(t) => policy
                .with_touch_interval(t)
                .map_err(|e| invalid_because("session.touch_interval", e)),
            None => Ok(policy),
        }
    }

    /// Whether `public_url` is https (so the cookie must be `Secure`).
    pub fn public_url_is_https(&self) -> Result<bool, Error> {
        let uri: http::Uri = self
            .public_url
            .parse()
            .map_err(|e| invalid_because("public_url", e))?;
        if uri.authority().is_none() {
            return Err(invalid("public_url", "must be an absolute URL with a host"));
        }
        match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => Ok(true),
            Some(s) if s.eq_ignore_ascii_case("http") => Ok(false),
            _ => Err(invalid("public_url", "must start with http:// or https://")),
        }
    }

    /// Where the users database is, relative paths resolved against `data_dir`.
    pub fn database(&self) -> Result<Database, Error> {
        let url = self.database_url.trim();
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                invalid(
                    "database_url",
                    "only sqlite:// URLs are supported so far, e.g. sqlite://cloakroom.db",
                )
            })?;
        let (path, query) = match rest.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (rest, None),
        };
        if path.is_empty() {
            return Err(invalid("database_url", "names no file"));
        }
        if path == ":memory:" {
            return Ok(Database::Url(url.to_owned()));
        }
        let path = self.data_dir.join(path);
        Ok(match query {
            Some(query) => Database::Url(format!("sqlite://{}?{query}", path.display())),
            None => Database::File(path),
        })
    }
}

/// Renders figment's errors one per key, as `key (origin): problem`, naming the environment
/// variable when the value came from one.
fn describe(e: &figment::Error) -> String {
    e.clone()
        .into_iter()
        .map(|e| {
            let mut path = e.path.clone();
            if let figment::error::Kind::UnknownField(field, _) = &e.kind {
                path.push(field.clone());
            }
            let key = path.join(".");
            let origin = match &e.metadata {
                Some(md) if md.name.contains("environment") => {
                    let var = path.join("__").to_ascii_uppercase();
                    format!(" (from {ENV_PREFIX}{var})")
                }
                Some(md) => match &md.source {
                    Some(source) => format!(" (in {source})"),
                    None => String::new(),
                },
                None => String::new(),
            };
            if key.is_empty() {
                format!("{}{origin}", e.kind)
            } else {
                format!("`{key}`{origin}: {}", e.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The key a policy error is about.
fn policy_key(e: &cloakroom::session::PolicyError) -> &'static str {
    use cloakroom::session::PolicyError;
    match e {
        PolicyError::TooShort(key) if *key == "absolute_timeout" => "session.absolute_timeout",
        PolicyError::TouchNotShorterThanIdle { .. } => "session.touch_interval",
        _ => "session.idle_timeout",
    }
}

/// Cookie names are RFC 6265 tokens: no separators, spaces or controls.
fn check_cookie_name(name: &str) -> Result<(), Error> {
    const SEPARATORS: &str = "()<>@,;:\\\"/[]?={} \t";
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_graphic() && !SEPARATORS.contains(c));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "session.cookie_name",
            "must be 1 to 64 letters, digits or !#$%&'*+-.^_`|~",
        ))
    }
}

fn invalid(key: &'static str, message: &str) -> Error {
    Error::InvalidSetting {
        key,
        message: message.to_owned(),
    }
}

fn invalid_because(key: &'static str, e: impl std::fmt::Display) -> Error {
    invalid(key, &e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_toml(text: &str) -> Result<Settings, Error> {
        let figment = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::string(text))
            .merge(Serialized::defaults(Overrides::default()));
        Settings::from_figment(&figment)
    }

    #[test]
    fn defaults_match_the_contract() {
        let s = from_toml("").unwrap();
        assert_eq!(s.mode, Mode::Session);
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.session_store, SessionStoreKind::Sqlite);
        assert_eq!(s.session.idle_timeout, Duration::from_secs(30 * 60));
        assert_eq!(s.session.absolute_timeout, Duration::from_secs(12 * 3600));
        assert_eq!(s.session.cookie_name, "cloakroom_session");
        assert!(!s.public_url_is_https().unwrap());
        assert_eq!(
            s.database().unwrap(),
            Database::File(PathBuf::from("./cloakroom.db"))
        );
    }

    #[test]
    fn reads_a_full_file() {
        let s = from_toml(
            r#"
            mode = "session"
            listen = "0.0.0.0:9000"
            data_dir = "/var/lib/cloakroom"
            database_url = "sqlite:///srv/users.db"
            session_store = "memory"
            public_url = "https://auth.example"
            [session]
            idle_timeout = "5m"
            absolute_timeout = "1h"
            cookie_name = "sid"
            touch_interval = "30s"
            max_sessions = 10
            purge_interval = "10s"
            [log]
            format = "json"
            filter = "debug"
            "#,
        )
        .unwrap();
        assert_eq!(s.session.touch_interval, Some(Duration::from_secs(30)));
        assert_eq!(s.session_policy().unwrap().touch_interval().as_secs(), 30);
        assert!(s.public_url_is_https().unwrap());
        assert_eq!(
            s.database().unwrap(),
            Database::File(PathBuf::from("/srv/users.db"))
        );
        assert_eq!(s.log.format, LogFormat::Json);
    }

    fn error_of(text: &str) -> String {
        from_toml(text).unwrap_err().report()
    }

    #[test]
    fn unknown_keys_are_named() {
        assert!(error_of("colour = 1").contains("colour"));
        let e = error_of("[session]\nidle = \"5m\"");
        assert!(e.contains("idle") && e.contains("session"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        let e = error_of("[session]\nidle_timeout = \"5 parsecs\"");
        assert!(e.contains("session.idle_timeout"), "{e}");
        assert!(error_of("mode = \"jwt\"").contains("mode"));
        assert!(error_of("listen = \"nowhere\"").contains("listen"));
        assert!(error_of("public_url = \"ftp://x\"").contains("public_url"));
        assert!(error_of("database_url = \"postgres://x\"").contains("database_url"));
        assert!(error_of("[session]\ncookie_name = \"a b\"").contains("session.cookie_name"));
        assert!(error_of("[session]\nmax_sessions = 0").contains("session.max_sessions"));
        let e = error_of("[session]\nidle_timeout = \"2h\"\nabsolute_timeout = \"1h\"");
        assert!(e.contains("session.idle_timeout"), "{e}");
        let e = error_of("[session]\ntouch_interval = \"1h\"");
        assert!(e.contains("session.touch_interval"), "{e}");
    }

    #[test]
    fn relative_database_paths_follow_data_dir() {
        let s = from_toml("data_dir = \"/data\"\ndatabase_url = \"sqlite://db/x.db?mode=rwc\"")
            .unwrap();
        assert_eq!(
            s.database().unwrap(),
            Database::Url("sqlite:///data/db/x.db?mode=rwc".to_owned())
        );
        let s = from_toml("database_url = \"sqlite::memory:\"").unwrap();
        assert_eq!(
            s.database().unwrap(),
            Database::Url("sqlite::memory:".to_owned())
        );
    }

    #[test]
    fn flags_override_everything_else() {
        let overrides = Overrides {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 1))),
            ..Overrides::default()
        };
        let figment = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::string("listen = \"127.0.0.1:2\"\ndata_dir = \"/d\""))
            .merge(Serialized::defaults(&overrides));
        let s = Settings::from_figment(&figment).unwrap();
        assert_eq!(s.listen.port(), 1);
        assert_eq!(s.data_dir, PathBuf::from("/d"));
    }
}
