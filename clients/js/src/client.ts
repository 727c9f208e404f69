// The client: login, logout, and `fetch` with an access token that is always fresh,
// following the rules of docs/CLIENT.md (cited as R1..R7) the way the Rust SDK does
// (crates/symbolon-client/src/client.rs).

import {
  InDoubtError,
  InvalidCredentialsError,
  LoginRequiredError,
  ProtocolError,
  RefusedError,
  ServerError,
  StoreError,
  SymbolonError,
  TransientError,
} from "./errors.js";
import { MemoryStorage, isTokenRecord, type TokenRecord, type TokenStorage } from "./storage.js";
import { headerTransport, type TokenResponseBody, type TokenTransport } from "./transport.js";

/** Which sessions `logout` ends (docs/API.md §2.3, `POST /logout`). */
export type LogoutScope = "local" | "others" | "global";

/**
 * Runs `task` while holding a lock that excludes every other client sharing the same
 * storage (other tabs, other processes), and returns its result.
 */
export type Lock = <T>(task: () => Promise<T>) => Promise<T>;

export interface SymbolonClientOptions {
  /** The symbolon server, e.g. `https://auth.example.com` (a path prefix is kept). */
  baseUrl: string;
  /**
   * Other origins (`https://api.example.com`) that may receive the access token through
   * `fetch`, besides the server's own. A request to any other origin is refused
   * (`RefusedError`) before it is sent. The scheme and port count.
   */
  apiOrigins?: string[];
  /** Where the tokens are kept (default: `MemoryStorage`). */
  storage?: TokenStorage;
  /**
   * Excludes other clients sharing `storage` during a login, refresh or logout (R3).
   * Default: the Web Locks API where there is one (browsers), named after `baseUrl`;
   * otherwise a lock within this client only, which is right for a storage no other
   * client uses at the same time.
   */
  lock?: Lock;
  /** Refresh this many milliseconds before the access token expires (default 60 000). */
  refreshMargin?: number;
  /**
   * How long one `POST /token/refresh` try may take, answer included, in milliseconds
   * (default 3 000; at most half of `reuseGrace`).
   */
  refreshTimeout?: number;
  /**
   * The server's `reuse_grace` in milliseconds (default 10 000, the server's default;
   * set it to the server's value or lower). A refresh that may have reached the server
   * unanswered is retried only within half of it from its first send (R2).
   */
  reuseGrace?: number;
  /** The timeout of `POST /login` and `/logout`, in milliseconds (default 30 000). */
  timeout?: number;
  /** The `fetch` to use (default `globalThis.fetch`). */
  fetch?: typeof globalThis.fetch;
}

/** What the client announces; listen with `client.on(type, listener)`. */
export interface SymbolonEvents {
  /** New tokens: a login, a refresh, or tokens found in the storage. */
  tokens: { sessionId: string; reason: "login" | "refresh" | "storage" };
  /** The tokens were forgotten by a logout, or another client sharing the storage removed them. */
  loggedOut: Record<string, never>;
  /**
   * The user must log in again: the server refused the refresh token (`refused`, the
   * tokens were cleared) or a refresh's answer was lost past the window (`in_doubt`,
   * the tokens are kept but never presented again).
   */
  loginRequired: { reason: "refused" | "in_doubt" };
}

/** The longest access-token lifetime believed: a day (as the Rust SDK). */
const LONGEST_MS = 86_400_000;
/** Tries of a refresh that certainly never reached the server (R2.5). */
const ATTEMPTS = 3;
/** The first pause between refresh tries, doubled after each. */
const BACKOFF_MS = 250;
/** The longest pause between two refresh tries. */
const MAX_RETRY_WAIT_MS = 2_000;
/** How long before the window closes the last try of a refresh in doubt is sent. */
const LAST_TRY_MS = 50;
/** Tries of a save of new tokens before giving up with the lock (R3.4). */
const SAVE_ATTEMPTS = 3;

// The monotonic clock of this process, and the wall clock. Expiry and the in-doubt
// window are judged on the first; the wall clock is only believed where it can only
// make the client more careful (see `Live.fromStored`, `mayPresent`).
const mono = (): number => performance.now();
const wall = (): number => Date.now();

/**
 * Whether a refresh token may have been spent at the server without this client hearing
 * of it (R2): `since` holds the first try that may have reached the server, on both
 * clocks; `unknown` is a mark this client cannot date (written by another client), which
 * counts as past the window.
 */
type Doubt = { kind: "clear" } | { kind: "since"; mono: number; wall: number } | { kind: "unknown" };

