//! The token modes across restarts on SQLite: the keys are the same, so tokens issued before
//! still verify; revocations are kept, so a revoked token stays revoked.

mod common;

use std::time::Duration;

use cloakroom::clock::ManualClock;
use cloakroom_server::settings::Mode;
use common::{Server, jwt_header, settings_in};
use reqwest::StatusCode;

#[tokio::test]
async fn keys_survive_a_restart_and_earlier_tokens_still_verify() {
    for mode in [Mode::Jwt, Mode::Hybrid] {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::starting_now();
        let server = Server::start_with_clock(settings_in(dir.path(), mode), clock.clone()).await;
        server.add_user("alice", &[]).await;
        let http = server.http();
        let before = http.login_tokens("alice").await;
        let jwks_before = http
            .get("/.well-known/jwks.json")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        server.stop().await;

        clock.advance(Duration::from_secs(60));
        let server = Server::start_with_clock(settings_in(dir.path(), mode), clock).await;
        let http = server.http();
        assert_eq!(
            http.me_bearer_status(&before.access).await,
            StatusCode::OK,
            "{mode:?}"
        );
        let after = http.login_tokens("alice").await;
        assert_eq!(
            jwt_header(&after.access)["kid"],
            jwt_header(&before.access)["kid"]
        );
        let jwks_after = http
            .get("/.well-known/jwks.json")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(jwks_after, jwks_before);
        if mode == Mode::Hybrid {
            let res = http.refresh_response(before.refresh()).await;
            assert_eq!(res.status(), StatusCode::OK, "refresh sessions survive too");
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn a_revoked_access_token_stays_revoked_after_a_restart() {
    for mode in [Mode::Jwt, Mode::Hybrid] {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::starting_now();
        let server = Server::start_with_clock(settings_in(dir.path(), mode), clock.clone()).await;
        server.add_user("alice", &[]).await;
        server.add_user("bob", &[]).await;
        let http = server.http();
        let logged_out = http.login_tokens("alice").await;
        let everywhere = http.login_tokens("bob").await;
        let kept = http.login_tokens("alice").await;
        let res = http
            .with_bearer(http.post("/auth/logout"), &logged_out.access)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        let res = http
            .with_bearer(http.post("/auth/logout-all"), &everywhere.access)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        server.stop().await;

        let server = Server::start_with_clock(settings_in(dir.path(), mode), clock.clone()).await;
        let http = server.http();
        for revoked in [&logged_out, &everywhere] {
            assert_eq!(
                http.me_bearer_status(&revoked.access).await,
                StatusCode::UNAUTHORIZED,
                "{mode:?}"
            );
        }
        assert_eq!(http.me_bearer_status(&kept.access).await, StatusCode::OK);
        server.stop().await;
    }
}
