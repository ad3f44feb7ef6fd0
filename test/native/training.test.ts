// The engine's behaviour around the loop: re-init, cancellation, NaN stops, config errors,
// K-fold summaries, and checkpoints that transformers loads with the same predictions.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

import { startExperiment, TrainingError } from "../../app/engine/training.ts";
import { native, type TrainEvent } from "../../app/native/addon.ts";
import { fixtures, maxAbsDiff, reference, scratch } from "../helpers/python.ts";

const texts = Array.from({ length: 24 }, (_, i) => `${"reading passage story ".repeat(1 + (i % 5))} number ${i}`);
const targets = texts.map((_, i) => Math.sin(i) * 2);
const ofKind = <K extends TrainEvent["kind"]>(events: TrainEvent[], kind: K) =>
  events.filter((e): e is Extract<TrainEvent, { kind: K }> => e.kind === kind);

function config(overrides: Record<string, unknown> = {}) {
  return {
    model: fixtures()["bert-regression"],
    data: { train: "in-memory", text: "text", label: "label", max_length: 32 },
    folds: { k: 3, strategy: "stratified", seed: 1, run: [0, 2] },
    train: { epochs: 2, batch_size: 4, device: "cpu" },
    optimizer: { lr: 1e-3 },
    ...overrides,
  };
}

test("re-init redraws the top layers and the pooler, and leaves the rest bit-identical", () => {
  const model = native.SequenceModel.load(fixtures()["bert-regression"] as string, { device: "cpu", maxLength: 32 });
  const before = (name: string) => model.variable(name);
  const bottom = before("bert.encoder.layer.0.attention.self.query.weight");
  const embeddings = before("bert.embeddings.word_embeddings.weight");
  const top = before("bert.encoder.layer.2.intermediate.dense.weight");
  const touched = model.reinit(2, true);
  assert.ok(touched.includes("bert.pooler.dense.weight"));
  assert.ok(touched.includes("bert.encoder.layer.1.output.LayerNorm.bias"));
  assert.ok(!touched.some((n) => n.includes("layer.0.")));
  assert.deepEqual(model.variable("bert.encoder.layer.0.attention.self.query.weight"), bottom);
  assert.deepEqual(model.variable("bert.embeddings.word_embeddings.weight"), embeddings);
  const redrawn = model.variable("bert.encoder.layer.2.intermediate.dense.weight");
  assert.notDeepEqual(redrawn, top);
  const std = Math.sqrt(redrawn.reduce((s, x) => s + x * x, 0) / redrawn.length);
  assert.ok(Math.abs(std - 0.2) < 0.02, `std ${std} vs initializer_range 0.2`);
  assert.ok(model.variable("bert.encoder.layer.2.output.LayerNorm.weight").every((x) => x === 1));
  assert.ok(model.variable("bert.encoder.layer.2.output.LayerNorm.bias").every((x) => x === 0));
  assert.ok(model.variable("bert.encoder.layer.1.attention.self.key.bias").every((x) => x === 0));
  assert.throws(() => model.reinit(4, false), /reinit.top_layers is 4 but the model has only 3 encoder layers/);
});

