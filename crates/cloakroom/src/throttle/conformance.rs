//! The behaviour every [`LoginThrottle`] must have, as one suite that runs against two
//! throttles sharing one state (two nodes on one Redis or one PostgreSQL schema, or two clones
//! of one [`MemoryThrottle`](super::MemoryThrottle)), built with [`policy`]. Nothing in it
//! waits for a lockout to end, so it takes no longer on a real backend than in memory.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use std::sync::Arc;
//! use cloakroom::throttle::{MemoryThrottle, conformance};
//!
//! let one = MemoryThrottle::new(conformance::policy(), 10_000);
//! conformance::run(Arc::new(one.clone()), Arc::new(one)).await;
//! # }
//! ```

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::{Attempt, LoginThrottle, ThrottleError, ThrottlePolicy};

/// The policy the suite expects: 3 failures per account and client, 5 per client, the
/// account slowed past 8, a 60 s first lockout and a 2 s first delay.
pub fn policy() -> ThrottlePolicy {
    ThrottlePolicy {
        max_failures: 3,
        window: Duration::from_secs(600),
        lockout: Duration::from_secs(60),
        max_lockout: Duration::from_secs(240),
        client_max_failures: 5,
        account_max_failures: 8,
        account_delay: Duration::from_secs(2),
        account_max_delay: Duration::from_secs(4),
    }
}

/// Runs every case; panics at the first that fails. `one` and `two` must share their counts
/// and be built with [`policy`]; each run needs a fresh state (a new namespace or schema).
pub async fn run(one: Arc<dyn LoginThrottle>, two: Arc<dyn LoginThrottle>) {
    an_attackers_pair_is_locked_but_the_owner_elsewhere_gets_in(&*one, &*two).await;
    success_clears_the_pair_and_gives_back_only_its_own_attempt(&*one, &*two).await;
    one_client_spraying_many_accounts_is_locked_out(&*one, &*two).await;
    the_account_ceiling_slows_and_refusals_count_nothing(&*one, &*two).await;
    released_attempts_do_not_count(&*one, &*two).await;
    racing_attempts_never_pass_the_limit(one, two).await;
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().expect("an address"))
}

/// `None` when let through, the `Retry-After` in seconds when locked out.
async fn locked(t: &dyn LoginThrottle, user: &str, from: Option<IpAddr>) -> Option<u64> {
    match t.check(&Attempt::new(user, from)).await {
        Ok(()) => None,
        Err(ThrottleError::Locked { retry_after }) => Some(retry_after.as_secs()),
        Err(e) => panic!("the throttle failed: {e}"),
    }
}

/// The denial of service of issue 12: an attacker's failures lock only the attacker.
async fn an_attackers_pair_is_locked_but_the_owner_elsewhere_gets_in(
    one: &dyn LoginThrottle,
    two: &dyn LoginThrottle,
) {
    let (attacker, owner) = (ip("192.0.2.1"), ip("198.51.100.2"));
    for t in [one, two, one] {
        assert_eq!(locked(t, "victim", attacker).await, None);
    }
    assert_eq!(
        locked(two, "victim", attacker).await,
        Some(60),
        "pair locked"
    );
    assert_eq!(
        locked(one, "victim", owner).await,
        None,
        "the owner gets in"
    );
    two.record_success(&Attempt::new("victim", owner))
        .await
        .expect("success");
    assert_eq!(
        locked(one, "victim", attacker).await,
        Some(60),
        "the owner's success does not unlock the attacker"
    );
    // An IPv6 client is its /64.
    for _ in 0..3 {
        assert_eq!(locked(one, "victim6", ip("2001:db8:1:2::1")).await, None);
    }
    assert_eq!(
        locked(two, "victim6", ip("2001:db8:1:2:ffff::9")).await,
        Some(60)
    );
    assert_eq!(locked(two, "victim6", ip("2001:db8:1:3::1")).await, None);
    // Attempts without an address count as one client.
    for _ in 0..3 {
        assert_eq!(locked(one, "victim-x", None).await, None);
    }
    assert_eq!(locked(two, "victim-x", None).await, Some(60));
    assert_eq!(locked(two, "victim-x", ip("192.0.2.200")).await, None);
}

