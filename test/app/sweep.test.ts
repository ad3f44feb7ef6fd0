// `ftune sweep` on a real local Ray: Optuna's TPE proposes learning rates, ASHA stops poor
// trials on the engine's evaluations, every trial lands in the store as an experiment, and
// the best config is written as YAML.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { parse } from "yaml";

import { loadExperimentData } from "../../app/core/experiments/data.ts";
import { loadSweep, runSweep, storedSpec } from "../../app/core/runs/ray/sweep.ts";
import { listExperiments, listRuns } from "../../app/core/store/repo-experiments.ts";
import { getSweep, listTrials, sweepForFolder } from "../../app/core/store/repo-sweeps.ts";
import { foldJobBinary, venvPython } from "../../scripts/env.mjs";
import { ensureRaySetup } from "../helpers/ray-cluster.ts";
import { scratchHome, testCore, tinyConfig, writeTinyCsv } from "./helpers.ts";

const home = scratchHome("sweep");
const savedEnv = { ...process.env };
before(() => {
  ensureRaySetup();
  process.env.RAY_AUTH_MODE = "token";
  process.env.RAY_AUTH_TOKEN = "f".repeat(32);
});
after(() => {
  process.env = savedEnv;
  home.cleanup();
});

test("a 6-trial TPE + ASHA sweep stops poor trials early and records all six", { timeout: 900_000 }, async () => {
  const csv = writeTinyCsv(home.dir, 48);
  const path = join(home.dir, "sweep.yaml");
  const base = tinyConfig({
    data: { train: csv, text: "text", label: "target", max_length: 32 },
    train: { epochs: 3, batch_size: 4, device: "cpu", seed: 3 },
    eval: { every_steps: 2 },
  });
  writeFileSync(
    path,
    JSON.stringify({
      base,
      space: { "optimizer.lr": { loguniform: [1e-6, 3e-2] } },
      trials: 6,
      concurrency: 2,
      grace_period: 1,
      seed: 1,
    }),
  );
  const { spec, base: normalized } = loadSweep(path);
  const core = await testCore(join(home.dir, "data"));
  try {
    const out = join(home.dir, "out");
    const sweep = await sweepForFolder(core.store, { name: "sweep", spec: storedSpec(spec, normalized), outDir: out });
    const result = await runSweep(core, {
      sweepId: sweep.id,
      name: "sweep",
      spec,
      base: normalized,
      data: (await loadExperimentData(normalized)).data,
      outDir: out,
      python: venvPython,
      binary: foldJobBinary(),
    });
    assert.equal(result.trials.length, 6);
    const stopped = result.trials.filter((t) => t.status === "stopped");
    const completed = result.trials.filter((t) => t.status === "completed");
    assert.ok(stopped.length >= 1, `ASHA stopped none: ${JSON.stringify(result.trials)}`);
    assert.ok(completed.length >= 1);
    assert.equal(stopped.length + completed.length, 6, JSON.stringify(result.trials));
    const full = Math.max(...completed.map((t) => t.evaluations));
    for (const t of stopped) assert.ok(t.evaluations < full, `stopped after ${t.evaluations} of ${full}`);

    // Every trial is an experiment with one run in the store, its points recorded.
    const experiments = await listExperiments(core.store);
    for (const t of result.trials) {
      const e = experiments.find((x) => x.id === t.experimentId);
      assert.ok(e, `trial ${t.key} stored`);
      assert.equal((e?.config as { optimizer: { lr: number } } | undefined)?.optimizer.lr, t.params["optimizer.lr"]);
      const runs = await listRuns(core.store, t.experimentId);
      assert.equal(runs.length, 1);
      assert.equal(runs[0]?.status, t.status === "completed" ? "completed" : "cancelled");
    }
    // The store knows the sweep and its six trials (not by their names).
    const trials = await listTrials(core.store, sweep.id);
    assert.deepEqual(trials.map((t) => t.experimentId).sort(), result.trials.map((t) => t.experimentId).sort());
    for (const t of result.trials) assert.equal(trials.find((x) => x.key === t.key)?.status, t.status);
    const stored = await getSweep(core.store, sweep.id);
    assert.equal(stored?.status, "completed");
    assert.deepEqual(stored?.bestParams, result.best.params);
    // The best config is the best trial's: the base with its learning rate.
    const best = parse(readFileSync(result.best.configPath, "utf8"));
    assert.equal(best.optimizer.lr, result.best.params["optimizer.lr"]);
    assert.ok(completed.some((t) => t.key === result.best.key) || stopped.some((t) => t.key === result.best.key));
  } finally {
    await core.close();
  }
});
