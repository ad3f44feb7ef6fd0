// What finished runs produce: an exported Hugging Face folder, and the article's results
// table comparing experiments (mean ± std of the best metric over folds).
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { Summary } from "../../engine/training.ts";
import type { CompareRow, ParsedInput, Results } from "../api/contract.ts";
import { badRequest } from "../api/errors.ts";
import { techniques } from "../experiments/ablation.ts";
import type { ExperimentConfig } from "../experiments/config-types.ts";
import { headNote } from "../export/loading.ts";
import { BUNDLED_MODEL } from "../models/bundled.ts";
import { listCheckpoints } from "../store/repo-checkpoints.ts";
import { type Experiment, listExperiments, listRuns } from "../store/repo-experiments.ts";
import { type Context, experimentOr404, runOr404 } from "./context.ts";
import { exportCheckpoint } from "./export.ts";

/** Mean and sample standard deviation (n − 1), as the engine summarizes folds. */
export function meanStd(xs: number[]): { mean: number | null; std: number | null } {
  if (xs.length === 0) return { mean: null, std: null };
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.length > 1 ? xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1) : 0;
  return { mean, std: Math.sqrt(variance) };
}

async function compareRow(ctx: Context, experiment: Experiment): Promise<CompareRow> {
  const config = experiment.config as ExperimentConfig;
  // The latest completed run of each fold counts.
  const byFold = new Map<number, { fold: number; value: number; metric: string }>();
  for (const run of await listRuns(ctx.store, experiment.id)) {
    const summary = run.summary as Summary | null;
    const outcome = summary?.folds.find((f) => f.fold === run.fold) ?? summary?.folds[0];
    if (run.status !== "completed" || !summary || !outcome) continue;
    byFold.set(run.fold, { fold: run.fold, value: outcome.best_metric, metric: summary.metric });
  }
  const folds = [...byFold.values()].sort((a, b) => a.fold - b.fold);
  const metric = folds[0]?.metric ?? config.eval?.metric ?? (config.task === "classification" ? "accuracy" : "rmse");
  return {
    experimentId: experiment.id,
    name: experiment.name,
    techniques: techniques(config),
    metric,
    folds: folds.map(({ fold, value }) => ({ fold, value })),
    ...meanStd(folds.map((f) => f.value)),
  };
}

export function resultHandlers(ctx: Context) {
  return {
    async exportRun(input: ParsedInput<"exportRun">): Promise<Results["exportRun"]> {
      const run = await runOr404(ctx.store, input.id);
      const checkpoint = (await listCheckpoints(ctx.store, run.id)).find((c) => c.kind === input.kind);
      if (!checkpoint || !existsSync(checkpoint.path)) {
        const other = input.kind === "best" ? "final" : "best";
        throw badRequest(
          `Run ${run.id} has no ${input.kind} checkpoint${run.status === "completed" ? "" : ` (it is ${run.status})`}; try kind "${other}".`,
        );
      }
      const experiment = await experimentOr404(ctx.store, run.experimentId);
      const config = experiment.config as ExperimentConfig;
      const cv = await compareRow(ctx, experiment);
      const metric = (run.summary as Summary | null)?.metric ?? cv.metric;
      const fmt = (x: number) => x.toFixed(4);
      const facts = () => ({
        title: `${experiment.name}: fold ${run.fold}, ${input.kind} checkpoint`,
        baseModel: config.model === "bundled" ? BUNDLED_MODEL : config.model,
        task: config.task,
        checkpoint: `${input.kind === "best" ? "the best evaluation" : "the end of training (the SWA average when SWA ran)"}, step ${checkpoint.step}${
          checkpoint.metric !== null
            ? `, ${metric} ${fmt(checkpoint.metric)} on fold ${run.fold}'s validation split`
            : ""
        }`,
        cvScore:
          cv.mean === null || cv.std === null
            ? null
            : `${cv.metric} ${fmt(cv.mean)} ± ${fmt(cv.std)} (mean ± std of the best evaluation over ${cv.folds.length} of ${config.folds.k} folds)`,
        techniques: techniques(config),
        config,
      });
      const exported = exportCheckpoint(checkpoint.path, resolve(input.outDir), facts, Boolean(config.data.text_pair));
      return { ...exported, note: headNote(exported.head) };
    },

    async compare(input: ParsedInput<"compare">): Promise<Results["compare"]> {
      const experiments = input.experimentIds
        ? await Promise.all(input.experimentIds.map((id) => experimentOr404(ctx.store, id)))
        : (await listExperiments(ctx.store)).reverse();
      return Promise.all(experiments.map((e) => compareRow(ctx, e)));
    },
  };
}
