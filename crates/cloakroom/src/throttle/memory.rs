//! The throttle in this process's memory: lock-striped maps with a bound on their size.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::subject::Subject;
use super::{Attempt, LoginThrottle, ThrottleError, ThrottlePolicy};
use crate::clock::{SharedClock, SystemClock, Timestamp};

/// How many independently locked maps the entries are spread over.
const SHARDS: usize = 32;
/// The fewest entries a shard holds, however small the bound.
const MIN_PER_SHARD: usize = 16;

/// The failures of one subject.
#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    /// Sign-ins are refused until then.
    locked_until: Timestamp,
    /// The entry is forgotten then.
    expires_at: Timestamp,
}

type Shard = Mutex<HashMap<Subject, Entry, RandomState>>;

/// A [`LoginThrottle`] in memory, for a single server process.
///
/// Entries are spread over 32 maps, each behind its own lock, by a randomly keyed hash (so
/// that chosen usernames cannot pile into one map). The number of entries is bounded: a shard
/// that is full first drops its expired entries, then the entry that would expire soonest, so
/// a flood of random usernames or addresses cannot grow memory without bound. (It can push
/// out old entries; but each guess of such a flood also counts against the flooder's own
/// address, which is locked out after a handful.)
#[derive(Debug, Clone)]
pub struct MemoryThrottle {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    policy: ThrottlePolicy,
    shards: Vec<Shard>,
    per_shard: usize,
    hasher: RandomState,
    clock: SharedClock,
}

impl MemoryThrottle {
    /// A throttle with `policy`, holding at most about `max_entries` accounts and addresses.
    pub fn new(policy: ThrottlePolicy, max_entries: usize) -> Self {
        Self::build(policy, max_entries, Arc::new(SystemClock))
    }

    /// An empty throttle like this one that reads the time from `clock` (tests move it by
    /// hand).
    pub fn with_clock(self, clock: SharedClock) -> Self {
        Self::build(self.inner.policy, self.capacity(), clock)
    }

    fn build(policy: ThrottlePolicy, max_entries: usize, clock: SharedClock) -> Self {
        Self {
            inner: Arc::new(Inner {
                policy,
                shards: (0..SHARDS)
                    .map(|_| Mutex::new(HashMap::with_hasher(RandomState::new())))
                    .collect(),
                per_shard: (max_entries / SHARDS).max(MIN_PER_SHARD),
                hasher: RandomState::new(),
                clock,
            }),
        }
    }

    /// The policy.
    pub fn policy(&self) -> &ThrottlePolicy {
        &self.inner.policy
    }

    /// How many entries are held now, expired ones included (for tests and metrics).
    pub fn len(&self) -> usize {
        self.inner.shards.iter().map(|s| lock(s).len()).sum()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most entries this throttle holds.
    pub fn capacity(&self) -> usize {
        self.inner.per_shard * SHARDS
    }
}

fn lock(shard: &Shard) -> std::sync::MutexGuard<'_, HashMap<Subject, Entry, RandomState>> {
    // A panic while holding the lock cannot leave an entry half-written: keep going.
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    fn shard(&self, subject: &Subject) -> &Shard {
        let i = usize::try_from(self.hasher.hash_one(subject) % SHARDS as u64).unwrap_or(0);
        &self.shards[i]
    }

    /// How long `subject` is still locked out, if it is.
    fn locked_for(&self, subject: &Subject, now: Timestamp) -> Option<Duration> {
        let map = lock(self.shard(subject));
        let entry = map.get(subject)?;
        (entry.expires_at > now && entry.locked_until > now)
            .then(|| entry.locked_until.since(now).max(Duration::from_secs(1)))
    }

    fn fail(&self, subject: Subject, now: Timestamp) {
        let policy = &self.policy;
        let mut map = lock(self.shard(&subject));
        if !map.contains_key(&subject) && map.len() >= self.per_shard {
            make_room(&mut map, now);
        }
        let fresh = Entry {
            failures: 0,
            locked_until: now,
            expires_at: now.saturating_add(policy.window),
        };
        let entry = map.entry(subject).or_insert(fresh);
        if entry.expires_at <= now {
            *entry = fresh;
        }
        entry.failures = entry.failures.saturating_add(1);
        if let Some(lockout) = policy.lockout_after(entry.failures) {
            entry.locked_until = now.saturating_add(lockout);
            entry.expires_at = entry
                .expires_at
                .max(entry.locked_until.saturating_add(policy.window));
        }
    }

    fn forget(&self, subject: &Subject) {
        lock(self.shard(subject)).remove(subject);
    }
}

