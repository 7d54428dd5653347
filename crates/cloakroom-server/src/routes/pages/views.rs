//! Pieces of the account and admin pages: the table of sessions and a user's card.

use cloakroom::session::{SessionHandle, SessionRecord};
use cloakroom::user::User;
use maud::{Markup, html};

use super::layout::csrf_field;

/// A table of sessions, each with a button that posts to `action` to end it.
pub(super) struct SessionTable<'a> {
    pub(super) caption: &'a str,
    pub(super) list: &'a [SessionRecord],
    /// The session of this browser, marked in the table.
    pub(super) current: Option<&'a SessionHandle>,
    pub(super) action: &'a str,
    /// Sent along when the sessions are someone else's (the admin page).
    pub(super) user_id: Option<&'a str>,
    pub(super) token: &'a str,
}

pub(super) fn session_table(t: &SessionTable<'_>) -> Markup {
    html! {
        table class="sessions" {
            caption { (t.caption) }
            thead { tr { th scope="col" { "Browser" } th scope="col" { "Address" } th scope="col" { "Signed in" } th scope="col" { "Last seen" } th scope="col" { span class="visually-hidden" { "Actions" } } } }
            tbody {
                @for r in t.list {
                    @let current = t.current == Some(&r.handle);
                    tr class=[current.then_some("current")] {
                        td {
                            (r.client.user_agent.as_deref().unwrap_or("unknown"))
                            @if current { " " strong class="this" { "(this browser)" } }
                        }
                        td { (r.client.ip.map(|ip| ip.to_string()).unwrap_or_else(|| "unknown".to_owned())) }
                        td { (r.created_at) }
                        td { (r.last_seen_at) }
                        td {
                            form method="post" action=(t.action) {
                                (csrf_field(t.token))
                                @if let Some(user_id) = t.user_id {
                                    input type="hidden" name="user_id" value=(user_id);
                                }
                                input type="hidden" name="session" value=(r.handle.as_str());
                                button type="submit" { "Revoke" }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub(super) fn user_card(user: &User, sessions: &[SessionRecord], token: &str) -> Markup {
    let name = user.username.as_str();
    html! {
        article class="user" aria-label=(format!("User {name}")) {
            h3 class="username" { (name) @if user.disabled { " " span class="badge" { "disabled" } } }
            p { "Roles: " @if user.roles.is_empty() { "none" } @else { (user.roles.join(", ")) } }
            div class="actions" {
                form method="post" action="/admin/users/disable" {
                    (csrf_field(token))
                    input type="hidden" name="username" value=(name);
                    input type="hidden" name="disabled" value=(if user.disabled { "false" } else { "true" });
                    button type="submit" class=[(!user.disabled).then_some("danger")] {
                        (if user.disabled { "Enable" } else { "Disable" }) span class="visually-hidden" { " " (name) }
                    }
                }
                form method="post" action="/admin/users/password" {
                    (csrf_field(token))
                    input type="hidden" name="username" value=(name);
                    label for=(format!("pw-{}", user.id)) { "New password" }
                    input id=(format!("pw-{}", user.id)) name="password" type="password" autocomplete="new-password" minlength="8" required;
                    button type="submit" { "Reset password" }
                }
                form method="post" action="/admin/users/roles" {
                    (csrf_field(token))
                    input type="hidden" name="username" value=(name);
                    label for=(format!("roles-{}", user.id)) { "Roles" }
                    input id=(format!("roles-{}", user.id)) name="roles" type="text" value=(user.roles.join(","));
                    button type="submit" { "Set roles" }
                }
            }
            @if !sessions.is_empty() {
                (session_table(&SessionTable {
                    caption: &format!("Sessions of {name}"),
                    list: sessions,
                    current: None,
                    action: "/admin/sessions/revoke",
                    user_id: Some(&user.id),
                    token,
                }))
            }
        }
    }
}
