"""Schemathesis checks of what the OpenAPI document cannot say: docs/API.md §2.1, the
error format. Loaded by scripts/schemathesis.sh (SCHEMATHESIS_HOOKS=hooks)."""

import json

import schemathesis

# docs/API.md §2.1: the `error` codes each status may carry.
CODES = {
    400: {"invalid_request", "invalid_grant", "unsupported_grant_type"},
    401: {"invalid_grant", "invalid_client", "invalid_token"},
    403: {"forbidden"},
    404: {"not_found"},
    405: {"invalid_request"},
    409: {"conflict"},
    413: {"invalid_request"},
    415: {"invalid_request"},
    429: {"rate_limited"},
    500: {"server_error"},
    503: {"server_error"},
}


def _header(response, name):
    return ",".join(response.headers.get(name) or [])


@schemathesis.check
def error_body_is_the_contract(ctx, response, case):
    """Every error answer is JSON `{"error": CODE, "error_description": TEXT}` (those two
    strings, nothing else), with a code of its status, `Cache-Control: no-store` (except
    /readyz's 503) and the headers §2.1 promises with it."""
    status = response.status_code
    if status < 400:
        return None
    content_type = _header(response, "content-type")
    if not content_type.startswith("application/json"):
        raise AssertionError(f"{status}: error answered as {content_type!r}, not JSON")
    try:
        body = json.loads(response.content)
    except ValueError as e:
        raise AssertionError(f"{status}: error body is not JSON: {e}") from None
    if not isinstance(body, dict) or set(body) != {"error", "error_description"}:
        raise AssertionError(f"{status}: not {{error, error_description}}: {body!r}")
    if not all(isinstance(value, str) for value in body.values()):
        raise AssertionError(f"{status}: error fields are not strings: {body!r}")
    if body["error"] not in CODES.get(status, set()):
        raise AssertionError(f"{status}: `error` {body['error']!r} is not one of §2.1's for it")
    readyz = case.operation.path == "/readyz" and status == 503
    if not readyz and "no-store" not in _header(response, "cache-control"):
        raise AssertionError(f"{status}: error without Cache-Control: no-store")
    if status in (429, 503) and not _header(response, "retry-after").isdigit():
        raise AssertionError(f"{status} without Retry-After seconds")
    if status == 405 and not _header(response, "allow"):
        raise AssertionError("405 without Allow")
    if body["error"] == "invalid_token":
        challenge = _header(response, "www-authenticate")
        if not challenge.startswith('Bearer realm="symbolon"'):
            raise AssertionError(f"invalid_token with the challenge {challenge!r}")
    return None
