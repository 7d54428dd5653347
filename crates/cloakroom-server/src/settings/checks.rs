//! Checks of values that the types alone cannot make: timeouts that fit together, a URL that
//! parses, a cookie name browsers accept, a database this build can open.

use std::time::Duration;

use cloakroom::session::SessionPolicy;

use super::{Database, SessionStoreKind, Settings};
use crate::error::Error;

impl Settings {
    /// Checks what the types alone cannot.
    pub fn validate(&self) -> Result<(), Error> {
        self.session_policy()?;
        self.public_url_is_https()?;
        self.check_stores()?;
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
        self.check_login()?;
        self.check_limits()?;
        self.trusted_proxies()?;
        self.check_jwt()
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

    /// Where sessions are kept: what `session_store` says or, when it is unset, the database
    /// (`sqlite` or `postgres`, following `database_url`).
    pub fn session_store(&self) -> SessionStoreKind {
        match &self.session_store {
            Some(kind) => kind.clone(),
            None if self.database_url.trim_start().starts_with("postgres") => {
                SessionStoreKind::Postgres
            }
            None => SessionStoreKind::Sqlite,
        }
    }

    /// The database and the session store fit together, and their settings are sound.
    fn check_stores(&self) -> Result<(), Error> {
        let database = self.database()?;
        let postgres = matches!(database, Database::Postgres(_));
        match self.session_store() {
            SessionStoreKind::Sqlite if postgres => Err(invalid(
                "session_store",
                "is sqlite, but database_url is a postgres:// URL: use postgres (or leave \
                 session_store unset)",
            )),
            SessionStoreKind::Postgres if !postgres => Err(invalid(
                "session_store",
                "is postgres, but database_url is not a postgres:// URL",
            )),
            SessionStoreKind::Redis(url) if url.contains(char::is_whitespace) => {
                Err(invalid("session_store", "a Redis URL has no spaces"))
            }
            _ => Ok(()),
        }?;
        let ns = &self.redis.namespace;
        let ns_ok = !ns.is_empty()
            && ns.len() <= 64
            && ns
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !ns_ok {
            return Err(invalid(
                "redis.namespace",
                "must be 1 to 64 ASCII letters, digits, '.', '_' or '-'",
            ));
        }
        if let Some(schema) = &self.postgres.schema {
            let ok = !schema.is_empty()
                && schema.len() <= 63
                && !schema.starts_with(|c: char| c.is_ascii_digit())
                && schema
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !ok {
                return Err(invalid(
                    "postgres.schema",
                    "must be lowercase ASCII letters, digits and '_', not starting with a digit",
                ));
            }
        }
        if self.postgres.max_connections == 0 {
            return Err(invalid("postgres.max_connections", "must be at least 1"));
        }
        if self.session.sqlite_cache > Duration::from_secs(60) {
            return Err(invalid(
                "session.sqlite_cache",
                "must be at most a minute: a session ended by another process may be answered \
                 from it that long",
            ));
        }
        if self.session.near_cache > Duration::from_secs(60) {
            return Err(invalid(
                "session.near_cache",
                "must be at most a minute: a revoked session may be answered from it that long \
                 when the bus is down",
            ));
        }
        Ok(())
    }

    /// Where the users database is, relative paths resolved against `data_dir`.
    pub fn database(&self) -> Result<Database, Error> {
        let url = self.database_url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Database::Postgres(url.to_owned()));
        }
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                invalid(
                    "database_url",
                    "must be a sqlite:// or postgres:// URL, e.g. sqlite://cloakroom.db",
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

pub(super) fn invalid(key: &'static str, message: &str) -> Error {
    Error::InvalidSetting {
        key,
        message: message.to_owned(),
    }
}

pub(super) fn invalid_because(key: &'static str, e: impl std::fmt::Display) -> Error {
    invalid(key, &e.to_string())
}
