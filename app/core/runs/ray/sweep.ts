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
import { native, type TrainEvent } from "../../../native/addon.ts";
import { mergeConfig } from "../../experiments/ablation.ts";
import { ConfigError, normalizeConfig } from "../../experiments/config-file.ts";
import type { ExperimentConfig } from "../../experiments/config-types.ts";
import { loadExperimentData } from "../../experiments/data.ts";
import { metricsWriter } from "../../experiments/run-files.ts";
import type { Context } from "../../service/context.ts";
import { createExperiment, createRun, setRunStatus } from "../../store/repo-experiments.ts";
import { RunRecorder } from "../recorder.ts";
import { RayError } from "./bridge.ts";

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
  status: "completed" | "stopped" | "failed";
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
  const where = `${path}:`;
  if (!spec || typeof spec.base !== "object" || typeof spec.space !== "object" || !spec.space)
    throw new ConfigError(`${where} a sweep needs "base" (an experiment config) and "space" (fields to search)`);
  for (const [field, d] of Object.entries(spec.space)) {
    const kinds = Object.keys(d ?? {});
    const kind = kinds[0] as (typeof KINDS)[number];
    const args = d?.[kind];
    if (kinds.length !== 1 || !KINDS.includes(kind) || !Array.isArray(args))
      throw new ConfigError(
        `${where} space.${field}: give one of ${KINDS.join(", ")} with a list, e.g. {loguniform: [1e-5, 1e-3]}`,
      );
    if (
      kind !== "choice" &&
      (args.length !== 2 || !args.every((x) => typeof x === "number") || (args[0] as number) >= (args[1] as number))
    )
      throw new ConfigError(`${where} space.${field}: ${kind} needs [low, high] with low < high`);
    if (kind === "loguniform" && (args[0] as number) <= 0)
      throw new ConfigError(`${where} space.${field}: loguniform needs low > 0`);
  }
  if (!Number.isInteger(spec.trials) || spec.trials < 1)
    throw new ConfigError(`${where} trials must be a whole number ≥ 1`);
  const base = normalizeConfig(spec.base, dirname(resolve(path)));
  // Every corner of the space must make a valid config: a typo'd field fails here, not in trial 4.
  for (const [field, d] of Object.entries(spec.space)) {
    const [kind, args] = Object.entries(d)[0] as [string, unknown[]];
    const value = kind === "int" ? Math.round(args[0] as number) : args[0];
    try {
      normalizeConfig(
        mergeConfig(base as unknown as Record<string, unknown>, dotted(field, value)),
        dirname(resolve(path)),
      );
    } catch (err) {
      throw new ConfigError(`${where} space.${field}: ${(err as Error).message}`);
    }
  }
  return { spec, base };
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

