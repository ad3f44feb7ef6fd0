// The one typed API behind every front end. The renderer calls these methods through one of
// two transports — Electron IPC (preload) or HTTP + WebSocket against `ftune serve` — and both
// back ends validate inputs with these same zod schemas before a handler runs.
//
// Transport rules (both sides implement exactly these):
// - HTTP: `POST /api/rpc/<method>` with a JSON body (the input); 200 → JSON result,
//   400 → { error, issues: [{ path, message }] } (zod) or { error, problems } (dataset import),
//   401 without the token, 404 unknown method, 500 → { error } (message for the user).
//   Token: `Authorization: Bearer <token>` (the page gets it from `#token=` in its URL).
// - Files from a browser: `POST /api/upload?name=<file name>` with the raw bytes → { path }.
// - Events: WebSocket `/api/events?token=<token>` sending `ServerEvent` JSON messages.
// - Electron: `window.ftune.call(method, input)` and `window.ftune.onEvent(listener)`.
import { z } from "zod";
import type { FoldPlan } from "../../native/generated/run.ts";
import type { SetupStep } from "../engine-setup/index.ts";
import type { CachedModel } from "../models/hf-cache.ts";
import { BackendName, type EngineSetting, FoldsAtOnce, RayAddress } from "../settings.ts";
import type { Experiment, Run } from "../store/repo-experiments.ts";
import type { Dataset, DatasetRow, DatasetStats, RunStatus } from "../store/types.ts";
import { ColumnMappingSchema, TaskSchema } from "../store/types.ts";

const id = z.number().int().positive();

/**
 * Checkpoints a completed run keeps: "best" (the best evaluation's weights), "best+final" (and
 * the weights at the end), "all" (every folder the engine wrote). Unset: the best, plus the
 * final weights when SWA ran (they are then the SWA average, a model of its own).
 */
export const KeepSchema = z.enum(["best", "best+final", "all"]);
export type Keep = z.infer<typeof KeepSchema>;
/** An experiment config as users write it; the engine validates it (unknown keys rejected). */
const ConfigInput = z.record(z.string(), z.unknown());

/** How a sweep samples one config field: log-uniform, uniform, whole numbers (inclusive) or a list. */
const SpaceEntry = z.union([
  z.object({ loguniform: z.tuple([z.number().positive(), z.number().positive()]) }).strict(),
  z.object({ uniform: z.tuple([z.number(), z.number()]) }).strict(),
  z.object({ int: z.tuple([z.number().int(), z.number().int()]) }).strict(),
  z
    .object({
      choice: z
        .array(z.union([z.number(), z.string(), z.boolean(), z.null()]))
        .min(1)
        .max(100),
    })
    .strict(),
]);
/** A dotted config field ("optimizer.lr", "llrd.decay"). */
const FieldPath = z
  .string()
  .regex(/^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$/, "a dotted config field, e.g. optimizer.lr");

