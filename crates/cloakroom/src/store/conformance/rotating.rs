//! The cases every [`RotatingStore`](crate::session::RotatingStore) passes.

use std::sync::Arc;
use std::time::Duration;

use super::{T0, key, record};
use crate::clock::Timestamp;
use crate::session::Rotation;

/// A rotating store under test.
pub type Rotating = Arc<dyn crate::session::RotatingStore>;

/// Expands to one `#[tokio::test]` per rotation case, each on a fresh store made by `$make`.
#[macro_export]
macro_rules! rotating_store_conformance {
    ($make:expr) => {
        $crate::rotating_store_conformance!(@cases $make;
            rotate_moves_the_session_to_the_new_key, rotating_a_spent_key_is_reuse_and_ends_the_session,
            rotating_an_unknown_key_is_unknown, parallel_rotations_leave_at_most_one_live_branch,
            spent_keys_are_forgotten_after_the_session_ends);
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store: $crate::store::conformance::Rotating = $make;
                $crate::store::conformance::$case(store).await;
            }
        )*
    };
}

/// Rotation moves the session, with everything in it, to the new key.
pub async fn rotate_moves_the_session_to_the_new_key(store: Rotating) {
    let (old, new) = (key(), key());
    let r = record("alice", T0);
    store.create(&old, &r).await.expect("create");
    let now = Timestamp::from_unix(T0 + 60);
    assert_eq!(
        store.rotate(&old, &new, now).await.expect("rotate"),
        Rotation::Rotated(r.clone())
    );
    assert_eq!(store.load(&old).await.expect("load"), None);
    assert_eq!(store.load(&new).await.expect("load"), Some(r.clone()));
    assert_eq!(
        store.list_user("alice").await.expect("list"),
        vec![(new, r)]
    );
}

/// Presenting a spent key again is reuse: the whole session ends, whichever key it has now.
pub async fn rotating_a_spent_key_is_reuse_and_ends_the_session(store: Rotating) {
    let (k1, k2, k3, k4) = (key(), key(), key(), key());
    let r = record("alice", T0);
    store.create(&k1, &r).await.expect("create");
    let now = Timestamp::from_unix(T0 + 60);
    assert!(matches!(
        store.rotate(&k1, &k2, now).await.expect("rotate"),
        Rotation::Rotated(_)
    ));
    assert!(matches!(
        store.rotate(&k2, &k3, now).await.expect("rotate"),
        Rotation::Rotated(_)
    ));
    // The thief replays the first key.
    let reused = store.rotate(&k1, &k4, now).await.expect("rotate");
    assert_eq!(
        reused,
        Rotation::Reused {
            user_id: "alice".into(),
            handle: r.handle
        }
    );
    for k in [&k1, &k2, &k3, &k4] {
        assert_eq!(store.load(k).await.expect("load"), None);
    }
    assert!(store.list_user("alice").await.expect("list").is_empty());
    // The legitimate client's current key is dead too.
    assert!(!matches!(
        store.rotate(&k3, &k4, now).await.expect("rotate"),
        Rotation::Rotated(_)
    ));
}

/// A key that was never issued is unknown, and nothing is created.
pub async fn rotating_an_unknown_key_is_unknown(store: Rotating) {
    let (old, new) = (key(), key());
    let now = Timestamp::from_unix(T0);
    assert_eq!(
        store.rotate(&old, &new, now).await.expect("rotate"),
        Rotation::Unknown
    );
    assert_eq!(store.load(&new).await.expect("load"), None);
}

/// Sixteen clients rotate the same key at once: at most one succeeds, and at most one
/// session of the family lives afterwards.
pub async fn parallel_rotations_leave_at_most_one_live_branch(store: Rotating) {
    let old = key();
    store
        .create(&old, &record("alice", T0))
        .await
        .expect("create");
    let now = Timestamp::from_unix(T0 + 60);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store.rotate(&old, &key(), now).await
        }));
    }
    let mut rotated = 0;
    for t in tasks {
        match t.await.expect("task").expect("rotate") {
            Rotation::Rotated(_) => rotated += 1,
            Rotation::Reused { .. } | Rotation::Unknown => {}
        }
    }
    assert!(rotated <= 1, "{rotated} branches rotated");
    assert!(store.list_user("alice").await.expect("list").len() <= 1);
}

/// Once the session's absolute expiry has passed, purging forgets its spent keys.
pub async fn spent_keys_are_forgotten_after_the_session_ends(store: Rotating) {
    let (old, new, other) = (key(), key(), key());
    let r = record("alice", T0);
    store.create(&old, &r).await.expect("create");
    let now = Timestamp::from_unix(T0 + 60);
    assert!(matches!(
        store.rotate(&old, &new, now).await.expect("rotate"),
        Rotation::Rotated(_)
    ));
    let later = r.absolute_expires_at.saturating_add(Duration::from_secs(1));
    store.purge_expired(later).await.expect("purge");
    assert_eq!(
        store.rotate(&old, &other, later).await.expect("rotate"),
        Rotation::Unknown
    );
}
