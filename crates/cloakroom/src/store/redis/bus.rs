//! The revocation bus over Redis pub/sub.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt as _;
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use super::error::from_redis;
use super::keys::Keys;
use super::{CONNECT_TIMEOUT, RESPONSE_TIMEOUT, connection_manager};
use crate::random;
use crate::revocation::{
    BusEvent, BusMessage, BusStatus, RevocationBus, mark_connected, mark_reconnecting,
};
use crate::store::StoreError;

/// How often the subscriber checks that its connection still answers: a connection that died
/// without closing (a lost network) is noticed within this and the response timeout.
const PING_EVERY: Duration = Duration::from_secs(2);
/// Waits between attempts to resubscribe: doubling from the first to the last, with jitter.
const RETRY_MIN: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(1);
/// How many events a subscriber may fall behind before it is told to resync instead.
const EVENT_BUFFER: usize = 4_096;

#[derive(Serialize)]
struct Outgoing<'a> {
    from: &'a str,
    msg: &'a BusMessage,
}

#[derive(Deserialize)]
struct Incoming {
    from: String,
    msg: BusMessage,
}

/// Why the bus did not come up.
#[derive(Debug, thiserror::Error)]
#[error("the revocation bus did not subscribe within {0:?}")]
struct NotSubscribed(Duration);

/// The revocation bus of nodes that share a Redis: messages go out by `PUBLISH` on the
/// channel `{ns}:bus` and come in on a pub/sub connection of their own, which a background
/// task keeps subscribed: it reconnects by itself (backoff from 50 ms to 1 s, with jitter),
/// checks the connection with a `PING` every 2 s, and sends [`BusEvent::Resync`] after every
/// (re)subscription so that subscribers reload what they may have missed. The task stops
/// when the bus is dropped. A node does not hear its own messages (it applied them already).
///
/// Pub/sub delivers to whoever is subscribed at that moment, and no more: hence the rule that
/// revocations are stored before they are published, and reloaded on every resync.
///
/// ```no_run
/// use std::sync::Arc;
/// use cloakroom::clock::SystemClock;
/// use cloakroom::revocation::{RevocationBus, Revocations};
/// use cloakroom::store::{RedisBus, RedisRevocationStore, RedisStore};
///
/// # async fn run() -> Result<(), cloakroom::store::StoreError> {
/// let store = RedisStore::connect("redis://127.0.0.1:6379", "cloakroom").await?;
/// let bus = Arc::new(RedisBus::connect("redis://127.0.0.1:6379", "cloakroom").await?);
/// let revocations = Arc::new(
///     Revocations::open(Arc::new(RedisRevocationStore::new(&store)), Arc::new(SystemClock))
///         .await?
///         .with_bus(bus.clone()),
/// );
/// revocations.follow_bus();
/// assert!(bus.is_connected()); // for /readyz
/// # Ok(())
/// # }
/// ```
pub struct RedisBus {
    publisher: ConnectionManager,
    channel: String,
    node: String,
    events: broadcast::Sender<BusEvent>,
    connected: watch::Receiver<BusStatus>,
    subscriber: JoinHandle<()>,
}

impl fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBus")
            .field("channel", &self.channel)
            .field("node", &self.node)
            .field("status", &*self.connected.borrow())
            .finish_non_exhaustive()
    }
}

impl Drop for RedisBus {
    fn drop(&mut self) {
        self.subscriber.abort();
    }
}

impl RedisBus {
    /// Connects to the Redis at `url` (as [`RedisStore::connect`](super::RedisStore::connect))
    /// and subscribes to the channel of `namespace`; returns once subscribed. Fails with
    /// [`StoreError::Unavailable`] if Redis cannot be reached or the subscription does not
    /// come up within the connect and response timeouts.
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, StoreError> {
        let keys = Keys::new(namespace).map_err(|e| StoreError::Backend(Box::new(e)))?;
        let client = redis::Client::open(url).map_err(from_redis)?;
        let publisher = connection_manager(client.clone()).await?;
        let node = random::bytes::<8>()
            .map_err(|e| StoreError::Backend(Box::new(e)))?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        let channel = format!("{}:bus", keys.namespace());
        let events = broadcast::channel(EVENT_BUFFER).0;
        let (connected_tx, mut connected) = watch::channel(BusStatus::default());
        let subscriber = tokio::spawn(subscribe_forever(
            client,
            channel.clone(),
            node.clone(),
            events.clone(),
            connected_tx,
        ));
        let bus = Self {
            publisher,
            channel,
            node,
            events,
            connected: connected.clone(),
            subscriber,
        };
        let limit = CONNECT_TIMEOUT + RESPONSE_TIMEOUT;
        match tokio::time::timeout(limit, connected.wait_for(|s| s.connected)).await {
            Ok(Ok(_)) => Ok(bus),
            _ => Err(StoreError::Unavailable(Box::new(NotSubscribed(limit)))),
        }
    }

