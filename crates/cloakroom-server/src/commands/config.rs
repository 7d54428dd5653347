//! `cloakroom config example` and `cloakroom config check FILE`.
//!
//! The example is generated: the values are [`Settings::default`] serialized, the comments
//! come from [`DOCS`], one line per key. A unit test fails when a setting has no line here or
//! a line names no setting, so the example cannot drift from the settings.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use crate::cli::ConfigCommand;
use crate::error::Error;
use crate::settings::{Overrides, Settings};

/// One setting in the example: its key (`table.key` for tables), what it does, and for
/// settings unset by default, an example value (the line is then commented out).
pub(crate) struct Doc {
    key: &'static str,
    help: &'static str,
    example: Option<&'static str>,
}

const fn set(key: &'static str, help: &'static str) -> Doc {
    Doc {
        key,
        help,
        example: None,
    }
}

const fn unset(key: &'static str, help: &'static str, example: &'static str) -> Doc {
    Doc {
        key,
        help,
        example: Some(example),
    }
}

/// Every setting, top-level keys first (TOML puts them before any table), then each table.
pub(crate) const DOCS: &[Doc] = &[
    set(
        "mode",
        "How the server remembers who is signed in: session, jwt or hybrid.",
    ),
    set(
        "listen",
        "The address to listen on. Behind a proxy on the same machine keep it on 127.0.0.1.",
    ),
    set(
        "data_dir",
        "Where relative paths (the SQLite file) are resolved.",
    ),
    set(
        "database_url",
        "Users and keys: sqlite://FILE (relative to data_dir) or postgres://USER@HOST/DB.",
    ),
    unset(
        "session_store",
        "Where sessions are kept: memory, sqlite, postgres or a redis:// URL.\n\
         Default: the database (sqlite or postgres, following database_url).",
        "\"redis://127.0.0.1:6379\"",
    ),
    unset(
        "public_url",
        "The URL clients reach the server at, and the `iss` of its tokens. With https the\n\
         cookies are Secure and __Host- prefixed. Default: http:// and the listen address.\n\
         Every node of a cluster must have the same one.",
        "\"https://auth.example.com\"",
    ),
    set(
        "trusted_proxies",
        "Reverse proxies (addresses or CIDR ranges) whose forwarded_header is believed.\n\
         Behind nginx or Caddy set it, or every client shares the proxy's throttle bucket.",
    ),
    set(
        "forwarded_header",
        "The header trusted proxies report the client's address in.",
    ),
    unset(
        "metrics_listen",
        "Serves /metrics on this address only (not on `listen`). Keep it private.",
        "\"127.0.0.1:9090\"",
    ),
    unset(
        "key_encryption_key_file",
        "A file with the key that encrypts the signing keys in the database (make it with\n\
         `openssl rand -hex 32`); or set CLOAKROOM_KEY_ENCRYPTION_KEY. Default: keys in clear.",
        "\"/etc/cloakroom/kek\"",
    ),
    set(
        "session.idle_timeout",
        "A session ends after this long without a request.",
    ),
    set(
        "session.absolute_timeout",
        "A session ends this long after sign-in, however busy.",
    ),
    set(
        "session.cookie_name",
        "The session cookie's name (__Host- is prefixed with an https public_url).",
    ),
    unset(
        "session.touch_interval",
        "The last-seen time is written at most this often. Default: idle_timeout / 10.",
        "\"3m\"",
    ),
    set(
        "session.max_sessions",
        "The most sessions the memory store holds.",
    ),
    set(
        "session.purge_interval",
        "How often ended sessions are deleted from the store.",
    ),
    set(
        "session.near_cache",
        "session mode on Redis or PostgreSQL: how long a node may answer from its own copy\n\
         of a session (at most 1m). 0s turns it off.",
    ),
    set(
        "session.sqlite_cache",
        "session mode on SQLite: how long this node may answer from its copy of a session\n\
         another process (the CLI, another node) ended; 0s turns it off.",
    ),
    set(
        "jwt.algorithm",
        "The algorithm of new signing keys: EdDSA, ES256, ES384, RS256, PS256, HS256, HS384\n\
         or HS512.",
    ),
    unset(
        "jwt.access_ttl",
        "How long an access token is valid. Default: 15m in hybrid mode, 1h in jwt mode.",
        "\"15m\"",
    ),
    set(
        "jwt.refresh_ttl",
        "How long a refresh session lasts from sign-in (hybrid mode).",
    ),
    set(
        "jwt.refresh_reuse_interval",
        "How long a just-spent refresh token still returns the same successor (two tabs\n\
         refreshing at once); 0s makes every second use reuse.",
    ),
    set(
        "jwt.audience",
        "The `aud` of every token, and what a token must name to be accepted.",
    ),
    set(
        "jwt.leeway",
        "The clock skew tolerated when checking exp, nbf and iat (at most 5m).",
    ),
    unset(
        "jwt.rotate_every",
        "Makes a new signing key this often. Default: only `cloakroom keys rotate`.",
        "\"30d\"",
    ),
    set(
        "jwt.reload_interval",
        "How often keys and revocations written by another process are reloaded.",
    ),
    set(
        "jwt.verified_cache_bytes",
        "How much memory the cache of verified access tokens may hold (0 turns it off).",
    ),
    unset(
        "jwt.verified_cache",
        "Deprecated: the cache's bound as a number of tokens; replaces verified_cache_bytes.",
        "10000",
    ),
    unset(
        "jwt.signing_key_file",
        "A PKCS#8 PEM private key of jwt.algorithm to sign with, instead of a generated key.",
        "\"/etc/cloakroom/signing-key.pem\"",
    ),
    set(
        "redis.namespace",
        "The prefix of every Redis key and of the bus channel.",
    ),
    unset(
        "postgres.schema",
        "The schema the tables live in, created if missing. Default: the search path.",
        "\"cloakroom\"",
    ),
    set(
        "postgres.max_connections",
        "The most connections this node opens.",
    ),
    set(
        "postgres.acquire_timeout",
        "How long a request waits for a connection before failing with 503.",
    ),
    set("log.format", "text, or json for log collectors."),
    set(
        "log.filter",
        "Which events to write (tracing EnvFilter syntax); RUST_LOG replaces it.",
    ),
    set(
        "login.max_failures",
        "Failed sign-ins allowed in `window` before the account or address is locked out.",
    ),
    set("login.window", "How long failures are counted together."),
    set(
        "login.lockout",
        "The first lockout; each further failure doubles it.",
    ),
    set(
        "login.client_max_failures",
        "Failed sign-ins from one client, across accounts, before the client is locked out.",
    ),
    set(
        "login.account_max_failures",
        "Failed sign-ins of one account, from anywhere, before its attempts are slowed.",
    ),
    set(
        "login.account_delay",
        "Past that ceiling, how long each attempt holds the next one back (doubling).",
    ),
    set("login.account_max_delay", "The longest such delay."),
    set("login.max_lockout", "The longest lockout."),
    set(
        "login.max_tracked",
        "The most accounts and addresses the throttle keeps track of.",
    ),
    set(
        "password.min_length",
        "The fewest characters a new password has (8 to 64).",
    ),
    set(
        "password.max_bytes",
        "The most bytes a password has (256 to 4096).",
    ),
    set(
        "limits.max_connections",
        "The most connections served at once; past it, 503.",
    ),
    set(
        "limits.max_connections_per_client",
        "The most connections one client address (IPv6: its /64) holds; trusted proxies are\n\
         not capped.",
    ),
    set(
        "limits.header_read_timeout",
        "A request's line and headers must arrive within this (slowloris).",
    ),
    set(
        "limits.max_header_bytes",
        "The largest request line and headers; larger gets 431.",
    ),
];