export const methods = {
  /** libtorch version, CUDA, threads. */
  runtimeInfo: z.object({}).strict(),
  /** Whether the engine (libtorch 2.11) loads, and how it was set up. */
  engineStatus: z.object({}).strict(),
  /**
   * Sets the engine up: an installed PyTorch 2.11 (a python or venv/conda folder; none: the Python
   * on PATH), or a download from a package index (PEP 503/691). Progress: `engine-setup` events.
   */
  setUpEngine: z.discriminatedUnion("source", [
    z.object({ source: z.literal("existing"), python: z.string().min(1).optional() }).strict(),
    z
      .object({
        source: z.literal("download"),
        variant: z.enum(["cpu", "cuda"]).optional(),
        indexUrl: z.url({ protocol: /^https?$/ }).optional(),
      })
      .strict(),
  ]),

  /** Where runs train (here or on Ray): what this process runs with, and the saved setting. */
  backendSettings: z.object({}).strict(),
  /**
   * Saves where the app's runs train: "local", or "ray" with a cluster's host:port (none: a
   * local Ray started with the app). Applies when the app or `ftune serve` next starts.
   */
  setBackend: z
    .object({ backend: BackendName, rayAddress: RayAddress.optional(), foldsAtOnce: FoldsAtOnce.optional() })
    .strict(),

  /** The bundled encoder and user-added Hugging Face folders. */
  listModels: z.object({}).strict(),
  /** A folder, or a Hugging Face id (org/name[@revision]) from the hub's cache on this machine. */
  addModel: z.object({ path: z.string().min(1), name: z.string().min(1).optional() }).strict(),
  /** The models in the Hugging Face cache ($HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub). */
  listCachedModels: z.object({}).strict(),
  /**
   * Starts downloading a model by id (org/name[@revision]) from the Hugging Face hub into its
   * cache, resuming an interrupted download; answers once the files are known (or with the
   * reason it cannot start), then reports `model-download` events until it is done or failed.
   */
  downloadModel: z.object({ id: z.string().min(1).max(300) }).strict(),
  /** Takes a model out of the library (its folder on disk stays); the bundled encoder stays. */
  removeModel: z.object({ id }).strict(),

  /** Columns, inferred types, a preview and suggested mapping of a data file on this machine. */
  detectColumns: z.object({ path: z.string().min(1) }).strict(),
  importDataset: z
    .object({
      path: z.string().min(1),
      name: z.string().min(1).optional(),
      mapping: ColumnMappingSchema,
      task: TaskSchema,
      /** Model whose tokenizer measures token lengths (default: the bundled encoder). */
      modelId: id.optional(),
      maxLength: z.number().int().min(2).max(4096).optional(),
    })
    .strict(),
  listDatasets: z.object({}).strict(),
  getDataset: z.object({ id }).strict(),
  datasetRows: z
    .object({ id, offset: z.number().int().min(0).default(0), limit: z.number().int().min(1).max(1000).default(50) })
    .strict(),
  deleteDataset: z.object({ id }).strict(),

  /** Ready-made configs: "Basic", "Article: all techniques", one per technique. */
  presets: z.object({ layers: z.number().int().min(1).max(256).optional() }).strict(),
  /**
   * Every group's LR at every step for a config, from the engine's schedule code. The data
   * section may be omitted when datasetId is given (its file, columns and row count are used).
   */
  previewSchedule: z
    .object({
      config: ConfigInput,
      datasetId: id.optional(),
      stepsPerEpoch: z.number().int().min(1).optional(),
      /** Which fold's schedule (default: the first fold that runs); folds can differ in size. */
      fold: z.number().int().min(0).optional(),
    })
    .strict(),
  /** Every default of a config for a task, from the engine: the builder's starting values. */
  defaultConfig: z.object({ task: TaskSchema.default("regression") }).strict(),

  createExperiment: z.object({ name: z.string().min(1), datasetId: id, config: ConfigInput }).strict(),
  /**
   * The article's ablation on a dataset in one click: Basic, then each technique (added to
   * the row above when cumulative, to Basic alone when one at a time), grouped LLRD last;
   * `base` (say, the builder's draft) replaces Basic's settings. Queues every row's folds.
   */
  startAblation: z
    .object({
      datasetId: id,
      mode: z.enum(["cumulative", "one-at-a-time"]).default("cumulative"),
      base: ConfigInput.optional(),
    })
    .strict(),
  listExperiments: z.object({}).strict(),
  getExperiment: z.object({ id }).strict(),
  /**
   * Queues one run per fold (all the config's folds unless `folds` is given). `keep`: which
   * checkpoints each run keeps once it has completed (see KEEP_CHECKPOINTS).
   */
  startRuns: z
    .object({
      experimentId: id,
      folds: z.array(z.number().int().min(0)).optional(),
      keep: KeepSchema.optional(),
    })
    .strict(),
  listRuns: z.object({ experimentId: id.optional() }).strict(),
  getRun: z.object({ id }).strict(),
  /** Metric points of a run after `afterStep` (for charts catching up). */
  runMetrics: z.object({ id, afterStep: z.number().int().min(-1).default(-1) }).strict(),
  cancelRun: z.object({ id }).strict(),
  resumeRun: z.object({ id }).strict(),
  /**
   * Writes the run's best or final checkpoint as a Hugging Face folder. `outDir` (default: a new
   * folder under the data folder's exports/); a relative one is taken under exports/ too, never
   * under the server's working directory.
   */
  exportRun: z.object({ id, kind: z.enum(["best", "final"]), outDir: z.string().min(1).optional() }).strict(),
  /** The absolute folder exportRun would write to for this outDir (default: a new one under exports/). */
  exportTarget: z.object({ id, kind: z.enum(["best", "final"]), outDir: z.string().min(1).optional() }).strict(),
  /**
   * The article's results table: mean ± std of the metric over each experiment's folds; only
   * the given experiments, or only one sweep's trials.
   */
  compare: z.object({ experimentIds: z.array(id).optional(), sweepId: id.optional() }).strict(),

  /**
   * Starts a sweep on Ray Tune (Optuna TPE proposes, ASHA stops poor trials early on the
   * engine's evaluations): over an existing experiment's config, or `config` over `datasetId`;
   * each field of `space` sampled as given. Every trial is an experiment with one run on
   * `fold`. Answers once it is stored; `sweep` events follow as trials report.
   */
  startSweep: z
    .object({
      name: z.string().min(1).max(200).optional(),
      experimentId: id.optional(),
      config: ConfigInput.optional(),
      datasetId: id.optional(),
      space: z
        .record(FieldPath, SpaceEntry)
        .refine((o) => Object.keys(o).length > 0 && Object.keys(o).length <= 20, "give 1 to 20 fields to search"),
      /** A metric the engine reports (default: the config's); mode default: the metric's direction. */
      metric: z.string().min(1).max(100).optional(),
      mode: z.enum(["min", "max"]).optional(),
      trials: z.number().int().min(1).max(1000),
      concurrency: z.number().int().min(1).max(256).default(2),
      /** ASHA's grace period, in evaluations: no trial stops before this many. */
      gracePeriod: z.number().int().min(1).max(1000).default(1),
      fold: z.number().int().min(0).default(0),
      seed: z.number().int().min(0).optional(),
    })
    .strict()
    .superRefine((o, issue) => {
      if ((o.experimentId === undefined) === (o.config === undefined))
        issue.addIssue({ code: "custom", path: ["experimentId"], message: "give experimentId or config (not both)" });
      if (o.config !== undefined && o.datasetId === undefined)
        issue.addIssue({ code: "custom", path: ["datasetId"], message: "a config needs the dataset it trains on" });
    }),
  /** Every sweep, newest first, with its trials. */
  listSweeps: z.object({}).strict(),
  /** Stops a running sweep: its trials stop, Tune's state stays (starting it again resumes). */
  cancelSweep: z.object({ id }).strict(),
  /** The sweep's best config as a new experiment over every fold, its runs queued. */
  trainBestSweep: z.object({ id }).strict(),
} as const;

