//! Access tokens from the outside: an independent JWT library verifies them from the
//! published JWKS alone, and the attacks of RFC 8725 against `/me` all fail.

use crate::helpers::{
    assert_invalid_token, jwt_header, jwt_payload, spawn_app, spawn_with, TestApp, ALICE_PASSWORD,
    T0,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use ring::signature::Ed25519KeyPair;
use serde_json::{json, Value};
use std::str::FromStr;
use symbolon_core::access::AccessClaims;
use symbolon_core::keys::SigningAlg;

const ISSUER: &str = "http://symbolon.test";
const AUDIENCE: &str = "symbolon";

/// The JWKS as a resource server sees it: fetched over HTTP.
async fn fetch_jwks(app: &TestApp) -> JwkSet {
    let response = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    response
        .json()
        .await
        .expect("a JWK Set jsonwebtoken understands")
}

/// Verifies `token` the way an independent resource server would: the key and the
/// algorithm come from the JWKS entry the `kid` names, never from the token.
fn verify_independently(jwks: &JwkSet, token: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).expect("header");
    let kid = header.kid.expect("kid");
    let jwk: &Jwk = jwks
        .find(&kid)
        .unwrap_or_else(|| panic!("kid {kid} is not in the JWKS"));
    let published = serde_json::to_value(jwk).expect("jwk");
    let alg = Algorithm::from_str(published["alg"].as_str().expect("alg")).expect("a known alg");
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // The server runs on a fake clock; expiry is compared with it below.
    validation.validate_exp = false;
    let key = DecodingKey::from_jwk(jwk).expect("decoding key from the JWK");
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("the token verifies")
        .claims
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A compact JWS of `header` and `claims`, signed by `sign` over the signing input.
fn compact(header: &Value, claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = sign(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

/// Signs with the server's own current key: only the content of the token is wrong.
fn server_signed(app: &TestApp, header: &Value, claims: &Value) -> String {
    let keys = app.service().keys().key_set();
    compact(header, claims, |input| {
        keys.current().sign(input).expect("sign")
    })
}

fn hs256(secret: &[u8]) -> impl FnOnce(&[u8]) -> Vec<u8> + '_ {
    move |input| {
        ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret),
            input,
        )
        .as_ref()
        .to_vec()
    }
}

fn foreign_ed25519() -> Ed25519KeyPair {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("key");
    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key")
}

/// Sends `token` to `/me` and asserts the RFC 6750 §3 refusal.
async fn assert_refused(app: &TestApp, name: &str, token: &str) {
    let response = app.get("/me", Some(token)).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "{name} was accepted"
    );
    assert_invalid_token(response).await;
}

#[tokio::test]
async fn access_tokens_verify_from_the_jwks_alone_for_every_public_algorithm() {
    for alg in ["EdDSA", "ES256", "RS256"] {
        let app =
            spawn_with(|c| c.signing_alg = SigningAlg::parse(alg).expect("an algorithm")).await;
        let user_id = app.add_user("alice", ALICE_PASSWORD).await;
        let tokens = app.login("alice", ALICE_PASSWORD).await;
        let jwks = fetch_jwks(&app).await;

        let header = jwt_header(&tokens.access);
        assert_eq!(header["alg"], alg);
        assert_eq!(header["typ"], "at+jwt", "RFC 9068 §2.1");
        assert!(header["kid"].is_string(), "{header}");

        let claims = verify_independently(&jwks, &tokens.access);
        for claim in [
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "jti",
            "sid",
            "client_id",
            "preferred_username",
        ] {
            assert!(
                claims.get(claim).is_some(),
                "{alg}: {claim} missing from {claims}"
            );
        }
        assert_eq!(claims["sub"], user_id, "{alg}: sub is the stable user id");
        assert_ne!(claims["sub"], "alice");
        assert_eq!(claims["preferred_username"], "alice");
        assert_eq!(claims["sid"], tokens.session_id);
        assert_eq!(claims["client_id"], "symbolon");
        assert_eq!(
            (claims["iat"].as_i64(), claims["exp"].as_i64()),
            (Some(T0), Some(T0 + 900)),
            "{alg}"
        );

        // Algorithm confusion (RFC 8725 §2.1): an HMAC keyed with what is public.
        let jwk = serde_json::to_value(
            jwks.find(header["kid"].as_str().expect("kid"))
                .expect("jwk"),
        )
        .expect("jwk");
        let public_part = jwk["x"]
            .as_str()
            .or(jwk["n"].as_str())
            .expect("public part");
        let raw_public = URL_SAFE_NO_PAD.decode(public_part).expect("base64url");
        let confused = json!({"alg": "HS256", "typ": "at+jwt", "kid": header["kid"]});
        let jwk_text = jwk.to_string();
        for (what, secret) in [
            ("raw public key", raw_public.as_slice()),
            ("JWK text", jwk_text.as_bytes()),
        ] {
            let forged = compact(&confused, &jwt_payload(&tokens.access), hs256(secret));
            assert_refused(
                &app,
                &format!("{alg}: HS256 keyed with the {what}"),
                &forged,
            )
            .await;
        }
        assert_eq!(app.me_status(&tokens.access).await, StatusCode::OK, "{alg}");
    }
}

