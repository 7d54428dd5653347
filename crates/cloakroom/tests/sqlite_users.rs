//! The `UserStore` contract on SQLite, and what survives a restart.
#![cfg(feature = "sqlite")]

use std::path::Path;
use std::sync::Arc;

use cloakroom::auth::SessionManager;
use cloakroom::clock::Timestamp;
use cloakroom::session::{ClientInfo, SessionPolicy, SessionUser};
use cloakroom::store::{SqliteStore, StoreError};
use cloakroom::user::{NewUser, PasswordHash, UserStore, Username};
use tempfile::TempDir;

const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";

async fn fresh() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("users.db"))
        .await
        .expect("open");
    (dir, store)
}

fn new_user(name: &str, created: i64) -> NewUser {
    NewUser {
        username: Username::parse(name).expect("valid name"),
        roles: vec!["reader".to_owned()],
        password_hash: PasswordHash::from_phc(HASH),
        created_at: Timestamp::from_unix(created),
    }
}

#[tokio::test]
async fn create_assigns_a_uuid_and_keeps_everything() {
    let (_dir, store) = fresh().await;
    let user = store.create(&new_user("Alice", 100)).await.expect("create");
    let id = uuid::Uuid::parse_str(&user.id).expect("a UUID");
    assert_eq!(id.get_version_num(), 4);
    assert_eq!(user.username.as_str(), "Alice");
    assert_eq!(user.roles, ["reader"]);
    assert_eq!(user.password_hash, PasswordHash::from_phc(HASH));
    assert!(!user.disabled);
    assert_eq!(user.created_at, Timestamp::from_unix(100));
    assert_eq!(store.by_id(&user.id).await.expect("by id"), Some(user));
}