export type Method = keyof typeof methods;
export type Input<M extends Method> = z.input<(typeof methods)[M]>;
export type ParsedInput<M extends Method> = z.output<(typeof methods)[M]>;

export type { CachedModel } from "../models/hf-cache.ts";
/** A fold as it will train, from the engine's plan (generated from the Rust type). */
export type { FoldPlan };

export interface DownloadStarted {
  id: string;
  revision: string;
  commit: string;
  files: number;
  totalBytes: number;
}

export interface ModelEntry {
  id: number;
  name: string;
  path: string;
  bundled: boolean;
  modelType: string;
  layers: number;
  hiddenSize: number;
  parameters: number;
}

export interface ColumnDetectionResult {
  format: string;
  columns: { name: string; type: "numeric" | "text" | "empty"; filled: number; distinct: number; meanChars: number }[];
  preview: Record<string, string | number | null>[];
  suggested: { text?: string; label?: string; task?: "regression" | "classification"; id?: string };
}

export interface Preset {
  name: string;
  description: string;
  /** Merged over the builder's current config (nested mappings merge). */
  config: Record<string, unknown>;
}

export interface SchedulePreview {
  groups: { name: string; lr: number; weightDecay: number; params: number }[];
  /** curves[g][k]: group g's LR at optimizer step k. */
  curves: number[][];
  totalSteps: number;
  warmupSteps: number;
  swaStartStep: number | null;
  stepsPerEpoch: number;
  /** The fold shown, and every fold that runs with its real size and steps (from the engine). */
  fold: number;
  folds: FoldPlan[];
  /** Settings the engine finds legal but suspicious (warm-up longer than the run, …). */
  warnings: string[];
}

