//! The revocation bus: how a revocation made on one node reaches every other node within
//! milliseconds, and how session near-caches hear that a session ended elsewhere.
//!
//! The order is always: store, then publish. A node applies what it hears at once; and
//! whenever it may have missed something (it subscribed, its subscriber reconnected, or it fell
//! behind) it gets a [`BusEvent::Resync`] and reloads the stored list, so nothing published
//! while it was away is lost.
//!
//! Three buses: [`LocalBus`] (one process), `RedisBus` (`cloakroom::store`, feature `redis`:
//! Redis pub/sub) and `PostgresBus` (`cloakroom::store`, feature `postgres`: `LISTEN`/`NOTIFY`).

use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};

use super::{Revocation, Revocations};
use crate::clock::{Clock as _, SystemClock, Timestamp};
use crate::session::SessionStore;
use crate::store::{CacheHandle, CachingStore, Invalidation, InvalidationSink, StoreError};

/// How many events a subscriber may fall behind before it is told to resync instead.
pub(crate) const EVENT_BUFFER: usize = 4_096;

/// What nodes tell each other. Serialized as JSON on the wire, e.g.
/// `{"revoked":{"kind":"session","sid":"…","until":1700000000}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusMessage {
    /// An entry for the deny-list, stored already.
    Revoked(Revocation),
    /// Sessions that changed or ended, for the near-caches ([`CachingStore`]).
    Sessions(Invalidation),
}

/// What a subscriber receives.
#[derive(Debug, Clone, PartialEq)]
pub enum BusEvent {
    /// A message from a node.
    Message(BusMessage),
    /// Messages may have been missed (the bus has just (re)connected, or this subscriber fell
    /// behind): reload what is stored, and drop what is cached.
    Resync,
}

/// Spreads revocations and session invalidations between nodes.
#[async_trait]
pub trait RevocationBus: Send + Sync + fmt::Debug + 'static {
    /// Sends `message` to every node. An error means it may not have reached them: the caller
    /// reports failure (the stored entry reaches them when they next resync).
    async fn publish(&self, message: &BusMessage) -> Result<(), StoreError>;

    /// Everything published from now on, from other nodes; a bus that connects over a network
    /// also sends [`BusEvent::Resync`] each time it (re)connects. A receiver that falls more
    /// than a few thousand events behind gets `Lagged`, which means the same as `Resync`.
    fn subscribe(&self) -> broadcast::Receiver<BusEvent>;

    /// Whether news reaches this node right now (for readiness probes).
    fn is_connected(&self) -> bool;

    /// Its state, for probes and metrics. By default only whether it is connected.
    fn status(&self) -> BusStatus {
        BusStatus {
            connected: self.is_connected(),
            ..BusStatus::default()
        }
    }
}

/// What a bus says about itself, for readiness probes and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BusStatus {
    /// Whether news reaches this node right now; `false` while it reconnects.
    pub connected: bool,
    /// How many times it has connected since it was made: 1 after a clean start, one more
    /// for each reconnection.
    pub connections: u64,
    /// When it last (re)connected and told its subscribers to reload what is stored.
    pub last_resync: Option<Timestamp>,
}

#[cfg_attr(not(any(feature = "redis", feature = "postgres")), allow(dead_code))]
/// Keeps a network bus's [`BusStatus`] as its connection comes and goes.
pub(crate) fn mark_connected(status: &watch::Sender<BusStatus>) {
    status.send_modify(|s| {
        s.connected = true;
        s.connections += 1;
        s.last_resync = Some(SystemClock.now());
    });
}

#[cfg_attr(not(any(feature = "redis", feature = "postgres")), allow(dead_code))]
/// The bus's connection is down: it is reconnecting.
pub(crate) fn mark_reconnecting(status: &watch::Sender<BusStatus>) -> bool {
    let mut was_up = false;
    status.send_modify(|s| {
        was_up = s.connected;
        s.connected = false;
    });
    was_up
}

/// The bus of a single node: everything published reaches every subscriber in this process,
/// the publisher's own included. Always connected. Cloning shares the bus.
#[derive(Debug, Clone)]
pub struct LocalBus {
    events: broadcast::Sender<BusEvent>,
}

impl LocalBus {
    /// A new bus with no subscriber.
    pub fn new() -> Self {
        Self {
            events: broadcast::channel(EVENT_BUFFER).0,
        }
    }
}

