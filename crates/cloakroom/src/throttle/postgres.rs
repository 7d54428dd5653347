//! The throttle in PostgreSQL, shared by every node when there is no Redis: one row per
//! subject, read and written under row locks taken in one order, so racing nodes neither lose
//! a failure nor let more than the limit through.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::PgPool;

use super::count::Count;
use super::{Attempt, LoginThrottle, ThrottleError, ThrottlePolicy};
use crate::clock::Timestamp;
use crate::store::{PostgresStore, StoreError};

/// How often one node purges expired rows (from within a check, once that long has passed).
const PURGE_EVERY: Duration = Duration::from_secs(60);
/// The most rows one purge deletes, so that it never holds a sign-in up for long.
const PURGE_BATCH: i64 = 1000;

/// The database's clock, in whole unix seconds: every node reads the same time.
const NOW: &str = "floor(extract(epoch FROM clock_timestamp()))::bigint";

/// A [`LoginThrottle`] in PostgreSQL, for many nodes without Redis: a guess counts wherever it
/// lands, with the same policy and numbers as [`MemoryThrottle`](super::MemoryThrottle).
///
/// Table `login_throttle` (migration `0020_login_throttle.sql`, in the store's schema): one
/// row per subject, `p:{sha-256 of the lowercased username}:{address}`, `i:{address}` or
/// `a:{sha-256}`, with its failures, the end of its lockout and its expiry (unix seconds, by
/// the database's clock). A check is one transaction: an `INSERT … ON CONFLICT DO UPDATE …
/// RETURNING` that creates the missing rows and locks all of the attempt's rows in one order
/// (`COLLATE "C"`, so two checks never deadlock), then either a rollback (locked out: nothing
/// counted) or one `UPDATE` of the new counts. A success or a release is a second transaction
/// that locks in the same order.
///
/// Expired rows are purged by the checks themselves: at most once a minute per node, up to
/// 1000 rows, skipping rows another transaction holds ([`purge_expired`](Self::purge_expired)).
///
/// A database that cannot be reached makes every check fail with [`ThrottleError::Store`]
/// ([`StoreError::Unavailable`]): sign-ins fail closed. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PostgresThrottle {
    pool: PgPool,
    policy: ThrottlePolicy,
    /// When this node last purged (unix seconds, its own clock).
    last_purge: Arc<AtomicI64>,
}

impl PostgresThrottle {
    /// A throttle keeping its rows in `store`'s database and schema (whose migrations, run at
    /// connect, created the table), on its pool.
    pub fn new(store: &PostgresStore, policy: ThrottlePolicy) -> Self {
        Self {
            pool: store.pool().clone(),
            policy,
            last_purge: Arc::new(AtomicI64::new(unix_now())),
        }
    }

    /// The policy.
    pub fn policy(&self) -> &ThrottlePolicy {
        &self.policy
    }

