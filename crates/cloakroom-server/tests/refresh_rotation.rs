//! Refresh rotation over HTTP (issue 12, items 5 and 6): honest races get the same successor,
//! replays after the reuse interval are caught, and refreshing and revoking have rates.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use cloakroom_axum::routes::rate_limit::{REFRESH_PER_SESSION, REVOKE_PER_CLIENT, REVOKE_PER_USER};
use cloakroom_server::settings::Mode;
use common::{Server, Tokens, expect_error, settings_in};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, RETRY_AFTER, SET_COOKIE};

async fn hybrid_server(dir: &std::path::Path) -> Server {
    Server::start(settings_in(dir, Mode::Hybrid)).await
}

/// Sixteen refreshes of one token at once (tabs, a server-side render and its browser): all
/// 200, all with the same new refresh token, one live session. Before the reuse interval, 15
/// of them were 401 `refresh_token_reused` and the session was gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_concurrent_refreshes_all_get_the_same_successor() {
    let dir = tempfile::tempdir().unwrap();
    let server = hybrid_server(dir.path()).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let first = http.login_tokens("alice").await;

    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (http, token) = (http.clone(), first.refresh().to_owned());
            tokio::spawn(async move { http.refresh_response(&token).await })
        })
        .collect();
    let mut successors = HashSet::new();
    let mut access = Vec::new();
    for t in tasks {
        let res = t.await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "an honest race is not reuse");
        let pair = Tokens::from_response(res).await;
        successors.insert(pair.refresh().to_owned());
        access.push(pair.access);
    }
    assert_eq!(successors.len(), 1, "one successor for all sixteen");
    assert_ne!(successors.iter().next().unwrap(), first.refresh());
    for token in &access {
        assert_eq!(http.me_bearer_status(token).await, StatusCode::OK);
    }
    let sessions = http
        .with_bearer(http.get("/auth/sessions"), &access[0])
        .send()
        .await
        .unwrap();
    let sessions: serde_json::Value = sessions.json().await.unwrap();
    assert_eq!(sessions.as_array().map(Vec::len), Some(1), "{sessions}");
    // The successor refreshes as usual.
    let next = successors.into_iter().next().unwrap();
    assert_eq!(http.refresh_response(&next).await.status(), StatusCode::OK);
}

/// After the reuse interval (5 s by default), the spent token again is reuse: 401
/// `refresh_token_reused`, and the session with every access token of it is revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_after_the_interval_is_reuse_and_revokes_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let server = hybrid_server(dir.path()).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let first = http.login_tokens("alice").await;
    let second = Tokens::from_response(http.refresh_response(first.refresh()).await).await;
    // Within the interval the same successor comes back...
    server.clock.advance(Duration::from_secs(4));
    let again = Tokens::from_response(http.refresh_response(first.refresh()).await).await;
    assert_eq!(again.refresh(), second.refresh());
    // ...after it, the spent token is a copy.
    server.clock.advance(Duration::from_secs(1));
    let res = http.refresh_response(first.refresh()).await;
    expect_error(res, StatusCode::UNAUTHORIZED, Some("refresh_token_reused")).await;
    for token in [&second.access, &again.access] {
        assert_eq!(http.me_bearer_status(token).await, StatusCode::UNAUTHORIZED);
    }
    let res = http.refresh_response(second.refresh()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

/// A token older than the last one spent is reuse at once, within the interval or not: only
/// the immediately previous token is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_token_is_reuse_even_within_the_interval() {
    let dir = tempfile::tempdir().unwrap();
    let server = hybrid_server(dir.path()).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let first = http.login_tokens("alice").await;
    let second = Tokens::from_response(http.refresh_response(first.refresh()).await).await;
    let third = Tokens::from_response(http.refresh_response(second.refresh()).await).await;
    let res = http.refresh_response(first.refresh()).await;
    expect_error(res, StatusCode::UNAUTHORIZED, Some("refresh_token_reused")).await;
    assert_eq!(
        http.refresh_response(third.refresh()).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

/// Two top-level navigations to `/auth/refresh/browser` with one cookie at once (two tabs, or
/// another site opening two): both go back to their page with the same new cookie; neither is
/// sent to the sign-in page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browser_refreshes_at_once_both_stay_signed_in() {
    let dir = tempfile::tempdir().unwrap();
    let server = hybrid_server(dir.path()).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let first = http.login_tokens("alice").await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let navigate = || {
        browser
            .get(format!("{}/auth/refresh/browser?next=/account", server.url))
            .header("sec-fetch-mode", "navigate")
            .header(COOKIE, format!("cloakroom_refresh={}", first.refresh()))
            .send()
    };
    let (a, b) = tokio::join!(navigate(), navigate());
    let mut cookies = HashSet::new();
    for res in [a.unwrap(), b.unwrap()] {
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()[LOCATION], "/account");
        let refresh = res
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("cloakroom_refresh="))
            .map(|v| v.split(';').next().unwrap().to_owned())
            .expect("a new refresh cookie");
        cookies.insert(refresh);
    }
    assert_eq!(cookies.len(), 1, "{cookies:?}");
}

