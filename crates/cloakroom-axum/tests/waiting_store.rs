//! A store that makes every lookup wait (as a database or Redis does): the layer starts the
//! lookup in `call`, finds it pending, and finishes it in the boxed path. The outcome must be
//! the same as with a store that answers at once: signed in, refused, and a dead cookie cleared.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cloakroom::auth::SessionManager;
use cloakroom::clock::Timestamp;
use cloakroom::session::{
    ClientInfo, SessionData, SessionHandle, SessionKey, SessionPolicy, SessionRecord, SessionStore,
    SessionUser,
};
use cloakroom::store::{MemoryStore, StoreError};
use cloakroom_axum::{ApiError, Auth, AuthLayer, CookieConfig, Sessions};
use http::{Request, StatusCode, header};
use tower::ServiceExt;

/// The memory store, but every `load` yields to the runtime first, so its first poll is
/// always pending; counts the loads.
#[derive(Debug)]
struct Waiting {
    inner: MemoryStore,
    loads: Arc<AtomicUsize>,
}

#[async_trait]
impl SessionStore for Waiting {
    async fn create(&self, key: &SessionKey, record: &SessionRecord) -> Result<(), StoreError> {
        self.inner.create(key, record).await
    }
    async fn load(&self, key: &SessionKey) -> Result<Option<SessionRecord>, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        tokio::task::yield_now().await;
        self.inner.load(key).await
    }
    async fn touch(
        &self,
        key: &SessionKey,
        at: Timestamp,
        idle: Timestamp,
    ) -> Result<bool, StoreError> {
        self.inner.touch(key, at, idle).await
    }
    async fn save_data(
        &self,
        key: &SessionKey,
        v: u64,
        d: &SessionData,
    ) -> Result<u64, StoreError> {
        self.inner.save_data(key, v, d).await
    }
    async fn delete(&self, key: &SessionKey) -> Result<bool, StoreError> {
        self.inner.delete(key).await
    }
    async fn delete_by_handle(&self, user: &str, h: &SessionHandle) -> Result<bool, StoreError> {
        self.inner.delete_by_handle(user, h).await
    }
    async fn delete_user(&self, user: &str) -> Result<u64, StoreError> {
        self.inner.delete_user(user).await
    }
    async fn list_user(&self, user: &str) -> Result<Vec<(SessionKey, SessionRecord)>, StoreError> {
        self.inner.list_user(user).await
    }
    async fn count_active(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.inner.count_active(now).await
    }
    async fn purge_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.inner.purge_expired(now).await
    }
}

async fn login(sessions: Sessions) -> Result<Response, ApiError> {
    let cookie = sessions
        .login(SessionUser::new("u1", "alice"), ClientInfo::default())
        .await?;
    Ok((cookie, "ok").into_response())
}

async fn logout(sessions: Sessions) -> Result<Response, ApiError> {
    Ok((sessions.logout().await?, StatusCode::NO_CONTENT).into_response())
}

async fn send(app: &Router, req: http::request::Builder) -> Response {
    app.clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_lookup_that_waits_ends_as_one_that_does_not() {
    let loads = Arc::new(AtomicUsize::new(0));
    let store = Waiting {
        inner: MemoryStore::new(100),
        loads: loads.clone(),
    };
    let manager = SessionManager::new(store, SessionPolicy::default());
    let app = Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/me", get(|Auth(p): Auth| async move { p.username }))
        .layer(AuthLayer::new(manager, CookieConfig::new("sid")));

    let res = send(&app, Request::post("/login")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let set = res.headers()[header::SET_COOKIE].to_str().unwrap();
    let cookie = set.split(';').next().unwrap().to_owned();

    let before = loads.load(Ordering::SeqCst);
    let res = send(&app, Request::get("/me").header(header::COOKIE, &cookie)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        loads.load(Ordering::SeqCst),
        before + 1,
        "one lookup, not two"
    );

    let res = send(
        &app,
        Request::post("/logout").header(header::COOKIE, &cookie),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = send(&app, Request::get("/me").header(header::COOKIE, &cookie)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let cleared = res.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cleared.starts_with("sid=;"),
        "the dead cookie is cleared: {cleared}"
    );
}
