//! Access tokens: JWTs in the RFC 9068 profile, signed with a key held in memory and
//! verified per RFC 8725 (the algorithm comes from the key named by `kid`, never from
//! the token).

use crate::clock::UnixTime;
use crate::keys::{KeyError, SigningKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// The `typ` header of an access token (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// The claims of an access token (`docs/API.md` §1, RFC 9068 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// The user's stable id.
    pub sub: String,
    /// Audience.
    pub aud: String,
    /// Expiry.
    pub exp: UnixTime,
    /// Issue time.
    pub iat: UnixTime,
    /// Unique token id.
    pub jti: String,
    /// Session id.
    pub sid: String,
    /// The OAuth client the session belongs to.
    pub client_id: String,
    /// The username at issue time.
    pub preferred_username: String,
    /// Not before; symbolon never sets it, but a token that has it is held to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<UnixTime>,
}

/// How access tokens are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectations {
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud`.
    pub audience: String,
    /// Allowed clock skew for `exp` and `nbf`, in seconds.
    pub leeway: i64,
}

/// Why an access token was refused. The text is safe for `error_description`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a JWT, or a header or payload that does not parse.
    #[error("the access token is malformed")]
    Malformed,
    /// `typ` is not `at+jwt` (for example a refresh token, or an ID token).
    #[error("the token is not an access token")]
    WrongType,
    /// No key with this `kid` (or no `kid`).
    #[error("the access token was signed by an unknown key")]
    UnknownKey,
    /// The signature does not verify, or the header's `alg` is not the key's.
    #[error("the access token signature is invalid")]
    BadSignature,
    /// Past `exp` (beyond the leeway).
    #[error("the access token has expired")]
    Expired,
    /// Before `nbf` (beyond the leeway).
    #[error("the access token is not yet valid")]
    NotYetValid,
    /// Wrong `iss`.
    #[error("the access token has the wrong issuer")]
    WrongIssuer,
    /// Wrong `aud`.
    #[error("the access token has the wrong audience")]
    WrongAudience,
}

/// Builds and signs an access token. The key stays parsed in memory, so this costs one
/// signature plus a little JSON and base64.
pub fn issue(key: &SigningKey, claims: &AccessClaims) -> Result<String, KeyError> {
    #[derive(Serialize)]
    struct Header<'a> {
        alg: &'a str,
        typ: &'a str,
        kid: &'a str,
    }
    let header = Header {
        alg: key.alg().as_str(),
        typ: ACCESS_TOKEN_TYPE,
        kid: key.kid(),
    };
    let header = serde_json::to_vec(&header).map_err(KeyError::Json)?;
    let payload = serde_json::to_vec(claims).map_err(KeyError::Json)?;
    let mut token = String::with_capacity(512);
    URL_SAFE_NO_PAD.encode_string(header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let signature = key.sign(token.as_bytes())?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut token);
    Ok(token)
}

/// The keys a server signs with and accepts.
#[derive(Debug, Clone)]
pub struct KeySet {
    current: Arc<SigningKey>,
    by_kid: HashMap<String, Arc<SigningKey>>,
}

impl KeySet {
    /// A set that signs with `current` and accepts it and every key in `others`.
    pub fn new(
        current: Arc<SigningKey>,
        others: impl IntoIterator<Item = Arc<SigningKey>>,
    ) -> Self {
        let mut by_kid: HashMap<_, _> = others
            .into_iter()
            .map(|k| (k.kid().to_owned(), k))
            .collect();
        by_kid.insert(current.kid().to_owned(), current.clone());
        Self { current, by_kid }
    }

    /// The key new tokens are signed with.
    pub fn current(&self) -> &Arc<SigningKey> {
        &self.current
    }

    /// Every accepted key.
    pub fn keys(&self) -> impl Iterator<Item = &Arc<SigningKey>> {
        self.by_kid.values()
    }

    /// Whether a key with this id is accepted.
    pub fn contains(&self, kid: &str) -> bool {
        self.by_kid.contains_key(kid)
    }

    /// Verifies an access token at `now` and returns its claims.
    pub fn verify(
        &self,
        token: &str,
        expect: &Expectations,
        now: UnixTime,
    ) -> Result<AccessClaims, TokenError> {
        verify_with(
            |kid| {
                self.by_kid
                    .get(kid)
                    .map(|k| (k.alg().jwt(), k.decoding_key()))
            },
            token,
            expect,
            now,
        )
    }
}

/// Public keys by `kid`, each with the one algorithm it verifies: what a resource server
/// builds from the JWKS (RFC 7517) to verify access tokens as symbolon does.
#[derive(Clone, Default)]
pub struct PublicKeys {
    by_kid: HashMap<String, (jsonwebtoken::Algorithm, jsonwebtoken::DecodingKey)>,
}

impl std::fmt::Debug for PublicKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.by_kid.keys()).finish()
    }
}

impl PublicKeys {
    /// The keys of a JWKS that symbolon can verify with: `kty` `OKP`, `EC` or `RSA` with
    /// the matching `alg` (`EdDSA`, `ES256`, `RS256`) and `use` `sig`. Others are skipped
    /// (a JWKS may hold keys for other purposes); the count of skipped keys is returned.
    pub fn from_jwks(jwks: &[crate::keys::Jwk]) -> (Self, usize) {
        let mut by_kid = HashMap::new();
        let mut skipped = 0;
        for jwk in jwks {
            let alg = match (jwk.kty.as_str(), jwk.alg.as_str()) {
                ("OKP", "EdDSA") => jsonwebtoken::Algorithm::EdDSA,
                ("EC", "ES256") => jsonwebtoken::Algorithm::ES256,
                ("RSA", "RS256") => jsonwebtoken::Algorithm::RS256,
                _ => {
                    skipped += 1;
                    continue;
                }
            };
            match crate::keys::decoding_key(jwk) {
                Some(key) if jwk.use_ == "sig" => {
                    by_kid.insert(jwk.kid.clone(), (alg, key));
                }
                _ => skipped += 1,
            }
        }
        (Self { by_kid }, skipped)
    }

    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.by_kid.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.by_kid.is_empty()
    }

    /// Verifies an access token at `now` and returns its claims (see [`verify_with`]).
    pub fn verify(
        &self,
        token: &str,
        expect: &Expectations,
        now: UnixTime,
    ) -> Result<AccessClaims, TokenError> {
        verify_with(
            |kid| self.by_kid.get(kid).map(|(alg, key)| (*alg, key)),
            token,
            expect,
            now,
        )
    }
}

/// Verifies an access token as docs/API.md §1.1 says, with the key `key_for` finds for
/// the header's `kid` (its algorithm and verification key): `typ` `at+jwt`, the
/// algorithm the key's (RFC 8725 §3.1: a header naming another is refused before any
/// cryptography), the signature, `iss`, `aud`, every required claim, `exp` and `nbf`
/// with `leeway`.
pub fn verify_with<'k>(
    key_for: impl FnOnce(&str) -> Option<(jsonwebtoken::Algorithm, &'k jsonwebtoken::DecodingKey)>,
    token: &str,
    expect: &Expectations,
    now: UnixTime,
) -> Result<AccessClaims, TokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
    if header
        .typ
        .as_deref()
        .map(|t| t.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE))
        != Some(true)
        && header.typ.as_deref() != Some("application/at+jwt")
    {
        return Err(TokenError::WrongType);
    }
    let (alg, key) = header
        .kid
        .as_deref()
        .and_then(key_for)
        .ok_or(TokenError::UnknownKey)?;
    if header.alg != alg {
        return Err(TokenError::BadSignature);
    }
    // Verified here with the library's primitive rather than `jsonwebtoken::decode`,
    // which parses the header and the claims twice each: one parse of each is a
    // third of an HS256 verification.
    let mut parts = token.split('.');
    let (Some(head), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let message = &token[..head.len() + 1 + payload.len()];
    let valid = jsonwebtoken::crypto::verify(signature, message.as_bytes(), key, alg)
        .map_err(|_| TokenError::BadSignature)?;
    if !valid {
        return Err(TokenError::BadSignature);
    }
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed)?;
    // Every claim the contract requires (`iss`, `sub`, `aud`, `exp`, …) is a
    // non-optional field: a token without one does not parse.
    let claims: AccessClaims = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
    if claims.iss != expect.issuer {
        return Err(TokenError::WrongIssuer);
    }
    if claims.aud != expect.audience {
        return Err(TokenError::WrongAudience);
    }
    // Saturating: `exp` and `nbf` are the token's, and may be anything it was signed with.
    if now > claims.exp.saturating_add(expect.leeway) {
        return Err(TokenError::Expired);
    }
    if claims
        .nbf
        .is_some_and(|nbf| nbf > now.saturating_add(expect.leeway))
    {
        return Err(TokenError::NotYetValid);
    }
    Ok(claims)
}

/// The `kid` a JWT's header names, without verifying anything.
pub fn header_kid(token: &str) -> Option<String> {
    jsonwebtoken::decode_header(token).ok()?.kid
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningAlg;

    fn claims(now: UnixTime) -> AccessClaims {
        AccessClaims {
            iss: "https://issuer".into(),
            sub: "user".into(),
            aud: "api".into(),
            exp: now + 900,
            iat: now,
            jti: "j".into(),
            sid: "s".into(),
            client_id: "symbolon".into(),
            preferred_username: "alice".into(),
            nbf: None,
        }
    }

    fn expect() -> Expectations {
        Expectations {
            issuer: "https://issuer".into(),
            audience: "api".into(),
            leeway: 30,
        }
    }

    #[test]
    fn issued_tokens_verify_for_every_algorithm() {
        for alg in [
            SigningAlg::EdDSA,
            SigningAlg::ES256,
            SigningAlg::RS256,
            SigningAlg::HS256,
        ] {
            let key = Arc::new(SigningKey::generate(alg).unwrap().0);
            let set = KeySet::new(key.clone(), []);
            let token = issue(&key, &claims(1000)).unwrap();
            assert_eq!(
                set.verify(&token, &expect(), 1000),
                Ok(claims(1000)),
                "{alg}"
            );
            assert_eq!(set.verify(&token, &expect(), 1000 + 930), Ok(claims(1000)));
            assert_eq!(
                set.verify(&token, &expect(), 1000 + 931),
                Err(TokenError::Expired)
            );
        }
    }

    /// Found by the `access_token` fuzz target: `exp + leeway` (and `now + leeway` for
    /// `nbf`) overflowed for a signed token with a far-future `exp`: a panic with overflow
    /// checks, and without them a wrap that called a valid token expired.
    #[test]
    fn times_at_the_end_of_the_range_do_not_overflow() {
        let key = Arc::new(SigningKey::generate(SigningAlg::HS256).unwrap().0);
        let set = KeySet::new(key.clone(), []);
        let mut far = claims(1000);
        far.exp = i64::MAX;
        let token = issue(&key, &far).unwrap();
        assert_eq!(set.verify(&token, &expect(), 1000), Ok(far.clone()));
        assert_eq!(set.verify(&token, &expect(), i64::MAX), Ok(far.clone()));
        far.nbf = Some(i64::MAX);
        let token = issue(&key, &far).unwrap();
        assert_eq!(set.verify(&token, &expect(), i64::MAX), Ok(far.clone()));
        assert_eq!(
            set.verify(&token, &expect(), 1000),
            Err(TokenError::NotYetValid)
        );
    }

    #[test]
    fn wrong_issuer_audience_and_key_are_refused() {
        let key = Arc::new(SigningKey::generate(SigningAlg::EdDSA).unwrap().0);
        let other = Arc::new(SigningKey::generate(SigningAlg::EdDSA).unwrap().0);
        let set = KeySet::new(key.clone(), []);
        let token = issue(&key, &claims(0)).unwrap();
        let mut e = expect();
        e.issuer = "other".into();
        assert_eq!(set.verify(&token, &e, 0), Err(TokenError::WrongIssuer));
        let mut e = expect();
        e.audience = "other".into();
        assert_eq!(set.verify(&token, &e, 0), Err(TokenError::WrongAudience));
        let foreign = issue(&other, &claims(0)).unwrap();
        assert_eq!(
            set.verify(&foreign, &expect(), 0),
            Err(TokenError::UnknownKey)
        );
        assert_eq!(
            set.verify("a.b.c", &expect(), 0),
            Err(TokenError::Malformed)
        );
    }
}
