//! Items that are safe only when the caller keeps a promise the type system cannot check.
//! Everything that can sign someone in without a password, or swap process-wide machinery,
//! lives here, so that a review finds it by the module's name.

use crate::auth::AuthError;
use crate::authority::{Authority, Credential};
use crate::session::{ClientInfo, SessionUser};

/// Issues the mode's credential for `user` without checking a password or the throttle.
///
/// For apps that authenticate users by other means — their own password check, an external
/// identity provider, or the explainer's hard-coded demo user — and then want Cloakroom's
/// sessions or tokens. The caller promises that `user` really proved who they are, and owns
/// brute-force protection for whatever proof it took. Password sign-ins go through
/// [`Authority::sign_in`], which does all of that.
pub async fn sign_in_unchecked(
    authority: &Authority,
    user: SessionUser,
    client: ClientInfo,
) -> Result<Credential, AuthError> {
    authority.issue_for(user, client).await
}