export interface RunDetail extends Run {
  experimentName: string;
  /** Group names, in the order of the `lr` arrays of train metric points. */
  groups: string[];
  totalSteps: number | null;
  stepsDone: number;
  checkpoints: { kind: "best" | "final"; path: string; step: number | null; metric: number | null }[];
  /** A saved state exists: Resume continues from it (otherwise Resume starts the run over). */
  resumable: boolean;
  /** The engine's best evaluation (from the run's summary once done; null before). */
  bestSource: "live" | "swa" | null;
  /** SWA ran: the final checkpoint is the SWA average of the weights, not the last step's. */
  swa: boolean;
}

/**
 * One logged value. Split "event" holds what the engine reports about a step rather than a
 * measurement: name "best" (value 1) on an evaluation the engine kept as its best so far (its
 * `isBest`), name "swa_start" (value: the step) where the SWA average began.
 */
export interface MetricPoint {
  step: number;
  epoch: number;
  split: "train" | "valid" | "valid_swa" | "event";
  name: string;
  value: number | null;
}

export interface CompareRow {
  experimentId: number;
  name: string;
  techniques: string[];
  metric: string;
  /** Best metric per finished fold. */
  folds: { fold: number; value: number }[];
  mean: number | null;
  std: number | null;
  /** The metric over every row's out-of-fold prediction, once every fold has completed. */
  oof: number | null;
  /** Every metric the engine reported at each fold's best evaluation, mean ± std over folds. */
  metrics: { name: string; folds: { fold: number; value: number }[]; mean: number | null; std: number | null }[];
  /** How many of the experiment's runs are in each status (the latest run of each fold). */
  statuses: Partial<Record<RunStatus, number>>;
  /** The normalized config flattened to dotted paths (data and model paths included). */
  settings: Record<string, string | number | boolean | null>;
  /** The sweep it is a trial of, if any. */
  sweepId: number | null;
  /**
   * As a sweep's trial: its status (stopped: by ASHA), evaluations and the best value of the
   * sweep's metric, which a trial stopped early has without any finished fold.
   */
  trial: { status: SweepTrialInfo["status"]; evaluations: number; metric: number | null } | null;
}

export interface SweepTrialInfo {
  /** Tune's trial id. */
  key: string;
  experimentId: number;
  runId: number | null;
  params: Record<string, unknown>;
  /** stopped: ASHA stopped it early (after `evaluations`). */
  status: "running" | "completed" | "stopped" | "failed" | "cancelled";
  evaluations: number;
  /** The best value of the sweep's metric among its evaluations so far. */
  metric: number | null;
  error: string | null;
}

export interface SweepInfo {
  id: number;
  name: string;
  status: "running" | "completed" | "failed" | "cancelled" | "interrupted";
  outDir: string;
  datasetId: number | null;
  metric: string;
  mode: "min" | "max";
  space: Record<string, Record<string, unknown[]>>;
  trialCount: number;
  concurrency: number;
  gracePeriod: number;
  fold: number;
  error: string | null;
  createdAt: string;
  endedAt: string | null;
  /** Tune's best trial, its config as YAML (the file at bestConfigPath), once the sweep ended. */
  bestParams: Record<string, unknown> | null;
  bestConfigPath: string | null;
  bestConfigYaml: string | null;
  /** Ranked by the metric (best first; trials without one last). */
  trials: SweepTrialInfo[];
}

export interface ExportResult {
  path: string;
  /** The run's head: cls loads in transformers, mean in sentence-transformers, attention in neither. */
  head: "cls" | "mean" | "attention";
  /** How a folder with this head loads, in a sentence or two. */
  note: string;
  /** Python that loads it and predicts as `ftune predict` does (also in the folder's README.md). */
  python: string;
}

