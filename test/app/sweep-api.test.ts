// The sweep methods of the API: every malformed payload is a 400 naming the field (zod, then
// the engine for the config fields a space names), unknown ids are 404s, and a sweep started
// where Ray is not installed is one plain message. Nothing here starts Ray.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";

import type { Core } from "../../app/core/service/index.ts";
import { type RunningServer, startServer } from "../../app/server/server.ts";
import { api, scratchHome, testCore, tinyConfig, tinyDataset } from "./helpers.ts";

const home = scratchHome("sweep-api");
let core: Core;
let server: RunningServer;
let experimentId: number;
let datasetId: number;

before(async () => {
  // A runtime that looks installed (so the payload checks are what answer) but is never run.
  const stamp = join(home.dir, "stamp");
  writeFileSync(stamp, "");
  core = await testCore(join(home.dir, "data"), {
    sweepRuntime: { stamp, binary: stamp, python: "/nonexistent/python" },
  });
  server = await startServer({
    handlers: core.handlers,
    events: core.events,
    dataDir: core.dataDir,
    rendererDir: join(home.dir, "no-ui"),
  });
  const dataset = await tinyDataset(core);
  datasetId = dataset.id;
  experimentId = (await api(core, "createExperiment", { name: "base", datasetId, config: tinyConfig() })).id;
});
after(async () => {
  await server.close();
  await core.close();
  home.cleanup();
});

async function rpc(method: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${server.port}/api/rpc/${method}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${server.token}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const lr = { "optimizer.lr": { loguniform: [1e-5, 1e-3] as [number, number] } };

test("startSweep: malformed payloads are 400s that name the field", async () => {
  const cases: [unknown, RegExp][] = [
    [{ experimentId, space: lr }, /trials/],
    [{ experimentId, space: lr, trials: 0 }, /trials/],
    [{ experimentId, space: lr, trials: 2.5 }, /trials/],
    [{ experimentId, space: lr, trials: 4, concurrency: 0 }, /concurrency/],
    [{ experimentId, space: lr, trials: 4, gracePeriod: -1 }, /gracePeriod/],
    [{ space: lr, trials: 4 }, /experimentId or config/],
    [{ experimentId, config: tinyConfig(), datasetId, space: lr, trials: 4 }, /experimentId or config/],
    [{ config: tinyConfig(), space: lr, trials: 4 }, /datasetId/],
    [{ experimentId, space: {}, trials: 4 }, /1 to 20 fields/],
    [{ experimentId, space: { "Optimizer..LR": { loguniform: [1e-5, 1e-3] } }, trials: 4 }, /space\.Optimizer\.\.LR/],
    [{ experimentId, space: { "optimizer.lr": { normal: [0, 1] } }, trials: 4 }, /space/],
    [{ experimentId, space: { "optimizer.lr": { loguniform: [-1, 1e-3] } }, trials: 4 }, /space/],
    [{ experimentId, space: { "optimizer.lr": { loguniform: [1e-5] } }, trials: 4 }, /space/],
    [{ experimentId, space: lr, trials: 4, mode: "up" }, /mode/],
    [{ experimentId, space: lr, trials: 4, extra: true }, /extra|Unrecognized/i],
  ];
  for (const [body, field] of cases) {
    const r = await rpc("startSweep", body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match(String(r.body.error), field, JSON.stringify(body));
  }
});

test("startSweep: a space the engine rejects is a 400 naming the field, before anything is stored", async () => {
  const cases: [unknown, RegExp][] = [
    [
      { experimentId, space: { "optimizer.lr": { uniform: [1e-3, 1e-5] } }, trials: 4 },
      /space\.optimizer\.lr: uniform needs \[low, high\]/,
    ],
    [{ experimentId, space: { "optimizer.lrr": { uniform: [1e-5, 1e-3] } }, trials: 4 }, /space\.optimizer\.lrr/],
    [{ experimentId, space: { "train.epochs": { int: [0, 3] } }, trials: 4 }, /space\.train\.epochs/],
    [{ experimentId, space: lr, trials: 4, metric: "bleu" }, /bleu/],
    [{ experimentId, space: lr, trials: 4, fold: 5 }, /fold 5/],
  ];
  for (const [body, message] of cases) {
    const r = await rpc("startSweep", body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match(String(r.body.error), message, JSON.stringify(r.body));
  }
  assert.deepEqual(await api(core, "listSweeps", {}), []);
});

test("sweep methods: unknown ids are 404s, malformed ids 400s", async () => {
  assert.equal((await rpc("startSweep", { experimentId: 999, space: lr, trials: 2 })).status, 404);
  for (const method of ["cancelSweep", "trainBestSweep"]) {
    assert.equal((await rpc(method, { id: 999 })).status, 404, method);
    for (const id of [0, -1, "1", 1.5, null]) assert.equal((await rpc(method, { id })).status, 400, `${method} ${id}`);
    assert.equal((await rpc(method, {})).status, 400, method);
  }
  assert.equal((await rpc("listSweeps", { all: true })).status, 400);
  assert.equal((await rpc("compare", { sweepId: 999 })).status, 404);
  assert.equal((await rpc("compare", { sweepId: "x" })).status, 400);
});

test("startSweep where Ray is not installed: one plain message, nothing stored", async () => {
  const other = await testCore(join(home.dir, "data2"), {
    sweepRuntime: { stamp: join(home.dir, "no-stamp"), binary: join(home.dir, "no-binary") },
  });
  try {
    const dataset = await tinyDataset(other);
    const e = await api(other, "createExperiment", { name: "base", datasetId: dataset.id, config: tinyConfig() });
    await assert.rejects(api(other, "startSweep", { experimentId: e.id, space: lr, trials: 2 }), (err: Error) => {
      assert.equal((err as { status?: number }).status, 400);
      assert.match(
        err.message,
        /^Sweeps run on Ray Tune, which is not installed here yet: .*ftune serve --backend ray/,
      );
      assert.doesNotMatch(err.message, /at \w+ \(|Error:/);
      return true;
    });
    assert.deepEqual(await api(other, "listSweeps", {}), []);
  } finally {
    await other.close();
  }
});

test("a sweep whose Ray driver cannot start ends failed, with the reason", async () => {
  const started = await api(core, "startSweep", { experimentId, space: lr, trials: 2 });
  assert.equal(started.status, "running");
  assert.equal(started.metric, "rmse");
  assert.equal(started.mode, "min");
  let sweep = started;
  for (let i = 0; i < 100 && sweep.status === "running"; i++) {
    await new Promise((r) => setTimeout(r, 100));
    sweep = (await api(core, "listSweeps", {})).find((s) => s.id === started.id) ?? sweep;
  }
  assert.equal(sweep.status, "failed");
  assert.match(sweep.error ?? "", /cannot start the sweep's Ray driver with \/nonexistent\/python/);
  assert.deepEqual(sweep.trials, []);
  await assert.rejects(api(core, "trainBestSweep", { id: sweep.id }), /has no best config yet \(it is failed\)/);
  await assert.rejects(api(core, "cancelSweep", { id: sweep.id }), /is failed; there is nothing to cancel/);
});
