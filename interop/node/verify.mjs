// Verifies a symbolon access token with jose (https://github.com/panva/jose).
//
//   node verify.mjs ISSUER AUDIENCE < token
//
// Prints the verified claims as JSON on stdout and exits 0, or prints the error's code
// (ERR_JWS_SIGNATURE_VERIFICATION_FAILED, ERR_JWT_CLAIM_VALIDATION_FAILED, ...) and
// message on stderr and exits 1. Run by the test `interop` in CI
// (crates/symbolon-server/tests/it/interop.rs); docs/PROTECTING-YOUR-API.md shows it.
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { text } from 'node:stream/consumers';

// Call once at start-up: the key set is fetched when first needed, cached, and fetched
// again when a token names a `kid` it does not hold (a rotated-in key).
async function accessTokenVerifier(issuer, audience) {
  const response = await fetch(`${issuer}/.well-known/oauth-authorization-server`);
  if (!response.ok) throw new Error(`authorization server metadata: HTTP ${response.status}`);
  const metadata = await response.json();
  if (metadata.issuer !== issuer) throw new Error(`metadata names issuer ${metadata.issuer}`);
  const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri));
  return async (token) => {
    const { payload } = await jwtVerify(token, jwks, {
      issuer,
      audience,
      typ: 'at+jwt', // RFC 9068; jose also accepts application/at+jwt
      algorithms: ['EdDSA', 'ES256', 'RS256'], // and the key chosen by kid must have this alg
      requiredClaims: ['exp', 'iat', 'sub'], // iss and aud are required by the options above
      clockTolerance: 30, // seconds of leeway for exp and nbf
    });
    return payload;
  };
}

const [issuer, audience] = process.argv.slice(2);
if (!issuer || !audience) {
  console.error('usage: node verify.mjs ISSUER AUDIENCE < token');
  process.exit(2);
}
try {
  const verify = await accessTokenVerifier(issuer, audience);
  const payload = await verify((await text(process.stdin)).trim());
  console.log(JSON.stringify(payload));
} catch (err) {
  console.error(err.code ?? err.name, err.message);
  process.exit(1);
}
