// No byte sequence takes `ftune serve` down. Malformed request lines, headers, %-escapes,
// bodies and WebSocket upgrades go to the server over raw sockets (127.0.0.1 only, a bounded
// number of cases and a time budget, so the test stops by itself); after each one a valid,
// authenticated request must still be answered, no answer may be a 500, and a training run
// started before the barrage finishes. The server runs in this process, so an exception thrown
// out of a handler fails the test as it would have killed `ftune serve`.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { WebSocket } from "ws";

import type { Core } from "../../app/core/service/index.ts";
import { type RunningServer, startServer } from "../../app/server/server.ts";
import { api, scratchHome, testCore, tinyConfig, tinyDataset } from "./helpers.ts";

const home = scratchHome("fuzz");
let core: Core;
let server: RunningServer;

before(async () => {
  core = await testCore(join(home.dir, "data"));
  server = await startServer({
    handlers: core.handlers,
    events: core.events,
    dataDir: core.dataDir,
    rendererDir: join(home.dir, "no-ui"),
    maxJsonBytes: 4 * 1024 * 1024,
    maxUploadBytes: 4096,
  });
});
after(async () => {
  await server.close();
  await core.close();
  home.cleanup();
});

interface RawAnswer {
  status: number | null;
  text: string;
}

/**
 * Sends `bytes` on a new connection and reads what comes back. A request the server is still
 * waiting on (a truncated body) gets our end of the stream after a moment; the socket is
 * dropped after `ms` whatever happens.
 */
function raw(bytes: Buffer | string, ms = 1500): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port: server.port });
    let text = "";
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      clearTimeout(half);
      clearTimeout(limit);
      socket.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : null, text });
    };
    const half = setTimeout(() => socket.end(), 250);
    const limit = setTimeout(done, ms);
    socket.on("data", (d) => {
      text += d.toString("latin1");
      // One full answer is enough (keep-alive would leave the socket open).
      const head = text.indexOf("\r\n\r\n");
      const length = /content-length: *(\d+)/i.exec(text);
      if (head >= 0 && (!length || text.length >= head + 4 + Number(length[1]))) done();
    });
    socket.on("error", done);
    socket.on("close", done);
    socket.write(bytes);
  });
}

const auth = () => `Authorization: Bearer ${server.token}\r\n`;
const host = () => `Host: 127.0.0.1:${server.port}\r\n`;
const wsHeaders =
  "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
const post = (path: string, body: string, extra = "") =>
  `POST ${path} HTTP/1.1\r\n${host()}${auth()}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

/** A valid, authenticated call: the server is alive and still serving. */
async function alive(after: string): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${server.port}/api/rpc/listDatasets`, {
    method: "POST",
    headers: { Authorization: `Bearer ${server.token}` },
    body: "{}",
  });
  assert.equal(res.status, 200, `after ${after}`);
  assert.ok(Array.isArray(await res.json()), `after ${after}`);
}

