//! The settings' layers and checks.

use super::*;
use crate::error::Error;
use figment::Figment;
use figment::providers::{Format as _, Serialized, Toml};

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
