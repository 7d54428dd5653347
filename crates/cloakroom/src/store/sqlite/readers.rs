//! The read side of the SQLite store: a few query-only connections, each behind its own lock.
//!
//! Not an `sqlx::Pool`: the pool pings a connection's worker thread every time it takes one
//! back, on a task it spawns for that. Measured on a session lookup, that second round trip
//! cost more than the query itself (see docs/PERFORMANCE.md). A local file cannot hang up like
//! a socket, so a fixed set of locked connections does the job, and a connection whose worker
//! thread died is replaced at its next use.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection as _, SqliteConnection};
use tokio::sync::{Mutex, MutexGuard};

use crate::store::StoreError;

/// The store was closed.
#[derive(Debug, thiserror::Error)]
#[error("the SQLite store is closed")]
struct Closed;

/// A fixed set of read connections to one database.
#[derive(Debug)]
pub(super) struct Readers {
    slots: Box<[Mutex<Option<SqliteConnection>>]>,
    /// Where the next caller starts looking for a free connection, to spread the load.
    next: AtomicUsize,
    closed: AtomicBool,
    options: SqliteConnectOptions,
    acquire_timeout: Duration,
}

/// One read connection, held for one query.
#[derive(Debug)]
pub(super) struct Reader<'a>(MutexGuard<'a, Option<SqliteConnection>>);

impl Readers {
    /// Opens `count` connections (at least one) with `options`.
    pub(super) async fn open(
        options: SqliteConnectOptions,
        count: usize,
        acquire_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let mut slots = Vec::with_capacity(count.max(1));
        for _ in 0..count.max(1) {
            let conn = SqliteConnection::connect_with(&options).await?;
            slots.push(Mutex::new(Some(conn)));
        }
        Ok(Self {
            slots: slots.into_boxed_slice(),
            next: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            options,
            acquire_timeout,
        })
    }

    /// A free connection, or the first to come free; [`StoreError::Unavailable`] if none does
    /// within the acquire timeout or the store is closed.
    pub(super) async fn get(&self) -> Result<Reader<'_>, StoreError> {
        let n = self.slots.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let free = (0..n).find_map(|i| self.slots[(start + i) % n].try_lock().ok());
        let mut guard = match free {
            Some(guard) => guard,
            None => tokio::time::timeout(self.acquire_timeout, self.slots[start % n].lock())
                .await
                .map_err(|e| StoreError::Unavailable(Box::new(e)))?,
        };
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable(Box::new(Closed)));
        }
        if guard.is_none() {
            *guard = Some(SqliteConnection::connect_with(&self.options).await?);
        }
        Ok(Reader(guard))
    }

    /// Closes every connection; later [`get`](Self::get)s fail.
    pub(super) async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        for slot in &self.slots {
            if let Some(conn) = slot.lock().await.take() {
                if let Err(e) = conn.close().await {
                    tracing::debug!(error = %e, "closing a SQLite read connection");
                }
            }
        }
    }
}

impl Reader<'_> {
    /// The connection, to run one query on.
    pub(super) fn conn(&mut self) -> Result<&mut SqliteConnection, StoreError> {
        // `get` never hands out an empty slot; the error only keeps this free of panics.
        self.0
            .as_mut()
            .ok_or_else(|| StoreError::Unavailable(Box::new(Closed)))
    }

    /// Passes a query's result on; a connection whose worker thread died is dropped, so that
    /// the next [`Readers::get`] opens a new one.
    pub(super) fn check<T>(&mut self, result: Result<T, sqlx::Error>) -> Result<T, StoreError> {
        if let Err(sqlx::Error::WorkerCrashed) = result {
            *self.0 = None;
        }
        result.map_err(StoreError::from)
    }
}
