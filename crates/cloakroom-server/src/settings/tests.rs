//! The settings' layers and checks.

use super::*;
use crate::error::Error;
use figment::Figment;
use figment::providers::{Format as _, Serialized, Toml};

pub(super) fn from_toml(text: &str) -> Result<Settings, Error> {
    let figment = Figment::from(Serialized::defaults(Settings::default()))
        .merge(Toml::string(text))
        .merge(Serialized::defaults(Overrides::default()));
    Settings::from_figment(&figment)
}

#[test]
fn defaults_match_the_contract() {
    let s = from_toml("").unwrap();
    assert_eq!(s.mode, Mode::Hybrid);
    assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(s.session_store(), SessionStoreKind::Sqlite);
    assert_eq!(s.session.near_cache, Duration::ZERO);
    assert_eq!(s.session.sqlite_cache, Duration::from_secs(1));
    assert_eq!(s.redis.namespace, "cloakroom");
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
    assert!(error_of("mode = \"passport\"").contains("mode"));
    assert!(error_of("listen = \"nowhere\"").contains("listen"));
    assert!(error_of("public_url = \"ftp://x\"").contains("public_url"));
    assert!(error_of("database_url = \"mysql://x\"").contains("database_url"));
    assert!(error_of("[session]\ncookie_name = \"a b\"").contains("session.cookie_name"));
    assert!(error_of("[session]\nmax_sessions = 0").contains("session.max_sessions"));
    let e = error_of("[session]\nidle_timeout = \"2h\"\nabsolute_timeout = \"1h\"");
    assert!(e.contains("session.idle_timeout"), "{e}");
    let e = error_of("[session]\ntouch_interval = \"1h\"");
    assert!(e.contains("session.touch_interval"), "{e}");
}

#[test]
fn shared_stores_are_read_and_checked() {
    let s = from_toml(
        r#"
        database_url = "postgres://cloakroom:hunter2@db.internal/auth"
        session_store = "redis://127.0.0.1:6379/2"
        [redis]
        namespace = "prod-eu"
        [postgres]
        schema = "cloakroom"
        max_connections = 20
        [session]
        near_cache = "2s"
        "#,
    )
    .unwrap();
    assert_eq!(
        s.session_store().redis_url(),
        Some("redis://127.0.0.1:6379/2")
    );
    let db = s.database().unwrap();
    assert_eq!(db.describe(), "postgres://cloakroom:***@db.internal/auth");
    assert_eq!(s.postgres.schema.as_deref(), Some("cloakroom"));
    assert_eq!(s.session.near_cache, Duration::from_secs(2));

    // Unset, the session store follows the database.
    let s = from_toml("database_url = \"postgres://localhost/test\"").unwrap();
    assert_eq!(s.session_store(), SessionStoreKind::Postgres);

    let e = error_of("database_url = \"postgres://x/y\"\nsession_store = \"sqlite\"");
    assert!(e.contains("session_store"), "{e}");
    assert!(error_of("session_store = \"postgres\"").contains("session_store"));
    assert!(error_of("session_store = \"mongodb://x\"").contains("session_store"));
    assert!(error_of("[redis]\nnamespace = \"a b\"").contains("redis.namespace"));
    assert!(error_of("[postgres]\nschema = \"Robert'); DROP\"").contains("postgres.schema"));
    assert!(error_of("[session]\nnear_cache = \"1h\"").contains("session.near_cache"));
    assert!(error_of("[session]\nsqlite_cache = \"2m\"").contains("session.sqlite_cache"));
}

#[test]
fn passwords_in_urls_are_redacted() {
    assert_eq!(redact_url("redis://:pw@h:6379/0"), "redis://:***@h:6379/0");
    assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    assert_eq!(
        redact_url("postgres://h/db?user=x"),
        "postgres://h/db?user=x"
    );
    assert_eq!(redact_url("not a url"), "not a url");
    // In the query string too (issue 12, item 7), whatever the case, with the user-info kept.
    assert_eq!(
        redact_url("postgres://u@h/db?sslmode=disable&password=hunter2&x=1"),
        "postgres://u@h/db?sslmode=disable&password=***&x=1"
    );
    assert_eq!(
        redact_url("postgres://h/db?PASSWORD=hunter2"),
        "postgres://h/db?PASSWORD=***"
    );
    assert_eq!(
        redact_url("postgres://u:pw@h/db?password=pw2"),
        "postgres://u:***@h/db?password=***"
    );
}