/** Tokens in use, with what this process knows about them. Replaced, never mutated, on change (but for the flags). */
class Live {
  /** A server answered 401 `invalid_token` to this access token: refresh before using it again (R7). */
  rejected = false;
  doubt: Doubt = { kind: "clear" };

  constructor(
    /** The record as stored, without the in-doubt mark. */
    readonly record: TokenRecord,
    /** When the access token is due, on `mono()`. */
    readonly expiresAt: number,
    /** When the refresh token may first be presented, on `mono()` (R4). */
    readonly settledAt: number,
  ) {}

  /** Whether the access token must be refreshed before use: it expires within `margin`. */
  due(margin: number): boolean {
    return mono() + margin >= this.expiresAt;
  }

  /**
   * Tokens from a storage, obtained by some other client or an earlier run: their age
   * is known only from the wall clock. A clock that went backwards (a negative age)
   * makes the access token due at once and the refresh token wait a full grace; a clock
   * set forward only makes the access token due early. (An access token believed fresh
   * for too long costs a 401 and a refresh, nothing more.) A mark from another client
   * cannot be dated: `unknown`.
   */
  static fromStored(stored: TokenRecord, grace: number): Live {
    const now = mono();
    const age = wall() - stored.obtainedAt;
    const known = Number.isFinite(age) && age >= 0;
    const lifetime = Math.min(stored.expiresIn * 1000, LONGEST_MS);
    const expiresAt = known ? now + Math.max(0, lifetime - age) : now;
    const settledAt = !stored.rotated ? 0 : known ? now + Math.max(0, grace - age) : now + grace;
    const { inDoubt, ...record } = stored;
    const live = new Live(record, expiresAt, settledAt);
    if (inDoubt !== undefined) live.doubt = { kind: "unknown" };
    return live;
  }
}

type Listeners = { [K in keyof SymbolonEvents]: Set<(event: SymbolonEvents[K]) => void> };

/** The outcome of one `POST /token/refresh` try. */
type Try =
  | { ok: true; body: TokenResponseBody; received: number; receivedWall: number }
  | { ok: false; error: SymbolonError; neverSent: boolean };

/**
 * A symbolon client in header mode: tokens in a `TokenStorage`, the access token sent
 * as `Authorization: Bearer` to the server's origin and `apiOrigins` only.
 */
export class SymbolonClient {
  readonly #base: URL;
  readonly #origins: ReadonlySet<string>;
  readonly #storage: TokenStorage;
  readonly #lock: Lock;
  readonly #margin: number;
  readonly #grace: number;
  /** The in-doubt window D: half the grace (R2). */
  readonly #window: number;
  readonly #refreshTimeout: number;
  readonly #timeout: number;
  readonly #fetch: typeof globalThis.fetch;
  readonly #transport: TokenTransport = headerTransport;
  /** Names this client in the in-doubt marks it writes. Not a secret. */
  readonly #id = `${wall().toString(36)}-${Math.random().toString(36).slice(2)}`;

  #live: Live | null = null;
  #loaded: Promise<void> | null = null;
  /** The refresh in flight: every caller that needs one awaits this same promise (R5). */
  #flight: Promise<Live> | null = null;
  /**
   * Set while the tokens in memory are not in the storage yet (R3.2): `over` is the
   * refresh token (or null for none) they may be written over. Anything else found in
   * the storage is newer and wins (R3.3).
   */
  #unsaved: { over: string | null } | null = null;
  readonly #listeners: Listeners = { tokens: new Set(), loggedOut: new Set(), loginRequired: new Set() };

