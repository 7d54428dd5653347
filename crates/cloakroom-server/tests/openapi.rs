//! `GET /openapi.json`: served in every mode, a valid OpenAPI 3 document, and complete: every
//! route the router serves is in it, with every method it answers.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use cloakroom_server::settings::Mode;
use common::{Server, settings_in};
use reqwest::{Method, StatusCode};
use serde_json::Value;

const MODES: [Mode; 3] = [Mode::Session, Mode::Jwt, Mode::Hybrid];
const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

async fn fetch(server: &Server) -> (String, Value) {
    let res = server.http().get("/openapi.json").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/json");
    let text = res.text().await.unwrap();
    let value = serde_json::from_str(&text).expect("JSON");
    (text, value)
}

/// Every path literal given to `.route(` anywhere in the server's source.
fn routed_paths() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut dirs = vec![src];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for piece in text.split(".route(").skip(1) {
                    let rest = piece.trim_start();
                    if let Some(rest) = rest.strip_prefix('"') {
                        let end = rest.find('"').unwrap();
                        found.insert(rest[..end].to_owned());
                    }
                }
            }
        }
    }
    assert!(
        found.len() >= 10,
        "the scan found too few routes: {found:?}"
    );
    found
}

fn described(doc: &Value) -> Vec<(String, Method)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method.as_str().to_ascii_lowercase()).is_some() {
                out.push((path.clone(), method));
            }
        }
    }
    out
}

#[tokio::test]
async fn every_routed_path_is_described() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(settings_in(dir.path(), Mode::Hybrid)).await;
    let (_, doc) = fetch(&server).await;
    let paths = doc["paths"].as_object().unwrap();
    for route in routed_paths() {
        assert!(
            paths.contains_key(&route),
            "{route} is routed but not in the OpenAPI document: annotate its handler with \
             #[utoipa::path] and list it in src/openapi.rs"
        );
    }
    server.stop().await;
}

/// In every mode, each described operation reaches a handler (not the fallback, not 405), and
/// each method the document leaves out of a path answers 405.
#[tokio::test]
async fn every_method_of_every_path_matches_the_router() {
    for mode in MODES {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(settings_in(dir.path(), mode)).await;
        let http = server.http();
        let (_, doc) = fetch(&server).await;
        let described = described(&doc);
        for path in doc["paths"].as_object().unwrap().keys() {
            let url = format!("{}{}", http.url, path.replace("{id}", "x"));
            for method in METHODS {
                let res = http
                    .client
                    .request(method.clone(), &url)
                    .send()
                    .await
                    .unwrap();
                let status = res.status();
                let body: Value = res.json().await.unwrap_or(Value::Null);
                let fallback = status == StatusCode::NOT_FOUND
                    && body["message"] == "there is nothing at this path";
                let is_described = described.contains(&(path.clone(), method.clone()));
                if is_described {
                    assert!(
                        !fallback && status != StatusCode::METHOD_NOT_ALLOWED,
                        "{mode:?}: {method} {path} is described but not routed ({status} {body})"
                    );
                } else {
                    assert_eq!(
                        status,
                        StatusCode::METHOD_NOT_ALLOWED,
                        "{mode:?}: {method} {path} is routed but not described ({body})"
                    );
                }
            }
        }
        server.stop().await;
    }
}

