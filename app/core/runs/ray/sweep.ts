// `ftune sweep`: a search over config fields on Ray Tune (Optuna TPE + ASHA, sweep.py). Every
// trial is recorded as a normal experiment with one run in the store, through the same
// recorder and run-folder writer as any run, so Compare shows the trials beside each other.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";

import type { Summary } from "../../../engine/training.ts";
import { native, type TrainEvent, type TrainingData } from "../../../native/addon.ts";
import { mergeConfig } from "../../experiments/ablation.ts";
import { ConfigError, normalizeConfig } from "../../experiments/config-file.ts";
import type { ExperimentConfig } from "../../experiments/config-types.ts";
import { metricsWriter } from "../../experiments/run-files.ts";
import type { Context } from "../../service/context.ts";
import { createExperiment, createRun, listRuns, setRunStatus } from "../../store/repo-experiments.ts";
import { addTrial, dropTrialRuns, finishSweep, getTrial, listTrials, updateTrial } from "../../store/repo-sweeps.ts";
import { RunRecorder } from "../recorder.ts";
import { bridgeEnv, RayError } from "./bridge.ts";

const SWEEP = fileURLToPath(new URL("./sweep.py", import.meta.url));
const KINDS = ["loguniform", "uniform", "int", "choice"] as const;

export interface SweepSpec {
  base: Record<string, unknown>;
  /** Dotted config field → one of `{loguniform: [lo, hi]}`, `{uniform: [lo, hi]}`, `{int: [lo, hi]}`, `{choice: [...]}`. */
  space: Record<string, Record<string, unknown>>;
  metric?: string;
  mode?: "min" | "max";
  trials: number;
  concurrency?: number;
  /** ASHA's grace period, in evaluations. */
  grace_period?: number;
  fold?: number;
  seed?: number;
}

export interface SweepTrial {
  key: string;
  params: Record<string, unknown>;
  experimentId: number;
  runId: number;
  status: "completed" | "stopped" | "failed" | "cancelled";
  evaluations: number;
  metric: number | null;
}

export interface SweepResult {
  trials: SweepTrial[];
  best: { key: string; params: Record<string, unknown>; configPath: string };
}

/** Reads and checks a sweep file; the base config normalized by the engine. */
export function loadSweep(path: string): { spec: SweepSpec; base: ExperimentConfig } {
  const spec = parse(readFileSync(path, "utf8")) as SweepSpec;
  const dir = dirname(resolve(path));
  const where = `${path}: `;
  checkSweepShape(spec, where);
  const base = normalizeConfig(spec.base, dir);
  checkSpace(spec, base, (raw) => normalizeConfig(raw, dir), where);
  return { spec, base };
}

/** The parts of a sweep that need no engine: a base, a space of known kinds, trials. */
export function checkSweepShape(spec: SweepSpec, where = ""): void {
  if (!spec || typeof spec.base !== "object" || typeof spec.space !== "object" || !spec.space)
    throw new ConfigError(`${where}a sweep needs "base" (an experiment config) and "space" (fields to search)`);
  if (Object.keys(spec.space).length === 0) throw new ConfigError(`${where}space: give at least one field to search`);
  for (const [field, d] of Object.entries(spec.space)) {
    const kinds = Object.keys(d ?? {});
    const kind = kinds[0] as (typeof KINDS)[number];
    const args = d?.[kind];
    if (kinds.length !== 1 || !KINDS.includes(kind) || !Array.isArray(args))
      throw new ConfigError(
        `${where}space.${field}: give one of ${KINDS.join(", ")} with a list, e.g. {loguniform: [1e-5, 1e-3]}`,
      );
    if (kind === "choice" && args.length === 0) throw new ConfigError(`${where}space.${field}: choice needs values`);
    if (
      kind !== "choice" &&
      (args.length !== 2 || !args.every((x) => typeof x === "number") || (args[0] as number) >= (args[1] as number))
    )
      throw new ConfigError(`${where}space.${field}: ${kind} needs [low, high] with low < high`);
    if (kind === "loguniform" && (args[0] as number) <= 0)
      throw new ConfigError(`${where}space.${field}: loguniform needs low > 0`);
  }
  if (!Number.isInteger(spec.trials) || spec.trials < 1)
    throw new ConfigError(`${where}trials must be a whole number ≥ 1`);
}

