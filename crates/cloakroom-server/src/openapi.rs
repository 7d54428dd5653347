//! The OpenAPI 3 description of the HTTP API, served at `GET /openapi.json`.
//!
//! Each route's handler carries a `#[utoipa::path]` annotation next to its code; [`ApiDoc`]
//! lists them. To add a route: annotate its handler and add it to `paths(...)` below. The test
//! `tests/openapi.rs` fails for a route that the router serves and this document lacks.
//!
//! Routes whose handler differs by mode (e.g. `POST /auth/login`) are annotated once, on one of
//! the handlers, with what every mode answers. Error responses are listed by status with the
//! codes they carry; [`document`] gives each the JSON error body, and each 401 the
//! `WWW-Authenticate` header.

pub(crate) mod schemas;

use std::sync::Arc;

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use cloakroom_axum::ApiError;
use http::{HeaderValue, header};
use serde_json::Value;
use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Header, ObjectBuilder, Ref, RefOr, Required, Type};

use crate::App;
use crate::routes;
use crate::settings::Mode;
use cloakroom_axum::routes as api;
use schemas::{ErrorBody, Health, Ready};

/// The document's static part: every annotated route and the schemas they name.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cloakroom",
        description = "Sessions, JWTs and a hybrid of both. The server runs in one of three \
            modes (`session`, `jwt`, `hybrid`); each operation says which modes serve it, and \
            the others answer 404 `not_available_in_mode`. Every error is JSON \
            `{\"error\": \"<code>\", \"message\": \"<text>\"}`. A cookie-authenticated POST, \
            PUT, PATCH or DELETE from another site is refused with 403 `cross_site_request`."
    ),
    paths(
        api::login::login,
        api::sign_out::me,
        api::sign_out::logout,
        api::sign_out::logout_all,
        api::refresh::refresh,
        api::sessions::list,
        api::sessions::revoke,
        api::oauth::introspect,
        api::oauth::revoke,
        api::oauth::jwks,
        healthz,
        readyz,
        routes::metrics::scrape,
        openapi_json,
        routes::verify::verify,
        routes::pages::login::show,
        routes::pages::login::submit,
        routes::pages::login::logout,
        routes::pages::login::refresh,
        routes::pages::account::show,
        routes::pages::account::revoke,
        routes::pages::account::logout_all,
        routes::pages::account::change_password,
        routes::pages::admin::show,
        routes::pages::admin::users::create,
        routes::pages::admin::users::disable,
        routes::pages::admin::users::reset_password,
        routes::pages::admin::users::set_roles,
        routes::pages::admin::sessions::revoke,
        routes::pages::style,
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "auth", description = "Signing in and out"),
        (name = "sessions", description = "The caller's own sessions"),
        (name = "oauth", description = "Introspection and revocation for other services"),
        (name = "keys", description = "Public keys"),
        (name = "operations", description = "Probes, metrics and this document"),
        (name = "gateway", description = "Forward auth for a reverse proxy"),
        (name = "pages", description = "The HTML pages for browsers (forms with a CSRF token; \
            errors are HTML pages, not JSON). Not for machines: use the JSON API"),
    )
)]
struct ApiDoc;

/// The tag of the HTML pages: their error responses are HTML pages, not the JSON error body.
pub(crate) const PAGES_TAG: &str = "pages";

/// Responses of `GET /auth/verify` that have an empty body (for a proxy), not the JSON error.
const EMPTY_ERRORS: [(&str, &str); 2] = [("verify", "401"), ("verify", "403")];

/// Operations whose JSON body may be left out, but is not `null` when sent. (utoipa can only
/// say "optional" as `Option<T>`, which also allows `null`.)
const OPTIONAL_BODIES: [&str; 1] = ["/auth/refresh"];

/// The document for `app`: the static part, with the credentials this server's mode accepts
/// (by the cookie names it uses), and the JSON error body on every error response.
pub(crate) fn document(app: &App) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    let (access, refresh) = (
        app.api().access_cookie().name().to_owned(),
        app.api().refresh_cookie().name().to_owned(),
    );
    let mode = app.settings().mode;
    // Only the schemes this server accepts: `session` mode takes no token, the token modes no
    // session cookie, and only `hybrid` mode has refresh tokens.
    let mut schemes = Vec::new();
    if mode.uses_tokens() {
        schemes.push((
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token (`jwt` and `hybrid` modes)"))
                    .build(),
            ),
        ));
        schemes.push((
            "access_cookie",
            cookie(
                &access,
                "The access-token cookie of browsers (`jwt` and `hybrid` modes)",
            ),
        ));
    } else {
        schemes.push((
            "session_cookie",
            cookie(app.cookies().name(), "The session cookie (`session` mode)"),
        ));
    }
    if mode == Mode::Hybrid {
        schemes.push((
            "refresh_cookie",
            cookie(
                &refresh,
                "The refresh-token cookie, sent only to `/auth/refresh` (`hybrid` mode)",
            ),
        ));
    }
    let accepted: Vec<&str> = schemes.iter().map(|(name, _)| *name).collect();
    keep_requirements_of(&mut doc, &accepted);
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, scheme) in schemes {
        components.security_schemes.insert(name.to_owned(), scheme);
    }
    if mode != Mode::Hybrid {
        // Only `hybrid` mode has refresh cookies, and only it routes this.
        doc.paths.paths.remove(routes::pages::BROWSER_REFRESH);
    }
    add_error_bodies(&mut doc);
    for path in OPTIONAL_BODIES {
        let body = doc
            .paths
            .paths
            .get_mut(path)
            .and_then(|item| item.post.as_mut())
            .and_then(|op| op.request_body.as_mut());
        if let Some(body) = body {
            body.required = Some(Required::False);
        }
    }
    doc
}

