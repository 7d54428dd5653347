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
        Database::Url(url) => {
            // Whatever the URL's options, the file holds keys and password hashes: made
            // private before SQLite creates it (with `mode=rwc`) world-readable.
            if let Some(path) = file_of(&url) {
                create_private(&path)?;
            }
            connect(url).await
        }
        Database::Postgres(url) => Err(Error::OpenStore {
            what: "SQLite database",
            location: Database::Postgres(url).describe(),
            source: cloakroom::store::StoreError::Backend("not a sqlite:// URL".into()),
        }),
    }
}

async fn connect(url: String) -> Result<SqliteStore, Error> {
    SqliteStore::connect(&url)
        .await
        .map_err(|source| Error::OpenStore {
            what: "SQLite database",
            location: crate::settings::redact_url(&url),
            source,
        })
}

/// The file a `sqlite:` URL names, unless it is an in-memory database.
fn file_of(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory = path.is_empty()
        || path == ":memory:"
        || query
            .split('&')
            .any(|p| p.eq_ignore_ascii_case("mode=memory"));
    (!in_memory).then(|| std::path::PathBuf::from(path))
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

#[cfg(test)]
mod tests {
    use super::file_of;

    #[test]
    fn the_file_of_a_url_is_found_whatever_its_options() {
        assert_eq!(
            file_of("sqlite://data/c.db?mode=rwc").unwrap(),
            std::path::Path::new("data/c.db")
        );
        assert_eq!(
            file_of("sqlite:c.db").unwrap(),
            std::path::Path::new("c.db")
        );
        assert_eq!(file_of("sqlite::memory:"), None);
        assert_eq!(file_of("sqlite://x.db?mode=memory&cache=shared"), None);
    }
}