for (const { fixture, prefix, shared, pooler } of [
  { fixture: "electra-regression", prefix: "electra", shared: "electra.embeddings_project.weight", pooler: null },
  {
    fixture: "mpnet-regression",
    prefix: "mpnet",
    shared: "mpnet.encoder.relative_attention_bias.weight",
    pooler: null,
  },
  {
    fixture: "deberta-regression",
    prefix: "deberta",
    shared: "deberta.encoder.rel_embeddings.weight",
    pooler: "pooler.dense.weight",
  },
]) {
  test(`${prefix}: re-init redraws the top layer (and DeBERTa's ContextPooler), never the shared encoder weights`, () => {
    const model = native.SequenceModel.load(fixtures()[fixture] as string, { device: "cpu", maxLength: 32 });
    const sharedBefore = model.variable(shared);
    const bottom = model.variable(`${prefix}.encoder.layer.0.output.dense.weight`);
    const top = model.variable(`${prefix}.encoder.layer.2.output.dense.weight`);
    const touched = model.reinit(1, true);
    assert.ok(touched.includes(`${prefix}.encoder.layer.2.output.dense.weight`));
    assert.ok(!touched.some((n) => n.includes("layer.0.") || n.includes("layer.1.")));
    assert.ok(!touched.includes(shared), "shared encoder weights stay");
    assert.equal(touched.includes(pooler ?? ""), pooler !== null, "the pooler, where the classifier has one");
    assert.ok(!touched.some((n) => n.startsWith("classifier.")), "the classifier itself stays");
    assert.deepEqual(model.variable(shared), sharedBefore);
    assert.deepEqual(model.variable(`${prefix}.encoder.layer.0.output.dense.weight`), bottom);
    const redrawn = model.variable(`${prefix}.encoder.layer.2.output.dense.weight`);
    assert.notDeepEqual(redrawn, top);
    const std = Math.sqrt(redrawn.reduce((s, x) => s + x * x, 0) / redrawn.length);
    assert.ok(Math.abs(std - 0.2) < 0.02, `std ${std} vs initializer_range 0.2`);
    assert.ok(model.variable(`${prefix}.encoder.layer.2.output.LayerNorm.weight`).every((x) => x === 1));
    assert.ok(model.variable(`${prefix}.encoder.layer.2.output.LayerNorm.bias`).every((x) => x === 0));
  });
}
test("ModernBERT re-init redraws the top layers as transformers' _init_weights does, and leaves the rest", () => {
  const dir = fixtures()["modernbert-3class"] as string;
  const model = native.SequenceModel.load(dir, { device: "cpu", maxLength: 32 });
  const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  const bottom = model.variable("model.layers.0.attn.Wqkv.weight");
  const finalNorm = model.variable("model.final_norm.weight");
  const embeddings = model.variable("model.embeddings.tok_embeddings.weight");
  const top = model.variable("model.layers.2.mlp.Wi.weight");
  const touched = model.reinit(2, true);
  assert.ok(touched.includes("model.layers.1.attn_norm.bias"));
  assert.ok(
    touched.includes("head.dense.weight") && touched.includes("head.norm.weight"),
    "the pooler is head.dense/norm",
  );
  assert.ok(!touched.some((n) => n.includes("layers.0.") || n.includes("final_norm") || n.startsWith("classifier")));
  assert.deepEqual(model.variable("model.layers.0.attn.Wqkv.weight"), bottom);
  assert.deepEqual(model.variable("model.final_norm.weight"), finalNorm);
  assert.deepEqual(model.variable("model.embeddings.tok_embeddings.weight"), embeddings);
  assert.notDeepEqual(model.variable("model.layers.2.mlp.Wi.weight"), top);
  // Truncated normals at ±cutoff·std: std·0.88 for a cutoff of 2, nothing beyond the cut.
  const r = config.initializer_range;
  const cutoff = config.initializer_cutoff_factor;
  for (const [name, std] of [
    ["model.layers.2.attn.Wqkv.weight", r],
    ["model.layers.1.mlp.Wi.weight", r],
    ["model.layers.2.attn.Wo.weight", r / Math.sqrt(2 * config.num_hidden_layers)],
    ["model.layers.2.mlp.Wo.weight", r / Math.sqrt(2 * config.num_hidden_layers)],
  ] as const) {
    const w = model.variable(name);
    const sd = Math.sqrt(w.reduce((s, x) => s + x * x, 0) / w.length);
    assert.ok(Math.abs(sd / std - 0.88) < 0.08, `${name}: std ${sd} vs ${0.88 * std}`);
    assert.ok(Math.max(...w.map(Math.abs)) <= cutoff * std * (1 + 1e-6), `${name} stays within the cut`);
  }
  assert.ok(model.variable("model.layers.2.mlp_norm.weight").every((x) => x === 1));
  assert.ok(model.variable("model.layers.1.attn.Wqkv.bias").every((x) => x === 0));
});