/** Deterministic pseudo-random numbers (mulberry32), so a failing case can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const nested = (depth: number) => `{"config":${"[".repeat(depth)}${"]".repeat(depth)}}`;

/** Hand-written cases: [name, bytes, the statuses allowed (null: the server may just close)]. */
function cases(): [string, string | Buffer, (number | null)[]][] {
  return [
    ["the issue's 27 bytes", "GET //[ HTTP/1.1\r\n\r\n", [400]],
    ["//[ with a Host (a path like any other)", `GET //[ HTTP/1.1\r\n${host()}\r\n`, [200, 400]],
    ["//[ as a WebSocket upgrade", `GET //[ HTTP/1.1\r\n${host()}${wsHeaders}\r\n`, [400, 401]],
    ["//[ upgrade without Host", `GET //[ HTTP/1.1\r\n${wsHeaders}\r\n`, [400, 401]],
    ["absolute-form target", `GET http://evil.example/api/events HTTP/1.1\r\n${host()}\r\n`, [400]],
    ["asterisk target", `OPTIONS * HTTP/1.1\r\n${host()}\r\n`, [400]],
    ["bad escape in an RPC method", post("/api/rpc/%E0%A4%A", "{}"), [400]],
    ["lone % in an RPC method", post("/api/rpc/list%", "{}"), [400]],
    ["%00 in an RPC method", post("/api/rpc/list%00Datasets", "{}"), [404]],
    ["bad escape in a static path", `GET /%ZZ%E0 HTTP/1.1\r\n${host()}\r\n`, [400, 200]],
    [
      "bad escape in the upload name",
      `POST /api/upload?name=%E0%A4%A HTTP/1.1\r\n${host()}${auth()}Content-Length: 3\r\n\r\nabc`,
      [200, 400],
    ],
    ["bad escape in the events token", `GET /api/events?token=%ZZ HTTP/1.1\r\n${host()}${wsHeaders}\r\n`, [401]],
    ["no token on the events", `GET /api/events HTTP/1.1\r\n${host()}${wsHeaders}\r\n`, [401]],
    [
      "upgrade from another site",
      `GET /api/events?token=${server.token} HTTP/1.1\r\n${host()}Origin: http://evil.example\r\n${wsHeaders}\r\n`,
      [403],
    ],
    [
      "upgrade with Origin null",
      `GET /api/events?token=${server.token} HTTP/1.1\r\n${host()}Origin: null\r\n${wsHeaders}\r\n`,
      [403],
    ],
    [
      "upgrade through DNS rebinding",
      `GET /api/events?token=${server.token} HTTP/1.1\r\nHost: evil.example:${server.port}\r\n${wsHeaders}\r\n`,
      [403],
    ],
    [
      "upgrade with a bad key",
      `GET /api/events?token=${server.token} HTTP/1.1\r\n${host()}Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: x\r\n\r\n`,
      [400],
    ],
    [
      "upgrade to another protocol",
      `GET /api/events?token=${server.token} HTTP/1.1\r\n${host()}Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n`,
      [400],
    ],
    ["API call from another site", post("/api/rpc/listDatasets", "{}", "Origin: https://evil.example\r\n"), [403]],
    [
      "API call through DNS rebinding",
      `POST /api/rpc/listDatasets HTTP/1.1\r\nHost: evil.example\r\n${auth()}Content-Length: 2\r\n\r\n{}`,
      [403],
    ],
    ["a Host that is not a host", `GET / HTTP/1.1\r\nHost: a b@c/d\r\n\r\n`, [400, 403]],
    ["not HTTP at all", Buffer.from([0, 1, 2, 3, 255, 254, 13, 10, 13, 10]), [400, null]],
    ["an unknown HTTP version", `GET / HTTP/9.9\r\n${host()}\r\n`, [400, 505, null]],
    ["a header without a colon", `GET / HTTP/1.1\r\n${host()}Nonsense\r\n\r\n`, [400]],
    ["a NUL in a header", `GET / HTTP/1.1\r\n${host()}X-A: a\0b\r\n\r\n`, [400]],
    [
      "two Content-Lengths",
      `POST /api/rpc/listDatasets HTTP/1.1\r\n${host()}${auth()}Content-Length: 2\r\nContent-Length: 5\r\n\r\n{}`,
      [400],
    ],
    [
      "a negative Content-Length",
      `POST /api/rpc/listDatasets HTTP/1.1\r\n${host()}${auth()}Content-Length: -1\r\n\r\n`,
      [400],
    ],
    [
      "a bad chunk",
      `POST /api/rpc/listDatasets HTTP/1.1\r\n${host()}${auth()}Transfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n`,
      [400],
    ],
    [
      "a body cut short",
      `POST /api/rpc/listDatasets HTTP/1.1\r\n${host()}${auth()}Content-Length: 100\r\n\r\n{"a":`,
      [400, null],
    ],
    ["invalid JSON", post("/api/rpc/listDatasets", '{"a":'), [400]],
    [
      "invalid UTF-8 in JSON",
      Buffer.concat([
        Buffer.from(post("/api/rpc/listDatasets", '{"a":"xx"}').slice(0, -4)),
        Buffer.from([0x22, 0xc3, 0x28, 0x7d]),
      ]),
      [400],
    ],
    ["JSON nested 100,000 deep", post("/api/rpc/createExperiment", nested(100_000)), [400]],
    [
      "a config nested 100,000 deep",
      post("/api/rpc/createExperiment", `{"name":"x","config":{"a":${"[".repeat(100_000)}${"]".repeat(100_000)}}}`),
      [400],
    ],
    ["a huge number", post("/api/rpc/getRun", `{"id":1e999}`), [400]],
    ["a prototype key", post("/api/rpc/getRun", `{"__proto__":{"id":1},"id":"1"}`), [400]],
    ["a method named like a prototype member", post("/api/rpc/constructor", "{}"), [404]],
    ["a method named __proto__", post("/api/rpc/__proto__", "{}"), [404]],
    ["a header of 100 KB", `GET / HTTP/1.1\r\n${host()}X-Big: ${"a".repeat(100_000)}\r\n\r\n`, [431, 400, null]],
    ["a URL of 100 KB", `GET /${"%41".repeat(33_000)} HTTP/1.1\r\n${host()}\r\n`, [431, 400, 200, 404, null]],
  ];
}

