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

test("validation: live and SWA columns share the steps; best respects the metric's direction", () => {
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
  assert.deepEqual(s.best(false), { value: 0.65, step: 20, swa: true });
  assert.deepEqual(s.best(true), { value: 0.9, step: 10, swa: false });
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
