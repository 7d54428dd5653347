//! The facade's lifecycle properties, through its public API: a change to a user ends every
//! credential issued before or during it, whatever the interleaving with a sign-in in flight;
//! every password check is throttled; revoking checks ownership first.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cloakroom::auth::{AuthError, AuthMethod};
use cloakroom::authority::{Accounts, Authority, Credential, Flow, SignInError};
use cloakroom::clock::SystemClock;
use cloakroom::revocation::{MemoryRevocationStore, Revocations};
use cloakroom::session::{ClientInfo, SessionPolicy};
use cloakroom::store::{MemoryStore, StoreError};
use cloakroom::throttle::{MemoryThrottle, ThrottlePolicy};
use cloakroom::token::{
    KeyManager, KeyPolicy, MemoryKeyStore, TokenIssuer, TokenVerifier, Validation,
};
use cloakroom::token_auth::{HybridAuth, JwtAuth};
use cloakroom::user::{
    HashParams, MemoryUserStore, NewUser, Password, PasswordHash, PasswordHasher, PasswordPolicy,
    User, UserStore,
};
use tokio::sync::{Notify, Semaphore};

const PASSWORD: &str = "correct horse battery staple";

/// The real in-memory user store, with a gate after `by_username`: the test holds a sign-in
/// there, as argon2 would, while it changes the user.
#[derive(Debug)]
struct Gated {
    inner: MemoryUserStore,
    reached: Notify,
    gate: Semaphore,
    armed: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl UserStore for Gated {
    async fn create(&self, user: &NewUser) -> Result<User, StoreError> {
        self.inner.create(user).await
    }
    async fn by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        let found = self.inner.by_username(username).await;
        if self.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
            self.reached.notify_one();
            self.gate.acquire().await.unwrap().forget();
        }
        found
    }
    async fn by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.inner.by_id(id).await
    }
    async fn list(&self) -> Result<Vec<User>, StoreError> {
        self.inner.list().await
    }
    async fn remove(&self, id: &str) -> Result<bool, StoreError> {
        self.inner.remove(id).await
    }
    async fn set_password_hash(&self, id: &str, hash: &PasswordHash) -> Result<bool, StoreError> {
        self.inner.set_password_hash(id, hash).await
    }
    async fn set_disabled(&self, id: &str, disabled: bool) -> Result<bool, StoreError> {
        self.inner.set_disabled(id, disabled).await
    }
    async fn set_roles(&self, id: &str, roles: &[String]) -> Result<bool, StoreError> {
        self.inner.set_roles(id, roles).await
    }
}

fn gated() -> Arc<Gated> {
    Arc::new(Gated {
        inner: MemoryUserStore::new(),
        reached: Notify::new(),
        gate: Semaphore::new(0),
        armed: false.into(),
    })
}

async fn authority(method: AuthMethod, users: Arc<Gated>) -> Authority {
    let accounts = Accounts {
        users,
        hasher: PasswordHasher::new(HashParams::INSECURE_FAST_FOR_TESTS, 2).unwrap(),
        throttle: Arc::new(MemoryThrottle::new(ThrottlePolicy::default(), 10_000)),
        password_policy: PasswordPolicy::default(),
    };
    let policy =
        SessionPolicy::new(Duration::from_secs(1800), Duration::from_secs(86_400)).unwrap();
    let store = Arc::new(MemoryStore::new(1_000));
    let flow = if method == AuthMethod::Session {
        Flow::Session(cloakroom::auth::SessionManager::from_shared(store, policy))
    } else {
        let keys = KeyManager::open_system(Arc::new(MemoryKeyStore::new()), KeyPolicy::default())
            .await
            .unwrap();
        let revocations = Arc::new(
            Revocations::open(
                Arc::new(MemoryRevocationStore::new()),
                Arc::new(SystemClock),
            )
            .await
            .unwrap(),
        );
        let ttl = Duration::from_secs(900);
        let issuer = TokenIssuer::new(keys.ring().clone(), "https://a.test", "t", ttl);
        let verifier =
            TokenVerifier::new(keys.ring().clone(), Validation::new("https://a.test", "t"))
                .with_deny_list(revocations.deny_list().clone())
                .with_verified_cache(0);
        let leeway = Duration::from_secs(30);
        match method {
            AuthMethod::Jwt => Flow::Jwt {
                auth: JwtAuth::new(issuer, revocations, leeway),
                verifier,
            },
            _ => Flow::Hybrid {
                auth: HybridAuth::new(store, policy, issuer, revocations, leeway),
                verifier,
            },
        }
    };
    Authority::new(flow, accounts)
}