/** Runs the sweep to its end (or resumes it from `outDir/tune`); every trial goes into the store. */
export async function runSweep(
  ctx: Context,
  o: {
    name: string;
    spec: SweepSpec;
    base: ExperimentConfig;
    outDir: string;
    python: string;
    binary: string;
    address?: string;
    onTrial?: (t: { key: string; params: Record<string, unknown>; event?: TrainEvent }) => void;
  },
): Promise<SweepResult> {
  const { spec, base, outDir } = o;
  mkdirSync(outDir, { recursive: true });
  const { data } = await loadExperimentData(base);
  const dataFile = join(outDir, "data.json");
  writeFileSync(dataFile, JSON.stringify(data));
  const metric = spec.metric ?? (base.eval.metric as string);
  const mode = spec.mode ?? (native.metricHigherIsBetter(metric) ? "max" : "min");
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
  const proc = spawn(o.python, [SWEEP, specFile], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RAY_USAGE_STATS_ENABLED: "0" },
  });
  let stderr = "";
  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (c: string) => {
    stderr = (stderr + c).slice(-4000);
    if (process.env.FTUNE_DEBUG) process.stderr.write(c);
  });
  const live = new Map<
    string,
    {
      runId: number;
      experimentId: number;
      recorder: RunRecorder;
      folder: (e: TrainEvent) => void;
      params: Record<string, unknown>;
      summary?: Summary;
      error?: string;
    }
  >();
  let end:
    | {
        trials: { key: string; evaluations: number; metric: number | null; error: string | null }[];
        best: { key: string; params: Record<string, unknown> };
      }
    | undefined;
  let fatal: string | undefined;
  const pending: Promise<unknown>[] = [];
  const lines = createInterface({ input: proc.stdout });
  let queue = Promise.resolve();
  lines.on("line", (line) => {
    if (!line.startsWith("{")) return;
    const m = JSON.parse(line);
    // In order: a trial's experiment exists before its first event is recorded.
    queue = queue.then(async () => {
      if (m.type === "fatal") fatal = m.message;
      else if (m.type === "end") end = m;
      else if (m.type === "trial") {
        const n = live.size + 1;
        const config = normalizeConfig(m.config, outDir);
        const experimentId = await createExperiment(ctx.store, {
          name: `${o.name} trial ${n}: ${Object.entries(m.params)
            .map(([k, v]) => `${k}=${fmt(v)}`)
            .join(", ")}`,
          config,
          dataFiles: true,
        });
        const dir = join(outDir, `trial-${n}`);
        const runId = await createRun(ctx.store, { experimentId, fold: spec.fold ?? 0, dir });
        ctx.events.publish({ type: "run-status", run: await setRunStatus(ctx.store, runId, "running") });
        const recorder = new RunRecorder(ctx.store, runId, ctx.events);
        live.set(m.key, { runId, experimentId, recorder, folder: metricsWriter(dir), params: m.params });
        o.onTrial?.({ key: m.key, params: m.params });
      } else if (m.type === "event") {
        const t = live.get(m.key);
        if (!t) return;
        const e = m.event as TrainEvent;
        if (e.kind === "done") t.summary = (e as { summary: Summary }).summary;
        else if (e.kind === "error") t.error = (e as { message: string }).message;
        else {
          t.recorder.event(e);
          t.folder(e);
        }
        o.onTrial?.({ key: m.key, params: t.params, event: e });
      }
    });
    pending.push(queue);
  });
  const code = await new Promise<number | null>((r) => proc.once("close", r));
  await queue;
  if (fatal) throw new RayError(fatal);
  if (!end) {
    const why = stderr.trim().split("\n").slice(-3).join(" | ");
    throw new RayError(`the sweep's Ray driver exited (code ${code}) before the end${why ? `: ${why}` : ""}`);
  }
  const trials: SweepTrial[] = [];
  for (const [key, t] of live) {
    await t.recorder.finish().catch(() => {});
    const tuned = end.trials.find((x) => x.key === key);
    const status = t.summary ? "completed" : t.error && t.error !== "cancelled" ? "failed" : "stopped";
    const evaluations = tuned?.evaluations ?? 0;
    const run = await setRunStatus(
      ctx.store,
      t.runId,
      status === "completed" ? "completed" : status === "failed" ? "failed" : "cancelled",
      {
        summary: t.summary ?? null,
        device: t.summary?.device ?? null,
        error: status === "stopped" ? `Stopped early by ASHA after ${evaluations} evaluation(s).` : (t.error ?? null),
      },
    );
    ctx.events.publish({ type: "run-status", run });
    trials.push({
      key,
      params: t.params,
      experimentId: t.experimentId,
      runId: t.runId,
      status,
      evaluations,
      metric: tuned?.metric ?? null,
    });
  }
  const bestConfig = mergeConfig(spec.base, {});
  let best = bestConfig;
  for (const [field, value] of Object.entries(end.best.params)) best = mergeConfig(best, dotted(field, value));
  const configPath = join(outDir, "best.yaml");
  writeFileSync(configPath, stringify(best));
  return { trials, best: { key: end.best.key, params: end.best.params, configPath } };
}

const fmt = (v: unknown) => (typeof v === "number" && !Number.isInteger(v) ? v.toPrecision(3) : String(v));