/// Every `$ref` in `value` names a component that exists.
fn check_refs(value: &Value, doc: &Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                let name = target
                    .strip_prefix("#/components/schemas/")
                    .unwrap_or_else(|| panic!("unexpected $ref {target}"));
                assert!(
                    doc["components"]["schemas"].get(name).is_some(),
                    "dangling $ref {target}"
                );
            }
            map.values().for_each(|v| check_refs(v, doc));
        }
        Value::Array(items) => items.iter().for_each(|v| check_refs(v, doc)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_in_every_mode() {
    for mode in MODES {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(settings_in(dir.path(), mode)).await;
        let (text, doc) = fetch(&server).await;
        let spec = oas3::from_json(&text).expect("parses as OpenAPI 3.1");
        let version = spec.validate_version().expect("a supported version");
        assert_eq!(version.major, 3);
        assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
        check_refs(&doc, &doc);

        // Only the credentials this mode accepts.
        let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
        let mut names: Vec<&str> = schemes.keys().map(String::as_str).collect();
        names.sort_unstable();
        match mode {
            Mode::Session => {
                assert_eq!(names, ["session_cookie"]);
                assert_eq!(schemes["session_cookie"]["in"], "cookie");
                assert_eq!(
                    schemes["session_cookie"]["name"],
                    server.app.cookies().name()
                );
            }
            Mode::Jwt => assert_eq!(names, ["access_cookie", "bearer"]),
            Mode::Hybrid => assert_eq!(names, ["access_cookie", "bearer", "refresh_cookie"]),
        }
        if mode.uses_tokens() {
            assert_eq!(schemes["bearer"]["scheme"], "bearer");
            assert_eq!(schemes["access_cookie"]["in"], "cookie");
        }
        // Routes that need a credential say so in every mode.
        for (path, method) in [("/auth/me", "get"), ("/auth/sessions", "get")] {
            let security = doc["paths"][path][method]["security"].as_array().unwrap();
            assert!(!security.is_empty(), "{mode:?}: {path}");
            assert!(
                security.iter().all(|r| !r.as_object().unwrap().is_empty()),
                "{mode:?}: {path} must not be open"
            );
        }

        let mut ids = BTreeSet::new();
        for (path, method) in described(&doc) {
            let op = &doc["paths"][&path][method.as_str().to_ascii_lowercase()];
            let id = op["operationId"].as_str().expect("an operationId");
            assert!(ids.insert(id.to_owned()), "operationId {id} twice");
            for requirement in op["security"].as_array().expect("security stated") {
                for name in requirement.as_object().unwrap().keys() {
                    assert!(schemes.contains_key(name), "{path}: unknown scheme {name}");
                }
            }
            let responses = op["responses"].as_object().unwrap();
            assert!(!responses.is_empty(), "{method} {path}: no responses");
            let is_page = op["tags"]
                .as_array()
                .is_some_and(|tags| tags.iter().any(|t| t == "pages"));
            for (status, response) in responses {
                let is_error = status.starts_with('4') || status.starts_with('5');
                if is_error && is_page {
                    // The pages answer errors with HTML pages, never the JSON error body.
                    assert!(
                        response["content"].get("text/html").is_some()
                            && response["content"].get("application/json").is_none(),
                        "{method} {path} {status}"
                    );
                } else if is_error
                    && path == "/auth/verify"
                    && ["401", "403"].contains(&status.as_str())
                {
                    // For a proxy: headers and an empty body.
                    assert!(
                        response.get("content").is_none(),
                        "{method} {path} {status}"
                    );
                } else if is_error {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
                if status == "401" && !is_page {
                    assert!(response["headers"].get("WWW-Authenticate").is_some());
                }
            }
            // A route missing in some modes says so.
            let text = op["description"].as_str().unwrap_or_default();
            if responses
                .get("404")
                .is_some_and(|r| r["description"].as_str().unwrap().contains("mode"))
            {
                assert!(text.contains("not_available_in_mode"), "{method} {path}");
            }
        }
        // Links name operations that exist, in OpenAPI's spelling.
        let mut links = 0;
        for (path, method) in described(&doc) {
            let op = &doc["paths"][&path][method.as_str().to_ascii_lowercase()];
            for response in op["responses"].as_object().unwrap().values() {
                for link in response["links"]
                    .as_object()
                    .into_iter()
                    .flat_map(|l| l.values())
                {
                    let target = link["operationId"].as_str().expect("operationId");
                    assert!(ids.contains(target), "link to unknown operation {target}");
                    assert!(link.get("operation_id").is_none(), "{link}");
                    links += 1;
                }
            }
        }
        assert!(
            links >= 1,
            "GET /auth/sessions links to DELETE /auth/sessions/{{id}}"
        );
        let error = &doc["components"]["schemas"]["ErrorBody"];
        assert_eq!(error["required"], serde_json::json!(["error", "message"]));
        server.stop().await;
    }
}
