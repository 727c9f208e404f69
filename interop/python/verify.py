"""Verifies a symbolon access token with PyJWT (https://pyjwt.readthedocs.io).

    python3 verify.py ISSUER AUDIENCE < token

Prints the verified claims as JSON on stdout and exits 0, or prints the error's class
(InvalidSignatureError, InvalidAudienceError, ...) and message on stderr and exits 1.
Run by the test `interop` in CI (crates/symbolon-server/tests/it/interop.rs);
docs/PROTECTING-YOUR-API.md shows it.
"""

import json
import sys
import urllib.request

import jwt


class AccessTokenVerifier:
    """Create once at start-up: PyJWKClient caches the key set and fetches it again when
    a token names a `kid` it does not hold (a rotated-in key)."""

    def __init__(self, issuer: str, audience: str):
        url = f"{issuer}/.well-known/oauth-authorization-server"
        with urllib.request.urlopen(url, timeout=10) as response:
            metadata = json.load(response)
        if metadata["issuer"] != issuer:
            raise ValueError(f"metadata names issuer {metadata['issuer']}")
        self.issuer, self.audience = issuer, audience
        self.jwks = jwt.PyJWKClient(metadata["jwks_uri"])

    def verify(self, token: str) -> dict:
        # RFC 9068: PyJWT does not check typ itself.
        typ = str(jwt.get_unverified_header(token).get("typ", ""))
        if typ.lower() not in ("at+jwt", "application/at+jwt"):
            raise jwt.InvalidTokenError(f"typ {typ!r} is not at+jwt")
        # The key named by kid; PyJWT then refuses a header alg other than the key's.
        key = self.jwks.get_signing_key_from_jwt(token)
        return jwt.decode(
            token,
            key,
            algorithms=["EdDSA", "ES256", "RS256"],
            audience=self.audience,
            issuer=self.issuer,
            leeway=30,  # seconds, for exp, nbf and an iat slightly ahead of this clock
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: python3 verify.py ISSUER AUDIENCE < token", file=sys.stderr)
        return 2
    try:
        verifier = AccessTokenVerifier(sys.argv[1], sys.argv[2])
        print(json.dumps(verifier.verify(sys.stdin.read().strip())))
    except Exception as err:  # noqa: BLE001 (every failure is a refusal here)
        print(type(err).__name__, err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
