//! One session as the memory store keeps it: the record's fields, laid out small.

use std::net::IpAddr;
use std::sync::Arc;

use crate::clock::Timestamp;
use crate::session::{
    ClientInfo, SessionData, SessionHandle, SessionKey, SessionRecord, SessionUser,
};

/// A [`SessionRecord`] under its key, boxed in the table (a pointer per slot, not the record).
/// Not the record itself: its fields are flattened so the compiler packs the one-byte-aligned
/// ones (handle, address) together, and the data with its version, empty and 0 in most
/// sessions, is one pointer instead of a map and a counter. 136 bytes: a 144-byte malloc chunk.
#[derive(Debug)]
pub(super) struct Stored {
    pub(super) key: SessionKey,
    pub(super) handle: SessionHandle,
    pub(super) ip: Option<IpAddr>,
    /// Shared with the user's other sessions of the same snapshot (see `users`).
    pub(super) user: Arc<SessionUser>,
    /// Shared with every session of the same browser (see `intern`).
    pub(super) user_agent: Option<Arc<str>>,
    pub(super) created_at: Timestamp,
    pub(super) last_seen_at: Timestamp,
    pub(super) idle_expires_at: Timestamp,
    pub(super) absolute_expires_at: Timestamp,
    /// `None` until data is first written (version 0, no data).
    pub(super) data: Option<Box<Versioned>>,
}

/// A session's data, with the version that `save_data` checks and bumps.
#[derive(Debug, Default)]
pub(super) struct Versioned {
    pub(super) version: u64,
    pub(super) data: SessionData,
}

impl Stored {
    /// `record` under `key`, with the shared copies of its user and user agent.
    pub(super) fn new(
        key: SessionKey,
        record: &SessionRecord,
        user: Arc<SessionUser>,
        user_agent: Option<Arc<str>>,
    ) -> Self {
        Self {
            key,
            handle: record.handle,
            ip: record.client.ip,
            user,
            user_agent,
            created_at: record.created_at,
            last_seen_at: record.last_seen_at,
            idle_expires_at: record.idle_expires_at,
            absolute_expires_at: record.absolute_expires_at,
            data: (record.version != 0 || !record.data.is_empty()).then(|| {
                Box::new(Versioned {
                    version: record.version,
                    data: record.data.clone(),
                })
            }),
        }
    }

    /// The record, as callers see it: two reference counts and the data.
    pub(super) fn to_record(&self) -> SessionRecord {
        SessionRecord {
            handle: self.handle,
            user: Arc::clone(&self.user),
            created_at: self.created_at,
            last_seen_at: self.last_seen_at,
            idle_expires_at: self.idle_expires_at,
            absolute_expires_at: self.absolute_expires_at,
            client: ClientInfo {
                user_agent: self.user_agent.clone(),
                ip: self.ip,
            },
            version: self.version(),
            data: self
                .data
                .as_ref()
                .map(|d| d.data.clone())
                .unwrap_or_default(),
        }
    }

    /// The version of the session's data.
    pub(super) fn version(&self) -> u64 {
        self.data.as_ref().map_or(0, |d| d.version)
    }

    /// Replaces the data if its version is still `expected`, returning the new version; the
    /// version found otherwise.
    pub(super) fn save_data(&mut self, expected: u64, data: &SessionData) -> Result<u64, u64> {
        if self.version() != expected {
            return Err(self.version());
        }
        let kept = self.data.get_or_insert_with(Box::default);
        kept.version += 1;
        kept.data = data.clone();
        Ok(kept.version)
    }

    /// Whether the session has ended at `now` (as [`SessionRecord::is_expired`]).
    pub(super) fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.idle_expires_at.min(self.absolute_expires_at)
    }
}
