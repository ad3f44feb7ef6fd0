// `--folds-at-once n` (local backend): n folds train at once, each in its own worker with its
// share of the CPU's cores, and every fold ends exactly as it does trained alone with that many
// threads; nothing but the timing changes.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { listExperiments, listRuns } from "../../app/core/store/repo-experiments.ts";
import { ftune, scratchHome, testCore, writeTinyExperiment } from "./helpers.ts";

const home = scratchHome("folds-at-once");
after(home.cleanup);
const data = join(home.dir, "data");
let config: string;

before(() => {
  ({ config } = writeTinyExperiment(home.dir, "three-folds.yaml", 60, [
    "folds: { k: 3, seed: 5 }",
    "train: { epochs: 3, batch_size: 4, device: cpu, seed: 7 }",
    "optimizer: { lr: 1.0e-3 }",
    "eval: { every_steps: 5 }",
  ]));
});

interface FoldSummary {
  fold: number;
  best_metric: number;
  best_step: number;
  final_metrics: Record<string, number>;
  threads: number;
}

const summaryOf = (out: string) =>
  JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as { folds: FoldSummary[]; mean: number };

/** When each fold of the store's newest experiment started and ended (ms), in fold order. */
async function spans(): Promise<[number, number][]> {
  const core = await testCore(data);
  try {
    const [newest] = await listExperiments(core.store);
    const runs = await listRuns(core.store, newest?.id as number);
    return runs.map((r) => [Date.parse(r.startedAt ?? ""), Date.parse(r.endedAt ?? "")]);
  } finally {
    await core.close();
  }
}

test("two folds at once overlap, and each ends exactly as trained alone on its share of the cores", async () => {
  const together = join(home.dir, "together");
  const r = await ftune(["train", config, "--out", together, "--folds-at-once", "2"], data);
  assert.equal(r.code, 0, r.stderr);
  // Throughput and time are per fold and summed over folds; the wall time is said beside them.
  assert.match(
    r.stderr,
    /train samples\/s per fold on cpu \(\d+ threads? per fold\); folds trained \d+ s in all, \d+ s wall/,
  );

  // Folds 0 and 1 start together; fold 2 waits for a free slot.
  const times = await spans();
  const [s0, s1, s2] = times as [[number, number], [number, number], [number, number]];
  assert.ok(s1[0] < s0[1] && s0[0] < s1[1], `folds 0 and 1 did not overlap: ${JSON.stringify(times)}`);
  assert.ok(s2[0] >= Math.min(s0[1], s1[1]), `fold 2 started before a slot was free: ${JSON.stringify(times)}`);

  // One fold at a time, the engine given the same thread count through OpenMP's variable.
  const threads = String(Math.max(1, Math.floor(availableParallelism() / 2)));
  const alone = join(home.dir, "alone");
  const a = await ftune(["train", config, "--out", alone], data, { OMP_NUM_THREADS: threads });
  assert.equal(a.code, 0, a.stderr);

  const t = summaryOf(together);
  const s = summaryOf(alone);
  assert.deepEqual(
    t.folds.map((f) => f.fold),
    [0, 1, 2],
  );
  for (const [i, f] of t.folds.entries()) {
    const g = s.folds[i] as FoldSummary;
    assert.equal(f.threads, Number(threads), `fold ${f.fold} trained on ${f.threads} threads`);
    assert.equal(g.threads, Number(threads));
    assert.equal(f.best_step, g.best_step, `fold ${f.fold}`);
    assert.equal(f.best_metric, g.best_metric, `fold ${f.fold}`);
    assert.deepEqual(f.final_metrics, g.final_metrics, `fold ${f.fold}`);
  }
  assert.equal(t.mean, s.mean);
});

test("--folds-at-once is local training's: with --backend ray it says what Ray takes instead", async () => {
  const r = await ftune(["train", config, "--backend", "ray", "--folds-at-once", "2"], data);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--folds-at-once is for local training; on Ray, --ray-gpus-per-fold 0\.5/);
  const zero = await ftune(["train", config, "--folds-at-once", "0"], data);
  assert.notEqual(zero.code, 0);
  assert.match(zero.stderr, /expected a positive whole number, got "0"/);
});
