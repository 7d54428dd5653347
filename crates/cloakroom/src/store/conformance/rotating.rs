//! The cases every [`RotatingStore`](crate::session::RotatingStore) passes.

use std::sync::Arc;
use std::time::Duration;

use super::{T0, key, record};
use crate::clock::Timestamp;
use crate::session::{
    FamilyKey, RefreshRotation, Refreshed, Rotation, RotationNonce, RotationRequest, SessionId,
    SessionKey,
};

/// A rotating store under test.
pub type Rotating = Arc<dyn crate::session::RotatingStore>;

/// Expands to one `#[tokio::test]` per rotation case, each on a fresh store made by `$make`.
#[macro_export]
macro_rules! rotating_store_conformance {
    ($make:expr) => {
        $crate::rotating_store_conformance!(@cases $make;
            rotate_moves_the_session_to_the_new_key, rotating_a_spent_key_is_reuse_and_ends_the_session,
            rotating_an_unknown_key_is_unknown, parallel_rotations_leave_at_most_one_live_branch,
            spent_keys_are_forgotten_after_the_session_ends, rotating_onto_a_taken_key_changes_nothing,
            the_just_spent_key_within_the_interval_gets_the_same_successor,
            bursts_of_concurrent_refreshes_are_never_reuse,
            replays_after_the_interval_are_always_reuse);
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

/// A family made up for the cases that rotate raw keys.
pub fn family() -> FamilyKey {
    FamilyKey::from_bytes(*key().as_bytes())
}

/// A request to rotate `old` to `new` in `family` at `now`, without a reuse interval.
pub fn spend(
    family: FamilyKey,
    old: SessionKey,
    new: SessionKey,
    now: Timestamp,
) -> RotationRequest {
    RotationRequest {
        old,
        family,
        new,
        nonce: RotationNonce::generate().expect("OS RNG"),
        now,
        reuse_interval: Duration::ZERO,
    }
}

/// Rotation moves the session, with everything in it, to the new key.
pub async fn rotate_moves_the_session_to_the_new_key(store: Rotating) {
    let (old, new) = (key(), key());
    let r = record("alice", T0);
    store.create(&old, &r).await.expect("create");
    let now = Timestamp::from_unix(T0 + 60);
    assert_eq!(
        store
            .rotate(&spend(family(), old, new, now))
            .await
            .expect("rotate"),
        Rotation::Rotated(r.clone())
    );
    assert_eq!(store.load(&old).await.expect("load"), None);
    assert_eq!(store.load(&new).await.expect("load"), Some(r.clone()));
    assert_eq!(
        store.list_user("alice").await.expect("list"),
        vec![(new, r)]
    );
}

/// Presenting a spent key of the family again is reuse, however old the key: the whole
/// session ends, whichever key it has now. Only the family's last spent key is remembered, so
/// this is what the family record (not a record per spent key) must catch.
pub async fn rotating_a_spent_key_is_reuse_and_ends_the_session(store: Rotating) {
    let f = family();
    let (k1, k2, k3, k4, k5) = (key(), key(), key(), key(), key());
    let r = record("alice", T0);
    store.create(&k1, &r).await.expect("create");
    let now = Timestamp::from_unix(T0 + 60);
    for (old, new) in [(k1, k2), (k2, k3), (k3, k4)] {
        assert!(matches!(
            store
                .rotate(&spend(f, old, new, now))
                .await
                .expect("rotate"),
            Rotation::Rotated(_)
        ));
    }
    // The thief replays the first key, three generations old, even within an interval.
    let mut replay = spend(f, k1, k5, now);
    replay.reuse_interval = Duration::from_secs(60);
    let reused = store.rotate(&replay).await.expect("rotate");
    assert_eq!(
        reused,
        Rotation::Reused {
            user_id: "alice".into(),
            handle: r.handle
        }
    );
    for k in [&k1, &k2, &k3, &k4, &k5] {
        assert_eq!(store.load(k).await.expect("load"), None);
    }
    assert!(store.list_user("alice").await.expect("list").is_empty());
    // The legitimate client's current key is dead too.
    assert!(!matches!(
        store.rotate(&spend(f, k4, k5, now)).await.expect("rotate"),
        Rotation::Rotated(_)
    ));
}

/// A key that was never issued is unknown, and nothing is created.
pub async fn rotating_an_unknown_key_is_unknown(store: Rotating) {
    let (old, new) = (key(), key());
    let now = Timestamp::from_unix(T0);
    assert_eq!(
        store
            .rotate(&spend(family(), old, new, now))
            .await
            .expect("rotate"),
        Rotation::Unknown
    );
    assert_eq!(store.load(&new).await.expect("load"), None);
}

/// Sixteen clients rotate the same key at once, without a reuse interval: at most one
/// succeeds, and at most one session of the family lives afterwards.
pub async fn parallel_rotations_leave_at_most_one_live_branch(store: Rotating) {
    let (f, old) = (family(), key());
    store
        .create(&old, &record("alice", T0))
        .await
        .expect("create");
    let now = Timestamp::from_unix(T0 + 60);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store.rotate(&spend(f, old, key(), now)).await
        }));
    }
    let mut rotated = 0;
    for t in tasks {
        match t.await.expect("task").expect("rotate") {
            Rotation::Rotated(_) => rotated += 1,
            Rotation::Reused { .. } | Rotation::Unknown => {}
            Rotation::Recent { .. } => panic!("no interval: never recent"),
        }
    }
    assert!(rotated <= 1, "{rotated} branches rotated");
    assert!(store.list_user("alice").await.expect("list").len() <= 1);
}