/// Whether the credential still authenticates.
async fn works(authority: &Authority, credential: &Credential) -> bool {
    match credential {
        Credential::Session { id, .. } => authority.authenticate_session(id).await.is_ok(),
        Credential::Access(token) => authority
            .verifier()
            .unwrap()
            .verify(token.token.expose_secret())
            .is_ok(),
        Credential::Pair(pair) => authority
            .verifier()
            .unwrap()
            .verify(pair.access.token.expose_secret())
            .is_ok(),
        _ => unreachable!(),
    }
}

const MODES: [AuthMethod; 3] = [AuthMethod::Session, AuthMethod::Jwt, AuthMethod::Hybrid];

/// A sign-in that read the user before an administrator's change, and issues its credential
/// after it, gets nothing that works: disable, password reset, new roles, removal, every mode.
#[tokio::test]
async fn a_sign_in_in_flight_during_a_change_to_the_user_yields_no_working_credential() {
    for method in MODES {
        for change in ["disable", "reset", "roles", "remove"] {
            let users = gated();
            let authority = authority(method, users.clone()).await;
            let password = Password::new(PASSWORD);
            authority.add_user("bhaskar", &[], &password).await.unwrap();
            users.armed.store(true, std::sync::atomic::Ordering::SeqCst);
            let signing_in = {
                let authority = authority.clone();
                tokio::spawn(async move {
                    authority
                        .sign_in("bhaskar", &Password::new(PASSWORD), ClientInfo::default())
                        .await
                })
            };
            users.reached.notified().await;
            match change {
                "disable" => authority.set_disabled("bhaskar", true).await.map(|_| ()),
                "reset" => authority
                    .reset_password("bhaskar", &Password::new("another fine password"))
                    .await
                    .map(|_| ()),
                "roles" => authority
                    .set_roles("bhaskar", &["admin".to_owned()])
                    .await
                    .map(|_| ()),
                _ => authority.remove_user("bhaskar").await.map(|_| ()),
            }
            .unwrap();
            users.gate.add_permits(1);
            let outcome = signing_in.await.unwrap();
            match outcome {
                Err(SignInError::InvalidCredentials) => {}
                Ok(signed_in) => {
                    assert!(
                        !works(&authority, &signed_in.credential).await,
                        "{method:?}/{change}: a credential issued during the change works"
                    );
                }
                Err(e) => panic!("{method:?}/{change}: {e}"),
            }
        }
    }
}

/// A credential issued before the change stops working once the change is acknowledged.
#[tokio::test]
async fn a_change_to_the_user_ends_what_was_issued_before_it() {
    for method in MODES {
        let authority = authority(method, gated()).await;
        let password = Password::new(PASSWORD);
        authority.add_user("bhaskar", &[], &password).await.unwrap();
        let signed_in = authority
            .sign_in("bhaskar", &password, ClientInfo::default())
            .await
            .unwrap();
        assert!(works(&authority, &signed_in.credential).await);
        authority
            .set_roles("bhaskar", &["ops".to_owned()])
            .await
            .unwrap();
        assert!(
            !works(&authority, &signed_in.credential).await,
            "{method:?}"
        );
    }
}

/// Changing one's own password checks the current one through the sign-in throttle: five
/// wrong guesses, and the right password is refused too, for that client.
#[tokio::test]
async fn the_current_password_check_is_throttled_like_sign_in() {
    let authority = authority(AuthMethod::Session, gated()).await;
    let password = Password::new(PASSWORD);
    authority.add_user("bhaskar", &[], &password).await.unwrap();
    let client = ClientInfo::new(None, Some("203.0.113.7".parse().unwrap()));
    let signed_in = authority
        .sign_in("bhaskar", &password, client.clone())
        .await
        .unwrap();
    let Credential::Session { id, .. } = &signed_in.credential else {
        unreachable!()
    };
    let me = authority.authenticate_session(id).await.unwrap();
    let new = Password::new("a brand new password");
    for _ in 0..5 {
        let wrong = authority
            .change_password(
                &me,
                &Password::new("guess guess guess"),
                &new,
                client.clone(),
            )
            .await;
        assert!(wrong.is_err());
    }
    let locked = authority
        .change_password(&me, &password, &new, client.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(
            locked,
            cloakroom::authority::AccountError::CurrentPassword(
                SignInError::TooManyAttempts { .. }
            )
        ),
        "{locked}"
    );
}

