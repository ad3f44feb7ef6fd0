// Generated from native/engine/src by ts-rs (native/engine/src/bindings.rs): do not edit.
// `FTUNE_WRITE_BINDINGS=1 node scripts/test.mjs rust` rewrites it after a change to the Rust types.

/**
 * The training data as the app's `loadExperimentData` builds it (camelCase): what the addon
 * takes, and what job files and ablation plans carry.
 */
export type TrainingData = { texts: Array<string>, pairs?: Array<string>,
/**
 * Regression targets, or class indices into `labels` for classification.
 */
targets: Array<number>,
/**
 * Group of each row, for `folds.strategy: group`.
 */
groups?: Array<string>, validTexts?: Array<string>, validPairs?: Array<string>, validTargets?: Array<number>,
/**
 * Class names in index order (classification).
 */
labels?: Array<string>, };

export type RunPlan = {
/**
 * The fold of every training row (none with a separate validation set).
 */
assignment: Array<number> | null,
/**
 * The folds that run, in order.
 */
folds: Array<FoldPlan>,
/**
 * Settings that are legal but almost certainly not what the user meant.
 */
warnings: Array<string>, };

/**
 * One fold as it will train.
 */
export type FoldPlan = { fold: number, trainRows: number, validRows: number, stepsPerEpoch: number, totalSteps: number, warmupSteps: number,
/**
 * The optimizer step (from 0) at which SWA and SWALR take over.
 */
swaStartStep: number | null, };
