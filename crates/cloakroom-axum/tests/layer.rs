//! The layer and extractors, driven through an axum router.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cloakroom::auth::SessionManager;
use cloakroom::clock::{ManualClock, Timestamp};
use cloakroom::session::{ClientInfo, SessionPolicy, SessionUser};
use cloakroom::store::MemoryStore;
use cloakroom_axum::{ApiError, Auth, AuthLayer, CookieConfig, CurrentSession, Sessions};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

struct Harness {
    app: Router,
    clock: ManualClock,
    manager: SessionManager,
}

fn harness(policy: SessionPolicy) -> Harness {
    let clock = ManualClock::new(Timestamp::from_unix(1_800_000_000));
    let manager =
        SessionManager::new(MemoryStore::new(1000), policy).with_clock(Arc::new(clock.clone()));
    let app = Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/me", get(me))
        .route("/change", post(me))
        .route("/count", post(count))
        .layer(AuthLayer::new(manager.clone(), CookieConfig::new("sid")));
    Harness {
        app,
        clock,
        manager,
    }
}

async fn login(sessions: Sessions) -> Result<Response, ApiError> {
    let cookie = sessions
        .login(
            SessionUser::new("u1", "alice").with_roles(["admin"]),
            ClientInfo::default(),
        )
        .await?;
    Ok((cookie, "ok").into_response())
}

async fn logout(sessions: Sessions) -> Result<Response, ApiError> {
    Ok((sessions.logout().await?, StatusCode::NO_CONTENT).into_response())
}

async fn me(Auth(p): Auth) -> Json<Value> {
    Json(json!({"user": p.username, "roles": p.roles, "session": p.session}))
}

async fn count(session: CurrentSession) -> Result<Json<u64>, ApiError> {
    let n = session
        .update(|data| {
            let n = data.get::<u64>("n")?.unwrap_or(0) + 1;
            data.insert("n", n)?;
            Ok(n)
        })
        .await?;
    Ok(Json(n))
}

impl Harness {
    async fn send(&self, req: Request<Body>) -> Response {
        self.app.clone().oneshot(req).await.unwrap()
    }

    async fn login(&self, cookie: Option<&str>) -> String {
        let mut req = Request::post("/login");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        let res = self.send(req.body(Body::empty()).unwrap()).await;
        assert_eq!(res.status(), StatusCode::OK);
        cookie_pair(&res)
    }

