// `ftune serve`'s HTTP + WebSocket server: token on every /api request, 400s naming the field,
// 404 for unknown methods, 127.0.0.1 by default, uploads, the UI with a strict CSP, and run
// events over the WebSocket.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { WebSocket } from "ws";

import type { ServerEvent } from "../../app/core/api/contract.ts";
import type { Core } from "../../app/core/service/index.ts";
import { type RunningServer, startServer } from "../../app/server/server.ts";
import { safeFileName } from "../../app/server/upload.ts";
import { api, scratchHome, testCore, tinyConfig, tinyDataset } from "./helpers.ts";

const home = scratchHome("server");
const rendererDir = join(home.dir, "dist");
let core: Core;
let server: RunningServer;
let base: string;

before(async () => {
  core = await testCore(join(home.dir, "data"));
  mkdirSync(join(rendererDir, "assets"), { recursive: true });
  writeFileSync(join(rendererDir, "index.html"), "<!doctype html><title>studio</title>");
  writeFileSync(join(rendererDir, "assets", "app.js"), "console.log(1)");
  writeFileSync(join(home.dir, "secret.txt"), "do not serve");
  server = await startServer({
    handlers: core.handlers,
    events: core.events,
    dataDir: core.dataDir,
    rendererDir,
    maxJsonBytes: 4096,
    maxUploadBytes: 1000,
  });
  base = `http://127.0.0.1:${server.port}`;
});
after(async () => {
  await server.close();
  await core.close();
  home.cleanup();
});

const rpc = (method: string, body: unknown, token: string | null = server.token) =>
  fetch(`${base}/api/rpc/${method}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(token === null ? {} : { Authorization: `Bearer ${token}` }) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

test("listens on 127.0.0.1 by default and prints a URL with the token in the fragment", () => {
  assert.equal(server.host, "127.0.0.1");
  assert.match(server.url, new RegExp(`^http://127\\.0\\.0\\.1:${server.port}/#token=[\\w-]{40,}$`));
});

test("every /api request needs the token: none or a wrong one is 401", async () => {
  for (const token of [null, "wrong", `${server.token}x`]) {
    const res = await rpc("listDatasets", {}, token);
    assert.equal(res.status, 401, `token ${token}`);
    assert.match(((await res.json()) as { error: string }).error, /token/);
  }
  const upload = await fetch(`${base}/api/upload?name=a.csv`, { method: "POST", body: "a,b\n" });
  assert.equal(upload.status, 401);
  const ok = await rpc("listDatasets", {});
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), []);
});

test("bad input is 400 naming the field, unknown methods 404, oversized bodies 413", async () => {
  const res = await rpc("importDataset", { path: "/tmp/x.csv", mapping: { text: "text" }, task: "regression" });
  assert.equal(res.status, 400);
  const body = (await res.json()) as { error: string; issues: { path: string; message: string }[] };
  assert.deepEqual(
    body.issues.map((i) => i.path),
    ["mapping.label"],
  );
  assert.match(body.error, /mapping\.label/);
  const unknown = await rpc("dropDatabase", {});
  assert.equal(unknown.status, 404);
  assert.match(((await unknown.json()) as { error: string }).error, /Unknown method "dropDatabase"/);
  assert.equal((await rpc("listDatasets", "{not json")).status, 400);
  assert.equal((await rpc("listDatasets", { extra: 1 })).status, 400);
  assert.equal((await rpc("addModel", { path: "x".repeat(5000) })).status, 413);
  const missing = await rpc("getRun", { id: 12345 });
  assert.equal(missing.status, 404);
});

test("uploads land in the data folder under a safe name; over the limit is 413", async () => {
  const res = await fetch(`${base}/api/upload?name=${encodeURIComponent("../../etc/my data;rm.csv")}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${server.token}` },
    body: "text,label\nhello,1\n",
  });
  assert.equal(res.status, 200);
  const { path } = (await res.json()) as { path: string };
  assert.equal(dirname(path), join(core.dataDir, "uploads"));
  assert.match(path, /-my_data_rm\.csv$/);
  assert.equal(readFileSync(path, "utf8"), "text,label\nhello,1\n");
  const big = await fetch(`${base}/api/upload?name=big.csv`, {
    method: "POST",
    headers: { Authorization: `Bearer ${server.token}` },
    body: "x".repeat(5000),
  });
  assert.equal(big.status, 413);
  assert.equal(safeFileName("..\\..\\a b.TSV"), "a_b.TSV");
  assert.equal(safeFileName("...."), "upload");
});