/// Once the session's absolute expiry has passed, purging forgets its family.
pub async fn spent_keys_are_forgotten_after_the_session_ends(store: Rotating) {
    let (f, old, new, other) = (family(), key(), key(), key());
    let r = record("alice", T0);
    store.create(&old, &r).await.expect("create");
    let now = Timestamp::from_unix(T0 + 60);
    assert!(matches!(
        store
            .rotate(&spend(f, old, new, now))
            .await
            .expect("rotate"),
        Rotation::Rotated(_)
    ));
    let later = r.absolute_expires_at.saturating_add(Duration::from_secs(1));
    store.purge_expired(later).await.expect("purge");
    assert_eq!(
        store
            .rotate(&spend(f, old, other, later))
            .await
            .expect("rotate"),
        Rotation::Unknown
    );
}

/// Rotating onto a key that is taken fails and changes nothing.
pub async fn rotating_onto_a_taken_key_changes_nothing(store: Rotating) {
    let (old, taken) = (key(), key());
    let (a, b) = (record("alice", T0), record("bob", T0));
    store.create(&old, &a).await.expect("create");
    store.create(&taken, &b).await.expect("create");
    let now = Timestamp::from_unix(T0 + 60);
    let r = store.rotate(&spend(family(), old, taken, now)).await;
    assert!(
        matches!(r, Err(crate::store::StoreError::Duplicate)),
        "{r:?}"
    );
    assert_eq!(store.load(&old).await.expect("load"), Some(a));
    assert_eq!(store.load(&taken).await.expect("load"), Some(b));
}

/// Starts a session whose refresh token is a real [`SessionId`], as hybrid mode does.
async fn sign_in(store: &Rotating, user: &str) -> (SessionId, crate::session::SessionRecord) {
    let id = SessionId::generate().expect("OS RNG");
    let r = record(user, T0);
    store.create(&id.key(), &r).await.expect("create");
    (id, r)
}

async fn refresh(
    store: &Rotating,
    rotation: RefreshRotation,
    id: &SessionId,
    now: Timestamp,
) -> Refreshed {
    rotation
        .rotate(
            store.as_ref(),
            id,
            RotationNonce::generate().expect("OS RNG"),
            now,
        )
        .await
        .expect("rotate")
}

