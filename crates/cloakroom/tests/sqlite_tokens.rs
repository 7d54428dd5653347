//! The token modes on SQLite: keys, revocations and spent refresh tokens survive closing and
//! reopening the file, as they must survive a restart of the server.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cloakroom::auth::AuthError;
use cloakroom::clock::{Clock as _, ManualClock, Timestamp};
use cloakroom::revocation::{Revocation, Revocations};
use cloakroom::session::{ClientInfo, SessionPolicy, SessionUser};
use cloakroom::store::SqliteStore;
use cloakroom::token::{
    Algorithm, KeyManager, KeyPolicy, TokenError, TokenIssuer, TokenSubject, TokenVerifier,
    Validation,
};
use cloakroom::token_auth::HybridAuth;

const ISS: &str = "https://auth.example";
const AUD: &str = "cloakroom";
const TTL: Duration = Duration::from_secs(900);

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Timestamp::from_unix(1_800_000_000)))
}

async fn keys(store: &SqliteStore, clock: &Arc<ManualClock>, algorithm: Algorithm) -> KeyManager {
    let policy = KeyPolicy {
        algorithm,
        max_token_ttl: TTL,
        ..KeyPolicy::default()
    };
    KeyManager::open(Arc::new(store.clone()), policy, clock.clone())
        .await
        .unwrap()
}

fn verifier(keys: &KeyManager, clock: &Arc<ManualClock>) -> TokenVerifier {
    TokenVerifier::new(keys.ring().clone(), Validation::new(ISS, AUD)).with_clock(clock.clone())
}

fn subject() -> TokenSubject {
    TokenSubject {
        user_id: "u1".into(),
        name: "alice".into(),
        roles: vec![],
        session: "AAAAAAAAAAAAAAAAAAAAAA".into(),
    }
}

async fn reopen(store: SqliteStore, path: &Path) -> SqliteStore {
    store.close().await;
    SqliteStore::open(path).await.unwrap()
}

#[tokio::test]
async fn keys_survive_reopening_the_file_and_rotation_keeps_old_tokens_valid() {
    for algorithm in [Algorithm::EdDSA, Algorithm::Hs256, Algorithm::Es256] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let clock = clock();
        let store = SqliteStore::open(&path).await.unwrap();
        let first = keys(&store, &clock, algorithm).await;
        let issuer =
            TokenIssuer::new(first.ring().clone(), ISS, AUD, TTL).with_clock(clock.clone());
        let before = issuer.issue(&subject()).unwrap();
        let kid = first.ring().snapshot().active().kid().clone();

        let store = reopen(store, &path).await;
        let again = keys(&store, &clock, algorithm).await;
        assert_eq!(again.ring().snapshot().active().kid(), &kid, "{algorithm}");
        let claims = verifier(&again, &clock)
            .verify(before.token.expose_secret())
            .unwrap();
        assert_eq!(claims.sub, "u1");

        let rotated = again.rotate().await.unwrap();
        let store = reopen(store, &path).await;
        let third = keys(&store, &clock, algorithm).await;
        assert_eq!(third.ring().snapshot().active().kid(), &rotated);
        assert_eq!(third.list().await.unwrap().len(), 2);
        assert!(
            verifier(&third, &clock)
                .verify(before.token.expose_secret())
                .is_ok()
        );
        // Once every token of the old key has expired, the key retires, and stays retired.
        clock.advance(TTL + Duration::from_secs(31));
        third.maintain().await.unwrap();
        let store = reopen(store, &path).await;
        let fourth = keys(&store, &clock, algorithm).await;
        assert_eq!(fourth.ring().snapshot().len(), 1);
        assert!(matches!(
            verifier(&fourth, &clock).verify(before.token.expose_secret()),
            Err(TokenError::UnknownKid)
        ));
        store.close().await;
    }
}

