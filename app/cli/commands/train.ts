// ftune train: run an experiment config (K folds or a validation file), write checkpoints,
// per-fold metrics.jsonl and summary.json, and print the result.
import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";

import { diskFullMessage } from "../../core/disk-full.ts";
import { loadConfigFile } from "../../core/experiments/config-file.ts";
import { loadExperimentData } from "../../core/experiments/data.ts";
import { metricsWriter, writeSummary } from "../../core/experiments/run-files.ts";
import { type Summary, startExperiment } from "../../engine/training.ts";
import { UserError } from "../errors.ts";
import { humanProgress, jsonLines } from "../progress.ts";

interface TrainOptions {
  out?: string;
  json?: boolean;
}

export function formatSummary(summary: Summary): string {
  const f = (x: number) => x.toFixed(4);
  const lines = summary.folds.map(
    (o) =>
      `  fold ${o.fold}: best ${summary.metric} ${f(o.best_metric)} (step ${o.best_step}, ${o.best_source}), final ${f(o.final_metrics[summary.metric] ?? Number.NaN)}`,
  );
  return [
    ...lines,
    `${summary.metric}: ${f(summary.mean)} ± ${f(summary.std)} (best), ${f(summary.final_mean)} ± ${f(summary.final_std)} (final) over ${summary.folds.length} fold(s)`,
    `${summary.train_samples_per_second.toFixed(1)} train samples/s on ${summary.device}, ${summary.seconds.toFixed(0)} s`,
  ].join("\n");
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
  program
    .command("train <config>")
    .description(
      "train an experiment (YAML or JSON config); writes DIR/summary.json and DIR/fold-<k>/{metrics.jsonl,best,final}",
    )
    .option("--out <dir>", "output folder (default: runs/<config name>-<time>)")
    .option("--json", "print JSON event lines instead of progress bars")
    .action(async (path: string, o: TrainOptions) => {
      const config = loadConfigFile(path);
      const { data, trainRows } = await loadExperimentData(config);
      const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
      const out = resolve(o.out ?? `runs/${path.replace(/^.*\//, "").replace(/\.\w+$/, "")}-${stamp}`);
      // The first folder this made (undefined when --out existed): a failure removes it again
      // unless the run wrote something worth keeping (metrics of the steps it got through).
      const created = mkdirSync(out, { recursive: true });
      const reporter = o.json
        ? jsonLines()
        : humanProgress(config.eval.metric ?? (config.task === "regression" ? "rmse" : "accuracy"));
      const record = metricsWriter(out);
      if (!o.json) process.stderr.write(`ftune: training on ${trainRows} rows, writing to ${out}\n`);
      // A metrics file that cannot be written (a full disk) stops the run with that error.
      let recordError: unknown;
      let run: ReturnType<typeof startExperiment> | undefined;
      const stop = () => run?.cancel();
      process.once("SIGINT", stop);
      try {
        run = startExperiment(JSON.stringify(config), data, out, (e) => {
          try {
            if (recordError === undefined) record(e);
          } catch (err) {
            const full = diskFullMessage(err, `writing the metrics in ${out}`);
            recordError = full ? new UserError(full) : err;
            run?.cancel();
          }
          reporter.event(e);
        });
        const summary = await run.done.catch((err: unknown) => {
          throw recordError ?? err;
        });
        if (recordError !== undefined) throw recordError;
        const file = writeSummary(out, config, summary);
        if (o.json) process.stdout.write(`${JSON.stringify({ kind: "summary", path: file, ...summary })}\n`);
        else process.stderr.write(`${formatSummary(summary)}\nftune: summary in ${file}\n`);
      } catch (err) {
        if (created) removeIfNothingWritten(created);
        throw err;
      } finally {
        reporter.stop();
        process.off("SIGINT", stop);
      }
    });
}
