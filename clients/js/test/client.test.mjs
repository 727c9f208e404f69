// The client against a real server over loopback HTTP: login, the fetch wrapper,
// refresh (single flight, on 401), origins, the failure taxonomy, logout.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  InvalidCredentialsError,
  LoginRequiredError,
  MemoryStorage,
  RefusedError,
  StoreError,
  SymbolonClient,
} from "../dist/index.js";
import { ALICE, PASSWORD, countingFetch, gate, post, startRecorder, startServer } from "./support.mjs";

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.stop();
});

/** A client of the test server; `options` are added. */
function client(options = {}) {
  return new SymbolonClient({ baseUrl: server.url, ...options });
}

/** A client logged in as alice, with its storage. */
async function loggedIn(options = {}) {
  const storage = options.storage ?? new MemoryStorage();
  const c = client({ storage, ...options });
  await c.login(ALICE, PASSWORD);
  return { c, storage };
}

/** An access token the server refuses with 401 invalid_token (its signature altered). */
function spoiled(accessToken) {
  const last = accessToken.at(-2) === "A" ? "B" : "A";
  return `${accessToken.slice(0, -2)}${last}${accessToken.at(-1)}`;
}

describe("login and the fetch wrapper", () => {
  test("login, then GET /me through the wrapper", async () => {
    const storage = new MemoryStorage();
    const c = client({ storage });
    const seen = [];
    c.on("tokens", (e) => seen.push(e));
    const { sessionId } = await c.login(ALICE, PASSWORD);
    assert.deepEqual(seen, [{ sessionId, reason: "login" }]);
    const stored = await storage.load();
    assert.equal(stored.sessionId, sessionId);
    assert.equal(stored.inDoubt, undefined);

    const response = await c.fetch("/me");
    assert.equal(response.status, 200);
    const me = await response.json();
    assert.equal(me.username, ALICE);
    assert.equal(me.session_id, sessionId);
    assert.equal(await c.accessToken(), stored.accessToken, "fresh: no refresh");
    assert.equal(await c.sessionId(), sessionId);
  });

  test("a wrong password is InvalidCredentialsError, and nothing is stored", async () => {
    const storage = new MemoryStorage();
    await assert.rejects(client({ storage }).login(ALICE, "wrong password!"), InvalidCredentialsError);
    assert.equal(await storage.load(), null);
  });

  test("without tokens, fetch is LoginRequiredError and nothing is sent", async () => {
    const counted = countingFetch();
    await assert.rejects(client({ fetch: counted }).fetch("/me"), LoginRequiredError);
    assert.equal(counted.calls.length, 0);
  });

  test("a login over a session replaces its tokens, then ends the old session", async () => {
    const { c, storage } = await loggedIn();
    const old = await storage.load();
    const { sessionId } = await c.login(ALICE, PASSWORD);
    assert.notEqual(sessionId, old.sessionId);
    assert.equal((await storage.load()).sessionId, sessionId);
    const refused = await post(server.url, "/token/refresh", { refresh_token: old.refreshToken });
    assert.equal(refused.body.error, "invalid_grant", "the old session was ended");
    assert.equal((await c.fetch("/me")).status, 200);
  });

  test("a client without tokens picks up a login saved by another sharing the storage", async () => {
    const { c: first, storage } = await loggedIn();
    const second = client({ storage });
    assert.equal(await second.sessionId(), await first.sessionId());
    assert.equal((await second.fetch("/me")).status, 200);
  });
});