test("config errors name the field before anything runs", () => {
  assert.throws(
    () => native.normalizeConfig(JSON.stringify(config({ schedule: { name: "cosin" } }))),
    /schedule.name: unknown variant `cosin`/,
  );
  assert.throws(
    () => native.LrSchedule.create(JSON.stringify(config({ reinit: { top_layers: 5 } })), 10),
    /reinit.top_layers is 5 but the model has only 3/,
  );
  assert.throws(
    () => native.TrainingJob.start(JSON.stringify(config({ trian: {} })), { texts, targets }, null, () => {}),
    /unknown field `trian`/,
  );
  const normalized = JSON.parse(native.normalizeConfig(JSON.stringify(config())));
  assert.equal(normalized.eval.save_best, true);
  assert.equal(normalized.schedule.name, "linear");
});

test("K-fold: the selected folds train and the summary has per-fold and mean ± std", async () => {
  const out = scratch("kfold");
  const events: TrainEvent[] = [];
  const summary = await startExperiment(
    JSON.stringify(config({ eval: { every_steps: 3 } })),
    { texts, targets },
    out,
    (e) => events.push(e),
  ).done;
  const starts = ofKind(events, "fold_start");
  assert.deepEqual(
    starts.map((e) => e.fold),
    [0, 2],
  );
  // 16 training rows in batches of 4, 2 epochs, no warm-up, no SWA.
  for (const e of starts)
    assert.deepEqual([e.stepsPerEpoch, e.totalSteps, e.warmupSteps, e.swaStartStep], [4, 8, 0, null]);
  assert.deepEqual(ofKind(events, "warning"), [], "a normal run does not warn");
  for (const fold of summary.folds) {
    // The engine's best, as the eval events report it, is the one the outcome and best/ hold.
    const evals = ofKind(events, "eval").filter((e) => e.fold === fold.fold);
    const last = evals.at(-1);
    assert.deepEqual([last?.bestMetric, last?.bestStep], [fold.best_metric, fold.best_step]);
    assert.equal(evals.filter((e) => e.isBest).at(-1)?.step, fold.best_step);
    const saved = ofKind(events, "checkpoint").filter((e) => e.fold === fold.fold);
    assert.deepEqual(
      saved.map((e) => [e.which, e.step, e.path]),
      [
        ["final", 8, fold.final_dir],
        ["best", fold.best_step, fold.best_dir],
      ],
    );
  }
  const [a, b] = summary.folds.map((f) => f.best_metric) as [number, number];
  assert.ok(Math.abs(summary.mean - (a + b) / 2) < 1e-12);
  assert.ok(Math.abs(summary.std - Math.abs(a - b) / Math.SQRT2) < 1e-12);
  assert.equal(summary.metric, "rmse");
  assert.ok(summary.train_samples_per_second > 0);
  for (const f of [0, 2]) {
    assert.ok(existsSync(join(out, `fold-${f}/best/model.safetensors`)));
    assert.ok(existsSync(join(out, `fold-${f}/final/config.json`)));
  }
  assert.ok(!existsSync(join(out, "fold-1")));
});

test("an exported checkpoint loads in transformers and predicts what we predict", async () => {
  const out = scratch("export");
  const events: TrainEvent[] = [];
  const summary = await startExperiment(
    JSON.stringify(config({ folds: { k: 2, run: [1] }, reinit: { top_layers: 1 }, swa: { start_epoch: 2, lr: 1e-4 } })),
    { texts, targets },
    out,
    (e) => events.push(e),
  ).done;
  // 12 training rows in batches of 4: SWA from the first step of epoch 2, as planned at fold start.
  assert.equal(ofKind(events, "fold_start")[0]?.swaStartStep, 3);
  assert.deepEqual(
    ofKind(events, "swa_start").map((e) => [e.step, e.epoch]),
    [[3, 2]],
  );
  assert.ok(ofKind(events, "eval").every((e) => e.step > 3 === (e.swaMetrics !== null)));
  const dir = summary.folds[0]?.final_dir as string;
  const probe = texts.slice(0, 5);
  const [theirs] = reference<{ logits: number[][] }[]>("forward", [], [{ dir, texts: probe, max_length: 32 }]);
  const ours = native.SequenceModel.load(dir, { device: "cpu", maxLength: 32 }).predict(probe);
  assert.ok(maxAbsDiff(ours, theirs?.logits) < 1e-4, `differ by ${maxAbsDiff(ours, theirs?.logits)}`);
});

