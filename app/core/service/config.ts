// Configs as the API receives them: completed from the dataset when one is given, normalized
// by the engine, and checked against the model's structure (layers for re-init and grouped
// LLRD) with the engine's schedule code, so a bad setting fails before anything is queued.

import { type LrSchedule, native, type RunPlan } from "../../native/addon.ts";
import { badRequest } from "../api/errors.ts";
import { MIN_ROWS_PER_FOLD } from "../datasets/import.ts";
import { ConfigError, normalizeConfig } from "../experiments/config-file.ts";
import type { ExperimentConfig } from "../experiments/config-types.ts";
import { configForDataset, datasetLabels, datasetTrainingData } from "../experiments/dataset-data.ts";
import { planRun } from "../runs/orchestrate.ts";
import type { Queryable } from "../store/db.ts";
import type { Dataset } from "../store/types.ts";

/** Normalizes a config (with its data section taken from `dataset`, if given). */
export function normalizeFor(raw: Record<string, unknown>, dataset?: Dataset): ExperimentConfig {
  const full = dataset ? configForDataset(raw, dataset) : raw;
  try {
    return normalizeConfig(full);
  } catch (err) {
    // normalizeConfig throws ConfigError; resolving "bundled" without set-up throws plainly.
    throw err instanceof ConfigError ? err : new ConfigError((err as Error).message);
  }
}

/** Number of outputs the head has: classes for classification, 1 for regression. */
export function numLabels(config: ExperimentConfig, dataset?: Dataset): number {
  if (config.task !== "classification") return 1;
  return (dataset && datasetLabels(dataset)?.length) || 2;
}

/** The engine's LR plan for a config; its errors name the field (as ConfigErrors). */
export function schedulePlan(config: ExperimentConfig, spe: number, labels: number): LrSchedule {
  try {
    return native.LrSchedule.create(JSON.stringify(config), spe, labels);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/** The engine's plan of `config` over the rows of `dataset`: the real folds and their steps. */
export async function datasetPlan(db: Queryable, config: ExperimentConfig, dataset: Dataset): Promise<RunPlan> {
  return planRun(config, await datasetTrainingData(db, dataset, config));
}

/** Checks that `config` can train on `dataset` at all (fold count, group column, model layers). */
export async function checkTrainable(db: Queryable, config: ExperimentConfig, dataset: Dataset): Promise<void> {
  if (config.folds.strategy === "group" && !dataset.mapping.group) {
    throw badRequest(
      `folds.strategy is "group" but dataset "${dataset.name}" has no group column; import it with a group column or use another strategy.`,
    );
  }
  const needed = config.folds.k * MIN_ROWS_PER_FOLD;
  if (dataset.rowCount < needed) {
    throw badRequest(
      `folds.k is ${config.folds.k} but dataset "${dataset.name}" has ${dataset.rowCount} rows; ${config.folds.k} folds need at least ${needed}.`,
    );
  }
  const plan = await datasetPlan(db, config, dataset);
  for (const fold of plan.folds) schedulePlan(config, fold.stepsPerEpoch, numLabels(config, dataset));
}
