//! Input that is not a token at all, or too much of one. None of it may panic.

use cloakroom::token::{Algorithm, MAX_TOKEN_BYTES, TokenError, TokenPart};
use serde_json::json;

use crate::token_support::*;

#[test]
fn wrong_shapes_are_malformed() {
    let server = Server::new(Algorithm::EdDSA);
    let token = server.token();
    let four = format!("{token}.AAAA");
    let five = format!("{token}.AAAA.AAAA");
    let (h, rest) = token.split_once('.').unwrap();
    let two = format!("{h}.{}", rest.split('.').next().unwrap());
    for bad in [
        "", ".", "..", "...", "abc", "a.b", "a..c", ".b.c", &two, &four, &five,
    ] {
        assert!(
            matches!(server.verify(bad), Err(TokenError::Malformed(_))),
            "{bad}"
        );
    }
}

#[test]
fn bad_base64_and_bad_json_are_refused() {
    let server = Server::new(Algorithm::EdDSA);
    let token = server.token();
    let parts: Vec<&str> = token.split('.').collect();
    let with_header = |h: &str| format!("{h}.{}.{}", parts[1], parts[2]);
    for (bad, part) in [
        (with_header("!!!!"), TokenPart::Header),
        (with_header(&format!("{}=", parts[0])), TokenPart::Header),
        (
            with_header(&parts[0].replace('_', "/").replace('-', "+")),
            TokenPart::Header,
        ),
        (format!(" {token}"), TokenPart::Header),
        (format!("{token}\n"), TokenPart::Signature),
        (
            format!("{}.{}.{}==", parts[0], parts[1], parts[2]),
            TokenPart::Signature,
        ),
    ] {
        match server.verify(&bad) {
            Err(TokenError::BadEncoding(p)) => assert_eq!(p, part, "{bad:?}"),
            // Replacing the URL-safe characters may leave nothing to replace.
            Ok(_) if part == TokenPart::Header => {}
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    for header in [
        b"not json".as_slice(),
        b"[1,2]",
        b"\"alg\"",
        b"\xff\xfe",
        b"{\"alg\":\"EdDSA\"",
    ] {
        let bad = with_header(&b64(header));
        assert!(
            matches!(server.verify(&bad), Err(TokenError::BadHeader(_))),
            "{}",
            String::from_utf8_lossy(header)
        );
    }
    // A payload that is not a claims object, under a valid signature.
    for payload in [b"[1,2]".as_slice(), b"not json", b"\"claims\"", b"{}{}"] {
        let input = format!("{}.{}", json_b64(&server.header()), b64(payload));
        let sig = sign_bytes(&server.stored, input.as_bytes());
        let bad = format!("{input}.{}", b64(&sig));
        assert!(
            matches!(server.verify(&bad), Err(TokenError::BadClaims(_))),
            "{}",
            String::from_utf8_lossy(payload)
        );
    }
}

#[test]
fn oversized_tokens_are_refused_before_anything_is_read() {
    let server = Server::new(Algorithm::Hs256);
    let near = |pad: usize| server.token_with(|c| c["pad"] = json!("x".repeat(pad)));
    // The largest token that fits passes.
    let mut pad = 5_000;
    while near(pad + 1).len() <= MAX_TOKEN_BYTES {
        pad += 1;
    }
    let fits = near(pad);
    assert!(fits.len() <= MAX_TOKEN_BYTES && fits.len() > MAX_TOKEN_BYTES - 4);
    assert!(server.verify(&fits).is_ok());
    let over = near(pad + 1);
    assert!(matches!(
        server.verify(&over),
        Err(TokenError::TooLarge { len, max: MAX_TOKEN_BYTES }) if len == over.len()
    ));
    let huge = "A".repeat(10 * 1024 * 1024);
    assert!(matches!(
        server.verify(&huge),
        Err(TokenError::TooLarge { .. })
    ));
}

#[test]
fn mutated_and_random_input_never_panics() {
    let server = Server::new(Algorithm::Es256);
    let token = server.token();
    let mut accepted = 0;
    for i in 0..token.len() {
        for c in ['.', 'A', '_', '-', '=', '~', 'é', '\0', ' '] {
            let mut mutated: Vec<char> = token.chars().collect();
            mutated[i] = c;
            let mutated: String = mutated.into_iter().collect();
            if server.verify(&mutated).is_ok() {
                accepted += 1;
                assert_eq!(mutated, token);
            }
        }
    }
    assert!(accepted <= token.len());
    // xorshift: deterministic noise of every length up to 300, from bytes and from the
    // base64url alphabet with dots.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
    for len in 0..300 {
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let _ = server.verify(&String::from_utf8_lossy(&bytes));
        let text: String = (0..len)
            .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize] as char)
            .collect();
        assert!(server.verify(&text).is_err());
    }
    // Random JSON-ish headers in a well-formed frame.
    for header in [
        json!({}),
        json!({"alg": null}),
        json!({"alg": "EdDSA", "kid": "x".repeat(100)}),
        json!({"alg": {"nested": [1, 2, 3]}}),
        json!({"alg": "ES256", "kid": server.kid(), "typ": 1}),
    ] {
        let bad = assemble(&header, &server.claims(), b"sig");
        assert!(server.verify(&bad).is_err(), "{header}");
    }
}
