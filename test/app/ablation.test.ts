// `ftune ablate`: every experiment over the same folds, the results table and chart, resuming
// without retraining; and the plan path for machines without Node (the engine's ablate_plan
// binary), which must give the very results the app gives, and the GPU machine's checks.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import {
  type AblationResult,
  type AblationTrainer,
  loadAblation,
  pairedDeltas,
  resultsMarkdown,
  runAblation,
  writeAblationPlan,
} from "../../app/core/experiments/ablation.ts";
import { loadExperimentData } from "../../app/core/experiments/data.ts";
import { trainFileExperiment } from "../../app/core/runs/orchestrate.ts";
import { venvPython } from "../../scripts/env.mjs";
import { engineExamples, ftune, scratchHome, testCore, tinyConfig, tinyModel, writeTinyCsv } from "./helpers.ts";

const root = join(import.meta.dirname, "../..");
const home = scratchHome("ablation");
after(() => home.cleanup());

let spec: string;
let appResults: AblationResult[];
/** The engine's ablate_plan binary (an example of native/engine), built once here. */
let ablatePlan: string;
before(() => {
  ablatePlan = join(engineExamples("ablate_plan"), "ablate_plan");
  const csv = writeTinyCsv(home.dir, 24);
  const base = tinyConfig({
    data: { train: csv, text: "text", label: "target", max_length: 32 },
    train: { epochs: 2, batch_size: 4, device: "cpu", seed: 11 },
  });
  spec = join(home.dir, "ablation.yaml");
  // JSON is YAML.
  writeFileSync(
    spec,
    JSON.stringify({
      base,
      experiments: [
        { name: "basic" },
        { name: "+ SWA", set: { swa: { start_epoch: 2, lr: 1e-4 }, eval: { every_steps: 1 } } },
      ],
    }),
  );
});

