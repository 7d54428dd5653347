//! Signing in and out in a browser: `GET`/`POST /login`, `POST /logout`, and in `hybrid` mode
//! `GET /auth/refresh/browser`.
//!
//! Browsers stay signed in across access-token expiry without JavaScript: a page that finds no
//! valid access token sends the browser to `GET /auth/refresh/browser?next=…`, which is under
//! the refresh cookie's path, so the browser sends that cookie. It rotates the refresh token
//! and sends the browser back to `next` (a path on this origin only), or to the sign-in page
//! when the refresh fails. This GET changes state without a CSRF token (none can exist: the
//! browser holds no valid credential but the refresh cookie). What another site can do with it
//! is make the browser rotate its own tokens: it learns nothing (the new cookies go to the
//! browser, the redirect stays on this origin) and gains nothing. Requests that are not
//! top-level navigations (`Sec-Fetch-Mode` other than `navigate`) are refused, so an image or
//! a `fetch` cannot trigger it. Two tabs (or another site's two navigations) refreshing with the
//! same cookie at once both get the same new cookie: the reuse interval of docs/MODES.md, so
//! another site cannot sign a user out this way. A browser refreshing past its rate gets a 429
//! page and keeps its cookies.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Router, routing::post};
use cloakroom::auth::{AuthError, AuthMethod};
use cloakroom::authority::SignInError;
use cloakroom::session::SessionId;
use cloakroom::user::Password;
use cloakroom_axum::{ApiError, Auth};
use http::{HeaderMap, StatusCode};
use maud::html;
use serde::Deserialize;
use utoipa::ToSchema;

use super::csrf::{ANONYMOUS, CsrfKey};
use super::layout::{csrf_field, forbidden_form, notice, page, respond, see_other};
use super::next::{login_url, safe_next};
use super::{BROWSER_REFRESH, CsrfForm, credentials, failed, form_ok};
use crate::App;
use crate::prometheus::{LOGINS, REFRESHES};
use crate::routes::Client;
use crate::settings::Mode;

/// The one message for every failed sign-in.
const FAILED: &str = "Invalid username or password.";
/// The page's message during a lockout (`Retry-After` says for how long).
const LOCKED: &str = "Too many failed sign-ins. Wait a few minutes, then try again.";

pub(super) fn router(mode: Mode) -> Router<App> {
    let router = Router::new()
        .route("/login", get(show).post(submit))
        .route("/logout", post(logout));
    match mode {
        Mode::Hybrid => router.route(BROWSER_REFRESH, get(refresh)),
        Mode::Session | Mode::Jwt => router,
    }
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

fn target(next: Option<&str>) -> &str {
    next.and_then(safe_next).unwrap_or("/account")
}

#[utoipa::path(
    get,
    path = "/login",
    tag = "pages",
    operation_id = "login_page",
    summary = "The sign-in page",
    params(("next" = Option<String>, Query, description = "Where to go after signing in: a path on this origin")),
    responses(
        (status = 200, description = "The sign-in form (sets the CSRF cookie)", content_type = "text/html", body = String),
        (status = 303, description = "Already signed in: on to `next`", headers(("Location" = String, description = "Where to go next"))),
        (status = 503, description = "Error page: a store does not answer", content_type = "text/html", body = String),
    ),
    security((), ("session_cookie" = []), ("access_cookie" = [])),
)]
async fn show(
    State(app): State<App>,
    auth: Result<Auth, ApiError>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    if auth.is_ok() {
        return see_other(target(q.next.as_deref()), &[]);
    }
    form(&app, &headers, q.next.as_deref(), None, StatusCode::OK)
}

fn form(
    app: &App,
    headers: &HeaderMap,
    next: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let key = match CsrfKey::for_request(app, headers) {
        Ok(key) => key,
        Err(e) => return failed(&e.into()),
    };
    let next = next.and_then(safe_next);
    let body = html! {
        (notice(error, true))
        form method="post" action="/login" {
            (csrf_field(&key.token(ANONYMOUS)))
            @if let Some(next) = next {
                input type="hidden" name="next" value=(next);
            }
            div class="field" {
                label for="username" { "Username" }
                input id="username" name="username" type="text" autocomplete="username" required autofocus;
            }
            div class="field" {
                label for="password" { "Password" }
                input id="password" name="password" type="password" autocomplete="current-password" required;
            }
            button type="submit" { "Sign in" }
        }
    };
    let cookies: Vec<_> = key.set_cookie().into_iter().cloned().collect();
    respond(status, &cookies, page("Sign in", None, &body))
}

