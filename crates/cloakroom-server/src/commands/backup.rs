//! `cloakroom backup FILE` and `cloakroom restore FILE`: a consistent copy of the SQLite
//! database made while the server runs (`VACUUM INTO`, one read transaction), and putting such
//! a copy back as the configured database. PostgreSQL has `pg_dump` (docs/PRODUCTION.md).

use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::time::Duration;

use sqlx::ConnectOptions as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::error::Error;
use crate::settings::{Database, Settings};

/// How long a backup waits for a writer to finish (SQLite's busy timeout).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

fn refused(message: String) -> Error {
    Error::Backup {
        message,
        source: None,
    }
}

fn failed(message: String, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Backup {
        message,
        source: Some(Box::new(e)),
    }
}

/// The SQLite file the settings name, or why there is none to back up or restore.
fn database_file(settings: &Settings, what: &str) -> Result<PathBuf, Error> {
    match settings.database()? {
        Database::File(path) => Ok(path),
        Database::Postgres(_) => Err(refused(format!(
            "the database is PostgreSQL: {what} it with pg_dump / pg_restore \
             (docs/PRODUCTION.md, \"Backups\")"
        ))),
        Database::Url(url) => Err(refused(format!(
            "{what} needs a SQLite file, and database_url is {url}"
        ))),
    }
}

/// Creates `path` empty and readable by its owner only; `VACUUM INTO` then fills it (it takes
/// an empty file) and the copy, which holds password hashes and keys, is never readable by
/// others, whatever the umask.
fn create_private(path: &Path) -> Result<(), Error> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            refused(format!(
                "{} exists already: name a new file",
                path.display()
            ))
        } else {
            failed(format!("cannot create {}", path.display()), e)
        }
    })
}

async fn connect(path: &Path, read_only: bool) -> Result<SqliteConnection, Error> {
    SqliteConnectOptions::from_str("sqlite://")
        .map(|o| {
            o.filename(path)
                .read_only(read_only)
                .create_if_missing(false)
                .busy_timeout(BUSY_TIMEOUT)
        })
        .map_err(|e| failed(format!("cannot open {}", path.display()), e))?
        .connect()
        .await
        .map_err(|e| failed(format!("cannot open {}", path.display()), e))
}

/// Copies the open database `from` into the new file `to`, in one read transaction.
async fn vacuum_into(from: &mut SqliteConnection, to: &Path) -> Result<(), Error> {
    create_private(to)?;
    let result = sqlx::query("VACUUM INTO ?1")
        .bind(to.to_string_lossy().into_owned())
        .execute(&mut *from)
        .await;
    if let Err(e) = result {
        let _ = std::fs::remove_file(to);
        return Err(failed(
            format!("cannot copy the database to {}", to.display()),
            e,
        ));
    }
    Ok(())
}

/// How many users and signing keys a database holds, and how many keys are encrypted; fails
/// when it is not a Cloakroom database.
async fn census(conn: &mut SqliteConnection, path: &Path) -> Result<(i64, i64, i64), Error> {
    let not_ours = |e: sqlx::Error| {
        failed(
            format!("{} is not a Cloakroom database (or backup)", path.display()),
            e,
        )
    };
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut *conn)
        .await
        .map_err(not_ours)?;
    if check != "ok" {
        return Err(refused(format!(
            "{} is damaged (integrity check: {check})",
            path.display()
        )));
    }
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut *conn)
        .await
        .map_err(not_ours)?;
    let keys: Vec<Vec<u8>> = sqlx::query_scalar("SELECT material FROM signing_keys")
        .fetch_all(&mut *conn)
        .await
        .map_err(not_ours)?;
    let sealed = keys
        .iter()
        .filter(|m| cloakroom::token::is_sealed(m))
        .count();
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    Ok((users, count(keys.len()), count(sealed)))
}

fn say_keys(keys: i64, sealed: i64) {
    if keys > 0 && sealed == keys {
        println!(
            "its signing keys are encrypted: restoring it needs the same key-encryption key \
             (keep that apart from the backups)"
        );
    } else if keys > 0 {
        println!(
            "its signing keys are in clear: keep it as secret as the keys themselves, or set a \
             key-encryption key (docs/PRODUCTION.md, \"Key custody\")"
        );
    }
}

/// `cloakroom backup FILE`.
pub async fn backup(settings: &Settings, file: &Path) -> Result<(), Error> {
    let from = database_file(settings, "back up")?;
    let mut conn = connect(&from, false).await?;
    vacuum_into(&mut conn, file).await?;
    let mut copy = connect(file, true).await?;
    let (users, keys, sealed) = census(&mut copy, file).await?;
    println!(
        "backed up {} to {} ({users} users, {keys} signing keys)",
        from.display(),
        file.display()
    );
    say_keys(keys, sealed);
    Ok(())
}

/// `cloakroom restore FILE [--force]`.
pub async fn restore(settings: &Settings, file: &Path, force: bool) -> Result<(), Error> {
    let to = database_file(settings, "restore")?;
    if !file.is_file() {
        return Err(refused(format!("there is no backup at {}", file.display())));
    }
    let mut backup = connect(file, true).await?;
    let (users, keys, sealed) = census(&mut backup, file).await?;
    if to.exists() && !force {
        return Err(refused(format!(
            "refusing to replace the database {}: stop every server that uses it, then run \
             again with --force (back it up first if it may be needed)",
            to.display()
        )));
    }
    if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| Error::DataDir {
            path: dir.to_owned(),
            source,
        })?;
    }
    // Copied next to the database, then renamed over it: the database is never half written.
    let partial = sibling(&to, ".restoring");
    let _ = std::fs::remove_file(&partial);
    vacuum_into(&mut backup, &partial).await?;
    // The old database's write-ahead log must not be replayed onto the restored file.
    for suffix in ["-wal", "-shm"] {
        let stale = sibling(&to, suffix);
        if let Err(e) = std::fs::remove_file(&stale) {
            if e.kind() != std::io::ErrorKind::NotFound {
                return Err(failed(format!("cannot remove {}", stale.display()), e));
            }
        }
    }
    std::fs::rename(&partial, &to)
        .map_err(|e| failed(format!("cannot move the copy to {}", to.display()), e))?;
    println!(
        "restored {} as {} ({users} users, {keys} signing keys)",
        file.display(),
        to.display()
    );
    say_keys(keys, sealed);
    println!(
        "start the server now; a server that was running meanwhile still has the old file open \
         and must be restarted"
    );
    Ok(())
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
