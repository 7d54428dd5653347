//! The revocation bus over PostgreSQL `LISTEN`/`NOTIFY`: for nodes that share a database and
//! no Redis.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use super::PostgresStore;
use super::error::db;
use crate::random;
use crate::revocation::{
    BusEvent, BusMessage, BusStatus, RevocationBus, mark_connected, mark_reconnecting,
};
use crate::store::StoreError;

/// How long opening the listening connection (and its `LISTEN`) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the listening connection may take to answer a `SELECT 1`.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the listener checks that its connection still answers: a connection that died
/// without closing (a lost network) is noticed within this and the response timeout.
const PING_EVERY: Duration = Duration::from_secs(2);
/// Waits between attempts to listen again: doubling from the first to the last, with jitter.
const RETRY_MIN: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(1);
/// How many events a subscriber may fall behind before it is told to resync instead.
const EVENT_BUFFER: usize = 4_096;
/// PostgreSQL refuses a `NOTIFY` payload of 8000 bytes or more (with the default block size).
/// Anything longer goes out as a reference instead: "reload what is stored".
const MAX_PAYLOAD: usize = 7_999;
/// The longest channel name PostgreSQL takes (`NAMEDATALEN - 1`).
const MAX_CHANNEL: usize = 63;

/// On the wire: a message, or (`msg` left out) "something too big to send was stored: reload".
#[derive(Serialize)]
struct Outgoing<'a> {
    from: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    msg: Option<&'a BusMessage>,
}

#[derive(Deserialize)]
struct Incoming {
    from: String,
    #[serde(default)]
    msg: Option<BusMessage>,
}

/// Why the bus did not come up.
#[derive(Debug, thiserror::Error)]
#[error("the revocation bus did not listen within {0:?}")]
struct NotListening(Duration);

/// The revocation bus of nodes that share a PostgreSQL database and no Redis: messages go out
/// by `pg_notify` on the channel `{schema}_bus` (the schema the store's tables are in) through
/// the store's pool, and come in on a connection of the bus's own that `LISTEN`s there. A
/// background task keeps it listening: it reconnects by itself (backoff from 50 ms to 1 s,
/// with jitter), checks the connection with a `SELECT 1` every 2 s, and sends
/// [`BusEvent::Resync`] after every (re)connection so that subscribers reload what they may
/// have missed. The task stops when the bus is dropped. A node does not hear its own messages
/// (it applied them already).
///
/// Like Redis pub/sub, `NOTIFY` reaches only whoever listens at that moment; hence the rule
/// that revocations are stored before they are published, and reloaded on every resync. Each
/// publish is a statement of its own, after the write it announces has committed, and
/// PostgreSQL delivers a notification only when its transaction commits: a node that hears
/// the news and reloads always finds the entry. A message too long for `NOTIFY` (8000 bytes)
/// is sent as "reload" instead, which every node answers by reloading what is stored.
///
/// ```no_run
/// use std::sync::Arc;
/// use cloakroom::clock::SystemClock;
/// use cloakroom::revocation::{RevocationBus, Revocations};
/// use cloakroom::store::{PostgresBus, PostgresStore};
///
/// # async fn run() -> Result<(), cloakroom::store::StoreError> {
/// let store = PostgresStore::connect("postgres://cloakroom@db.internal/auth").await?;
/// let bus = Arc::new(PostgresBus::connect(&store).await?);
/// let revocations = Arc::new(
///     Revocations::open(Arc::new(store), Arc::new(SystemClock))
///         .await?
///         .with_bus(bus.clone()),
/// );
/// revocations.follow_bus();
/// assert!(bus.is_connected()); // for /readyz
/// # Ok(())
/// # }
/// ```
pub struct PostgresBus {
    publisher: PgPool,
    channel: String,
    node: String,
    events: broadcast::Sender<BusEvent>,
    status: watch::Receiver<BusStatus>,
    listener: JoinHandle<()>,
}

