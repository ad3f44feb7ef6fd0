// Chart columns of a run: overlapping deliveries (catch-up fetch + live events) are drawn once,
// LR groups align by step, and 100k points stay cheap to add.
import assert from "node:assert/strict";
import { test } from "node:test";

import type { MetricPoint } from "../../app/core/api/contract.ts";
import { RunSeries } from "../../renderer/src/lib/run-series.ts";

const train = (step: number, groups = ["layer.0", "head"]): MetricPoint[] => [
  { step, epoch: 1, split: "train", name: "loss", value: 1 / (step + 1) },
  { step, epoch: 1, split: "train", name: "grad_norm", value: 0.5 },
  ...groups.map((g, i) => ({ step, epoch: 1, split: "train" as const, name: `lr/${g}`, value: (i + 1) * 1e-5 * step })),
];

test("points delivered twice are kept once, in step order", () => {
  const s = new RunSeries("rmse");
  const first = [1, 2, 3].flatMap((k) => train(k));
  s.add(first);
  s.add([...train(2), ...train(3), ...train(4)]);
  assert.deepEqual(s.loss[0], [1, 2, 3, 4]);
  assert.deepEqual(s.lr[0], [1, 2, 3, 4]);
  assert.deepEqual(s.lrGroups, ["layer.0", "head"]);
  assert.deepEqual(
    s.lr[2],
    [1, 2, 3, 4].map((k) => 2 * 1e-5 * k),
  );
  assert.equal(s.lastStep, 4);
});

test("validation: live and SWA columns share the steps", () => {
  const s = new RunSeries("rmse");
  const v = (step: number, split: "valid" | "valid_swa", value: number): MetricPoint => ({
    step,
    epoch: 1,
    split,
    name: "rmse",
    value,
  });
  const before = s.version;
  s.add([v(10, "valid", 0.9), v(20, "valid", 0.7), v(20, "valid_swa", 0.65), v(20, "valid", 0.1)]);
  assert.ok(s.version > before);
  assert.deepEqual(s.valid(), [
    [10, 20],
    [0.9, 0.7],
    [null, 0.65],
  ]);
  assert.equal(s.best("rmse", false), null, "no best until the engine flags one");
  const version = s.version;
  s.add([v(10, "valid", 0.9)]);
  assert.equal(s.version, version, "nothing new, no redraw");
});

test("a group first seen late is padded, so every column stays aligned with the steps", () => {
  const s = new RunSeries("rmse");
  s.add(train(1, ["a"]));
  s.add(train(2, ["a", "b"]));
  assert.deepEqual(s.lr, [
    [1, 2],
    [1e-5, 2e-5],
    [null, 2 * 1e-5 * 2],
  ]);
});

test("100k steps in event-sized batches are added in well under a second", () => {
  const s = new RunSeries("rmse");
  const started = performance.now();
  for (let k = 0; k < 100_000; k += 50) {
    const batch: MetricPoint[] = [];
    for (let j = k; j < k + 50; j++) batch.push(...train(j, ["embeddings", "layer.0", "layer.1", "head"]));
    s.add(batch);
  }
  const ms = performance.now() - started;
  assert.equal(s.loss[0].length, 100_000);
  assert.equal(s.lr.length, 5);
  assert.ok(ms < 1500, `took ${ms.toFixed(0)} ms`);
});

const valid = (step: number, split: "valid" | "valid_swa", value: number, name = "rmse"): MetricPoint => ({
  step,
  epoch: 1,
  split,
  name,
  value,
});
const flag = (step: number): MetricPoint => ({ step, epoch: 1, split: "event", name: "best", value: 1 });

test("the best is the evaluation the engine flagged: a tie keeps the first, as the engine does", () => {
  const s = new RunSeries("rmse");
  // Steps 2 and 4 score the same; the engine's comparison is strict, so step 4 is not flagged.
  s.add([valid(2, "valid", 0.5), flag(2)]);
  s.add([valid(4, "valid", 0.5)]);
  assert.deepEqual(s.best("rmse", false), { value: 0.5, step: 2, swa: false });
  // An SWA evaluation equal to the live one: the engine keeps the live model's.
  s.add([valid(6, "valid", 0.4), valid(6, "valid_swa", 0.4), flag(6)]);
  assert.deepEqual(s.best("rmse", false), { value: 0.4, step: 6, swa: false });
  // A later SWA value that ties an earlier SWA value is not flagged: the earlier stays best,
  // though a UI scanning the columns for the minimum could name either.
  s.add([
    valid(8, "valid", 0.6),
    valid(8, "valid_swa", 0.3),
    flag(8),
    valid(10, "valid", 0.7),
    valid(10, "valid_swa", 0.3),
  ]);
  assert.deepEqual(s.best("rmse", false), { value: 0.3, step: 8, swa: true });
  // Higher-is-better metrics read the same flags.
  const r = new RunSeries("pearson");
  r.add([valid(3, "valid", 0.8, "pearson"), valid(3, "valid_swa", 0.9, "pearson"), flag(3)]);
  assert.deepEqual(r.best("pearson", true), { value: 0.9, step: 3, swa: true });
});

test("the SWA start is the engine's event, not derived from the config", () => {
  const s = new RunSeries("rmse");
  assert.equal(s.swaStart, null);
  s.add([{ step: 11, epoch: 2, split: "event", name: "swa_start", value: 11 }]);
  assert.equal(s.swaStart, 11);
});

test("a loss that runs away is flagged as diverging; a noisy decreasing one is not", () => {
  const loss = (values: number[]): RunSeries => {
    const s = new RunSeries("rmse");
    s.add(values.map((value, i) => ({ step: i + 1, epoch: 1, split: "train" as const, name: "loss", value })));
    return s;
  };
  const falling = Array.from({ length: 200 }, (_, i) => 2 / (1 + i / 20) + (i % 2 ? 0.05 : -0.05));
  assert.equal(loss(falling).diverging, false);
  const exploding = Array.from({ length: 200 }, (_, i) => (i < 100 ? 2 - i / 100 : 1 + ((i - 100) / 10) ** 2));
  assert.equal(loss(exploding).diverging, true);
  assert.equal(loss([1, 2, 3]).diverging, false, "too few steps to tell");
});
