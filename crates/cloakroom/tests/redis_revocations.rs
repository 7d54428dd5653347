//! The deny-list's stores: the memory one and the Redis one (against the real Redis at
//! 127.0.0.1:6379) behave alike; the Redis one keeps entries in keys that expire with them.

#[path = "redis_store/support.rs"]
mod support;

use std::sync::Arc;

use cloakroom::clock::{Clock, ManualClock, SystemClock, Timestamp};
use cloakroom::revocation::{MemoryRevocationStore, Revocation, RevocationStore, Revocations};
use cloakroom::store::{RedisRevocationStore, RedisStore};

use self::support::{Namespace, REDIS_URL, redis_url};

fn t(s: i64) -> Timestamp {
    Timestamp::from_unix(s)
}

fn sorted(mut v: Vec<Revocation>) -> Vec<Revocation> {
    v.sort_by(|a, b| (a.kind(), a.subject()).cmp(&(b.kind(), b.subject())));
    v
}

/// What every `RevocationStore` does, at times around `t0`.
async fn behaves(store: Arc<dyn RevocationStore>, t0: i64) {
    let token = Revocation::token("jti:1", t(t0 + 100));
    let session = Revocation::session("sid-1", t(t0 + 200));
    let user = Revocation::user("user 7", t(t0 + 10), t(t0 + 300));
    for r in [&token, &session, &user] {
        store.add(r).await.expect("add");
    }
    let now = t(t0);
    assert_eq!(
        sorted(store.load_all(now).await.expect("load")),
        sorted(vec![token.clone(), session.clone(), user.clone()])
    );

    // An upsert keeps the stricter values of both.
    store
        .add(&Revocation::user("user 7", t(t0 + 5), t(t0 + 400)))
        .await
        .expect("add");
    store
        .add(&Revocation::token("jti:1", t(t0 + 50)))
        .await
        .expect("add");
    let all = sorted(store.load_all(now).await.expect("load"));
    assert_eq!(
        all,
        sorted(vec![
            token.clone(),
            session.clone(),
            Revocation::user("user 7", t(t0 + 10), t(t0 + 400)),
        ])
    );

    // Expired entries are not loaded, and purging removes exactly those.
    let later = t(t0 + 100);
    assert_eq!(
        sorted(store.load_all(later).await.expect("load")),
        sorted(vec![
            session,
            Revocation::user("user 7", t(t0 + 10), t(t0 + 400))
        ])
    );
    assert_eq!(store.purge_expired(later).await.expect("purge"), 1);
    assert_eq!(store.purge_expired(later).await.expect("purge"), 0);
    assert_eq!(store.purge_expired(t(t0 + 1_000)).await.expect("purge"), 2);
    assert!(store.load_all(now).await.expect("load").is_empty());
}

#[tokio::test]
async fn the_memory_store_behaves() {
    behaves(Arc::new(MemoryRevocationStore::new()), 1_700_000_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_redis_store_behaves() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new();
    let t0 = 1_700_000_000;
    let store = RedisRevocationStore::connect(url, ns.name())
        .await
        .expect("connect")
        .with_clock(Arc::new(ManualClock::new(t(t0))));
    behaves(Arc::new(store), t0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_entries_expire_with_themselves_and_survive_a_new_node() {
    let Some(url) = redis_url() else { return };
    let ns = Namespace::new();
    let now = SystemClock.now();
    let sessions = RedisStore::connect(url, ns.name()).await.expect("connect");
    let store = Arc::new(RedisRevocationStore::new(&sessions));
    let clock = Arc::new(SystemClock);
    let node_a = Revocations::open(store, clock.clone()).await.expect("open");
    let many: Vec<_> = (0..2_500)
        .map(|i| Revocation::token(format!("jti-{i}"), t(now.unix() + 600)))
        .collect();
    for r in &many {
        node_a.revoke(r.clone()).await.expect("revoke");
    }
    let user = Revocation::user("u1", t(now.unix() + 1), t(now.unix() + 3_600));
    node_a.revoke(user).await.expect("revoke");

    let mut conn = redis::Client::open(REDIS_URL)
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{}:r:user:u1", ns.name()))
        .query_async(&mut conn)
        .await
        .expect("pttl");
    assert!((3_595_000..=3_600_000).contains(&ttl), "{ttl}");

    // A node that starts later (or reconnects) loads the whole list, over several pages.
    let other = RedisRevocationStore::connect(url, ns.name())
        .await
        .expect("connect");
    let node_b = Revocations::open(Arc::new(other), clock)
        .await
        .expect("open");
    assert_eq!(node_b.deny_list().len(), 2_501);
    assert!(node_b.deny_list().is_token_revoked("jti-2499"));
    assert!(node_b.deny_list().user_not_before("u1").is_some());
}
