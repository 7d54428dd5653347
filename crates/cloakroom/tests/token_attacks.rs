//! Every known attack on JWT verification, as a forged token that must be refused with the
//! error that names it. Claims, time and revocation attacks are in `token_attacks/claims.rs`;
//! malformed input in `token_attacks/malformed.rs`.

mod token_support;

#[path = "token_attacks/claims.rs"]
mod claims;
#[path = "token_attacks/malformed.rs"]
mod malformed;

use std::io::ErrorKind;
use std::net::TcpListener;
use std::time::Duration;

use aws_lc_rs::hmac;
use cloakroom::token::{Algorithm, TokenError};
use serde_json::json;
use token_support::*;

#[test]
fn the_forger_makes_tokens_that_verify() {
    // Otherwise every refusal below could be the forger's fault.
    for alg in Algorithm::ALL {
        let server = Server::new(alg);
        let claims = server.verify(&server.token()).unwrap();
        assert_eq!(claims.name, "Bhaskar", "{alg}");
    }
}

#[test]
fn alg_none_is_refused_in_every_spelling_with_and_without_signature() {
    let server = Server::new(Algorithm::Hs256);
    let real = server.token();
    let real_sig = real.rsplit('.').next().unwrap();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": server.kid()});
        let unsigned = format!("{}.{}.", json_b64(&header), json_b64(&server.claims()));
        let with_real = format!(
            "{}.{}.{real_sig}",
            json_b64(&header),
            json_b64(&server.claims())
        );
        let signed = server.forge(&header, &server.claims());
        let no_kid = format!(
            "{}.{}.",
            json_b64(&json!({"alg": alg})),
            json_b64(&server.claims())
        );
        for token in [unsigned, with_real, signed, no_kid] {
            assert!(
                matches!(server.verify(&token), Err(TokenError::AlgorithmNone)),
                "{alg}: {token}"
            );
        }
    }
}

#[test]
fn stripped_truncated_and_flipped_signatures_are_refused() {
    for alg in Algorithm::ALL {
        let server = Server::new(alg);
        let token = server.token();
        let (input, sig) = token.rsplit_once('.').unwrap();

        let stripped = format!("{input}.");
        assert!(
            matches!(server.verify(&stripped), Err(TokenError::BadSignature)),
            "{alg}"
        );
        assert!(
            matches!(server.verify(input), Err(TokenError::Malformed(_))),
            "{alg}"
        );

        let mut bytes = unb64(sig);
        for keep in [bytes.len() - 1, bytes.len() / 2, 1] {
            let truncated = format!("{input}.{}", b64(&bytes[..keep]));
            assert!(
                matches!(server.verify(&truncated), Err(TokenError::BadSignature)),
                "{alg}"
            );
        }
        // Cut as text, the last character may carry bits that do not decode canonically.
        let cut = format!("{input}.{}", &sig[..sig.len() - 1]);
        assert!(matches!(
            server.verify(&cut),
            Err(TokenError::BadSignature | TokenError::BadEncoding(_))
        ));

        for bit in [0, 7, bytes.len() * 8 - 1] {
            bytes[bit / 8] ^= 1 << (bit % 8);
            let flipped = format!("{input}.{}", b64(&bytes));
            assert!(
                matches!(server.verify(&flipped), Err(TokenError::BadSignature)),
                "{alg} bit {bit}"
            );
            bytes[bit / 8] ^= 1 << (bit % 8);
        }
    }
}

#[test]
fn an_edited_payload_under_the_old_signature_is_refused() {
    for alg in Algorithm::ALL {
        let server = Server::new(alg);
        let token = server.token();
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims = server.claims();
        claims["roles"] = json!(["admin"]);
        claims["exp"] = json!(T0 + 10 * 365 * 86_400);
        let edited = format!("{}.{}.{}", parts[0], json_b64(&claims), parts[2]);
        assert!(
            matches!(server.verify(&edited), Err(TokenError::BadSignature)),
            "{alg}"
        );
    }
}

#[test]
fn hs256_keyed_with_the_servers_public_key_is_refused() {
    for alg in ASYMMETRIC {
        let server = Server::new(alg);
        let der = server.key.public_key_der().unwrap().to_vec();
        let jwk = server.key.to_jwk().unwrap();
        let raw = unb64(jwk.x.as_deref().or(jwk.n.as_deref()).unwrap());
        let jwk_text = serde_json::to_vec(&jwk).unwrap();
        let secrets = [
            der.clone(),
            pem(&der, true).into_bytes(),
            pem(&der, false).into_bytes(),
            raw,
            jwk_text,
        ];
        for (i, secret) in secrets.iter().enumerate() {
            for (name, mac) in [
                ("HS256", hmac::HMAC_SHA256),
                ("HS384", hmac::HMAC_SHA384),
                ("HS512", hmac::HMAC_SHA512),
            ] {
                let header = json!({"alg": name, "typ": "at+jwt", "kid": server.kid()});
                let input = format!("{}.{}", json_b64(&header), json_b64(&server.claims()));
                let sig = hmac_sign(mac, secret, input.as_bytes());
                let token = format!("{input}.{}", b64(&sig));
                match server.verify(&token) {
                    Err(TokenError::AlgorithmMismatch { expected, found }) => {
                        assert_eq!(expected, alg);
                        assert_eq!(found, name);
                    }
                    other => panic!("{alg} secret #{i} {name}: {other:?}"),
                }
                // The same MAC under the key's own algorithm name fails the signature check.
                let honest_alg = server.header();
                let input = format!("{}.{}", json_b64(&honest_alg), json_b64(&server.claims()));
                let sig = hmac_sign(mac, secret, input.as_bytes());
                let token = format!("{input}.{}", b64(&sig));
                assert!(matches!(
                    server.verify(&token),
                    Err(TokenError::BadSignature)
                ));
            }
        }
    }
}