  constructor(options: SymbolonClientOptions) {
    const base = new URL(options.baseUrl);
    if (base.protocol !== "http:" && base.protocol !== "https:") {
      throw new TypeError(`baseUrl ${JSON.stringify(options.baseUrl)} is not http(s)`);
    }
    // As a directory, so that "login" joins under a path prefix.
    if (!base.pathname.endsWith("/")) base.pathname += "/";
    base.search = "";
    base.hash = "";
    this.#base = base;
    const origins = new Set([base.origin]);
    for (const allowed of options.apiOrigins ?? []) {
      const url = new URL(allowed);
      if (url.protocol !== "http:" && url.protocol !== "https:") {
        throw new TypeError(`apiOrigins: ${JSON.stringify(allowed)} is not an http(s) URL`);
      }
      origins.add(url.origin);
    }
    this.#origins = origins;
    for (const key of ["refreshMargin", "refreshTimeout", "reuseGrace", "timeout"] as const) {
      const value = options[key];
      if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
        throw new TypeError(`${key} must be a number of milliseconds, at least 0`);
      }
    }
    this.#storage = options.storage ?? new MemoryStorage();
    this.#lock = options.lock ?? defaultLock(`symbolon ${base.href}`);
    this.#margin = options.refreshMargin ?? 60_000;
    this.#grace = options.reuseGrace ?? 10_000;
    this.#window = this.#grace / 2;
    // Every try must have ended by the time the window has. A zero window leaves no time
    // for that: the timeout is then as given, and a token in doubt is never tried again.
    const refreshTimeout = options.refreshTimeout ?? 3_000;
    this.#refreshTimeout = this.#window > 0 ? Math.min(refreshTimeout, this.#window) : refreshTimeout;
    this.#timeout = options.timeout ?? 30_000;
    const fetchImpl = options.fetch;
    // Called as a plain function: a browser's fetch refuses any other `this`.
    this.#fetch = fetchImpl ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** Listens to an event; returns the function that stops listening. */
  on<K extends keyof SymbolonEvents>(type: K, listener: (event: SymbolonEvents[K]) => void): () => void {
    const set = this.#listeners[type] as Set<(event: SymbolonEvents[K]) => void>;
    set.add(listener);
    return () => set.delete(listener);
  }

  /** The current session id, or null when logged out (reads the storage on first use). */
  async sessionId(): Promise<string | null> {
    await this.#ensureLoaded();
    return this.#live?.record.sessionId ?? null;
  }

