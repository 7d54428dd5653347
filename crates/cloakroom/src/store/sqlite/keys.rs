//! [`KeyStore`] on SQLite: the signing keys, one row each, so that every restart (and every
//! process on the same file) signs and verifies with the same keys.

use async_trait::async_trait;
use sqlx::Row as _;
use sqlx::sqlite::SqliteRow;

use super::{SqliteStore, corrupt};
use crate::clock::Timestamp;
use crate::store::StoreError;
use crate::token::{Algorithm, KeyMaterial, KeyStore, Kid, StoredKey};

/// Turns a row of `SELECT kid, algorithm, material, created_at, activated_at, retire_after,
/// retired_at` into a key; anything unexpected is [`StoreError::Corrupt`].
fn decode(row: &SqliteRow) -> Result<StoredKey, StoreError> {
    let kid = Kid::parse(row.try_get(0)?).map_err(corrupt)?;
    let algorithm: Algorithm = row.try_get::<&str, _>(1)?.parse().map_err(corrupt)?;
    let at = |i: usize| -> Result<Option<Timestamp>, StoreError> {
        Ok(row.try_get::<Option<i64>, _>(i)?.map(Timestamp::from_unix))
    };
    Ok(StoredKey {
        kid,
        algorithm,
        material: KeyMaterial::from_bytes(row.try_get(2)?),
        created_at: Timestamp::from_unix(row.try_get(3)?),
        activated_at: Timestamp::from_unix(row.try_get(4)?),
        retire_after: at(5)?,
        retired_at: at(6)?,
    })
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn load_all(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows = read!(
            self,
            sqlx::query(
                "SELECT kid, algorithm, material, created_at, activated_at, retire_after, \
                 retired_at FROM signing_keys ORDER BY seq",
            ),
            fetch_all
        )?;
        rows.iter().map(decode).collect()
    }

    async fn insert(&self, key: &StoredKey) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, material, created_at, activated_at, \
             retire_after, retired_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(key.kid.as_str())
        .bind(key.algorithm.as_str())
        .bind(key.material.expose_secret())
        .bind(key.created_at.unix())
        .bind(key.activated_at.unix())
        .bind(key.retire_after.map(Timestamp::unix))
        .bind(key.retired_at.map(Timestamp::unix))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn set_retire_after(&self, kid: &str, at: Timestamp) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE signing_keys SET retire_after = ?2 WHERE kid = ?1")
            .bind(kid)
            .bind(at.unix())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn mark_retired(&self, kid: &str, at: Timestamp) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE signing_keys SET retired_at = ?2 WHERE kid = ?1")
            .bind(kid)
            .bind(at.unix())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_material(&self, kid: &str, material: &KeyMaterial) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE signing_keys SET material = ?2 WHERE kid = ?1")
            .bind(kid)
            .bind(material.expose_secret())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete(&self, kid: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM signing_keys WHERE kid = ?1")
            .bind(kid)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_round_trip_in_order_and_undecodable_rows_are_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("k.db")).await.unwrap();
        let t = Timestamp::from_unix(1_700_000_000);
        let a = StoredKey::generate(Algorithm::Hs256, t).unwrap();
        let mut b = StoredKey::generate(Algorithm::EdDSA, t).unwrap();
        b.retire_after = Some(t);
        store.insert(&a).await.unwrap();
        store.insert(&b).await.unwrap();
        assert!(matches!(store.insert(&a).await, Err(StoreError::Duplicate)));
        assert_eq!(store.load_all().await.unwrap(), vec![a.clone(), b.clone()]);
        assert!(store.mark_retired(b.kid.as_str(), t).await.unwrap());
        assert!(!store.set_retire_after("nope", t).await.unwrap());
        assert_eq!(store.load_all().await.unwrap()[1].retired_at, Some(t));
        assert!(store.delete(a.kid.as_str()).await.unwrap());
        assert!(!store.delete(a.kid.as_str()).await.unwrap());

        for damage in [
            "UPDATE signing_keys SET algorithm = 'none'",
            "UPDATE signing_keys SET kid = '../x'",
            "UPDATE signing_keys SET created_at = 'yesterday'",
        ] {
            sqlx::query(damage).execute(store.pool()).await.unwrap();
            assert!(
                matches!(store.load_all().await, Err(StoreError::Corrupt(_))),
                "{damage}"
            );
            sqlx::query("DELETE FROM signing_keys")
                .execute(store.pool())
                .await
                .unwrap();
            store.insert(&b).await.unwrap();
        }
    }
}
