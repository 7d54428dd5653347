//! A browser-like client for the HTML pages: it keeps cookies (with their paths), sends
//! same-origin `Origin` headers on form posts, and does not follow redirects, so tests can see
//! every hop.

use std::collections::HashMap;
use std::sync::Mutex;

use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::{RequestBuilder, Response, StatusCode};

use cloakroom_server::settings::Mode;

use super::{PASSWORD, Server, settings_in};

struct Stored {
    value: String,
    path: String,
}

pub struct Browser {
    pub url: String,
    client: reqwest::Client,
    jar: Mutex<HashMap<String, Stored>>,
}

impl Browser {
    pub fn new(server: &Server) -> Self {
        Self::at(&server.url)
    }

    pub fn at(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            jar: Mutex::new(HashMap::new()),
        }
    }

    /// The `Cookie` header a browser would send to `path`.
    pub fn cookie_header(&self, path: &str) -> String {
        let jar = self.jar.lock().expect("jar");
        jar.iter()
            .filter(|(_, c)| path.starts_with(&c.path))
            .map(|(n, c)| format!("{n}={}", c.value))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        let jar = self.jar.lock().expect("jar");
        jar.get(name).map(|c| c.value.clone())
    }

    pub fn set_cookie(&self, name: &str, value: &str, path: &str) {
        let mut jar = self.jar.lock().expect("jar");
        jar.insert(
            name.to_owned(),
            Stored {
                value: value.to_owned(),
                path: path.to_owned(),
            },
        );
    }

    pub fn forget(&self, name: &str) {
        self.jar.lock().expect("jar").remove(name);
    }

    fn remember(&self, res: &Response) {
        let mut jar = self.jar.lock().expect("jar");
        for header in res.headers().get_all(SET_COOKIE) {
            let text = header.to_str().expect("ascii cookie");
            let mut parts = text.split(';').map(str::trim);
            let (name, value) = parts
                .next()
                .and_then(|p| p.split_once('='))
                .expect("name=value");
            let mut path = "/".to_owned();
            let mut removed = value.is_empty();
            for attr in parts {
                if let Some(p) = attr.strip_prefix("Path=") {
                    path = p.to_owned();
                }
                if attr == "Max-Age=0" {
                    removed = true;
                }
            }
            if removed {
                jar.remove(name);
            } else {
                jar.insert(
                    name.to_owned(),
                    Stored {
                        value: value.to_owned(),
                        path,
                    },
                );
            }
        }
    }

    fn with_cookies(&self, req: RequestBuilder, path: &str) -> RequestBuilder {
        let cookies = self.cookie_header(path);
        if cookies.is_empty() {
            req
        } else {
            req.header(COOKIE, cookies)
        }
    }

    pub async fn send(&self, req: RequestBuilder, path: &str) -> Response {
        let res = self.with_cookies(req, path).send().await.expect("request");
        self.remember(&res);
        res
    }

    pub async fn get(&self, path: &str) -> Response {
        let req = self.client.get(format!("{}{path}", self.url));
        self.send(req, path).await
    }

    /// A form post as a browser on this origin sends it.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.post_form_from(path, fields, &self.url.clone()).await
    }

    /// A form post claiming to come from `origin`.
    pub async fn post_form_from(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        origin: &str,
    ) -> Response {
        let req = self
            .client
            .post(format!("{}{path}", self.url))
            .header(ORIGIN, origin)
            .form(fields);
        self.send(req, path).await
    }

    /// GETs `path` and returns its CSRF token (and the page).
    pub async fn csrf_of(&self, path: &str) -> (String, String) {
        let res = self.get(path).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        let html = res.text().await.expect("body");
        (field_value(&html, "csrf").expect("a csrf field"), html)
    }

    /// Signs in through the form; returns the response to the post.
    pub async fn sign_in_with(&self, user: &str, password: &str, next: Option<&str>) -> Response {
        let (token, _) = self.csrf_of("/login").await;
        let mut fields = vec![
            ("csrf", token.as_str()),
            ("username", user),
            ("password", password),
        ];
        if let Some(next) = next {
            fields.push(("next", next));
        }
        self.post_form("/login", &fields).await
    }

    /// Signs in with the shared test password and expects the redirect to the account page.
    pub async fn sign_in(&self, user: &str) {
        let res = self.sign_in_with(user, PASSWORD, None).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "sign-in of {user}");
        assert_eq!(location(&res), "/account");
    }

    /// Posts a form found on `page` with the page's token plus `fields`.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Response {
        let (token, _) = self.csrf_of(page).await;
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post_form(action, &all).await
    }
}

pub fn location(res: &Response) -> String {
    res.headers()
        .get(LOCATION)
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default()
}

/// The `value` of the first input called `name` in `html`.
pub fn field_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// Every value of inputs called `name` in `html`.
pub fn field_values(html: &str, name: &str) -> Vec<String> {
    let needle = format!("name=\"{name}\" value=\"");
    html.match_indices(&needle)
        .filter_map(|(at, _)| {
            let rest = &html[at + needle.len()..];
            Some(rest[..rest.find('"')?].to_owned())
        })
        .collect()
}

/// A server in `mode` with users `alice` (no roles) and `root` (`admin`).
pub async fn pages_server(mode: Mode) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(settings_in(dir.path(), mode)).await;
    server.add_user("alice", &[]).await;
    server.add_user("root", &["admin"]).await;
    (dir, server)
}
