// Runs train in worker processes: killing one (kill -9) marks its run interrupted with the
// reason and leaves the server up; `ftune runs resume` continues it from its saved state and
// it ends exactly where an uninterrupted run with the same seed ends.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import type { Core } from "../../app/core/service/index.ts";
import { openStore } from "../../app/core/store/index.ts";
import { getRun } from "../../app/core/store/repo-experiments.ts";
import { queryMetrics } from "../../app/core/store/repo-metrics.ts";
import type { Summary } from "../../app/engine/training.ts";
import { api, ftune, jsonLines, scratchHome, testCore, tinyConfig, tinyDataset } from "./helpers.ts";

const home = scratchHome("worker");
let core: Core;
before(async () => {
  // State at every evaluation, so the kill below always finds one to resume from.
  core = await testCore(home.dir, { stateIntervalSeconds: 0 });
});
after(async () => {
  await core.close();
  home.cleanup();
});

// 24 rows, 2 folds: 12 training rows, batch 2 → 6 steps per epoch, 16 epochs = 96 steps.
const config = tinyConfig({
  folds: { k: 2, run: [0] },
  train: { epochs: 16, batch_size: 2, device: "cpu", seed: 5, shuffle: true },
  eval: { every_steps: 4 },
});

test("kill -9 of a worker → interrupted with the reason; `runs resume` ends it as an uninterrupted run", async () => {
  const dataset = await tinyDataset(core, 24);
  const straight = await api(core, "createExperiment", { name: "straight", datasetId: dataset.id, config });
  const [reference] = await api(core, "startRuns", { experimentId: straight.id });
  const done = await core.runs.waitFor(reference?.id as number);
  assert.equal(done.status, "completed", done.error ?? "");

  const killed = await api(core, "createExperiment", { name: "killed", datasetId: dataset.id, config });
  let pid: number | undefined;
  const stop = core.runs.onTrainEvent((_id, e) => {
    // After two evaluations (and their saved states): kill the worker mid-run.
    if (e.kind === "step" && e.step >= 9 && pid === undefined) {
      pid = core.runs.active?.pid;
      process.kill(pid as number, "SIGKILL");
    }
  });
  const [victim] = await api(core, "startRuns", { experimentId: killed.id });
  const interrupted = await core.runs.waitFor(victim?.id as number);
  stop();
  assert.equal(interrupted.status, "interrupted");
  assert.match(interrupted.error ?? "", /killed by signal SIGKILL/);
  assert.match(interrupted.error ?? "", /Resume the run/);
  assert.equal(core.runs.active, null, "the service survived and is idle");
  assert.deepEqual(await api(core, "listDatasets", {}).then((l) => l.length), 1);
  await core.close();

  const resumed = await ftune(["runs", "resume", String(victim?.id), "--json"], home.dir);
  assert.equal(resumed.code, 0, resumed.stderr);
  const lines = jsonLines(resumed.stdout);
  const resumeAt = lines.find((l) => l.kind === "resume")?.step as number | undefined;
  assert.ok(
    resumeAt !== undefined && resumeAt >= 4 && resumeAt % 4 === 0,
    `resumed at step ${resumeAt}, an evaluation`,
  );
  assert.equal(
    lines.find((l) => l.kind === "step")?.step,
    (resumeAt as number) + 1,
    "training continued after the saved step",
  );
  assert.equal(lines.at(-1)?.status, "completed");

  const store = await openStore(home.dir);
  try {
    const a = (await getRun(store, victim?.id as number))?.summary as Summary;
    const b = done.summary as Summary;
    assert.deepEqual(a.folds[0]?.final_metrics, b.folds[0]?.final_metrics);
    assert.equal(a.folds[0]?.best_metric, b.folds[0]?.best_metric);
    // Steps the killed worker logged after its saved state were replaced, not duplicated.
    const losses = await queryMetrics(store, victim?.id as number, { split: "train", name: "loss" });
    assert.deepEqual(
      losses.map((p) => p.step),
      Array.from({ length: 96 }, (_, i) => i + 1),
    );
    const reran = await queryMetrics(store, reference?.id as number, { split: "train", name: "loss" });
    assert.deepEqual(
      losses.map((p) => p.value),
      reran.map((p) => p.value),
    );
  } finally {
    await store.close();
  }
});
