// How the tokens travel between the client and the server. Header mode is the only one
// today; cookie mode (the refresh token in an HttpOnly cookie that script never sees,
// the client holding only the access token) will be a second implementation of this
// interface once the server sets the cookie. Everything else (single flight, the
// in-doubt window, the storage rules) is the same for both.

import type { TokenRecord } from "./storage.js";

/** The token response of docs/API.md §2.2, as sent by the server. */
export interface TokenResponseBody {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token: string;
  refresh_token_expires_in: number;
  session_id: string;
}

export interface TokenTransport {
  /** The `credentials` mode of `POST /login`, `/token/refresh` and `/logout`. */
  readonly credentials: RequestCredentials;
  /** The fields of a `/token/refresh` or `/logout` body that present the session's refresh token. */
  present(record: TokenRecord): Record<string, string>;
  /** The refresh token to keep from a token response (what later identifies the record). */
  keep(body: TokenResponseBody): string;
}

/**
 * Header mode: both tokens are in the storage; the refresh token goes in the JSON body
 * of the token endpoints, the access token in `Authorization: Bearer`. No cookies are
 * sent or accepted.
 */
export const headerTransport: TokenTransport = {
  credentials: "omit",
  present: (record) => ({ refresh_token: record.refreshToken }),
  keep: (body) => body.refresh_token,
};
