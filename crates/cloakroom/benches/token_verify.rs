//! Token verification, the hot path of `jwt` and `hybrid` modes: everything a request pays for
//! (size, shape, header, key lookup, signature, claims, deny-list), per algorithm, and the
//! deny-list lookup alone; and with the verified-token cache, a token seen for the first time
//! (full verification, plus hashing and inserting it) against one presented again.
//!
//! ```text
//! cargo bench -p cloakroom --features jwt --bench token_verify               # aws-lc-rs
//! cargo bench -p cloakroom --features jwt-rust-crypto --bench token_verify   # and RustCrypto
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use cloakroom::clock::{Clock, SystemClock, Timestamp};
use cloakroom::revocation::{DenyList, Revocation};
use cloakroom::token::{
    Algorithm, Backend, Key, KeyRing, KeySet, StoredKey, TokenIssuer, TokenSubject, TokenVerifier,
    Validation,
};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

const ISS: &str = "https://auth.example";
const AUD: &str = "cloakroom";
/// Revoked entries of each kind in the deny-list, so lookups hit a populated table.
const REVOKED: usize = 10_000;

fn deny_list() -> Arc<DenyList> {
    let deny = Arc::new(DenyList::new());
    let until = SystemClock.now().saturating_add(Duration::from_secs(3600));
    for i in 0..REVOKED {
        deny.apply(&Revocation::token(format!("revoked-jti-{i}"), until));
        deny.apply(&Revocation::session(format!("revoked-sid-{i}"), until));
        deny.apply(&Revocation::user(
            format!("user-{i}"),
            Timestamp::from_unix(0),
            until,
        ));
    }
    deny
}

fn subject() -> TokenSubject {
    TokenSubject {
        user_id: "42".into(),
        name: "Bhaskar".into(),
        roles: vec!["user".into(), "admin".into()],
        session: "c2Vzc2lvbiBoYW5kbGUhIQ".into(),
    }
}

/// The backends to compare: RustCrypto too when the feature brings it in.
fn backends() -> Vec<Backend> {
    vec![
        Backend::AwsLcRs,
        #[cfg(feature = "jwt-rust-crypto")]
        Backend::RustCrypto,
    ]
}

fn select(backend: Backend) {
    #[cfg(feature = "jwt-rust-crypto")]
    cloakroom::token::set_backend(backend);
    #[cfg(not(feature = "jwt-rust-crypto"))]
    let _ = backend;
}

fn verify(c: &mut Criterion) {
    let deny = deny_list();
    for backend in backends() {
        select(backend);
        let mut group = c.benchmark_group(format!("verify/{}", backend.name()));
        for alg in [
            Algorithm::Hs256,
            Algorithm::EdDSA,
            Algorithm::Es256,
            Algorithm::Rs256,
        ] {
            let stored = StoredKey::generate(alg, SystemClock.now()).unwrap();
            let ring = KeyRing::new(KeySet::new(Key::from_stored(&stored).unwrap()));
            let issuer = TokenIssuer::new(ring.clone(), ISS, AUD, Duration::from_secs(3600));
            // The full verification every time: without the verified-token cache.
            let verifier = TokenVerifier::new(ring, Validation::new(ISS, AUD))
                .with_deny_list(deny.clone())
                .with_verified_cache(0);
            let token = issuer.issue(&subject()).unwrap().token;
            let token = token.expose_secret().to_owned();
            assert!(verifier.verify(&token).is_ok());
            group.bench_function(alg.as_str(), |b| {
                b.iter(|| verifier.verify(black_box(&token)))
            });
        }
        group.finish();
    }
    select(Backend::AwsLcRs);
}

/// The verified-token cache (default size): `first_sight` verifies a token never seen before
/// (issued in the untimed setup, so the cache fills and then evicts, as under real traffic);
/// `repeat` presents the same token again.
fn cached(c: &mut Criterion) {
    let deny = deny_list();
    let mut group = c.benchmark_group("verified_cache");
    for alg in [Algorithm::Hs256, Algorithm::EdDSA, Algorithm::Es256] {
        let stored = StoredKey::generate(alg, SystemClock.now()).unwrap();
        let ring = KeyRing::new(KeySet::new(Key::from_stored(&stored).unwrap()));
        let issuer = TokenIssuer::new(ring.clone(), ISS, AUD, Duration::from_secs(3600));
        let verifier =
            TokenVerifier::new(ring, Validation::new(ISS, AUD)).with_deny_list(deny.clone());
        let issue = || {
            let token = issuer.issue(&subject()).unwrap().token;
            token.expose_secret().to_owned()
        };
        group.bench_function(format!("first_sight/{}", alg.as_str()), |b| {
            b.iter_batched(
                issue,
                |token| verifier.verify(black_box(&token)),
                BatchSize::SmallInput,
            )
        });
        let token = issue();
        assert!(verifier.verify(&token).is_ok());
        assert!(verifier.verified_cache().unwrap().contains(&token));
        group.bench_function(format!("repeat/{}", alg.as_str()), |b| {
            b.iter(|| verifier.verify(black_box(&token)))
        });
    }
    group.finish();
}

fn deny_list_lookup(c: &mut Criterion) {
    let deny = deny_list();
    let iat = SystemClock.now();
    let mut group = c.benchmark_group("deny_list");
    // The common case: nothing about this token is revoked (three lookups, all misses).
    group.bench_function("check_miss", |b| {
        b.iter(|| {
            deny.check(
                black_box("Rk9PQkFSQkFaUVVYMTIzNA"),
                black_box("c2Vzc2lvbiBoYW5kbGUhIQ"),
                black_box("42"),
                iat,
            )
        })
    });
    group.bench_function("check_hit_user", |b| {
        b.iter(|| {
            deny.check(
                black_box("Rk9PQkFSQkFaUVVYMTIzNA"),
                black_box("c2Vzc2lvbiBoYW5kbGUhIQ"),
                black_box("user-4242"),
                iat,
            )
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(60)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = verify, cached, deny_list_lookup
}
criterion_main!(benches);