test("serves the UI with a strict CSP and nosniff, and nothing outside its folder", async () => {
  const page = await fetch(`${base}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<title>studio/);
  const csp = page.headers.get("content-security-policy") ?? "";
  for (const part of [
    "default-src 'self'",
    "connect-src 'self' ws://127.0.0.1:*",
    "img-src 'self' data:",
    "style-src 'self' 'unsafe-inline'",
    "script-src 'self'",
  ]) {
    assert.ok(csp.includes(part), `CSP has ${part}`);
  }
  assert.equal(page.headers.get("x-content-type-options"), "nosniff");
  const js = await fetch(`${base}/assets/app.js`);
  assert.equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
  for (const path of ["/%2e%2e/secret.txt", "/..%2fsecret.txt", "/assets/%2e%2e/%2e%2e/secret.txt"]) {
    const res = await fetch(`${base}${path}`);
    assert.notEqual(await res.text(), "do not serve", path);
  }
  assert.equal((await fetch(`${base}/assets/missing.js`)).status, 404);
  // Client-side routes get the app.
  assert.match(await (await fetch(`${base}/experiments/3`)).text(), /<title>studio/);
});

test("without a built UI, the page says how to build it", async () => {
  const bare = await startServer({
    handlers: core.handlers,
    events: core.events,
    dataDir: core.dataDir,
    rendererDir: join(home.dir, "none"),
  });
  try {
    const res = await fetch(`http://127.0.0.1:${bare.port}/`);
    assert.match(await res.text(), /npm run build:renderer/);
  } finally {
    await bare.close();
  }
});

function connect(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
  });
}

test("the event WebSocket needs the token and streams a run's status and progress", async () => {
  const ws = `ws://127.0.0.1:${server.port}/api/events`;
  await assert.rejects(connect(ws), /HTTP 401/);
  await assert.rejects(connect(`${ws}?token=wrong`), /HTTP 401/);
  const socket = await connect(`${ws}?token=${server.token}`);
  const events: ServerEvent[] = [];
  socket.on("message", (data) => events.push(JSON.parse(String(data)) as ServerEvent));

  const dataset = await tinyDataset(core, 16);
  const experiment = await api(core, "createExperiment", {
    name: "over http",
    datasetId: dataset.id,
    config: tinyConfig({ folds: { k: 2, run: [1] } }),
  });
  const res = await rpc("startRuns", { experimentId: experiment.id });
  assert.equal(res.status, 200);
  const [run] = (await res.json()) as { id: number }[];
  await core.runs.waitFor(run?.id as number);
  await new Promise((r) => setTimeout(r, 200));
  socket.close();

  const statuses = events.flatMap((e) => (e.type === "run-status" && e.run.id === run?.id ? [e.run.status] : []));
  assert.deepEqual(statuses, ["queued", "running", "completed"]);
  const progress = events.filter((e) => e.type === "run-progress");
  assert.ok(progress.length > 0);
  const points = progress.flatMap((e) => (e.type === "run-progress" ? e.points : []));
  // 8 training rows, batch 4, 2 epochs: every step's loss arrives, none twice.
  assert.deepEqual(
    points.filter((p) => p.split === "train" && p.name === "loss").map((p) => p.step),
    [1, 2, 3, 4],
  );
  assert.ok(points.some((p) => p.split === "valid" && p.name === "rmse"));
  const last = progress.at(-1);
  assert.ok(last?.type === "run-progress" && last.step === 4 && last.totalSteps === 4);
  assert.ok(events.some((e) => e.type === "dataset-imported" && e.dataset.id === dataset.id));
});