impl Default for LocalBus {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl RevocationBus for LocalBus {
    async fn publish(&self, message: &BusMessage) -> Result<(), StoreError> {
        // No subscriber is not an error: nobody needed telling.
        let _ = self.events.send(BusEvent::Message(message.clone()));
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<BusEvent> {
        self.events.subscribe()
    }

    fn is_connected(&self) -> bool {
        true
    }

    fn status(&self) -> BusStatus {
        BusStatus {
            connected: true,
            connections: 1,
            last_resync: None,
        }
    }
}

/// The next thing a subscriber must act on: a message, or `Resync` (also after lagging).
/// `None` once the bus is gone.
pub(crate) async fn next_event(rx: &mut broadcast::Receiver<BusEvent>) -> Option<BusEvent> {
    match rx.recv().await {
        Ok(event) => Some(event),
        Err(broadcast::error::RecvError::Lagged(missed)) => {
            tracing::warn!(missed, "fell behind the revocation bus: resyncing");
            Some(BusEvent::Resync)
        }
        Err(broadcast::error::RecvError::Closed) => None,
    }
}

/// Waits between failed reloads: short at first, at most a few seconds.
const RELOAD_RETRY_MIN: Duration = Duration::from_millis(50);
const RELOAD_RETRY_MAX: Duration = Duration::from_secs(2);

impl Revocations {
    /// Applies, on the current tokio runtime, what other nodes publish on the attached bus
    /// ([`with_bus`](Self::with_bus)), and reloads the stored list at once and whenever the
    /// bus resyncs (retrying until the store answers). Does nothing without a bus. The task
    /// ends when the service or the bus is dropped.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use cloakroom::clock::{SystemClock, Timestamp};
    /// use cloakroom::revocation::{LocalBus, MemoryRevocationStore, Revocation, Revocations};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), cloakroom::store::StoreError> {
    /// let (store, bus) = (Arc::new(MemoryRevocationStore::new()), Arc::new(LocalBus::new()));
    /// let node = |store: Arc<MemoryRevocationStore>, bus: Arc<LocalBus>| async move {
    ///     let node = Arc::new(Revocations::open(store, Arc::new(SystemClock)).await?.with_bus(bus));
    ///     node.follow_bus();
    ///     Ok::<_, cloakroom::store::StoreError>(node)
    /// };
    /// let (a, b) = (node(store.clone(), bus.clone()).await?, node(store, bus).await?);
    /// a.revoke(Revocation::session("sid-1", Timestamp::from_unix(i64::MAX))).await?;
    /// while !b.deny_list().is_session_revoked("sid-1") {
    ///     tokio::task::yield_now().await;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn follow_bus(self: &Arc<Self>) {
        let Some(bus) = self.bus() else { return };
        // Subscribed before the first reload, so nothing falls between the two.
        let mut rx = bus.subscribe();
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut event = Some(BusEvent::Resync);
            while let Some(current) = event {
                let Some(this) = weak.upgrade() else { return };
                match current {
                    BusEvent::Message(BusMessage::Revoked(r)) => this.apply_remote(&r),
                    BusEvent::Message(BusMessage::Sessions(_)) => {}
                    BusEvent::Resync => {
                        drop(this);
                        if !reload(&weak).await {
                            return;
                        }
                    }
                }
                event = next_event(&mut rx).await;
            }
        });
    }
}

/// Reloads until it works; `false` if the service was dropped meanwhile.
async fn reload(weak: &Weak<Revocations>) -> bool {
    let mut wait = RELOAD_RETRY_MIN;
    loop {
        let Some(this) = weak.upgrade() else {
            return false;
        };
        match this.reload().await {
            Ok(n) => {
                tracing::debug!(entries = n, "reloaded the deny-list");
                return true;
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?wait, "could not reload the deny-list");
            }
        }
        drop(this);
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(RELOAD_RETRY_MAX);
    }
}

/// Publishes a cache's invalidations on a bus.
#[derive(Debug)]
struct BusSink(Arc<dyn RevocationBus>);

#[async_trait]
impl InvalidationSink for BusSink {
    async fn publish(&self, what: &Invalidation) -> Result<(), StoreError> {
        self.0.publish(&BusMessage::Sessions(what.clone())).await
    }
}

impl<S: SessionStore> CachingStore<S> {
    /// The same cache, publishing its writes on `bus` and evicting, on the current tokio
    /// runtime, what other nodes publish there: a logout on one node drops the session from
    /// every node's cache at once. On a resync (the bus reconnected, so news may have been
    /// missed) the whole cache is dropped. The task ends when the cache or the bus is dropped.
    pub fn with_bus(self, bus: Arc<dyn RevocationBus>) -> Self {
        let mut rx = bus.subscribe();
        let cache: CacheHandle = self.handle();
        tokio::spawn(async move {
            while let Some(event) = next_event(&mut rx).await {
                let alive = match event {
                    BusEvent::Message(BusMessage::Sessions(what)) => cache.invalidate(&what),
                    BusEvent::Message(BusMessage::Revoked(_)) => cache.is_alive(),
                    BusEvent::Resync => cache.clear(),
                };
                if !alive {
                    return;
                }
            }
        });
        self.with_sink(Arc::new(BusSink(bus)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;

    #[test]
    fn messages_are_tagged_json() {
        let m = BusMessage::Revoked(Revocation::session("s1", Timestamp::from_unix(5)));
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(
            json,
            r#"{"revoked":{"kind":"session","sid":"s1","until":5}}"#
        );
        assert_eq!(serde_json::from_str::<BusMessage>(&json).unwrap(), m);
        let m = BusMessage::Sessions(Invalidation::User {
            user_id: "u".into(),
        });
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"sessions":{"user":{"user_id":"u"}}}"#);
        assert_eq!(serde_json::from_str::<BusMessage>(&json).unwrap(), m);
    }
}
