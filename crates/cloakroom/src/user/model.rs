//! The user record and the rules for names.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::PasswordHash;
use crate::clock::Timestamp;

/// The longest username, in characters.
const MAX_USERNAME_CHARS: usize = 64;

/// A username that breaks the rules in [`Username::parse`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidUsername {
    /// Empty once surrounding whitespace is removed.
    #[error("the username is empty")]
    Empty,
    /// Longer than 64 characters.
    #[error("the username is longer than {MAX_USERNAME_CHARS} characters")]
    TooLong,
    /// Contains a control character (newline, NUL, …).
    #[error("the username contains a control character")]
    ControlCharacter,
}

/// A valid username: 1 to 64 characters, no control characters, no surrounding whitespace.
/// Stores compare usernames case-insensitively, so `Alice` and `alice` are one user.
///
/// ```
/// use cloakroom::user::Username;
///
/// assert_eq!(Username::parse("  alice ")?.as_str(), "alice");
/// assert!(Username::parse("a\nb").is_err());
/// # Ok::<(), cloakroom::user::InvalidUsername>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    /// Checks and trims a username.
    pub fn parse(text: &str) -> Result<Self, InvalidUsername> {
        let text = text.trim();
        if text.is_empty() {
            return Err(InvalidUsername::Empty);
        }
        if text.chars().count() > MAX_USERNAME_CHARS {
            return Err(InvalidUsername::TooLong);
        }
        if text.chars().any(char::is_control) {
            return Err(InvalidUsername::ControlCharacter);
        }
        Ok(Self(text.to_owned()))
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form stores compare by: lowercase.
    pub fn folded(&self) -> String {
        self.0.to_lowercase()
    }
}

impl TryFrom<String> for Username {
    type Error = InvalidUsername;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Username> for String {
    fn from(u: Username) -> Self {
        u.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Stable ID (a UUID), never reused.
    pub id: String,
    /// The name the user signs in with.
    pub username: Username,
    /// Roles, e.g. `admin`.
    pub roles: Vec<String>,
    /// The argon2id hash of the password (PHC string).
    pub password_hash: PasswordHash,
    /// A disabled user cannot sign in.
    pub disabled: bool,
    /// When the user was added.
    pub created_at: Timestamp,
}

impl User {
    /// Whether the user has `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// What it takes to add a user; the store assigns the ID.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The name the user signs in with.
    pub username: Username,
    /// Roles.
    pub roles: Vec<String>,
    /// The argon2id hash of the password.
    pub password_hash: PasswordHash,
    /// When the user is added.
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_rules() {
        assert_eq!(Username::parse(""), Err(InvalidUsername::Empty));
        assert_eq!(Username::parse("   "), Err(InvalidUsername::Empty));
        assert_eq!(
            Username::parse(&"x".repeat(65)),
            Err(InvalidUsername::TooLong)
        );
        assert!(Username::parse(&"é".repeat(64)).is_ok());
        assert_eq!(
            Username::parse("a\0b"),
            Err(InvalidUsername::ControlCharacter)
        );
        assert_eq!(Username::parse("Alice").unwrap().folded(), "alice");
    }
}
