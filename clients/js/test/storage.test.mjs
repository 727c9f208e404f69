// FileStorage (Node only): mode 0600, atomic replacement, a session that outlives the
// process; and what a client does with a record another client marked in doubt.

import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { FileStorage, InDoubtError, StoreError, SymbolonClient } from "../dist/node.js";
import { ALICE, PASSWORD, countingFetch, startServer } from "./support.mjs";

let server;
let dir;
before(async () => {
  server = await startServer();
  dir = await mkdtemp(join(tmpdir(), "symbolon-js-store-"));
});
after(async () => {
  await server?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

test("FileStorage writes the tokens 0600 in a 0700 directory, atomically", async () => {
  const path = join(dir, "profile", "tokens.json");
  const storage = new FileStorage(path);
  assert.equal(await storage.load(), null, "no file: no tokens");
  const client = new SymbolonClient({ baseUrl: server.url, storage });
  await client.login(ALICE, PASSWORD);
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, "profile"))).mode & 0o777, 0o700);
  // Several saves leave one file and no temporary files beside it.
  await client.refresh();
  await client.logout("others");
  assert.deepEqual(await readdir(join(dir, "profile")), ["tokens.json"]);
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  await client.logout();
  assert.deepEqual(await readdir(join(dir, "profile")), [], "logout removes the file");
  await storage.clear(); // no file: nothing to do
});

test("a session in a FileStorage outlives the client that logged in", async () => {
  const path = join(dir, "resume.json");
  const first = new SymbolonClient({ baseUrl: server.url, storage: new FileStorage(path) });
  const { sessionId } = await first.login(ALICE, PASSWORD);
  const counted = countingFetch();
  const second = new SymbolonClient({ baseUrl: server.url, storage: new FileStorage(path), fetch: counted });
  const response = await second.fetch("/me");
  assert.equal((await response.json()).session_id, sessionId);
  assert.equal(counted.count("POST", "/token/refresh"), 0, "a fresh token is used as it is");
  assert.equal(counted.count("POST", "/login"), 0);
});

test("a file that is not JSON is a StoreError that does not quote it", async () => {
  const path = join(dir, "broken.json");
  await writeFile(path, "secret-looking-text{", { mode: 0o600 });
  const error = await new FileStorage(path).load().catch((e) => e);
  assert.ok(error instanceof StoreError);
  assert.ok(!error.message.includes("secret-looking-text"), error.message);
});

test("a record marked in doubt by another client is never presented", async () => {
  const path = join(dir, "marked.json");
  const storage = new FileStorage(path);
  const first = new SymbolonClient({ baseUrl: server.url, storage });
  await first.login(ALICE, PASSWORD);
  const stored = await storage.load();
  // Another process sent this token, and died before the answer: it left its mark.
  await storage.save({ ...stored, inDoubt: { since: Date.now(), by: "another-process" } });
  const counted = countingFetch();
  const second = new SymbolonClient({ baseUrl: server.url, storage, fetch: counted, refreshMargin: 3_600_000 });
  await assert.rejects(second.fetch("/me"), InDoubtError);
  await assert.rejects(second.logout("global"), InDoubtError);
  assert.equal(counted.count("POST", "/token/refresh"), 0);
  assert.equal(counted.count("POST", "/logout"), 0);
  assert.notEqual(await storage.load(), null, "kept for a login to replace");
  // A login replaces them; the old session (in doubt) is not logged out with them.
  await second.login(ALICE, PASSWORD);
  assert.equal(counted.count("POST", "/logout"), 0);
  assert.equal((await storage.load()).inDoubt, undefined);
});
