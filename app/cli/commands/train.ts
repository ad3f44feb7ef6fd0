// ftune train: run an experiment config (K folds or a validation file) through the app's one
// orchestrator: the experiment and its runs are stored in the data folder (the app shows them
// beside its own, Compare included), each fold trains in a worker, and the output folder gets
// fold-<k>/{metrics.jsonl,best,final} and summary.json.
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { type Command, Option } from "commander";
import { stringify } from "csv-stringify/sync";

import { type Keep, KeepSchema } from "../../core/api/contract.ts";
import { formatMetric } from "../../core/experiments/ablation.ts";
import { loadConfigFile } from "../../core/experiments/config-file.ts";
import type { ExperimentConfig } from "../../core/experiments/config-types.ts";
import { loadExperimentData } from "../../core/experiments/data.ts";
import { writeSummary } from "../../core/experiments/run-files.ts";
import { metricOf, type OutOfFold, outOfFold, trainFileExperiment } from "../../core/runs/orchestrate.ts";
import type { Core } from "../../core/service/index.ts";
import type { Experiment } from "../../core/store/repo-experiments.ts";
import type { Summary } from "../../engine/training.ts";
import type { TrainingData } from "../../native/addon.ts";
import { addBackendOptions, type BackendOptions, backendCoreOptions } from "../backend.ts";
import { withCore } from "../core.ts";
import { UserError } from "../errors.ts";
import { followRuns } from "../follow.ts";
import { runExitCode } from "./runs.ts";

interface TrainOptions extends BackendOptions {
  out?: string;
  keep: Keep;
  json?: boolean;
}

/** On a CPU, the threads each fold trained on (throughput depends on them); 0: not recorded. */
function threadsOf(summary: Summary): string {
  const n = Math.max(0, ...summary.folds.map((o) => o.threads ?? 0));
  return summary.device === "cpu" && n > 0 ? ` (${n} thread${n === 1 ? "" : "s"} per fold)` : "";
}

/**
 * The summary's lines. Throughput is per fold and the seconds are summed over folds (what each
 * fold computed); folds trained at once share the machine, so the wall time is said beside them.
 */
export function formatSummary(summary: Summary, wallSeconds?: number): string {
  const lines = summary.folds.map(
    (o) =>
      `  fold ${o.fold}: best ${summary.metric} ${formatMetric(o.best_metric)} (step ${o.best_step}, ${o.best_source}), final ${formatMetric(o.final_metrics[summary.metric] ?? Number.NaN)}`,
  );
  return [
    ...lines,
    `${summary.metric}: ${formatMetric(summary.mean)} ± ${formatMetric(summary.std)} (best), ${formatMetric(summary.final_mean)} ± ${formatMetric(summary.final_std)} (final) over ${summary.folds.length} fold(s)`,
    `${summary.train_samples_per_second.toFixed(1)} train samples/s per fold on ${summary.device}${threadsOf(summary)}; ` +
      `folds trained ${summary.seconds.toFixed(0)} s in all${wallSeconds === undefined ? "" : `, ${wallSeconds.toFixed(0)} s wall`}`,
  ].join("\n");
}

/**
 * Trains `config` through the orchestrator with terminal progress, and fails with the first
 * fold that did not complete. `ftune train` and `ftune ablate` both run this.
 */
export async function trainWithProgress(
  core: Core,
  o: { name: string; config: ExperimentConfig; outDir: string; json?: boolean; keep?: Keep; data?: TrainingData },
): Promise<{ experiment: Experiment; summary: Summary; oof: OutOfFold | null; data: TrainingData }> {
  // The caller may have read the data already (to check it before creating anything).
  const data = o.data ?? (await loadExperimentData(o.config)).data;
  const metric = metricOf(o.config);
  const { experiment, runs, summary, plan } = await trainFileExperiment(core, { ...o, data }, (ids) =>
    followRuns(core, ids, { json: o.json, metric }),
  );
  const failed = runs.find((r) => r.status !== "completed");
  if (failed) {
    // A full disk is said in its own one line, whichever fold ran into it.
    if (failed.error?.startsWith("The disk is full")) throw new UserError(failed.error);
    const why = failed.error ? `: ${failed.error}` : "";
    throw new UserError(`fold ${failed.fold} (run ${failed.id}) ${failed.status}${why}`, runExitCode(failed));
  }
  const oof = outOfFold(plan, data, runs, o.config.task === "classification");
  return { experiment, summary, oof, data };
}

