// Experiment handlers: presets, the LR preview, creating experiments over a dataset and
// queueing their runs (one per fold).
import type { ParsedInput, Results } from "../api/contract.ts";
import { badRequest } from "../api/errors.ts";
import type { ExperimentConfig } from "../experiments/config-types.ts";
import { experimentFolds } from "../experiments/dataset-data.ts";
import { createExperiment, createRun, getRun, listExperiments, listRuns, type Run } from "../store/repo-experiments.ts";
import type { Dataset } from "../store/types.ts";
import { checkTrainable, datasetStepsPerEpoch, normalizeFor, numLabels, schedulePlan } from "./config.ts";
import { withAllIssues } from "./config-issues.ts";
import { type Context, datasetOr404, experimentOr404 } from "./context.ts";
import { presets } from "./presets.ts";

export function experimentHandlers(ctx: Context) {
  return {
    async presets(): Promise<Results["presets"]> {
      const model = await ctx.models.defaultModel();
      return structuredClone(presets(Number(model?.summary.layers) || 6));
    },

    async previewSchedule(input: ParsedInput<"previewSchedule">): Promise<Results["previewSchedule"]> {
      if (input.datasetId === undefined && input.stepsPerEpoch === undefined) {
        throw badRequest("Give datasetId or stepsPerEpoch: the schedule depends on the number of steps.");
      }
      const dataset = input.datasetId !== undefined ? await datasetOr404(ctx.store, input.datasetId) : undefined;
      const { spe, plan } = withAllIssues(input.config, (raw) => {
        const config = normalizeFor(raw, dataset);
        const spe = input.stepsPerEpoch ?? datasetStepsPerEpoch(config, dataset as Dataset);
        return { spe, plan: schedulePlan(config, spe, numLabels(config, dataset)) };
      });
      return {
        groups: plan.groups().map((g) => ({ name: g.name, lr: g.lr, weightDecay: g.weightDecay, params: g.params })),
        curves: plan.curves(),
        totalSteps: plan.totalSteps,
        warmupSteps: plan.warmupSteps,
        swaStartStep: plan.swaStartStep ?? null,
        stepsPerEpoch: spe,
      };
    },

    async createExperiment(input: ParsedInput<"createExperiment">): Promise<Results["createExperiment"]> {
      const dataset = await datasetOr404(ctx.store, input.datasetId);
      const config = withAllIssues(input.config, (raw) => {
        const config = normalizeFor(raw, dataset);
        checkTrainable(config, dataset);
        return config;
      });
      const id = await createExperiment(ctx.store, { name: input.name, config, datasetId: dataset.id });
      return experimentOr404(ctx.store, id);
    },

    listExperiments: async (): Promise<Results["listExperiments"]> => listExperiments(ctx.store),

    async getExperiment(input: ParsedInput<"getExperiment">): Promise<Results["getExperiment"]> {
      const experiment = await experimentOr404(ctx.store, input.id);
      return { ...experiment, runs: await listRuns(ctx.store, input.id) };
    },

    async startRuns(input: ParsedInput<"startRuns">): Promise<Results["startRuns"]> {
      const experiment = await experimentOr404(ctx.store, input.experimentId);
      if (experiment.datasetId === null || experiment.datasetId === undefined) {
        throw badRequest(`Experiment "${experiment.name}" has no dataset (it was deleted); create a new experiment.`);
      }
      const config = experiment.config as ExperimentConfig;
      const possible = config.data.valid ? [0] : Array.from({ length: config.folds.k }, (_, i) => i);
      const folds = [...new Set(input.folds ?? experimentFolds(config))];
      const bad = folds.filter((f) => !possible.includes(f));
      if (bad.length > 0) {
        throw badRequest(`folds: ${bad.join(", ")} not in this experiment (its folds are ${possible.join(", ")}).`);
      }
      const ids = await ctx.store.transaction(async (tx) => {
        const made: number[] = [];
        for (const fold of folds) {
          made.push(await createRun(tx, { experimentId: experiment.id, fold, keep: input.keep ?? null }));
        }
        return made;
      });
      const runs: Run[] = [];
      for (const id of ids) runs.push((await getRun(ctx.store, id)) as Run);
      for (const run of runs) ctx.events.publish({ type: "run-status", run });
      for (const run of runs) ctx.runs.enqueue(run.id);
      return runs;
    },
  };
}
