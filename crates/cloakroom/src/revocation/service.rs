//! The deny-list and its store together: what logout calls.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::{BusMessage, DenyList, Revocation, RevocationBus, RevocationStore};
use crate::clock::{SharedClock, Timestamp};
use crate::store::StoreError;

/// Revokes tokens, sessions and users: in memory at once (the [`DenyList`] the verifier
/// checks) and in a [`RevocationStore`], so revocations survive a restart.
///
/// A revocation bus (hybrid mode, many nodes) publishes what [`revoke`](Self::revoke) was given
/// and, on the other nodes, hands what it receives to [`apply_remote`](Self::apply_remote).
///
/// ```
/// use std::sync::Arc;
/// use cloakroom::clock::{ManualClock, Timestamp};
/// use cloakroom::revocation::{MemoryRevocationStore, Revocation, Revocations};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), cloakroom::store::StoreError> {
/// let store = Arc::new(MemoryRevocationStore::new());
/// let clock = Arc::new(ManualClock::new(Timestamp::from_unix(1_000)));
/// let revocations = Revocations::open(store.clone(), clock.clone()).await?;
/// revocations.revoke(Revocation::token("jti-1", Timestamp::from_unix(2_000))).await?;
///
/// // After a restart, the store brings it back.
/// let again = Revocations::open(store, clock).await?;
/// assert!(again.deny_list().is_token_revoked("jti-1"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Revocations {
    deny: Arc<DenyList>,
    store: Arc<dyn RevocationStore>,
    clock: SharedClock,
    bus: Option<Arc<dyn RevocationBus>>,
    /// When the stored list was last loaded whole, in unix seconds (for probes and metrics).
    last_reload: AtomicI64,
}

impl Revocations {
    /// Loads the entries of `store` that have not expired into a new deny-list.
    pub async fn open(
        store: Arc<dyn RevocationStore>,
        clock: SharedClock,
    ) -> Result<Self, StoreError> {
        let deny = Arc::new(DenyList::new());
        let now = clock.now();
        for entry in store.load_all(now).await? {
            deny.apply(&entry);
        }
        Ok(Self {
            deny,
            store,
            clock,
            bus: None,
            last_reload: AtomicI64::new(now.unix()),
        })
    }

    /// The same service, publishing each revocation on `bus` once it is stored. To also
    /// apply what other nodes publish, see [`follow_bus`](Self::follow_bus).
    pub fn with_bus(mut self, bus: Arc<dyn RevocationBus>) -> Self {
        self.bus = Some(bus);
        self
    }

    /// The bus revocations are published on, if any.
    pub fn bus(&self) -> Option<&Arc<dyn RevocationBus>> {
        self.bus.as_ref()
    }

    /// Loads every entry of the store that has not expired into the deny-list, returning how
    /// many: what a node does when it may have missed news (after a reconnect).
    pub async fn reload(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let entries = self.store.load_all(now).await?;
        for entry in &entries {
            self.deny.apply(entry);
        }
        self.last_reload.store(now.unix(), Ordering::Relaxed);
        Ok(entries.len())
    }

    /// When the stored list was last loaded whole (at open, then by [`reload`](Self::reload)).
    pub fn last_reload(&self) -> Timestamp {
        Timestamp::from_unix(self.last_reload.load(Ordering::Relaxed))
    }

    /// The deny-list, for a [`TokenVerifier`](crate::token::TokenVerifier).
    pub fn deny_list(&self) -> &Arc<DenyList> {
        &self.deny
    }

    /// The current time, by this service's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The not-before for refusing every token of `user_id` issued until now: a second from
    /// now (`iat` has whole seconds), or one second past the user's current cut-off when that
    /// is not earlier. Tokens issued since a cut are dated at it, so a second cut within the
    /// same second must be later still to refuse them too.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use cloakroom::clock::{ManualClock, Timestamp};
    /// use cloakroom::revocation::{MemoryRevocationStore, Revocation, Revocations};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cloakroom::store::StoreError> {
    /// let clock = Arc::new(ManualClock::new(Timestamp::from_unix(1_000)));
    /// let r = Revocations::open(Arc::new(MemoryRevocationStore::new()), clock).await?;
    /// let first = r.next_user_cut("u");
    /// assert_eq!(first, Timestamp::from_unix(1_001));
    /// r.revoke(Revocation::user("u", first, Timestamp::from_unix(5_000))).await?;
    /// assert_eq!(r.next_user_cut("u"), Timestamp::from_unix(1_002));
    /// # Ok(())
    /// # }
    /// ```
    pub fn next_user_cut(&self, user_id: &str) -> Timestamp {
        Revocation::next_user_cut(self.clock.now(), self.deny.user_not_before(user_id))
    }

    /// Revokes: the entry takes effect in this process at once, then is stored, then (with a
    /// bus) published to the other nodes. Stored before published, so that a node that
    /// reloads on hearing news, or on reconnecting, finds it. If storing or publishing fails
    /// the error is returned (the caller must not report success), but the entry stays in
    /// memory: refusing too much is the safe side.
    pub async fn revoke(&self, revocation: Revocation) -> Result<(), StoreError> {
        self.deny.apply(&revocation);
        self.store.add(&revocation).await?;
        if let Some(bus) = &self.bus {
            bus.publish(&BusMessage::Revoked(revocation)).await?;
        }
        Ok(())
    }

    /// Applies an entry another node revoked (and stored) already.
    pub fn apply_remote(&self, revocation: &Revocation) {
        self.deny.apply(revocation);
    }

    /// Forgets expired entries in memory and in the store, returning how many the store had.
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        let now = self.clock.now();
        self.deny.purge_expired(now);
        self.store.purge_expired(now).await
    }

    /// Purges expired entries every `every`, on the current tokio runtime, for as long as the
    /// service is alive (the task holds only a weak reference).
    pub fn purge_in_background(self: &Arc<Self>, every: Duration) {
        let weak: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(this) = weak.upgrade() else { break };
                match this.purge_expired().await {
                    Ok(n) if n > 0 => tracing::debug!(purged = n, "purged expired revocations"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "could not purge expired revocations"),
                }
            }
        });
    }
}
