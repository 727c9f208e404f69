//! Access-token issuance and verification against the bare signature operation of the
//! same algorithm and library (ring). Run: `cargo bench -p symbolon-core --bench tokens`.
// criterion_group! makes a public function without a doc comment.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::sync::Arc;
use symbolon_core::access::{issue, AccessClaims, Expectations, KeySet};
use symbolon_core::keys::{SigningAlg, SigningKey};

fn claims() -> AccessClaims {
    AccessClaims {
        iss: "http://127.0.0.1:8080".into(),
        sub: "dD_hoiirwdRuFtBnNthYxg".into(),
        aud: "symbolon".into(),
        exp: 1_900_000_900,
        iat: 1_900_000_000,
        jti: "zARkLCS1U3Cwi2kpn92c5Q".into(),
        sid: "IOcDYwJRKwNcb46klB0U_A".into(),
        client_id: "symbolon".into(),
        preferred_username: "alice".into(),
        nbf: None,
    }
}

fn bench(c: &mut Criterion) {
    let expect = Expectations {
        issuer: "http://127.0.0.1:8080".into(),
        audience: "symbolon".into(),
        leeway: 30,
    };
    for alg in [SigningAlg::EdDSA, SigningAlg::HS256] {
        let (key, material) = SigningKey::generate(alg).expect("key");
        let key = Arc::new(key);
        let set = KeySet::new(key.clone(), []);
        let token = issue(&key, &claims()).expect("token");
        let (input, signature) = token.rsplit_once('.').expect("jws");
        let signature =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, signature)
                .expect("b64");

        // The bare operations, with the key parsed once, as the floor.
        match alg {
            SigningAlg::EdDSA => {
                let pair = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&material)
                    .expect("pkcs8");
                let public = ring::signature::KeyPair::public_key(&pair)
                    .as_ref()
                    .to_vec();
                c.bench_function("EdDSA bare sign", |b| {
                    b.iter(|| pair.sign(black_box(input.as_bytes())))
                });
                let verifier =
                    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public);
                c.bench_function("EdDSA bare verify", |b| {
                    b.iter(|| {
                        verifier
                            .verify(black_box(input.as_bytes()), &signature)
                            .expect("valid")
                    })
                });
            }
            _ => {
                let hmac = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &material);
                c.bench_function("HS256 bare sign", |b| {
                    b.iter(|| ring::hmac::sign(&hmac, black_box(input.as_bytes())))
                });
                c.bench_function("HS256 bare verify", |b| {
                    b.iter(|| {
                        ring::hmac::verify(&hmac, black_box(input.as_bytes()), &signature)
                            .expect("valid")
                    })
                });
            }
        }
        let claims = claims();
        c.bench_function(&format!("{alg} issue access token"), |b| {
            b.iter(|| issue(&key, black_box(&claims)).expect("token"))
        });
        c.bench_function(&format!("{alg} verify access token"), |b| {
            b.iter(|| {
                set.verify(black_box(&token), &expect, 1_900_000_100)
                    .expect("valid")
            })
        });
    }
}

/// One Argon2id hash with the default (OWASP) parameters: the unit of the login target.
fn password(c: &mut Criterion) {
    use symbolon_core::ids::Password;
    use symbolon_core::password::{HashParams, Hasher, Scratch};
    let hasher = Hasher::new(HashParams::default()).expect("params");
    let mut scratch = Scratch::default();
    let password = Password::new("correct horse battery".into());
    let mut group = c.benchmark_group("argon2id");
    group.sample_size(20);
    group.bench_function("hash m=19456 t=2 p=1", |b| {
        b.iter(|| hasher.hash(&mut scratch, &password))
    });
    group.finish();
}

criterion_group!(benches, bench, password);
criterion_main!(benches);
