// Run handlers: listing, detail with the live plan and checkpoints, metric points for charts,
// cancel and resume, and what a run trains on (the RunService's loader).
import type { Summary } from "../../engine/training.ts";
import type { MetricPoint, ParsedInput, Results } from "../api/contract.ts";
import type { ExperimentConfig } from "../experiments/config-types.ts";
import { loadExperimentData } from "../experiments/data.ts";
import { datasetTrainingData, foldConfig } from "../experiments/dataset-data.ts";
import type { RunLoader } from "../runs/service.ts";
import type { Queryable } from "../store/db.ts";
import { listCheckpoints } from "../store/repo-checkpoints.ts";
import { getDataset } from "../store/repo-datasets.ts";
import { getExperiment, getRunPlan, listAllRuns, listRuns } from "../store/repo-experiments.ts";
import { lastTrainStep, queryMetrics, swaStarted } from "../store/repo-metrics.ts";
import { type Context, experimentOr404, runOr404 } from "./context.ts";

/** Loads a run's one-fold config and its dataset's rows. */
export function runLoader(db: Queryable): RunLoader {
  return async (run) => {
    const experiment = await getExperiment(db, run.experimentId);
    if (!experiment) throw new Error(`Experiment ${run.experimentId} no longer exists`);
    const config = experiment.config as ExperimentConfig;
    const configJson = JSON.stringify(foldConfig(config, run.fold));
    // Experiments from config files (ftune train / ablate) read the files their config names.
    if (experiment.dataFiles) return { configJson, data: (await loadExperimentData(config)).data };
    const dataset = experiment.datasetId ? await getDataset(db, experiment.datasetId) : undefined;
    if (!dataset) throw new Error(`The dataset of experiment "${experiment.name}" was deleted; this run cannot train.`);
    return { configJson, data: await datasetTrainingData(db, dataset, config) };
  };
}

export function runHandlers(ctx: Context) {
  return {
    async listRuns(input: ParsedInput<"listRuns">): Promise<Results["listRuns"]> {
      if (input.experimentId === undefined) return listAllRuns(ctx.store);
      await experimentOr404(ctx.store, input.experimentId);
      return listRuns(ctx.store, input.experimentId);
    },

    async getRun(input: ParsedInput<"getRun">): Promise<Results["getRun"]> {
      const run = await runOr404(ctx.store, input.id);
      const experiment = await experimentOr404(ctx.store, run.experimentId);
      const plan = await getRunPlan(ctx.store, run.id);
      const checkpoints = await listCheckpoints(ctx.store, run.id);
      const summary = run.summary as Summary | null;
      const outcome = summary?.folds.find((f) => f.fold === run.fold) ?? summary?.folds[0];
      return {
        ...run,
        experimentName: experiment.name,
        groups: plan?.groups ?? [],
        totalSteps: plan?.totalSteps ?? null,
        stepsDone: (await lastTrainStep(ctx.store, run.id)) ?? 0,
        checkpoints: checkpoints.map((c) => ({ kind: c.kind, path: c.path, step: c.step, metric: c.metric })),
        resumable: ctx.runs.hasSavedState(run),
        bestSource: outcome?.best_source ?? null,
        swa: await swaStarted(ctx.store, run.id),
      };
    },

    async runMetrics(input: ParsedInput<"runMetrics">): Promise<Results["runMetrics"]> {
      await runOr404(ctx.store, input.id);
      // Points this process has recorded but not written yet are written first, so the answer
      // and the progress events sent after it together hold every point (no gap in a chart).
      await ctx.runs.flushMetrics(input.id).catch(() => {});
      const points = await queryMetrics(ctx.store, input.id, { afterStep: input.afterStep });
      return points.map((p) => ({ ...p, epoch: p.epoch ?? 0, split: p.split as MetricPoint["split"] }));
    },

    async cancelRun(input: ParsedInput<"cancelRun">): Promise<Results["cancelRun"]> {
      return ctx.runs.cancel(input.id);
    },

    async resumeRun(input: ParsedInput<"resumeRun">): Promise<Results["resumeRun"]> {
      return ctx.runs.resume(input.id);
    },
  };
}
