//! The embedded default: a SQLite file, created readable by its owner only.

use cloakroom::store::SqliteStore;

use crate::error::Error;
use crate::settings::Database;

/// Opens (creating it and its directory if missing) the SQLite database and runs its
/// migrations.
pub(super) async fn open(database: Database) -> Result<SqliteStore, Error> {
    match database {
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
        Database::Postgres(url) => Err(Error::OpenStore {
            what: "SQLite database",
            location: Database::Postgres(url).describe(),
            source: cloakroom::store::StoreError::Backend("not a sqlite:// URL".into()),
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
