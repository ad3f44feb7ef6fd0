// Writes the article case for a GPU machine (no Node there): the recipe on CommonLit, every
// fold, as `bench/article_gpu.py` runs it with the engine's ablate_plan and bench/article_loop.py.
//
//   node --import tsx bench/article_gpu_plan.ts OUT_DIR [--csv FILE] [--model DIR] [--rows N]
//        [--epochs N] [--warmup STEPS] [--folds K]
//
// OUT_DIR/plan.json.gz holds the recipe (the loop's request fields), the engine config, the data
// and the engine's own fold of every row (`planRun`), so that the loop trains and scores
// exactly the rows each engine fold does. The model is `../model` (bench/gpu-plan/model, which
// scripts/gpu-prepare.mjs fills) unless --model names a folder. As the article: the CommonLit row
// with target 0 is dropped, folds are stratified on bins of the target.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join, resolve } from "node:path";
import { parse } from "csv-parse/sync";

import { native } from "../app/native/addon.ts";
import { root } from "../scripts/env.mjs";
import { articleConfig, articleRecipe } from "./article_recipe.ts";

const args = process.argv.slice(2);
const option = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const out = args[0];
if (!out || out.startsWith("--")) {
  process.stderr.write("usage: article_gpu_plan.ts OUT_DIR [--csv FILE] [--model DIR] [--rows N] [--epochs N] [--warmup STEPS] [--folds K]\n");
  process.exit(2);
}
const csv = option("--csv") ?? join(root, "../shared/data/commonlit/train.csv");
const rows = (parse(readFileSync(csv), { columns: true }) as Record<string, string>[])
  .map((r) => ({ text: r.excerpt ?? r.text ?? "", target: Number(r.target) }))
  .filter((r) => r.target !== 0)
  .slice(0, Number(option("--rows")) || undefined);
const data = { texts: rows.map((r) => r.text), targets: rows.map((r) => r.target) };

// On whole folds (142 batches an epoch, as the article's), the article's own 50 warm-up steps.
const epochs = Number(option("--epochs")) || articleRecipe.epochs;
const recipe = {
  ...articleRecipe,
  epochs,
  warmup_steps: Number(option("--warmup")) || 50,
  swa_start_epoch: Math.min(articleRecipe.swa_start_epoch, epochs - 1),
};
const model = option("--model") ? resolve(option("--model") as string) : "../model";
const { data: dataConfig, ...rest } = articleConfig(model, recipe, "cuda");
const { valid: _separate, ...foldData } = dataConfig;
const config = {
  ...rest,
  data: foldData,
  folds: { k: Number(option("--folds")) || 5, strategy: "stratified", seed: recipe.seed, run: "all" },
};
const plan = native.planRun(JSON.stringify({ ...config, model: resolve(out, model) }), data);
mkdirSync(out, { recursive: true });
// Gzipped: it travels to the GPU machine with the model and binaries, 64 MiB in all.
writeFileSync(join(out, "plan.json.gz"), gzipSync(JSON.stringify({ recipe, model, config, data, assignment: plan.assignment })));
process.stderr.write(`article plan: ${rows.length} rows, ${plan.folds.length} folds of ${plan.folds.map((f) => f.validRows).join("/")} validation rows → ${out}\n`);
