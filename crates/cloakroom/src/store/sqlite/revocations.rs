//! [`RevocationStore`] on SQLite: the deny-list, so that a revoked token stays revoked after a
//! restart.

use async_trait::async_trait;
use sqlx::Row as _;
use sqlx::sqlite::SqliteRow;

use super::{SqliteStore, corrupt};
use crate::clock::Timestamp;
use crate::revocation::{Revocation, RevocationStore};
use crate::store::StoreError;

/// A row that names no kind of entry this build knows, or a user without a not-before.
#[derive(Debug, thiserror::Error)]
#[error("invalid deny-list row of kind {0:?}")]
struct BadRow(String);

/// Turns a row of `SELECT kind, subject, not_before, expires_at` into an entry.
fn decode(row: &SqliteRow) -> Result<Revocation, StoreError> {
    let kind: String = row.try_get(0)?;
    let subject: String = row.try_get(1)?;
    let not_before: Option<i64> = row.try_get(2)?;
    let expires_at = Timestamp::from_unix(row.try_get(3)?);
    Ok(match (kind.as_str(), not_before) {
        ("token", _) => Revocation::token(subject, expires_at),
        ("session", _) => Revocation::session(subject, expires_at),
        ("user", Some(nb)) => Revocation::user(subject, Timestamp::from_unix(nb), expires_at),
        _ => return Err(corrupt(BadRow(kind))),
    })
}

impl SqliteStore {
    /// The user entries that have not expired at `now` (sign-out everywhere, a removed user, a
    /// changed password): what `cloakroom user …` writes from another process. A server
    /// reloads these periodically; they are few, unlike the entries of single tokens.
    pub async fn load_user_revocations(
        &self,
        now: Timestamp,
    ) -> Result<Vec<Revocation>, StoreError> {
        let rows = read!(
            self,
            sqlx::query(
                "SELECT kind, subject, not_before, expires_at FROM revocations \
                 WHERE kind = 'user' AND expires_at > ?1",
            )
            .bind(now.unix()),
            fetch_all
        )?;
        rows.iter().map(decode).collect()
    }
}

#[async_trait]
impl RevocationStore for SqliteStore {
    /// An upsert that only ever makes the entry stricter: the later expiry and not-before
    /// win, as [`Revocation::merge`] says. (`max` of a NULL is NULL, hence the `coalesce`.)
    async fn add(&self, revocation: &Revocation) -> Result<(), StoreError> {
        let not_before = match revocation {
            Revocation::User { not_before, .. } => Some(not_before.unix()),
            Revocation::Token { .. } | Revocation::Session { .. } => None,
        };
        sqlx::query(
            "INSERT INTO revocations (kind, subject, not_before, expires_at) \
             VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (kind, subject) DO UPDATE SET \
             not_before = coalesce(max(not_before, excluded.not_before), not_before, \
             excluded.not_before), expires_at = max(expires_at, excluded.expires_at)",
        )
        .bind(revocation.kind().as_str())
        .bind(revocation.subject())
        .bind(not_before)
        .bind(revocation.expires_at().unix())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn load_all(&self, now: Timestamp) -> Result<Vec<Revocation>, StoreError> {
        let rows = read!(
            self,
            sqlx::query(
                "SELECT kind, subject, not_before, expires_at FROM revocations \
                 WHERE expires_at > ?1",
            )
            .bind(now.unix()),
            fetch_all
        )?;
        rows.iter().map(decode).collect()
    }

    async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM revocations WHERE expires_at <= ?1")
            .bind(now.unix())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix(s)
    }

    #[tokio::test]
    async fn entries_only_become_stricter_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("r.db")).await.unwrap();
        store
            .add(&Revocation::user("u", t(10), t(100)))
            .await
            .unwrap();
        store
            .add(&Revocation::user("u", t(20), t(50)))
            .await
            .unwrap();
        store
            .add(&Revocation::user("u", t(5), t(60)))
            .await
            .unwrap();
        store.add(&Revocation::token("j", t(30))).await.unwrap();
        store.add(&Revocation::token("j", t(20))).await.unwrap();
        store.add(&Revocation::session("s", t(40))).await.unwrap();
        let mut all = store.load_all(t(0)).await.unwrap();
        all.sort_by_key(|r| r.kind());
        assert_eq!(
            all,
            vec![
                Revocation::token("j", t(30)),
                Revocation::session("s", t(40)),
                Revocation::user("u", t(20), t(100)),
            ]
        );
        assert_eq!(store.load_all(t(30)).await.unwrap().len(), 2);
        assert_eq!(
            store.load_user_revocations(t(0)).await.unwrap(),
            vec![Revocation::user("u", t(20), t(100))]
        );
        assert_eq!(store.purge_expired(t(40)).await.unwrap(), 2);
        assert_eq!(store.load_all(t(0)).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_user_row_without_not_before_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("r.db")).await.unwrap();
        store
            .add(&Revocation::user("u", t(10), t(100)))
            .await
            .unwrap();
        sqlx::query("UPDATE revocations SET not_before = NULL")
            .execute(store.pool())
            .await
            .unwrap();
        assert!(matches!(
            store.load_all(t(0)).await,
            Err(StoreError::Corrupt(_))
        ));
    }
}