  /**
   * Logs in (`POST /login`) and keeps the tokens. Over an existing session: the new
   * tokens replace the old ones in the storage first, then the old session is ended
   * with its refresh token if R2 allows presenting it (R6).
   */
  async login(username: string, password: string): Promise<{ sessionId: string }> {
    const response = await this.#postAuth("login", { username, password }, this.#timeout);
    const received = mono();
    const receivedWall = wall();
    if (response.status !== 200) {
      const error = await errorOf(response);
      throw error instanceof ServerError && error.code === "invalid_grant" ? new InvalidCredentialsError() : error;
    }
    const body = await tokenBody(response);
    // A first load still running could put the old tokens back over the new ones.
    await this.#ensureLoaded().catch(() => undefined);
    const replaced = await this.#lock(async () => {
      // An unreadable storage does not stop a login, which replaces what is there.
      const old = await this.#storage.load().catch(() => null);
      const live = this.#liveOf(body, received, receivedWall, false, 0);
      this.#replace(live);
      this.#unsaved = { over: old?.refreshToken ?? null };
      await this.#saveUnsaved(live);
      this.#emit("tokens", { sessionId: live.record.sessionId, reason: "login" });
      if (old === null || !isTokenRecord(old) || old.refreshToken === live.record.refreshToken) return null;
      const oldLive = Live.fromStored(old, this.#grace);
      if (old.inDoubt?.by === this.#id && this.#previous?.record.refreshToken === old.refreshToken) {
        oldLive.doubt = this.#previous.doubt;
      }
      return this.#mayPresent(oldLive) ? old : null;
    });
    if (replaced !== null) {
      // The old session ends on the server, best effort: its tokens are gone from here.
      await this.#postAuth("logout", { ...this.#transport.present(replaced), scope: "local" }, this.#timeout)
        .then((r) => r.body?.cancel())
        .catch(() => undefined);
    }
    return { sessionId: body.session_id };
  }

  /**
   * Ends this session (`local`, the default), the user's other sessions (`others`,
   * keeping this one) or all of them (`global`) with `POST /logout`, and forgets the
   * tokens (but for `others`). Only a 204 or an `invalid_grant` forgets them; any other
   * failure keeps them and throws, so the logout can be tried again (R1, R6). When the
   * session had ended already, `local` succeeds but `others` and `global` throw
   * `LoginRequiredError`: nothing was revoked, and the caller must not be told otherwise.
   */
  async logout(scope: LogoutScope = "local"): Promise<void> {
    await this.#ensureLoaded();
    // Under the lock, with the storage's newest tokens: a refresh in flight finishes
    // (and saves) first, and its successor is what gets logged out.
    await this.#lock(async () => {
      const got = await this.#reconcile();
      if (got === null) return;
      const { live } = got;
      if (!this.#mayPresent(live)) {
        // Presenting the token could be reuse (R2.4). A local logout forgets it
        // unsent; the session, if it rotated, expires on its own.
        if (scope !== "local") throw new InDoubtError();
        await this.#forget();
        this.#emit("loggedOut", {});
        return;
      }
      const response = await this.#postAuth("logout", { ...this.#transport.present(live.record), scope }, this.#timeout);
      if (response.status === 204) {
        if (scope !== "others") {
          await this.#forget();
          this.#emit("loggedOut", {});
        }
        return;
      }
      const error = await errorOf(response);
      // Only `invalid_grant` says the session is over; any other 401 (a proxy's,
      // `invalid_client`) says nothing about the tokens, which are kept.
      if (!(error instanceof ServerError && error.code === "invalid_grant")) throw error;
      await this.#forget();
      if (scope === "local") {
        this.#emit("loggedOut", {});
        return;
      }
      this.#emit("loginRequired", { reason: "refused" });
      throw new LoginRequiredError();
    });
  }

  /** A valid access token, refreshed first when it is due. */
  async accessToken(): Promise<string> {
    return (await this.#token()).record.accessToken;
  }

  /** Refreshes now, whatever the expiry (still one refresh for concurrent callers). */
  async refresh(): Promise<void> {
    await this.#ensureLoaded();
    await this.#refreshFrom(this.#live);
  }

  /**
   * `fetch` with `Authorization: Bearer` and a fresh access token, for the server's
   * origin and `apiOrigins` only: any other origin is `RefusedError`, and nothing is
   * sent. A relative URL is resolved against `baseUrl`.
   *
   * On a 401 whose `WWW-Authenticate` says `error="invalid_token"` the token is not
   * used again; the request is replayed once with a refreshed token, if its body can be
   * sent again (not a `ReadableStream`, an async iterable, or the body of a `Request`
   * given as `input`: pass the body in `init` to have it replayed) and if the session is
   * still the one it was sent for (R7). Otherwise the 401 is returned.
   *
   * The caller's `signal` stops the caller's wait, never a refresh in flight (R5).
   */
  async fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const request = input instanceof Request ? input : null;
    const url = new URL(input instanceof Request ? input.url : input instanceof URL ? input.href : input, this.#base);
    if (!this.#origins.has(url.origin)) {
      throw new RefusedError(
        `the access token goes only to ${[...this.#origins].join(", ")}, not to ${url.origin}`,
      );
    }
    const body = init?.body;
    const replayable =
      body === undefined || body === null
        ? request === null || request.body === null
        : !(typeof ReadableStream !== "undefined" && body instanceof ReadableStream) && !isAsyncIterable(body);
    const signal = init?.signal ?? request?.signal ?? undefined;
    const send = (live: Live): Promise<Response> => {
      const headers = new Headers(init?.headers !== undefined ? init.headers : request?.headers);
      headers.set("authorization", `Bearer ${live.record.accessToken}`);
      return this.#fetch(request ?? url.href, { ...init, headers });
    };
    const live = await untilAborted(this.#token(), signal);
    const response = await send(live);
    if (!isInvalidToken(response)) return response;
    // Even when this request cannot be replayed, the next one must not present the
    // rejected token again.
    live.rejected = true;
    if (!replayable) return response;
    const fresh = await untilAborted(this.#refreshFrom(live), signal);
    if (fresh.record.sessionId !== live.record.sessionId) {
      // A logout and a login (perhaps as someone else) happened meanwhile: the request
      // was meant for the old session and is not sent as the new one.
      return response;
    }
    await response.body?.cancel().catch(() => undefined);
    return send(fresh);
  }

  // ---- the tokens in memory ----

  /** The tokens replaced by the last `#replace`, for `login` (R6). */
  #previous: Live | null = null;

  #replace(live: Live | null): void {
    this.#previous = this.#live;
    this.#live = live;
  }

  #emit<K extends keyof SymbolonEvents>(type: K, event: SymbolonEvents[K]): void {
    for (const listener of this.#listeners[type] as Set<(event: SymbolonEvents[K]) => void>) {
      try {
        listener(event);
      } catch (error) {
        // A listener's failure is its own; it must not break the token handling.
        (globalThis as { reportError?: (e: unknown) => void }).reportError?.(error);
      }
    }
  }

  #liveOf(body: TokenResponseBody, received: number, receivedWall: number, rotated: boolean, settledAt: number): Live {
    const record: TokenRecord = {
      v: 1,
      accessToken: body.access_token,
      refreshToken: this.#transport.keep(body),
      sessionId: body.session_id,
      expiresIn: body.expires_in,
      obtainedAt: receivedWall,
      rotated,
    };
    return new Live(record, received + Math.min(body.expires_in * 1000, LONGEST_MS), settledAt);
  }

  async #ensureLoaded(): Promise<void> {
    this.#loaded ??= (async () => {
      const stored = await this.#load();
      // A login or refresh that finished meanwhile is newer.
      if (stored !== null && this.#live === null) {
        this.#replace(Live.fromStored(stored, this.#grace));
        this.#emit("tokens", { sessionId: stored.sessionId, reason: "storage" });
      }
    })().catch((error: unknown) => {
      this.#loaded = null; // tried again on the next call
      throw error;
    });
    return this.#loaded;
  }

  /** Tokens that are usable now, refreshing first when they are due or were rejected. */
  async #token(): Promise<Live> {
    await this.#ensureLoaded();
    const live = this.#live;
    if (live !== null && !live.rejected && !live.due(this.#margin)) return live;
    // Due, rejected, or none at all: without tokens, another client sharing the storage
    // may have logged in since, which the refresh finds (under the lock) first.
    return this.#refreshFrom(live);
  }

  // ---- the refresh ----

  /**
   * Refreshes unless the tokens changed since `seen` (then whoever changed them did the
   * work). One refresh at a time: callers that come while one is in flight get its
   * outcome, success or failure, rather than presenting the same token again each on
   * their own. The refresh belongs to nobody: no caller's signal stops it (R5).
   */
  #refreshFrom(seen: Live | null): Promise<Live> {
    if (this.#flight !== null) return this.#flight;
    if (this.#live !== seen) {
      return this.#live !== null ? Promise.resolve(this.#live) : Promise.reject(new LoginRequiredError());
    }
    const flight = this.#lock(() => this.#refreshLocked()).finally(() => {
      if (this.#flight === flight) this.#flight = null;
    });
    this.#flight = flight;
    return flight;
  }

  /** The refresh proper, under the lock (R3.1). */
  async #refreshLocked(): Promise<Live> {
    const got = await this.#reconcile();
    if (got === null) throw new LoginRequiredError();
    const { live, adopted } = got;
    // Tokens another client obtained meanwhile, fresh enough to use as they are.
    if (adopted && !live.due(0)) {
      this.#emit("tokens", { sessionId: live.record.sessionId, reason: "storage" });
      return live;
    }
    let answer: { body: TokenResponseBody; received: number; receivedWall: number; firstSend: number };
    try {
      answer = await this.#postRefresh(live);
    } catch (error) {
      if (error instanceof InDoubtError) {
        // Kept, with the mark, rather than cleared: a client sharing the storage must not
        // take "no tokens" for a reason to present something else; a login replaces them.
        this.#emit("loginRequired", { reason: "in_doubt" });
      } else if (error instanceof LoginRequiredError) {
        await this.#forget();
        this.#emit("loginRequired", { reason: "refused" });
      }
      throw error;
    }
    // The successor may be presented once every try of its predecessor has been decided:
    // a grace after the first send (R4).
    const next = this.#liveOf(answer.body, answer.received, answer.receivedWall, true, answer.firstSend + this.#grace);
    // Memory first (R3.2): the server has rotated, so this process goes on with the
    // successor even if the storage cannot be written.
    this.#replace(next);
    this.#unsaved = { over: live.record.refreshToken };
    const saved = await this.#saveUnsaved(next);
    if (saved !== next) {
      // The commit guard: the storage no longer holds the token this refresh presented
      // (a logout, a login, another client's refresh meanwhile), and what it holds wins
      // (R3.3). The successor is dropped.
      if (saved === null) throw new LoginRequiredError();
      return saved;
    }
    this.#emit("tokens", { sessionId: next.record.sessionId, reason: "refresh" });
    return next;
  }

  /**
   * Writes the unsaved tokens `live` over `#unsaved.over`, only if the storage still
   * holds that (or `live` itself). Returns `live` when written; otherwise adopts what the
   * storage holds (newer) and returns it, or null when it holds nothing. A failed write
   * is tried again with the lock held (R3.4); after the last try the error is thrown
   * and the tokens stay unsaved, for the next refresh or logout to write first.
   */
  async #saveUnsaved(live: Live): Promise<Live | null> {
    const over = this.#unsaved?.over ?? null;
    const stored = await this.#load();
    const held = stored?.refreshToken ?? null;
    if (held !== over && held !== live.record.refreshToken) {
      this.#unsaved = null;
      if (stored === null) {
        this.#replace(null);
        this.#emit("loggedOut", {});
        return null;
      }
      const adopted = Live.fromStored(stored, this.#grace);
      this.#replace(adopted);
      this.#emit("tokens", { sessionId: stored.sessionId, reason: "storage" });
      return adopted;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#storage.save(live.record);
        break;
      } catch (error) {
        if (attempt >= SAVE_ATTEMPTS) throw new StoreError("the new tokens could not be saved", error);
        await sleep(100 * attempt);
      }
    }
    if (this.#live === live) this.#unsaved = null;
    return live;
  }

  /**
   * Under the lock: brings memory and the storage into agreement and returns the tokens
   * to go on with (`adopted` when they came from the storage), or null when there are
   * none. Unsaved tokens are written first (if the storage still holds what they
   * replace); otherwise the storage wins: another client sharing it refreshed, logged
   * in or logged out.
   */
  async #reconcile(): Promise<{ live: Live; adopted: boolean } | null> {
    const live = this.#live;
    if (live !== null && this.#unsaved !== null) {
      const kept = await this.#saveUnsaved(live);
      return kept === null ? null : { live: kept, adopted: kept !== live };
    }
    const stored = await this.#load();
    if (stored === null) {
      if (live !== null) {
        this.#replace(null);
        this.#emit("loggedOut", {});
      }
      return null;
    }
    if (live !== null && live.record.refreshToken === stored.refreshToken) {
      // A mark written by another client sharing the storage (which may have sent this
      // token, and died or given up) counts here too. One of ours, this client's memory
      // knows better (e.g. a mark left by a clean-up that failed).
      if (stored.inDoubt !== undefined && stored.inDoubt.by !== this.#id && live.doubt.kind === "clear") {
        live.doubt = { kind: "unknown" };
      }
      return { live, adopted: false };
    }
    const adopted = Live.fromStored(stored, this.#grace);
    this.#replace(adopted);
    return { live: adopted, adopted: true };
  }

  /** Whether the refresh token of `live` may be presented now (R2.3, R2.4). */
  #mayPresent(live: Live): boolean {
    const doubt = live.doubt;
    switch (doubt.kind) {
      case "clear":
        return true;
      case "unknown":
        return false;
      case "since":
        // Both clocks must say the window is open: the monotonic one may stop while
        // the machine sleeps (the server's grace does not), the wall clock may be set.
        return mono() - doubt.mono < this.#window && wall() - doubt.wall < this.#window;
    }
  }

  /**
   * `POST /token/refresh` with `live`'s refresh token, tried again on transient
   * failures (docs/API.md §5.7): a try that may have reached the server puts the token
   * in doubt from the moment it was sent; then it is tried again only within the window,
   * and after it never presented again (`InDoubtError`). Tries that certainly never left
   * (a refused connection, DNS) leave no doubt and are tried `ATTEMPTS` times.
   */
  async #postRefresh(
    live: Live,
  ): Promise<{ body: TokenResponseBody; received: number; receivedWall: number; firstSend: number }> {
    if (!this.#mayPresent(live)) throw new InDoubtError();
    // R4: wait until every try of the predecessor has been decided.
    const settle = live.settledAt - mono();
    if (settle > 0) await sleep(settle);
    // The mark goes to the storage before the first send (R2.2): a process that dies
    // while the try is out leaves it, and the next one knows not to present the token
    // past the window. A storage that refuses it stops the refresh before anything is
    // sent: "try again".
    const marked = live.doubt.kind === "clear";
    if (marked) {
      try {
        await this.#storage.save({ ...live.record, inDoubt: { since: wall(), by: this.#id } });
      } catch (error) {
        throw new StoreError("the refresh could not be marked; nothing was sent", error);
      }
    }
    let firstSend: number | undefined;
    let pause = BACKOFF_MS;
    let outcome: Try | undefined;
    try {
      for (let attempt = 1; ; attempt++) {
        if (!this.#mayPresent(live)) throw new InDoubtError();
        const sent = mono();
        const sentWall = wall();
        firstSend ??= sent;
        outcome = await this.#postRefreshOnce(live.record);
        if (outcome.ok) return { ...outcome, firstSend };
        if (!outcome.neverSent && live.doubt.kind === "clear") {
          live.doubt = { kind: "since", mono: sent, wall: sentWall };
        }
        const error = outcome.error;
        if (!(error instanceof TransientError)) throw error;
        let wait = error.retryAfter !== undefined ? error.retryAfter * 1000 : pause;
        if (live.doubt.kind === "clear") {
          if (attempt >= ATTEMPTS || wait > MAX_RETRY_WAIT_MS) throw error;
        } else {
          // In doubt: only the window stops the tries (a later presentation could be
          // reuse). A longer Retry-After is not waited for: after it the token could
          // not be presented at all; the last try goes just before the window closes.
          const since = live.doubt.kind === "since" ? live.doubt.mono : -Infinity;
          const left = since + this.#window - mono();
          if (left <= LAST_TRY_MS) {
            // The last try has been made. Giving up closes the window here and now, so
            // that no later call presents the token in what is left of it.
            live.doubt = { kind: "unknown" };
            throw new InDoubtError();
          }
          wait = Math.min(wait, MAX_RETRY_WAIT_MS, left - LAST_TRY_MS);
        }
        await sleep(wait);
        pause *= 2;
      }
    } finally {
      // Marked before the send, but nothing may have reached the server: the token is
      // as good as before, and the mark goes (best effort; this client knows anyway).
      if (marked && outcome?.ok !== true && live.doubt.kind === "clear") {
        await this.#storage.save(live.record).catch(() => undefined);
      }
    }
  }

  async #postRefreshOnce(record: TokenRecord): Promise<Try> {
    let response: Response;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#refreshTimeout);
    try {
      try {
        response = await this.#postAuth("token/refresh", this.#transport.present(record), undefined, controller.signal);
      } catch (error) {
        if (error instanceof ProtocolError) return { ok: false, error, neverSent: false };
        return {
          ok: false,
          error: new TransientError(controller.signal.aborted ? "timed out" : "connection failed", undefined, error),
          neverSent: !controller.signal.aborted && neverSent(error),
        };
      }
      if (response.status !== 200) {
        const error = await errorOf(response);
        return {
          ok: false,
          error: error instanceof ServerError && error.code === "invalid_grant" ? new LoginRequiredError() : error,
          neverSent: false,
        };
      }
      const body = await tokenBody(response);
      return { ok: true, body, received: mono(), receivedWall: wall() };
    } catch (error) {
      // The answer's body failed (a reset, the timeout): the server may have rotated.
      const wrapped =
        error instanceof SymbolonError
          ? error
          : new TransientError(controller.signal.aborted ? "timed out" : "connection failed", undefined, error);
      return { ok: false, error: wrapped, neverSent: false };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Forgets the tokens, in memory and in the storage. */
  async #forget(): Promise<void> {
    this.#replace(null);
    this.#unsaved = null;
    try {
      await this.#storage.clear();
    } catch (error) {
      throw new StoreError("the tokens could not be removed", error);
    }
  }

  async #load(): Promise<TokenRecord | null> {
    let stored: unknown;
    try {
      stored = await this.#storage.load();
    } catch (error) {
      throw new StoreError("the tokens could not be read", error);
    }
    if (stored === null || stored === undefined) return null;
    if (!isTokenRecord(stored)) throw new StoreError("the stored record is not one this client can read");
    return stored;
  }

  /**
   * `POST` a JSON body to a token endpoint. A redirect is not followed (the password or
   * refresh token would go with it): it is a `ProtocolError`. Connection failures and
   * timeouts are thrown as they are for the refresh, as `TransientError` otherwise.
   */
  async #postAuth(path: string, body: Record<string, string>, timeout?: number, signal?: AbortSignal): Promise<Response> {
    const url = new URL(path, this.#base);
    let response: Response;
    const controller = timeout !== undefined ? new AbortController() : undefined;
    const timer = controller !== undefined ? setTimeout(() => controller.abort(), timeout) : undefined;
    try {
      response = await this.#fetch(url.href, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify(body),
        credentials: this.#transport.credentials,
        redirect: "manual",
        signal: signal ?? controller?.signal ?? null,
      });
    } catch (error) {
      if (controller === undefined) throw error;
      throw new TransientError(controller.signal.aborted ? "timed out" : "connection failed", undefined, error);
    } finally {
      clearTimeout(timer);
    }
    if (response.type === "opaqueredirect" || (response.status >= 300 && response.status < 400)) {
      await response.body?.cancel().catch(() => undefined);
      throw new ProtocolError(`POST /${path} answered a redirect, which is not followed on the token endpoints`);
    }
    return response;
  }
}

