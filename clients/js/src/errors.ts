// The client's errors (docs/CLIENT.md R1). Two questions matter for control flow:
// must the user log in again (`LoginRequiredError`, `InDoubtError` is one), or may the
// same call succeed later (`TransientError`, `StoreError`)? No error ever carries a
// password, a token, or a response body that could hold one.

/** The base class of every error this package throws. */
export class SymbolonError extends Error {
  override name = "SymbolonError";
}

/**
 * Log in again: there are no tokens, or the server refused the refresh token
 * (`invalid_grant`: the session expired, was revoked or logged out). The tokens were
 * cleared from memory and from the storage.
 */
export class LoginRequiredError extends SymbolonError {
  override name = "LoginRequiredError";
  constructor(message = "login required: no session, or the session has ended") {
    super(message);
  }
}

/**
 * Log in again, the other way (CLIENT.md R2.4): a refresh may have reached the server
 * but its answer was lost, and the retry window (half the server's reuse grace from the
 * first send) has passed. Presenting that refresh token again could be taken for reuse
 * and revoke the session, so it is never presented again. The tokens stay in the storage
 * (with their in-doubt mark) until a login replaces them. A subclass of
 * `LoginRequiredError`: `instanceof LoginRequiredError` catches both.
 */
export class InDoubtError extends LoginRequiredError {
  override name = "InDoubtError";
  constructor() {
    super(
      "the last token refresh may have reached the server but its answer was lost, and " +
        "the retry window has passed; the refresh token is not presented again (that " +
        "could revoke the session): log in again",
    );
  }
}

/** `POST /login` answered `invalid_grant`: wrong username or password. */
export class InvalidCredentialsError extends SymbolonError {
  override name = "InvalidCredentialsError";
  constructor() {
    super("wrong username or password");
  }
}

/**
 * Try again: the server could not be reached, timed out, or answered 5xx or 429. The
 * tokens were kept.
 */
export class TransientError extends SymbolonError {
  override name = "TransientError";
  /** The server's `Retry-After` in seconds, when it sent one. */
  readonly retryAfter: number | undefined;
  constructor(reason: string, retryAfter?: number, cause?: unknown) {
    super(`the server is temporarily unavailable: ${reason}`, cause === undefined ? undefined : { cause });
    this.retryAfter = retryAfter;
  }
}

/** The server answered an error of docs/API.md §2.1 that the client does not handle. */
export class ServerError extends SymbolonError {
  override name = "ServerError";
  constructor(
    readonly status: number,
    /** The contract's `error` code (`invalid_request`, `invalid_client`, ...); "" without a body. */
    readonly code: string,
    /** The contract's `error_description` (never a secret, API.md §2.1). */
    readonly description: string,
  ) {
    super(`the server answered ${status}: ${code || "(no error code)"}: ${description}`);
  }
}

/**
 * Not sent: the request's URL is not on an origin the access token may go to. No token
 * was attached and nothing was refreshed.
 */
export class RefusedError extends SymbolonError {
  override name = "RefusedError";
}

/** The server's answer is not what the contract promises (a redirect on a token endpoint, a malformed token response). */
export class ProtocolError extends SymbolonError {
  override name = "ProtocolError";
}

/** The token storage could not be read or written. Try again; nothing was sent. */
export class StoreError extends SymbolonError {
  override name = "StoreError";
  constructor(message: string, cause?: unknown) {
    super(`token storage: ${message}`, cause === undefined ? undefined : { cause });
  }
}