describe("ftune ablate", () => {
  test("runs every experiment over the same folds, writes the table and chart, and a rerun trains nothing", async () => {
    const out = join(home.dir, "app");
    const core = await testCore(join(home.dir, "data"));
    const seen: string[] = [];
    const train: AblationTrainer = async (name, config, dir) => {
      seen.push(name);
      const { data } = await loadExperimentData(config);
      return (await trainFileExperiment(core, { name, config, data, outDir: dir })).summary;
    };
    try {
      appResults = await runAblation(spec, out, train);
    } finally {
      await core.close();
    }
    assert.deepEqual(seen, ["basic", "+ SWA"]);
    assert.deepEqual(
      appResults.map((r) => [r.name, r.summary.folds.map((f) => f.fold)]),
      [
        ["basic", [0, 1]],
        ["+ SWA", [0, 1]],
      ],
    );
    assert.deepEqual(appResults[1]?.techniques, ["SWA (lr 0.0001)", "eval every 1 steps"]);
    const table = readFileSync(join(out, "results.md"), "utf8");
    assert.match(table, /^\| basic \| basic fine-tuning \| \d\.\d{4} ± \d\.\d{4} \|/m);
    assert.match(table, /^\| \+ SWA \|/m);
    assert.match(readFileSync(join(out, "chart.svg"), "utf8"), /<svg[^>]*>[\s\S]*\+ SWA/);

    const again = await runAblation(spec, out, () => assert.fail("a finished ablation retrained"));
    assert.deepEqual(again, appResults);
  });

  test("a plan run by the engine's ablate_plan binary gives the app's results, and --report tables them", async () => {
    const plan = join(home.dir, "plan");
    assert.equal(await writeAblationPlan(spec, plan), tinyModel());
    const written = JSON.parse(readFileSync(join(plan, "plan.json"), "utf8"));
    assert.equal(written.data.texts.length, 24);
    assert.deepEqual(
      written.experiments.map((e: { name: string; config: { model: string } }) => [e.name, e.config.model]),
      [
        ["basic", "model"],
        ["+ SWA", "model"],
      ],
    );
    symlinkSync(tinyModel(), join(plan, "model"));

    const out = join(home.dir, "plan-out");
    const run = spawnSync(ablatePlan, [plan, out], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    const planResults: AblationResult[] = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    const metrics = (rs: AblationResult[]) => rs.map((r) => r.summary.folds.map((f) => f.best_metric));
    assert.equal(metrics(planResults).flat().length, 4);
    metrics(planResults)
      .flat()
      .forEach((m, i) => {
        assert.ok(Math.abs(m - (metrics(appResults).flat()[i] as number)) < 1e-6, `fold result ${i}: ${m}`);
      });

    await runAblation(spec, out, () => assert.fail("--report trained"), { reportOnly: true });
    assert.ok(existsSync(join(out, "chart.svg")));
    assert.match(readFileSync(join(out, "results.md"), "utf8"), /^\| \+ SWA \|/m);
  });

  test("the GPU machine's training-loop check passes here on the CPU (so it has not rotted)", async () => {
    const r = spawnSync(venvPython, [join(root, "bench/gpu_train_check.py"), ablatePlan, "--device", "cpu"], {
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const checks = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      checks.map((c) => [c.model, c.ok, c.steps]),
      [
        ["bert-regression", true, 9],
        ["roberta-3class", true, 9],
        ["distilbert-regression", true, 9],
      ],
    );
  });

  test("ftune ablate --report with no results says what to do, and trains nothing", async () => {
    const r = await ftune(["ablate", spec, "--out", join(home.dir, "no-results"), "--report"], home.dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^ftune: --report needs results: \S+results\.json does not exist\. Run the ablation/);
    assert.ok(!existsSync(join(home.dir, "no-results", "results.md")));
  });
});

describe("ablation modes", () => {
  const rows = [
    { name: "basic" },
    { name: "+ LLRD", set: { llrd: { mode: "layerwise", top_lr: 1e-3, decay: 0.8, head_lr: 2e-3 } } },
    { name: "+ SWA", set: { swa: { start_epoch: 2, lr: 1e-4 } } },
    {
      name: "grouped LLRD instead",
      set: { llrd: { mode: "grouped", head_lr: 2e-3, groups: [{ layers: "0-2", lr: 1e-3 }] } },
    },
  ];
  const write = (mode?: string) => {
    const path = join(home.dir, `modes-${mode ?? "default"}.yaml`);
    writeFileSync(
      path,
      JSON.stringify({
        ...(mode ? { mode } : {}),
        base: JSON.parse(readFileSync(spec, "utf8")).base,
        experiments: rows,
      }),
    );
    return path;
  };

  test("cumulative rows add to the row above; one at a time to the base; a new LLRD mode replaces the old", () => {
    const cumulative = loadAblation(write("cumulative"));
    assert.equal(cumulative.mode, "cumulative");
    const [, llrd, swa, grouped] = cumulative.configs.map((c) => c.config);
    assert.equal(llrd?.swa, null);
    assert.equal(swa?.llrd?.mode, "layerwise", "+ SWA keeps the LLRD above it");
    assert.equal(grouped?.swa?.lr, 1e-4, "the last row keeps everything above it");
    assert.deepEqual(Object.keys(grouped?.llrd ?? {}).sort(), ["groups", "head_lr", "mode"]);
    const single = loadAblation(write());
    assert.equal(single.mode, "one-at-a-time");
    assert.equal(single.configs[2]?.config.llrd, null, "+ SWA alone");
    assert.equal(loadAblation(write(), "cumulative").configs[2]?.config.llrd?.mode, "layerwise", "--mode wins");
  });

  test("the table pairs each row with the one it builds on, fold by fold", () => {
    const result = (name: string, folds: number[]): AblationResult => ({
      name,
      techniques: [name],
      summary: {
        metric: "rmse",
        folds: folds.map((best_metric, fold) => ({ fold, best_metric }) as AblationResult["summary"]["folds"][number]),
        mean: 0,
        std: 0,
        final_mean: 0,
        final_std: 0,
        train_samples_per_second: 1,
        seconds: 60,
        device: "cpu",
      },
    });
    const results = [
      result("basic", [0.6, 0.7, 0.5]),
      result("+ LLRD", [0.5, 0.6, 0.6]),
      result("+ SWA", [0.4, 0.5, 0.5]),
    ];
    const cumulative = pairedDeltas(results, "cumulative");
    assert.equal(cumulative[0], null);
    assert.equal(cumulative[1]?.against, "basic");
    assert.equal(cumulative[2]?.against, "+ LLRD");
    assert.ok(Math.abs((cumulative[2]?.mean ?? 0) + 0.1) < 1e-12);
    assert.equal(cumulative[2]?.better, 3, "lower RMSE on every fold");
    assert.equal(cumulative[1]?.better, 2);
    assert.equal(pairedDeltas(results, "one-at-a-time")[2]?.against, "basic");
    const table = resultsMarkdown(results, "cumulative");
    assert.match(table, /^Mode: cumulative\./);
    assert.match(table, /^\| \+ SWA \| \+ SWA \| .* \| −0\.1000 ± 0\.0000; 3\/3 \|/m);
  });

  test("ftune ablate --mode rejects an unknown mode before training", async () => {
    const r = await ftune(["ablate", spec, "--out", join(home.dir, "bad-mode"), "--mode", "sideways"], home.dir);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--mode must be one of cumulative, one-at-a-time, got "sideways"/);
  });
});
