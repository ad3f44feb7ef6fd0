// Ready-made configs for the experiment builder: "Basic" fine-tuning, the article's full
// recipe, and one preset per technique. Values follow examples/commonlit-article.yaml (the
// article's recipe scaled to a small encoder). Each preset names every field it means to set
// (null included), so merging it over any config cannot leave a contradiction behind (say,
// both swa.start_epoch and swa.start_step).
import type { Preset } from "../api/contract.ts";
import type { AblationSpec } from "../experiments/ablation.ts";

// Pooling stays the builder's choice: `cls` exports load in transformers'
// AutoModelForSequenceClassification, `mean` in sentence-transformers, `attention` in neither
// (see app/core/export/loading.ts).
// Settings the engine's defaults already hold (epochs, batch sizes, clipping, AdamW's betas,
// eps and weight decay) are not restated: a preset names only what it changes.
const shared = {
  head: { dropout: 0.0 },
  encoder_dropout: 0.0,
  optimizer: { lr: 5e-5 },
};

const llrd = { llrd: { mode: "layerwise", top_lr: 5e-5, decay: 0.9, head_lr: 1e-3 } };
const warmup = { schedule: { name: "cosine", warmup_ratio: 0.06, warmup_steps: null } };
const reinit = { reinit: { top_layers: 1, pooler: false } };
const swa = {
  swa: { start_epoch: 3, start_step: null, lr: 2e-5, anneal_steps: 20, anneal_strategy: "cos", evaluate: "each" },
};
const frequentEval = { eval: { every_steps: 40 } };

/** Three sets of consecutive layers, bottom to top, with rising LRs (every layer covered). */
function groupedSets(layers: number): { layers: string; lr: number }[] {
  const lrs = [2.5e-5, 3.75e-5, 5e-5];
  const sets = Math.min(3, layers);
  return Array.from({ length: sets }, (_, s) => {
    const from = Math.floor((s * layers) / sets);
    const to = Math.floor(((s + 1) * layers) / sets) - 1;
    return { layers: `${from}-${to}`, lr: lrs[lrs.length - sets + s] as number };
  });
}

/**
 * The article's notebook (roberta-base, 12 layers) as closely as the engine runs it, scaled to
 * `layers`: its layer sets 0–3 / 4–7 / 8–11 become thirds, re-init of the top 5 of 12 becomes
 * the same share (rounded down), the LRs stay the article's. See examples/commonlit-article-published.yaml
 * for what differs (validation scored over the fold, not as a mean of batch RMSEs; evaluation
 * every 10 steps from the start, not from the third epoch).
 */
function articlePublished(layers: number): Record<string, unknown> {
  const sets = Math.min(3, layers);
  const lrs = [1e-6, 1.75e-6, 3.5e-6].slice(3 - sets);
  const groups = lrs.map((lr, s) => ({
    layers: `${Math.floor((s * layers) / sets)}-${Math.floor(((s + 1) * layers) / sets) - 1}`,
    lr,
  }));
  return {
    folds: { k: 5, strategy: "stratified", seed: 3377, bins: null },
    head: { pooling: "cls" },
    train: { epochs: 15, batch_size: 16, eval_batch_size: 64, seed: 3377, loss: "rmse", grad_accum: 1 },
    optimizer: { lr: 1e-6, weight_decay: 0.01, betas: [0.9, 0.999], eps: 1e-6, bias_correction: true },
    llrd: { mode: "grouped", head_lr: 3.6e-6, groups },
    schedule: { name: "linear", warmup_steps: 50, warmup_ratio: null },
    reinit: { top_layers: Math.max(1, Math.floor((5 * layers) / 12)), pooler: true },
    // The article validates and keeps checkpoints of the live model only; its average is scored at the end.
    swa: { start_epoch: 4, start_step: null, lr: 2e-6, anneal_steps: 10, anneal_strategy: "cos", evaluate: "last" },
    eval: { every_steps: 10, early_stopping_patience: 50 },
  };
}

/** The presets, grouped LLRD sized for an encoder with `layers` layers. */
export function presets(layers: number): Preset[] {
  return [
    {
      name: "Basic",
      description: "Plain fine-tuning: one learning rate, linear decay without warm-up, evaluation once per epoch.",
      config: {
        ...shared,
        llrd: null,
        schedule: { name: "linear", warmup_steps: null, warmup_ratio: null },
        reinit: { top_layers: 0, pooler: false },
        swa: null,
        eval: { every_steps: null },
      },
    },
    {
      name: "Article: all techniques",
      description:
        "The article's recipe: layer-wise LR decay, cosine schedule with warm-up, the top layer re-initialized, SWA over the last epoch and evaluation every 40 steps.",
      config: { ...shared, ...llrd, ...warmup, ...reinit, ...swa, ...frequentEval },
    },
    {
      name: "Article, as published",
      description: `The article's notebook: grouped LLRD 1e-6 / 1.75e-6 / 3.5e-6 over thirds of the ${layers} layers (head 3.6e-6), 50 linear warm-up steps, re-init of the top ${Math.max(1, Math.floor((5 * layers) / 12))} layers and the pooler, SWA at 2e-6 from epoch 4, evaluation every 10 steps, 15 epochs, early stopping after 50 evaluations; sqrt-MSE loss, batch 16 (the article also used max length 250).`,
      config: articlePublished(layers),
    },
    {
      name: "LLRD",
      description: "Layer-wise LR decay: 5e-5 at the top layer, ×0.9 per layer below it, 1e-3 for the head.",
      config: llrd,
    },
    {
      name: "Grouped LLRD",
      description: `Grouped LR decay: the ${layers} layers in ${Math.min(3, layers)} sets with rising LRs (embeddings with the lowest), 1e-3 for the head.`,
      config: { llrd: { mode: "grouped", head_lr: 1e-3, groups: groupedSets(layers) } },
    },
    {
      name: "Warm-up",
      description: "Cosine schedule with a warm-up over the first 6% of the optimizer steps.",
      config: warmup,
    },
    {
      name: "Re-init",
      description: "Re-initialize the top encoder layer before fine-tuning.",
      config: reinit,
    },
    {
      name: "SWA",
      description: "Stochastic weight averaging from epoch 3 (needs 3 or more epochs), SWALR at 2e-5.",
      config: swa,
    },
    {
      name: "Frequent evaluation",
      description: "Evaluate (and keep the best checkpoint) every 40 optimizer steps instead of once per epoch.",
      config: frequentEval,
    },
  ];
}

/**
 * The article's Table 1 as an ablation over these presets: Basic (or `base`), + LLRD,
 * + warm-up, + re-init, + SWA, + frequent evaluation, then grouped LLRD in place of LLRD.
 */
export function articleAblation(list: Preset[], base?: Record<string, unknown>): AblationSpec {
  const config = (name: string) => list.find((p) => p.name === name)?.config ?? {};
  return {
    base: base ?? config("Basic"),
    experiments: [
      { name: "Basic" },
      { name: "+ LLRD", set: config("LLRD") },
      { name: "+ warm-up", set: config("Warm-up") },
      { name: "+ re-init", set: config("Re-init") },
      { name: "+ SWA", set: config("SWA") },
      { name: "+ frequent evaluation", set: config("Frequent evaluation") },
      { name: "grouped LLRD instead of LLRD", set: config("Grouped LLRD") },
    ],
  };
}
