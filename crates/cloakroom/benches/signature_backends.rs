//! The signature check alone, by each maintained implementation, side by side in one run: what
//! a first sight of an EdDSA or ES256 token costs beyond parsing (docs/PERFORMANCE.md,
//! "Signature implementations"). aws-lc-rs is what jsonwebtoken verifies with here; ring;
//! RustCrypto's ed25519-dalek (`verify_strict`) and p256, which jsonwebtoken's other backend
//! uses. The message is a token's signing input (header and claims, ~330 bytes).
//!
//! ```text
//! cargo bench -p cloakroom --features jwt --bench signature_backends
//! ```

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as aws, KeyPair as _};
use criterion::{Criterion, black_box, criterion_group, criterion_main};
use ed25519_dalek::Verifier as _;

fn message() -> Vec<u8> {
    let mut m = b"eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0.".to_vec();
    m.resize(330, b'x');
    m
}

fn ed25519(c: &mut Criterion) {
    let rng = SystemRandom::new();
    let pkcs8 = aws::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = aws::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let msg = message();
    let sig = pair.sign(&msg).as_ref().to_vec();
    let public: [u8; 32] = pair.public_key().as_ref().try_into().unwrap();
    let mut g = c.benchmark_group("ed25519_verify");
    g.bench_function("aws-lc-rs", |b| {
        b.iter(|| {
            aws::UnparsedPublicKey::new(&aws::ED25519, black_box(&public))
                .verify(black_box(&msg), black_box(&sig))
                .unwrap()
        })
    });
    g.bench_function("ring", |b| {
        b.iter(|| {
            ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, black_box(&public))
                .verify(black_box(&msg), black_box(&sig))
                .unwrap()
        })
    });
    let dalek_sig = ed25519_dalek::Signature::from_slice(&sig).unwrap();
    // The key decoded once, as a key ring would keep it.
    let dalek_key = ed25519_dalek::VerifyingKey::from_bytes(&public).unwrap();
    g.bench_function("ed25519-dalek verify_strict", |b| {
        b.iter(|| {
            dalek_key
                .verify_strict(black_box(&msg), black_box(&dalek_sig))
                .unwrap()
        })
    });
    g.bench_function("ed25519-dalek verify", |b| {
        b.iter(|| {
            dalek_key
                .verify(black_box(&msg), black_box(&dalek_sig))
                .unwrap()
        })
    });
    g.finish();
}

fn p256(c: &mut Criterion) {
    let rng = SystemRandom::new();
    let alg = &aws::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pkcs8 = aws::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    let pair = aws::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref()).unwrap();
    let msg = message();
    let sig = pair.sign(&rng, &msg).unwrap().as_ref().to_vec();
    let public = pair.public_key().as_ref().to_vec(); // SEC1, uncompressed
    let mut g = c.benchmark_group("es256_verify");
    g.bench_function("aws-lc-rs", |b| {
        b.iter(|| {
            aws::UnparsedPublicKey::new(&aws::ECDSA_P256_SHA256_FIXED, black_box(&public))
                .verify(black_box(&msg), black_box(&sig))
                .unwrap()
        })
    });
    g.bench_function("ring", |b| {
        b.iter(|| {
            ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                black_box(&public),
            )
            .verify(black_box(&msg), black_box(&sig))
            .unwrap()
        })
    });
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&public).unwrap();
    let p_sig = p256::ecdsa::Signature::from_slice(&sig).unwrap();
    g.bench_function("p256 (RustCrypto)", |b| {
        b.iter(|| {
            p256::ecdsa::signature::Verifier::verify(&key, black_box(&msg), black_box(&p_sig))
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, ed25519, p256);
criterion_main!(benches);