export interface EngineStatus {
  ready: boolean;
  /** Why the engine does not load (a message for the user), when it does not. */
  problem: string | null;
  torchVersion: string | null;
  torchLibDir: string | null;
  /** The engine set up in settings, if any. */
  engine: EngineSetting | null;
  /** Where libtorch is loaded from. */
  source: "FTUNE_LIBTORCH" | "settings" | "bundled" | "rpath";
  nvidiaDriver: boolean;
  defaultIndex: { cpu: string; cuda: string };
}

export interface BackendInfo {
  /** What this process trains with (fixed at start: flags, FTUNE_BACKEND, else the setting). */
  active: { backend: "local" | "ray"; rayAddress: string | null };
  /** The saved setting (none saved: local). */
  saved: { backend: "local" | "ray"; rayAddress: string | null };
  /** Why the saved backend is not the active one, when it could not start (the app then runs locally). */
  problem: string | null;
  /** Local training's folds at once: this process's (null on Ray) and the saved one (none saved: 1). */
  foldsAtOnce: { active: number | null; saved: number };
}

export interface Results {
  runtimeInfo: {
    torchVersion: string;
    cudaAvailable: boolean;
    cudaDeviceCount: number;
    threads: number;
    source: EngineStatus["source"];
    engine: EngineSetting | null;
  };
  engineStatus: EngineStatus;
  setUpEngine: EngineStatus;
  backendSettings: BackendInfo;
  setBackend: BackendInfo;
  listModels: ModelEntry[];
  addModel: ModelEntry;
  listCachedModels: CachedModel[];
  downloadModel: DownloadStarted;
  removeModel: { removed: boolean };
  detectColumns: ColumnDetectionResult;
  importDataset: Dataset;
  listDatasets: Dataset[];
  getDataset: Dataset & { stats: DatasetStats | null };
  datasetRows: { rows: DatasetRow[]; total: number };
  deleteDataset: { deleted: boolean };
  presets: Preset[];
  previewSchedule: SchedulePreview;
  defaultConfig: Record<string, unknown>;
  createExperiment: Experiment;
  startAblation: { experiments: Experiment[]; runs: Run[] };
  listExperiments: Experiment[];
  getExperiment: Experiment & { runs: Run[] };
  startRuns: Run[];
  listRuns: Run[];
  getRun: RunDetail;
  runMetrics: MetricPoint[];
  cancelRun: Run;
  resumeRun: Run;
  exportRun: ExportResult;
  exportTarget: { path: string };
  compare: CompareRow[];
  startSweep: SweepInfo;
  listSweeps: SweepInfo[];
  cancelSweep: SweepInfo;
  trainBestSweep: { experiment: Experiment; runs: Run[] };
}

export type Output<M extends Method> = Results[M];

/** Pushed to every connected front end. */
export type ServerEvent =
  | { type: "run-status"; run: Run }
  | {
      type: "run-progress";
      runId: number;
      /** Optimizer steps done, of totalSteps. */
      step: number;
      totalSteps: number | null;
      epoch: number;
      etaSeconds: number | null;
      points: MetricPoint[];
    }
  | { type: "dataset-imported"; dataset: Dataset }
  /** A sweep changed (a trial started, evaluated or ended; the sweep ended): listSweeps has it. */
  | { type: "sweep"; sweepId: number; trial?: string }
  | { type: "engine-setup"; step: SetupStep | { step: "error"; message: string } }
  | {
      type: "model-download";
      /** org/name, with @revision unless main: the id the cache then answers to. */
      id: string;
      status: "running" | "done" | "failed";
      /** The file in progress. */
      file: string | null;
      bytes: number;
      totalBytes: number;
      /** The snapshot folder, once done. */
      path?: string;
      error?: string;
    };

/** The API as a front end sees it, whatever the transport. */
export type Api = { [M in Method]: (input: Input<M>) => Promise<Output<M>> };

export type { RunStatus };
