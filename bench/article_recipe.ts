// The article's recipe (see bench/article_loop.py and ../shared/notes/article-notebook.md) as
// both sides of the article case take it: the loop's request fields, and the engine config
// they mean. One place, so the CPU case (`npm run bench`) and the GPU case (bench/gpu.sh) run
// the same recipe on both sides.

/** Scaled to MiniLM-L6 (6 layers): grouped LLRD over layers 0-1 / 2-3 / 4-5. */
export const articleRecipe = {
  max_length: 256,
  batch_size: 16,
  eval_batch_size: 64,
  epochs: 3,
  seed: 42,
  eps: 1e-6,
  weight_decay: 0.01,
  max_grad_norm: 1.0,
  llrd: {
    mode: "grouped",
    head_lr: 1e-3,
    groups: [
      { layers: "0-1", lr: 5e-5 },
      { layers: "2-3", lr: 7.5e-5 },
      { layers: "4-5", lr: 1e-4 },
    ],
  },
  warmup_steps: 3,
  reinit_top: 2,
  swa_start_epoch: 2, // 0-based, as the article's loop counts: the third epoch
  swa_lr: 2e-5,
  swa_anneal_steps: 10,
  eval_every: 10,
};

export type ArticleRecipe = typeof articleRecipe & { precision?: string; group_by_length?: boolean };

/** The engine config for the recipe: BERT's pooler → Linear (as the article's head), sqrt-MSE,
 * grouped LLRD, linear warm-up, re-init of the top layers and the pooler, SWA scored at the end,
 * evaluation every `eval_every` steps keeping the best. */
export function articleConfig(model: string, a: ArticleRecipe, device = "cpu") {
  return {
    model,
    task: "regression",
    data: { train: "bench", valid: "bench", text: "text", label: "label", max_length: a.max_length },
    head: { pooling: "cls", dropout: 0 },
    train: {
      epochs: a.epochs,
      batch_size: a.batch_size,
      eval_batch_size: a.eval_batch_size,
      max_grad_norm: a.max_grad_norm,
      seed: a.seed,
      device,
      precision: a.precision ?? "fp32",
      group_by_length: a.group_by_length ?? false,
      loss: "rmse",
    },
    optimizer: { weight_decay: a.weight_decay, eps: a.eps },
    llrd: a.llrd,
    schedule: { name: "linear", warmup_steps: a.warmup_steps },
    reinit: { top_layers: a.reinit_top, pooler: true },
    swa: { start_epoch: a.swa_start_epoch + 1, lr: a.swa_lr, anneal_steps: a.swa_anneal_steps, anneal_strategy: "cos", evaluate: "last" },
    eval: { every_steps: a.eval_every, metric: "rmse", save_best: true },
  };
}