/// Revoking another user's session neither ends it nor puts it on the deny-list.
#[tokio::test]
async fn revoking_checks_ownership_before_anything_is_revoked() {
    let authority = authority(AuthMethod::Hybrid, gated()).await;
    let password = Password::new(PASSWORD);
    authority.add_user("alice", &[], &password).await.unwrap();
    let mallory = authority.add_user("mallory", &[], &password).await.unwrap();
    let alice = authority
        .sign_in("alice", &password, ClientInfo::default())
        .await
        .unwrap();
    let Credential::Pair(pair) = &alice.credential else {
        unreachable!()
    };
    let revoked = authority
        .revoke_session(&mallory.id, &pair.session.handle)
        .await
        .unwrap();
    assert!(!revoked);
    assert!(
        works(&authority, &alice.credential).await,
        "alice's token was deny-listed"
    );
    assert!(authority.refresh(&pair.refresh).await.is_ok());
}

/// A refresh that rotates while the user signs out everywhere gets no token that outlives it.
#[tokio::test]
async fn a_refresh_after_sign_out_everywhere_yields_nothing() {
    let authority = authority(AuthMethod::Hybrid, gated()).await;
    let password = Password::new(PASSWORD);
    let user = authority.add_user("bhaskar", &[], &password).await.unwrap();
    let signed_in = authority
        .sign_in("bhaskar", &password, ClientInfo::default())
        .await
        .unwrap();
    let Credential::Pair(pair) = &signed_in.credential else {
        unreachable!()
    };
    authority.sign_out_everywhere(&user.id).await.unwrap();
    assert!(matches!(
        authority.refresh(&pair.refresh).await,
        Err(AuthError::UnknownSession | AuthError::RefreshReused)
    ));
    assert!(!works(&authority, &signed_in.credential).await);
}

/// A signed-out token stays refused for as long as it can verify, leeway included: its
/// deny-list entry is not purged at `exp` (issue 12, item 3).
#[tokio::test]
async fn a_signed_out_token_stays_refused_through_the_leeway() {
    use cloakroom::clock::{ManualClock, Timestamp};
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix(1_800_000_000)));
    let keys = KeyManager::open(
        Arc::new(MemoryKeyStore::new()),
        KeyPolicy::default(),
        clock.clone(),
    )
    .await
    .unwrap();
    let revocations = Arc::new(
        Revocations::open(Arc::new(MemoryRevocationStore::new()), clock.clone())
            .await
            .unwrap(),
    );
    let leeway = Duration::from_secs(60);
    let issuer = TokenIssuer::new(
        keys.ring().clone(),
        "https://a.test",
        "t",
        Duration::from_secs(2),
    )
    .with_clock(clock.clone());
    let verifier = TokenVerifier::new(
        keys.ring().clone(),
        Validation::new("https://a.test", "t").with_leeway(leeway),
    )
    .with_deny_list(revocations.deny_list().clone())
    .with_clock(clock.clone())
    .with_verified_cache(0);
    let jwt = JwtAuth::new(issuer, revocations.clone(), leeway);
    let token = jwt
        .login(&cloakroom::session::SessionUser::new("1", "Bhaskar"))
        .unwrap();
    let text = token.token.expose_secret().to_owned();
    assert!(verifier.verify(&text).is_ok());
    jwt.revoke_access(&token.claims.jti, token.claims.exp)
        .await
        .unwrap();
    clock.advance(Duration::from_secs(5));
    revocations.purge_expired().await.unwrap();
    assert!(
        verifier.verify(&text).is_err(),
        "5 s after logout, past exp but inside the leeway, the token verifies again"
    );
    clock.advance(Duration::from_secs(60));
    revocations.purge_expired().await.unwrap();
    assert!(verifier.verify(&text).is_err(), "expired for good");
}
