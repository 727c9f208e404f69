// Where tokens outlive a request: the record, the storage interface, and the storage
// that keeps them in memory only.

/**
 * The tokens of one session as a storage keeps them (JSON-serialisable). Treat it as
 * opaque: it holds secrets, and its fields may change between versions (`v`).
 */
export interface TokenRecord {
  v: 1;
  accessToken: string;
  refreshToken: string;
  sessionId: string;
  /** The access token's lifetime in seconds, as the server said (`expires_in`). */
  expiresIn: number;
  /**
   * When the token response arrived, on the wall clock (`Date.now()`). Only a process
   * that did not obtain the tokens itself reads it, and conservatively (see `Live`).
   */
  obtainedAt: number;
  /**
   * True when the refresh token came from a refresh, not a login: it then waits until
   * its predecessor has settled (CLIENT.md R4) before it is presented.
   */
  rotated: boolean;
  /**
   * Set before a refresh with this refresh token is first sent (CLIENT.md R2.2), and
   * removed when the successor is saved or when nothing was sent. `by` is the client
   * instance that wrote it: any other instance cannot tell its age on a clock it can
   * trust (the wall clock can be set back) and counts it as past the window.
   */
  inDoubt?: { since: number; by: string };
}

/**
 * Asynchronous storage of one `TokenRecord` (a file, `localStorage`, IndexedDB, a
 * keychain...). `save` replaces the record; `clear` removes it. Several clients (tabs,
 * processes) may share one storage when they also share the `lock` of
 * `SymbolonClientOptions`.
 */
export interface TokenStorage {
  load(): Promise<TokenRecord | null>;
  save(record: TokenRecord): Promise<void>;
  clear(): Promise<void>;
}

/** Tokens in this process's memory only: gone when it ends. The default. */
export class MemoryStorage implements TokenStorage {
  #record: TokenRecord | null = null;

  async load(): Promise<TokenRecord | null> {
    // A copy each way, so that nobody changes the stored record by holding a reference.
    return this.#record === null ? null : structuredClone(this.#record);
  }

  async save(record: TokenRecord): Promise<void> {
    this.#record = structuredClone(record);
  }

  async clear(): Promise<void> {
    this.#record = null;
  }
}

/** Whether `value` looks like a `TokenRecord` this version can use. */
export function isTokenRecord(value: unknown): value is TokenRecord {
  if (typeof value !== "object" || value === null) return false;
  const r = value as Record<string, unknown>;
  const mark = r["inDoubt"];
  return (
    r["v"] === 1 &&
    typeof r["accessToken"] === "string" &&
    typeof r["refreshToken"] === "string" &&
    typeof r["sessionId"] === "string" &&
    typeof r["expiresIn"] === "number" &&
    typeof r["obtainedAt"] === "number" &&
    typeof r["rotated"] === "boolean" &&
    (mark === undefined ||
      (typeof mark === "object" &&
        mark !== null &&
        typeof (mark as Record<string, unknown>)["since"] === "number" &&
        typeof (mark as Record<string, unknown>)["by"] === "string"))
  );
}
