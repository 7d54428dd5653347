//! The table of hostile requests for `hostile_routes.rs`: each case a body, a content type
//! and headers, with what it must get, built for a route by the kind of body it takes.

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HeaderName, HeaderValue};
use serde_json::{Value, json};

/// What a route's request body is, by the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    None,
    Json,
    Form,
}

/// What a case must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A 4xx with a JSON error body.
    ClientError,
    /// Anything but a 5xx; a 4xx has a JSON error body.
    NoServerError,
}

/// One hostile request, before it is aimed at a route.
pub struct Case {
    pub name: String,
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub expect: Expect,
}

fn case(name: &str, body: impl Into<Vec<u8>>, content_type: Option<&str>, expect: Expect) -> Case {
    Case {
        name: name.to_owned(),
        body: body.into(),
        content_type: content_type.map(str::to_owned),
        headers: Vec::new(),
        expect,
    }
}

/// The fields of an operation's request body, by its schema in the document.
pub fn fields(doc: &Value, op: &Value, media: &str) -> Vec<String> {
    let reference = op["requestBody"]["content"][media]["schema"]["$ref"]
        .as_str()
        .unwrap_or_default();
    let name = reference.rsplit('/').next().unwrap_or_default();
    doc["components"]["schemas"][name]["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// `{field: value}` for every field.
fn every_field(fields: &[String], value: &Value) -> Vec<u8> {
    let map: serde_json::Map<String, Value> =
        fields.iter().map(|f| (f.clone(), value.clone())).collect();
    Value::Object(map).to_string().into_bytes()
}

/// The table for one route: body cases by its body kind, then the same absurd headers for all.
pub fn cases(kind: BodyKind, fields: &[String]) -> Vec<Case> {
    use Expect::{ClientError, NoServerError};
    let json = Some("application/json");
    let form = Some("application/x-www-form-urlencoded");
    let strict = |bad: bool| if bad { ClientError } else { NoServerError };
    let mut out = Vec::new();
    let (has_json, has_form) = (kind == BodyKind::Json, kind == BodyKind::Form);
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));

    // Wrong types and missing fields.
    for (name, value) in [
        ("numbers", json!(12345)),
        ("arrays", json!(["a", "b"])),
        ("objects", json!({"a": {"b": 1}})),
        ("nulls", Value::Null),
        ("booleans", json!(true)),
    ] {
        let body = every_field(fields, &value);
        out.push(case(
            &format!("fields as {name}"),
            body,
            json,
            strict(has_json),
        ));
    }
    for body in ["{}", "[]", "null", "\"text\"", "42", "{\"unexpected\": 1}"] {
        out.push(case(&format!("JSON {body}"), body, json, strict(has_json)));
    }
    out.push(case("empty form", "", form, strict(has_form)));
    out.push(case(
        "unknown form field",
        "foo=bar",
        form,
        strict(has_form),
    ));

    // Syntax: truncated, NUL bytes, broken UTF-8, nesting past any parser's depth.
    for (name, body) in [
        ("truncated JSON", b"{\"a\": \"b".to_vec()),
        ("raw NUL in JSON", b"{\"a\": \"\x00\"}".to_vec()),
        (
            "broken UTF-8 in JSON",
            b"{\"a\": \"\xff\xfe\xc3\x28\"}".to_vec(),
        ),
        ("UTF-16 JSON", b"\xff\xfe{\x00}\x00".to_vec()),
        ("8000 nested arrays", deep(8000).into_bytes()),
        ("10000 nested arrays", deep(10_000).into_bytes()),
        ("8000 nested objects", "{\"a\":".repeat(2700).into_bytes()),
    ] {
        out.push(case(name, body, json, strict(has_json)));
    }
    // Well-formed but absurd values: escaped NUL bytes, huge strings under the body limit.
    let huge = "x".repeat(15_000);
    for (name, value) in [
        ("escaped NUL", json!("a\u{0}b")),
        ("huge string", json!(huge)),
        ("control characters", json!("\u{1}\u{1b}[31m\r\n")),
    ] {
        let body = every_field(fields, &value);
        out.push(case(
            &format!("fields as {name}"),
            body,
            json,
            NoServerError,
        ));
    }
    for (name, body) in [
        ("form NUL", b"token=a%00b&token_type_hint=%00".to_vec()),
        ("form raw NUL", b"token=a\x00b".to_vec()),
        (
            "form broken UTF-8",
            b"token=%ff%fe&token_type_hint=\xff".to_vec(),
        ),
        ("form huge", format!("token={huge}").into_bytes()),
        (
            "form bad escapes",
            b"token=%zz%&&=&token_type_hint=%".to_vec(),
        ),
    ] {
        out.push(case(name, body, form, NoServerError));
    }
    out.push(case(
        "over the body limit",
        format!("{{\"a\": \"{}\"}}", "x".repeat(64 * 1024)),
        json,
        ClientError,
    ));

    // Wrong content types for a body that would be right.
    let right_body = match kind {
        BodyKind::Form => "token=abc".to_owned(),
        _ => every_field(fields, &json!("abc"))
            .into_iter()
            .map(char::from)
            .collect(),
    };
    let wrong_types: &[Option<&str>] = match kind {
        BodyKind::Json => &[
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/jsonx"),
        ],
        BodyKind::Form => &[
            None,
            Some("application/json"),
            Some("text/plain"),
            Some("multipart/form-data; boundary=x"),
        ],
        BodyKind::None => &[Some("application/octet-stream")],
    };
    for ct in wrong_types {
        let name = format!("content type {ct:?}");
        out.push(case(
            &name,
            right_body.clone(),
            *ct,
            strict(kind != BodyKind::None),
        ));
    }

    // Absurd headers, with an otherwise ordinary request.
    let content_type = match kind {
        BodyKind::Form => form,
        _ => json,
    };
    let header_cases: Vec<(&str, HeaderName, Vec<u8>)> = vec![
        (
            "huge content type",
            CONTENT_TYPE,
            format!("application/json; {}", "a=b; ".repeat(1500)).into_bytes(),
        ),
        ("content type junk", CONTENT_TYPE, b"\t;;;==/".to_vec()),
        (
            "content type obs-text",
            CONTENT_TYPE,
            b"application/json; charset=\xff".to_vec(),
        ),
        (
            "huge bearer",
            AUTHORIZATION,
            format!("Bearer {}", "A".repeat(7000)).into_bytes(),
        ),
        (
            "bearer obs-text",
            AUTHORIZATION,
            b"Bearer \xff\xfe.\x80.\x81".to_vec(),
        ),
        (
            "odd scheme",
            AUTHORIZATION,
            b"Bearer\tBearer  Basic ===".to_vec(),
        ),
        (
            "huge cookie",
            COOKIE,
            format!("a={}", "b".repeat(7000)).into_bytes(),
        ),
        ("cookie soup", COOKIE, b";;==;\"\";a=\"\xff\";=;".to_vec()),
        (
            "origin junk",
            HeaderName::from_static("origin"),
            b"http://[::1".to_vec(),
        ),
        (
            "sec-fetch-site junk",
            HeaderName::from_static("sec-fetch-site"),
            b"\xffcross".to_vec(),
        ),
        (
            "user agent obs-text",
            HeaderName::from_static("user-agent"),
            vec![0xe9; 3000],
        ),
    ];
    for (name, header, value) in header_cases {
        let mut c = case(name, right_body.clone(), None, NoServerError);
        // These replace the request's own content type or credential.
        if header != CONTENT_TYPE {
            c.content_type = content_type.map(str::to_owned);
        }
        c.headers.push((
            header,
            HeaderValue::from_bytes(&value).expect("a header value"),
        ));
        out.push(c);
    }
    // hyper itself refuses more than 100 headers with a bare 431, before any of our code runs
    // (see `too_many_headers_are_refused_by_hyper`); stay under that here.
    let mut many = case(
        "eighty junk headers",
        right_body,
        content_type,
        NoServerError,
    );
    for i in 0..80 {
        let name = HeaderName::from_bytes(format!("x-junk-{i}").as_bytes()).unwrap();
        many.headers
            .push((name, HeaderValue::from_static("junk\tjunk")));
    }
    out.push(many);
    out
}