/** Every corner of the space must make a valid config: a typo'd field fails here, not in trial 4. */
export function checkSpace(
  spec: SweepSpec,
  base: ExperimentConfig,
  normalize: (raw: Record<string, unknown>) => unknown,
  where = "",
): void {
  for (const [field, d] of Object.entries(spec.space)) {
    const [kind, args] = Object.entries(d)[0] as [string, unknown[]];
    for (const corner of kind === "choice" ? args : [args[0], args[1]]) {
      const value = kind === "int" ? Math.round(corner as number) : corner;
      try {
        normalize(mergeConfig(base as unknown as Record<string, unknown>, dotted(field, value)));
      } catch (err) {
        throw new ConfigError(`${where}space.${field}: ${(err as Error).message}`);
      }
    }
  }
}

/** The spec as the store keeps it: the normalized base, the metric and mode resolved. */
export function storedSpec(spec: SweepSpec, base: ExperimentConfig): SweepSpec {
  const metric = spec.metric ?? (base.eval.metric as string);
  return {
    ...spec,
    base: base as unknown as Record<string, unknown>,
    metric,
    mode: spec.mode ?? (native.metricHigherIsBetter(metric) ? "max" : "min"),
  };
}

function dotted(field: string, value: unknown): Record<string, unknown> {
  return field
    .split(".")
    .reverse()
    .reduce<Record<string, unknown>>((inner, key, i) => ({ [key]: i === 0 ? value : inner }), {} as never) as Record<
    string,
    unknown
  >;
}

export interface SweepRun {
  /** The sweep's row in the store (`sweepForFolder`): trials are recorded under it. */
  sweepId: number;
  name: string;
  spec: SweepSpec;
  base: ExperimentConfig;
  /** The rows every trial trains on. */
  data: TrainingData;
  /** The dataset the trials train on (else the files their config names). */
  datasetId?: number | null;
  outDir: string;
  python: string;
  binary: string;
  address?: string;
  /** Aborting stops the sweep (its Ray driver and trials); Tune's state stays for a resume. */
  signal?: AbortSignal;
  /** A trial started (no event, no end), reported an engine event, or ended (with its evaluations). */
  onTrial?: (t: {
    key: string;
    params: Record<string, unknown>;
    event?: TrainEvent;
    ended?: SweepTrial["status"];
    evaluations?: number;
  }) => void;
}

/** Thrown by runSweep when its signal stopped it. */
export class SweepCancelled extends Error {
  override name = "SweepCancelled";
}

interface LiveTrial {
  runId: number;
  experimentId: number;
  recorder?: RunRecorder;
  folder?: (e: TrainEvent) => void;
  params: Record<string, unknown>;
  evaluations: number;
  best: number | null;
  summary?: Summary;
  error?: string;
  /** Recorded by an earlier process (the sweep was resumed): only Tune's verdict is new. */
  earlier: boolean;
  /** Its outcome is recorded (Tune said it ended). */
  ended?: SweepTrial["status"];
}

/**
 * Runs the sweep to its end, or resumes it from `outDir/tune` (Tune's own state): finished
 * trials are not rerun, a trial the kill cut short trains again in its own experiment. Every
 * trial goes into the store under the sweep; the sweep's row ends with its status and best.
 */
export async function runSweep(ctx: Context, o: SweepRun): Promise<SweepResult> {
  try {
    const result = await driveSweep(ctx, o);
    await finishSweep(ctx.store, o.sweepId, "completed", {
      bestParams: result.best.params,
      bestConfigPath: result.best.configPath,
    });
    return result;
  } catch (err) {
    const cancelled = err instanceof SweepCancelled;
    // Stopped because the app closes: it continues when the app opens again.
    const status = cancelled ? (o.signal?.reason === "closing" ? "interrupted" : "cancelled") : "failed";
    await finishSweep(ctx.store, o.sweepId, status, { error: cancelled ? null : (err as Error).message }).catch(
      () => {},
    );
    throw err;
  } finally {
    ctx.events.publish({ type: "sweep", sweepId: o.sweepId });
  }
}

