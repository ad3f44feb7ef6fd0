// The one path from a config to metrics, whatever starts it (the app's builder, `ftune train`,
// `ftune ablate`, the demo): an experiment in the store, one queued run per fold the engine
// plans, each trained by the RunService in its own worker and recorded through the same sinks
// (the store, and metrics.jsonl in the run's folder); fold outcomes are summarized by the
// engine. Nothing here restates what the engine computes.
import type { Summary } from "../../engine/training.ts";
import { native, type RunPlan, type TrainingData } from "../../native/addon.ts";
import { badRequest } from "../api/errors.ts";
import { ConfigError } from "../experiments/config-file.ts";
import type { ExperimentConfig } from "../experiments/config-types.ts";
import type { Context } from "../service/context.ts";
import type { Queryable } from "../store/db.ts";
import {
  createExperiment,
  createRun,
  type Experiment,
  getExperiment,
  getRun,
  type Run,
} from "../store/repo-experiments.ts";

/** The engine's plan of a config over its rows: fold assignment, per-fold rows and steps. */
export function planRun(config: ExperimentConfig, data: TrainingData): RunPlan {
  try {
    return native.planRun(JSON.stringify(config), data);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
}

/** Stores an experiment that trains on the files its config names (no imported dataset). */
export async function createFileExperiment(db: Queryable, name: string, config: ExperimentConfig): Promise<number> {
  return createExperiment(db, { name, config, dataFiles: true });
}

/**
 * Queues one run per fold (the plan's folds unless `folds` is given), announces them, and
 * returns them. `dir`: the folder the runs write into (fold-<k>/ each), else the data folder's.
 */
export async function queueRuns(
  ctx: Context,
  experiment: Experiment,
  plan: RunPlan,
  options: { folds?: number[]; dir?: string; keep?: string | null } = {},
): Promise<Run[]> {
  const planned = plan.folds.map((f) => f.fold);
  const folds = [...new Set(options.folds ?? planned)];
  const config = experiment.config as ExperimentConfig;
  const possible = config.data.valid ? [0] : Array.from({ length: config.folds.k }, (_, i) => i);
  const bad = folds.filter((f) => !possible.includes(f));
  if (bad.length > 0) {
    throw badRequest(`folds: ${bad.join(", ")} not in this experiment (its folds are ${possible.join(", ")}).`);
  }
  const ids = await ctx.store.transaction(async (tx) => {
    const made: number[] = [];
    for (const fold of folds)
      made.push(await createRun(tx, { experimentId: experiment.id, fold, dir: options.dir, keep: options.keep }));
    return made;
  });
  const runs: Run[] = [];
  for (const id of ids) runs.push((await getRun(ctx.store, id)) as Run);
  for (const run of runs) ctx.events.publish({ type: "run-status", run });
  for (const run of runs) ctx.runs.enqueue(run.id);
  return runs;
}

/** The fold outcome a completed run reported (its summary holds that one fold). */
export function runOutcome(run: Run): Summary["folds"][number] | undefined {
  const summary = run.summary as Summary | null;
  return summary?.folds.find((f) => f.fold === run.fold) ?? summary?.folds[0];
}

/** Completed runs' folds as one experiment summary (mean ± std by the engine), fold order. */
export function summarizeRuns(runs: Run[], metric: string): Summary {
  const done = runs.filter((r) => r.status === "completed");
  const outcomes = done.flatMap((r) => runOutcome(r) ?? []).sort((a, b) => a.fold - b.fold);
  const seconds = outcomes.reduce((s, o) => s + o.train_seconds, 0);
  const device = done.map((r) => r.device).find((d) => d) ?? "cpu";
  return JSON.parse(native.summarizeFolds(metric, JSON.stringify(outcomes), seconds, device)) as Summary;
}

/** The metric a config is scored by: normalized configs name it; older stored ones may not. */
export function metricOf(config: ExperimentConfig): string {
  if (config.eval.metric) return config.eval.metric;
  return (JSON.parse(native.normalizeConfig(JSON.stringify(config))) as ExperimentConfig).eval.metric as string;
}

/** Waits for runs to end (a CLI passes one that also shows progress and handles Ctrl-C). */
export type Follow = (runIds: number[]) => Promise<Run[]>;

/**
 * Trains a config as a stored experiment over the files it names, its runs writing into
 * `outDir` (fold-<k>/ each): what `ftune train` and each row of `ftune ablate` do. Resolves
 * once every run has ended; `summary` is the engine's, over the folds that completed.
 */
export async function trainFileExperiment(
  ctx: Context,
  o: { name: string; config: ExperimentConfig; data: TrainingData; outDir: string; keep?: string },
  follow: Follow = (ids) => Promise.all(ids.map((id) => ctx.runs.waitFor(id))),
): Promise<{ experiment: Experiment; runs: Run[]; summary: Summary; plan: RunPlan }> {
  const plan = planRun(o.config, o.data);
  const id = await createFileExperiment(ctx.store, o.name, o.config);
  const experiment = (await getExperiment(ctx.store, id)) as Experiment;
  const queued = await queueRuns(ctx, experiment, plan, { dir: o.outDir, keep: o.keep ?? null });
  const runs = await follow(queued.map((r) => r.id));
  return { experiment, runs, plan, summary: summarizeRuns(runs, metricOf(o.config)) };
}

/** Out-of-fold predictions: every training row once, predicted by the fold that held it out. */
export interface OutOfFold {
  rows: { row: number; fold: number; target: number; output: number[] }[];
  /** Every metric of the task over all rows at once, scored by the engine. */
  metrics: Record<string, number>;
}

/**
 * The best evaluation's predictions of every fold, put back in row order: null unless every
 * fold of the split completed (a validation file or a partial run has no out-of-fold set).
 */
export function outOfFold(plan: RunPlan, data: TrainingData, runs: Run[], classification: boolean): OutOfFold | null {
  const assignment = plan.assignment;
  if (!assignment) return null;
  const outputs = new Map<number, number[][]>();
  for (const run of runs) {
    const outcome = run.status === "completed" ? runOutcome(run) : undefined;
    if (outcome?.valid_outputs?.length) outputs.set(outcome.fold, outcome.valid_outputs);
  }
  const taken = new Map<number, number>();
  const rows: OutOfFold["rows"] = [];
  for (const [row, fold] of assignment.entries()) {
    const i = taken.get(fold) ?? 0;
    const output = outputs.get(fold)?.[i];
    if (!output) return null;
    taken.set(fold, i + 1);
    rows.push({ row, fold, target: data.targets[row] as number, output });
  }
  const metrics = native.scoreOutputs(
    rows.map((r) => r.output),
    rows.map((r) => r.target),
    classification,
  );
  return { rows, metrics };
}
