//! What a sign-in hands the client, per mode.

use crate::session::{SessionId, SessionRecord};
#[cfg(feature = "jwt")]
use crate::token::IssuedToken;
#[cfg(feature = "jwt")]
use crate::token_auth::TokenPair;
use crate::user::User;

/// The credential of one sign-in.
#[derive(Debug)]
#[non_exhaustive]
pub enum Credential {
    /// `session` mode: the session ID (a secret, for the cookie) and the record kept.
    Session {
        /// The secret ID, handed to the client once.
        id: SessionId,
        /// The session as stored.
        record: SessionRecord,
    },
    /// `jwt` mode: an access token.
    #[cfg(feature = "jwt")]
    Access(IssuedToken),
    /// `hybrid` mode: an access token and a refresh token.
    #[cfg(feature = "jwt")]
    Pair(TokenPair),
}

/// A successful sign-in: who, and the credential issued.
#[derive(Debug)]
pub struct SignedIn {
    /// The user, as the store had them when the credential was confirmed.
    pub user: User,
    /// The credential.
    pub credential: Credential,
}