#[test]
fn relative_database_paths_follow_data_dir() {
    let s =
        from_toml("data_dir = \"/data\"\ndatabase_url = \"sqlite://db/x.db?mode=rwc\"").unwrap();
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

#[test]
fn jwt_defaults_follow_the_mode() {
    let s = from_toml("").unwrap();
    assert_eq!(s.jwt.algorithm, cloakroom::token::Algorithm::EdDSA);
    assert_eq!(s.access_ttl(), Duration::from_secs(15 * 60));
    assert_eq!(s.jwt.refresh_ttl, Duration::from_secs(30 * 86_400));
    assert_eq!(s.jwt.audience, "cloakroom");
    assert_eq!(s.jwt.leeway, Duration::from_secs(30));
    assert_eq!(s.jwt.refresh_reuse_interval, Duration::from_secs(5));
    assert_eq!(s.jwt.rotate_every, None);
    assert_eq!(
        s.jwt.verified_cache_bytes,
        cloakroom::token::DEFAULT_VERIFIED_CACHE_BYTES
    );
    assert_eq!(s.jwt.verified_cache, None);
    let s = from_toml("mode = \"jwt\"").unwrap();
    assert_eq!(s.access_ttl(), Duration::from_secs(3600));
    assert_eq!(s.key_policy().max_token_ttl, Duration::from_secs(3600));
    let s = from_toml("mode = \"jwt\"\n[jwt]\naccess_ttl = \"5m\"").unwrap();
    assert_eq!(s.access_ttl(), Duration::from_secs(300));
}

#[test]
fn reads_the_jwt_table() {
    let s = from_toml(
        r#"
        mode = "hybrid"
        [jwt]
        algorithm = "ES384"
        access_ttl = "10m"
        refresh_ttl = "7d"
        audience = "api"
        leeway = "5s"
        rotate_every = "30d"
        reload_interval = "2s"
        verified_cache = 0
        refresh_reuse_interval = "0s"
        "#,
    )
    .unwrap();
    assert_eq!(s.jwt.verified_cache, Some(0));
    assert_eq!(s.jwt.refresh_reuse_interval, Duration::ZERO);
    assert_eq!(s.jwt.algorithm, cloakroom::token::Algorithm::Es384);
    assert_eq!(
        s.refresh_policy().unwrap().absolute_timeout().as_secs(),
        7 * 86_400
    );
    assert_eq!(s.validation().audience, "api");
    assert_eq!(s.validation().leeway, Duration::from_secs(5));
    assert_eq!(
        s.key_policy().rotate_every,
        Some(Duration::from_secs(30 * 86_400))
    );
}

#[test]
fn bad_jwt_values_are_named() {
    for (text, key) in [
        ("[jwt]\nalgorithm = \"none\"", "jwt.algorithm"),
        ("[jwt]\nalgorithm = \"hs256\"", "jwt.algorithm"),
        ("[jwt]\naccess_ttl = \"0s\"", "jwt.access_ttl"),
        ("[jwt]\naccess_ttl = \"2d\"", "jwt.access_ttl"),
        ("[jwt]\naccess_ttl = \"soon\"", "jwt.access_ttl"),
        ("[jwt]\nrefresh_ttl = \"1m\"", "jwt.refresh_ttl"),
        ("[jwt]\naudience = \"\"", "jwt.audience"),
        ("[jwt]\nleeway = \"1h\"", "jwt.leeway"),
        (
            "[jwt]\nrefresh_reuse_interval = \"2m\"",
            "jwt.refresh_reuse_interval",
        ),
        (
            "[jwt]\nrefresh_reuse_interval = \"1500ms\"",
            "jwt.refresh_reuse_interval",
        ),
        ("[jwt]\nrotate_every = \"1s\"", "jwt.rotate_every"),
        ("[jwt]\nreload_interval = \"0s\"", "jwt.reload_interval"),
        ("[jwt]\nverified_cache = 2000000", "jwt.verified_cache"),
        ("[jwt]\nverified_cache = -1", "jwt.verified_cache"),
        (
            "[jwt]\nverified_cache_bytes = 17179869185",
            "jwt.verified_cache_bytes",
        ),
        ("[jwt]\nttl = \"5m\"", "ttl"),
    ] {
        let e = error_of(text);
        assert!(e.contains(key), "{text}: {e}");
    }
}
