//! What the conformance suite cannot see: what is shared, that nothing shared outlives its
//! sessions, and how big a session is.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::stored::Stored;
use super::*;
use crate::session::{ClientInfo, SessionHandle, SessionUser};

const T0: i64 = 1_700_000_000;

fn key() -> SessionKey {
    SessionKey::from_bytes(crate::random::bytes::<32>().unwrap())
}

fn record(user: &str, ua: &str, created: i64) -> SessionRecord {
    let created = Timestamp::from_unix(created);
    SessionRecord {
        handle: SessionHandle::generate().unwrap(),
        user: Arc::new(SessionUser::new(user, format!("name of {user}")).with_roles(["reader"])),
        created_at: created,
        last_seen_at: created,
        idle_expires_at: created.saturating_add(Duration::from_secs(1800)),
        absolute_expires_at: created.saturating_add(Duration::from_secs(43_200)),
        client: ClientInfo::new(Some(ua), Some(IpAddr::from([192, 0, 2, 7]))),
        version: 0,
        data: SessionData::default(),
    }
}

/// What the store holds besides its sessions: users indexed and user agents kept.
fn shared(store: &MemoryStore) -> (usize, usize) {
    (store.users.len(), store.user_agents.len())
}

#[tokio::test]
async fn sessions_share_their_user_and_user_agent() {
    let store = MemoryStore::new(100);
    let (a, b, c) = (key(), key(), key());
    // Equal snapshots made separately, as logins make them.
    store
        .create(&a, &record("u1", "Firefox", T0))
        .await
        .unwrap();
    store
        .create(&b, &record("u1", "Firefox", T0))
        .await
        .unwrap();
    store
        .create(&c, &record("u2", "Firefox", T0))
        .await
        .unwrap();
    let ra = store.load(&a).await.unwrap().unwrap();
    let rb = store.load(&b).await.unwrap().unwrap();
    let rc = store.load(&c).await.unwrap().unwrap();
    assert!(Arc::ptr_eq(&ra.user, &rb.user));
    assert!(!Arc::ptr_eq(&ra.user, &rc.user));
    let ua = |r: &SessionRecord| r.client.user_agent.clone().unwrap();
    assert!(Arc::ptr_eq(&ua(&ra), &ua(&rb)) && Arc::ptr_eq(&ua(&ra), &ua(&rc)));
    assert_eq!(shared(&store), (2, 1));
}

#[tokio::test]
async fn a_changed_user_is_kept_as_it_was_for_older_sessions() {
    let store = MemoryStore::new(100);
    let (old, new) = (key(), key());
    store.create(&old, &record("u1", "ua", T0)).await.unwrap();
    let mut renamed = record("u1", "ua", T0 + 1);
    Arc::make_mut(&mut renamed.user).name = "renamed".into();
    store.create(&new, &renamed).await.unwrap();
    let load = |k| {
        let store = &store;
        async move { store.load(&k).await.unwrap().unwrap().user.name.clone() }
    };
    assert_eq!(load(old).await, "name of u1");
    assert_eq!(load(new).await, "renamed");
    // New sessions with the new snapshot share it.
    let newer = key();
    let mut again = record("u1", "ua", T0 + 2);
    Arc::make_mut(&mut again.user).name = "renamed".into();
    store.create(&newer, &again).await.unwrap();
    let (rn, rnn) = (store.load(&new).await.unwrap(), store.load(&newer).await);
    assert!(Arc::ptr_eq(&rn.unwrap().user, &rnn.unwrap().unwrap().user));
}

/// Every way a session goes takes its share of the index and the interned user agent with it.
#[tokio::test]
async fn nothing_shared_outlives_its_sessions() {
    let store = MemoryStore::new(1_000);
    let mut keys = Vec::new();
    for i in 0..200 {
        let k = key();
        let (user, ua) = (format!("u{}", i % 40), format!("ua{}", i % 7));
        store.create(&k, &record(&user, &ua, T0 + i)).await.unwrap();
        keys.push((k, user));
    }
    // More than `users::FEW` sessions for one user, to go through its set and back.
    for _ in 0..40 {
        store
            .create(&key(), &record("many", "ua0", T0))
            .await
            .unwrap();
    }
    assert_eq!(shared(&store), (41, 7));
    assert_eq!(store.len(), 240);
    assert_eq!(store.list_user("many").await.unwrap().len(), 40);

    for (k, _) in &keys[..20] {
        assert!(store.delete(k).await.unwrap());
    }
    let (k, user) = &keys[20];
    let handle = store.load(k).await.unwrap().unwrap().handle;
    assert!(store.delete_by_handle(user, &handle).await.unwrap());
    assert!(store.delete_user("u39").await.unwrap() > 0);
    let rotated = key();
    let r = store
        .rotate(&RotationRequest {
            old: keys[30].0,
            family: FamilyKey::from_bytes([7; 32]),
            new: rotated,
            nonce: RotationNonce::from_bytes([0; 16]),
            now: Timestamp::from_unix(T0),
            reuse_interval: Duration::ZERO,
        })
        .await;
    assert!(matches!(r, Ok(Rotation::Rotated(_))));
    assert_eq!(store.delete_user("many").await.unwrap(), 40);
    // Purging at a time when all have ended takes the rest.
    let purged = store
        .purge_expired(Timestamp::from_unix(T0 + 100_000))
        .await
        .unwrap();
    assert!(purged > 0);
    assert_eq!(store.len(), 0);
    assert_eq!(shared(&store), (0, 0));
    // Until the rotated session's absolute expiry, its family is remembered; after it, not.
    assert_eq!(store.families().len(), 0);
}

#[tokio::test]
async fn a_duplicate_or_a_full_store_leaves_nothing_behind() {
    let store = MemoryStore::new(2);
    let k = key();
    store.create(&k, &record("u1", "ua", T0)).await.unwrap();
    let dup = store.create(&k, &record("u2", "other", T0)).await;
    assert!(matches!(dup, Err(StoreError::Duplicate)));
    store.create(&key(), &record("u1", "ua", T0)).await.unwrap();
    let full = store.create(&key(), &record("u3", "third", T0)).await;
    assert!(matches!(full, Err(StoreError::Full { capacity: 2 })));
    assert_eq!((store.len(), shared(&store)), (2, (1, 1)));
}

#[test]
fn a_session_is_small() {
    // The handle and the address, one-byte aligned, share a word; the rest are pointers and
    // timestamps. A box of 136 bytes is a 144-byte malloc chunk (one more word, and it would be
    // 160).
    assert_eq!(size_of::<Stored>(), 136);
    assert_eq!(size_of::<Box<Stored>>(), 8);
    assert_eq!(size_of::<SessionHandle>(), 22);
    // A user's entry in the index: the shared user and the list of keys.
    assert_eq!(size_of::<users::UserSessions>(), 32);
}
