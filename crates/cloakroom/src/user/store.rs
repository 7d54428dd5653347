//! The trait every user store implements.

use async_trait::async_trait;

use super::{NewUser, PasswordHash, User};
use crate::store::StoreError;

/// Where users are kept.
#[async_trait]
pub trait UserStore: Send + Sync + std::fmt::Debug + 'static {
    /// Adds a user and returns it with its new ID. Fails with [`StoreError::Duplicate`] if the
    /// username (compared case-insensitively) is taken.
    async fn create(&self, user: &NewUser) -> Result<User, StoreError>;

    /// The user called `username` (case-insensitively).
    async fn by_username(&self, username: &str) -> Result<Option<User>, StoreError>;

    /// The user with this ID.
    async fn by_id(&self, id: &str) -> Result<Option<User>, StoreError>;

    /// Every user, in the order they were added.
    async fn list(&self) -> Result<Vec<User>, StoreError>;

    /// Removes a user; the result says whether there was one.
    async fn remove(&self, id: &str) -> Result<bool, StoreError>;

    /// Replaces a user's password hash; the result says whether the user exists.
    async fn set_password_hash(&self, id: &str, hash: &PasswordHash) -> Result<bool, StoreError>;

    /// Enables or disables a user; the result says whether the user exists.
    async fn set_disabled(&self, id: &str, disabled: bool) -> Result<bool, StoreError>;

    /// Replaces a user's roles; the result says whether the user exists.
    async fn set_roles(&self, id: &str, roles: &[String]) -> Result<bool, StoreError>;
}
