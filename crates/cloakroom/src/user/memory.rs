//! [`UserStore`] in this process's memory: for apps with a handful of users, examples and
//! tests. Gone on restart, like [`MemoryStore`](crate::store) sessions.

use std::sync::Mutex;

use async_trait::async_trait;

use super::{NewUser, PasswordHash, User, UserStore};
use crate::store::StoreError;

/// Users in memory, in the order they were added. A lock around a list: user changes are rare
/// and sign-ins are dominated by argon2, so nothing here is on a hot path.
#[derive(Debug, Default)]
pub struct MemoryUserStore {
    users: Mutex<Vec<User>>,
}

impl MemoryUserStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut Vec<User>) -> R) -> R {
        // A panic while holding the lock cannot leave a half-written user: every change is one
        // assignment or push.
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut users)
    }

    fn change(&self, id: &str, f: impl FnOnce(&mut User)) -> bool {
        self.with(|users| match users.iter_mut().find(|u| u.id == id) {
            Some(user) => {
                f(user);
                true
            }
            None => false,
        })
    }
}

#[async_trait]
impl UserStore for MemoryUserStore {
    async fn create(&self, new: &NewUser) -> Result<User, StoreError> {
        let folded = new.username.folded();
        self.with(|users| {
            if users.iter().any(|u| u.username.folded() == folded) {
                return Err(StoreError::Duplicate);
            }
            let user = User {
                id: uuid::Uuid::new_v4().to_string(),
                username: new.username.clone(),
                roles: new.roles.clone(),
                password_hash: new.password_hash.clone(),
                disabled: false,
                created_at: new.created_at,
            };
            users.push(user.clone());
            Ok(user)
        })
    }

    async fn by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        let Ok(wanted) = super::Username::parse(username) else {
            return Ok(None);
        };
        let folded = wanted.folded();
        Ok(self.with(|users| {
            users
                .iter()
                .find(|u| u.username.folded() == folded)
                .cloned()
        }))
    }

    async fn by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        Ok(self.with(|users| users.iter().find(|u| u.id == id).cloned()))
    }

    async fn list(&self) -> Result<Vec<User>, StoreError> {
        Ok(self.with(|users| users.clone()))
    }

    async fn remove(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.with(|users| {
            let before = users.len();
            users.retain(|u| u.id != id);
            users.len() != before
        }))
    }

    async fn set_password_hash(&self, id: &str, hash: &PasswordHash) -> Result<bool, StoreError> {
        Ok(self.change(id, |u| u.password_hash = hash.clone()))
    }

    async fn set_disabled(&self, id: &str, disabled: bool) -> Result<bool, StoreError> {
        Ok(self.change(id, |u| u.disabled = disabled))
    }

    async fn set_roles(&self, id: &str, roles: &[String]) -> Result<bool, StoreError> {
        Ok(self.change(id, |u| u.roles = roles.to_vec()))
    }
}
