// The whole training loop against a plain PyTorch + transformers reference (the article's
// recipe): LLRD, warm-up, clipping and SWA over 3 epochs, dropout off, batches in order.
// Per-step losses and final (averaged) weights must match.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";

import { startExperiment } from "../../app/engine/training.ts";
import type { TrainEvent } from "../../app/native/addon.ts";
import { fixtures, reference, scratch } from "../helpers/python.ts";

const texts = [
  "The quick brown fox jumps over the lazy dog.",
  "Science!",
  "Children learn history from an old teacher by the river.",
  "a",
  "Difficult vocabulary in a complex paragraph about ancient energy.",
  "Easy story.",
  "The student writes a large number.",
  "Modern language is simple.",
  "Old mountain, new river, quick teacher.",
  "Reading passage",
];

for (const { fixture, task, targets, weights = 40 } of [
  { fixture: "bert-regression", task: "regression", targets: [0.5, -1.2, 0.3, 2.0, -0.7, 1.1, 0.0, -2.2, 0.9, 1.4] },
  { fixture: "roberta-3class", task: "classification", targets: [0, 2, 1, 0, 2, 0, 1, 1, 2, 0] },
  {
    fixture: "distilbert-regression",
    task: "regression",
    targets: [1.5, -0.2, 0.8, -1.0, 0.4, 2.1, -0.6, 0.1, 1.0, -1.7],
  },
  { fixture: "electra-regression", task: "regression", targets: [0.5, -1.2, 0.3, 2.0, -0.7, 1.1, 0.0, -2.2, 0.9, 1.4] },
  { fixture: "mpnet-3class", task: "classification", targets: [0, 2, 1, 0, 2, 0, 1, 1, 2, 0] },
  {
    fixture: "deberta-regression",
    task: "regression",
    targets: [1.5, -0.2, 0.8, -1.0, 0.4, 2.1, -0.6, 0.1, 1.0, -1.7],
  },
  { fixture: "deberta-3class", task: "classification", targets: [0, 2, 1, 0, 2, 0, 1, 1, 2, 0] },
  // ModernBERT without biases (24 tensors) and with every bias and mean pooling (46).
  {
    fixture: "modernbert-regression",
    task: "regression",
    targets: [0.3, -1.1, 1.8, 0.2, -0.4, 0.9, -2.0, 0.6, 1.2, -0.8],
    weights: 23,
  },
  { fixture: "modernbert-3class", task: "classification", targets: [1, 0, 2, 2, 0, 1, 0, 2, 1, 0] },
]) {
  test(`${fixture}: losses and final SWA weights match the PyTorch reference loop`, async (t) => {
    const dir = fixtures()[fixture] as string;
    const recipe = {
      llrd: { mode: "layerwise", top_lr: 2e-3, decay: 0.8, head_lr: 3e-3 },
      schedule: { name: "linear", warmup_steps: 2 },
      swa: { start_epoch: 2, lr: 5e-4, anneal_steps: 2, anneal_strategy: "cos" },
    };
    const config = {
      model: dir,
      task,
      data: { train: "in-memory", valid: "in-memory", text: "text", label: "label", max_length: 16 },
      head: { pooling: "cls", dropout: 0 },
      encoder_dropout: 0,
      train: { epochs: 3, batch_size: 4, max_grad_norm: 1.0, shuffle: false, device: "cpu" },
      optimizer: { weight_decay: 0.01, betas: [0.9, 0.98], eps: 1e-6 },
      eval: { every_steps: 2 },
      ...recipe,
    };
    const out = scratch("parity");
    const losses: number[] = [];
    const labels = task === "classification" ? ["easy", "medium", "hard"] : undefined;
    const summary = await startExperiment(
      JSON.stringify(config),
      { texts, targets, validTexts: texts.slice(0, 4), validTargets: targets.slice(0, 4), labels },
      out,
      (e: TrainEvent) => {
        if (e.kind === "step") losses.push(e.loss);
      },
    ).done;
    assert.equal(summary.folds.length, 1);
    assert.equal(losses.length, 9, "3 epochs of 3 batches");

    const expected = reference<{
      losses: number[];
      max_weight_diff: number;
      worst: string;
      compared: number;
      missing: string[];
    }>("train", [], {
      dir,
      task,
      texts,
      targets,
      batch_size: 4,
      epochs: 3,
      max_length: 16,
      max_grad_norm: 1.0,
      betas: [0.9, 0.98],
      eps: 1e-6,
      lr: 2e-5,
      weight_decay: 0.01,
      llrd: recipe.llrd,
      schedule: { name: "linear", warmup_steps: 2 },
      swa: { start: 3, lr: 5e-4, anneal_steps: 2, strategy: "cos" },
      ours: join(out, "fold-0/final/model.safetensors"),
    });
    const lossDiff = Math.max(...losses.map((l, k) => Math.abs(l - (expected.losses[k] as number))));
    process.stdout.write(`# ${fixture}: max |loss diff| ${lossDiff}, max |weight diff| ${expected.max_weight_diff}\n`);
    losses.forEach((l, k) => {
      assert.ok(Math.abs(l - (expected.losses[k] as number)) < 1e-4, `step ${k}: loss ${l} vs ${expected.losses[k]}`);
    });
    assert.deepEqual(expected.missing, [], "our checkpoint has every weight of the transformers model");
    assert.ok(expected.compared > weights, `${expected.compared} weights compared`);
    assert.ok(
      expected.max_weight_diff < 1e-4,
      `final weights differ by ${expected.max_weight_diff} (${expected.worst})`,
    );
    t.diagnostic(
      `max |Δloss| ${lossDiff.toExponential(1)}, max |Δweight| ${expected.max_weight_diff.toExponential(1)}`,
    );
    // Training moved the weights well beyond the tolerance, so the comparison means something.
    assert.ok(Math.abs((losses[0] as number) - (losses.at(-1) as number)) > 1e-3);
  });
}
