//! Hybrid mode through the library: rotation, reuse detection, parallel refreshes, logout.

use std::sync::Arc;
use std::time::Duration;

use cloakroom::auth::{AuthError, AuthMethod, Principal};
use cloakroom::clock::{ManualClock, Timestamp};
use cloakroom::revocation::{MemoryRevocationStore, Revocations};
use cloakroom::session::{ClientInfo, SessionPolicy, SessionUser};
use cloakroom::store::MemoryStore;
use cloakroom::token::{
    KeyManager, KeyPolicy, MemoryKeyStore, TokenError, TokenIssuer, TokenVerifier, Validation,
};
use cloakroom::token_auth::{HybridAuth, JwtAuth, TokenPair};

const ISS: &str = "https://auth.example";
const AUD: &str = "cloakroom";
const LEEWAY: Duration = Duration::from_secs(30);

struct World {
    hybrid: HybridAuth,
    jwt: JwtAuth,
    verifier: TokenVerifier,
    clock: Arc<ManualClock>,
}

async fn world() -> World {
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix(1_800_000_000)));
    let keys = KeyManager::open(
        Arc::new(MemoryKeyStore::new()),
        KeyPolicy::default(),
        clock.clone(),
    )
    .await
    .unwrap();
    let issuer = TokenIssuer::new(keys.ring().clone(), ISS, AUD, Duration::from_secs(900))
        .with_clock(clock.clone());
    let revocations = Arc::new(
        Revocations::open(Arc::new(MemoryRevocationStore::new()), clock.clone())
            .await
            .unwrap(),
    );
    let verifier = TokenVerifier::new(keys.ring().clone(), Validation::new(ISS, AUD))
        .with_deny_list(revocations.deny_list().clone())
        .with_clock(clock.clone());
    let thirty_days = Duration::from_secs(30 * 86_400);
    let policy = SessionPolicy::new(thirty_days, thirty_days).unwrap();
    let hybrid = HybridAuth::new(
        Arc::new(MemoryStore::new(1000)),
        policy,
        issuer.clone(),
        revocations.clone(),
        LEEWAY,
    )
    .with_clock(clock.clone());
    let jwt = JwtAuth::new(issuer, revocations, LEEWAY);
    World {
        hybrid,
        jwt,
        verifier,
        clock,
    }
}

fn alice() -> SessionUser {
    SessionUser::new("u-alice", "alice").with_roles(["admin"])
}

impl World {
    async fn login(&self) -> TokenPair {
        self.hybrid
            .login(alice(), ClientInfo::default())
            .await
            .unwrap()
    }

    fn verify(&self, pair: &TokenPair) -> Result<Principal, TokenError> {
        let claims = self.verifier.verify(pair.access.token.expose_secret())?;
        Ok(Principal::from_claims(&claims, AuthMethod::Hybrid))
    }
}

#[tokio::test]
async fn login_gives_a_pair_bound_to_the_session() {
    let w = world().await;
    let pair = w.login().await;
    let p = w.verify(&pair).unwrap();
    assert_eq!(p.session, pair.session.handle);
    assert_eq!(p.username, "alice");
    assert_eq!(w.hybrid.sessions().list("u-alice").await.unwrap().len(), 1);
}

#[tokio::test]
async fn refresh_rotates_and_the_old_token_is_spent() {
    let w = world().await;
    let first = w.login().await;
    w.clock.advance(Duration::from_secs(600));
    let second = w.hybrid.refresh(&first.refresh).await.unwrap();
    assert_ne!(second.refresh, first.refresh);
    assert_eq!(second.session.handle, first.session.handle);
    assert!(w.verify(&second).is_ok());
    let third = w.hybrid.refresh(&second.refresh).await.unwrap();
    assert!(w.verify(&third).is_ok());
}

