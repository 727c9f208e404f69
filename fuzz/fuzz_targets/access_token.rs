//! `KeySet::verify` with hostile tokens.
//!
//! The set holds one key of each algorithm, under fixed kids (`ed`, `es`, `rs`, `hs`) and
//! fresh random material per run (RS256: one of two fixed test keys, picked at random), so
//! the corpus' tokens reach the signature check but the fuzzer never learns a key. Each input is tried twice:
//! - as a token text as it is: never a panic, never valid (the fuzzer has no key);
//! - as a recipe (`arbitrary`) for a forged or a genuine token: a header (`alg`, `typ`,
//!   `kid`, an extra member), claims or a raw payload, a signer (the set's key, a key
//!   with the same kid that is not the set's, HMAC keyed with public material for
//!   algorithm confusion, no signature, garbage) and an edit after signing. A token not
//!   signed by the set's key, or edited after signing, never verifies; a canonical token
//!   signed by the set's key with valid claims does verify, to exactly its claims; and
//!   whatever verifies has claims that satisfy the expectations (checked without overflow).
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use symbolon_core::access::{header_kid, AccessClaims, Expectations, KeySet};
use symbolon_core::keys::{SigningAlg, SigningKey};

const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "api.example.com";
const LEEWAY: i64 = 30;
const KIDS: [(&str, SigningAlg); 4] = [
    ("ed", SigningAlg::EdDSA),
    ("es", SigningAlg::ES256),
    ("rs", SigningAlg::RS256),
    ("hs", SigningAlg::HS256),
];

struct Keys {
    set: KeySet,
    /// The set's keys, in the order of `KIDS`.
    real: Vec<Arc<SigningKey>>,
    /// Keys with the same kids and algorithms that are not the set's.
    foreign: Vec<Arc<SigningKey>>,
}

/// RSA keys: generating two under the sanitizer takes some 40 s, so the RS256 pair is
/// two fixed test keys (made by Python's `cryptography`), one of them picked at random
/// per run as the set's.
const RSA_KEYS: [&[u8]; 2] = [
    include_bytes!("../seeds/rsa-a.pk8"),
    include_bytes!("../seeds/rsa-b.pk8"),
];

fn key(kid: &str, alg: SigningAlg, rsa: &[u8]) -> Arc<SigningKey> {
    let material = match alg {
        SigningAlg::RS256 => rsa.to_vec(),
        _ => SigningKey::generate(alg).expect("a key").1.to_vec(),
    };
    Arc::new(SigningKey::from_material(kid.into(), alg, &material).expect("a key"))
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let pick = usize::from(rand_bit());
        let real: Vec<_> = KIDS
            .iter()
            .map(|(kid, alg)| key(kid, *alg, RSA_KEYS[pick]))
            .collect();
        let foreign = KIDS
            .iter()
            .map(|(kid, alg)| key(kid, *alg, RSA_KEYS[1 - pick]))
            .collect();
        let set = KeySet::new(real[0].clone(), real[1..].iter().cloned());
        Keys { set, real, foreign }
    })
}

/// One random bit, from the operating system (through a fresh HS256 key).
fn rand_bit() -> u8 {
    let (_, material) = SigningKey::generate(SigningAlg::HS256).expect("a key");
    material[0] & 1
}

fn expect() -> Expectations {
    Expectations {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        leeway: LEEWAY,
    }
}

/// Whether claims pass the checks `verify` makes, computed without overflow.
fn claims_acceptable(claims: &AccessClaims, now: i64) -> bool {
    claims.iss == ISSUER
        && claims.aud == AUDIENCE
        && i128::from(now) <= i128::from(claims.exp) + i128::from(LEEWAY)
        && claims
            .nbf
            .is_none_or(|nbf| i128::from(nbf) <= i128::from(now) + i128::from(LEEWAY))
}

#[derive(Arbitrary, Debug)]
enum Kid {
    Ours(u8),
    Unknown(String),
    Missing,
}

#[derive(Arbitrary, Debug)]
enum Alg {
    /// The named key's own algorithm.
    KeysOwn,
    Named(u8),
    Other(String),
    Missing,
}

const ALG_NAMES: [&str; 12] = [
    "none", "None", "NONE", "HS256", "HS384", "RS256", "RS512", "PS256", "ES256", "ES384", "EdDSA",
    "",
];