/** `oof.csv`: every training row once — its row in the data file (from 0), fold, target, prediction. */
function writeOutOfFold(outDir: string, oof: OutOfFold, labels: string[] | undefined): string {
  const path = join(outDir, "oof.csv");
  const head = labels
    ? ["row", "fold", "target", "prediction", ...labels.map((l) => `logit_${l}`)]
    : ["row", "fold", "target", "prediction"];
  const lines = oof.rows.map((r) => {
    if (!labels) return [r.row, r.fold, r.target, r.output[0]];
    const best = r.output.indexOf(Math.max(...r.output));
    return [r.row, r.fold, labels[r.target], labels[best], ...r.output];
  });
  writeFileSync(path, stringify([head, ...lines]));
  return path;
}

/** Whether `dir` holds a file with something in it, at any depth. */
function holdsData(dir: string): boolean {
  return readdirSync(dir, { withFileTypes: true }).some((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? holdsData(path) : statSync(path).size > 0;
  });
}

/** Removes a folder this command made when the failed run left nothing in it but empty files. */
export function removeIfNothingWritten(dir: string): void {
  try {
    if (!holdsData(dir)) rmSync(dir, { recursive: true, force: true });
  } catch {
    // Best effort: the run's own error is the one to report.
  }
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command("train <config>")
    .description(
      "train an experiment (YAML or JSON config), stored in the data folder like the app's; writes DIR/summary.json and DIR/fold-<k>/{metrics.jsonl,best,final}",
    )
    .option("--out <dir>", "output folder (default: runs/<config name>-<time>)")
    .option("--json", "print JSON event lines instead of progress bars")
    .addOption(
      new Option("--keep <which>", "checkpoints each fold keeps: best, best+final or all")
        .choices(KeepSchema.options)
        .default("best+final"),
    );
  addBackendOptions(cmd).action(async (path: string, o: TrainOptions) => {
    const config = loadConfigFile(path);
    // Read and check the data before anything is created: a bad file leaves nothing behind.
    const { trainRows, data } = await loadExperimentData(config);
    const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
    const name = basename(path).replace(/\.\w+$/, "");
    const out = resolve(o.out ?? `runs/${name}-${stamp}`);
    // The first folder this made (undefined when --out existed): a failure removes it again
    // unless the run wrote something worth keeping (metrics of the steps it got through).
    const coreOptions = backendCoreOptions(o);
    const created = mkdirSync(out, { recursive: true });
    if (!o.json) process.stderr.write(`ftune: training on ${trainRows} rows, writing to ${out}\n`);
    try {
      await withCore(async (core) => {
        const started = performance.now();
        const r = await trainWithProgress(core, { name, config, outDir: out, json: o.json, keep: o.keep, data });
        const wall = (performance.now() - started) / 1000;
        const { experiment, summary, oof } = r;
        // Beside the folds' summed seconds, the command's wall clock: what folds at once save.
        const file = writeSummary(out, config, { ...summary, oof: oof?.metrics ?? null, wall_seconds: wall });
        const oofFile = oof ? writeOutOfFold(out, oof, r.data.labels) : null;
        if (o.json) {
          const line = {
            kind: "summary",
            path: file,
            ...summary,
            oof: oof?.metrics ?? null,
            wall_seconds: wall,
            oofPath: oofFile,
          };
          process.stdout.write(`${JSON.stringify(line)}\n`);
        } else {
          const m = summary.metric;
          const oofLine = oof
            ? `\nout-of-fold ${m} over all ${oof.rows.length} rows: ${oof.metrics[m]?.toFixed(4)} (in ${oofFile})`
            : "";
          process.stderr.write(
            `${formatSummary(summary, wall)}${oofLine}\nftune: summary in ${file}; experiment ${experiment.id} in ${core.dataDir}\n`,
          );
        }
      }, coreOptions);
    } catch (err) {
      if (created) removeIfNothingWritten(created);
      throw err;
    }
  });
}
