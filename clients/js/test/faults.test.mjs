// Lost and refused refresh answers (docs/CLIENT.md R1, R2), through a fault proxy in
// front of a real server: a lost answer is retried within the window and never becomes
// reuse; a connection that was never made is transient; past the window the token is
// not presented again.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { InDoubtError, LoginRequiredError, MemoryStorage, SymbolonClient, TransientError } from "../dist/index.js";
import { ALICE, PASSWORD, startProxy, startServer } from "./support.mjs";

let server;
// A 4 s grace (the client is told so below): the settle wait of R4 stays short.
const GRACE = 4_000;
before(async () => {
  server = await startServer({ SYMBOLON_REUSE_GRACE: "4" });
});
after(async () => {
  await server?.stop();
});

/**
 * A proxy (closed when the test `t` ends), and a client logged in through it whose
 * access token is always due.
 */
async function setup(t, options = {}) {
  const proxy = await startProxy(server.url);
  t.after(() => proxy.close());
  const storage = new MemoryStorage();
  const client = new SymbolonClient({ baseUrl: proxy.url, storage, refreshMargin: 3_600_000, reuseGrace: GRACE, ...options });
  await client.login(ALICE, PASSWORD);
  const sessionId = await client.sessionId();
  const counts = await server.counts();
  return { proxy, storage, client, sessionId, counts };
}

/** The change of every refresh outcome since `before`. */
async function since(before) {
  const now = await server.counts();
  return Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - before[k]]));
}

async function meOf(client) {
  const response = await client.fetch("/me");
  assert.equal(response.status, 200);
  return (await response.json()).session_id;
}

describe("lost answers", () => {
  test("a refresh whose answer was lost is retried within the grace and gets the successor", async (context) => {
    const t = await setup(context);
    t.proxy.faults = ["drop"];
    assert.equal(await meOf(t.client), t.sessionId, "the session survives");
    assert.equal(t.proxy.refreshes, 2, "the lost try and one retry");
    const d = await since(t.counts);
    assert.equal(d.rotated, 1);
    assert.equal(d.grace_replay, 1, "the retry was a grace replay: the same successor");
    assert.equal(d.reuse_detected, 0);
    const stored = await t.storage.load();
    assert.equal(stored.inDoubt, undefined, "the mark went with the save");
    // The successor is refreshed in turn, once its predecessor has settled (R4).
    const started = performance.now();
    await t.client.refresh();
    assert.ok(performance.now() - started > 1_000, "waited for the predecessor to settle");
    const after = await since(t.counts);
    assert.equal(after.rotated, 2);
    assert.equal(after.reuse_detected, 0);
  });

  test("a refresh held past its try timeout is retried within the grace", async (context) => {
    const t = await setup(context, { refreshTimeout: 500 });
    t.proxy.faults = ["hold"];
    assert.equal(await meOf(t.client), t.sessionId);
    assert.equal(t.proxy.refreshes, 2);
    const d = await since(t.counts);
    assert.equal(d.rotated, 1);
    assert.equal(d.reuse_detected, 0);
  });

  test("one 503 from the refresh: retried, the tokens kept, the session goes on", async (context) => {
    const t = await setup(context);
    t.proxy.faults = ["503"];
    assert.equal(await meOf(t.client), t.sessionId);
    assert.equal(t.proxy.refreshes, 2);
    const d = await since(t.counts);
    assert.equal(d.rotated, 1);
    assert.equal(d.reuse_detected, 0);
  });

  test("503 until the window closes: InDoubtError, tokens kept with their mark, never presented again", async (context) => {
    // A 2 s grace on the client's side: the window is 1 s.
    const t = await setup(context, { reuseGrace: 2_000 });
    const events = [];
    t.client.on("loginRequired", (e) => events.push(e));
    t.proxy.always = "503";
    const started = performance.now();
    await assert.rejects(t.client.fetch("/me"), InDoubtError);
    const took = performance.now() - started;
    assert.ok(took >= 900 && took < 3_000, `gave up after the window (${took} ms)`);
    assert.deepEqual(events, [{ reason: "in_doubt" }]);
    const stored = await t.storage.load();
    assert.ok(stored !== null && stored.inDoubt !== undefined, "kept, with the mark");
    const tries = t.proxy.refreshes;
    assert.ok(tries >= 2, `retried within the window (${tries})`);

    // The link is back, but the token is past its window: not presented, to refresh or
    // to log out of every session.
    t.proxy.always = "pass";
    await assert.rejects(t.client.fetch("/me"), LoginRequiredError);
    await assert.rejects(t.client.logout("global"), InDoubtError);
    assert.equal(t.proxy.refreshes, tries);
    // Another client sharing the storage cannot date the mark: not presented either.
    const other = new SymbolonClient({ baseUrl: t.proxy.url, storage: t.storage, refreshMargin: 3_600_000, reuseGrace: GRACE });
    await assert.rejects(other.fetch("/me"), InDoubtError);
    assert.equal(t.proxy.refreshes, tries);
    // A local logout forgets the tokens without sending them; a login starts again.
    await t.client.logout();
    assert.equal(await t.storage.load(), null);
    await t.client.login(ALICE, PASSWORD);
    assert.equal((await t.client.fetch("/me")).status, 200);
    assert.equal((await since(t.counts)).reuse_detected, 0);
  });
});

describe("never sent", () => {
  test("connection refused: TransientError after 3 tries, tokens kept unmarked; works when the server is back", async (context) => {
    const t = await setup(context);
    const port = t.proxy.port;
    await t.proxy.close();
    // Let the client's pool see its kept-alive connection closed (a request written on
    // it would be a reset after sending: in doubt, not "never sent").
    await new Promise((r) => setTimeout(r, 200));
    const events = [];
    t.client.on("loginRequired", (e) => events.push(e));
    const error = await t.client.fetch("/me").catch((e) => e);
    assert.ok(error instanceof TransientError, String(error));
    assert.deepEqual(events, []);
    const stored = await t.storage.load();
    assert.ok(stored !== null);
    assert.equal(stored.inDoubt, undefined, "not in doubt: nothing was sent");

    await t.proxy.listen(port);
    assert.equal(await meOf(t.client), t.sessionId, "the same session, no login");
    const d = await since(t.counts);
    assert.equal(d.rotated, 1);
    assert.equal(d.reuse_detected, 0);
  });
});