#[tokio::test]
async fn revocations_survive_reopening_the_file_until_they_expire() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let clock = clock();
    let now = clock.now();
    let store = SqliteStore::open(&path).await.unwrap();
    let revocations = Revocations::open(Arc::new(store.clone()), clock.clone())
        .await
        .unwrap();
    let soon = now.saturating_add(Duration::from_secs(60));
    let later = now.saturating_add(Duration::from_secs(600));
    revocations
        .revoke(Revocation::token("jti-1", soon))
        .await
        .unwrap();
    revocations
        .revoke(Revocation::session("sid-1", later))
        .await
        .unwrap();
    revocations
        .revoke(Revocation::user("u1", now, later))
        .await
        .unwrap();

    let store = reopen(store, &path).await;
    let again = Revocations::open(Arc::new(store.clone()), clock.clone())
        .await
        .unwrap();
    let deny = again.deny_list();
    assert!(deny.is_token_revoked("jti-1"));
    assert!(deny.is_session_revoked("sid-1"));
    assert_eq!(deny.user_not_before("u1"), Some(now));

    clock.advance(Duration::from_secs(61));
    assert_eq!(again.purge_expired().await.unwrap(), 1);
    let store = reopen(store, &path).await;
    let third = Revocations::open(Arc::new(store.clone()), clock.clone())
        .await
        .unwrap();
    assert!(!third.deny_list().is_token_revoked("jti-1"));
    assert!(third.deny_list().is_session_revoked("sid-1"));
    store.close().await;
}

#[tokio::test]
async fn a_stolen_refresh_token_replayed_after_a_restart_is_still_caught() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let clock = clock();
    let thirty_days = Duration::from_secs(30 * 86_400);
    let policy = SessionPolicy::new(thirty_days, thirty_days).unwrap();
    let hybrid = |store: &SqliteStore, keys: &KeyManager, revocations: Arc<Revocations>| {
        let issuer = TokenIssuer::new(keys.ring().clone(), ISS, AUD, TTL).with_clock(clock.clone());
        HybridAuth::new(
            Arc::new(store.clone()),
            policy,
            issuer,
            revocations,
            Duration::from_secs(30),
        )
        .with_clock(clock.clone())
    };
    let store = SqliteStore::open(&path).await.unwrap();
    let k = keys(&store, &clock, Algorithm::EdDSA).await;
    let revocations = Arc::new(
        Revocations::open(Arc::new(store.clone()), clock.clone())
            .await
            .unwrap(),
    );
    let h = hybrid(&store, &k, revocations);
    let user = SessionUser::new("u1", "alice");
    let first = h.login(user, ClientInfo::default()).await.unwrap();
    let second = h.refresh(&first.refresh).await.unwrap();
    drop(h);

    let store = reopen(store, &path).await;
    let k = keys(&store, &clock, Algorithm::EdDSA).await;
    let revocations = Arc::new(
        Revocations::open(Arc::new(store.clone()), clock.clone())
            .await
            .unwrap(),
    );
    let v = verifier(&k, &clock).with_deny_list(revocations.deny_list().clone());
    let h = hybrid(&store, &k, revocations);
    assert!(v.verify(second.access.token.expose_secret()).is_ok());
    // Replayed after the reuse interval: a copy.
    clock.advance(cloakroom::session::DEFAULT_REUSE_INTERVAL);
    assert!(matches!(
        h.refresh(&first.refresh).await,
        Err(AuthError::RefreshReused)
    ));
    assert!(matches!(
        v.verify(second.access.token.expose_secret()),
        Err(TokenError::Revoked(_))
    ));
    assert!(h.refresh(&second.refresh).await.is_err());

    // The revocation itself outlives another restart.
    let store = reopen(store, &path).await;
    let revocations = Revocations::open(Arc::new(store.clone()), clock.clone())
        .await
        .unwrap();
    assert!(
        revocations
            .deny_list()
            .is_session_revoked(second.session.handle.as_str())
    );
    store.close().await;
}
