// Test support: a real symbolon server in a temporary directory, a fault proxy in front
// of it, a server that records the headers it gets, and a fetch that counts.

import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** The server binary: $SYMBOLON_BIN, else target/debug/symbolon of the repository. */
export const BIN = process.env.SYMBOLON_BIN ?? resolve(here, "../../../target/debug/symbolon");

export const ALICE = "alice";
export const PASSWORD = "correct horse battery";

/**
 * Starts `symbolon serve` on a free loopback port (port 0; the address is read from its
 * log) over a fresh SQLite database, with a cheap Argon2, and the user alice. Waits for
 * /healthz (bounded); fails with the server's stderr.
 */
export async function startServer(settings = {}) {
  const dir = await mkdtemp(join(tmpdir(), "symbolon-js-"));
  try {
    return await startIn(dir, settings);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function startIn(dir, settings) {
  const env = {
    ...process.env,
    RUST_LOG: "info",
    SYMBOLON_LOG_FORMAT: "text",
    SYMBOLON_LISTEN: "127.0.0.1:0",
    SYMBOLON_DATABASE_URL: `sqlite://${join(dir, "symbolon.db")}`,
    SYMBOLON_MASTER_KEY_FILE: join(dir, "symbolon.key"),
    SYMBOLON_ARGON2_MEMORY_KIB: "64",
    SYMBOLON_ARGON2_ITERATIONS: "1",
    ...settings,
  };
  await run([ "user", "add", ALICE, "--password-stdin"], env, `${PASSWORD}\n`);
  const child = spawn(BIN, ["serve"], { env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start within 20 s:\n${stderr}`)), 20_000);
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
      const found = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]);
      }
    });
    child.once("error", (e) => reject(new Error(`cannot run ${BIN} (set SYMBOLON_BIN): ${e.message}`)));
    exited.then(({ code, signal }) => reject(new Error(`the server exited (${code ?? signal}):\n${stderr}`)));
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`/healthz did not answer within 10 s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    dir,
    stderr: () => stderr,
    /** The value of `symbolon_refresh_total{outcome=...}` (0 when absent). */
    async refreshes(outcome) {
      const text = await (await fetch(`${url}/metrics`)).text();
      const line = text.split("\n").find((l) => l.startsWith(`symbolon_refresh_total{outcome="${outcome}"}`));
      return line === undefined ? 0 : Number(line.split(/\s+/).pop());
    },
    /** All refresh outcomes, for assertions on several at once. */
    async counts() {
      const out = {};
      for (const o of ["rotated", "grace_replay", "reuse_detected", "expired", "revoked", "invalid"]) {
        out[o] = await this.refreshes(o);
      }
      return out;
    },
    async stop() {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function run(args, env, input) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { env, stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (c) => (stderr += c));
    child.once("error", (e) => reject(new Error(`cannot run ${BIN} (set SYMBOLON_BIN): ${e.message}`)));
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`symbolon ${args.join(" ")} exited ${code}:\n${stderr}`)),
    );
    child.stdin.end(input);
  });
}

/** Raw `POST /token/refresh` or `/logout` (not through the client), for checks. */
export async function post(url, path, body) {
  const response = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/**
 * An HTTP proxy to `target` that applies faults to `POST /token/refresh`: each refresh
 * takes the next entry of `faults` (then `always`):
 * - "pass": forwarded;
 * - "drop": forwarded, the server's answer read, then the client's socket destroyed
 *   without an answer (the refresh happened, its answer is lost);
 * - "503": answered 503 by the proxy, not forwarded;
 * - "hold": never answered, not forwarded.
 * `listen(port)` again after `close()` brings it back on the same port.
 */
export async function startProxy(target) {
  const proxy = {
    faults: [],
    always: "pass",
    /** Refresh requests that reached the proxy. */
    refreshes: 0,
    url: "",
    server: null,
    port: 0,
    held: [],
  };
  const handler = async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const fault = req.url === "/token/refresh" ? (proxy.refreshes++, proxy.faults.shift() ?? proxy.always) : "pass";
    if (fault === "hold") {
      proxy.held.push(res);
      return;
    }
    if (fault === "503") {
      res.writeHead(503, { "content-type": "application/json", "retry-after": "1" });
      res.end(JSON.stringify({ error: "server_error", error_description: "temporarily unavailable; retry later" }));
      return;
    }
    const headers = { ...req.headers };
    delete headers.host;
    delete headers.connection;
    delete headers["content-length"];
    const upstream = await fetch(`${target}${req.url}`, {
      method: req.method,
      headers,
      body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
      redirect: "manual",
    });
    const answer = Buffer.from(await upstream.arrayBuffer());
    if (fault === "drop") {
      req.socket.destroy();
      return;
    }
    const out = {};
    upstream.headers.forEach((v, k) => {
      if (k !== "content-length" && k !== "transfer-encoding" && k !== "connection" && k !== "keep-alive") out[k] = v;
    });
    res.writeHead(upstream.status, out);
    res.end(answer);
  };
  proxy.listen = (port = 0) =>
    new Promise((resolve, reject) => {
      const server = http.createServer((req, res) => {
        handler(req, res).catch(() => res.destroy());
      });
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        proxy.server = server;
        proxy.port = server.address().port;
        proxy.url = `http://127.0.0.1:${proxy.port}`;
        resolve(proxy);
      });
    });
  proxy.close = () =>
    new Promise((resolve) => {
      for (const res of proxy.held.splice(0)) res.destroy();
      proxy.server.closeAllConnections();
      proxy.server.close(() => resolve());
    });
  return proxy.listen();
}

/**
 * A server that records each request's method, path and headers and answers 200 (or
 * redirects `/hop?to=URL` with a 307).
 */
export async function startRecorder() {
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, headers: req.headers });
    const to = new URL(req.url, "http://x").searchParams.get("to");
    if (to !== null) {
      res.writeHead(307, { location: to });
      res.end();
      return;
    }
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    seen,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(r);
      }),
  };
}

/** A fetch that records each request (method, path, Authorization) before sending it. */
export function countingFetch() {
  const calls = [];
  const counted = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    calls.push({ method: init?.method ?? (input instanceof Request ? input.method : "GET"), path: url.pathname, authorization: headers.get("authorization") });
    return fetch(input, init);
  };
  counted.calls = calls;
  counted.count = (method, path) => calls.filter((c) => c.method === method && c.path === path).length;
  return counted;
}

/** A promise and its resolve function, for holding a step until a test says so. */
export function gate() {
  let open;
  const promise = new Promise((r) => (open = r));
  return { promise, open };
}