#[tokio::test]
async fn a_username_is_taken_whatever_its_case() {
    let (_dir, store) = fresh().await;
    store.create(&new_user("Alice", 1)).await.expect("create");
    for clash in ["Alice", "alice", "ALICE", "aLiCe"] {
        let again = store.create(&new_user(clash, 2)).await;
        assert!(
            matches!(again, Err(StoreError::Duplicate)),
            "{clash}: {again:?}"
        );
    }
    assert_eq!(store.list().await.expect("list").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_name_let_exactly_one_win() {
    let (_dir, store) = fresh().await;
    let tasks: Vec<_> = ["bob", "Bob", "BOB", "bOb"]
        .into_iter()
        .map(|name| {
            let store = store.clone();
            tokio::spawn(async move { store.create(&new_user(name, 1)).await })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(_) => wins += 1,
            Err(StoreError::Duplicate) => {}
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!(wins, 1);
}

#[tokio::test]
async fn by_username_ignores_case_and_surrounding_space() {
    let (_dir, store) = fresh().await;
    let alice = store.create(&new_user("Alice", 1)).await.expect("create");
    for name in ["Alice", "alice", "ALICE", "  alice "] {
        assert_eq!(
            store.by_username(name).await.expect("lookup").as_ref(),
            Some(&alice),
            "{name:?}"
        );
    }
    // The name comes back as written, not folded.
    let found = store.by_username("alice").await.expect("lookup");
    assert_eq!(found.expect("found").username.as_str(), "Alice");
    for missing in ["bob", "", "   ", "ali\nce", "alic"] {
        assert_eq!(store.by_username(missing).await.expect("lookup"), None);
    }
}

#[tokio::test]
async fn by_id_finds_only_that_user() {
    let (_dir, store) = fresh().await;
    let a = store.create(&new_user("a", 1)).await.expect("create");
    let b = store.create(&new_user("b", 1)).await.expect("create");
    assert_eq!(store.by_id(&a.id).await.expect("by id"), Some(a));
    assert_eq!(store.by_id(&b.id).await.expect("by id"), Some(b));
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(store.by_id(&unknown).await.expect("by id"), None);
    assert_eq!(store.by_id("").await.expect("by id"), None);
}

#[tokio::test]
async fn list_is_in_the_order_users_were_added() {
    let (_dir, store) = fresh().await;
    // Creation times out of order on purpose: the order is that of `create`.
    let mut expected = Vec::new();
    for (name, created) in [("zed", 30), ("amy", 10), ("Max", 20), ("bea", 5)] {
        expected.push(
            store
                .create(&new_user(name, created))
                .await
                .expect("create"),
        );
    }
    assert_eq!(store.list().await.expect("list"), expected);
    // After a removal, a newcomer still comes last.
    assert!(store.remove(&expected[3].id).await.expect("remove"));
    expected.pop();
    expected.push(store.create(&new_user("cal", 1)).await.expect("create"));
    assert_eq!(store.list().await.expect("list"), expected);
}

#[tokio::test]
async fn remove_removes_once_and_frees_the_name() {
    let (_dir, store) = fresh().await;
    let user = store.create(&new_user("Alice", 1)).await.expect("create");
    assert!(store.remove(&user.id).await.expect("remove"));
    assert!(!store.remove(&user.id).await.expect("remove"));
    assert_eq!(store.by_id(&user.id).await.expect("by id"), None);
    assert_eq!(store.by_username("alice").await.expect("lookup"), None);
    let again = store.create(&new_user("alice", 2)).await.expect("create");
    assert_ne!(again.id, user.id, "IDs are never reused");
}

#[tokio::test]
async fn setters_change_one_field_of_one_user() {
    let (_dir, store) = fresh().await;
    let user = store.create(&new_user("Alice", 1)).await.expect("create");
    let other = store.create(&new_user("Bob", 1)).await.expect("create");
    let missing = uuid::Uuid::new_v4().to_string();

    let new_hash = PasswordHash::from_phc("$argon2id$v=19$m=8,t=1,p=1$bmV3$bmV3aGFzaA");
    assert!(
        store
            .set_password_hash(&user.id, &new_hash)
            .await
            .expect("set")
    );
    assert!(
        !store
            .set_password_hash(&missing, &new_hash)
            .await
            .expect("set")
    );

    assert!(store.set_disabled(&user.id, true).await.expect("set"));
    assert!(!store.set_disabled(&missing, true).await.expect("set"));

    let roles = vec!["admin".to_owned(), "rôle ünïcode".to_owned()];
    assert!(store.set_roles(&user.id, &roles).await.expect("set"));
    assert!(!store.set_roles(&missing, &roles).await.expect("set"));

    let got = store
        .by_id(&user.id)
        .await
        .expect("by id")
        .expect("present");
    assert_eq!(got.password_hash, new_hash);
    assert!(got.disabled);
    assert_eq!(got.roles, roles);
    assert_eq!(
        (got.username.as_str(), got.created_at),
        ("Alice", user.created_at)
    );
    assert_eq!(store.by_id(&other.id).await.expect("by id"), Some(other));

    assert!(store.set_disabled(&user.id, false).await.expect("set"));
    assert!(store.set_roles(&user.id, &[]).await.expect("set"));
    let got = store
        .by_id(&user.id)
        .await
        .expect("by id")
        .expect("present");
    assert!(!got.disabled);
    assert!(got.roles.is_empty());
}

#[tokio::test]
async fn unicode_names_round_trip_and_fold() {
    let (_dir, store) = fresh().await;
    for name in [
        "Zoë",
        "Ωμέγα",
        "Łukasz",
        "李小龙",
        "Ünïcødé 🦀",
        &"é".repeat(64),
    ] {
        let user = store.create(&new_user(name, 1)).await.expect("create");
        assert_eq!(user.username.as_str(), name);
        let upper = name.to_uppercase();
        let found = store.by_username(&upper).await.expect("lookup");
        assert_eq!(found.map(|u| u.id), Some(user.id), "{upper}");
    }
    let clash = store.create(&new_user("ZOË", 2)).await;
    assert!(matches!(clash, Err(StoreError::Duplicate)), "{clash:?}");
}

async fn write_a_session_and_a_user(path: &Path) -> (cloakroom::session::SessionId, String) {
    let store = SqliteStore::open(path).await.expect("open");
    let user = store.create(&new_user("Ada", 1)).await.expect("create");
    let sessions = SessionManager::new(store, SessionPolicy::default());
    let (id, record) = sessions
        .start(
            SessionUser::new(&user.id, "Ada").with_roles(["admin"]),
            ClientInfo::new(Some("test/1"), Some("203.0.113.9".parse().expect("ip"))),
        )
        .await
        .expect("start");
    sessions
        .update_data(&id.key(), |data| Ok(data.insert("theme", "dark")?))
        .await
        .expect("save data");
    assert_eq!(record.user.id, user.id);
    (id, user.id)
}

#[tokio::test]
async fn sessions_and_users_survive_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("cloakroom.db");
    // Everything written is dropped at the end of this call, without an orderly close.
    let (id, user_id) = write_a_session_and_a_user(&path).await;

    let store = Arc::new(SqliteStore::open(&path).await.expect("reopen"));
    let user = store
        .by_username("ada")
        .await
        .expect("lookup")
        .expect("kept");
    assert_eq!(user.id, user_id);
    let sessions = SessionManager::from_shared(store.clone(), SessionPolicy::default());
    let active = sessions.authenticate(&id).await.expect("session kept");
    assert_eq!(active.record.user.id, user_id);
    assert_eq!(active.record.user.roles, ["admin"]);
    assert_eq!(active.record.version, 1);
    assert_eq!(
        active.record.data.get::<String>("theme").expect("typed"),
        Some("dark".to_owned())
    );
    assert_eq!(active.record.client.user_agent.as_deref(), Some("test/1"));

    // A closed store reopens as well.
    store.close().await;
    let store = SqliteStore::open(&path).await.expect("reopen");
    assert_eq!(store.list().await.expect("list").len(), 1);
    let sessions = SessionManager::new(store, SessionPolicy::default());
    assert_eq!(sessions.list(&user_id).await.expect("list").len(), 1);
}