describe("refresh", () => {
  test("20 concurrent requests with a due access token make exactly one refresh", async () => {
    // A margin longer than the token's lifetime: due at once.
    const { c } = await loggedIn({ refreshMargin: 3_600_000 });
    const before = await server.counts();
    const responses = await Promise.all(Array.from({ length: 20 }, () => c.fetch("/me")));
    for (const r of responses) assert.equal(r.status, 200);
    const ids = new Set(await Promise.all(responses.map(async (r) => (await r.json()).session_id)));
    assert.equal(ids.size, 1, "one session");
    const after = await server.counts();
    assert.equal(after.rotated - before.rotated, 1, "exactly one rotation");
    assert.equal(after.grace_replay - before.grace_replay, 0);
    assert.equal(after.reuse_detected - before.reuse_detected, 0);
  });

  test("a 401 invalid_token refreshes once and replays once", async () => {
    const { c: first, storage } = await loggedIn();
    const stored = await storage.load();
    await storage.save({ ...stored, accessToken: spoiled(stored.accessToken) });
    const counted = countingFetch();
    // A second client reads the spoiled token as fresh from the storage.
    const c = client({ storage, fetch: counted });
    const before = await server.refreshes("rotated");
    const response = await c.fetch(`${server.url}/me`);
    assert.equal(response.status, 200);
    assert.equal((await response.json()).session_id, await first.sessionId());
    assert.equal(counted.count("GET", "/me"), 2, "the request and one replay");
    assert.equal(counted.count("POST", "/token/refresh"), 1);
    assert.equal(await server.refreshes("rotated"), before + 1);
    const [sent, replayed] = counted.calls.filter((x) => x.path === "/me");
    assert.notEqual(sent.authorization, replayed.authorization);
  });

  test("a string body is replayed after a 401 invalid_token", async () => {
    const { storage } = await loggedIn();
    const stored = await storage.load();
    await storage.save({ ...stored, accessToken: spoiled(stored.accessToken) });
    const counted = countingFetch();
    const c = client({ storage, fetch: counted });
    // POST /password checks the token first; with a wrong current password the replay
    // ends in 401 invalid_grant (no WWW-Authenticate), which is returned as it is.
    const response = await c.fetch("/password", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ current_password: "not the password", new_password: "another long password" }),
    });
    assert.equal(response.status, 401);
    assert.equal((await response.json()).error, "invalid_grant");
    assert.equal(counted.count("POST", "/password"), 2);
  });

  test("a ReadableStream body is not replayed, and the rejected token is not used again", async () => {
    const { storage } = await loggedIn();
    const stored = await storage.load();
    const bad = spoiled(stored.accessToken);
    await storage.save({ ...stored, accessToken: bad });
    const counted = countingFetch();
    const c = client({ storage, fetch: counted });
    const text = JSON.stringify({ current_password: PASSWORD, new_password: "another long password" });
    const body = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(text));
        controller.close();
      },
    });
    const response = await c.fetch("/password", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      duplex: "half",
    });
    assert.equal(response.status, 401);
    assert.match(response.headers.get("www-authenticate"), /invalid_token/);
    assert.equal(counted.count("POST", "/password"), 1, "not replayed");
    assert.equal(counted.count("POST", "/token/refresh"), 0, "no refresh for a request that is not replayed");

    // The next request refreshes first instead of presenting the rejected token.
    assert.equal((await c.fetch("/me")).status, 200);
    assert.equal(counted.count("POST", "/token/refresh"), 1);
    const me = counted.calls.find((x) => x.path === "/me");
    assert.notEqual(me.authorization, `Bearer ${bad}`);
  });
});