#[tokio::test]
async fn every_token_has_its_own_jti() {
    let app = spawn_app().await;
    let first = app.alice().await;
    let second = app.login("alice", ALICE_PASSWORD).await;
    let third = app.refresh(&first.refresh).await;
    let jtis: Vec<Value> = [&first, &second, &third]
        .iter()
        .map(|t| jwt_payload(&t.access)["jti"].clone())
        .collect();
    assert!(jtis.iter().all(Value::is_string), "{jtis:?}");
    assert!(
        jtis[0] != jtis[1] && jtis[1] != jtis[2] && jtis[0] != jtis[2],
        "{jtis:?}"
    );
}

#[tokio::test]
async fn rfc_8725_attacks_are_refused() {
    let app = spawn_app().await;
    let tokens = app.alice().await;
    let bob_id = app.add_user("bob", ALICE_PASSWORD).await;
    let header = jwt_header(&tokens.access);
    let claims = jwt_payload(&tokens.access);
    let kid = header["kid"].clone();
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut value = claims.clone();
        edit(&mut value);
        value
    };
    let without = |claim: &str| with(&|c| drop(c.as_object_mut().map(|o| o.remove(claim))));
    let signed = |header: Value, claims: Value| server_signed(&app, &header, &claims);
    let unsigned = |header: Value| compact(&header, &claims, |_| vec![]);

    // The crafting path itself is sound: the real header and claims, re-signed with the
    // server's key, are accepted. So each refusal below is for what the case changes.
    let control = signed(header.clone(), claims.clone());
    assert_eq!(app.me_status(&control).await, StatusCode::OK, "control");

    let parts: Vec<&str> = tokens.access.split('.').collect();
    let foreign = foreign_ed25519();
    let foreign_sign = |input: &[u8]| foreign.sign(input).as_ref().to_vec();
    let other = app.login("alice", ALICE_PASSWORD).await;
    let other_signature = other
        .access
        .rsplit('.')
        .next()
        .expect("signature")
        .to_owned();
    let bob_session = app.login("bob", ALICE_PASSWORD).await.session_id;
    let none_header = b64(json!({"alg": "none", "typ": "at+jwt", "kid": kid})
        .to_string()
        .as_bytes());
    let edited_payload = b64(with(&|c| c["sub"] = json!(bob_id)).to_string().as_bytes());

    // One attack a line: (what is wrong, the token).
    #[rustfmt::skip]
    let attacks: Vec<(&str, String)> = vec![
        ("alg none, unsigned", unsigned(json!({"alg": "none", "typ": "at+jwt", "kid": kid}))),
        ("alg none without kid", unsigned(json!({"alg": "none", "typ": "at+jwt"}))),
        ("alg none with the real signature", format!("{none_header}.{}.{}", parts[1], parts[2])),
        ("unknown kid", compact(&json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "no-such-key"}), &claims, foreign_sign)),
        ("no kid", signed(json!({"alg": "EdDSA", "typ": "at+jwt"}), claims.clone())),
        ("a foreign key under the server's kid", compact(&header, &claims, foreign_sign)),
        ("edited payload (sub is bob)", format!("{}.{edited_payload}.{}", parts[0], parts[2])),
        ("another token's signature", format!("{}.{}.{other_signature}", parts[0], parts[1])),
        ("truncated signature", tokens.access[..tokens.access.len() - 4].to_owned()),
        ("no signature", format!("{}.{}.", parts[0], parts[1])),
        ("typ JWT", signed(json!({"alg": "EdDSA", "typ": "JWT", "kid": kid}), claims.clone())),
        ("no typ", signed(json!({"alg": "EdDSA", "kid": kid}), claims.clone())),
        ("nbf an hour ahead", signed(header.clone(), with(&|c| c["nbf"] = json!(T0 + 3600)))),
        ("no exp", signed(header.clone(), without("exp"))),
        ("no aud", signed(header.clone(), without("aud"))),
        ("no iss", signed(header.clone(), without("iss"))),
        ("exp as a string", signed(header.clone(), with(&|c| c["exp"] = json!("never")))),
        ("sid of no session", signed(header.clone(), with(&|c| c["sid"] = json!("AAAAAAAAAAAAAAAAAAAAAA")))),
        ("sid of another user's session", signed(header.clone(), with(&|c| c["sid"] = json!(bob_session)))),
        ("the refresh token", tokens.refresh.clone()),
        ("two dots only", "..".to_owned()),
    ];
    for (name, token) in &attacks {
        assert_refused(&app, name, token).await;
    }
    assert_eq!(
        app.me_status(&tokens.access).await,
        StatusCode::OK,
        "the real token still works"
    );
}

