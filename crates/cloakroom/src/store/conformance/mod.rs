//! The conformance suite that every [`SessionStore`] passes.
//!
//! Run it against a store with [`session_store_conformance!`](crate::session_store_conformance),
//! giving an expression that makes a fresh, empty store:
//!
//! ```ignore
//! cloakroom::session_store_conformance!(std::sync::Arc::new(cloakroom::store::MemoryStore::new(1000)));
//! ```
//!
//! Each case is a public function, so a store with special needs can call them one by one.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Timestamp;
use crate::random;
use crate::session::{
    ClientInfo, SessionData, SessionHandle, SessionKey, SessionRecord, SessionStore, SessionUser,
};
use crate::store::StoreError;

/// A store under test.
pub type Store = Arc<dyn SessionStore>;

/// Expands to one `#[tokio::test]` per case, each on a fresh store made by `$make` (an
/// expression, evaluated once per test, that may `.await`).
#[macro_export]
macro_rules! session_store_conformance {
    ($make:expr) => {
        $crate::session_store_conformance!(@cases $make;
            create_then_load, create_twice_is_a_duplicate, load_of_a_missing_key_is_none,
            touch_moves_last_seen, touch_of_a_missing_key_is_false, save_data_bumps_the_version,
            save_data_with_a_stale_version_conflicts, save_data_of_a_missing_key_is_not_found,
            concurrent_saves_from_one_version_let_exactly_one_win, delete_removes_once,
            delete_by_handle_touches_only_the_owner, delete_user_removes_all_and_only_theirs,
            list_user_is_oldest_first_and_only_theirs, count_active_and_purge_expired,
            many_users_many_sessions);
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store: $crate::store::conformance::Store = $make;
                $crate::store::conformance::$case(store).await;
            }
        )*
    };
}

/// A fresh random store key.
pub fn key() -> SessionKey {
    SessionKey::from_bytes(random::bytes::<32>().expect("OS RNG"))
}

/// A record for `user` created at `created`, expiring after 30 min idle / 12 h.
pub fn record(user: &str, created: i64) -> SessionRecord {
    let created = Timestamp::from_unix(created);
    SessionRecord {
        handle: SessionHandle::generate().expect("OS RNG"),
        user: Arc::new(
            SessionUser::new(user, format!("name of {user}")).with_roles(["reader", "writer"]),
        ),
        created_at: created,
        last_seen_at: created,
        idle_expires_at: created.saturating_add(Duration::from_secs(1800)),
        absolute_expires_at: created.saturating_add(Duration::from_secs(43_200)),
        client: ClientInfo::new(
            Some("Mozilla/5.0 (conformance) ünïcode"),
            Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))),
        ),
        version: 0,
        data: SessionData::default(),
    }
}

const T0: i64 = 1_700_000_000;

/// What was stored comes back unchanged.
pub async fn create_then_load(store: Store) {
    let k = key();
    let mut r = record("u1", T0);
    r.data.insert("cart", vec![1, 2, 3]).expect("serializable");
    r.client.ip = Some("2001:db8::1".parse().expect("valid address"));
    store.create(&k, &r).await.expect("create");
    assert_eq!(store.load(&k).await.expect("load"), Some(r));
}

/// A key can be created once.
pub async fn create_twice_is_a_duplicate(store: Store) {
    let k = key();
    store.create(&k, &record("u1", T0)).await.expect("create");
    let again = store.create(&k, &record("u2", T0)).await;
    assert!(matches!(again, Err(StoreError::Duplicate)), "{again:?}");
    assert_eq!(
        store.load(&k).await.expect("load").expect("kept").user.id,
        "u1"
    );
}

/// Unknown keys load as `None`.
pub async fn load_of_a_missing_key_is_none(store: Store) {
    assert_eq!(store.load(&key()).await.expect("load"), None);
}

