//! The PostgreSQL store against the real server at 127.0.0.1:5432 (database `test`): users,
//! keys and revocations that outlive the connection, sessions shared by two nodes, rotations
//! raced across two pools, and a server that is not there.
//!
//! Every test that needs PostgreSQL starts with `support::postgres_url()`: without it the test
//! fails under CI and is skipped, loudly, elsewhere. Each test works in a schema of its own.

#[path = "postgres_store/damage.rs"]
mod damage;
#[path = "postgres_store/support.rs"]
mod support;

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloakroom::clock::{Clock, SystemClock, Timestamp};
use cloakroom::revocation::{Revocation, RevocationStore};
use cloakroom::session::{RotatingStore, Rotation, SessionData, SessionStore};
use cloakroom::store::conformance::{key, record};
use cloakroom::store::{PostgresOptions, PostgresStore, StoreError};
use cloakroom::token::{Algorithm, KeyStore, StoredKey};
use cloakroom::user::{NewUser, PasswordHash, UserStore, Username};

use self::support::{TempSchema, postgres_url};

async fn store(url: &str, schema: &TempSchema) -> PostgresStore {
    PostgresStore::connect_with(url, PostgresOptions::default().with_schema(schema.name()))
        .await
        .expect("connect")
}

fn new_user(name: &str, roles: &[&str]) -> NewUser {
    NewUser {
        username: Username::parse(name).expect("valid name"),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        password_hash: PasswordHash::from_phc("$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA"),
        created_at: Timestamp::from_unix(1_700_000_000),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_contract() {
    let Some(url) = postgres_url() else { return };
    let schema = TempSchema::new(url);
    let (sa, sb) = (store(url, &schema).await, store(url, &schema).await);
    // One trait at a time: the store is a session, user, key and revocation store at once.
    let (a, b): (&dyn UserStore, &dyn UserStore) = (&sa, &sb);

    let ada = a
        .create(&new_user("Ada", &["admin"]))
        .await
        .expect("create");
    let bob = a.create(&new_user("bob", &[])).await.expect("create");
    let clash = b.create(&new_user("ADA", &[])).await;
    assert!(matches!(clash, Err(StoreError::Duplicate)), "{clash:?}");

    assert_eq!(
        b.by_username("aDa").await.expect("by name"),
        Some(ada.clone())
    );
    assert_eq!(b.by_id(&bob.id).await.expect("by id"), Some(bob.clone()));
    assert_eq!(b.by_username("nobody").await.expect("by name"), None);
    assert_eq!(b.by_username("").await.expect("invalid name"), None);
    assert_eq!(b.by_id("not-a-uuid").await.expect("by id"), None);
    assert_eq!(
        b.list().await.expect("list"),
        vec![ada.clone(), bob.clone()]
    );

    let hash = PasswordHash::from_phc("$argon2id$v=19$m=8,t=1,p=1$b3RoZXI$aGFzaDI");
    assert!(b.set_password_hash(&ada.id, &hash).await.expect("passwd"));
    assert!(b.set_disabled(&ada.id, true).await.expect("disable"));
    let roles = vec!["reader".to_owned(), "writer".to_owned()];
    assert!(b.set_roles(&ada.id, &roles).await.expect("roles"));
    let got = a.by_id(&ada.id).await.expect("by id").expect("present");
    assert_eq!(got.password_hash, hash);
    assert!(got.disabled);
    assert_eq!(got.roles, roles);
    assert_eq!(got.username.as_str(), "Ada", "kept as written");
    for missing in [
        b.set_password_hash("x", &hash).await,
        b.set_disabled("x", true).await,
        b.set_roles("x", &roles).await,
        b.remove("x").await,
    ] {
        assert!(!missing.expect("no error for an unknown id"));
    }

    assert!(a.remove(&ada.id).await.expect("remove"));
    assert!(!a.remove(&ada.id).await.expect("remove again"));
    // The name is free again, and one of two nodes racing for it wins.
    let (lower, upper) = (new_user("ada", &[]), new_user("ADA", &[]));
    let (ra, rb) = tokio::join!(a.create(&lower), b.create(&upper));
    assert_eq!([&ra, &rb].iter().filter(|r| r.is_ok()).count(), 1);
    assert!(matches!(ra.err().or(rb.err()), Some(StoreError::Duplicate)));
    assert_eq!(a.list().await.expect("list").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_revocations_survive_reconnect() {
    let Some(url) = postgres_url() else { return };
    let schema = TempSchema::new(url);
    let t = Timestamp::from_unix(1_700_000_000);
    let at = |s: i64| Timestamp::from_unix(t.unix() + s);
    let first = StoredKey::generate(Algorithm::EdDSA, t).expect("key");
    let second = StoredKey::generate(Algorithm::Hs256, at(10)).expect("key");
    {
        let node = store(url, &schema).await;
        let (s, r): (&dyn KeyStore, &dyn RevocationStore) = (&node, &node);
        s.insert(&first).await.expect("insert");
        s.insert(&second).await.expect("insert");
        assert!(matches!(s.insert(&first).await, Err(StoreError::Duplicate)));
        assert!(
            s.set_retire_after(first.kid.as_str(), at(100))
                .await
                .expect("retire")
        );
        assert!(!s.mark_retired("nope", t).await.expect("unknown kid"));

        r.add(&Revocation::user("u", at(10), at(100)))
            .await
            .expect("add");
        r.add(&Revocation::user("u", at(20), at(50)))
            .await
            .expect("add");
        r.add(&Revocation::token("j", at(30))).await.expect("add");
        r.add(&Revocation::token("j", at(20))).await.expect("add");
        r.add(&Revocation::session("s", at(40))).await.expect("add");
        r.add(&Revocation::session("gone", at(1)))
            .await
            .expect("add");
        node.close().await;
        assert!(matches!(node.ping().await, Err(StoreError::Unavailable(_))));
    }

    let node = store(url, &schema).await;
    let (s, r): (&dyn KeyStore, &dyn RevocationStore) = (&node, &node);
    let mut retired = first.clone();
    retired.retire_after = Some(at(100));
    assert_eq!(
        s.load_all().await.expect("keys"),
        vec![retired, second.clone()]
    );
    assert!(s.delete(second.kid.as_str()).await.expect("delete"));
    assert!(!s.delete(second.kid.as_str()).await.expect("delete again"));

    let mut all = r.load_all(at(5)).await.expect("load");
    all.sort_by_key(|r| r.kind());
    assert_eq!(
        all,
        vec![
            Revocation::token("j", at(30)),
            Revocation::session("s", at(40)),
            Revocation::user("u", at(20), at(100)),
        ],
        "entries only become stricter; expired ones are not loaded"
    );
    assert_eq!(r.purge_expired(at(40)).await.expect("purge"), 3);
    assert_eq!(r.load_all(t).await.expect("load").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_sessions() {
    let Some(url) = postgres_url() else { return };
    let schema = TempSchema::new(url);
    let (sa, sb) = (store(url, &schema).await, store(url, &schema).await);
    let (a, b): (&dyn SessionStore, &dyn SessionStore) = (&sa, &sb);
    let now = SystemClock.now();

    let k = key();
    let r = record("carol", now.unix());
    a.create(&k, &r).await.expect("create on a");
    assert_eq!(b.load(&k).await.expect("load on b"), Some(r.clone()));
    assert!(matches!(b.create(&k, &r).await, Err(StoreError::Duplicate)));

    let seen = Timestamp::from_unix(now.unix() + 5);
    let idle = seen.saturating_add(Duration::from_secs(1_800));
    assert!(b.touch(&k, seen, idle).await.expect("touch"));
    let got = a.load(&k).await.expect("load").expect("present");
    assert_eq!(got.last_seen_at, seen);

    // Both read version 0; the node that writes second loses.
    let mut data = SessionData::default();
    data.insert("by", "a").expect("serializable");
    assert_eq!(a.save_data(&k, 0, &data).await.expect("save on a"), 1);
    let stale = b.save_data(&k, 0, &SessionData::default()).await;
    assert!(
        matches!(stale, Err(StoreError::Conflict { expected: 0 })),
        "{stale:?}"
    );
    assert_eq!(b.load(&k).await.expect("load").expect("present").data, data);

    // Racing creates of one key from both nodes: exactly one wins.
    let k2 = key();
    let r2 = record("carol", now.unix() + 1);
    let (ra, rb) = tokio::join!(a.create(&k2, &r2), b.create(&k2, &r2));
    assert_eq!([&ra, &rb].iter().filter(|r| r.is_ok()).count(), 1);
    assert!(matches!(ra.err().or(rb.err()), Some(StoreError::Duplicate)));

    assert_eq!(b.list_user("carol").await.expect("list").len(), 2);
    assert_eq!(a.count_active(now).await.expect("count"), 2);
    assert_eq!(b.delete_user("carol").await.expect("logout-all on b"), 2);
    assert_eq!(a.load(&k).await.expect("load"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rotations_across_two_pools() {
    let Some(url) = postgres_url() else { return };
    let schema = TempSchema::new(url);
    let (a, b) = (store(url, &schema).await, store(url, &schema).await);
    let nodes: [Arc<dyn RotatingStore>; 2] = [Arc::new(a), Arc::new(b)];
    let now = SystemClock.now();

    for round in 0..5 {
        let (f, old) = (cloakroom::store::conformance::family(), key());
        let r = record(&format!("user{round}"), now.unix());
        nodes[0].create(&old, &r).await.expect("create");
        let mut tasks = Vec::new();
        for i in 0..16 {
            let node = Arc::clone(&nodes[i % 2]);
            tasks.push(tokio::spawn(async move {
                let request = cloakroom::store::conformance::spend(f, old, key(), now);
                node.rotate(&request).await
            }));
        }
        let (mut rotated, mut reused) = (0, 0);
        for t in tasks {
            match t.await.expect("task").expect("rotate") {
                Rotation::Rotated(got) => {
                    assert_eq!(got, r);
                    rotated += 1;
                }
                Rotation::Reused { user_id, handle } => {
                    assert_eq!((user_id.as_str(), &handle), (r.user.id.as_str(), &r.handle));
                    reused += 1;
                }
                Rotation::Unknown | Rotation::Recent { .. } => {
                    panic!("the key was issued, without a reuse interval: {round}")
                }
            }
        }
        // The row lock lets exactly one through; every other one sees the key spent (no reuse
        // interval here), and reuse ends the session, the winner's branch included.
        assert_eq!((rotated, reused), (1, 15), "round {round}");
        assert!(
            nodes[1]
                .list_user(&r.user.id)
                .await
                .expect("list")
                .is_empty()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_unavailable() {
    // A port that was just free: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let url = format!("postgres://postgres@127.0.0.1:{port}/test");
    let options = PostgresOptions {
        acquire_timeout: Duration::from_secs(2),
        ..PostgresOptions::default()
    };
    let started = Instant::now();
    let err = PostgresStore::connect_with(&url, options)
        .await
        .expect_err("nothing listens there");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(err.source().is_some(), "the cause is kept");
    assert!(started.elapsed() < Duration::from_secs(10), "fails fast");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_connections_are_replaced_and_a_closed_store_is_unavailable() {
    let Some(url) = postgres_url() else { return };
    let schema = TempSchema::new(url);
    // Named after its schema, so that exactly this store's backends can be found and killed.
    let sep = if url.contains('?') { '&' } else { '?' };
    let named = format!("{url}{sep}application_name={}", schema.name());
    let s = PostgresStore::connect_with(
        &named,
        PostgresOptions::default().with_schema(schema.name()),
    )
    .await
    .expect("connect");
    let k = key();
    SessionStore::create(&s, &k, &record("dave", SystemClock.now().unix()))
        .await
        .expect("create");

    let admin = sqlx::PgPool::connect(url).await.expect("admin connection");
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(schema.name())
    .fetch_all(&admin)
    .await
    .expect("terminate");
    assert!(
        !killed.is_empty() && killed.iter().all(|k| *k),
        "{killed:?}"
    );
    admin.close().await;
    // The pool tests a connection before handing it out, and opens a new one.
    assert!(s.load(&k).await.expect("load after the kill").is_some());
    s.ping().await.expect("ping");

    s.close().await;
    let closed = s.load(&k).await;
    assert!(
        matches!(closed, Err(StoreError::Unavailable(_))),
        "{closed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_at_once_migrate_once_and_schemas_stay_apart() {
    let Some(url) = postgres_url() else { return };
    let (one, two) = (TempSchema::new(url), TempSchema::new(url));
    // Four nodes connect at once to a schema that does not exist yet.
    let nodes = tokio::join!(
        store(url, &one),
        store(url, &one),
        store(url, &one),
        store(url, &one)
    );
    let nodes = [nodes.0, nodes.1, nodes.2, nodes.3];
    let other = store(url, &two).await;
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(nodes[0].pool())
        .await
        .expect("count");
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .expect("migrations")
        .count();
    assert_eq!(usize::try_from(applied).expect("count"), files);

    let k = key();
    let now = SystemClock.now().unix();
    SessionStore::create(&nodes[1], &k, &record("erin", now))
        .await
        .expect("create");
    SessionStore::create(&other, &k, &record("frank", now))
        .await
        .expect("same key, other schema");
    assert_eq!(
        nodes[3]
            .load(&k)
            .await
            .expect("load")
            .expect("present")
            .user
            .id,
        "erin"
    );
    assert_eq!(
        other
            .load(&k)
            .await
            .expect("load")
            .expect("present")
            .user
            .id,
        "frank"
    );
}
