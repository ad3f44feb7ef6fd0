// Generated from native/engine/src by ts-rs (native/engine/src/bindings.rs): do not edit.
// `FTUNE_WRITE_BINDINGS=1 node scripts/test.mjs rust` rewrites it after a change to the Rust types.

export type ExperimentConfig = {
/**
 * Local Hugging Face folder.
 */
model: string, task: Task, data: DataConfig, folds: FoldsConfig, head: HeadConfig,
/**
 * Overrides hidden and attention dropout inside the encoder (e.g. 0 for regression).
 */
encoder_dropout: number | null, train: TrainConfig, optimizer: OptimizerConfig, llrd: Llrd | null, schedule: ScheduleConfig, reinit: ReinitConfig, swa: SwaConfig | null, eval: EvalConfig, };

export type Task = "regression" | "classification";

export type DataConfig = { train: string, valid: string | null, text: string,
/**
 * Second text column, for pair tasks.
 */
text_pair: string | null, label: string,
/**
 * Column for `folds.strategy: group`.
 */
group: string | null, max_length: number, };

export type FoldsConfig = { k: number, strategy: FoldStrategy, seed: number, run: FoldSelection,
/**
 * Target bins for stratified regression splits (default: Sturges' rule).
 */
bins: number | null, };

export type FoldStrategy = "random" | "stratified" | "group";

export type FoldSelection = AllFolds | Array<number>;

export type AllFolds = "all";

export type HeadConfig = { pooling: Pooling,
/**
 * Default: the model's classifier dropout (or hidden dropout).
 */
dropout: number | null, };

export type Pooling = "cls" | "mean" | "attention";

export type TrainConfig = { epochs: number, batch_size: number, eval_batch_size: number, grad_accum: number,
/**
 * Clip the global gradient norm to this; null turns clipping off.
 */
max_grad_norm: number | null, seed: number, shuffle: boolean,
/**
 * Batches of rows of similar length (transformers' `group_by_length`): less padding,
 * faster steps; which rows share a batch changes, so results do too.
 */
group_by_length: boolean, precision: Precision,
/**
 * Default: mse for regression, cross_entropy for classification.
 */
loss: Loss | null,
/**
 * "auto" | "cpu" | "cuda" | "cuda:N".
 */
device: string, };

export type Precision = "auto" | "fp32" | "bf16";

export type Loss = "mse" | "rmse" | "huber" | "cross_entropy";

export type OptimizerConfig = {
/**
 * The single learning rate when LLRD is off.
 */
lr: number, weight_decay: number, betas: [number, number], eps: number,
/**
 * false gives the original BERT optimizer ("BERTAdam", Zhang et al. 2021).
 */
bias_correction: boolean,
/**
 * Which of libtorch's AdamW kernels run the update.
 */
implementation: AdamWImplementation, };

/**
 * torch.optim.AdamW's kernel choice: `fused` (fused=True), `foreach` (foreach=True; the
 * default for-loop's arithmetic), `auto`: fused unless bias correction is off.
 */
export type AdamWImplementation = "auto" | "fused" | "foreach";

export type Llrd = { "mode": "layerwise", top_lr: number, decay: number, head_lr: number, } | { "mode": "grouped", head_lr: number, groups: Array<LayerSet>, };

export type LayerSet = {
/**
 * "0-3", "0,2,4" or a list of layer indices.
 */
layers: LayerSpec, lr: number, };

export type LayerSpec = string | Array<number>;

export type ScheduleConfig = { name: ScheduleName, warmup_steps: number | null,
/**
 * Fraction of all optimizer steps, rounded up as transformers does.
 */
warmup_ratio: number | null, };

export type ScheduleName = "linear" | "cosine" | "constant";

export type ReinitConfig = { top_layers: number, pooler: boolean, };

export type SwaConfig = {
/**
 * First epoch (from 1) whose first optimizer step starts SWA.
 */
start_epoch: number | null,
/**
 * Or the optimizer step (from 0) that starts it.
 */
start_step: number | null, lr: number, anneal_steps: number, anneal_strategy: AnnealStrategy,
/**
 * When the average is scored on the validation rows.
 */
evaluate: SwaEvaluate, };

export type AnnealStrategy = "cos" | "linear";

/**
 * When a run scores the SWA average. Each scoring is a full pass over the validation rows.
 */
export type SwaEvaluate = "each" | "last";

export type EvalConfig = {
/**
 * Validate every this many optimizer steps (and at each epoch's end); null: epochs only.
 */
every_steps: number | null,
/**
 * Default: rmse for regression, accuracy for classification.
 */
metric: Metric | null, save_best: boolean,
/**
 * Stop after this many evaluations without improvement.
 */
early_stopping_patience: number | null, };

export type Metric = "rmse" | "mae" | "r2" | "pearson" | "accuracy" | "macro_f1" | "log_loss";