/// The sign-in form. Not `Debug`: it holds a password.
#[derive(Deserialize, ToSchema)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

/// Checks the form and the credentials, ends any sign-in the browser presented (a planted
/// cookie is never adopted), signs in afresh and sends the browser on to `next`.
#[utoipa::path(
    post,
    path = "/login",
    tag = "pages",
    operation_id = "login_form",
    summary = "Sign in from the sign-in form",
    description = "All modes. Any sign-in the browser presented is ended first (a planted cookie is never adopted).",
    request_body(content = LoginForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Signed in: on to `next` (a path on this origin) or `/account`", headers(("Location" = String, description = "Where to go next"), ("Set-Cookie" = String, description = "The new credential cookies"))),
        (status = 400, description = "Error page: the form lacks fields or does not parse", content_type = "text/html", body = String),
        (status = 401, description = "The sign-in form again, saying the username or password is wrong", content_type = "text/html", body = String),
        (status = 403, description = "Error page: the form is cross-site or its CSRF token is wrong", content_type = "text/html", body = String),
        (status = 429, description = "The sign-in form again, saying to wait", content_type = "text/html", body = String, headers(("Retry-After" = u64, description = "Seconds until another attempt may succeed"))),
        (status = 503, description = "Error page: a store does not answer", content_type = "text/html", body = String),
    ),
    security((), ("session_cookie" = []), ("access_cookie" = [])),
)]
async fn submit(
    State(app): State<App>,
    auth: Result<Auth, ApiError>,
    Client(client): Client,
    headers: HeaderMap,
    form_data: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form_data else {
        return super::bad_form();
    };
    if !form_ok(&app, &headers, ANONYMOUS, &f.csrf) {
        count_login("csrf");
        return forbidden_form();
    }
    let next = f.next.clone();
    // Login CSRF: another site must not sign the browser in to an account of its choosing.
    if cloakroom_axum::is_cross_site(&headers) {
        count_login("cross_site");
        return form(
            &app,
            &headers,
            next.as_deref(),
            Some(FAILED),
            StatusCode::UNAUTHORIZED,
        );
    }
    let password = Password::new(f.password);
    let signed_in = match app
        .authority()
        .sign_in(&f.username, &password, client)
        .await
    {
        Ok(signed_in) => signed_in,
        Err(e) => {
            count_login(e.outcome());
            return match e {
                SignInError::TooManyAttempts { retry_after } => {
                    tracing::info!("sign-in refused: too many failed attempts");
                    let mut page = form(
                        &app,
                        &headers,
                        next.as_deref(),
                        Some(LOCKED),
                        StatusCode::TOO_MANY_REQUESTS,
                    );
                    page.headers_mut().insert(
                        http::header::RETRY_AFTER,
                        http::HeaderValue::from(retry_after.as_secs().max(1)),
                    );
                    page
                }
                SignInError::InvalidCredentials | SignInError::PasswordTooLong { .. } => {
                    tracing::info!("sign-in refused: invalid credentials");
                    form(
                        &app,
                        &headers,
                        next.as_deref(),
                        Some(FAILED),
                        StatusCode::UNAUTHORIZED,
                    )
                }
                other => failed(&ApiError::from(other)),
            };
        }
    };
    // The sign-in this browser had before is ended: one browser, one sign-in.
    if let Ok(Auth(old)) = &auth {
        if let Err(e) = app.authority().sign_out(old).await {
            return failed(&e.into());
        }
    }
    count_login("success");
    tracing::info!(user_id = %signed_in.user.id, "signed in (browser)");
    see_other(
        target(next.as_deref()),
        &credentials::cookies(&app, &signed_in.credential),
    )
}

fn count_login(outcome: &'static str) {
    metrics::counter!(LOGINS, "outcome" => outcome).increment(1);
}

