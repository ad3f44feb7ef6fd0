// How many optimizer steps an epoch has, as the engine counts them, from a row count.
import type { ExperimentConfig } from "./config-types.ts";

/** Optimizer steps per epoch of a fold. */
export function stepsPerEpoch(trainRows: number, config: ExperimentConfig): number {
  return Math.ceil(Math.ceil(trainRows / config.train.batch_size) / config.train.grad_accum);
}

/** Training rows of one fold: all of data.train with data.valid, else (k−1)/k of it. */
export function foldTrainRows(rows: number, config: ExperimentConfig): number {
  return config.data.valid ? rows : Math.floor((rows * (config.folds.k - 1)) / config.folds.k);
}