test("malformed requests get a 4xx, never a 500, and the server answers after each", async (t) => {
  const dataset = await tinyDataset(core, 16);
  const experiment = await api(core, "createExperiment", {
    name: "under fire",
    datasetId: dataset.id,
    config: tinyConfig({ folds: { k: 2, run: [0] }, train: { epochs: 6, batch_size: 2, device: "cpu", seed: 3 } }),
  });
  const [run] = await api(core, "startRuns", { experimentId: experiment.id });

  for (const [name, bytes, allowed] of cases()) {
    const answer = await raw(bytes);
    assert.ok(
      allowed.includes(answer.status),
      `${name}: got ${answer.status}, expected one of ${allowed}\n${answer.text.slice(0, 300)}`,
    );
    if (answer.status !== null && answer.status >= 400) {
      // Plain words, no stack or internals.
      assert.doesNotMatch(answer.text, /\n\s+at |ERR_INVALID_URL|URI malformed|Maximum call stack/, name);
    }
    await alive(name);
  }

  // Then mutations of valid requests: bytes replaced, inserted, cut; escapes and CR/LF spliced
  // in. Seeded, at most 200 cases or 25 seconds.
  const valid = [
    post("/api/rpc/listDatasets", "{}"),
    post("/api/rpc/getRun", `{"id":${run?.id}}`),
    `GET /api/events?token=${server.token} HTTP/1.1\r\n${host()}${wsHeaders}\r\n`,
    `GET /index.html HTTP/1.1\r\n${host()}\r\n`,
    `POST /api/upload?name=a.csv HTTP/1.1\r\n${host()}${auth()}Content-Length: 8\r\n\r\nid,text\n`,
  ];
  const splices = [
    "%",
    "%E0%A4%A",
    "%ZZ",
    "\r\n",
    "\n",
    "\0",
    "[",
    "//[",
    " ",
    ":",
    "\xff",
    "Upgrade: websocket\r\n",
    "Origin: null\r\n",
  ];
  const rand = random(12);
  const started = Date.now();
  let sent = 0;
  const statuses = new Map<string, number>();
  for (; sent < 200 && Date.now() - started < 25_000; sent++) {
    const base = Buffer.from(valid[Math.floor(rand() * valid.length)] as string, "latin1");
    let bytes = base;
    for (let edits = 1 + Math.floor(rand() * 3); edits > 0; edits--) {
      const at = Math.floor(rand() * bytes.length);
      const kind = rand();
      if (kind < 0.4) {
        bytes = Buffer.from(bytes);
        bytes[at] = Math.floor(rand() * 256);
      } else if (kind < 0.8) {
        const splice = Buffer.from(splices[Math.floor(rand() * splices.length)] as string, "latin1");
        bytes = Buffer.concat([bytes.subarray(0, at), splice, bytes.subarray(at)]);
      } else {
        bytes = bytes.subarray(0, at);
      }
    }
    const answer = await raw(bytes, 1000);
    const key = String(answer.status);
    statuses.set(key, (statuses.get(key) ?? 0) + 1);
    assert.notEqual(
      answer.status,
      500,
      `mutation ${sent}: ${JSON.stringify(bytes.toString("latin1"))}\n${answer.text}`,
    );
    await alive(`mutation ${sent}: ${JSON.stringify(bytes.toString("latin1"))}`);
  }
  t.diagnostic(`${sent} mutated requests, answers ${JSON.stringify(Object.fromEntries(statuses))}`);
  assert.ok(sent >= 50, `only ${sent} mutations in the time budget`);

  const ended = await core.runs.waitFor(run?.id as number);
  assert.equal(ended.status, "completed", ended.error ?? "");
});