/// The just-spent token within the interval gets the same successor, as long as that successor
/// is unspent; after the interval, or once the successor is spent, it is reuse.
pub async fn the_just_spent_key_within_the_interval_gets_the_same_successor(store: Rotating) {
    let rotation = RefreshRotation::new(Duration::from_secs(5));
    let (t1, r) = sign_in(&store, "alice").await;
    let now = Timestamp::from_unix(T0 + 60);
    let Refreshed::Rotated { next: t2, .. } = refresh(&store, rotation, &t1, now).await else {
        panic!("first use rotates");
    };
    let in_window = Timestamp::from_unix(T0 + 64);
    match refresh(&store, rotation, &t1, in_window).await {
        Refreshed::Rotated {
            next,
            session,
            repeated,
        } => {
            assert_eq!(next, t2, "the same successor");
            assert!(repeated);
            assert_eq!(session.handle, r.handle);
        }
        other => panic!("within the interval: {other:?}"),
    }
    assert!(store.load(&t2.key()).await.expect("load").is_some());
    // The successor is spent in turn: t1 is no longer the just-spent token.
    let Refreshed::Rotated { next: t3, .. } = refresh(&store, rotation, &t2, in_window).await
    else {
        panic!("t2 is current");
    };
    assert!(matches!(
        refresh(&store, rotation, &t1, in_window).await,
        Refreshed::Reused { .. }
    ));
    assert_eq!(store.load(&t3.key()).await.expect("load"), None);

    // After the interval, the just-spent token is reuse.
    let (u1, _) = sign_in(&store, "bob").await;
    let Refreshed::Rotated { next: u2, .. } = refresh(&store, rotation, &u1, now).await else {
        panic!("first use rotates");
    };
    let after = Timestamp::from_unix(T0 + 65);
    assert!(matches!(
        refresh(&store, rotation, &u1, after).await,
        Refreshed::Reused { .. }
    ));
    assert_eq!(store.load(&u2.key()).await.expect("load"), None);
}

/// How many bursts [`bursts_of_concurrent_refreshes_are_never_reuse`] runs.
pub const BURSTS: usize = 1_000;
/// How many refreshes of one token each burst runs at once.
pub const BURST_SIZE: usize = 16;

/// 1 000 bursts of 16 concurrent refreshes of one token (two tabs, SSR and browser, many
/// navigations): never a reuse, every request of a burst gets the same successor, and the
/// next burst refreshes that one.
pub async fn bursts_of_concurrent_refreshes_are_never_reuse(store: Rotating) {
    let rotation = RefreshRotation::new(Duration::from_secs(5));
    let (mut current, r) = sign_in(&store, "alice").await;
    let now = Timestamp::from_unix(T0 + 60);
    let mut false_alarms = 0;
    for burst in 0..BURSTS {
        let token = Arc::new(current.clone());
        let tasks: Vec<_> = (0..BURST_SIZE)
            .map(|_| {
                let (store, token) = (Arc::clone(&store), Arc::clone(&token));
                tokio::spawn(async move { refresh(&store, rotation, &token, now).await })
            })
            .collect();
        let mut successors = Vec::new();
        for t in tasks {
            match t.await.expect("task") {
                Refreshed::Rotated { next, .. } => successors.push(next),
                Refreshed::Reused { .. } => false_alarms += 1,
                Refreshed::Unknown => panic!("burst {burst}: the token was issued"),
            }
        }
        assert_eq!(
            false_alarms, 0,
            "burst {burst}: an honest race counted as reuse"
        );
        assert_eq!(successors.len(), BURST_SIZE);
        assert!(
            successors.iter().all(|s| *s == successors[0]),
            "burst {burst}"
        );
        current = successors.swap_remove(0);
    }
    let list = store.list_user("alice").await.expect("list");
    assert_eq!(
        list,
        vec![(current.key(), r)],
        "one live branch, under the last successor"
    );
}

/// How many replays [`replays_after_the_interval_are_always_reuse`] tries.
pub const REPLAYS: usize = 50;

/// A burst, then the interval passes, then the burst's token again: reuse every time, and the
/// session is gone.
pub async fn replays_after_the_interval_are_always_reuse(store: Rotating) {
    let rotation = RefreshRotation::new(Duration::from_secs(2));
    let mut caught = 0;
    for i in 0..REPLAYS {
        let (t1, _) = sign_in(&store, &format!("user{i}")).await;
        let now = Timestamp::from_unix(T0 + 60);
        let (a, b) = tokio::join!(
            refresh(&store, rotation, &t1, now),
            refresh(&store, rotation, &t1, now)
        );
        let (Refreshed::Rotated { next: a, .. }, Refreshed::Rotated { next: b, .. }) = (a, b)
        else {
            panic!("an honest race");
        };
        assert_eq!(a, b);
        let later = Timestamp::from_unix(T0 + 62);
        if let Refreshed::Reused { .. } = refresh(&store, rotation, &t1, later).await {
            caught += 1;
        }
        assert_eq!(store.load(&a.key()).await.expect("load"), None);
    }
    assert_eq!(caught, REPLAYS, "every replay after the interval caught");
}
