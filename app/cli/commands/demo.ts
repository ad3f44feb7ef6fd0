// ftune demo: the whole app on a real dataset in a few minutes on a CPU. The VADER sentiment
// lexicon (word → mean human valence rating) is imported as a dataset; "Basic" fine-tuning and
// the article's full recipe train the bundled encoder over the same 2 folds; the results table
// compares them and the best checkpoint is exported as a Hugging Face folder.
import { mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";

import type { CompareRow, Preset } from "../../core/api/contract.ts";
import { readLexicon, subsample, writeLexiconCsv } from "../../core/demo/vader.ts";
import { mergeConfig } from "../../core/experiments/ablation.ts";
import type { ExperimentConfig } from "../../core/experiments/config-types.ts";
import { metricOf } from "../../core/runs/orchestrate.ts";
import type { Core } from "../../core/service/index.ts";
import { defaultDataDir } from "../../core/store/index.ts";
import type { Summary } from "../../engine/training.ts";
import { call, withCore } from "../core.ts";
import { UserError } from "../errors.ts";
import { followRuns } from "../follow.ts";
import { int } from "../options.ts";
import { fmt, formatTable } from "../table.ts";
import { runExitCode } from "./runs.ts";

interface DemoOptions {
  quick?: boolean;
  rows?: number;
  epochs?: number;
  model?: string;
  out?: string;
  json?: boolean;
}

interface DemoSize {
  rows: number;
  epochs: number;
  batchSize: number;
  maxLength: number;
}

/** Full: fits ~5 minutes on a 2-core CPU. Quick: seconds, for tests (use a tiny --model). */
function demoSize(o: DemoOptions): DemoSize {
  const envRows = Number(process.env.FTUNE_DEMO_ROWS) || undefined;
  const base = o.quick ? { rows: 48, epochs: 2, batchSize: 8 } : { rows: 1600, epochs: 3, batchSize: 16 };
  return {
    rows: o.rows ?? envRows ?? base.rows,
    epochs: o.epochs ?? base.epochs,
    batchSize: base.batchSize,
    maxLength: 16,
  };
}

/** The two recipes, sized for the demo: same folds, seed, epochs and batch; techniques differ. */
function demoConfigs(
  presets: Preset[],
  size: DemoSize,
  model: string,
): { name: string; config: Record<string, unknown> }[] {
  const preset = (name: string) => {
    const p = presets.find((x) => x.name === name);
    if (!p) throw new Error(`preset "${name}" is missing`);
    return p.config;
  };
  const trainRows = Math.floor(size.rows / 2);
  const stepsPerEpoch = Math.ceil(trainRows / size.batchSize);
  const common = {
    model,
    data: { max_length: size.maxLength },
    folds: { k: 2, strategy: "stratified", seed: 42, run: [0, 1] },
    train: { epochs: size.epochs, batch_size: size.batchSize, eval_batch_size: 64, seed: 42 },
  };
  const article = {
    // SWA over the last epoch and 2 evaluations per epoch, whatever the demo's size (an
    // evaluation over half the rows costs about as much as a third of an epoch's training).
    swa: { start_epoch: size.epochs, start_step: null, anneal_steps: Math.max(1, Math.floor(stepsPerEpoch / 4)) },
    eval: { every_steps: Math.max(1, Math.ceil(stepsPerEpoch / 2)) },
  };
  return [
    { name: "Demo: Basic", config: mergeConfig(preset("Basic"), common) },
    {
      name: "Demo: Article (all techniques)",
      config: mergeConfig(mergeConfig(preset("Article: all techniques"), common), article),
    },
  ];
}

function resultsTable(rows: CompareRow[]): string {
  const metric = rows[0]?.metric.toUpperCase() ?? "METRIC";
  return formatTable(
    ["experiment", `${metric} (mean ± std)`, "per fold", "techniques"],
    rows.map((r) => [
      r.name,
      `${fmt(r.mean)} ± ${fmt(r.std)}`,
      r.folds.map((f) => `${f.fold}: ${fmt(f.value)}`).join(", "),
      r.techniques.join("; "),
    ]),
  );
}

async function runDemo(core: Core, o: DemoOptions): Promise<void> {
  const started = Date.now();
  const size = demoSize(o);
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const dir = join(core.dataDir, "demo");
  mkdirSync(dir, { recursive: true });

  // Model: the bundled encoder unless one is given.
  const model = o.model
    ? await call(core, "addModel", { path: resolve(o.model) })
    : (await call(core, "listModels", {})).find((m) => m.bundled);
  if (!model) throw new UserError("The bundled encoder is not installed. Run `npm run setup` (or give --model DIR).");

  // Data: a deterministic, evenly spread sample of the lexicon.
  const all = readLexicon();
  const entries = subsample(all, size.rows);
  const csv = join(dir, `vader-lexicon-${entries.length}.csv`);
  writeLexiconCsv(csv, entries);
  say(
    `demo: VADER sentiment lexicon, ${entries.length} of ${all.length} entries (token → mean human valence, -4 to 4)`,
  );
  say(
    `demo: model ${model.name}; max_length ${size.maxLength}, ${size.epochs} epochs, batch ${size.batchSize}, 2 folds — sized for a CPU`,
  );
  const dataset = await call(core, "importDataset", {
    path: csv,
    name: `VADER lexicon (${entries.length} rows)`,
    mapping: { text: "token", label: "valence" },
    task: "regression",
    modelId: model.id,
    maxLength: size.maxLength,
  });
  say(`demo: imported dataset ${dataset.id} (${dataset.rowCount} rows) into ${core.dataDir}`);

  // Two experiments over the same folds, queued one run per fold.
  const presets = await call(core, "presets", {});
  const experiments = [];
  const runIds: number[] = [];
  for (const { name, config } of demoConfigs(presets, size, model.path)) {
    const experiment = await call(core, "createExperiment", { name, datasetId: dataset.id, config });
    experiments.push(experiment);
    runIds.push(...(await call(core, "startRuns", { experimentId: experiment.id })).map((r) => r.id));
  }
  const metric = metricOf(experiments[0]?.config as ExperimentConfig);
  const runs = await followRuns(core, runIds, { json: o.json, metric });
  const failed = runs.find((r) => r.status !== "completed");
  if (failed)
    throw new UserError(
      `run ${failed.id} ${failed.status}${failed.error ? `: ${failed.error}` : ""}`,
      runExitCode(failed),
    );

  const table = await call(core, "compare", { experimentIds: experiments.map((e) => e.id) });
  process.stdout.write(`\n${resultsTable(table)}\n`);
  say("demo: 2 folds of a small sample, so differences within about one std are fold-to-fold noise");

  // The best fold of the best experiment (lowest RMSE), exported.
  const best = runs
    .map((r) => ({ run: r, value: (r.summary as Summary).folds[0]?.best_metric ?? Number.POSITIVE_INFINITY }))
    .sort((a, b) => a.value - b.value)[0];
  if (!best) return;
  const out = resolve(o.out ?? join(dir, "best-model"));
  if (!o.out) rmSync(out, { recursive: true, force: true }); // our own folder from a previous demo
  const exported = await call(core, "exportRun", { id: best.run.id, kind: "best", outDir: out });
  const name = experiments.find((e) => e.id === best.run.experimentId)?.name;
  process.stdout.write(
    `\nBest checkpoint (${name}, fold ${best.run.fold}, RMSE ${fmt(best.value)}) written as a Hugging Face folder to:\n  ${exported.path}\n${exported.note}\n\n${exported.python}\n`,
  );
  say(`demo: done in ${((Date.now() - started) / 60_000).toFixed(1)} min`);
}

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("fine-tune the bundled encoder on the VADER sentiment lexicon: Basic vs the article's recipe, 2 folds")
    .option("--quick", "a tiny run (48 rows) for smoke tests; pair it with a small --model")
    .option("--rows <n>", "lexicon entries to use (default 1600, or $FTUNE_DEMO_ROWS)", int)
    .option("--epochs <n>", "epochs per fold", int)
    .option("--model <dir>", "a Hugging Face model folder instead of the bundled encoder")
    .option("--out <dir>", "where to export the best checkpoint (default: <data folder>/demo/best-model)")
    .option("--json", "print JSON event lines while training")
    .action(async (o: DemoOptions) => {
      process.stderr.write(`demo: data folder ${defaultDataDir()}\n`);
      await withCore((core) => runDemo(core, o));
    });
}