/** The token response of a 200, checked (docs/API.md §2.2). */
async function tokenBody(response: Response): Promise<TokenResponseBody> {
  let body: unknown;
  try {
    body = await response.json();
  } catch (error) {
    if (error instanceof SyntaxError) throw new ProtocolError("the token response is not JSON");
    throw new TransientError("the answer was cut off", undefined, error);
  }
  const b = body as Partial<Record<keyof TokenResponseBody, unknown>> | null;
  if (
    b === null ||
    typeof b !== "object" ||
    typeof b.access_token !== "string" ||
    typeof b.refresh_token !== "string" ||
    typeof b.session_id !== "string" ||
    typeof b.expires_in !== "number" ||
    !(b.expires_in >= 0) ||
    typeof b.token_type !== "string"
  ) {
    throw new ProtocolError("the token response is not valid");
  }
  if (b.token_type.toLowerCase() !== "bearer") {
    throw new ProtocolError("the token response's token_type is not Bearer");
  }
  return b as TokenResponseBody;
}

/** The contract's error for a non-success answer (R1): 5xx and 429 are transient. */
async function errorOf(response: Response): Promise<SymbolonError> {
  const header = response.headers.get("retry-after");
  const retryAfter = header !== null && /^\s*\d+\s*$/.test(header) ? Number(header) : undefined;
  let code = "";
  let description = "no error body";
  try {
    const body = (await response.json()) as { error?: unknown; error_description?: unknown };
    if (typeof body.error === "string") code = body.error;
    if (typeof body.error_description === "string") description = body.error_description.slice(0, 200);
  } catch {
    // Not the contract's body (a proxy's page): the status says enough.
  }
  if (response.status >= 500 || response.status === 429) {
    return new TransientError(code ? `${response.status}: ${code}` : `${response.status}`, retryAfter);
  }
  return new ServerError(response.status, code, description);
}