test("DistilBERT: re-init touches its own norms, and the export loads in transformers under DistilBERT's names", async () => {
  const model = native.SequenceModel.load(fixtures()["distilbert-regression"] as string, { device: "cpu" });
  const touched = model.reinit(1, false);
  assert.ok(touched.includes("distilbert.transformer.layer.2.sa_layer_norm.weight"));
  assert.ok(touched.includes("distilbert.transformer.layer.2.ffn.lin1.weight"));
  assert.ok(!touched.some((n) => n.includes("layer.1.")));
  const norm = model.variable("distilbert.transformer.layer.2.output_layer_norm.weight");
  assert.ok(
    norm.every((x) => x === 1),
    "a re-initialized LayerNorm weight is 1",
  );

  const out = scratch("export-distilbert");
  const summary = await startExperiment(
    JSON.stringify(
      config({
        model: fixtures()["distilbert-regression"],
        folds: { k: 2, run: [0] },
        reinit: { top_layers: 1 },
        swa: { start_epoch: 2, lr: 1e-4 },
      }),
    ),
    { texts, targets },
    out,
  ).done;
  const dir = summary.folds[0]?.final_dir as string;
  const saved = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  assert.deepEqual([saved.dim, saved.n_layers, saved.n_heads, saved.hidden_dim], [32, 3, 4, 64]);
  assert.equal(saved.hidden_size, undefined, "ours, not DistilBERT's, name");
  assert.deepEqual(saved.architectures, ["DistilBertForSequenceClassification"]);
  const probe = texts.slice(0, 5);
  const [theirs] = reference<{ logits: number[][] }[]>("forward", [], [{ dir, texts: probe, max_length: 32 }]);
  const ours = native.SequenceModel.load(dir, { device: "cpu", maxLength: 32 }).predict(probe);
  assert.ok(maxAbsDiff(ours, theirs?.logits) < 1e-4, `differ by ${maxAbsDiff(ours, theirs?.logits)}`);
});

for (const swa of [true, false]) {
  test(`the final model's score reuses the last evaluation (no second pass over the same weights)${swa ? ", with SWA" : ""}`, async () => {
    const events: TrainEvent[] = [];
    const recipe = {
      folds: { k: 3, strategy: "stratified", seed: 1, run: [0] },
      eval: { every_steps: 3 },
      ...(swa ? { swa: { start_step: 4, lr: 1e-4 } } : {}),
    };
    const summary = await startExperiment(JSON.stringify(config(recipe)), { texts, targets }, null, (e) =>
      events.push(e),
    ).done;
    const fold = summary.folds[0];
    const evals = ofKind(events, "eval");
    // 16 rows, batches of 4, 2 epochs: steps 1–8, evaluated at 3, 4 (epoch end), 6, 8 (end);
    // with SWA from step 4 on, the average is evaluated too at 6 and 8.
    assert.deepEqual(
      evals.map((e) => [e.step, e.swaMetrics !== null]),
      [
        [3, false],
        [4, false],
        [6, swa],
        [8, swa],
      ],
    );
    assert.equal(fold?.evaluations, swa ? 6 : 4, "one pass per model evaluated, none more at the end");
    const last = evals.at(-1);
    assert.deepEqual(fold?.final_metrics, swa ? last?.swaMetrics : last?.metrics);
  });
}