/// Drops the expired entries of a full shard, or failing that the one that expires soonest.
fn make_room(map: &mut HashMap<Subject, Entry, RandomState>, now: Timestamp) {
    let before = map.len();
    map.retain(|_, e| e.expires_at > now);
    if map.len() < before {
        return;
    }
    let soonest = map
        .iter()
        .min_by_key(|(_, e)| e.expires_at)
        .map(|(k, _)| *k);
    if let Some(k) = soonest {
        map.remove(&k);
    }
}

#[async_trait::async_trait]
impl LoginThrottle for MemoryThrottle {
    async fn check(&self, attempt: &Attempt) -> Result<(), ThrottleError> {
        let now = self.inner.clock.now();
        let longest = attempt
            .subjects()
            .filter_map(|s| self.inner.locked_for(&s, now))
            .max();
        match longest {
            Some(retry_after) => Err(ThrottleError::Locked { retry_after }),
            None => Ok(()),
        }
    }

    async fn record_failure(&self, attempt: &Attempt) -> Result<(), ThrottleError> {
        let now = self.inner.clock.now();
        for subject in attempt.subjects() {
            self.inner.fail(subject, now);
        }
        Ok(())
    }

    async fn record_success(&self, attempt: &Attempt) -> Result<(), ThrottleError> {
        self.inner.forget(&attempt.account());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    fn throttle(clock: &ManualClock) -> MemoryThrottle {
        MemoryThrottle::new(ThrottlePolicy::default(), 1000).with_clock(Arc::new(clock.clone()))
    }

    fn retry_after(r: Result<(), ThrottleError>) -> Option<u64> {
        match r {
            Ok(()) => None,
            Err(ThrottleError::Locked { retry_after }) => Some(retry_after.as_secs()),
            Err(e) => panic!("{e}"),
        }
    }

    #[tokio::test]
    async fn the_limit_locks_out_and_each_further_failure_doubles_the_lockout() {
        let clock = ManualClock::starting_now();
        let t = throttle(&clock);
        let a = Attempt::new("alice", Some("192.0.2.1".parse().unwrap()));
        for _ in 0..4 {
            t.record_failure(&a).await.unwrap();
        }
        assert_eq!(retry_after(t.check(&a).await), None);
        t.record_failure(&a).await.unwrap();
        assert_eq!(retry_after(t.check(&a).await), Some(60));
        clock.advance(Duration::from_secs(59));
        assert_eq!(retry_after(t.check(&a).await), Some(1));
        clock.advance(Duration::from_secs(1));
        assert_eq!(retry_after(t.check(&a).await), None);
        t.record_failure(&a).await.unwrap();
        assert_eq!(retry_after(t.check(&a).await), Some(120));
        clock.advance(Duration::from_secs(120));
        t.record_failure(&a).await.unwrap();
        assert_eq!(retry_after(t.check(&a).await), Some(240));
    }

    #[tokio::test]
    async fn failures_are_forgotten_after_the_window() {
        let clock = ManualClock::starting_now();
        let t = throttle(&clock);
        let a = Attempt::new("alice", None);
        for _ in 0..4 {
            t.record_failure(&a).await.unwrap();
        }
        clock.advance(Duration::from_secs(15 * 60));
        t.record_failure(&a).await.unwrap();
        assert_eq!(retry_after(t.check(&a).await), None);
    }

    #[tokio::test]
    async fn success_clears_the_account_but_not_the_address() {
        let clock = ManualClock::starting_now();
        let t = throttle(&clock);
        let ip = Some("192.0.2.1".parse().unwrap());
        for name in ["a", "b", "c", "d"] {
            t.record_failure(&Attempt::new(name, ip)).await.unwrap();
        }
        let mine = Attempt::new("mine", ip);
        t.record_success(&mine).await.unwrap();
        // The address has four failures; the fifth, at any account, locks it out.
        t.record_failure(&Attempt::new("e", ip)).await.unwrap();
        assert_eq!(retry_after(t.check(&mine).await), Some(60));
        // The same account from elsewhere is fine.
        assert_eq!(
            retry_after(t.check(&Attempt::new("mine", None)).await),
            None
        );
    }

    #[tokio::test]
    async fn a_flood_of_random_subjects_stays_bounded() {
        let clock = ManualClock::starting_now();
        let t = throttle(&clock);
        let cap = t.capacity();
        for i in 0..(cap * 5) {
            let ip = std::net::Ipv4Addr::from(u32::try_from(i).unwrap());
            let a = Attempt::new(&format!("user{i}"), Some(ip.into()));
            t.record_failure(&a).await.unwrap();
        }
        assert!(t.len() <= cap, "{} entries, capacity {cap}", t.len());
    }
}
