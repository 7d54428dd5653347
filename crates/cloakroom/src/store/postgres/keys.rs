//! [`KeyStore`] on PostgreSQL: the signing keys, one row each, so that every node and every
//! restart signs and verifies with the same keys.

use async_trait::async_trait;
use sqlx::Row as _;
use sqlx::postgres::PgRow;

use super::PostgresStore;
use super::error::{corrupt, db};
use crate::clock::Timestamp;
use crate::store::StoreError;
use crate::token::{Algorithm, KeyMaterial, KeyStore, Kid, StoredKey};

/// Turns a row of `SELECT kid, algorithm, material, created_at, activated_at, retire_after,
/// retired_at` into a key; anything unexpected is [`StoreError::Corrupt`].
fn decode(row: &PgRow) -> Result<StoredKey, StoreError> {
    let kid = Kid::parse(row.try_get(0).map_err(db)?).map_err(corrupt)?;
    let algorithm: Algorithm = row
        .try_get::<&str, _>(1)
        .map_err(db)?
        .parse()
        .map_err(corrupt)?;
    let at = |i: usize| -> Result<Option<Timestamp>, StoreError> {
        Ok(row
            .try_get::<Option<i64>, _>(i)
            .map_err(db)?
            .map(Timestamp::from_unix))
    };
    Ok(StoredKey {
        kid,
        algorithm,
        material: KeyMaterial::from_bytes(row.try_get(2).map_err(db)?),
        created_at: Timestamp::from_unix(row.try_get(3).map_err(db)?),
        activated_at: Timestamp::from_unix(row.try_get(4).map_err(db)?),
        retire_after: at(5)?,
        retired_at: at(6)?,
    })
}

impl PostgresStore {
    /// Runs a statement about one key (`$1`, the `kid`), with one more bound value if any;
    /// the result says whether the key exists.
    async fn on_key(
        &self,
        sql: &str,
        kid: &str,
        at: Option<Timestamp>,
    ) -> Result<bool, StoreError> {
        let mut query = sqlx::query(sql).bind(kid);
        if let Some(at) = at {
            query = query.bind(at.unix());
        }
        let done = query.execute(self.pool()).await.map_err(db)?;
        Ok(done.rows_affected() > 0)
    }
}

#[async_trait]
impl KeyStore for PostgresStore {
    async fn load_all(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, algorithm, material, created_at, activated_at, retire_after, \
             retired_at FROM signing_keys ORDER BY seq",
        )
        .fetch_all(self.pool())
        .await
        .map_err(db)?;
        rows.iter().map(decode).collect()
    }

    async fn insert(&self, key: &StoredKey) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, material, created_at, activated_at, \
             retire_after, retired_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(key.kid.as_str())
        .bind(key.algorithm.as_str())
        .bind(key.material.expose_secret())
        .bind(key.created_at.unix())
        .bind(key.activated_at.unix())
        .bind(key.retire_after.map(Timestamp::unix))
        .bind(key.retired_at.map(Timestamp::unix))
        .execute(self.pool())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn set_retire_after(&self, kid: &str, at: Timestamp) -> Result<bool, StoreError> {
        let sql = "UPDATE signing_keys SET retire_after = $2 WHERE kid = $1";
        self.on_key(sql, kid, Some(at)).await
    }

    async fn mark_retired(&self, kid: &str, at: Timestamp) -> Result<bool, StoreError> {
        let sql = "UPDATE signing_keys SET retired_at = $2 WHERE kid = $1";
        self.on_key(sql, kid, Some(at)).await
    }

    async fn set_material(&self, kid: &str, material: &KeyMaterial) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE signing_keys SET material = $2 WHERE kid = $1")
            .bind(kid)
            .bind(material.expose_secret())
            .execute(self.pool())
            .await
            .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete(&self, kid: &str) -> Result<bool, StoreError> {
        self.on_key("DELETE FROM signing_keys WHERE kid = $1", kid, None)
            .await
    }
}
