//! [`UserStore`] on SQLite: one row per user, unique by the folded username.

use async_trait::async_trait;
use sqlx::Row as _;
use sqlx::sqlite::SqliteRow;

use super::{SqliteStore, corrupt};
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
fn decode(row: &SqliteRow) -> Result<User, StoreError> {
    let username = Username::parse(row.try_get(1)?).map_err(corrupt)?;
    let roles: Vec<String> = serde_json::from_str(row.try_get(2)?).map_err(corrupt)?;
    Ok(User {
        id: row.try_get(0)?,
        username,
        roles,
        password_hash: PasswordHash::from_phc(row.try_get::<String, _>(3)?),
        disabled: row.try_get(4)?,
        created_at: Timestamp::from_unix(row.try_get(5)?),
    })
}

/// Roles as the JSON text the `roles` column keeps.
fn roles_json(roles: &[String]) -> Result<String, StoreError> {
    // A list of strings always serializes; keep the cause if it ever does not.
    serde_json::to_string(roles).map_err(|e| StoreError::Backend(Box::new(e)))
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create(&self, user: &NewUser) -> Result<User, StoreError> {
        let id = uuid::Uuid::new_v4().to_string();
        // The UNIQUE index on the folded name turns a case-insensitive clash into `Duplicate`.
        sqlx::query(
            "INSERT INTO users (id, username, username_folded, roles, password_hash, disabled, \
             created_at) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
        )
        .bind(&id)
        .bind(user.username.as_str())
        .bind(user.username.folded())
        .bind(roles_json(&user.roles)?)
        .bind(user.password_hash.as_phc())
        .bind(user.created_at.unix())
        .execute(self.pool())
        .await?;
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
        let row = read!(
            self,
            sqlx::query(select!("WHERE username_folded = ?1")).bind(username.folded()),
            fetch_optional
        )?;
        row.as_ref().map(decode).transpose()
    }

    async fn by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        let row = read!(
            self,
            sqlx::query(select!("WHERE id = ?1")).bind(id),
            fetch_optional
        )?;
        row.as_ref().map(decode).transpose()
    }

    async fn list(&self) -> Result<Vec<User>, StoreError> {
        let rows = read!(self, sqlx::query(select!("ORDER BY seq")), fetch_all)?;
        rows.iter().map(decode).collect()
    }

    async fn remove(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM users WHERE id = ?1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_password_hash(&self, id: &str, hash: &PasswordHash) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE users SET password_hash = ?2 WHERE id = ?1")
            .bind(id)
            .bind(hash.as_phc())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_disabled(&self, id: &str, disabled: bool) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE users SET disabled = ?2 WHERE id = ?1")
            .bind(id)
            .bind(disabled)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_roles(&self, id: &str, roles: &[String]) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE users SET roles = ?2 WHERE id = ?1")
            .bind(id)
            .bind(roles_json(roles)?)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn undecodable_users_are_corrupt_not_panics() {
        for damage in [
            "UPDATE users SET roles = '{'",
            "UPDATE users SET username = ''",
            "UPDATE users SET created_at = x'00'",
        ] {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::open(dir.path().join("u.db")).await.unwrap();
            let user = store
                .create(&NewUser {
                    username: Username::parse("ada").unwrap(),
                    roles: vec![],
                    password_hash: PasswordHash::from_phc(
                        "$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
                    ),
                    created_at: Timestamp::from_unix(0),
                })
                .await
                .unwrap();
            sqlx::query(damage).execute(store.pool()).await.unwrap();
            let got = store.by_id(&user.id).await;
            assert!(
                matches!(got, Err(StoreError::Corrupt(_))),
                "{damage}: {got:?}"
            );
            let all = store.list().await;
            assert!(
                matches!(all, Err(StoreError::Corrupt(_))),
                "{damage}: {all:?}"
            );
        }
    }
}
