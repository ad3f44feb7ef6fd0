// Ablations: one base recipe plus named variants, each trained over the same folds and
// seeds, summarized as the article's results table (Markdown + JSON) and a chart (SVG).
// Results are written after every experiment, and a rerun skips the ones already done.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parse } from "yaml";

import type { Summary } from "../../engine/training.ts";
import { native } from "../../native/addon.ts";
import { barChartSvg } from "./chart-svg.ts";
import { ConfigError, normalizeConfig } from "./config-file.ts";
import type { ExperimentConfig } from "./config-types.ts";
import { loadExperimentData } from "./data.ts";

/**
 * `cumulative`: each row adds its settings to the row above (the article's Table 1);
 * `one-at-a-time`: each row adds its settings to the base alone.
 */
export type AblationMode = "cumulative" | "one-at-a-time";
export const ABLATION_MODES: readonly AblationMode[] = ["cumulative", "one-at-a-time"];

export interface AblationSpec {
  mode?: AblationMode;
  base: Record<string, unknown>;
  experiments: { name: string; set?: Record<string, unknown> }[];
}

export interface AblationResult {
  name: string;
  techniques: string[];
  summary: Summary;
}

/** A row against the row it builds on, paired over the folds both ran. */
export interface PairedDelta {
  against: string;
  /** This row's best metric minus the other's, per fold both ran. */
  folds: { fold: number; delta: number }[];
  mean: number;
  std: number;
  /** Folds where this row is better (by the metric's direction). */
  better: number;
}

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Deep merge for config overrides: mappings merge, anything else (lists, null) replaces; a
 * mapping whose `mode` changes (LLRD layerwise → grouped) replaces, since their keys differ.
 */
export function mergeConfig(base: Plain, set: Plain): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(set)) {
    const old = base[k];
    const sameKind = isPlain(v) && isPlain(old) && (!("mode" in v) || v.mode === old.mode);
    out[k] = sameKind ? mergeConfig(old as Plain, v as Plain) : v;
  }
  return out;
}

/** The techniques a normalized config uses, in the article's words. */
export function techniques(c: ExperimentConfig): string[] {
  const t: string[] = [];
  if (c.llrd?.mode === "layerwise") t.push(`LLRD (decay ${c.llrd.decay})`);
  if (c.llrd?.mode === "grouped") t.push(`grouped LLRD (${c.llrd.groups.length} sets)`);
  if (c.schedule.warmup_steps || c.schedule.warmup_ratio)
    t.push(`warm-up (${c.schedule.warmup_steps ?? `${c.schedule.warmup_ratio}×`}), ${c.schedule.name}`);
  if (c.reinit.top_layers > 0) t.push(`re-init top ${c.reinit.top_layers}${c.reinit.pooler ? " + pooler" : ""}`);
  if (c.swa) t.push(`SWA (lr ${c.swa.lr})`);
  if (c.eval.every_steps) t.push(`eval every ${c.eval.every_steps} steps`);
  return t.length ? t : ["basic fine-tuning"];
}

export function loadAblation(
  path: string,
  modeOverride?: AblationMode,
): {
  spec: AblationSpec;
  mode: AblationMode;
  configs: { name: string; config: ExperimentConfig }[];
} {
  const spec = parse(readFileSync(path, "utf8")) as AblationSpec;
  if (!isPlain(spec) || !isPlain(spec.base) || !Array.isArray(spec.experiments) || spec.experiments.length === 0) {
    throw new ConfigError(
      `${path}: an ablation needs "base" (an experiment config) and a non-empty "experiments" list`,
    );
  }
  const mode = modeOverride ?? spec.mode ?? "one-at-a-time";
  const baseDir = dirname(resolve(path));
  const configs = ablationConfigs(spec, mode, (raw) => normalizeConfig(raw, baseDir));
  return { spec, mode, configs };
}

/**
 * Every row's config: its settings over the base (one at a time) or over the row above
 * (cumulative), normalized by `normalize`; errors name the row.
 */
export function ablationConfigs(
  spec: AblationSpec,
  mode: AblationMode,
  normalize: (raw: Plain) => ExperimentConfig,
): { name: string; config: ExperimentConfig }[] {
  if (!ABLATION_MODES.includes(mode)) {
    throw new ConfigError(`mode: "${mode}" is not one of ${ABLATION_MODES.join(", ")}`);
  }
  let above: Plain = spec.base;
  return spec.experiments.map((e, i) => {
    if (!e?.name) throw new ConfigError(`experiments[${i}]: every experiment needs a name`);
    const raw = mergeConfig(mode === "cumulative" ? above : spec.base, e.set ?? {});
    above = raw;
    try {
      return { name: e.name, config: normalize(raw) };
    } catch (err) {
      throw new ConfigError(`experiments[${i}] (${e.name}): ${(err as Error).message}`);
    }
  });
}

/**
 * Each row against the row it builds on (the one above when cumulative, the first row when
 * one at a time), paired over the folds both ran: a step helped beyond fold noise when its
 * deltas agree in sign across folds, whatever the spread of the fold scores themselves.
 */
export function pairedDeltas(results: AblationResult[], mode: AblationMode): (PairedDelta | null)[] {
  return results.map((r, i) => {
    const other = mode === "cumulative" ? results[i - 1] : i > 0 ? results[0] : undefined;
    if (!other) return null;
    const theirs = new Map(other.summary.folds.map((f) => [f.fold, f.best_metric]));
    const folds = r.summary.folds
      .filter((f) => theirs.has(f.fold))
      .map((f) => ({ fold: f.fold, delta: f.best_metric - (theirs.get(f.fold) as number) }));
    if (folds.length === 0) return null;
    const [mean, std] = native.meanStd(folds.map((f) => f.delta)) as [number, number];
    const higher = native.metricHigherIsBetter(r.summary.metric);
    const better = folds.filter((f) => (higher ? f.delta > 0 : f.delta < 0)).length;
    return { against: other.name, folds, mean, std, better };
  });
}