#[derive(Arbitrary, Debug)]
enum Typ {
    AtJwt,
    Upper,
    Application,
    Jwt,
    Other(String),
    Missing,
}

#[derive(Arbitrary, Debug)]
enum Signer {
    /// The set's key of the kid (the current key when the kid is not ours).
    Real,
    /// A key with the same kid and algorithm that is not in the set.
    Foreign,
    /// HMAC-SHA256 keyed with the named key's public material (algorithm confusion).
    HmacWithPublic(u8),
    /// HMAC-SHA256 keyed with bytes of the input.
    HmacWith(Vec<u8>),
    Empty,
    Garbage(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Text {
    Expected,
    Other(String),
}

#[derive(Arbitrary, Debug)]
struct Claims {
    iss: Text,
    aud: Text,
    sub: String,
    exp: i64,
    iat: i64,
    nbf: Option<i64>,
    jti: String,
    sid: String,
}

#[derive(Arbitrary, Debug)]
enum Payload {
    Claims(Claims),
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Edit {
    None,
    /// Replace one byte of the text (header, payload or signature alike).
    Byte(u16, u8),
    /// Swap the payload for another, keeping the signature.
    Payload(Vec<u8>),
    Truncate(u16),
    Append(String),
    /// Re-encode the header with another `alg`, keeping payload and signature.
    Alg(u8),
}

#[derive(Arbitrary, Debug)]
struct Recipe {
    kid: Kid,
    alg: Alg,
    typ: Typ,
    extra: Option<(String, String)>,
    payload: Payload,
    signer: Signer,
    edit: Edit,
    now: i64,
}

fn our(index: u8) -> usize {
    usize::from(index) % KIDS.len()
}

fn public_material(key: &SigningKey) -> Vec<u8> {
    match key.jwk() {
        Some(jwk) => serde_json::to_vec(jwk).expect("a JWK"),
        None => key.kid().as_bytes().to_vec(),
    }
}

fn hmac(secret: &[u8], message: &[u8]) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    ring::hmac::sign(&key, message).as_ref().to_vec()
}

fn header_json(
    kid: Option<&str>,
    alg: Option<&str>,
    typ: Option<&str>,
    extra: &Option<(String, String)>,
) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    if let Some(alg) = alg {
        header.insert("alg".into(), alg.into());
    }
    if let Some(typ) = typ {
        header.insert("typ".into(), typ.into());
    }
    if let Some(kid) = kid {
        header.insert("kid".into(), kid.into());
    }
    if let Some((name, value)) = extra {
        header.insert(name.clone(), value.clone().into());
    }
    serde_json::to_vec(&header).expect("a header")
}

fn forge(recipe: &Recipe) {
    let keys = keys();
    // The key the header names: an "unknown" kid the fuzzer happens to spell like one of
    // ours (it found `"ed"`) names that key, and a token it signs is genuine.
    let named = match &recipe.kid {
        Kid::Ours(i) => Some(our(*i)),
        Kid::Unknown(kid) => KIDS.iter().position(|(ours, _)| ours == kid),
        Kid::Missing => None,
    };
    let kid = match &recipe.kid {
        Kid::Ours(i) => Some(KIDS[our(*i)].0.to_owned()),
        Kid::Unknown(kid) => Some(kid.clone()),
        Kid::Missing => None,
    };
    let signing = named.unwrap_or(0);
    let own_alg = KIDS[signing].1.as_str();
    let alg = match &recipe.alg {
        Alg::KeysOwn => Some(own_alg.to_owned()),
        Alg::Named(i) => Some(ALG_NAMES[usize::from(*i) % ALG_NAMES.len()].to_owned()),
        Alg::Other(alg) => Some(alg.clone()),
        Alg::Missing => None,
    };
    let typ = match &recipe.typ {
        Typ::AtJwt => Some("at+jwt".to_owned()),
        Typ::Upper => Some("AT+JWT".to_owned()),
        Typ::Application => Some("application/at+jwt".to_owned()),
        Typ::Jwt => Some("JWT".to_owned()),
        Typ::Other(typ) => Some(typ.clone()),
        Typ::Missing => None,
    };
    let claims = match &recipe.payload {
        Payload::Claims(c) => Some(AccessClaims {
            iss: match &c.iss {
                Text::Expected => ISSUER.into(),
                Text::Other(s) => s.clone(),
            },
            sub: c.sub.clone(),
            aud: match &c.aud {
                Text::Expected => AUDIENCE.into(),
                Text::Other(s) => s.clone(),
            },
            exp: c.exp,
            iat: c.iat,
            jti: c.jti.clone(),
            sid: c.sid.clone(),
            client_id: "symbolon".into(),
            preferred_username: "alice".into(),
            nbf: c.nbf,
        }),
        Payload::Raw(_) => None,
    };
    let payload = match (&recipe.payload, &claims) {
        (_, Some(claims)) => serde_json::to_vec(claims).expect("claims"),
        (Payload::Raw(raw), None) => raw.clone(),
        _ => unreachable!(),
    };
    let header = header_json(
        kid.as_deref(),
        alg.as_deref(),
        typ.as_deref(),
        &recipe.extra,
    );
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&header),
        URL_SAFE_NO_PAD.encode(&payload)
    );
    let signature = match &recipe.signer {
        Signer::Real => keys.real[signing]
            .sign(message.as_bytes())
            .expect("a signature"),
        Signer::Foreign => keys.foreign[signing]
            .sign(message.as_bytes())
            .expect("a signature"),
        Signer::HmacWithPublic(i) => {
            hmac(&public_material(&keys.real[our(*i)]), message.as_bytes())
        }
        Signer::HmacWith(secret) => hmac(secret, message.as_bytes()),
        Signer::Empty => Vec::new(),
        Signer::Garbage(bytes) => bytes.clone(),
    };
    let signed = format!("{message}.{}", URL_SAFE_NO_PAD.encode(&signature));
    let token = match &recipe.edit {
        Edit::None => signed.clone(),
        Edit::Byte(at, byte) => {
            let mut bytes = signed.clone().into_bytes();
            let at = usize::from(*at) % bytes.len();
            bytes[at] = *byte;
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Edit::Payload(other) => {
            let mut parts = signed.split('.');
            let head = parts.next().unwrap_or_default();
            let _ = parts.next();
            let sig = parts.next().unwrap_or_default();
            format!("{head}.{}.{sig}", URL_SAFE_NO_PAD.encode(other))
        }
        Edit::Truncate(at) => signed[..usize::from(*at) % (signed.len() + 1)].to_owned(),
        Edit::Append(more) => format!("{signed}{more}"),
        Edit::Alg(i) => {
            let other = ALG_NAMES[usize::from(*i) % ALG_NAMES.len()];
            let header = header_json(kid.as_deref(), Some(other), typ.as_deref(), &recipe.extra);
            let rest = signed
                .split_once('.')
                .map(|(_, rest)| rest)
                .unwrap_or_default();
            format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header))
        }
    };

    let result = keys.set.verify(&token, &expect(), recipe.now);
    let _ = header_kid(&token);
    let genuine = matches!(recipe.signer, Signer::Real) && named.is_some() && token == signed;
    if let Ok(verified) = &result {
        assert!(
            genuine,
            "a token not signed by the set's key verified: {recipe:?}"
        );
        assert!(
            claims_acceptable(verified, recipe.now),
            "verified claims that fail the expectations at {}: {verified:?}",
            recipe.now
        );
        assert_eq!(
            alg.as_deref(),
            Some(own_alg),
            "verified under an alg that is not the key's"
        );
    }
    let canonical = genuine
        && alg.as_deref() == Some(own_alg)
        && matches!(recipe.typ, Typ::AtJwt | Typ::Upper | Typ::Application)
        && recipe.extra.is_none();
    if let (true, Some(claims)) = (canonical, &claims) {
        if claims_acceptable(claims, recipe.now) {
            assert_eq!(
                result.as_ref(),
                Ok(claims),
                "a genuine token with valid claims was refused at {}",
                recipe.now
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let keys = keys();
    // The input as a token text.
    let text = String::from_utf8_lossy(data);
    for now in [0, 1_700_000_000, i64::MAX, i64::MIN] {
        assert!(
            keys.set.verify(&text, &expect(), now).is_err(),
            "an input verified without the key: {text:?}"
        );
    }
    let _ = header_kid(&text);
    // The input as a recipe.
    if let Ok(recipe) = Recipe::arbitrary(&mut Unstructured::new(data)) {
        forge(&recipe);
    }
});