async fn success_clears_the_pair_and_gives_back_only_its_own_attempt(
    one: &dyn LoginThrottle,
    two: &dyn LoginThrottle,
) {
    let from = ip("192.0.2.3");
    let mine = Attempt::new("owner", from);
    one.check(&mine).await.expect("first");
    two.check(&mine).await.expect("second");
    // The third attempt reaches the pair's limit; it turns out right.
    one.check(&mine).await.expect("third");
    two.record_success(&mine).await.expect("success");
    assert_eq!(
        locked(one, "owner", from).await,
        None,
        "the pair is cleared"
    );
    // The client kept its other failures (2 + this 1): two more at other accounts reach its
    // limit of 5.
    assert_eq!(locked(two, "other-1", from).await, None);
    assert_eq!(locked(one, "other-2", from).await, None);
    assert_eq!(
        locked(two, "other-3", from).await,
        Some(60),
        "client locked"
    );
}

async fn one_client_spraying_many_accounts_is_locked_out(
    one: &dyn LoginThrottle,
    two: &dyn LoginThrottle,
) {
    let from = ip("192.0.2.4");
    for i in 0..5 {
        let t = if i % 2 == 0 { one } else { two };
        assert_eq!(locked(t, &format!("spray-{i}"), from).await, None);
    }
    assert_eq!(locked(one, "spray-5", from).await, Some(60));
    assert_eq!(locked(two, "spray-5", ip("192.0.2.5")).await, None);
}

async fn the_account_ceiling_slows_and_refusals_count_nothing(
    one: &dyn LoginThrottle,
    two: &dyn LoginThrottle,
) {
    let locked_out = ip("10.0.1.1");
    for _ in 0..3 {
        assert_eq!(locked(one, "popular", locked_out).await, None);
    }
    // Refused: not counted against the account (else the ceiling would come sooner).
    for _ in 0..10 {
        assert_eq!(locked(two, "popular", locked_out).await, Some(60));
    }
    // Failures 4 to 8, from clients that fail once each; the eighth reaches the ceiling.
    for i in 1..=5 {
        let t = if i % 2 == 0 { one } else { two };
        assert_eq!(locked(t, "popular", ip(&format!("10.0.0.{i}"))).await, None);
    }
    // A client that never failed is slowed (seconds), not locked out (a minute or more).
    let wait = locked(one, "popular", ip("10.0.0.99")).await;
    assert!(matches!(wait, Some(1..=2)), "slowed by {wait:?}");
    assert_eq!(locked(two, "elsewhere", ip("10.0.0.99")).await, None);
}

async fn released_attempts_do_not_count(one: &dyn LoginThrottle, two: &dyn LoginThrottle) {
    let a = Attempt::new("released", ip("192.0.2.6"));
    for _ in 0..20 {
        one.check(&a).await.expect("never counted");
        two.release(&a).await.expect("release");
    }
    assert_eq!(locked(one, "released", ip("192.0.2.6")).await, None);
}

async fn racing_attempts_never_pass_the_limit(
    one: Arc<dyn LoginThrottle>,
    two: Arc<dyn LoginThrottle>,
) {
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let t = if i % 2 == 0 { one.clone() } else { two.clone() };
            tokio::spawn(async move {
                match t.check(&Attempt::new("raced", None)).await {
                    Ok(()) => true,
                    Err(ThrottleError::Locked { .. }) => false,
                    Err(e) => panic!("the throttle failed: {e}"),
                }
            })
        })
        .collect();
    let mut passed = 0;
    for task in tasks {
        passed += usize::from(task.await.expect("task"));
    }
    assert_eq!(passed, 3, "exactly the limit got through");
}