/// Touch moves last-seen and idle expiry, nothing else.
pub async fn touch_moves_last_seen(store: Store) {
    let k = key();
    let r = record("u1", T0);
    store.create(&k, &r).await.expect("create");
    let seen = Timestamp::from_unix(T0 + 600);
    let idle = Timestamp::from_unix(T0 + 2400);
    assert!(store.touch(&k, seen, idle).await.expect("touch"));
    let got = store.load(&k).await.expect("load").expect("present");
    assert_eq!(got.last_seen_at, seen);
    assert_eq!(got.idle_expires_at, idle);
    assert_eq!(got.version, r.version);
    assert_eq!(got.absolute_expires_at, r.absolute_expires_at);
}

/// Touching a session that is gone says so and creates nothing.
pub async fn touch_of_a_missing_key_is_false(store: Store) {
    let k = key();
    let t = Timestamp::from_unix(T0);
    assert!(!store.touch(&k, t, t).await.expect("touch"));
    assert_eq!(store.load(&k).await.expect("load"), None);
}

/// Each save of data bumps the version by one.
pub async fn save_data_bumps_the_version(store: Store) {
    let k = key();
    store.create(&k, &record("u1", T0)).await.expect("create");
    let mut data = SessionData::default();
    data.insert("n", 1).expect("serializable");
    assert_eq!(store.save_data(&k, 0, &data).await.expect("save"), 1);
    data.insert("n", 2).expect("serializable");
    assert_eq!(store.save_data(&k, 1, &data).await.expect("save"), 2);
    let got = store.load(&k).await.expect("load").expect("present");
    assert_eq!(got.version, 2);
    assert_eq!(got.data.get::<i32>("n").expect("typed"), Some(2));
}

/// A writer that read an old version is refused, and the newer data is kept.
pub async fn save_data_with_a_stale_version_conflicts(store: Store) {
    let k = key();
    store.create(&k, &record("u1", T0)).await.expect("create");
    let mut first = SessionData::default();
    first.insert("who", "first").expect("serializable");
    store.save_data(&k, 0, &first).await.expect("save");
    let mut second = SessionData::default();
    second.insert("who", "second").expect("serializable");
    let stale = store.save_data(&k, 0, &second).await;
    assert!(
        matches!(stale, Err(StoreError::Conflict { expected: 0 })),
        "{stale:?}"
    );
    let got = store.load(&k).await.expect("load").expect("present");
    assert_eq!(got.data, first);
}

/// Saving data of a session that is gone fails with `NotFound` and creates nothing.
pub async fn save_data_of_a_missing_key_is_not_found(store: Store) {
    let k = key();
    let r = store.save_data(&k, 0, &SessionData::default()).await;
    assert!(matches!(r, Err(StoreError::NotFound)), "{r:?}");
    assert_eq!(store.load(&k).await.expect("load"), None);
}

/// Eight writers race from version 0: exactly one wins, the others see a conflict.
pub async fn concurrent_saves_from_one_version_let_exactly_one_win(store: Store) {
    let k = key();
    store.create(&k, &record("u1", T0)).await.expect("create");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut data = SessionData::default();
            data.insert("writer", i).expect("serializable");
            store.save_data(&k, 0, &data).await
        }));
    }
    let mut wins = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.expect("task") {
            Ok(v) => wins.push((i, v)),
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!(wins.len(), 1, "exactly one writer wins: {wins:?}");
    let (winner, version) = wins[0];
    let got = store.load(&k).await.expect("load").expect("present");
    assert_eq!(got.version, version);
    assert_eq!(
        got.data.get::<usize>("writer").expect("typed"),
        Some(winner)
    );
}

/// Delete removes the session and says whether there was one.
pub async fn delete_removes_once(store: Store) {
    let k = key();
    store.create(&k, &record("u1", T0)).await.expect("create");
    assert!(store.delete(&k).await.expect("delete"));
    assert!(!store.delete(&k).await.expect("delete"));
    assert_eq!(store.load(&k).await.expect("load"), None);
    assert!(store.list_user("u1").await.expect("list").is_empty());
}

