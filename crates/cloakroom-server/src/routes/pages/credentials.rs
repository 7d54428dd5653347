//! The cookies a browser signs in with, in every mode: the session cookie, or the access-token
//! cookie and (in `hybrid`) the refresh cookie sent only to `/auth/refresh`.

use cloakroom::auth::Principal;
use cloakroom::session::{ClientInfo, SessionUser};
use cloakroom::token_auth::TokenPair;
use cloakroom::user::User;
use cloakroom_axum::ApiError;
use http::HeaderValue;

use crate::App;
use crate::tokens::{TokenMode, TokenService};

/// Signs `user` in from `client`: a new session or sign-in, and the cookies that hold it.
pub(super) async fn sign_in(
    app: &App,
    user: &User,
    client: ClientInfo,
) -> Result<Vec<HeaderValue>, ApiError> {
    let subject = SessionUser {
        id: user.id.clone(),
        name: user.username.to_string(),
        roles: user.roles.clone(),
    };
    let Some(tokens) = app.tokens() else {
        let (id, _) = app.sessions().start(subject, client).await?;
        return Ok(vec![app.cookies().set(&id)]);
    };
    match tokens.mode() {
        TokenMode::Jwt(jwt) => {
            let access = jwt.login(&subject)?;
            let cookie = tokens
                .access_cookie()
                .set_value(access.token.expose_secret(), Some(access.expires_in()));
            Ok(vec![cookie])
        }
        TokenMode::Hybrid(hybrid) => {
            Ok(pair_cookies(tokens, &hybrid.login(subject, client).await?))
        }
    }
}

/// The access cookie, living as long as its token, and the refresh cookie, living as long as
/// its session.
pub(super) fn pair_cookies(tokens: &TokenService, pair: &TokenPair) -> Vec<HeaderValue> {
    let lasts = pair
        .session
        .absolute_expires_at
        .since(pair.access.claims.iat);
    vec![
        tokens.access_cookie().set_value(
            pair.access.token.expose_secret(),
            Some(pair.access.expires_in()),
        ),
        tokens
            .refresh_cookie()
            .set_value(&pair.refresh.expose_secret(), Some(lasts)),
    ]
}

/// The cookies that remove every credential a browser may hold.
pub(super) fn clear(app: &App) -> Vec<HeaderValue> {
    let mut out = vec![app.cookies().clear()];
    if let Some(tokens) = app.tokens() {
        out.push(tokens.access_cookie().clear());
        out.push(tokens.refresh_cookie().clear());
    }
    out
}

/// Ends the sign-in `p` belongs to: its session, or (`jwt`) its token, or (`hybrid`) its
/// refresh session and every access token of it.
pub(super) async fn sign_out(app: &App, p: &Principal) -> Result<(), ApiError> {
    match app.tokens().map(TokenService::mode) {
        None => {
            app.sessions().revoke(&p.user_id, &p.session).await?;
        }
        Some(TokenMode::Jwt(jwt)) => jwt.logout(p).await?,
        Some(TokenMode::Hybrid(hybrid)) => hybrid.logout(p).await?,
    }
    Ok(())
}

/// Ends every sign-in of `user_id` and refuses all their access tokens.
pub(super) async fn sign_out_everywhere(app: &App, user_id: &str) -> Result<(), ApiError> {
    match app.tokens().map(TokenService::mode) {
        None => {
            app.sessions().end_all(user_id).await?;
        }
        Some(TokenMode::Jwt(jwt)) => jwt.logout_all(user_id).await?,
        Some(TokenMode::Hybrid(hybrid)) => hybrid.logout_all(user_id).await?,
    }
    Ok(())
}

/// Ends the session `handle` of `user_id` (revoking its access tokens in `hybrid` mode);
/// whether it existed. `jwt` mode keeps no sessions.
pub(super) async fn revoke_session(
    app: &App,
    user_id: &str,
    handle: &cloakroom::session::SessionHandle,
) -> Result<bool, ApiError> {
    match app.tokens().map(TokenService::mode) {
        None => Ok(app.sessions().revoke(user_id, handle).await?),
        Some(TokenMode::Jwt(_)) => Ok(false),
        Some(TokenMode::Hybrid(hybrid)) => {
            // Only the owner's: revoking puts the handle on the deny-list before the session
            // is deleted, and another user's handle must not get that far.
            let owned = app
                .sessions()
                .list(user_id)
                .await?
                .iter()
                .any(|r| r.handle == *handle);
            Ok(owned && hybrid.revoke(user_id, handle).await?)
        }
    }
}
