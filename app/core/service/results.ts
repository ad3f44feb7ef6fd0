// What finished runs produce: an exported Hugging Face folder, and the article's results
// table comparing experiments (mean ± std of the best metric over folds).
import { cpSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import type { Summary } from "../../engine/training.ts";
import type { CompareRow, ParsedInput, Results } from "../api/contract.ts";
import { badRequest } from "../api/errors.ts";
import { techniques } from "../experiments/ablation.ts";
import type { ExperimentConfig } from "../experiments/config-types.ts";
import { listCheckpoints } from "../store/repo-checkpoints.ts";
import { type Experiment, listExperiments, listRuns, type Run } from "../store/repo-experiments.ts";
import { type Context, experimentOr404, runOr404 } from "./context.ts";
import { exportTarget } from "./export-path.ts";

/** The two lines of Python that load an exported folder. */
export function pythonLoader(dir: string): string {
  const path = JSON.stringify(dir);
  return [
    "from transformers import AutoModelForSequenceClassification, AutoTokenizer",
    `model = AutoModelForSequenceClassification.from_pretrained(${path}); tokenizer = AutoTokenizer.from_pretrained(${path})`,
  ].join("\n");
}

/** Mean and sample standard deviation (n − 1), as the engine summarizes folds. */
export function meanStd(xs: number[]): { mean: number | null; std: number | null } {
  if (xs.length === 0) return { mean: null, std: null };
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.length > 1 ? xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1) : 0;
  return { mean, std: Math.sqrt(variance) };
}

/** A config as dotted paths to plain values ("llrd.decay" → 0.9), for showing what differs. */
export function flattenSettings(value: unknown, prefix = "", out: CompareRow["settings"] = {}): CompareRow["settings"] {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0 && prefix) out[prefix] = null;
    for (const [key, v] of entries) flattenSettings(v, prefix ? `${prefix}.${key}` : key, out);
  } else if (Array.isArray(value)) {
    out[prefix] = JSON.stringify(value);
  } else if (value === null || ["string", "number", "boolean"].includes(typeof value)) {
    out[prefix] = value as string | number | boolean | null;
  }
  return out;
}

async function compareRow(ctx: Context, experiment: Experiment): Promise<CompareRow> {
  const config = experiment.config as ExperimentConfig;
  // The latest run of each fold counts (for the status), and its result if it completed.
  const latest = new Map<number, Run>();
  for (const run of await listRuns(ctx.store, experiment.id)) {
    const seen = latest.get(run.fold);
    if (!seen || run.id > seen.id) latest.set(run.fold, run);
  }
  const statuses: CompareRow["statuses"] = {};
  for (const run of latest.values()) statuses[run.status] = (statuses[run.status] ?? 0) + 1;
  // The latest completed run of each fold gives its result.
  const byFold = new Map<number, { fold: number; value: number; metric: string; metrics: Record<string, number> }>();
  for (const run of await listRuns(ctx.store, experiment.id)) {
    const summary = run.summary as Summary | null;
    const outcome = summary?.folds.find((f) => f.fold === run.fold) ?? summary?.folds[0];
    if (run.status !== "completed" || !summary || !outcome) continue;
    byFold.set(run.fold, {
      fold: run.fold,
      value: outcome.best_metric,
      metric: summary.metric,
      metrics: outcome.best_metrics ?? {},
    });
  }
  const folds = [...byFold.values()].sort((a, b) => a.fold - b.fold);
  const metric = folds[0]?.metric ?? config.eval?.metric ?? (config.task === "classification" ? "accuracy" : "rmse");
  const names = [...new Set(folds.flatMap((f) => Object.keys(f.metrics)))].sort();
  const metrics = names.map((name) => {
    const values = folds.flatMap((f) =>
      f.metrics[name] === undefined ? [] : [{ fold: f.fold, value: f.metrics[name] as number }],
    );
    return { name, folds: values, ...meanStd(values.map((v) => v.value)) };
  });
  return {
    experimentId: experiment.id,
    name: experiment.name,
    techniques: techniques(config),
    metric,
    folds: folds.map(({ fold, value }) => ({ fold, value })),
    ...meanStd(folds.map((f) => f.value)),
    metrics,
    statuses,
    settings: flattenSettings(config),
  };
}

export function resultHandlers(ctx: Context) {
  return {
    async exportRun(input: ParsedInput<"exportRun">): Promise<Results["exportRun"]> {
      const run = await runOr404(ctx.store, input.id);
      const checkpoint = (await listCheckpoints(ctx.store, run.id)).find((c) => c.kind === input.kind);
      if (!checkpoint || !existsSync(checkpoint.path)) {
        const other = input.kind === "best" ? "final" : "best";
        throw badRequest(
          `Run ${run.id} has no ${input.kind} checkpoint${run.status === "completed" ? "" : ` (it is ${run.status})`}; try kind "${other}".`,
        );
      }
      const experiment = await experimentOr404(ctx.store, run.experimentId);
      const out = exportTarget(
        ctx.dataDir,
        { experimentName: experiment.name, fold: run.fold, kind: input.kind },
        input.outDir,
      );
      if (existsSync(out) && readdirSync(out).length > 0) {
        throw badRequest(`outDir ${out} is not empty; choose a new or empty folder.`);
      }
      mkdirSync(out, { recursive: true });
      cpSync(checkpoint.path, out, { recursive: true });
      return { path: out, python: pythonLoader(out) };
    },

    async exportTarget(input: ParsedInput<"exportTarget">): Promise<Results["exportTarget"]> {
      const run = await runOr404(ctx.store, input.id);
      const experiment = await experimentOr404(ctx.store, run.experimentId);
      return {
        path: exportTarget(
          ctx.dataDir,
          { experimentName: experiment.name, fold: run.fold, kind: input.kind },
          input.outDir,
        ),
      };
    },

    async compare(input: ParsedInput<"compare">): Promise<Results["compare"]> {
      const experiments = input.experimentIds
        ? await Promise.all(input.experimentIds.map((id) => experimentOr404(ctx.store, id)))
        : (await listExperiments(ctx.store)).reverse();
      return Promise.all(experiments.map((e) => compareRow(ctx, e)));
    },
  };
}
