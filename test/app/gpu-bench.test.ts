// bench/gpu.sh runs only on a lent GPU machine, a few minutes a session: a script that broke
// since the last one wastes the whole loan. Here its throughput and article parts run on the
// CPU at toy sizes, through the same binaries, plans and Python as there, and what they report
// is checked: both sides of the article case train and score the same rows, and folds trained
// several at once give the numbers they give one at a time.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { gunzipSync } from "node:zlib";

import { venvPython } from "../../scripts/env.mjs";
import { engineExamples, scratchHome, tinyModel, writeTinyCsv } from "./helpers.ts";

const root = join(import.meta.dirname, "../..");
const home = scratchHome("gpu-bench");
after(() => home.cleanup());
const plan = join(home.dir, "gpu-plan");
const out = join(home.dir, "out");
let bin: string;

before(() => {
  bin = engineExamples("ablate_plan", "train_bench");
  // A 6-layer BERT (the recipe's grouped LLRD names layers 0-5) with a pooler, tiny widths,
  // and the fixture's tokenizer; a roberta-shaped config for the throughput part.
  const model = join(home.dir, "model");
  const script = `
import sys, torch
from transformers import AutoTokenizer, BertConfig, BertModel
torch.manual_seed(0)
tok = AutoTokenizer.from_pretrained(sys.argv[2])
BertModel(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=6, num_attention_heads=2,
    intermediate_size=37, max_position_embeddings=260)).save_pretrained(sys.argv[1])
tok.save_pretrained(sys.argv[1])`;
  const made = spawnSync(venvPython, ["-c", script, model, tinyModel()], { encoding: "utf8" });
  assert.equal(made.status, 0, made.stderr);
  const roberta = JSON.parse(readFileSync(join(root, "bench/roberta-base.json"), "utf8"));
  const small = {
    ...roberta,
    vocab_size: 1000,
    hidden_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 37,
    max_position_embeddings: 40,
  };
  writeFileSync(join(home.dir, "roberta-tiny.json"), JSON.stringify(small));
  const csv = writeTinyCsv(home.dir, 30);
  const args = ["--csv", csv, "--model", model, "--rows", "30", "--epochs", "2", "--warmup", "1", "--folds", "3"];
  const planned = spawnSync("node", ["--import", "tsx", "bench/article_gpu_plan.ts", join(plan, "article"), ...args], {
    cwd: root,
    encoding: "utf8",
  });
  assert.equal(planned.status, 0, planned.stderr);
});

test("bench/gpu.sh's throughput and article parts run here on the CPU, and report what both sides did", () => {
  const env = {
    ...process.env,
    OUT: out,
    GPU_BIN: bin,
    GPU_PLAN: plan,
    TORCH_PY: venvPython,
    MODEL_CONFIG: join(home.dir, "roberta-tiny.json"),
    BATCH: "2",
    SEQ: "16",
    STEPS: "2",
    REPS: "2",
    COMPILE: "0",
    PRECISION: "fp32",
    ARTICLE_FOLDS: "0,1",
    ARTICLE_CONCURRENT: "2",
  };
  const r = spawnSync("bash", ["bench/gpu.sh", "throughput", "article"], { cwd: root, env, encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);

  // Throughput: both engines in each repetition, ratios taken within a repetition.
  const summary = JSON.parse(readFileSync(join(out, "train-bench-summary.json"), "utf8"));
  assert.deepEqual(Object.keys(summary.engines).sort(), ["eager", "ftune"]);
  assert.equal(summary.ratios["ftune/eager"].length, 2);
  assert.ok(summary.ratios["ftune/eager"].every((x: number) => x > 0 && Number.isFinite(x)));
  assert.match(r.stdout, /ours \/ eager: \d+\.\d\d× \(/);

  // Article: the loop got exactly the rows of the engine's fold, trained as many steps and
  // evaluated as often.
  const planned = JSON.parse(gunzipSync(readFileSync(join(plan, "article/plan.json.gz"))).toString());
  const article = JSON.parse(readFileSync(join(out, "article/article.json"), "utf8"));
  assert.deepEqual(
    article.folds.map((f: { fold: number }) => f.fold),
    [0, 1],
  );
  for (const f of article.folds) {
    const rows = planned.assignment.filter((a: number) => a === f.fold).length;
    assert.equal(f.ours.valid_rows, rows);
    assert.equal(f.loop.valid_rows, rows);
    assert.equal(f.ours.steps, f.loop.steps);
    assert.equal(f.ours.evaluations, f.loop.evaluations);
    assert.ok(Number.isFinite(f.ours.best_rmse) && Number.isFinite(f.loop.best_rmse));
  }
  // Two folds at once on one device: the same numbers as one after the other.
  assert.deepEqual(article.concurrent.folds, [0, 1]);
  assert.deepEqual(
    article.concurrent.best_rmse,
    article.folds.map((f: { ours: { best_rmse: number } }) => f.ours.best_rmse),
  );
  assert.match(r.stdout, /all folds, one after another: ours [\d.]+ s, loop [\d.]+ s: [\d.]+×/);
});
