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
        locked_for(lock(self.shard(subject)).get(subject), now)
    }

    /// Refuses if `subject` is locked out; otherwise counts a failure, under the shard's lock,
    /// so that two attempts cannot both see the count below the limit.
    fn begin(&self, subject: Subject, now: Timestamp) -> Result<(), Duration> {
        let policy = &self.policy;
        let mut map = lock(self.shard(&subject));
        if let Some(wait) = locked_for(map.get(&subject), now) {
            return Err(wait);
        }
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
        Ok(())
    }

    /// Takes back one counted attempt, and the lockout it set. (A lockout in force refuses
    /// every attempt, so any lockout present was set by an attempt counted since it began.)
    fn give_back(&self, subject: &Subject, now: Timestamp) {
        let mut map = lock(self.shard(subject));
        let Some(entry) = map.get_mut(subject) else {
            return;
        };
        entry.failures = entry.failures.saturating_sub(1);
        entry.locked_until = entry.locked_until.min(now);
        if entry.failures == 0 || entry.expires_at <= now {
            map.remove(subject);
        }
    }

    fn forget(&self, subject: &Subject) {
        lock(self.shard(subject)).remove(subject);
    }
}

fn locked_for(entry: Option<&Entry>, now: Timestamp) -> Option<Duration> {
    let entry = entry?;
    (entry.expires_at > now && entry.locked_until > now)
        .then(|| entry.locked_until.since(now).max(Duration::from_secs(1)))
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
        let inner = &self.inner;
        let now = inner.clock.now();
        // The longer of the two lockouts, for an honest Retry-After.
        let longest = attempt
            .subjects()
            .filter_map(|s| inner.locked_for(&s, now))
            .max();
        if let Some(retry_after) = longest {
            return Err(ThrottleError::Locked { retry_after });
        }
        let account = attempt.account();
        inner
            .begin(account, now)
            .map_err(|retry_after| ThrottleError::Locked { retry_after })?;
        if let Some(address) = attempt.address_subject() {
            if let Err(retry_after) = inner.begin(address, now) {
                inner.give_back(&account, now);
                return Err(ThrottleError::Locked { retry_after });
            }
        }
        Ok(())
    }

    async fn record_success(&self, attempt: &Attempt) -> Result<(), ThrottleError> {
        let now = self.inner.clock.now();
        self.inner.forget(&attempt.account());
        if let Some(address) = attempt.address_subject() {
            self.inner.give_back(&address, now);
        }
        Ok(())
    }

    async fn release(&self, attempt: &Attempt) -> Result<(), ThrottleError> {
        let now = self.inner.clock.now();
        for subject in attempt.subjects() {
            self.inner.give_back(&subject, now);
        }
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
        for _ in 0..5 {
            assert_eq!(retry_after(t.check(&a).await), None);
        }
        assert_eq!(retry_after(t.check(&a).await), Some(60));
        clock.advance(Duration::from_secs(59));
        assert_eq!(retry_after(t.check(&a).await), Some(1));
        clock.advance(Duration::from_secs(1));
        assert_eq!(retry_after(t.check(&a).await), None, "the sixth attempt");
        assert_eq!(retry_after(t.check(&a).await), Some(120));
        clock.advance(Duration::from_secs(120));
        assert_eq!(retry_after(t.check(&a).await), None);
        assert_eq!(retry_after(t.check(&a).await), Some(240));
    }

    #[tokio::test]
    async fn failures_are_forgotten_after_the_window() {
        let clock = ManualClock::starting_now();
        let t = throttle(&clock);
        let a = Attempt::new("alice", None);
        for _ in 0..4 {
            t.check(&a).await.unwrap();
        }
        clock.advance(Duration::from_secs(15 * 60));
        t.check(&a).await.unwrap();
        assert_eq!(retry_after(t.check(&a).await), None);
    }

    #[tokio::test]
    async fn success_clears_the_account_and_gives_back_only_its_own_attempt() {
        let clock = ManualClock::starting_now();
        let t = throttle(&clock);
        let ip = Some("192.0.2.1".parse().unwrap());
        for name in ["a", "b", "c", "d"] {
            t.check(&Attempt::new(name, ip)).await.unwrap();
        }
        // The fifth attempt from the address locks it, until it turns out right.
        let mine = Attempt::new("mine", ip);
        t.check(&mine).await.unwrap();
        assert_eq!(retry_after(t.check(&Attempt::new("x", ip)).await), Some(60));
        t.record_success(&mine).await.unwrap();
        // Back to four: one more failure, at any account, locks the address out again.
        t.check(&Attempt::new("e", ip)).await.unwrap();
        assert_eq!(retry_after(t.check(&mine).await), Some(60));
        // The same account from elsewhere is fine.
        assert_eq!(
            retry_after(t.check(&Attempt::new("mine", None)).await),
            None
        );
    }

    #[tokio::test]
    async fn a_locked_address_takes_back_the_account_count() {
        let clock = ManualClock::starting_now();
        let t = throttle(&clock);
        let ip = Some("192.0.2.1".parse().unwrap());
        for name in ["a", "b", "c", "d", "e"] {
            t.check(&Attempt::new(name, ip)).await.unwrap();
        }
        // Refused for the address: alice's account is not charged for it.
        for _ in 0..10 {
            assert!(t.check(&Attempt::new("alice", ip)).await.is_err());
        }
        for _ in 0..5 {
            assert_eq!(
                retry_after(t.check(&Attempt::new("alice", None)).await),
                None
            );
        }
    }

    #[tokio::test]
    async fn released_attempts_do_not_count() {
        let clock = ManualClock::starting_now();
        let t = throttle(&clock);
        let a = Attempt::new("alice", Some("192.0.2.1".parse().unwrap()));
        for _ in 0..20 {
            t.check(&a).await.unwrap();
            t.release(&a).await.unwrap();
        }
        assert!(t.is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn parallel_attempts_never_pass_the_limit() {
        let clock = ManualClock::starting_now();
        let t = throttle(&clock);
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let t = t.clone();
                tokio::spawn(async move { t.check(&Attempt::new("alice", None)).await.is_ok() })
            })
            .collect();
        let mut passed = 0;
        for task in tasks {
            passed += usize::from(task.await.unwrap());
        }
        assert_eq!(passed, 5);
    }

    #[tokio::test]
    async fn a_flood_of_random_subjects_stays_bounded() {
        let clock = ManualClock::starting_now();
        let t = throttle(&clock);
        let cap = t.capacity();
        for i in 0..(cap * 5) {
            let ip = std::net::Ipv4Addr::from(u32::try_from(i).unwrap());
            let a = Attempt::new(&format!("user{i}"), Some(ip.into()));
            t.check(&a).await.unwrap();
        }
        assert!(t.len() <= cap, "{} entries, capacity {cap}", t.len());
    }
}
