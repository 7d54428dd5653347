//! [`UserStore`] on PostgreSQL: one row per user, unique by the folded username.

use async_trait::async_trait;
use sqlx::Row as _;
use sqlx::postgres::PgRow;

use super::PostgresStore;
use super::error::{corrupt, db};
use crate::clock::Timestamp;
use crate::store::StoreError;
use crate::user::{NewUser, PasswordHash, User, UserStore, Username};

/// `SELECT` of every column, in the order [`decode`] reads them, followed by `$rest`.
macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT id, username, roles, password_hash, disabled, created_at FROM users ",
            $rest
        )
    };
}

/// Turns a row of [`select!`] into a user; anything unexpected is [`StoreError::Corrupt`].
fn decode(row: &PgRow) -> Result<User, StoreError> {
    let username = Username::parse(row.try_get(1).map_err(db)?).map_err(corrupt)?;
    Ok(User {
        id: row.try_get(0).map_err(db)?,
        username,
        roles: row.try_get(2).map_err(db)?,
        password_hash: PasswordHash::from_phc(row.try_get::<String, _>(3).map_err(db)?),
        disabled: row.try_get(4).map_err(db)?,
        created_at: Timestamp::from_unix(row.try_get(5).map_err(db)?),
    })
}

impl PostgresStore {
    /// Runs an `UPDATE users … WHERE id = $1` with one more bound value; the result says
    /// whether the user exists.
    async fn update_user<'q, T>(
        &self,
        sql: &'q str,
        id: &'q str,
        value: T,
    ) -> Result<bool, StoreError>
    where
        T: 'q + Send + sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        let done = sqlx::query(sql)
            .bind(id)
            .bind(value)
            .execute(self.pool())
            .await
            .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }
}

#[async_trait]
impl UserStore for PostgresStore {
    async fn create(&self, user: &NewUser) -> Result<User, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        // The UNIQUE index on the folded name turns a case-insensitive clash, even between
        // two nodes at once, into `Duplicate`.
        sqlx::query(
            "INSERT INTO users (id, username, username_folded, roles, password_hash, disabled, \
             created_at) VALUES ($1, $2, $3, $4, $5, false, $6)",
        )
        .bind(&id)
        .bind(user.username.as_str())
        .bind(user.username.folded())
        .bind(&user.roles)
        .bind(user.password_hash.as_phc())
        .bind(user.created_at.unix())
        .execute(self.pool())
        .await
        .map_err(db)?;
        Ok(User {
            id,
            username: user.username.clone(),
            roles: user.roles.clone(),
            password_hash: user.password_hash.clone(),
            disabled: false,
            created_at: user.created_at,
        })
    }

    async fn by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        // A name that breaks the rules cannot belong to anyone.
        let Ok(username) = Username::parse(username) else {
            return Ok(None);
        };
        let row = sqlx::query(select!("WHERE username_folded = $1"))
            .bind(username.folded())
            .fetch_optional(self.pool())
            .await
            .map_err(db)?;
        row.as_ref().map(decode).transpose()
    }

    async fn by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(select!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .map_err(db)?;
        row.as_ref().map(decode).transpose()
    }

    async fn list(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(select!("ORDER BY seq"))
            .fetch_all(self.pool())
            .await
            .map_err(db)?;
        rows.iter().map(decode).collect()
    }

    async fn remove(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await
            .map_err(db)?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_password_hash(&self, id: &str, hash: &PasswordHash) -> Result<bool, StoreError> {
        let sql = "UPDATE users SET password_hash = $2 WHERE id = $1";
        self.update_user(sql, id, hash.as_phc()).await
    }

    async fn set_disabled(&self, id: &str, disabled: bool) -> Result<bool, StoreError> {
        let sql = "UPDATE users SET disabled = $2 WHERE id = $1";
        self.update_user(sql, id, disabled).await
    }

    async fn set_roles(&self, id: &str, roles: &[String]) -> Result<bool, StoreError> {
        let sql = "UPDATE users SET roles = $2 WHERE id = $1";
        self.update_user(sql, id, roles).await
    }
}
