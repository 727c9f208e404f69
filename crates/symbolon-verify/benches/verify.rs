//! What verifying an access token costs in a resource server: the bare Ed25519 signature
//! check, against `Verifier::verify` (header, key by `kid`, the signature, the claims
//! and their checks, the revoked-session lookup) with 10^5 revoked sessions held. The
//! allocations and memory are counted by the `alloc` bench (dhat, which would slow the
//! timings here). `cargo bench -p symbolon-verify`; the figures are in BENCHMARKS.md.

// criterion's macros make undocumented public items.
#![allow(missing_docs)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use symbolon_core::access::AccessClaims;
use symbolon_core::ids::SessionId;
use symbolon_core::keys::{SigningAlg, SigningKey};
use symbolon_proto::{RevocationFeed, RevokedSession};
use symbolon_verify::{Config, Verifier};

const ISSUER: &str = "http://127.0.0.1:1";

/// A fresh EdDSA access token signed by `key`, valid for 15 minutes.
pub fn token(key: &SigningKey) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    symbolon_core::access::issue(
        key,
        &AccessClaims {
            iss: ISSUER.into(),
            sub: "dD_hoiirwdRuFtBnNthYxg".into(),
            aud: "symbolon".into(),
            exp: now + 900,
            iat: now,
            jti: "0123456789abcdef0123456789abcdef".into(),
            sid: SessionId::generate().to_string(),
            client_id: "symbolon".into(),
            preferred_username: "alice".into(),
            nbf: None,
        },
    )
    .expect("signs")
}

/// A feed answer naming `n` revoked sessions.
pub fn revocations(n: usize) -> RevocationFeed {
    RevocationFeed {
        revoked: (0..n)
            .map(|i| RevokedSession {
                seq: i as u64 + 1,
                sid: SessionId::generate().to_string(),
                revoked_at: 4_000_000_000,
                until: 4_000_000_930,
            })
            .collect(),
        cursor: n as u64,
        ..RevocationFeed::default()
    }
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let _guard = runtime.enter();
    let (key, _) = SigningKey::generate(SigningAlg::EdDSA).expect("key");
    let jwks = serde_json::json!({"keys": [key.jwk().expect("public")]}).to_string();
    let token = token(&key);
    // The feed is configured (so the revoked-session lookup runs); it points nowhere.
    let config = Config::new(ISSUER, "symbolon").with_revocations("bench", "bench secret");
    let verifier = Verifier::with_jwks(config, &jwks).expect("jwks");
    verifier.absorb_feed_answer(&revocations(100_000));
    assert!(verifier.verify(&token).is_ok());

    let (message, signature) = token.rsplit_once('.').expect("three parts");
    let raw_signature = URL_SAFE_NO_PAD.decode(signature).expect("base64");
    let public = URL_SAFE_NO_PAD
        .decode(key.jwk().expect("public").x.as_deref().expect("x"))
        .expect("base64");
    let ring_key =
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public.as_slice());
    let decoding = symbolon_core::keys::decoding_key(key.jwk().expect("public")).expect("key");

    let mut group = c.benchmark_group("verify");
    group.bench_function("ed25519_signature_only_ring", |b| {
        b.iter(|| {
            ring_key
                .verify(black_box(message.as_bytes()), black_box(&raw_signature))
                .expect("valid")
        })
    });
    group.bench_function("ed25519_signature_only_jsonwebtoken", |b| {
        b.iter(|| {
            jsonwebtoken::crypto::verify(
                black_box(signature),
                black_box(message.as_bytes()),
                &decoding,
                jsonwebtoken::Algorithm::EdDSA,
            )
            .expect("valid")
        })
    });
    group.bench_function("verifier_verify_1e5_revoked", |b| {
        b.iter(|| verifier.verify(black_box(&token)).expect("verifies"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