describe("refresh and its callers", () => {
  test("a caller that gives up does not stop the refresh: the successor is saved", async () => {
    const held = gate();
    const answered = gate();
    const storage = new MemoryStorage();
    const c = client({
      storage,
      refreshMargin: 3_600_000,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (new URL(String(input)).pathname === "/token/refresh") {
          answered.open();
          await held.promise;
        }
        return response;
      },
    });
    await c.login(ALICE, PASSWORD);
    const spent = (await storage.load()).refreshToken;
    const controller = new AbortController();
    const call = c.fetch("/me", { signal: controller.signal });
    await answered.promise;
    controller.abort();
    await assert.rejects(call, { name: "AbortError" });
    held.open();
    // The refresh goes on without its caller and saves the successor.
    const deadline = Date.now() + 5_000;
    let stored = await storage.load();
    while (stored.refreshToken === spent && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      stored = await storage.load();
    }
    assert.notEqual(stored.refreshToken, spent, "the successor was saved");
    assert.equal(stored.inDoubt, undefined);
    const raw = await post(server.url, "/token/refresh", { refresh_token: stored.refreshToken });
    assert.equal(raw.status, 200, "and it is the session's current token");
  });

  test("a request is not replayed under another session", async () => {
    const { storage } = await loggedIn();
    const stored = await storage.load();
    await storage.save({ ...stored, accessToken: spoiled(stored.accessToken) });
    let c;
    let relogged = false;
    const counted = countingFetch();
    c = client({
      storage,
      fetch: async (input, init) => {
        const response = await counted(input, init);
        if (new URL(String(input)).pathname === "/me" && !relogged) {
          // Between the 401 and its replay, a logout and a new login.
          relogged = true;
          await c.logout();
          await c.login(ALICE, PASSWORD);
        }
        return response;
      },
    });
    const response = await c.fetch("/me");
    assert.equal(response.status, 401, "the 401 is returned");
    assert.equal(counted.count("GET", "/me"), 1, "no replay");
    const fresh = await c.fetch("/me");
    assert.equal((await fresh.json()).session_id, await c.sessionId());
  });

  test("a refresh whose in-doubt mark cannot be stored is not sent", async () => {
    const inner = new MemoryStorage();
    let refuseMarks = true;
    const storage = {
      load: () => inner.load(),
      clear: () => inner.clear(),
      save: async (record) => {
        if (refuseMarks && record.inDoubt !== undefined) throw new Error("disk full");
        return inner.save(record);
      },
    };
    const counted = countingFetch();
    const c = client({ storage, fetch: counted, refreshMargin: 3_600_000 });
    await c.login(ALICE, PASSWORD);
    const before = await inner.load();
    await assert.rejects(c.fetch("/me"), StoreError);
    assert.equal(counted.count("POST", "/token/refresh"), 0, "nothing sent");
    assert.deepEqual(await inner.load(), before, "the tokens as they were");
    refuseMarks = false;
    assert.equal((await c.fetch("/me")).status, 200);
    assert.equal(counted.count("POST", "/token/refresh"), 1);
  });
});

describe("origins", () => {
  let api;
  let other;
  before(async () => {
    api = await startRecorder();
    other = await startRecorder();
  });
  after(async () => {
    await api.close();
    await other.close();
  });

  test("the token goes to apiOrigins, and is refused for any other origin before sending", async () => {
    const { c } = await loggedIn({ apiOrigins: [api.url] });
    const token = await c.accessToken();

    assert.equal((await c.fetch(`${api.url}/data`)).status, 200);
    assert.equal(api.seen.at(-1).headers.authorization, `Bearer ${token}`);

    const count = other.seen.length;
    for (const url of [`${other.url}/data`, `${other.url.replace("127.0.0.1", "localhost")}/data`, `//127.0.0.1:${new URL(other.url).port}/x`]) {
      await assert.rejects(c.fetch(url), RefusedError, url);
    }
    assert.equal(other.seen.length, count, "nothing reached the other origin");
    // The message names origins, never the token.
    const error = await c.fetch(`${other.url}/data`).catch((e) => e);
    assert.ok(!String(error.message).includes(token));
  });

  test("a redirect from an allowed origin to another does not carry the token", async () => {
    const { c } = await loggedIn({ apiOrigins: [api.url] });
    const response = await c.fetch(`${api.url}/hop?to=${encodeURIComponent(`${other.url}/landing`)}`);
    assert.equal(response.status, 200);
    const landing = other.seen.find((s) => s.url === "/landing");
    assert.ok(landing, "the redirect was followed");
    assert.equal(landing.headers.authorization, undefined, "no token on the other origin");
  });
});