function open(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.once("open", () => {
      ws.close();
      resolve(101);
    });
    ws.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once("error", reject);
  });
}

test("WebSocket upgrades check Origin and Host as the API does", async () => {
  const url = `ws://127.0.0.1:${server.port}/api/events?token=${server.token}`;
  assert.equal(await open(url), 101);
  assert.equal(await open(url, { origin: `http://127.0.0.1:${server.port}` }), 101);
  assert.equal(await open(url, { origin: "http://evil.example" }), 403);
  assert.equal(await open(url, { origin: `http://localhost:${server.port}` }), 403);
  assert.equal(await open(url, { headers: { Host: `attacker.example:${server.port}` } }), 403);
  assert.equal(await open(url.replace("token=", "token=x")), 401);
  const rpc = (headers: Record<string, string>) =>
    fetch(`http://127.0.0.1:${server.port}/api/rpc/listDatasets`, {
      method: "POST",
      headers: { Authorization: `Bearer ${server.token}`, ...headers },
      body: "{}",
    });
  assert.equal((await rpc({ Origin: `http://127.0.0.1:${server.port}` })).status, 200);
  const other = await rpc({ Origin: "http://evil.example" });
  assert.equal(other.status, 403);
  assert.match(((await other.json()) as { error: string }).error, /other sites/);
});

test("a handler's internal error is a 500 that names nothing internal; a full disk says so", async () => {
  const secret = "/home/someone/.cache/internals.ts:42";
  const failing = await startServer({
    handlers: {
      ...core.handlers,
      listDatasets: async () => {
        throw new TypeError(`Cannot read properties of undefined at ${secret}`);
      },
      listModels: async () => {
        throw Object.assign(new Error(`ENOSPC: no space left on device, write '/data/ftune.db-wal'`), {
          code: "ENOSPC",
          errno: -28,
          syscall: "write",
        });
      },
    },
    events: core.events,
    dataDir: core.dataDir,
    rendererDir: join(home.dir, "no-ui"),
  });
  const logged: unknown[] = [];
  const log = console.error;
  console.error = (...args: unknown[]) => logged.push(args);
  try {
    const call = (method: string) =>
      fetch(`http://127.0.0.1:${failing.port}/api/rpc/${method}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${failing.token}` },
        body: "{}",
      });
    const internal = await call("listDatasets");
    assert.equal(internal.status, 500);
    const body = (await internal.json()) as { error: string };
    assert.match(body.error, /^Internal error/);
    assert.ok(!body.error.includes(secret) && !body.error.includes("TypeError"), body.error);
    assert.ok(logged.length > 0, "the details went to the log");
    const full = (await (await call("listModels")).json()) as { error: string };
    assert.match(full.error, /^The disk is full \(no space to write \/data\/ftune\.db-wal\): free some space/);
  } finally {
    console.error = log;
    await failing.close();
  }
});

test("API payloads nested 100,000 deep, or with NaN (IPC can carry it), are a 400 naming the place", async () => {
  const deep = JSON.parse(`${"[".repeat(100_000)}${"]".repeat(100_000)}`) as unknown;
  await assert.rejects(
    api(core, "createExperiment", { name: "deep", datasetId: 1, config: { extra: deep } }),
    (err: Error & { status?: number }) => {
      assert.equal(err.status, 400);
      assert.match(err.message, /the input is nested too deeply: more than 32 levels \(under config\.extra/);
      return true;
    },
  );
  await assert.rejects(
    api(core, "createExperiment", { name: "nan", datasetId: 1, config: { optimizer: { lr: Number.NaN } } }),
    /config\.optimizer\.lr must be a finite number \(got NaN\)/,
  );
});