/// Ends the browser's sign-in and clears its cookies. Without a valid sign-in there is
/// nothing to end, and only the cookies are cleared.
#[utoipa::path(
    post,
    path = "/logout",
    tag = "pages",
    operation_id = "logout_page",
    summary = "Sign out from a page",
    description = "All modes. Without a valid sign-in only the cookies are cleared.",
    request_body(content = CsrfForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Signed out: to the sign-in page, with the cookies cleared", headers(("Location" = String, description = "Where to go next"), ("Set-Cookie" = String, description = "The new credential cookies"))),
        (status = 403, description = "Error page: the form is cross-site or its CSRF token is wrong", content_type = "text/html", body = String),
        (status = 503, description = "Error page: a store does not answer", content_type = "text/html", body = String),
    ),
    security((), ("session_cookie" = []), ("access_cookie" = [])),
)]
async fn logout(
    State(app): State<App>,
    auth: Result<Auth, ApiError>,
    headers: HeaderMap,
    form_data: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    if let Ok(Auth(p)) = auth {
        let token = form_data.map(|Form(f)| f.csrf).unwrap_or_default();
        if !form_ok(&app, &headers, p.session.as_str(), &token) {
            return forbidden_form();
        }
        if let Err(e) = app.authority().sign_out(&p).await {
            return failed(&e.into());
        }
        tracing::info!(user_id = %p.user_id, "signed out (browser)");
    }
    see_other("/login", &credentials::clear(&app))
}

/// The error page for a refresh past its rate, with its `Retry-After`. The cookies are kept:
/// the session is fine, the browser is just refreshing too often.
fn too_many(e: &ApiError) -> Response {
    let mut page = super::layout::error_page(
        StatusCode::TOO_MANY_REQUESTS,
        None,
        "Too many requests",
        &e.message,
    );
    if let Some(secs) = e.retry_after() {
        page.headers_mut()
            .insert(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
    }
    page
}

fn count_refresh(outcome: &'static str) {
    metrics::counter!(REFRESHES, "outcome" => outcome).increment(1);
}

/// Rotates the refresh cookie for a new pair and goes back to `next`; on any failure clears
/// the cookies and goes to the sign-in page. See the module docs for why this is a GET.
#[utoipa::path(
    get,
    path = "/auth/refresh/browser",
    tag = "pages",
    operation_id = "browser_refresh",
    summary = "Refresh a browser's tokens and go back",
    description = "`hybrid` mode only (the other modes do not route it). Rotates the refresh cookie; see the module docs of `routes/pages/login.rs` for why this is a GET.",
    params(("next" = Option<String>, Query, description = "Where to go after signing in: a path on this origin")),
    responses(
        (status = 303, description = "Back to `next` with fresh cookies, or to the sign-in page with the cookies cleared", headers(("Location" = String, description = "Where to go next"), ("Set-Cookie" = String, description = "The new credential cookies"))),
        (status = 403, description = "Error page: not a top-level navigation (`Sec-Fetch-Mode`)", content_type = "text/html", body = String),
        (status = 429, description = "Error page: past the session's or the client's rate of refreshing (see `Retry-After`)", content_type = "text/html", body = String),
        (status = 503, description = "Error page: a store does not answer", content_type = "text/html", body = String),
    ),
    security((), ("refresh_cookie" = [])),
)]
async fn refresh(
    State(app): State<App>,
    Client(client): Client,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = target(q.next.as_deref());
    let navigates = headers
        .get("sec-fetch-mode")
        .is_none_or(|m| m.as_bytes().eq_ignore_ascii_case(b"navigate"));
    if !navigates {
        count_refresh("not_navigation");
        return forbidden_form();
    }
    let to_login = || see_other(&login_url(Some(next)), &credentials::clear(&app));
    if app.authority().method() != AuthMethod::Hybrid {
        return to_login();
    }
    let Some(Ok(id)) = app
        .api()
        .refresh_cookie()
        .find_raw(&headers)
        .map(SessionId::parse)
    else {
        count_refresh("missing");
        return to_login();
    };
    if let Err(e) = app.api().limits().refresh(&client, &id) {
        count_refresh("rate_limited");
        return too_many(&e);
    }
    match app.authority().refresh(&id).await {
        Ok(pair) => {
            count_refresh("success");
            let credential = cloakroom::authority::Credential::Pair(pair);
            see_other(next, &credentials::cookies(&app, &credential))
        }
        Err(AuthError::RefreshReused) => {
            count_refresh("reused");
            to_login()
        }
        Err(AuthError::UnknownSession | AuthError::SessionExpired) => {
            count_refresh("invalid");
            to_login()
        }
        Err(e) => {
            count_refresh("error");
            failed(&ApiError::from(e))
        }
    }
}