test("swa.evaluate: last scores the average once, after the last step, and only it stands for the final model", async () => {
  const run = async (extra: Record<string, unknown>) => {
    const events: TrainEvent[] = [];
    const recipe = {
      folds: { k: 3, strategy: "stratified", seed: 1, run: [0] },
      eval: { every_steps: 3 },
      swa: { start_step: 4, lr: 1e-4, evaluate: "last" },
      ...extra,
    };
    const summary = await startExperiment(JSON.stringify(config(recipe)), { texts, targets }, null, (e) =>
      events.push(e),
    ).done;
    return { fold: summary.folds[0], evals: ofKind(events, "eval") };
  };
  const { fold, evals } = await run({});
  // Steps 1–8, evaluated at 3, 4, 6, 8: the average only at 8 (the last step).
  assert.deepEqual(
    evals.map((e) => [e.step, e.swaMetrics !== null]),
    [
      [3, false],
      [4, false],
      [6, false],
      [8, true],
    ],
  );
  assert.equal(fold?.evaluations, 5);
  assert.deepEqual(fold?.final_metrics, evals.at(-1)?.swaMetrics);
  // The same weights as `each`: the average's score at the end does not depend on when it was scored.
  const each = await run({ swa: { start_step: 4, lr: 1e-4, evaluate: "each" } });
  assert.deepEqual(fold?.final_metrics, each.fold?.final_metrics);

  // Stopped early, before the last step: the average was never scored at an evaluation, so the
  // end scores it once rather than passing the live model's score off as the final model's.
  const early = await run({
    train: { epochs: 20, batch_size: 4, device: "cpu" },
    eval: { every_steps: 3, early_stopping_patience: 1 },
    swa: { start_step: 2, lr: 1e-4, evaluate: "last" },
  });
  assert.ok(early.fold?.stopped_early, "stopped early");
  assert.ok(early.evals.every((e) => e.swaMetrics === null));
  assert.equal(early.fold?.evaluations, early.evals.length + 1);
  assert.notDeepEqual(early.fold?.final_metrics, early.evals.at(-1)?.metrics);
});

test("cancel stops the run within a step", async () => {
  let steps = 0;
  const run = startExperiment(
    JSON.stringify(config({ train: { epochs: 50, batch_size: 2, device: "cpu" } })),
    { texts, targets },
    null,
    (e) => {
      if (e.kind === "step" && ++steps === 2) run.cancel();
    },
  );
  await assert.rejects(
    run.done,
    (e: unknown) => e instanceof TrainingError && e.cancelled && /cancelled/.test(e.message),
  );
  assert.ok(steps <= 3, `ran ${steps} steps after cancel`);
});

test("a NaN loss stops the run with a message naming the step", async () => {
  const bad = targets.map((t, i) => (i === 0 ? Number.NaN : t));
  const run = startExperiment(
    JSON.stringify(config({ train: { epochs: 1, batch_size: 4, shuffle: false, device: "cpu" } })),
    { texts, targets: bad },
    null,
  );
  await assert.rejects(
    run.done,
    /training loss became NaN at optimizer step 1 \(epoch 1, fold \d\); lower the learning rate/,
  );
});

test("a model that runs away without its loss becoming NaN warns once, and the run goes on", async () => {
  const events: TrainEvent[] = [];
  const summary = await startExperiment(
    JSON.stringify(
      config({
        folds: { k: 3, run: [0] },
        train: { epochs: 3, batch_size: 4, max_grad_norm: null, device: "cpu" },
        // Step 1 runs at LR 0 (warm-up), so the first evaluation sees the untrained model.
        optimizer: { lr: 100 },
        schedule: { name: "constant", warmup_steps: 4 },
        eval: { every_steps: 1 },
      }),
    ),
    { texts, targets },
    null,
    (e) => events.push(e),
  ).done;
  const warnings = ofKind(events, "warning");
  const rmse = ofKind(events, "eval").map((e) => e.metrics.rmse);
  assert.equal(warnings.length, 1, `validation rmse: ${rmse.join(", ")}`);
  const [w] = warnings;
  assert.match(
    w?.message ?? "",
    /^the model is diverging: validation rmse \S+ is over 10× that of a blank model \(\S+\) and of the first evaluation \(\S+\); lower the learning rate/,
  );
  // It follows the evaluation that diverged.
  const at = events.indexOf(w as TrainEvent);
  const before = events[at - 1];
  assert.ok(before?.kind === "eval" && before.step === w?.step);
  assert.ok((before.metrics.rmse as number) > 10 * (rmse[0] as number));
  assert.equal(summary.folds[0]?.steps, 12, "the run was not stopped");
});

