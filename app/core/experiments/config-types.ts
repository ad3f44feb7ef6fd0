// The experiment config after normalization (every default filled in by the engine). Field
// names are the stable, documented ones users write; see docs/CONFIG.md.
export type Task = "regression" | "classification";

export interface ExperimentConfig {
  model: string;
  task: Task;
  data: {
    train: string;
    valid: string | null;
    text: string;
    text_pair: string | null;
    label: string;
    group: string | null;
    max_length: number;
  };
  folds: {
    k: number;
    strategy: "random" | "stratified" | "group";
    seed: number;
    run: "all" | number[];
    bins: number | null;
  };
  head: { pooling: "cls" | "mean" | "attention"; dropout: number | null };
  encoder_dropout: number | null;
  train: {
    epochs: number;
    batch_size: number;
    eval_batch_size: number;
    grad_accum: number;
    max_grad_norm: number | null;
    seed: number;
    shuffle: boolean;
    precision: "auto" | "fp32" | "bf16";
    loss: "mse" | "rmse" | "huber" | "cross_entropy" | null;
    device: string;
  };
  optimizer: {
    lr: number;
    weight_decay: number;
    betas: [number, number];
    eps: number;
    bias_correction: boolean;
    implementation: "auto" | "fused" | "foreach";
  };
  llrd:
    | null
    | { mode: "layerwise"; top_lr: number; decay: number; head_lr: number }
    | { mode: "grouped"; head_lr: number; groups: { layers: string | number[]; lr: number }[] };
  schedule: { name: "linear" | "cosine" | "constant"; warmup_steps: number | null; warmup_ratio: number | null };
  reinit: { top_layers: number; pooler: boolean };
  swa: null | {
    start_epoch: number | null;
    start_step: number | null;
    lr: number;
    anneal_steps: number;
    anneal_strategy: "cos" | "linear";
    evaluate: "each" | "last";
  };
  eval: {
    every_steps: number | null;
    metric: "rmse" | "mae" | "r2" | "pearson" | "accuracy" | "macro_f1" | "log_loss" | null;
    save_best: boolean;
    early_stopping_patience: number | null;
  };
}
