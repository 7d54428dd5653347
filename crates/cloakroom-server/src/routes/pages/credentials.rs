//! What the pages hand a browser: the cookies of a credential the authority issued, and the
//! cookies that clear them. Signing in, out and revoking are the authority's
//! ([`App::authority`]); nothing here decides them.

use cloakroom::authority::Credential;
use http::HeaderValue;

use crate::App;

/// The cookies that hold `credential` in a browser.
pub(super) fn cookies(app: &App, credential: &Credential) -> Vec<HeaderValue> {
    cloakroom_axum::routes::credential_cookies(app.api(), credential)
}

/// The cookies that remove every credential a browser may hold.
pub(super) fn clear(app: &App) -> Vec<HeaderValue> {
    app.api().clear_cookies()
}