async function driveSweep(ctx: Context, o: SweepRun): Promise<SweepResult> {
  const { spec, base, outDir, sweepId } = o;
  mkdirSync(outDir, { recursive: true });
  const dataFile = join(outDir, "data.json");
  writeFileSync(dataFile, JSON.stringify(o.data));
  const metric = spec.metric ?? (base.eval.metric as string);
  const mode = spec.mode ?? (native.metricHigherIsBetter(metric) ? "max" : "min");
  const engineMetric = metric === base.eval.metric;
  const specFile = join(outDir, "sweep-spec.json");
  writeFileSync(
    specFile,
    JSON.stringify({
      base,
      space: spec.space,
      metric,
      mode,
      trials: spec.trials,
      concurrency: spec.concurrency ?? 2,
      gracePeriod: spec.grace_period ?? 1,
      fold: spec.fold ?? 0,
      seed: spec.seed ?? 0,
      dataFile,
      binary: o.binary,
      address: o.address,
      storage: outDir,
    }),
  );
  const changed = (key?: string) => ctx.events.publish({ type: "sweep", sweepId, ...(key ? { trial: key } : {}) });
  // Trials an earlier process recorded (a resumed sweep): Tune reports them again at the end.
  const live = new Map<string, LiveTrial>();
  for (const t of await listTrials(ctx.store, sweepId)) {
    const run = (await listRuns(ctx.store, t.experimentId))[0];
    live.set(t.key, {
      runId: run?.id ?? 0,
      experimentId: t.experimentId,
      params: t.params,
      evaluations: t.evaluations,
      best: t.metric,
      summary: run?.status === "completed" ? (run.summary as Summary) : undefined,
      earlier: true,
      ended: t.status === "running" ? undefined : (t.status as SweepTrial["status"]),
    });
  }
  if (o.signal?.aborted) throw new SweepCancelled("cancelled");
  // stdin stays open: the driver stops (and its local Ray with it) when this process goes.
  const proc = spawn(o.python, [SWEEP, specFile], {
    stdio: ["pipe", "pipe", "pipe"],
    // A local Ray it starts itself listens on 127.0.0.1 only, as the bridge's does.
    env: bridgeEnv(o.address),
  });
  const abort = () => proc.stdin.end();
  o.signal?.addEventListener("abort", abort, { once: true });
  let fatal: string | undefined;
  proc.once("error", (err) => {
    fatal ??= `cannot start the sweep's Ray driver with ${o.python}: ${err.message}`;
  });
  proc.stdin.on("error", () => {}); // the driver gone: its end is reported by "close"
  let stderr = "";
  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (c: string) => {
    stderr = (stderr + c).slice(-4000);
    if (process.env.FTUNE_DEBUG) process.stderr.write(c);
  });
  let end:
    | {
        trials: { key: string; evaluations: number; metric: number | null; error: string | null }[];
        best: { key: string; params: Record<string, unknown> };
      }
    | undefined;
  const lines = createInterface({ input: proc.stdout });
  let queue = Promise.resolve();
  lines.on("line", (line) => {
    if (!line.startsWith("{")) return;
    const m = JSON.parse(line);
    // In order: a trial's experiment exists before its first event is recorded.
    queue = queue
      .then(async () => {
        if (m.type === "fatal") fatal = m.message;
        else if (m.type === "end") end = m;
        else if (m.type === "trial") await startTrial(m.key, m.params, m.config);
        else if (m.type === "event") await trialEvent(m.key, m.event as TrainEvent);
        else if (m.type === "ended") await endTrial(m.key, m.evaluations ?? 0, m.error ?? null);
      })
      .catch((err) => {
        fatal ??= `recording the sweep failed: ${(err as Error).message}`;
        proc.stdin.end();
      });
  });

  async function startTrial(key: string, params: Record<string, unknown>, raw: unknown) {
    const config = normalizeConfig(raw, outDir);
    const known = live.get(key) ?? (await getTrialRecord(key));
    let experimentId: number;
    if (known) {
      // Restarted after a kill: the same experiment, a fresh run (the cut-short one goes).
      experimentId = known.experimentId;
      await dropTrialRuns(ctx.store, experimentId);
      await updateTrial(ctx.store, sweepId, key, { status: "running", evaluations: 0, metric: null });
    } else {
      const n = (await listTrials(ctx.store, sweepId)).length + 1;
      experimentId = await createExperiment(ctx.store, {
        name: `${o.name} trial ${n}: ${Object.entries(params)
          .map(([k, v]) => `${k}=${fmt(v)}`)
          .join(", ")}`,
        config,
        ...(o.datasetId ? { datasetId: o.datasetId } : { dataFiles: true }),
      });
      await addTrial(ctx.store, { sweepId, key, experimentId, params });
    }
    const dir = join(outDir, `trial-${key}`);
    const runId = await createRun(ctx.store, { experimentId, fold: spec.fold ?? 0, dir });
    ctx.events.publish({ type: "run-status", run: await setRunStatus(ctx.store, runId, "running") });
    live.set(key, {
      runId,
      experimentId,
      recorder: new RunRecorder(ctx.store, runId, ctx.events),
      folder: metricsWriter(dir),
      params,
      evaluations: 0,
      best: null,
      earlier: false,
    });
    o.onTrial?.({ key, params });
    changed(key);
  }

  async function getTrialRecord(key: string) {
    const t = await getTrial(ctx.store, sweepId, key);
    return t && { experimentId: t.experimentId };
  }

  async function trialEvent(key: string, e: TrainEvent) {
    const t = live.get(key);
    if (!t?.recorder || !t.folder) return;
    if (e.kind === "done") t.summary = (e as { summary: Summary }).summary;
    else if (e.kind === "error") t.error = (e as { message: string }).message;
    else {
      t.recorder.event(e);
      t.folder(e);
    }
    if (e.kind === "eval") {
      t.evaluations += 1;
      const value = e.metrics[metric];
      // The engine's verdict for its own metric; another reported metric by the sweep's mode.
      const better = engineMetric
        ? e.isBest
        : value !== undefined && (t.best === null || (mode === "max" ? value > t.best : value < t.best));
      if (better && value !== undefined) t.best = value;
      await updateTrial(ctx.store, sweepId, key, { evaluations: t.evaluations, metric: t.best });
      changed(key);
    }
    o.onTrial?.({ key, params: t.params, event: e });
  }

  /** Records a trial's outcome once Tune is done with it (all its events came first). */
  async function endTrial(key: string, evaluations: number, tuneError: string | null) {
    const t = live.get(key);
    if (!t || t.ended) return;
    await t.recorder?.finish().catch(() => {});
    const status: SweepTrial["status"] = t.summary
      ? "completed"
      : (t.error && t.error !== "cancelled") || tuneError
        ? "failed"
        : "stopped";
    if (!(t.earlier && status === "completed")) {
      const run = await setRunStatus(
        ctx.store,
        t.runId,
        status === "completed" ? "completed" : status === "failed" ? "failed" : "cancelled",
        {
          summary: t.summary ?? null,
          device: t.summary?.device ?? null,
          error:
            status === "stopped"
              ? `Stopped early by ASHA after ${evaluations} evaluation(s).`
              : (t.error ?? tuneError ?? null),
        },
      ).catch(() => undefined);
      if (run) ctx.events.publish({ type: "run-status", run });
    }
    t.evaluations = Math.max(t.evaluations, evaluations);
    t.ended = status;
    await updateTrial(ctx.store, sweepId, key, { status, evaluations: t.evaluations, metric: t.best });
    changed(key);
    o.onTrial?.({ key, params: t.params, ended: status, evaluations: t.evaluations });
  }

  const code = await new Promise<number | null>((r) => proc.once("close", r));
  o.signal?.removeEventListener("abort", abort);
  await queue;
  const cancelled = o.signal?.aborted === true && o.signal.reason !== "closing";
  if (o.signal?.aborted || fatal || !end) {
    // The trials this process was recording end with the sweep (cancelled, or cut short).
    for (const [key, t] of live) {
      if (t.earlier || !t.recorder || t.ended) continue;
      if (t.summary) {
        await endTrial(key, t.evaluations, null);
        continue;
      }
      await t.recorder.finish().catch(() => {});
      const run = await setRunStatus(ctx.store, t.runId, cancelled ? "cancelled" : "interrupted", {
        error: cancelled ? "The sweep was cancelled." : "The sweep's Ray driver stopped.",
      }).catch(() => undefined);
      if (run) ctx.events.publish({ type: "run-status", run });
      if (cancelled) await updateTrial(ctx.store, sweepId, key, { status: "cancelled" });
    }
  }
  if (o.signal?.aborted) throw new SweepCancelled("The sweep was cancelled.");
  if (fatal) throw new RayError(fatal);
  if (!end) {
    const why = stderr.trim().split("\n").slice(-3).join(" | ");
    throw new RayError(`the sweep's Ray driver exited (code ${code}) before the end${why ? `: ${why}` : ""}`);
  }
  const trials: SweepTrial[] = [];
  for (const [key, t] of live) {
    const tuned = end.trials.find((x) => x.key === key);
    // A trial whose end no process recorded (killed just as it ended) gets Tune's verdict now.
    if (!t.ended) await endTrial(key, tuned?.evaluations ?? t.evaluations, tuned?.error ?? null);
    trials.push({
      key,
      params: t.params,
      experimentId: t.experimentId,
      runId: t.runId,
      status: t.ended ?? "stopped",
      evaluations: t.evaluations,
      metric: t.best ?? tuned?.metric ?? null,
    });
  }
  let best = mergeConfig(base as unknown as Record<string, unknown>, {});
  for (const [field, value] of Object.entries(end.best.params)) best = mergeConfig(best, dotted(field, value));
  const configPath = join(outDir, "best.yaml");
  writeFileSync(configPath, stringify(best));
  return { trials, best: { key: end.best.key, params: end.best.params, configPath } };
}

const fmt = (v: unknown) => (typeof v === "number" && !Number.isInteger(v) ? v.toPrecision(3) : String(v));