// Node's fetch (undici) names the cause of a failed connection; these say the request
// was never written. A browser's fetch says nothing (a bare TypeError), which counts as
// "may have reached the server" unless the browser knows it is offline.
const NOT_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL", "UND_ERR_CONNECT_TIMEOUT"]);

/** True when a failed fetch certainly never sent the request (R2.5). */
function neverSent(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  if (typeof cause?.code === "string" && NOT_SENT.has(cause.code)) return true;
  const nav = (globalThis as { navigator?: { onLine?: boolean } }).navigator;
  return nav?.onLine === false;
}

/**
 * True for a 401 whose `WWW-Authenticate` has a Bearer challenge with
 * `error="invalid_token"` (RFC 6750 §3): a fresh token may succeed. A bare challenge (no
 * token was sent), another error, or the words only in `error_description` are not.
 */
export function isInvalidToken(response: Response): boolean {
  if (response.status !== 401) return false;
  const header = response.headers.get("www-authenticate");
  return header !== null && bearerError(header) === "invalid_token";
}

/**
 * The `error` parameter of the Bearer challenge in a `WWW-Authenticate` value, which
 * may hold several challenges (RFC 9110 §11.6.1): `scheme param=value, param="quoted"`.
 */
export function bearerError(header: string): string | undefined {
  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;
  let scheme = "";
  let rest = header;
  for (;;) {
    rest = rest.replace(/^[\s,]+/, "");
    const name = TOKEN.exec(rest)?.[0];
    if (name === undefined) return undefined;
    rest = rest.slice(name.length);
    const afterName = rest.replace(/^[ \t]+/, "");
    if (!afterName.startsWith("=")) {
      // A new challenge's scheme.
      scheme = name.toLowerCase();
      continue;
    }
    rest = afterName.slice(1).replace(/^[ \t]+/, "");
    let value: string;
    if (rest.startsWith('"')) {
      // A quoted string ends at the first quote not escaped by a backslash.
      let i = 1;
      value = "";
      for (; i < rest.length && rest[i] !== '"'; i++) {
        if (rest[i] === "\\") i++;
        value += rest[i] ?? "";
      }
      if (i >= rest.length) return undefined;
      rest = rest.slice(i + 1);
    } else {
      // A token (or the `=` padding of a token68, which is no parameter of interest).
      value = /^[^\s,]*/.exec(rest)?.[0] ?? "";
      rest = rest.slice(value.length);
    }
    if (scheme === "bearer" && name.toLowerCase() === "error") return value;
  }
}

function isAsyncIterable(value: unknown): boolean {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `promise`, or the signal's reason once it aborts: the caller stops waiting, the work goes on. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/**
 * The Web Locks API where there is one (every tab of an origin shares it), else a lock
 * held within this client only (tasks run one after the other).
 */
function defaultLock(name: string): Lock {
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  if (locks !== undefined) {
    return (task) => locks.request(name, { mode: "exclusive" }, () => task()) as ReturnType<typeof task>;
  }
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>): Promise<T> => {
    const run = tail.then(task, task);
    tail = run.catch(() => undefined);
    return run;
  };
}
