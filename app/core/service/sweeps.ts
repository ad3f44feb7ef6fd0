// Sweeps from the app: start one over an experiment's config (or a config over a dataset), list
// them with their trials, cancel, and train the best config as a K-fold experiment. Each runs
// in the background on Ray Tune (runs/ray/sweep.ts); a sweep the app was running when it
// stopped (closed, or killed) continues when the app opens again, from Tune's saved state.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

import { foldJobBinary, rayStamp, venvPython } from "../../../scripts/env.mjs";
import { native, type TrainingData } from "../../native/addon.ts";
import type { ParsedInput, Results, SweepInfo, SweepTrialInfo } from "../api/contract.ts";
import { badRequest, notFound } from "../api/errors.ts";
import { mergeConfig } from "../experiments/ablation.ts";
import { normalizeConfig } from "../experiments/config-file.ts";
import type { ExperimentConfig } from "../experiments/config-types.ts";
import { loadExperimentData } from "../experiments/data.ts";
import { datasetTrainingData } from "../experiments/dataset-data.ts";
import { planRun, queueRuns } from "../runs/orchestrate.ts";
import { RayError } from "../runs/ray/bridge.ts";
import { checkSpace, checkSweepShape, runSweep, SweepCancelled, type SweepSpec } from "../runs/ray/sweep.ts";
import { getDataset } from "../store/repo-datasets.ts";
import { createExperiment, listRuns } from "../store/repo-experiments.ts";
import {
  finishSweep,
  getSweep,
  listSweeps,
  listTrials,
  type SweepRecordOut,
  sweepForFolder,
  sweepsWithStatus,
} from "../store/repo-sweeps.ts";
import type { Dataset } from "../store/types.ts";
import { checkTrainable, normalizeFor } from "./config.ts";
import type { Context } from "./context.ts";
import { experimentOr404 } from "./context.ts";

/** Where sweeps run: the Python with Ray Tune, the engine's fold_job binary, a cluster or a local Ray. */
export interface SweepRuntime {
  python: string;
  binary: string;
  address?: string;
  /** The stamp the set-up's `--ray` step writes once Ray and Optuna are installed. */
  stamp: string;
}

export const defaultSweepRuntime = (address?: string): SweepRuntime => ({
  python: venvPython,
  binary: foldJobBinary(),
  address: address ?? process.env.FTUNE_RAY_ADDRESS,
  stamp: rayStamp(),
});

/** What a stored sweep needs to run again: its spec and where its rows come from. */
type StoredSpec = SweepSpec & { metric: string; mode: "min" | "max" };

export class SweepService {
  readonly #ctx: Context;
  readonly #rt: SweepRuntime;
  readonly #active = new Map<number, { stop: AbortController; done: Promise<void> }>();

  constructor(ctx: Context, runtime: SweepRuntime) {
    this.#ctx = ctx;
    this.#rt = runtime;
  }

