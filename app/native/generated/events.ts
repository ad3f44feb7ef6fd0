// Generated from native/engine/src by ts-rs (native/engine/src/bindings.rs): do not edit.
// `FTUNE_WRITE_BINDINGS=1 node scripts/test.mjs rust` rewrites it after a change to the Rust types.

/**
 * One event of a run. `step` counts optimizer steps completed; `epoch` counts from 1.
 */
export type TrainEvent =
  | { "kind": "fold_start", fold: number, totalSteps: number, stepsPerEpoch: number, warmupSteps: number,
/**
 * The first optimizer step of the SWA phase (counting from 0), if SWA runs.
 */
swaStartStep: number | null,
/**
 * Parameter group names; step events' `lrs` follow this order.
 */
groups: Array<string>, }
  | { "kind": "resume", fold: number, step: number, epoch: number, }
  | { "kind": "step", fold: number, step: number, epoch: number,
/**
 * Mean training loss over the rows of this optimizer step.
 */
loss: number,
/**
 * Gradient norm before clipping (when `train.max_grad_norm` is set).
 */
gradNorm: number | null,
/**
 * The LR each group ran this step at.
 */
lrs: Array<number>, }
  | { "kind": "eval", fold: number, step: number, epoch: number,
/**
 * Every metric of the task, for the live model.
 */
metrics: { [key in string]: number },
/**
 * While SWA is active: the same metrics for the averaged model.
 */
swaMetrics: { [key in string]: number } | null,
/**
 * This evaluation is the best so far (of the live model or the average): the one
 * `best/` will hold.
 */
isBest: boolean,
/**
 * The config's metric at the best evaluation so far, and its step.
 */
bestMetric: number, bestStep: number, }
  | { "kind": "swa_start", fold: number, step: number, epoch: number, }
  | { "kind": "checkpoint", fold: number, step: number, path: string, which: CheckpointName, }
  | { "kind": "warning", fold: number, step: number, epoch: number, message: string, }
  | { "kind": "done", summary: Summary, }
  | { "kind": "error", message: string, cancelled: boolean, };

/**
 * An event as the addon delivers it: stamped when the engine emitted it, so that a consumer
 * can measure delivery latency.
 */
export type TimedEvent = {
/**
 * Milliseconds since the Unix epoch.
 */
emittedAtMs: number, } & TrainEvent;

/**
 * Which of a fold's two model folders.
 */
export type CheckpointName = "best" | "final";

export type Summary = { metric: string, folds: Array<FoldOutcome>,
/**
 * Mean and (sample) standard deviation of the best metric over the folds run.
 */
mean: number, std: number,
/**
 * The same for the final model (the SWA average when SWA ran).
 */
final_mean: number, final_std: number,
/**
 * The folds' mean training throughput (each fold's own samples/s).
 */
train_samples_per_second: number,
/**
 * Training time summed over the folds; more than the wall time when folds trained at once.
 */
seconds: number, device: string, };

export type FoldOutcome = { fold: number,
/**
 * The config's metric at its best evaluation, and where that was.
 */
best_metric: number, best_step: number, best_source: BestSource, best_metrics: { [key in string]: number },
/**
 * Metrics of the final model (the SWA average when SWA ran).
 */
final_metrics: { [key in string]: number }, steps: number, epochs: number, stopped_early: boolean,
/**
 * Wall time of the loop, evaluations included.
 */
train_seconds: number,
/**
 * Time spent evaluating (live model and SWA average).
 */
eval_seconds: number,
/**
 * Training throughput, evaluation time excluded.
 */
train_samples_per_second: number, best_dir: string | null, final_dir: string | null,
/**
 * Variables the run re-initialized (top layers / pooler).
 */
reinitialized: number, precision: ComputePrecision,
/**
 * The best evaluation's outputs (a value per label) for each validation row, in the
 * fold's row order: out-of-fold predictions. Empty in outcomes written before they were.
 */
valid_outputs: Array<Array<number>>,
/**
 * Passes over the validation rows (live model and SWA average counted apart; the final
 * model's score reuses the last evaluation when it was at the last step).
 */
evaluations: number,
/**
 * libtorch's CPU threads in the process that trained the fold (folds trained at once
 * split the cores; throughput on a CPU depends on it). 0 in outcomes written before.
 */
threads: number, };

/**
 * Which model gave an evaluation: the one training, or the SWA average.
 */
export type BestSource = "live" | "swa";

/**
 * How a run computed: bf16 autocast on CUDA or the CPU (fp32 master weights), or fp32.
 */
export type ComputePrecision = "bf16" | "fp32";