/** A metric to 4 places; an undefined one (NaN, or null as JSON brings it back) is "n/a". */
export const formatMetric = (x: number | null) => (x !== null && Number.isFinite(x) ? x.toFixed(4) : "n/a");

const signed = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(4)}` : "n/a");

export function resultsMarkdown(results: AblationResult[], mode: AblationMode = "one-at-a-time"): string {
  const metric = results[0]?.summary.metric ?? "metric";
  const deltas = pairedDeltas(results, mode);
  const against = mode === "cumulative" ? "the row above" : "the first row";
  const head = `| experiment | techniques | ${metric} best (mean ± std) | Δ vs ${against}, paired (mean ± std; folds better) | ${metric} final (mean ± std) | per fold (best) | samples/s per fold | minutes, folds summed |`;
  const rows = results.map((r, i) => {
    const s = r.summary;
    const folds = s.folds.map((f) => `${f.fold}: ${formatMetric(f.best_metric)}`).join(", ");
    const d = deltas[i];
    const delta = d ? `${signed(d.mean)} ± ${formatMetric(d.std)}; ${d.better}/${d.folds.length}` : "—";
    return `| ${r.name} | ${r.techniques.join("; ")} | ${formatMetric(s.mean)} ± ${formatMetric(s.std)} | ${delta} | ${formatMetric(s.final_mean)} ± ${formatMetric(s.final_std)} | ${folds} | ${s.train_samples_per_second.toFixed(1)} | ${(s.seconds / 60).toFixed(1)} |`;
  });
  return [`Mode: ${mode}.`, "", head, "|---|---|---|---|---|---|---|---|", ...rows].join("\n");
}

/** Trains one ablation row (through the orchestrator) with its runs writing into `dir`. */
export type AblationTrainer = (name: string, config: ExperimentConfig, dir: string) => Promise<Summary>;

/** Runs every experiment not yet in `outDir/results.json`; returns all results. */
export async function runAblation(
  path: string,
  outDir: string,
  train: AblationTrainer,
  options: { reportOnly?: boolean; mode?: AblationMode } = {},
): Promise<AblationResult[]> {
  const { configs, mode } = loadAblation(path, options.mode);
  mkdirSync(outDir, { recursive: true });
  const resultsFile = join(outDir, "results.json");
  const done: AblationResult[] = existsSync(resultsFile) ? JSON.parse(readFileSync(resultsFile, "utf8")) : [];
  for (const { name, config } of configs) {
    if (options.reportOnly || done.some((r) => r.name === name)) continue;
    const dir = join(outDir, name.replace(/[^\w.-]+/g, "_"));
    const summary = await train(name, config, dir);
    // Rows that do not ask to keep checkpoints keep only their metrics (an ablation of a base
    // model would otherwise leave two checkpoints per fold and row).
    if (!config.eval.save_best) {
      for (const fold of summary.folds) {
        rmSync(join(dir, `fold-${fold.fold}`, "best"), { recursive: true, force: true });
        rmSync(join(dir, `fold-${fold.fold}`, "final"), { recursive: true, force: true });
      }
    }
    done.push({ name, techniques: techniques(config), summary });
    writeResults(outDir, done, mode);
  }
  // Also when nothing ran: results brought back from `ablate_plan` get their table and chart.
  const results = configs.flatMap(({ name }) => done.filter((r) => r.name === name));
  if (results.length === 0) {
    throw new ConfigError(`${resultsFile} holds no results of the experiments named in ${path}`);
  }
  writeResults(outDir, results, mode);
  return results;
}

/** The file `ablate_plan` (an engine binary, for machines without Node) reads. */
export const PLAN_FILE = "plan.json";

/**
 * Writes the ablation as a plan for `ablate_plan`: every normalized config, with the model
 * as `model` (a folder beside the plan, which the caller fills) and the data inline.
 * Returns the model folder the configs used.
 */
export async function writeAblationPlan(path: string, planDir: string, mode?: AblationMode): Promise<string> {
  const { configs } = loadAblation(path, mode);
  const first = configs[0]?.config as ExperimentConfig;
  for (const { name, config } of configs) {
    if (config.model !== first.model || JSON.stringify(config.data) !== JSON.stringify(first.data))
      throw new ConfigError(`${name}: a plan needs every experiment on the same model and data`);
  }
  const { data } = await loadExperimentData(first);
  const experiments = configs.map(({ name, config }) => ({
    name,
    techniques: techniques(config),
    config: { ...config, model: "model" },
  }));
  mkdirSync(planDir, { recursive: true });
  writeFileSync(join(planDir, PLAN_FILE), JSON.stringify({ data, experiments }));
  return first.model;
}

function writeResults(outDir: string, results: AblationResult[], mode: AblationMode): void {
  writeFileSync(join(outDir, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(outDir, "results.md"), `${resultsMarkdown(results, mode)}\n`);
  const metric = results[0]?.summary.metric ?? "metric";
  const bars = results.map((r) => ({ label: r.name, value: r.summary.mean, error: r.summary.std }));
  writeFileSync(join(outDir, "chart.svg"), barChartSvg(bars, `${metric} (mean ± std over folds, best checkpoint)`));
}