describe("failures and logout", () => {
  test("a refused refresh token: loginRequired event, storage cleared, LoginRequiredError", async () => {
    const { c, storage } = await loggedIn({ refreshMargin: 3_600_000 });
    const events = [];
    c.on("loginRequired", (e) => events.push(e));
    // The session ends elsewhere (another device logs it out).
    const stored = await storage.load();
    assert.equal((await post(server.url, "/logout", { refresh_token: stored.refreshToken })).status, 204);

    const before = await server.refreshes("revoked");
    await assert.rejects(c.fetch("/me"), LoginRequiredError);
    assert.deepEqual(events, [{ reason: "refused" }]);
    assert.equal(await storage.load(), null);
    assert.equal(await server.refreshes("revoked"), before + 1);
    await assert.rejects(c.accessToken(), LoginRequiredError);
  });

  test("logout ends the session on the server and clears the storage", async () => {
    const { c, storage } = await loggedIn();
    const stored = await storage.load();
    const events = [];
    c.on("loggedOut", (e) => events.push(e));
    await c.logout();
    assert.equal(events.length, 1);
    assert.equal(await storage.load(), null);
    await assert.rejects(c.fetch("/me"), LoginRequiredError);
    const refused = await post(server.url, "/token/refresh", { refresh_token: stored.refreshToken });
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error, "invalid_grant");
    // Logging out without a session is a no-op.
    await c.logout();
  });

  test("logout of the other sessions keeps this one", async () => {
    const { c: other, storage: otherStorage } = await loggedIn();
    const { c } = await loggedIn();
    await c.logout("others");
    assert.equal((await c.fetch("/me")).status, 200);
    const refused = await post(server.url, "/token/refresh", { refresh_token: (await otherStorage.load()).refreshToken });
    assert.equal(refused.body.error, "invalid_grant");
    // The other client learns it at its next refresh.
    await assert.rejects(other.refresh(), LoginRequiredError);
  });

  test("a logout refused with anything but invalid_grant keeps the tokens", async () => {
    const storage = new MemoryStorage();
    const c = client({
      storage,
      fetch: async (input, init) =>
        new URL(String(input)).pathname === "/logout"
          ? new Response(JSON.stringify({ error: "invalid_client", error_description: "a proxy says no" }), { status: 401 })
          : fetch(input, init),
    });
    await c.login(ALICE, PASSWORD);
    await assert.rejects(c.logout(), (e) => e.name === "ServerError" && e.code === "invalid_client");
    assert.notEqual(await storage.load(), null);
    assert.equal((await c.fetch("/me")).status, 200);
  });

  test("a logout waits for the refresh in flight and ends its successor", async () => {
    const held = gate();
    const answered = gate();
    const storage = new MemoryStorage();
    const c = client({
      storage,
      refreshMargin: 3_600_000,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (new URL(String(input)).pathname === "/token/refresh") {
          answered.open();
          await held.promise; // the server has rotated; the answer is held
        }
        return response;
      },
    });
    await c.login(ALICE, PASSWORD);
    const refreshing = c.accessToken();
    await answered.promise;
    const loggingOut = c.logout();
    held.open();
    const successor = await refreshing;
    await loggingOut;
    assert.equal(await storage.load(), null);
    await assert.rejects(c.accessToken(), LoginRequiredError);
    // The successor's session is over on the server.
    const me = await fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${successor}` } });
    assert.equal(me.status, 401);
  });

  test("a refresh that raced a logout by another client does not resurrect the tokens", async () => {
    const held = gate();
    const answered = gate();
    const storage = new MemoryStorage();
    // Two clients on one storage, each with its own lock (nothing excludes them).
    const refresher = client({
      storage,
      refreshMargin: 3_600_000,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (new URL(String(input)).pathname === "/token/refresh") {
          answered.open();
          await held.promise;
        }
        return response;
      },
    });
    await refresher.login(ALICE, PASSWORD);
    const loggerOut = client({ storage });
    const refreshing = refresher.accessToken();
    await answered.promise;
    await loggerOut.logout();
    assert.equal(await storage.load(), null);
    held.open();
    await assert.rejects(refreshing, LoginRequiredError);
    assert.equal(await storage.load(), null, "the successor was not saved");
    assert.equal(await refresher.sessionId(), null);
    await assert.rejects(refresher.fetch("/me"), LoginRequiredError);
  });
});