/// Runs one `config` subcommand.
pub fn run(command: &ConfigCommand, overrides: &Overrides) -> Result<(), Error> {
    match command {
        ConfigCommand::Example => {
            print!("{}", example()?);
            Ok(())
        }
        ConfigCommand::Check { file } => check(file, overrides),
    }
}

fn check(file: &Path, overrides: &Overrides) -> Result<(), Error> {
    let invalid = |e: Error| Error::ConfigInvalid(file.to_owned(), Box::new(e));
    let settings = Settings::load(Some(file), overrides).map_err(invalid)?;
    crate::custody::key_encryption_key(&settings).map_err(invalid)?;
    crate::custody::signing_key_from_file(&settings, cloakroom::clock::Timestamp::from_unix(0))
        .map_err(invalid)?;
    println!(
        "{}: valid (mode {}, database {}, public_url {})",
        file.display(),
        settings.mode.as_str(),
        crate::stores::describe_database(&settings)?,
        settings.public_url,
    );
    Ok(())
}

/// The default settings, flattened to `table.key` → value.
fn defaults() -> Result<Vec<(String, Value)>, Error> {
    let value = serde_json::to_value(Settings::default()).map_err(|e| Error::Backup {
        message: "cannot render the default settings".to_owned(),
        source: Some(Box::new(e)),
    })?;
    let mut out = Vec::new();
    if let Value::Object(top) = value {
        for (key, value) in top {
            match value {
                Value::Object(table) => {
                    out.extend(table.into_iter().map(|(k, v)| (format!("{key}.{k}"), v)));
                }
                other => out.push((key, other)),
            }
        }
    }
    Ok(out)
}

