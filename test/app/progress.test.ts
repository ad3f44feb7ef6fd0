// A run's progress as the app records it: the ETA counts the evaluations still to come (not
// only the steps), and the recorder writes every point it has before a catch-up read, so a view
// opening mid-run gets the stored points plus the live tail without a gap.
import assert from "node:assert/strict";
import { after, test } from "node:test";

import { EventHub } from "../../app/core/events.ts";
import { EtaClock, evaluationsAfter, eventPoints } from "../../app/core/runs/progress.ts";
import { RunRecorder } from "../../app/core/runs/recorder.ts";
import { keptCheckpoints } from "../../app/core/runs/service.ts";
import { createExperiment, createRun, openStore, queryMetrics } from "../../app/core/store/index.ts";
import type { TrainEvent } from "../../app/native/addon.ts";
import { scratchHome } from "./helpers.ts";

const home = scratchHome("progress");
after(() => home.cleanup());

const event = (e: Record<string, unknown> & { kind: string; step: number }): TrainEvent =>
  ({ fold: 0, epoch: 1, emittedAtMs: 0, ...e }) as unknown as TrainEvent;

test("evaluations left: every N steps and at each epoch's end, counted once, plus the final one", () => {
  // 100 steps over 2 epochs, every 10 steps: 10, 20, …, 100 (50 and 100 are also epoch ends).
  assert.equal(evaluationsAfter(0, { totalSteps: 100, epochs: 2, evalEvery: 10 }), 10 + 1);
  assert.equal(evaluationsAfter(55, { totalSteps: 100, epochs: 2, evalEvery: 10 }), 5 + 1);
  // Epoch ends only (no every_steps): 3 epochs of 30 steps.
  assert.equal(evaluationsAfter(0, { totalSteps: 90, epochs: 3, evalEvery: null }), 3 + 1);
  assert.equal(evaluationsAfter(60, { totalSteps: 90, epochs: 3, evalEvery: null }), 1 + 1);
  // every 7 over 2 epochs of 10: 7, 14 and the epoch ends 10, 20.
  assert.equal(evaluationsAfter(0, { totalSteps: 20, epochs: 2, evalEvery: 7 }), 4 + 1);
});

test("the ETA counts evaluation time: 1 s steps with a 30 s evaluation every 10 steps", () => {
  const plan = { totalSteps: 100, epochs: 1, evalEvery: 10 };
  const clock = new EtaClock({ guessEvalSteps: 2 });
  let now = 0;
  clock.step(now); // the first step starts the clock
  for (let step = 2; step <= 20; step++) {
    now += 1000;
    clock.step(now);
    if (step % 10 === 0) {
      now += 30_000;
      clock.evaluated(now);
    }
  }
  // 80 steps × 1 s + 8 evaluations left in the schedule + the final one, × 30 s.
  assert.equal(clock.seconds(20, plan), 80 + 9 * 30);
  // Before any evaluation, each counts as `guessEvalSteps` steps.
  const early = new EtaClock({ guessEvalSteps: 2 });
  early.step(0);
  early.step(1000);
  assert.equal(early.seconds(2, plan), 98 + 11 * 2);
  assert.equal(new EtaClock().seconds(1, plan), null, "no pace yet");
});

test("eval events store the engine's best flag, swa_start events the step", () => {
  const points = eventPoints(event({ kind: "eval", step: 4, metrics: { rmse: 0.5 }, isBest: true }), []);
  assert.deepEqual(
    points.map((p) => [p.split, p.name, p.value]),
    [
      ["valid", "rmse", 0.5],
      ["event", "best", 1],
    ],
  );
  assert.deepEqual(eventPoints(event({ kind: "eval", step: 6, metrics: { rmse: 0.5 }, isBest: false }), []).length, 1);
  assert.deepEqual(
    eventPoints(event({ kind: "swa_start", step: 11 }), []).map((p) => [p.split, p.name, p.step, p.value]),
    [["event", "swa_start", 11, 11]],
  );
});

test("a flush writes every point recorded so far, so a catch-up read has no gap", async () => {
  const store = await openStore(home.dir);
  try {
    const experimentId = await createExperiment(store, { name: "e", config: {} });
    const runId = await createRun(store, { experimentId });
    const recorder = new RunRecorder(store, runId, new EventHub());
    recorder.event(event({ kind: "fold_start", step: 0, totalSteps: 50, groups: ["head"] }));
    for (let step = 1; step <= 30; step++) recorder.event(event({ kind: "step", step, loss: 1 / step, lrs: [1e-3] }));
    // Steps are written at evaluations: none has happened, so the store has nothing yet.
    assert.equal((await queryMetrics(store, runId, { name: "loss" })).length, 0);
    await recorder.flush();
    assert.deepEqual(
      (await queryMetrics(store, runId, { name: "loss" })).map((p) => p.step),
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
    await recorder.finish();
  } finally {
    await store.close();
  }
});

test("keep: which checkpoint folders a completed fold keeps", () => {
  const fold = { best_dir: "/b" };
  assert.deepEqual(keptCheckpoints(null, fold, false), { best: true, final: false });
  assert.deepEqual(keptCheckpoints(null, fold, true), { best: true, final: true });
  assert.deepEqual(keptCheckpoints("best", fold, true), { best: true, final: false });
  assert.deepEqual(keptCheckpoints("best+final", fold, false), { best: true, final: true });
  assert.deepEqual(keptCheckpoints("all", fold, false), { best: true, final: true });
  // Without a best checkpoint (eval.save_best off) the final weights are kept whatever the setting.
  assert.deepEqual(keptCheckpoints("best", { best_dir: null }, false), { best: false, final: true });
});
