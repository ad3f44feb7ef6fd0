// Experiment handlers: presets, the LR preview, creating experiments over a dataset and
// queueing their runs (one per fold).

import { native } from "../../native/addon.ts";
import type { ParsedInput, Results } from "../api/contract.ts";
import { badRequest } from "../api/errors.ts";
import { ablationConfigs } from "../experiments/ablation.ts";
import type { ExperimentConfig } from "../experiments/config-types.ts";
import { loadExperimentData } from "../experiments/data.ts";
import { datasetTrainingData } from "../experiments/dataset-data.ts";
import { planRun, queueRuns } from "../runs/orchestrate.ts";
import { getDataset } from "../store/repo-datasets.ts";
import { createExperiment, type Experiment, listExperiments, listRuns, type Run } from "../store/repo-experiments.ts";
import { checkTrainable, datasetPlan, normalizeFor, numLabels, schedulePlan } from "./config.ts";
import { withAllIssues } from "./config-issues.ts";
import { type Context, datasetOr404, experimentOr404 } from "./context.ts";
import { articleAblation, presets } from "./presets.ts";

export function experimentHandlers(ctx: Context) {
  return {
    async presets(input: ParsedInput<"presets">): Promise<Results["presets"]> {
      const layers = input.layers ?? Number((await ctx.models.defaultModel())?.summary.layers);
      return structuredClone(presets(layers || 6));
    },

    async previewSchedule(input: ParsedInput<"previewSchedule">): Promise<Results["previewSchedule"]> {
      if (input.datasetId === undefined && input.stepsPerEpoch === undefined) {
        throw badRequest("Give datasetId or stepsPerEpoch: the schedule depends on the number of steps.");
      }
      const dataset = input.datasetId !== undefined ? await datasetOr404(ctx.store, input.datasetId) : undefined;
      // Every problem of the config at once; then the engine's plan of the real folds (a fixed
      // steps-per-epoch, with no data, is one fold).
      const config = withAllIssues(input.config, (raw) => normalizeFor(raw, dataset));
      const plan = dataset ? await datasetPlan(ctx.store, config, dataset) : undefined;
      const folds = plan?.folds ?? [];
      const shown = input.fold === undefined ? folds[0] : folds.find((f) => f.fold === input.fold);
      if (input.fold !== undefined && plan && !shown) {
        throw badRequest(
          `fold ${input.fold} does not run in this experiment (its folds: ${folds.map((f) => f.fold).join(", ")}).`,
        );
      }
      const spe = input.stepsPerEpoch ?? (shown?.stepsPerEpoch as number);
      const schedule = withAllIssues(input.config, (raw) =>
        schedulePlan(normalizeFor(raw, dataset), spe, numLabels(config, dataset)),
      );
      return {
        groups: schedule
          .groups()
          .map((g) => ({ name: g.name, lr: g.lr, weightDecay: g.weightDecay, params: g.params })),
        curves: schedule.curves(),
        totalSteps: schedule.totalSteps,
        warmupSteps: schedule.warmupSteps,
        swaStartStep: schedule.swaStartStep ?? null,
        stepsPerEpoch: spe,
        fold: input.stepsPerEpoch === undefined ? (shown?.fold ?? 0) : 0,
        folds: input.stepsPerEpoch === undefined ? folds : [],
        warnings: plan?.warnings ?? [],
      };
    },

    async defaultConfig(input: ParsedInput<"defaultConfig">): Promise<Results["defaultConfig"]> {
      return JSON.parse(native.defaultConfig(input.task)) as Record<string, unknown>;
    },

    async createExperiment(input: ParsedInput<"createExperiment">): Promise<Results["createExperiment"]> {
      const dataset = await datasetOr404(ctx.store, input.datasetId);
      const config = withAllIssues(input.config, (raw) => normalizeFor(raw, dataset));
      await checkTrainable(ctx.store, config, dataset);
      const id = await createExperiment(ctx.store, { name: input.name, config, datasetId: dataset.id });
      return experimentOr404(ctx.store, id);
    },

    async startAblation(input: ParsedInput<"startAblation">): Promise<Results["startAblation"]> {
      const dataset = await datasetOr404(ctx.store, input.datasetId);
      // Grouped LLRD's layer sets are sized for the model the rows train.
      const model = input.base ? normalizeFor(input.base, dataset).model : undefined;
      const entry = (await ctx.models.list()).find((m) => m.path === model);
      const layers = entry?.layers || Number((await ctx.models.defaultModel())?.summary.layers) || 6;
      const spec = articleAblation(presets(layers), input.base);
      // Every row is checked before any is stored: a bad row queues nothing.
      const rows = ablationConfigs(spec, input.mode, (raw) => normalizeFor(raw, dataset));
      for (const row of rows) await checkTrainable(ctx.store, row.config, dataset);
      const data = await datasetTrainingData(ctx.store, dataset, rows[0]?.config as ExperimentConfig);
      const experiments: Experiment[] = [];
      const runs: Run[] = [];
      const title = input.mode === "cumulative" ? "Ablation (cumulative)" : "Ablation (one at a time)";
      for (const row of rows) {
        const name = `${title}: ${row.name}`;
        const id = await createExperiment(ctx.store, { name, config: row.config, datasetId: dataset.id });
        const experiment = await experimentOr404(ctx.store, id);
        experiments.push(experiment);
        runs.push(...(await queueRuns(ctx, experiment, planRun(row.config, data))));
      }
      return { experiments, runs };
    },

    listExperiments: async (): Promise<Results["listExperiments"]> => listExperiments(ctx.store),

    async getExperiment(input: ParsedInput<"getExperiment">): Promise<Results["getExperiment"]> {
      const experiment = await experimentOr404(ctx.store, input.id);
      return { ...experiment, runs: await listRuns(ctx.store, input.id) };
    },

    async startRuns(input: ParsedInput<"startRuns">): Promise<Results["startRuns"]> {
      const experiment = await experimentOr404(ctx.store, input.experimentId);
      const config = experiment.config as ExperimentConfig;
      const dataset = experiment.datasetId ? await getDataset(ctx.store, experiment.datasetId) : undefined;
      if (!dataset && !experiment.dataFiles) {
        throw badRequest(`Experiment "${experiment.name}" has no dataset (it was deleted); create a new experiment.`);
      }
      const data = dataset
        ? await datasetTrainingData(ctx.store, dataset, config)
        : (await loadExperimentData(config)).data;
      return queueRuns(ctx, experiment, planRun(config, data), { folds: input.folds, keep: input.keep ?? null });
    },
  };
}