  #rayProblem(): string | null {
    if (existsSync(this.#rt.stamp) && existsSync(this.#rt.binary)) return null;
    return "Sweeps run on Ray Tune, which is not installed here yet: start the app with `ftune serve --backend ray` once (it installs Ray on first use), or run `ftune sweep`, then start the sweep again.";
  }

  async start(input: ParsedInput<"startSweep">): Promise<SweepInfo> {
    const ctx = this.#ctx;
    let raw: Record<string, unknown>;
    let dataset: Dataset | undefined;
    let name = input.name;
    if (input.experimentId !== undefined) {
      const experiment = await experimentOr404(ctx.store, input.experimentId);
      raw = experiment.config as Record<string, unknown>;
      dataset = experiment.datasetId ? await getDataset(ctx.store, experiment.datasetId) : undefined;
      if (!dataset && !experiment.dataFiles)
        throw badRequest(`Experiment "${experiment.name}" has no dataset (it was deleted); pick another experiment.`);
      name ??= `Sweep of ${experiment.name}`;
    } else {
      dataset = await getDataset(ctx.store, input.datasetId as number);
      if (!dataset) throw notFound(`Dataset ${input.datasetId} does not exist`);
      raw = input.config as Record<string, unknown>;
    }
    const normalize = (c: Record<string, unknown>) => (dataset ? normalizeFor(c, dataset) : normalizeConfig(c));
    const base = normalize(raw);
    if (dataset) await checkTrainable(ctx.store, base, dataset);
    if (input.fold >= base.folds.k)
      throw badRequest(`fold ${input.fold} is not a fold of this config (folds.k is ${base.folds.k}).`);
    const metric = input.metric ?? (base.eval.metric as string);
    // The engine knows which metrics a task reports: an unknown one fails here, named.
    if (input.metric !== undefined) normalize(mergeConfig(base as never, { eval: { metric } }));
    const spec: SweepSpec = {
      base: base as unknown as Record<string, unknown>,
      space: input.space as SweepSpec["space"],
      metric,
      mode: input.mode ?? (native.metricHigherIsBetter(metric) ? "max" : "min"),
      trials: input.trials,
      concurrency: input.concurrency,
      grace_period: input.gracePeriod,
      fold: input.fold,
      seed: input.seed,
    };
    checkSweepShape(spec);
    checkSpace(spec, base, normalize);
    const problem = this.#rayProblem();
    if (problem) throw badRequest(problem);
    const slug = (name ?? "sweep").replace(/[^\w.-]+/g, "-").slice(0, 60);
    const outDir = join(ctx.dataDir, "sweeps", `${Date.now()}-${slug}`);
    const row = await sweepForFolder(ctx.store, { name: name ?? "Sweep", spec, outDir, datasetId: dataset?.id });
    this.#launch(row);
    ctx.events.publish({ type: "sweep", sweepId: row.id });
    return this.#info(row);
  }

  /** Runs a stored sweep in the background (a new one, or one to resume). */
  #launch(row: SweepRecordOut): void {
    const stop = new AbortController();
    const done = (async () => {
      const spec = row.spec as unknown as StoredSpec;
      const base = spec.base as unknown as ExperimentConfig;
      const data = await this.#data(row, base);
      await runSweep(this.#ctx, {
        sweepId: row.id,
        name: row.name,
        spec,
        base,
        data,
        datasetId: row.datasetId,
        outDir: row.outDir,
        python: this.#rt.python,
        binary: this.#rt.binary,
        address: this.#rt.address,
        signal: stop.signal,
      });
    })()
      .catch(async (err) => {
        if (err instanceof SweepCancelled) return;
        // runSweep records its own failures; this is one before it started (the data is gone).
        const message = err instanceof RayError ? `Ray: ${err.message}` : (err as Error).message;
        await finishSweep(this.#ctx.store, row.id, "failed", { error: message }).catch(() => {});
        this.#ctx.events.publish({ type: "sweep", sweepId: row.id });
      })
      .finally(() => this.#active.delete(row.id));
    this.#active.set(row.id, { stop, done });
  }

  async #data(row: SweepRecordOut, base: ExperimentConfig): Promise<TrainingData> {
    if (row.datasetId === null) return (await loadExperimentData(base)).data;
    const dataset = await getDataset(this.#ctx.store, row.datasetId);
    if (!dataset) throw new Error(`The dataset of sweep "${row.name}" was deleted; it cannot continue.`);
    return datasetTrainingData(this.#ctx.store, dataset, base);
  }

  /** At start-up: sweeps this app was running when it stopped continue (Tune restores them). */
  async recover(): Promise<void> {
    const left = [
      ...(await sweepsWithStatus(this.#ctx.store, "running")),
      ...(await sweepsWithStatus(this.#ctx.store, "interrupted")),
    ];
    if (left.length === 0) return;
    const problem = this.#rayProblem();
    for (const row of left) {
      if (problem) {
        await finishSweep(this.#ctx.store, row.id, "interrupted", { error: problem });
        continue;
      }
      this.#launch(await sweepForFolder(this.#ctx.store, row));
    }
  }

  async list(): Promise<SweepInfo[]> {
    const rows = await listSweeps(this.#ctx.store);
    return Promise.all(rows.map((r) => this.#info(r)));
  }

  async #row(id: number): Promise<SweepRecordOut> {
    const row = await getSweep(this.#ctx.store, id);
    if (!row) throw notFound(`Sweep ${id} does not exist`);
    return row;
  }

  async cancel(id: number): Promise<SweepInfo> {
    const row = await this.#row(id);
    const active = this.#active.get(id);
    if (!active) throw badRequest(`Sweep "${row.name}" is ${row.status}; there is nothing to cancel.`);
    active.stop.abort("cancel");
    await active.done;
    return this.#info(await this.#row(id));
  }

  async trainBest(id: number): Promise<Results["trainBestSweep"]> {
    const ctx = this.#ctx;
    const row = await this.#row(id);
    if (!row.bestConfigPath || !existsSync(row.bestConfigPath))
      throw badRequest(`Sweep "${row.name}" has no best config yet (it is ${row.status}).`);
    const raw = parse(readFileSync(row.bestConfigPath, "utf8")) as Record<string, unknown>;
    // Every fold: the sweep's trials each trained one.
    const folds = { ...(raw.folds as Record<string, unknown>) };
    delete folds.run;
    raw.folds = folds;
    const dataset = row.datasetId !== null ? await getDataset(ctx.store, row.datasetId) : undefined;
    if (row.datasetId !== null && !dataset)
      throw badRequest(`The dataset of sweep "${row.name}" was deleted; its best config cannot train.`);
    const config = dataset ? normalizeFor(raw, dataset) : normalizeConfig(raw);
    if (dataset) await checkTrainable(ctx.store, config, dataset);
    const experimentId = await createExperiment(ctx.store, {
      name: `${row.name}: best config, ${config.folds.k}-fold`,
      config,
      ...(dataset ? { datasetId: dataset.id } : { dataFiles: true }),
    });
    const experiment = await experimentOr404(ctx.store, experimentId);
    const data = dataset
      ? await datasetTrainingData(ctx.store, dataset, config)
      : (await loadExperimentData(config)).data;
    return { experiment, runs: await queueRuns(ctx, experiment, planRun(config, data)) };
  }

  async #info(row: SweepRecordOut): Promise<SweepInfo> {
    const spec = row.spec as unknown as StoredSpec & { mode?: "min" | "max" };
    const mode = spec.mode ?? "min";
    const trials: SweepTrialInfo[] = [];
    for (const t of await listTrials(this.#ctx.store, row.id)) {
      const run = (await listRuns(this.#ctx.store, t.experimentId)).at(-1);
      trials.push({
        key: t.key,
        experimentId: t.experimentId,
        runId: run?.id ?? null,
        params: t.params,
        status: t.status,
        evaluations: t.evaluations,
        metric: t.metric,
        error: t.status === "stopped" || t.status === "completed" ? null : (run?.error ?? null),
      });
    }
    trials.sort((a, b) => {
      if (a.metric === null || b.metric === null) return a.metric === b.metric ? 0 : a.metric === null ? 1 : -1;
      return mode === "max" ? b.metric - a.metric : a.metric - b.metric;
    });
    let bestConfigYaml: string | null = null;
    if (row.bestConfigPath) {
      try {
        bestConfigYaml = readFileSync(row.bestConfigPath, "utf8");
      } catch {}
    }
    return {
      id: row.id,
      name: row.name,
      status: row.status,
      outDir: row.outDir,
      datasetId: row.datasetId,
      metric: spec.metric as string,
      mode,
      space: spec.space as SweepInfo["space"],
      trialCount: spec.trials,
      concurrency: spec.concurrency ?? 2,
      gracePeriod: spec.grace_period ?? 1,
      fold: spec.fold ?? 0,
      error: row.error,
      createdAt: row.createdAt,
      endedAt: row.endedAt,
      bestParams: row.bestParams,
      bestConfigPath: row.bestConfigPath,
      bestConfigYaml,
      trials,
    };
  }

  /** Stops the sweeps in progress; they continue when the app opens again. */
  async close(): Promise<void> {
    for (const { stop } of this.#active.values()) stop.abort("closing");
    await Promise.all([...this.#active.values()].map((a) => a.done));
  }
}

export function sweepHandlers(sweeps: SweepService) {
  return {
    startSweep: (input: ParsedInput<"startSweep">) => sweeps.start(input),
    listSweeps: () => sweeps.list(),
    cancelSweep: (input: ParsedInput<"cancelSweep">) => sweeps.cancel(input.id),
    trainBestSweep: (input: ParsedInput<"trainBestSweep">) => sweeps.trainBest(input.id),
  };
}