#[test]
fn an_hmac_key_refuses_every_other_algorithm() {
    let server = Server::new(Algorithm::Hs256);
    for alg in [
        "HS384", "HS512", "RS256", "ES256", "EdDSA", "hs256", "HS256 ",
    ] {
        let token = server.token_with_header(|h| h["alg"] = json!(alg));
        assert!(
            matches!(
                server.verify(&token),
                Err(TokenError::AlgorithmMismatch { .. })
            ),
            "{alg}"
        );
    }
}

#[test]
fn ecdsa_with_r_and_s_zero_is_refused() {
    for (alg, len) in [(Algorithm::Es256, 64), (Algorithm::Es384, 96)] {
        let server = Server::new(alg);
        let header = server.header();
        for sig in [
            vec![0u8; len],
            vec![0u8; len / 2],
            // The same in DER, which JOSE does not use at all.
            vec![0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00],
        ] {
            let token = assemble(&header, &server.claims(), &sig);
            assert!(
                matches!(server.verify(&token), Err(TokenError::BadSignature)),
                "{alg}"
            );
        }
    }
}

#[test]
fn ecdsa_malleability_does_not_escape_revocation() {
    // (r, n - s) is a second valid signature of the same token: different text, same jti.
    // Revocation keys on the jti, so the twin is refused too.
    const P256_N: [u8; 32] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63,
        0x25, 0x51,
    ];
    let server = Server::new(Algorithm::Es256);
    let token = server.token();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let mut sig = unb64(sig);
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(P256_N[i]) - i16::from(sig[32 + i]) - borrow;
        borrow = i16::from(d < 0);
        sig[32 + i] = (d + (borrow << 8)) as u8;
    }
    let twin = format!("{input}.{}", b64(&sig));
    assert_ne!(twin, token);
    let claims = server.verify(&twin).unwrap();
    server.deny.apply(&cloakroom::revocation::Revocation::token(
        claims.jti, claims.exp,
    ));
    assert!(matches!(server.verify(&token), Err(TokenError::Revoked(_))));
    assert!(matches!(server.verify(&twin), Err(TokenError::Revoked(_))));
}

#[test]
fn an_embedded_jwk_is_refused() {
    let server = Server::new(Algorithm::EdDSA);
    let (attacker, x) = attacker_ed25519();
    for with_kid in [true, false] {
        let mut header = json!({"alg": "EdDSA", "typ": "at+jwt",
            "jwk": {"kty": "OKP", "crv": "Ed25519", "x": x}});
        if with_kid {
            header["kid"] = json!(server.kid());
        }
        let input = format!("{}.{}", json_b64(&header), json_b64(&server.claims()));
        let token = format!("{input}.{}", b64(attacker.sign(input.as_bytes()).as_ref()));
        assert!(
            matches!(
                server.verify(&token),
                Err(TokenError::ForbiddenHeader("jwk"))
            ),
            "kid: {with_kid}"
        );
    }
}

#[test]
fn jku_x5u_and_x5c_are_refused_and_nothing_is_fetched() {
    let server = Server::new(Algorithm::Rs256);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    for (member, value) in [
        ("jku", json!(url)),
        ("x5u", json!(url)),
        (
            "x5c",
            json!(["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]),
        ),
    ] {
        // Signed with the server's real key: only the header member can make it fail.
        let token = server.token_with_header(|h| h[member] = value.clone());
        assert!(
            matches!(server.verify(&token), Err(TokenError::ForbiddenHeader(m)) if m == member),
            "{member}"
        );
        let inspected = server.verifier.inspect(&token);
        assert!(inspected.result.is_err());
    }
    std::thread::sleep(Duration::from_millis(200));
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the verifier connected to the URL a token named: {other:?}"),
    }
}

#[test]
fn kid_injections_find_no_key() {
    let server = Server::new(Algorithm::EdDSA);
    let long = "A".repeat(5_000);
    let upper = server.kid().to_uppercase();
    for kid in [
        "../../etc/passwd",
        "/dev/random",
        "file:///etc/shadow",
        "' OR '1'='1",
        "x'; DROP TABLE keys; --",
        "\u{0000}",
        "",
        long.as_str(),
        upper.as_str(),
    ] {
        let token = server.token_with_header(|h| h["kid"] = json!(kid));
        assert!(
            matches!(server.verify(&token), Err(TokenError::UnknownKid)),
            "{}",
            &kid[..kid.len().min(40)]
        );
    }
    for kid in [json!(1), json!({"$ne": null}), json!(["k"]), json!(true)] {
        let token = server.token_with_header(|h| h["kid"] = kid.clone());
        assert!(
            matches!(server.verify(&token), Err(TokenError::BadHeader(_))),
            "{kid}"
        );
    }
    let null_kid = server.token_with_header(|h| h["kid"] = json!(null));
    assert!(matches!(
        server.verify(&null_kid),
        Err(TokenError::MissingKid)
    ));
    let no_kid = server.token_with_header(|h| {
        h.as_object_mut().unwrap().remove("kid");
    });
    assert!(matches!(
        server.verify(&no_kid),
        Err(TokenError::MissingKid)
    ));
}

#[test]
fn unknown_crit_is_refused() {
    let server = Server::new(Algorithm::Es256);
    for crit in [json!(["exp"]), json!([]), json!(["b64"]), json!("exp")] {
        let token = server.token_with_header(|h| {
            h["crit"] = crit.clone();
            h["exp"] = json!(T0);
            h["b64"] = json!(false);
        });
        assert!(
            matches!(server.verify(&token), Err(TokenError::UnsupportedCritical)),
            "{crit}"
        );
    }
}