/// One session refreshing in a loop gets its burst, then 429 `too_many_requests` with
/// `Retry-After`, and its session is left alone (storage does not grow with it either: see
/// `crates/cloakroom/tests/refresh_storage.rs`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_flood_gets_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let server = hybrid_server(dir.path()).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let mut current = http.login_tokens("alice").await;
    let mut ok = 0;
    let limited = loop {
        let res = http.refresh_response(current.refresh()).await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            break res;
        }
        assert_eq!(res.status(), StatusCode::OK);
        current = Tokens::from_response(res).await;
        ok += 1;
        assert!(ok <= 10 * REFRESH_PER_SESSION.burst, "never limited");
    };
    assert!(
        ok >= REFRESH_PER_SESSION.burst,
        "the burst is allowed: {ok}"
    );
    let wait: u64 = limited.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    expect_error(
        limited,
        StatusCode::TOO_MANY_REQUESTS,
        Some("too_many_requests"),
    )
    .await;
    // Limited is not revoked: the access token still works.
    assert_eq!(http.me_bearer_status(&current.access).await, StatusCode::OK);
}

/// `/auth/revoke` past the client's rate: 429, so a stream of revocations cannot grow the
/// deny-list on every node without bound. Garbage tokens count too (each costs a verification).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_flood_gets_429() {
    let dir = tempfile::tempdir().unwrap();
    let server = hybrid_server(dir.path()).await;
    let http = server.http();
    let mut statuses = Vec::new();
    for _ in 0..=REVOKE_PER_CLIENT.burst {
        let res = http
            .post("/auth/revoke")
            .form(&[("token", "not-a-token")])
            .send()
            .await
            .unwrap();
        statuses.push(res.status());
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(res.headers().contains_key(RETRY_AFTER));
            expect_error(
                res,
                StatusCode::TOO_MANY_REQUESTS,
                Some("too_many_requests"),
            )
            .await;
            break;
        }
    }
    assert_eq!(
        statuses.last(),
        Some(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert!(statuses.len() > REVOKE_PER_CLIENT.burst as usize / 2);
}

/// Revocations of one user's tokens have a rate of their own, whatever address they come from:
/// what bounds the deny-list entries one user can add.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_one_users_tokens_has_a_rate() {
    let dir = tempfile::tempdir().unwrap();
    let server = hybrid_server(dir.path()).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    // Distinct valid access tokens (a revoked one no longer counts as the user's).
    let mut current = http.login_tokens("alice").await;
    let mut access = vec![current.access.clone()];
    for _ in 0..REVOKE_PER_USER.burst {
        current = Tokens::from_response(http.refresh_response(current.refresh()).await).await;
        access.push(current.access.clone());
    }
    let mut last = StatusCode::OK;
    for token in &access {
        last = http
            .post("/auth/revoke")
            .form(&[("token", token.as_str())])
            .send()
            .await
            .unwrap()
            .status();
        if last == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        assert_eq!(last, StatusCode::OK);
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

/// The browser's refresh past the session's rate: an HTML 429 page with `Retry-After`, and the
/// cookies are kept (the session is fine; the browser is refreshing too often).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_refresh_flood_gets_a_429_page_and_keeps_its_cookies() {
    let dir = tempfile::tempdir().unwrap();
    let server = hybrid_server(dir.path()).await;
    server.add_user("alice", &[]).await;
    let http = server.http();
    let mut cookie = http.login_tokens("alice").await.refresh().to_owned();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut ok = 0;
    let limited = loop {
        let res = browser
            .get(format!("{}/auth/refresh/browser?next=/account", server.url))
            .header("sec-fetch-mode", "navigate")
            .header(COOKIE, format!("cloakroom_refresh={cookie}"))
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            break res;
        }
        assert_eq!(res.headers()[LOCATION], "/account");
        cookie = res
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("cloakroom_refresh="))
            .and_then(|v| v.split(';').next())
            .expect("a new refresh cookie")
            .to_owned();
        ok += 1;
        assert!(ok <= 10 * REFRESH_PER_SESSION.burst, "never limited");
    };
    assert!(ok >= REFRESH_PER_SESSION.burst, "{ok}");
    assert!(limited.headers().contains_key(RETRY_AFTER));
    assert!(limited.headers().get(SET_COOKIE).is_none(), "cookies kept");
    let content_type = limited.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
}
