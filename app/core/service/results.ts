// What finished runs produce: an exported Hugging Face folder, and the article's results
// table comparing experiments (mean ± std of the best metric over folds).
import { existsSync } from "node:fs";
import { native } from "../../native/addon.ts";
import type { CompareRow, ParsedInput, Results } from "../api/contract.ts";
import { badRequest, notFound } from "../api/errors.ts";
import { techniques } from "../experiments/ablation.ts";
import type { ExperimentConfig } from "../experiments/config-types.ts";
import { loadExperimentData } from "../experiments/data.ts";
import { datasetTrainingData } from "../experiments/dataset-data.ts";
import { headNote } from "../export/loading.ts";
import { BUNDLED_MODEL } from "../models/bundled.ts";
import { metricOf, outOfFold, planRun, runOutcome, summarizeRuns } from "../runs/orchestrate.ts";
import { listCheckpoints } from "../store/repo-checkpoints.ts";
import { getDataset } from "../store/repo-datasets.ts";
import { type Experiment, listExperiments, listRuns, type Run } from "../store/repo-experiments.ts";
import { getSweep, type TrialRecordOut, trialExperiments } from "../store/repo-sweeps.ts";
import { type Context, experimentOr404, runOr404 } from "./context.ts";
import { exportCheckpoint } from "./export.ts";
import { exportTarget } from "./export-path.ts";

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

async function compareRow(ctx: Context, experiment: Experiment, trial?: TrialRecordOut): Promise<CompareRow> {
  const config = experiment.config as ExperimentConfig;
  // The latest run of each fold counts (for the status), and its result if it completed.
  const latest = new Map<number, Run>();
  const completed = new Map<number, Run>();
  for (const run of await listRuns(ctx.store, experiment.id)) {
    const seen = latest.get(run.fold);
    if (!seen || run.id > seen.id) latest.set(run.fold, run);
    if (run.status === "completed" && runOutcome(run)) completed.set(run.fold, run);
  }
  const statuses: CompareRow["statuses"] = {};
  for (const run of latest.values()) statuses[run.status] = (statuses[run.status] ?? 0) + 1;
  // The latest completed run of each fold gives its result, summarized by the engine.
  const metric = metricOf(config);
  const summary = summarizeRuns([...completed.values()], metric);
  const some = summary.folds.length > 0;
  const oof =
    summary.folds.length === config.folds.k ? await outOfFoldOf(ctx, experiment, [...completed.values()]) : null;
  const names = [...new Set(summary.folds.flatMap((f) => Object.keys(f.best_metrics)))].sort();
  const metrics = names.map((name) => {
    const values = summary.folds.flatMap((f) =>
      f.best_metrics[name] === undefined ? [] : [{ fold: f.fold, value: f.best_metrics[name] as number }],
    );
    const [mean, std] = native.meanStd(values.map((v) => v.value));
    return {
      name,
      folds: values,
      mean: values.length ? (mean as number) : null,
      std: values.length ? (std as number) : null,
    };
  });
  return {
    experimentId: experiment.id,
    name: experiment.name,
    techniques: techniques(config),
    metric,
    folds: summary.folds.map((f) => ({ fold: f.fold, value: f.best_metric })),
    mean: some ? summary.mean : null,
    std: some ? summary.std : null,
    oof: oof?.metrics[metric] ?? null,
    metrics,
    statuses,
    settings: flattenSettings(config),
    sweepId: trial?.sweepId ?? null,
    trial: trial ? { status: trial.status, evaluations: trial.evaluations, metric: trial.metric } : null,
  };
}

/** The out-of-fold score of an experiment's completed folds, over the rows it trained on. */
async function outOfFoldOf(ctx: Context, experiment: Experiment, runs: Run[]) {
  const config = experiment.config as ExperimentConfig;
  const dataset = experiment.datasetId ? await getDataset(ctx.store, experiment.datasetId) : undefined;
  try {
    const data = dataset
      ? await datasetTrainingData(ctx.store, dataset, config)
      : experiment.dataFiles
        ? (await loadExperimentData(config)).data
        : undefined;
    return data ? outOfFold(planRun(config, data), data, runs, config.task === "classification") : null;
  } catch {
    return null; // the data is gone or changed: the fold scores still stand
  }
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
      const config = experiment.config as ExperimentConfig;
      const cv = await compareRow(ctx, experiment);
      const metric = cv.metric;
      const fmt = (x: number) => x.toFixed(4);
      const facts = () => ({
        title: `${experiment.name}: fold ${run.fold}, ${input.kind} checkpoint`,
        baseModel: config.model === "bundled" ? BUNDLED_MODEL : config.model,
        task: config.task,
        checkpoint: `${input.kind === "best" ? "the best evaluation" : "the end of training (the SWA average when SWA ran)"}, step ${checkpoint.step}${
          checkpoint.metric !== null
            ? `, ${metric} ${fmt(checkpoint.metric)} on fold ${run.fold}'s validation split`
            : ""
        }`,
        cvScore:
          cv.mean === null || cv.std === null
            ? null
            : `${cv.metric} ${fmt(cv.mean)} ± ${fmt(cv.std)} (mean ± std of the best evaluation over ${cv.folds.length} of ${config.folds.k} folds)${cv.oof === null ? "" : `; out-of-fold ${cv.metric} ${fmt(cv.oof)} over every row`}`,
        techniques: techniques(config),
        config,
      });
      const exported = exportCheckpoint(
        checkpoint.path,
        exportTarget(ctx.dataDir, { experimentName: experiment.name, fold: run.fold, kind: input.kind }, input.outDir),
        facts,
        Boolean(config.data.text_pair),
      );
      return { ...exported, note: headNote(exported.head) };
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
      if (input.sweepId !== undefined && !(await getSweep(ctx.store, input.sweepId)))
        throw notFound(`Sweep ${input.sweepId} does not exist`);
      const trials = await trialExperiments(ctx.store);
      let experiments = input.experimentIds
        ? await Promise.all(input.experimentIds.map((id) => experimentOr404(ctx.store, id)))
        : (await listExperiments(ctx.store)).reverse();
      if (input.sweepId !== undefined)
        experiments = experiments.filter((e) => trials.get(e.id)?.sweepId === input.sweepId);
      return Promise.all(experiments.map((e) => compareRow(ctx, e, trials.get(e.id))));
    },
  };
}
