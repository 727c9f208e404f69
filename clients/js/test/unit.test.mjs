// Pieces without a server: the WWW-Authenticate parser, errors, MemoryStorage.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import {
  InDoubtError,
  LoginRequiredError,
  MemoryStorage,
  RefusedError,
  SymbolonClient,
  TransientError,
  bearerError,
} from "../dist/index.js";

test("the error of a Bearer challenge", () => {
  for (const [challenge, error] of [
    ['Bearer realm="symbolon", error="invalid_token", error_description="expired"', "invalid_token"],
    ["bearer error=invalid_token", "invalid_token"],
    ['Bearer error_description="not an invalid_token, really", error="insufficient_scope"', "insufficient_scope"],
    ['Bearer realm="a \\"quoted, error=invalid_token\\" realm", error="invalid_request"', "invalid_request"],
    ['Basic realm="x", Bearer error="invalid_token"', "invalid_token"],
    ['Bearer realm="symbolon", Basic error="invalid_token"', undefined],
    ['Bearer realm="symbolon"', undefined],
    ['Basic realm="invalid_token"', undefined],
    ['Bearer realm="unterminated', undefined],
    ["", undefined],
  ]) {
    assert.equal(bearerError(challenge), error, challenge);
  }
});

test("InDoubtError is a LoginRequiredError; TransientError is not", () => {
  assert.ok(new InDoubtError() instanceof LoginRequiredError);
  assert.ok(!(new TransientError("x") instanceof LoginRequiredError));
  assert.equal(new TransientError("503", 2).retryAfter, 2);
});

test("MemoryStorage hands out copies", async () => {
  const storage = new MemoryStorage();
  const record = { v: 1, accessToken: "a", refreshToken: "r", sessionId: "s", expiresIn: 60, obtainedAt: Date.now(), rotated: false };
  await storage.save(record);
  record.refreshToken = "changed";
  const loaded = await storage.load();
  assert.equal(loaded.refreshToken, "r");
  loaded.refreshToken = "changed";
  assert.equal((await storage.load()).refreshToken, "r");
  await storage.clear();
  assert.equal(await storage.load(), null);
});

test("a URL that is not on an allowed origin is refused before anything happens", async () => {
  let called = 0;
  const client = new SymbolonClient({
    baseUrl: "http://127.0.0.1:1/auth",
    apiOrigins: ["https://api.example.com/ignored/path"],
    fetch: async () => {
      called++;
      throw new Error("not expected");
    },
  });
  for (const url of ["https://evil.example.com/", "http://api.example.com/", "https://api.example.com:8443/", "data:text/plain,x"]) {
    await assert.rejects(client.fetch(url), RefusedError, url);
  }
  assert.equal(called, 0);
  assert.throws(() => new SymbolonClient({ baseUrl: "ftp://x" }), TypeError);
  assert.throws(() => new SymbolonClient({ baseUrl: "http://x", reuseGrace: -1 }), TypeError);
  assert.throws(() => new SymbolonClient({ baseUrl: "http://x", refreshTimeout: Number.NaN }), TypeError);
});

test("the browser entry point imports no Node.js module", async () => {
  // Every module reachable from dist/index.js by its imports.
  const seen = new Set();
  const visit = async (url) => {
    if (seen.has(url.href)) return;
    seen.add(url.href);
    const text = await readFile(url, "utf8");
    // `... from "x"`, `import "x"`, `import("x")`.
    for (const [, spec] of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"']+)["']/g)) {
      assert.ok(spec.startsWith("./"), `${url.pathname} imports ${spec}`);
      await visit(new URL(spec, url));
    }
  };
  await visit(new URL("../dist/index.js", import.meta.url));
  assert.ok(seen.size >= 4, [...seen].join(", "));
});