#[tokio::test]
async fn wrong_audience_or_issuer_is_refused_even_with_the_servers_key() {
    let app = spawn_app().await;
    let tokens = app.alice().await;
    let claims: AccessClaims = serde_json::from_value(jwt_payload(&tokens.access)).expect("claims");
    let keys = app.service().keys().key_set();
    let sign = |claims: &AccessClaims| {
        symbolon_core::access::issue(keys.current(), claims).expect("issue")
    };

    assert_eq!(
        app.me_status(&sign(&claims)).await,
        StatusCode::OK,
        "control"
    );
    let cases = [
        (
            "wrong aud",
            AccessClaims {
                aud: "another-api".into(),
                ..claims.clone()
            },
        ),
        (
            "wrong iss",
            AccessClaims {
                iss: "http://evil.test".into(),
                ..claims.clone()
            },
        ),
        (
            "iss with a trailing slash",
            AccessClaims {
                iss: format!("{ISSUER}/"),
                ..claims.clone()
            },
        ),
        (
            "sub of another user",
            AccessClaims {
                sub: symbolon_core::ids::UserId::generate().to_string(),
                ..claims.clone()
            },
        ),
        (
            "expired long ago",
            AccessClaims {
                exp: T0 - 3600,
                iat: T0 - 4500,
                ..claims.clone()
            },
        ),
    ];
    for (name, claims) in &cases {
        assert_refused(&app, name, &sign(claims)).await;
    }
}

#[tokio::test]
async fn tokens_of_another_server_are_refused() {
    let app = spawn_app().await;
    app.alice().await;
    // Same issuer, audience, algorithm and username: only the keys differ.
    let elsewhere = spawn_app().await;
    let foreign = elsewhere.alice().await;
    assert_refused(&app, "another server's token", &foreign.access).await;
    let refresh = app.refresh_response(&foreign.refresh).await;
    assert_eq!(
        refresh.status(),
        StatusCode::UNAUTHORIZED,
        "another server's refresh token"
    );
}

#[tokio::test]
async fn tokens_expire_after_their_lifetime_and_the_leeway() {
    let app = spawn_app().await;
    let tokens = app.alice().await;
    // exp = T0 + 900; a 30 s leeway still accepts it up to and including exp + 30.
    app.clock.advance(900 + 30);
    assert_eq!(app.me_status(&tokens.access).await, StatusCode::OK);
    app.clock.advance(1);
    assert_refused(&app, "an expired token", &tokens.access).await;
    // A refresh gives a working token again.
    let fresh = app.refresh(&tokens.refresh).await;
    assert_eq!(app.me_status(&fresh.access).await, StatusCode::OK);
}

#[tokio::test]
async fn hs256_tokens_work_and_resist_forgery() {
    let app = spawn_with(|c| c.signing_alg = SigningAlg::HS256).await;
    let tokens = app.alice().await;
    assert_eq!(jwt_header(&tokens.access)["alg"], "HS256");
    assert_eq!(app.me_status(&tokens.access).await, StatusCode::OK);
    let header = jwt_header(&tokens.access);
    let claims = jwt_payload(&tokens.access);
    let none = json!({"alg": "none", "typ": "at+jwt", "kid": header["kid"]});
    let attacks = [
        (
            "HS256 with a guessed secret",
            compact(&header, &claims, hs256(b"secret")),
        ),
        (
            "HS256 with an empty secret",
            compact(&header, &claims, hs256(b"")),
        ),
        ("alg none", compact(&none, &claims, |_| vec![])),
    ];
    for (name, token) in &attacks {
        assert_refused(&app, name, token).await;
    }
}
