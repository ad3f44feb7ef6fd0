// Out-of-fold predictions and fold ensembles: a K-fold `ftune train` writes oof.csv with every
// training row once, predicted by the best model of the fold that held it out, and scores it;
// `ftune predict --model RUN_DIR` is the mean of the fold models' predictions.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "csv-parse/sync";

import { ftune, scratchHome, tinyRows, writeTinyExperiment } from "./helpers.ts";

const home = scratchHome("oof");
after(home.cleanup);
const data = join(home.dir, "data");
const out = join(home.dir, "run");
let csv: string;

before(async () => {
  const written = writeTinyExperiment(home.dir, "oof.yaml", 30, [
    "folds: { k: 3, seed: 5 }",
    "train: { epochs: 2, batch_size: 4, device: cpu }",
    "optimizer: { lr: 1.0e-3 }",
    "eval: { every_steps: 3 }",
  ]);
  csv = written.csv;
  const config = written.config;
  const r = await ftune(["train", config, "--out", out], data);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /out-of-fold rmse over all 30 rows: \d\.\d{4}/);
});

type Row = Record<string, string>;
const readCsv = (path: string): Row[] => parse(readFileSync(path, "utf8"), { columns: true }) as Row[];

async function predict(model: string): Promise<number[]> {
  const file = join(home.dir, `pred-${Math.random().toString(36).slice(2)}.csv`);
  const r = await ftune(["predict", "--model", model, "--input", csv, "--text-column", "text", "--output", file], data);
  assert.equal(r.code, 0, r.stderr);
  return readCsv(file).map((row) => Number(row.prediction));
}

describe("out-of-fold predictions", () => {
  test("oof.csv holds every row once, with its fold and target, and the summary its score", () => {
    const rows = readCsv(join(out, "oof.csv"));
    assert.deepEqual(
      rows.map((r) => Number(r.row)),
      Array.from({ length: 30 }, (_, i) => i),
    );
    const targets = tinyRows(30).map((r) => r.target);
    for (const [i, r] of rows.entries()) assert.equal(Number(r.target), targets[i]);
    assert.deepEqual([...new Set(rows.map((r) => r.fold))].sort(), ["0", "1", "2"]);
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as { oof: { rmse: number } };
    const rmse = Math.sqrt(rows.reduce((s, r) => s + (Number(r.prediction) - Number(r.target)) ** 2, 0) / rows.length);
    assert.ok(Math.abs(summary.oof.rmse - rmse) < 1e-9, `${summary.oof.rmse} vs ${rmse}`);
  });

  test("each row's prediction is the best model of the fold that held it out", async () => {
    const rows = readCsv(join(out, "oof.csv"));
    for (const fold of [0, 1, 2]) {
      const best = await predict(join(out, `fold-${fold}`, "best"));
      for (const r of rows.filter((x) => Number(x.fold) === fold)) {
        const diff = Math.abs(Number(r.prediction) - (best[Number(r.row)] as number));
        assert.ok(diff < 1e-5, `row ${r.row}: ${r.prediction} vs ${best[Number(r.row)]}`);
      }
    }
  });
});

describe("fold ensembles", () => {
  test("predict --model RUN_DIR is the mean of the fold models' predictions", async () => {
    const folds = await Promise.all([0, 1, 2].map((k) => predict(join(out, `fold-${k}`, "best"))));
    const ensemble = await predict(out);
    ensemble.forEach((p, i) => {
      const mean = folds.reduce((s, f) => s + (f[i] as number), 0) / folds.length;
      assert.ok(Math.abs(p - mean) < 1e-6, `row ${i}: ${p} vs ${mean}`);
    });
    const weighted = await ftune(
      ["predict", "--model", out, "--weights", "1,2", "--input", csv, "--text-column", "text"],
      data,
    );
    assert.equal(weighted.code, 2);
    assert.match(weighted.stderr, /--weights needs 3 non-negative numbers/);
  });
});
