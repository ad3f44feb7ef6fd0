// Sweeps in `ftune serve` (a local Ray on 127.0.0.1, token auth): the server is SIGKILLed once
// a sweep's first trial has finished, and a new server on the same data folder continues the
// sweep by itself (Tune's saved state): the finished trial is not rerun, the store ends with one
// experiment per trial, none left running. Then a sweep cancelled mid-way stops with its trials,
// its Ray driver gone.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import type { SweepInfo } from "../../app/core/api/contract.ts";
import { type Served, serve, until } from "../e2e/harness.ts";
import { ensureRaySetup } from "../helpers/ray-cluster.ts";
import { tinyConfig, tinyModel, writeTinyCsv } from "./helpers.ts";

const home = mkdtempSync(join(tmpdir(), "ftune-sweep-server-"));
const env = { FTUNE_HOME: home, RAY_AUTH_MODE: "token", RAY_AUTH_TOKEN: "c".repeat(32) };
const servers: Served[] = [];

before(() => ensureRaySetup());
after(async () => {
  for (const s of servers) await s.stop();
  rmSync(home, { recursive: true, force: true });
});

/** The sweep drivers (sweep.py) running over this test's data folder. */
const drivers = () =>
  execFileSync("ps", ["-eo", "args="], { encoding: "utf8" })
    .split("\n")
    .filter((l) => l.includes("sweep.py") && l.includes(home)).length;

async function start(): Promise<Served> {
  const s = await serve({ env });
  servers.push(s);
  return s;
}

const only = async (s: Served, id: number) => (await s.call("listSweeps", {})).find((x) => x.id === id) as SweepInfo;

test("a server killed mid-sweep: the next one continues it; a cancelled sweep stops", {
  timeout: 900_000,
}, async (ctx) => {
  let server = await start();
  const model = await server.call("addModel", { path: tinyModel(), name: "tiny" });
  const dataset = await server.call("importDataset", {
    path: writeTinyCsv(home, 96),
    mapping: { text: "text", label: "target", id: "id" },
    task: "regression",
    modelId: model.id,
    maxLength: 32,
  });
  const base = await server.call("createExperiment", {
    name: "base",
    datasetId: dataset.id,
    config: tinyConfig({ train: { epochs: 30, batch_size: 4, device: "cpu", seed: 5 }, eval: { every_steps: 45 } }),
  });
  const space = { "optimizer.lr": { loguniform: [1e-5, 1e-2] as [number, number] } };
  const sweep = await server.call("startSweep", {
    experimentId: base.id,
    space,
    trials: 4,
    concurrency: 2,
    gracePeriod: 1000, // no early stops: trials train long enough to be cut short
    seed: 4,
  });
  assert.equal(sweep.status, "running");
  // The moment to kill: a trial ended over a second ago (Tune saves its state every second)
  // and another one is training.
  let endedSince = 0;
  const atKill = await until(
    () => only(server, sweep.id),
    (s) => {
      if (s.status !== "running") return true;
      if (!s.trials.some((t) => t.status !== "running")) return false;
      endedSince ||= Date.now();
      return Date.now() - endedSince > 1200 && s.trials.some((t) => t.status === "running" && t.evaluations > 0);
    },
    "a trial to end while another trains",
    600_000,
  );
  assert.equal(atKill.status, "running", atKill.error ?? "");
  await server.kill();
  const ended = atKill.trials.filter((t) => t.status !== "running");
  const cutShort = atKill.trials.filter((t) => t.status === "running");
  await until(
    async () => drivers(),
    (n) => n === 0,
    "the killed server's sweep driver to stop",
    60_000,
  );

  server = await start();
  const done = await until(
    () => only(server, sweep.id),
    (s) => s.status !== "running",
    "the sweep to end",
    600_000,
  );
  assert.equal(done.status, "completed", done.error ?? "");
  assert.equal(done.trials.length, 4);
  assert.equal(new Set(done.trials.map((t) => t.key)).size, 4);
  for (const t of done.trials) assert.ok(["completed", "stopped"].includes(t.status), `${t.key}: ${t.status}`);
  // The trials that had ended kept their runs; every trial is one experiment with one run.
  for (const t of ended) {
    const after = done.trials.find((x) => x.key === t.key);
    assert.equal(after?.runId, t.runId, `trial ${t.key} ran again`);
  }
  // A trial the kill cut short trained again from the start, in the same experiment, a new run
  // (unless it ended in the moment between the last look and the kill).
  assert.ok(cutShort.length >= 1);
  let rerun = 0;
  for (const t of cutShort) {
    const after = done.trials.find((x) => x.key === t.key);
    assert.equal(after?.experimentId, t.experimentId);
    if (after?.runId !== t.runId) rerun++;
  }
  ctx.diagnostic(`${ended.length} trial(s) had ended at the kill, ${cutShort.length} training; ${rerun} rerun`);
  const experiments = await server.call("listExperiments", {});
  assert.equal(experiments.length, 5); // the base and four trials
  for (const t of done.trials) {
    const runs = await server.call("listRuns", { experimentId: t.experimentId });
    assert.equal(runs.length, 1);
    assert.ok(["completed", "cancelled"].includes(runs[0]?.status as string), `${runs[0]?.status}`);
  }
  assert.ok(done.bestConfigYaml?.includes("optimizer:"));

  // Cancelled mid-way: the sweep and its running trials stop, the driver with them.
  const second = await server.call("startSweep", { experimentId: base.id, space, trials: 6, concurrency: 2, seed: 9 });
  await until(
    () => only(server, second.id),
    (s) => s.trials.some((t) => t.evaluations > 0),
    "an evaluation of the second sweep",
    600_000,
  );
  const cancelled = await server.call("cancelSweep", { id: second.id });
  assert.equal(cancelled.status, "cancelled");
  assert.ok(cancelled.trials.length < 6);
  for (const t of cancelled.trials) {
    const [run] = await server.call("listRuns", { experimentId: t.experimentId });
    assert.ok(run && !["running", "queued"].includes(run.status), `${t.key}: ${run?.status}`);
  }
  assert.equal(drivers(), 0);
  await assert.rejects(server.call("cancelSweep", { id: second.id }), /400.*nothing to cancel/);
});
