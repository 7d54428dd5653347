//! Opening what the settings name: the SQLite database (users, and sessions by default), the
//! session store, and the password hasher.

use std::sync::Arc;

use cloakroom::session::{RotatingStore, SessionStore};
use cloakroom::store::{MemoryStore, SqliteStore};
use cloakroom::user::{HashParams, PasswordHasher};

use crate::error::Error;
use crate::settings::{Database, SessionStoreKind, Settings};

/// Opens (creating it and its directory if missing) the SQLite database and runs its
/// migrations.
pub(crate) async fn open_database(settings: &Settings) -> Result<SqliteStore, Error> {
    match settings.database()? {
        Database::File(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|source| Error::DataDir {
                    path: dir.to_owned(),
                    source,
                })?;
            }
            create_private(&path)?;
            SqliteStore::open(&path)
                .await
                .map_err(|source| Error::OpenStore {
                    what: "SQLite database",
                    location: path.display().to_string(),
                    source,
                })
        }
        Database::Url(url) => SqliteStore::connect(&url)
            .await
            .map_err(|source| Error::OpenStore {
                what: "SQLite database",
                location: url,
                source,
            }),
    }
}

/// Creates the database file, empty, readable by this user only, unless it exists: it holds
/// the signing keys and password hashes. SQLite gives its `-wal` and `-shm` files the same
/// permissions. An existing file keeps the permissions its owner gave it.
fn create_private(path: &std::path::Path) -> Result<(), Error> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(Error::CreateFile {
            path: path.to_owned(),
            source,
        }),
    }
}

/// The session store the settings ask for (the database itself, or a bounded memory store),
/// once as a plain store and once as the rotating store hybrid mode's refresh sessions need:
/// two handles to the same sessions.
pub(crate) fn session_stores(
    settings: &Settings,
    database: &SqliteStore,
) -> (Arc<dyn SessionStore>, Arc<dyn RotatingStore>) {
    match settings.session_store {
        SessionStoreKind::Sqlite => (Arc::new(database.clone()), Arc::new(database.clone())),
        SessionStoreKind::Memory => {
            let store = Arc::new(MemoryStore::new(settings.session.max_sessions));
            (store.clone(), store)
        }
    }
}

/// The password hasher: OWASP's argon2id parameters, unless the test-only setting asks for
/// the cheapest ones.
pub(crate) fn hasher(settings: &Settings) -> Result<PasswordHasher, Error> {
    let params = if settings.insecure_fast_hashing_for_tests {
        tracing::warn!(
            "insecure_fast_hashing_for_tests is on: passwords are hashed with parameters that \
             are cheap to crack; never use this outside the test-suite"
        );
        HashParams::INSECURE_FAST_FOR_TESTS
    } else {
        HashParams::OWASP
    };
    hasher_with(params)
}

/// A hasher with `params`, hashing on one blocking thread fewer than there are cores (at least
/// one): with a hash on every core, a flood of sign-ins made the requests of users already
/// signed in wait up to 11x longer at p99 (docs/PERFORMANCE.md, "Login flood").
pub(crate) fn hasher_with(params: HashParams) -> Result<PasswordHasher, Error> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    Ok(PasswordHasher::new(params, cores.saturating_sub(1).max(1))?)
}