/// A handle deletes a session only for the user it belongs to.
pub async fn delete_by_handle_touches_only_the_owner(store: Store) {
    let (ka, kb) = (key(), key());
    let a = record("alice", T0);
    let b = record("bob", T0);
    store.create(&ka, &a).await.expect("create");
    store.create(&kb, &b).await.expect("create");
    assert!(
        !store
            .delete_by_handle("alice", &b.handle)
            .await
            .expect("delete")
    );
    assert!(store.load(&kb).await.expect("load").is_some());
    assert!(
        store
            .delete_by_handle("alice", &a.handle)
            .await
            .expect("delete")
    );
    assert_eq!(store.load(&ka).await.expect("load"), None);
    let unknown = SessionHandle::generate().expect("OS RNG");
    assert!(
        !store
            .delete_by_handle("bob", &unknown)
            .await
            .expect("delete")
    );
}

/// Deleting a user's sessions leaves other users' alone.
pub async fn delete_user_removes_all_and_only_theirs(store: Store) {
    let mine: Vec<_> = (0..3).map(|_| key()).collect();
    for (i, k) in mine.iter().enumerate() {
        store
            .create(k, &record("alice", T0 + i as i64))
            .await
            .expect("create");
    }
    let other = key();
    store
        .create(&other, &record("bob", T0))
        .await
        .expect("create");
    assert_eq!(store.delete_user("alice").await.expect("delete"), 3);
    for k in &mine {
        assert_eq!(store.load(k).await.expect("load"), None);
    }
    assert!(store.load(&other).await.expect("load").is_some());
    assert_eq!(store.delete_user("alice").await.expect("delete"), 0);
}

/// Listing returns a user's sessions with their keys, oldest first.
pub async fn list_user_is_oldest_first_and_only_theirs(store: Store) {
    let (k1, k2) = (key(), key());
    let newer = record("alice", T0 + 100);
    let older = record("alice", T0);
    store.create(&k1, &newer).await.expect("create");
    store.create(&k2, &older).await.expect("create");
    store
        .create(&key(), &record("bob", T0))
        .await
        .expect("create");
    let list = store.list_user("alice").await.expect("list");
    assert_eq!(list, vec![(k2, older), (k1, newer)]);
    assert!(store.list_user("nobody").await.expect("list").is_empty());
}

/// Counting skips ended sessions (idle or absolute); purging removes exactly those.
pub async fn count_active_and_purge_expired(store: Store) {
    let live = key();
    store
        .create(&live, &record("u1", T0))
        .await
        .expect("create");
    let idle = key();
    let mut r = record("u1", T0);
    r.idle_expires_at = Timestamp::from_unix(T0 + 10);
    store.create(&idle, &r).await.expect("create");
    let absolute = key();
    let mut r = record("u2", T0);
    r.absolute_expires_at = Timestamp::from_unix(T0 + 20);
    store.create(&absolute, &r).await.expect("create");

    let now = Timestamp::from_unix(T0 + 30);
    assert_eq!(store.count_active(now).await.expect("count"), 1);
    assert_eq!(store.purge_expired(now).await.expect("purge"), 2);
    assert!(store.load(&live).await.expect("load").is_some());
    assert_eq!(store.load(&idle).await.expect("load"), None);
    assert_eq!(store.load(&absolute).await.expect("load"), None);
    assert_eq!(store.list_user("u1").await.expect("list").len(), 1);
    assert_eq!(store.purge_expired(now).await.expect("purge"), 0);
}

/// Many users with several sessions each, written concurrently, stay apart.
pub async fn many_users_many_sessions(store: Store) {
    let mut tasks = Vec::new();
    for u in 0..10 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            for s in 0..5 {
                store
                    .create(&key(), &record(&format!("user{u}"), T0 + s))
                    .await
                    .expect("create");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    for u in 0..10 {
        assert_eq!(
            store
                .list_user(&format!("user{u}"))
                .await
                .expect("list")
                .len(),
            5
        );
    }
    assert_eq!(
        store
            .count_active(Timestamp::from_unix(T0))
            .await
            .expect("count"),
        50
    );
}

mod guarded;
mod rotating;

pub use guarded::Guarded;
pub use rotating::*;
