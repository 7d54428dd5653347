//! Found by schemathesis: signing out everywhere twice within one second. A token issued
//! between the two (its `iat` raised to the first cut-off so that it works) must not survive
//! the second, in either token mode.

mod common;

use cloakroom_server::settings::Mode;
use common::{Server, settings_in};
use reqwest::StatusCode;

async fn logout_all(http: &common::Http, token: &str) {
    let res = http
        .with_bearer(http.post("/auth/logout-all"), token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_second_logout_all_in_the_same_second_refuses_the_token_between() {
    for mode in [Mode::Jwt, Mode::Hybrid] {
        let dir = tempfile::tempdir().unwrap();
        // The server's clock stands still: every step happens in the same second.
        let server = Server::start(settings_in(dir.path(), mode)).await;
        server.add_user("alice", &[]).await;
        let http = server.http();
        let first = http.login_tokens("alice").await.access;
        logout_all(&http, &first).await;
        let between = http.login_tokens("alice").await.access;
        assert_eq!(http.me_bearer_status(&between).await, StatusCode::OK);
        logout_all(&http, &between).await;
        assert_eq!(
            http.me_bearer_status(&between).await,
            StatusCode::UNAUTHORIZED,
            "{mode:?}: the token survived logout-all"
        );
        // And signing in afterwards still works.
        let after = http.login_tokens("alice").await.access;
        assert_eq!(
            http.me_bearer_status(&after).await,
            StatusCode::OK,
            "{mode:?}"
        );
        server.stop().await;
    }
}