    /// The channel messages travel on: `{namespace}:bus`.
    pub fn channel(&self) -> &str {
        &self.channel
    }
}

#[async_trait]
impl RevocationBus for RedisBus {
    async fn publish(&self, message: &BusMessage) -> Result<(), StoreError> {
        let payload = serde_json::to_string(&Outgoing {
            from: &self.node,
            msg: message,
        })
        .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(&self.channel).arg(payload);
        let mut conn = self.publisher.clone();
        let mut sent = cmd.query_async::<i64>(&mut conn).await;
        if let Err(e) = &sent {
            // Safe to repeat: applying a message twice is applying it once.
            if e.is_unrecoverable_error() {
                sent = cmd.query_async::<i64>(&mut conn).await;
            }
        }
        sent.map(drop).map_err(from_redis)
    }

    fn subscribe(&self) -> broadcast::Receiver<BusEvent> {
        self.events.subscribe()
    }

    fn is_connected(&self) -> bool {
        self.connected.borrow().connected
    }

    fn status(&self) -> BusStatus {
        *self.connected.borrow()
    }
}

/// Keeps a subscription up until the task is aborted.
async fn subscribe_forever(
    client: redis::Client,
    channel: String,
    node: String,
    events: broadcast::Sender<BusEvent>,
    connected: watch::Sender<BusStatus>,
) {
    let mut wait = RETRY_MIN;
    loop {
        let result = subscribed(&client, &channel, &node, &events, &connected).await;
        let was_up = mark_reconnecting(&connected);
        match result {
            Ok(()) => tracing::warn!(%channel, "revocation bus connection closed: reconnecting"),
            Err(e) => tracing::warn!(%channel, error = %e, retry_in = ?wait, "revocation bus down"),
        }
        if was_up {
            wait = RETRY_MIN;
        }
        // Jitter, so that nodes cut off together do not come back in lockstep.
        let jitter = random::bytes::<1>().map_or(0, |b| u32::from(b[0]));
        tokio::time::sleep(wait / 2 + wait * jitter / 512).await;
        wait = (wait * 2).min(RETRY_MAX);
    }
}

/// One subscription, from connecting until the connection fails (`Ok` if it just closed).
async fn subscribed(
    client: &redis::Client,
    channel: &str,
    node: &str,
    events: &broadcast::Sender<BusEvent>,
    connected: &watch::Sender<BusStatus>,
) -> Result<(), StoreError> {
    let pubsub = within(CONNECT_TIMEOUT, client.get_async_pubsub()).await?;
    let (mut sink, mut stream) = pubsub.split();
    within(RESPONSE_TIMEOUT, sink.subscribe(channel)).await?;
    mark_connected(connected);
    tracing::info!(%channel, "revocation bus subscribed");
    // Sent after subscribing: a reload that follows it misses nothing.
    let _ = events.send(BusEvent::Resync);
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            msg = stream.next() => {
                let Some(msg) = msg else { return Ok(()) };
                match serde_json::from_slice::<Incoming>(msg.get_payload_bytes()) {
                    Ok(m) if m.from == node => {}
                    // No subscriber is not an error: the message concerns nobody here yet.
                    Ok(m) => drop(events.send(BusEvent::Message(m.msg))),
                    Err(e) => tracing::warn!(%channel, error = %e, "undecodable bus message"),
                }
            }
            _ = ping.tick() => {
                within(RESPONSE_TIMEOUT, sink.ping::<redis::Value>()).await?;
            }
        }
    }
}

/// `fut`, failing with `Unavailable` if it takes longer than `limit`.
async fn within<T>(
    limit: Duration,
    fut: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(result) => result.map_err(from_redis),
        Err(elapsed) => Err(StoreError::Unavailable(Box::new(elapsed))),
    }
}
