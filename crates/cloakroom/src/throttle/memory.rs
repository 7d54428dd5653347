//! The throttle in this process's memory: lock-striped maps with a bound on their size.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::count::Count;
use super::policy::Limit;
use super::subject::Subject;
use super::{Attempt, LoginThrottle, ThrottleError, ThrottlePolicy};
use crate::clock::{SharedClock, SystemClock, Timestamp};

/// How many independently locked maps the entries are spread over.
const SHARDS: usize = 32;
/// The fewest entries a shard holds, however small the bound.
const MIN_PER_SHARD: usize = 16;

type Shard = Mutex<HashMap<Subject, Count, RandomState>>;

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

fn lock(shard: &Shard) -> std::sync::MutexGuard<'_, HashMap<Subject, Count, RandomState>> {
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
        lock(self.shard(subject))
            .get(subject)
            .and_then(|c| c.locked_for(now))
    }

    /// Refuses if `subject` is locked out; otherwise counts a failure, under the shard's lock,
    /// so that two attempts cannot both see the count below the limit.
    fn begin(&self, subject: Subject, limit: &Limit, now: Timestamp) -> Result<(), Duration> {
        let mut map = lock(self.shard(&subject));
        let previous = map.get(&subject).copied();
        if let Some(wait) = previous.and_then(|c| c.locked_for(now)) {
            return Err(wait);
        }
        if previous.is_none() && map.len() >= self.per_shard {
            make_room(&mut map, now);
        }
        map.insert(
            subject,
            Count::counted(previous, limit, self.policy.window, now),
        );
        Ok(())
    }

    /// Takes back one counted attempt, and the lockout it set.
    fn give_back(&self, subject: &Subject, now: Timestamp) {
        let mut map = lock(self.shard(subject));
        let Some(count) = map.get(subject).copied() else {
            return;
        };
        match count.given_back(now) {
            Some(left) => map.insert(*subject, left),
            None => map.remove(subject),
        };
    }

    fn forget(&self, subject: &Subject) {
        lock(self.shard(subject)).remove(subject);
    }
}

/// Drops the expired entries of a full shard, or failing that the one that expires soonest.
fn make_room(map: &mut HashMap<Subject, Count, RandomState>, now: Timestamp) {
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
        let subjects = attempt.subjects(&inner.policy);
        // The longest of the lockouts, for an honest Retry-After.
        let longest = subjects
            .iter()
            .filter_map(|(s, _)| inner.locked_for(s, now))
            .max();
        if let Some(retry_after) = longest {
            return Err(ThrottleError::Locked { retry_after });
        }
        for (i, (subject, limit)) in subjects.iter().enumerate() {
            // Another attempt may have locked this subject since the look above: take back
            // what this one counted so far, so that a refusal counts nothing.
            if let Err(retry_after) = inner.begin(*subject, limit, now) {
                for (counted, _) in &subjects[..i] {
                    inner.give_back(counted, now);
                }
                return Err(ThrottleError::Locked { retry_after });
            }
        }
        Ok(())
    }

    async fn record_success(&self, attempt: &Attempt) -> Result<(), ThrottleError> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let pair = attempt.pair();
        inner.forget(&pair);
        for (subject, _) in attempt.subjects(&inner.policy) {
            if subject != pair {
                inner.give_back(&subject, now);
            }
        }
        Ok(())
    }

    async fn release(&self, attempt: &Attempt) -> Result<(), ThrottleError> {
        let now = self.inner.clock.now();
        for (subject, _) in attempt.subjects(&self.inner.policy) {
            self.inner.give_back(&subject, now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::throttle::conformance;

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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn conformance() {
        let t = MemoryThrottle::new(conformance::policy(), 1000);
        conformance::run(Arc::new(t.clone()), Arc::new(t)).await;
    }

    #[tokio::test]
    async fn the_account_ceiling_slows_then_lets_a_new_client_in() {
        let clock = ManualClock::starting_now();
        let t =
            MemoryThrottle::new(conformance::policy(), 1000).with_clock(Arc::new(clock.clone()));
        for i in 0..8 {
            let ip = std::net::Ipv4Addr::new(10, 0, 0, i);
            t.check(&Attempt::new("popular", Some(ip.into())))
                .await
                .unwrap();
        }
        let owner = Attempt::new("popular", Some("192.0.2.77".parse().unwrap()));
        assert_eq!(retry_after(t.check(&owner).await), Some(2), "slowed");
        clock.advance(Duration::from_secs(2));
        assert_eq!(
            retry_after(t.check(&owner).await),
            None,
            "let in after the delay"
        );
        t.record_success(&owner).await.unwrap();
        // The owner's success gave its slot back: the next attempt is not held back.
        assert_eq!(retry_after(t.check(&owner).await), None);
        // That one (a failure, the ninth) doubled the delay.
        assert_eq!(retry_after(t.check(&owner).await), Some(4));
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
