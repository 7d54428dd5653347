//! Server-side sessions: the ticket the browser holds ([`SessionId`]), what the server keeps
//! ([`SessionRecord`]), how long it lasts ([`SessionPolicy`]), and where it is kept
//! ([`SessionStore`]).

mod data;
mod id;
mod policy;
mod record;
mod rotation;
mod store;

pub use data::{DataError, SessionData};
pub use id::{InvalidSessionId, SessionHandle, SessionId, SessionKey};
pub use policy::{PolicyError, SessionPolicy};
pub use record::{ClientInfo, SessionRecord, SessionUser};
pub use rotation::{
    DEFAULT_REUSE_INTERVAL, FamilyKey, RefreshRotation, Refreshed, RotationNonce, RotationRequest,
    successor,
};
pub use store::{RotatingStore, Rotation, SessionStore};
