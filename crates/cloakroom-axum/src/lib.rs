//! # cloakroom-axum
//!
//! [Cloakroom](cloakroom) for axum and any tower service: a layer that finds the session
//! cookie and authenticates it, extractors for the signed-in principal ([`Auth`]) and for the
//! session's data ([`CurrentSession`]), a handle to sign in and out ([`Sessions`]), JSON
//! rejections ([`ApiError`]), and a CSRF guard for cookie-authenticated requests.
//!
//! ```
//! use axum::{Router, routing::{get, post}, http::StatusCode, response::IntoResponse};
//! use cloakroom::{auth::SessionManager, session::{ClientInfo, SessionPolicy, SessionUser}, store::MemoryStore};
//! use cloakroom_axum::{ApiError, Auth, AuthLayer, CookieConfig, Sessions};
//!
//! async fn login(sessions: Sessions) -> Result<impl IntoResponse, ApiError> {
//!     let cookie = sessions.login(SessionUser::new("1", "Bhaskar"), ClientInfo::default()).await?;
//!     Ok((cookie, "Logged in"))
//! }
//!
//! async fn profile(Auth(user): Auth) -> String {
//!     format!("Welcome {}", user.username)
//! }
//!
//! let sessions = SessionManager::new(MemoryStore::new(10_000), SessionPolicy::default());
//! let app: Router = Router::new()
//!     .route("/login", post(login))
//!     .route("/profile", get(profile))
//!     .layer(AuthLayer::new(sessions, CookieConfig::new("sid")));
//! ```
#![deny(missing_docs)]

mod client;
mod cookie;
mod csrf;
mod error;
mod extract;
mod layer;
mod proxy;
pub mod routes;
#[cfg(feature = "jwt")]
mod token;

pub use client::{client_info, client_info_via};
pub use cookie::{CookieConfig, SessionCookie};
pub use csrf::is_cross_site;
pub use error::ApiError;
pub use extract::{Auth, CurrentSession, Sessions};
pub use layer::{AuthFuture, AuthLayer, AuthService, AuthState};
pub use proxy::{Cidr, ForwardedHeader, InvalidCidr, TrustedProxies};
#[cfg(feature = "jwt")]
pub use token::{KeyReloader, TokenAuth};

/// The core crate, re-exported so that users need one dependency.
pub use cloakroom;