    /// Deletes up to 1000 rows that have expired (their counts mean nothing any more),
    /// skipping rows a check holds; how many it deleted.
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        // Locks taken with SKIP LOCKED never wait, and the DELETE touches only rows already
        // held: a purge can neither deadlock with a check nor hold one up.
        let expired: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT subject FROM login_throttle WHERE expires_at <= {NOW} \
             ORDER BY subject LIMIT $1 FOR UPDATE SKIP LOCKED"
        ))
        .bind(PURGE_BATCH)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let deleted = sqlx::query("DELETE FROM login_throttle WHERE subject = ANY($1)")
            .bind(&expired)
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        tx.commit().await.map_err(db)?;
        Ok(deleted)
    }

    /// Purges if this node has not for [`PURGE_EVERY`]; a failure is only logged (the check
    /// it rides on has succeeded).
    async fn purge_if_due(&self) {
        let now = unix_now();
        let last = self.last_purge.load(Ordering::Relaxed);
        let due = now.saturating_sub(last) >= i64::try_from(PURGE_EVERY.as_secs()).unwrap_or(60);
        // One check of this node wins the turn; the others go on at once.
        if due
            && self
                .last_purge
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            match self.purge_expired().await {
                Ok(purged) => tracing::debug!(purged, "purged expired sign-in throttle rows"),
                Err(e) => tracing::warn!(error = %e, "could not purge the sign-in throttle"),
            }
        }
    }

    /// Takes this attempt back from every subject; with `clear`, clears the pair outright.
    async fn give_back(&self, attempt: &Attempt, clear: bool) -> Result<(), ThrottleError> {
        let subjects = attempt.subjects(&self.policy);
        let keys: Vec<String> = subjects.iter().map(|(s, _)| s.key_suffix()).collect();
        let cleared = clear.then(|| attempt.pair().key_suffix());
        let mut tx = self.pool.begin().await.map_err(from_sqlx)?;
        // Rows locked in the order every check locks them.
        sqlx::query(
            "SELECT subject FROM login_throttle WHERE subject = ANY($1) \
             ORDER BY subject FOR UPDATE",
        )
        .bind(&keys)
        .fetch_all(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        // A cleared row is left expired (for the purge) rather than deleted, so that this
        // statement takes no lock the SELECT did not.
        sqlx::query(&format!(
            "UPDATE login_throttle SET \
               failures = CASE WHEN subject = $2 THEN 0 ELSE greatest(failures - 1, 0) END, \
               locked_until = CASE WHEN subject = $2 THEN 0 ELSE least(locked_until, {NOW}) END, \
               expires_at = CASE WHEN subject = $2 THEN 0 ELSE expires_at END \
             WHERE subject = ANY($1)"
        ))
        .bind(&keys)
        .bind(cleared)
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        tx.commit().await.map_err(from_sqlx)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl LoginThrottle for PostgresThrottle {
    async fn check(&self, attempt: &Attempt) -> Result<(), ThrottleError> {
        let subjects = attempt.subjects(&self.policy);
        let keys: Vec<String> = subjects.iter().map(|(s, _)| s.key_suffix()).collect();
        let mut tx = self.pool.begin().await.map_err(from_sqlx)?;
        // Creates the missing rows (as expired ones) and locks all of them, in one order, so
        // that a racing check on another node waits here until this one is decided.
        let rows: Vec<(String, i32, i64, i64, i64)> = sqlx::query_as(&format!(
            "INSERT INTO login_throttle AS t (subject, failures, locked_until, expires_at) \
             SELECT s, 0, 0, 0 FROM unnest($1::text[]) AS s ORDER BY s COLLATE \"C\" \
             ON CONFLICT (subject) DO UPDATE SET failures = t.failures \
             RETURNING subject, failures, locked_until, expires_at, {NOW}"
        ))
        .bind(&keys)
        .fetch_all(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        let now = Timestamp::from_unix(rows.iter().map(|r| r.4).max().unwrap_or(0));
        let count_of = |key: &str| {
            rows.iter()
                .find(|r| r.0 == key)
                .map(|&(_, failures, locked_until, expires_at, _)| Count {
                    failures: u32::try_from(failures).unwrap_or(0),
                    locked_until: Timestamp::from_unix(locked_until),
                    expires_at: Timestamp::from_unix(expires_at),
                })
        };
        let longest = keys
            .iter()
            .filter_map(|k| count_of(k)?.locked_for(now))
            .max();
        if let Some(retry_after) = longest {
            // Nothing counted: not even the rows just created stay.
            tx.rollback().await.map_err(from_sqlx)?;
            return Err(ThrottleError::Locked { retry_after });
        }
        let (mut failures, mut locked_until, mut expires_at) = (vec![], vec![], vec![]);
        for (key, (_, limit)) in keys.iter().zip(&subjects) {
            let count = Count::counted(count_of(key), limit, self.policy.window, now);
            failures.push(i32::try_from(count.failures).unwrap_or(i32::MAX));
            locked_until.push(count.locked_until.unix());
            expires_at.push(count.expires_at.unix());
        }
        sqlx::query(
            "UPDATE login_throttle AS t SET failures = u.failures, \
               locked_until = u.locked_until, expires_at = u.expires_at \
             FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[]) \
               AS u(subject, failures, locked_until, expires_at) \
             WHERE t.subject = u.subject",
        )
        .bind(&keys)
        .bind(&failures)
        .bind(&locked_until)
        .bind(&expires_at)
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?;
        tx.commit().await.map_err(from_sqlx)?;
        self.purge_if_due().await;
        Ok(())
    }

    async fn record_success(&self, attempt: &Attempt) -> Result<(), ThrottleError> {
        self.give_back(attempt, true).await
    }

    async fn release(&self, attempt: &Attempt) -> Result<(), ThrottleError> {
        self.give_back(attempt, false).await
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
        .unwrap_or(0)
}

fn from_sqlx(e: sqlx::Error) -> ThrottleError {
    ThrottleError::Store(db(e))
}

/// Connection trouble (I/O, the pool timing out or closed, the server refusing or going away)
/// is [`StoreError::Unavailable`]; anything else a [`StoreError::Backend`] fault. The same
/// reading as the PostgreSQL store's, whose classifier is private to it.
fn db(e: sqlx::Error) -> StoreError {
    let unreachable = match &e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => d.code().is_some_and(|c| {
            c.starts_with("08") || matches!(&*c, "53300" | "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    };
    if unreachable {
        StoreError::Unavailable(Box::new(e))
    } else {
        StoreError::Backend(Box::new(e))
    }
}