/// Drops from each operation the security alternatives that name a scheme not in `accepted`
/// (the empty alternative, "no credential", stays).
fn keep_requirements_of(doc: &mut utoipa::openapi::OpenApi, accepted: &[&str]) {
    for op in operations(doc) {
        if let Some(requirements) = op.security.as_mut() {
            requirements.retain(|requirement| {
                // The requirement's map is private; its JSON form is `{"scheme": [scopes]}`.
                serde_json::to_value(requirement)
                    .ok()
                    .and_then(|v| v.as_object().cloned())
                    .is_some_and(|names| names.keys().all(|n| accepted.contains(&n.as_str())))
            });
        }
    }
}

fn operations(doc: &mut utoipa::openapi::OpenApi) -> impl Iterator<Item = &mut Operation> {
    doc.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
    })
}

fn cookie(name: &str, description: &str) -> SecurityScheme {
    SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
        name,
        description,
    )))
}

/// Gives every 4xx and 5xx response without a body the JSON error body, and every 401 the
/// `WWW-Authenticate` header, so that the annotations need only say which codes they carry.
/// The HTML pages (tag `pages`) are left as annotated, and so are [`EMPTY_ERRORS`].
fn add_error_bodies(doc: &mut utoipa::openapi::OpenApi) {
    let mut challenge = Header::new(ObjectBuilder::new().schema_type(Type::String));
    challenge.description = Some(
        "`Bearer` or `Bearer error=\"invalid_token\", error_description=\"…\"` (RFC 6750), in \
         `jwt` and `hybrid` modes"
            .to_owned(),
    );
    for op in operations(doc) {
        let is_page = op
            .tags
            .as_ref()
            .is_some_and(|tags| tags.iter().any(|t| t == PAGES_TAG));
        if is_page {
            continue;
        }
        let id = op.operation_id.clone().unwrap_or_default();
        for (status, response) in &mut op.responses.responses {
            let RefOr::T(response) = response else {
                continue;
            };
            if !(status.starts_with('4') || status.starts_with('5')) {
                continue;
            }
            let empty = EMPTY_ERRORS.contains(&(id.as_str(), status.as_str()));
            if response.content.is_empty() && !empty {
                let body = Content::new(Some(Ref::from_schema_name("ErrorBody")));
                response.content.insert("application/json".to_owned(), body);
            }
            if status == "401" {
                response
                    .headers
                    .insert("WWW-Authenticate".to_owned(), challenge.clone());
            }
        }
    }
}

/// `GET /openapi.json`, rendered once when the router is built.
pub(crate) fn router(app: &App) -> Router<App> {
    let rendered: Result<Arc<str>, ApiError> = render(&document(app)).map(Arc::from).map_err(|e| {
        tracing::error!(error = %e, "could not render the OpenAPI document");
        ApiError::internal()
    });
    Router::new().route(
        "/openapi.json",
        get(move || {
            let rendered = rendered.clone();
            async move { serve(rendered) }
        }),
    )
}

/// The document as JSON. utoipa 5 writes the members of Link objects in snake case
/// (`operation_id`); OpenAPI spells them in camel case, so they are renamed here.
fn render(doc: &utoipa::openapi::OpenApi) -> serde_json::Result<String> {
    let mut value = serde_json::to_value(doc)?;
    if let Some(paths) = value.get_mut("paths").and_then(Value::as_object_mut) {
        let responses = paths
            .values_mut()
            .filter_map(Value::as_object_mut)
            .flat_map(|item| item.values_mut())
            .filter_map(|op| op.get_mut("responses")?.as_object_mut())
            .flat_map(|responses| responses.values_mut());
        for response in responses {
            let links = response.get_mut("links").and_then(Value::as_object_mut);
            for link in links.into_iter().flat_map(|l| l.values_mut()) {
                let Some(link) = link.as_object_mut() else {
                    continue;
                };
                for (snake, camel) in [
                    ("operation_id", "operationId"),
                    ("operation_ref", "operationRef"),
                    ("request_body", "requestBody"),
                ] {
                    if let Some(v) = link.remove(snake) {
                        link.insert(camel.to_owned(), v);
                    }
                }
            }
        }
    }
    serde_json::to_string(&value)
}

fn serve(rendered: Result<Arc<str>, ApiError>) -> axum::response::Response {
    match rendered {
        Ok(json) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            json.to_string(),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

// Described here rather than in `routes/health.rs`, which another change reshapes.

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "healthz",
    summary = "Liveness: the process answers",
    responses((status = 200, description = "Alive", body = Health)),
    security(()),
)]
#[allow(dead_code)]
fn healthz() {}

#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    operation_id = "readyz",
    summary = "Readiness: the stores answer too",
    responses(
        (status = 200, description = "Ready", body = Ready),
        (status = 503, description = "`not_ready`, naming the store that does not answer"),
    ),
    security(()),
)]
#[allow(dead_code)]
fn readyz() {}

#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    operation_id = "openapi",
    summary = "This document (OpenAPI 3)",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")),
    security(()),
)]
#[allow(dead_code)]
fn openapi_json() {}