for (const grouped of [false, true])
  test(`a run stopped mid-way resumes from its saved state and ends exactly as an uninterrupted one${grouped ? ", batches grouped by length" : ""}`, async () => {
    // Dropout on and shuffling on: the resumed run must reproduce the random streams too.
    const c = JSON.stringify(
      config({
        folds: { k: 2, run: [0, 1] },
        train: { epochs: 5, batch_size: 4, device: "cpu", group_by_length: grouped },
        eval: { every_steps: 2 },
        swa: { start_epoch: 3, lr: 5e-4 },
      }),
    );
    const straight = await startExperiment(c, { texts, targets }, scratch("straight"), () => {}, {
      stateIntervalSeconds: 0,
    }).done;

    // Fold 0 stops after its 7th optimizer step; its state was last saved at step 6.
    const out = scratch("resumed");
    const first = startExperiment(c, { texts, targets }, out, () => {}, { stateIntervalSeconds: 0, stopAfterSteps: 7 });
    await assert.rejects(first.done, /cancelled/);
    assert.ok(existsSync(join(out, "fold-0/state/state.json")), "fold 0 left a state to resume from");

    const resumedAt: number[] = [];
    const resumed = await startExperiment(
      c,
      { texts, targets },
      out,
      (e) => {
        if (e.kind === "resume") resumedAt.push(e.step);
      },
      { resume: true, stateIntervalSeconds: 0 },
    ).done;
    assert.deepEqual(resumedAt, [6], "fold 0 resumes at its last evaluation");
    assert.deepEqual(
      resumed.folds.map((f) => f.final_metrics),
      straight.folds.map((f) => f.final_metrics),
    );
    assert.deepEqual(
      resumed.folds.map((f) => f.best_metric),
      straight.folds.map((f) => f.best_metric),
    );

    // Resuming a finished experiment trains nothing and reports the same outcome.
    let trained = 0;
    const again = await startExperiment(
      c,
      { texts, targets },
      out,
      (e) => {
        if (e.kind === "fold_start") trained++;
      },
      { resume: true },
    ).done;
    assert.equal(trained, 0);
    assert.deepEqual(
      again.folds.map((f) => f.best_metric),
      straight.folds.map((f) => f.best_metric),
    );
    assert.ok(!existsSync(join(out, "fold-1/state")), "the state is removed once the fold is done");
  });

test("group_by_length: as many steps, other batches, so other numbers", async () => {
  const run = async (grouped: boolean) => {
    let stepEvents = 0;
    const summary = await startExperiment(
      JSON.stringify(config({ train: { epochs: 2, batch_size: 4, device: "cpu", group_by_length: grouped } })),
      { texts, targets },
      null,
      (e) => {
        if (e.kind === "step") stepEvents++;
      },
    ).done;
    return { summary, steps: stepEvents };
  };
  const [plain, grouped] = [await run(false), await run(true)];
  assert.equal(grouped.steps, plain.steps);
  assert.deepEqual(
    grouped.summary.folds.map((f) => f.steps),
    plain.summary.folds.map((f) => f.steps),
  );
  assert.notDeepEqual(
    grouped.summary.folds.map((f) => f.final_metrics),
    plain.summary.folds.map((f) => f.final_metrics),
  );
});

test("WeightAverage keeps torch's equal average of the weights it is given", () => {
  const model = native.SequenceModel.load(fixtures()["bert-regression"] as string, { device: "cpu", maxLength: 32 });
  const name = "bert.encoder.layer.2.attention.self.query.weight";
  const average = new native.WeightAverage(model);
  assert.equal(average.nAveraged, 0);
  model.reinit(1);
  const first = model.variable(name);
  average.update(model); // the first update copies
  model.reinit(1);
  const second = model.variable(name);
  average.update(model);
  assert.equal(average.nAveraged, 2);
  average.applyTo(model);
  const averaged = model.variable(name);
  averaged.forEach((v, i) => {
    assert.ok(Math.abs(v - ((first[i] as number) + (second[i] as number)) / 2) < 1e-7, `element ${i}`);
  });
});