#[tokio::test]
async fn reuse_of_a_spent_refresh_token_revokes_the_session_and_its_access_tokens() {
    let w = world().await;
    let first = w.login().await;
    let second = w.hybrid.refresh(&first.refresh).await.unwrap();
    // The thief replays the stolen first refresh token, after the reuse interval.
    w.clock.advance(cloakroom::session::DEFAULT_REUSE_INTERVAL);
    assert!(matches!(
        w.hybrid.refresh(&first.refresh).await,
        Err(AuthError::RefreshReused)
    ));
    // Every access token of the session stops working at once, not at its expiry...
    for pair in [&first, &second] {
        assert!(matches!(w.verify(pair), Err(TokenError::Revoked(_))));
    }
    // ...and the legitimate client's current refresh token is dead too.
    assert!(w.hybrid.refresh(&second.refresh).await.is_err());
    assert!(
        w.hybrid
            .sessions()
            .list("u-alice")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn sixteen_parallel_refreshes_share_one_successor_and_one_live_branch() {
    let w = world().await;
    let pair = w.login().await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let hybrid = w.hybrid.clone();
        let refresh = pair.refresh.clone();
        tasks.push(tokio::spawn(async move { hybrid.refresh(&refresh).await }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        winners.push(t.await.unwrap().expect("an honest race is not reuse"));
    }
    assert!(winners.iter().all(|p| p.refresh == winners[0].refresh));
    assert!(winners.iter().all(|p| w.verify(p).is_ok()));
    assert_eq!(w.hybrid.sessions().list("u-alice").await.unwrap().len(), 1);
    // The shared successor refreshes; after that the first token is reuse, even in the
    // interval, and ends the session.
    let next = w.hybrid.refresh(&winners[0].refresh).await.unwrap();
    assert!(matches!(
        w.hybrid.refresh(&pair.refresh).await,
        Err(AuthError::RefreshReused)
    ));
    assert!(w.verify(&next).is_err());
}

#[tokio::test]
async fn without_a_reuse_interval_parallel_refreshes_leave_at_most_one_live_branch() {
    let mut w = world().await;
    w.hybrid = w.hybrid.clone().with_reuse_interval(Duration::ZERO);
    let pair = w.login().await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let hybrid = w.hybrid.clone();
        let refresh = pair.refresh.clone();
        tasks.push(tokio::spawn(async move { hybrid.refresh(&refresh).await }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        if let Ok(p) = t.await.unwrap() {
            winners.push(p);
        }
    }
    assert!(winners.len() <= 1, "{} refreshes succeeded", winners.len());
    let live = w.hybrid.sessions().list("u-alice").await.unwrap();
    assert!(live.len() <= 1);
}

#[tokio::test]
async fn logout_revokes_the_access_token_at_once() {
    let w = world().await;
    let pair = w.login().await;
    let principal = w.verify(&pair).unwrap();
    w.hybrid.logout(&principal).await.unwrap();
    assert!(matches!(w.verify(&pair), Err(TokenError::Revoked(_))));
    assert!(matches!(
        w.hybrid.refresh(&pair.refresh).await,
        Err(AuthError::UnknownSession)
    ));
}

#[tokio::test]
async fn logout_all_ends_every_session_and_a_new_login_works_at_once() {
    let w = world().await;
    let a = w.login().await;
    let b = w.login().await;
    w.hybrid.logout_all("u-alice").await.unwrap();
    for pair in [&a, &b] {
        assert!(w.verify(pair).is_err());
        assert!(w.hybrid.refresh(&pair.refresh).await.is_err());
    }
    // Same second: the new sign-in must not be caught by the cut.
    let again = w.login().await;
    assert!(w.verify(&again).is_ok());
}

#[tokio::test]
async fn a_second_logout_all_in_the_same_second_catches_what_was_issued_after_the_first() {
    let w = world().await;
    w.hybrid.logout_all("u-alice").await.unwrap();
    // Signed in again within the second: the token is dated at the first cut.
    let between = w.login().await;
    assert!(w.verify(&between).is_ok());
    // A second cut in the same second must still refuse it (it once did not: same cut).
    w.hybrid.logout_all("u-alice").await.unwrap();
    assert!(w.verify(&between).is_err());
    let after = w.login().await;
    assert!(w.verify(&after).is_ok());
    // The same in jwt mode.
    let token = w.jwt.login(&alice()).unwrap();
    w.jwt.logout_all("u-alice").await.unwrap();
    assert!(w.verifier.verify(token.token.expose_secret()).is_err());
}

#[tokio::test]
async fn refresh_tokens_end_with_their_session() {
    let w = world().await;
    let pair = w.login().await;
    w.clock.advance(Duration::from_secs(30 * 86_400 + 1));
    assert!(w.hybrid.refresh(&pair.refresh).await.is_err());
}

#[tokio::test]
async fn jwt_mode_logout_revokes_one_token_and_logout_all_every_token() {
    let w = world().await;
    let one = w.jwt.login(&alice()).unwrap();
    let two = w.jwt.login(&alice()).unwrap();
    let p1 = Principal::from_claims(
        &w.verifier.verify(one.token.expose_secret()).unwrap(),
        AuthMethod::Jwt,
    );
    w.jwt.logout(&p1).await.unwrap();
    assert!(w.verifier.verify(one.token.expose_secret()).is_err());
    assert!(w.verifier.verify(two.token.expose_secret()).is_ok());
    w.jwt.logout_all("u-alice").await.unwrap();
    assert!(w.verifier.verify(two.token.expose_secret()).is_err());
    let three = w.jwt.login(&alice()).unwrap();
    assert!(w.verifier.verify(three.token.expose_secret()).is_ok());
}