    async fn get_me(&self, cookie: &str) -> Response {
        self.send(
            Request::get("/me")
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }
}

fn cookie_pair(res: &Response) -> String {
    let set = res.headers()[header::SET_COOKIE].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

async fn json_body(res: Response) -> Value {
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn login_me_logout() {
    let h = harness(SessionPolicy::default());
    let c = h.login(None).await;
    let res = h.get_me(&c).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(json_body(res).await["user"], "alice");

    let res = h
        .send(
            Request::post("/logout")
                .header(header::COOKIE, &c)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(
        res.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(h.get_me(&c).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn no_cookie_gives_a_json_401() {
    let h = harness(SessionPolicy::default());
    let res = h
        .send(Request::get("/me").body(Body::empty()).unwrap())
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(json_body(res).await["error"], "unauthenticated");
}

#[tokio::test]
async fn a_planted_cookie_is_never_adopted() {
    let h = harness(SessionPolicy::default());
    // A syntactically valid ID the attacker chose, and a real session the attacker started.
    let planted = "sid=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let fresh = h.login(Some(planted)).await;
    assert_ne!(fresh, planted);
    assert_eq!(h.get_me(planted).await.status(), StatusCode::UNAUTHORIZED);

    let attackers = h.login(None).await;
    let victims = h.login(Some(&attackers)).await;
    assert_ne!(victims, attackers);
    assert_eq!(
        h.get_me(&attackers).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(h.get_me(&victims).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn malformed_cookies_are_401_and_cleared() {
    let h = harness(SessionPolicy::default());
    for bad in [
        "sid=",
        "sid=short",
        "sid=%00%00",
        "sid=\"quoted\"",
        "sid=====",
        "sid",
    ] {
        let res = h.get_me(bad).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{bad}");
        if bad.contains('=') {
            let set = res.headers()[header::SET_COOKIE].to_str().unwrap();
            assert!(set.contains("Max-Age=0"), "{bad}: {set}");
        }
    }
    let huge = format!("sid={}", "A".repeat(4000));
    assert_eq!(h.get_me(&huge).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cross_site_changes_with_a_cookie_are_refused() {
    let h = harness(SessionPolicy::default());
    let c = h.login(None).await;
    let post = |origin: Option<&'static str>, site: Option<&'static str>| {
        let mut req = Request::post("/change")
            .header(header::HOST, "auth.example")
            .header(header::COOKIE, &c);
        if let Some(o) = origin {
            req = req.header(header::ORIGIN, o);
        }
        if let Some(s) = site {
            req = req.header("sec-fetch-site", s);
        }
        req.body(Body::empty()).unwrap()
    };
    for (origin, site) in [
        (Some("https://evil.example"), None),
        (Some("null"), None),
        (None, Some("cross-site")),
        (Some("https://auth.example"), Some("cross-site")),
    ] {
        let res = h.send(post(origin, site)).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{origin:?} {site:?}");
        assert_eq!(json_body(res).await["error"], "cross_site_request");
    }
    for (origin, site) in [
        (Some("https://auth.example"), None),
        (None, Some("same-origin")),
        (None, None),
    ] {
        let res = h.send(post(origin, site)).await;
        assert_eq!(res.status(), StatusCode::OK, "{origin:?} {site:?}");
    }
    // Reading is not guarded: a cross-site GET changes nothing.
    let res = h
        .send(
            Request::get("/me")
                .header(header::COOKIE, &c)
                .header("sec-fetch-site", "cross-site")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn idle_timeout_ends_a_quiet_session_and_activity_extends_it() {
    let policy = SessionPolicy::new(Duration::from_secs(600), Duration::from_secs(3600)).unwrap();
    let h = harness(policy);
    let c = h.login(None).await;
    // Active every 5 minutes: stays alive past the idle timeout.
    for _ in 0..3 {
        h.clock.advance(Duration::from_secs(300));
        assert_eq!(h.get_me(&c).await.status(), StatusCode::OK);
    }
    h.clock.advance(Duration::from_secs(601));
    assert_eq!(h.get_me(&c).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        h.manager
            .store()
            .load(&cloakroom::session::SessionId::parse(&c[4..]).unwrap().key())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn absolute_timeout_ends_even_a_busy_session() {
    let policy = SessionPolicy::new(Duration::from_secs(600), Duration::from_secs(1800)).unwrap();
    let h = harness(policy);
    let c = h.login(None).await;
    for _ in 0..5 {
        h.clock.advance(Duration::from_secs(299));
        assert_eq!(h.get_me(&c).await.status(), StatusCode::OK);
    }
    h.clock.advance(Duration::from_secs(310)); // 1805 s since login, never idle for long
    assert_eq!(h.get_me(&c).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn concurrent_updates_of_one_session_lose_nothing() {
    let h = harness(SessionPolicy::default());
    let c = h.login(None).await;
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let app = h.app.clone();
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let req = Request::post("/count")
                .header(header::COOKIE, c)
                .body(Body::empty())
                .unwrap();
            app.oneshot(req).await.unwrap().status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    let res = h
        .send(
            Request::post("/count")
                .header(header::COOKIE, &c)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(json_body(res).await, json!(41));
}

/// A store whose backend is down: every call fails as unreachable.
#[derive(Debug)]
struct DownStore;

fn down() -> cloakroom::store::StoreError {
    cloakroom::store::StoreError::Unavailable("connection refused".into())
}

#[async_trait::async_trait]
impl cloakroom::session::SessionStore for DownStore {
    async fn create(
        &self,
        _: &cloakroom::session::SessionKey,
        _: &cloakroom::session::SessionRecord,
    ) -> Result<(), cloakroom::store::StoreError> {
        Err(down())
    }
    async fn load(
        &self,
        _: &cloakroom::session::SessionKey,
    ) -> Result<Option<cloakroom::session::SessionRecord>, cloakroom::store::StoreError> {
        Err(down())
    }
    async fn touch(
        &self,
        _: &cloakroom::session::SessionKey,
        _: Timestamp,
        _: Timestamp,
    ) -> Result<bool, cloakroom::store::StoreError> {
        Err(down())
    }
    async fn save_data(
        &self,
        _: &cloakroom::session::SessionKey,
        _: u64,
        _: &cloakroom::session::SessionData,
    ) -> Result<u64, cloakroom::store::StoreError> {
        Err(down())
    }
    async fn delete(
        &self,
        _: &cloakroom::session::SessionKey,
    ) -> Result<bool, cloakroom::store::StoreError> {
        Err(down())
    }
    async fn delete_by_handle(
        &self,
        _: &str,
        _: &cloakroom::session::SessionHandle,
    ) -> Result<bool, cloakroom::store::StoreError> {
        Err(down())
    }
    async fn delete_user(&self, _: &str) -> Result<u64, cloakroom::store::StoreError> {
        Err(down())
    }
    async fn list_user(
        &self,
        _: &str,
    ) -> Result<
        Vec<(
            cloakroom::session::SessionKey,
            cloakroom::session::SessionRecord,
        )>,
        cloakroom::store::StoreError,
    > {
        Err(down())
    }
    async fn count_active(&self, _: Timestamp) -> Result<u64, cloakroom::store::StoreError> {
        Err(down())
    }
    async fn purge_expired(&self, _: Timestamp) -> Result<u64, cloakroom::store::StoreError> {
        Err(down())
    }
}

#[tokio::test]
async fn a_store_that_is_down_fails_closed_with_503() {
    let manager = SessionManager::new(DownStore, SessionPolicy::default());
    let app = Router::new()
        .route("/me", get(me))
        .route("/login", post(login))
        .layer(AuthLayer::new(manager, CookieConfig::new("sid")));
    let req = Request::get("/me")
        .header(
            header::COOKIE,
            "sid=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json_body(res).await["error"], "store_unavailable");
    let res = app
        .oneshot(Request::post("/login").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
}
