//! # Cloakroom
//!
//! Authentication for web services: server-side sessions (the cloakroom ticket), signed access
//! tokens (the passport), and a hybrid of both. This crate is the core and knows nothing of HTTP;
//! `cloakroom-axum` puts it in front of an axum or tower service, and `cloakroom-server` is the
//! standalone `cloakroom` binary.
//!
//! The pieces:
//! - [`session`]: session IDs (secret, 256 random bits), records, expiry policy, the
//!   [`SessionStore`](session::SessionStore) trait;
//! - [`store`]: the stores (`memory`, `sqlite`) and their shared error;
//! - [`user`]: users, the [`UserStore`](user::UserStore) trait, argon2id password hashing;
//! - [`authority`]: the one facade every door goes through, for every mode: sign in (throttled),
//!   refresh, sign out, revoke, list, change passwords and users;
//! - [`auth`]: the modes' building blocks: sessions, principals, and their errors;
//! - [`throttle`]: failed sign-ins counted per account and address, and lockouts.
//!
//! ```
//! use cloakroom::auth::SessionManager;
//! use cloakroom::session::{ClientInfo, SessionPolicy, SessionUser};
//! use cloakroom::store::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), cloakroom::auth::AuthError> {
//! let sessions = SessionManager::new(MemoryStore::new(10_000), SessionPolicy::default());
//! let user = SessionUser::new("1", "Bhaskar");
//! let (id, _record) = sessions.start(user, ClientInfo::default()).await?;
//!
//! // The browser keeps only `id` (in a cookie); the server finds the session by it.
//! let active = sessions.authenticate(&id).await?;
//! assert_eq!(active.record.user.name, "Bhaskar");
//!
//! // Logout deletes the record: the ticket is worth nothing afterwards.
//! sessions.end(&id).await?;
//! assert!(sessions.authenticate(&id).await.is_err());
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod auth;
pub mod authority;
pub mod clock;
pub mod dangerous;
pub mod random;
#[cfg(feature = "jwt")]
pub mod revocation;
pub mod session;
pub mod store;
pub mod throttle;
#[cfg(feature = "jwt")]
pub mod token;
#[cfg(feature = "jwt")]
pub mod token_auth;
pub mod user;