impl fmt::Debug for PostgresBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresBus")
            .field("channel", &self.channel)
            .field("node", &self.node)
            .field("status", &*self.status.borrow())
            .finish_non_exhaustive()
    }
}

impl Drop for PostgresBus {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl PostgresBus {
    /// Listens on the channel of `store`'s schema, over a connection of its own (made with the
    /// store's connect options: same server, user, `search_path` and `application_name`), and
    /// publishes through the store's pool; returns once listening. Fails with
    /// [`StoreError::Unavailable`] if the database does not answer within 5 s.
    pub async fn connect(store: &PostgresStore) -> Result<Self, StoreError> {
        let publisher = store.pool().clone();
        let schema: Option<String> = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&publisher)
            .await
            .map_err(db)?;
        let channel = channel_for(schema.as_deref().unwrap_or("public"));
        // One connection, never counted against the store's pool, never retired while it
        // listens: a connection that goes away takes its `LISTEN` with it.
        let listening = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .max_lifetime(None)
            .idle_timeout(None)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_lazy_with((*publisher.connect_options()).clone());
        let node = random::bytes::<8>()
            .map_err(|e| StoreError::Backend(Box::new(e)))?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        let events = broadcast::channel(EVENT_BUFFER).0;
        let (status_tx, mut status) = watch::channel(BusStatus::default());
        let listener = tokio::spawn(listen_forever(
            listening,
            channel.clone(),
            node.clone(),
            events.clone(),
            status_tx,
        ));
        let bus = Self {
            publisher,
            channel,
            node,
            events,
            status: status.clone(),
            listener,
        };
        let limit = CONNECT_TIMEOUT + RESPONSE_TIMEOUT;
        match tokio::time::timeout(limit, status.wait_for(|s| s.connected)).await {
            Ok(Ok(_)) => Ok(bus),
            _ => Err(StoreError::Unavailable(Box::new(NotListening(limit)))),
        }
    }

    /// The channel messages travel on: `{schema}_bus`.
    pub fn channel(&self) -> &str {
        &self.channel
    }
}

