// The LR preview is the run's schedule: on a 5-fold split whose folds differ in size, `ftune
// schedule --fold K --json` gives, for every group and step, exactly the LR that `ftune train`
// logged for fold K, with the same step count and SWA start; and the CLI run is in the store
// beside the app's runs.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { ftune, jsonLines, scratchHome, testCore, writeTinyExperiment } from "./helpers.ts";

const home = scratchHome("plan");
after(home.cleanup);
const data = join(home.dir, "data");
const out = join(home.dir, "trained");
let config: string;
let events: Record<string, unknown>[];

before(async () => {
  // 101 rows in 5 folds: 80 or 81 training rows, so 10 or 11 steps per epoch at batch 8.
  ({ config } = writeTinyExperiment(home.dir, "plan.yaml", 101, [
    "folds: { k: 5, seed: 3 }",
    "train: { epochs: 2, batch_size: 8, device: cpu }",
    "llrd: { mode: layerwise, top_lr: 1.0e-3, decay: 0.8, head_lr: 2.0e-3 }",
    "schedule: { name: cosine, warmup_steps: 4 }",
    "swa: { start_epoch: 2, lr: 2.0e-4, anneal_steps: 3 }",
    "eval: { save_best: false }",
  ]));
  const r = await ftune(["train", config, "--out", out, "--json"], data);
  assert.equal(r.code, 0, r.stderr);
  events = jsonLines(r.stdout);
});

interface Schedule {
  fold: number;
  total_steps: number;
  swa_start_step: number | null;
  folds: { fold: number; total_steps: number; train_rows: number }[];
  lr: Record<string, number[]>;
}

describe("ftune schedule --fold K is fold K's real schedule", () => {
  test("the folds differ in length, and the preview says so", async () => {
    const r = await ftune(["schedule", config, "--json"], data);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as Schedule;
    assert.deepEqual(
      s.folds.map((f) => f.fold),
      [0, 1, 2, 3, 4],
    );
    assert.ok(new Set(s.folds.map((f) => f.total_steps)).size > 1, JSON.stringify(s.folds));
    const text = await ftune(["schedule", config], data);
    assert.match(text.stdout, /folds differ in length/);
    assert.match(text.stdout, /warning: swa\.lr: from the SWA start every group trains at swa\.lr/);
  });

  for (const fold of [0, 1, 2, 3, 4]) {
    test(`fold ${fold}: every group's LR at every step, the step count and the SWA start`, async () => {
      const r = await ftune(["schedule", config, "--fold", String(fold), "--json"], data);
      assert.equal(r.code, 0, r.stderr);
      const s = JSON.parse(r.stdout) as Schedule;
      assert.equal(s.fold, fold);
      const logged = readFileSync(join(out, `fold-${fold}`, "metrics.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { split: string; step: number; lr?: Record<string, number> })
        .filter((l) => l.split === "train");
      assert.equal(logged.length, s.total_steps, "optimizer steps");
      for (const line of logged) {
        // A step event reports the LRs the step ran with: step s used the schedule's entry s − 1.
        for (const [group, lr] of Object.entries(line.lr ?? {})) {
          assert.equal(lr, s.lr[group]?.[line.step - 1], `${group} at step ${line.step}`);
        }
      }
      const swa = events.find((e) => e.kind === "swa_start" && e.fold === fold);
      assert.equal(swa?.step, s.swa_start_step, "SWA start");
    });
  }

  test("--steps is honoured or refused, never ignored", async () => {
    const both = await ftune(["schedule", config, "--steps", "1420", "--steps-per-epoch", "426"], data);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--steps 1420 disagrees with --steps-per-epoch 426 × train\.epochs 2 = 852/);
    const odd = await ftune(["schedule", config, "--steps", "41"], data);
    assert.equal(odd.code, 2);
    assert.match(odd.stderr, /--steps 41 is not a multiple of train\.epochs \(2\)/);
    const steps = await ftune(["schedule", config, "--steps", "40", "--json"], data);
    assert.equal(steps.code, 0, steps.stderr);
    assert.equal((JSON.parse(steps.stdout) as Schedule).total_steps, 40);
    const missing = await ftune(["schedule", config, "--fold", "7"], data);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /fold 7 does not run in this experiment/);
  });

  test("the CLI's experiment is in the app's store, its folds summarized by the engine", async () => {
    const core = await testCore(data);
    try {
      const [row] = await core.handlers.compare({});
      assert.equal(row?.name, "plan");
      assert.deepEqual(
        row?.folds.map((f) => f.fold),
        [0, 1, 2, 3, 4],
      );
      const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as { mean: number; std: number };
      assert.ok(Math.abs((row?.mean ?? Number.NaN) - summary.mean) < 1e-12);
      assert.ok(Math.abs((row?.std ?? Number.NaN) - summary.std) < 1e-12);
    } finally {
      await core.close();
    }
  });
});