/// A TOML value: serde_json's string escapes are valid in TOML basic strings.
fn toml_value(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(toml_value).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// The commented example configuration.
pub(crate) fn example() -> Result<String, Error> {
    let defaults = defaults()?;
    let mut out = String::from(
        "# Cloakroom's settings, every one with its default (generated by \
         `cloakroom config example`).\n\
         # Lines starting with `# key =` are unset by default. Environment variables override\n\
         # the file: CLOAKROOM_KEY, CLOAKROOM_TABLE__KEY (e.g. CLOAKROOM_LOG__FORMAT=json).\n",
    );
    let mut table = "";
    for doc in DOCS {
        let (section, key) = doc.key.split_once('.').unwrap_or(("", doc.key));
        if section != table {
            table = section;
            let _ = write!(out, "\n[{table}]\n");
        }
        out.push('\n');
        for line in doc.help.lines() {
            let _ = writeln!(out, "# {line}");
        }
        let default = defaults.iter().find(|(k, _)| k == doc.key);
        match (doc.example, default) {
            (Some(example), _) => {
                let _ = writeln!(out, "# {key} = {example}");
            }
            (None, Some((_, value))) => {
                let _ = writeln!(out, "{key} = {}", toml_value(value));
            }
            (None, None) => {
                let _ = writeln!(out, "# {key} = (no default)");
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings left out of the example: for the test-suite only.
    const HIDDEN: &[&str] = &["insecure_fast_hashing_for_tests"];

    #[test]
    fn every_setting_is_documented_once_and_every_line_names_a_setting() {
        let defaults = defaults().unwrap();
        for (key, _) in &defaults {
            if HIDDEN.contains(&key.as_str()) {
                continue;
            }
            assert_eq!(
                DOCS.iter().filter(|d| d.key == key).count(),
                1,
                "setting `{key}` needs one line in DOCS (commands/config.rs)"
            );
        }
        for doc in DOCS {
            let has_default = defaults.iter().any(|(k, _)| k == doc.key);
            assert!(
                has_default || doc.example.is_some(),
                "`{}` has no default and no example",
                doc.key
            );
        }
        // Top-level keys first: TOML would put any after a table into that table.
        let first_table = DOCS.iter().position(|d| d.key.contains('.')).unwrap();
        assert!(DOCS[first_table..].iter().all(|d| d.key.contains('.')));
    }

    #[test]
    fn the_example_parses_as_the_defaults_and_so_do_its_unset_lines() {
        let text = example().unwrap();
        let parse = |text: &str| {
            let figment = figment::Figment::from(figment::providers::Serialized::defaults(
                Settings::default(),
            ))
            .merge(<figment::providers::Toml as figment::providers::Format>::string(text));
            figment.extract::<Settings>().map_err(|e| e.to_string())
        };
        assert_eq!(parse(&text).unwrap(), Settings::default());
        // Uncommented, every example value is a real setting of the right type.
        let uncommented: String = text
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if rest.contains(" = ") && !rest.contains("(no default)") => {
                    rest.to_owned()
                }
                _ => l.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        let all = parse(&uncommented).unwrap();
        assert_eq!(all.public_url, "https://auth.example.com");
        assert!(all.jwt.signing_key_file.is_some() && all.metrics_listen.is_some());
    }
}