/// `{schema}_bus`, or, when that is longer than a channel name may be, the schema's first 42
/// bytes, `_`, 16 hex digits of its SHA-256 and `_bus`: distinct schemas never share a channel.
fn channel_for(schema: &str) -> String {
    let plain = format!("{schema}_bus");
    if plain.len() <= MAX_CHANNEL && schema.is_ascii() {
        return plain;
    }
    let digest = Sha256::digest(schema.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let head: String = schema
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(42)
        .collect();
    format!("{head}_{hex}_bus")
}

/// The payload for `message`: the message itself, or a reference when it is too long.
fn payload(node: &str, message: &BusMessage) -> Result<String, StoreError> {
    let encode = |msg| {
        serde_json::to_string(&Outgoing { from: node, msg })
            .map_err(|e| StoreError::Backend(Box::new(e)))
    };
    let full = encode(Some(message))?;
    if full.len() <= MAX_PAYLOAD {
        return Ok(full);
    }
    tracing::debug!(
        bytes = full.len(),
        "bus message too long for NOTIFY: sending a reload instead"
    );
    encode(None)
}

#[async_trait]
impl RevocationBus for PostgresBus {
    async fn publish(&self, message: &BusMessage) -> Result<(), StoreError> {
        let payload = payload(&self.node, message)?;
        let notify = || {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(&self.channel)
                .bind(&payload)
                .execute(&self.publisher)
        };
        match notify().await {
            Ok(_) => Ok(()),
            // A pooled connection the server ended (a restart, `pg_terminate_backend`) fails
            // once; the pool opens a new one. Safe to repeat: applying a message twice is
            // applying it once.
            Err(sqlx::Error::Io(_) | sqlx::Error::Database(_)) => {
                notify().await.map(drop).map_err(db)
            }
            Err(e) => Err(db(e)),
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<BusEvent> {
        self.events.subscribe()
    }

    fn is_connected(&self) -> bool {
        self.status.borrow().connected
    }

    fn status(&self) -> BusStatus {
        *self.status.borrow()
    }
}

/// Keeps listening until the task is aborted.
async fn listen_forever(
    pool: PgPool,
    channel: String,
    node: String,
    events: broadcast::Sender<BusEvent>,
    status: watch::Sender<BusStatus>,
) {
    let mut wait = RETRY_MIN;
    loop {
        let result = listening(&pool, &channel, &node, &events, &status).await;
        let was_up = mark_reconnecting(&status);
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

/// One listening connection, from connecting until it fails (`Ok` if it just closed). The
/// connection goes with the listener when this returns, so the next attempt starts afresh.
async fn listening(
    pool: &PgPool,
    channel: &str,
    node: &str,
    events: &broadcast::Sender<BusEvent>,
    status: &watch::Sender<BusStatus>,
) -> Result<(), StoreError> {
    let mut listener = within(CONNECT_TIMEOUT, PgListener::connect_with(pool)).await?;
    // Reconnecting is this task's job, so that it can resync after each time.
    listener.eager_reconnect(false);
    within(RESPONSE_TIMEOUT, listener.listen(channel)).await?;
    mark_connected(status);
    tracing::info!(%channel, "revocation bus listening");
    // Sent after `LISTEN`: a reload that follows it misses nothing.
    let _ = events.send(BusEvent::Resync);
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        tokio::select! {
            // Cancel-safe: sqlx keeps a partly read message in its buffer.
            got = listener.try_recv() => {
                let Some(notification) = got.map_err(db)? else { return Ok(()) };
                match serde_json::from_str::<Incoming>(notification.payload()) {
                    Ok(m) if m.from == node => {}
                    // No subscriber is not an error: the message concerns nobody here yet.
                    Ok(Incoming { msg: Some(msg), .. }) => {
                        drop(events.send(BusEvent::Message(msg)));
                    }
                    Ok(Incoming { msg: None, .. }) => drop(events.send(BusEvent::Resync)),
                    Err(e) => tracing::warn!(%channel, error = %e, "undecodable bus message"),
                }
            }
            _ = ping.tick() => {
                let check = sqlx::query("SELECT 1").execute(&mut listener);
                within(RESPONSE_TIMEOUT, check).await?;
            }
        }
    }
}

/// `fut`, failing with `Unavailable` if it takes longer than `limit`.
async fn within<T>(
    limit: Duration,
    fut: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(result) => result.map_err(db),
        Err(elapsed) => Err(StoreError::Unavailable(Box::new(elapsed))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;
    use crate::revocation::Revocation;

    #[test]
    fn channels_are_named_by_the_schema_and_fit() {
        assert_eq!(channel_for("cloakroom"), "cloakroom_bus");
        let long = "a".repeat(63);
        let (one, two) = (
            channel_for(&long),
            channel_for(&format!("{}b", &long[..62])),
        );
        assert!(
            one.len() <= MAX_CHANNEL && two.len() <= MAX_CHANNEL,
            "{one}"
        );
        assert_ne!(
            one, two,
            "schemas that share a prefix get channels of their own"
        );
        assert!(channel_for("Ünïcode").is_ascii());
    }

    #[test]
    fn a_message_too_long_for_notify_goes_as_a_reload() {
        let small = BusMessage::Revoked(Revocation::session("s1", Timestamp::from_unix(5)));
        let sent = payload("n1", &small).unwrap();
        let back: Incoming = serde_json::from_str(&sent).unwrap();
        assert_eq!((back.from.as_str(), back.msg), ("n1", Some(small)));

        let huge = "u".repeat(MAX_PAYLOAD);
        let big = BusMessage::Revoked(Revocation::user(
            huge,
            Timestamp::from_unix(1),
            Timestamp::from_unix(5),
        ));
        let sent = payload("n1", &big).unwrap();
        assert_eq!(sent, r#"{"from":"n1"}"#);
        let back: Incoming = serde_json::from_str(&sent).unwrap();
        assert!(back.msg.is_none());
    }
}
