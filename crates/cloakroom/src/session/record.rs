//! What the server keeps for one session.

use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{SessionData, SessionHandle};
use crate::clock::Timestamp;

/// The longest user agent kept with a session, in bytes; longer ones are cut.
const MAX_USER_AGENT: usize = 256;

/// Who a session belongs to: a snapshot taken at login, so that authenticating a request needs
/// one lookup, not two. Changing a user's roles or disabling them ends their sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    /// The user's stable ID.
    pub id: String,
    /// The user's name.
    pub name: String,
    /// The user's roles.
    pub roles: Vec<String>,
}

impl SessionUser {
    /// A user with no roles.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            roles: Vec::new(),
        }
    }

    /// The same user with `roles`.
    pub fn with_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }
}

/// The client a session was started from, shown to the user in their list of sessions.
///
/// The user agent is shared (`Arc<str>`): many sessions come from one browser, and copying a
/// record copies a pointer. In serde it is a plain string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    /// The `User-Agent` header, cut to 256 bytes.
    pub user_agent: Option<Arc<str>>,
    /// The client's address.
    pub ip: Option<IpAddr>,
}

impl ClientInfo {
    /// Client info from a user agent and an address; the user agent is cut to 256 bytes at a
    /// character boundary and stripped of control characters.
    pub fn new(user_agent: Option<&str>, ip: Option<IpAddr>) -> Self {
        let user_agent = user_agent.map(|ua| {
            let mut end = ua.len().min(MAX_USER_AGENT);
            while !ua.is_char_boundary(end) {
                end -= 1;
            }
            let ua = &ua[..end];
            if ua.chars().any(char::is_control) {
                Arc::from(ua.chars().filter(|c| !c.is_control()).collect::<String>())
            } else {
                Arc::from(ua)
            }
        });
        Self { user_agent, ip }
    }
}

/// One session as the store keeps it.
///
/// Cheap to clone, as every authenticated request loads one: the handle is inline, and the user
/// and the user agent are shared (`Arc`), so a copy costs two reference counts and the session
/// data (usually empty). The serde form is unchanged by the sharing: `user` is the
/// [`SessionUser`] object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The public name of the session (not its secret ID).
    pub handle: SessionHandle,
    /// Who is signed in; shared with the other records of the same snapshot (use
    /// [`Arc::make_mut`] to change one record's copy).
    pub user: Arc<SessionUser>,
    /// When the session started.
    pub created_at: Timestamp,
    /// The last request seen, to within the policy's touch interval.
    pub last_seen_at: Timestamp,
    /// When the session ends if no request comes first.
    pub idle_expires_at: Timestamp,
    /// When the session ends, whatever happens.
    pub absolute_expires_at: Timestamp,
    /// Where the session was started from.
    pub client: ClientInfo,
    /// Bumped at every write of `data`, for optimistic concurrency.
    pub version: u64,
    /// Free-form data.
    pub data: SessionData,
}

impl SessionRecord {
    /// The moment the session ends: the earlier of its idle and absolute expiry.
    pub fn expires_at(&self) -> Timestamp {
        self.idle_expires_at.min(self.absolute_expires_at)
    }

    /// Whether the session has ended at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.expires_at()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_is_cut_at_a_char_boundary_and_cleaned() {
        let long = "é".repeat(200);
        let info = ClientInfo::new(Some(&long), None);
        let ua = info.user_agent.unwrap();
        assert!(ua.len() <= 256);
        assert!(ua.chars().all(|c| c == 'é'));
        let info = ClientInfo::new(Some("curl\r\n/8"), None);
        assert_eq!(info.user_agent.as_deref(), Some("curl/8"));
    }
}
