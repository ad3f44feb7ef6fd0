// Experiments (a training configuration) and their runs (one per fold). Run status changes are
// checked against the allowed transitions in the UPDATE itself, so two writers cannot race a run
// into an impossible state (say, completed after cancelled).
import type { Queryable } from "./db.ts";
import { parseJsonColumn } from "./json.ts";
import type { RunStatus } from "./types.ts";

export interface Experiment {
  id: number;
  name: string;
  config: unknown;
  createdAt: string;
  /** The dataset it trains on (null once that dataset is deleted, or when none was given). */
  datasetId?: number | null;
  /** It trains on the files its config names (`ftune train`, `ftune ablate`), not a dataset. */
  dataFiles?: boolean;
}

export interface Run {
  id: number;
  experimentId: number;
  fold: number;
  status: RunStatus;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  error: string | null;
  device: string | null;
  summary: unknown;
  /** Where it writes checkpoints and metrics, when not the data folder's runs/<id>. */
  dir: string | null;
  /** Checkpoints kept once it completes ('best' | 'best+final' | 'all'); null: the default. */
  keep: string | null;
}

interface ExperimentRecord {
  id: number;
  name: string;
  config: string;
  created_at: string;
  dataset_id: number | null;
  data_files: number;
}

interface RunRecord {
  id: number;
  experiment_id: number;
  fold: number;
  status: RunStatus;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  error: string | null;
  device: string | null;
  summary: string | null;
  dir: string | null;
  keep: string | null;
}

/**
 * Which statuses a run may move to from each status. `interrupted` (app crashed) and
 * `cancelled` runs may resume: they are queued again and continue from their saved state.
 */
export const RUN_TRANSITIONS: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  queued: ["running", "cancelled"],
  running: ["completed", "failed", "cancelled", "interrupted"],
  interrupted: ["queued", "running", "cancelled", "failed"],
  completed: [],
  failed: [],
  cancelled: ["queued"],
};

const ENDED: readonly RunStatus[] = ["completed", "failed", "cancelled", "interrupted"];

const toExperiment = (r: ExperimentRecord): Experiment => ({
  id: r.id,
  name: r.name,
  config: parseJsonColumn(r.config, `experiments row ${r.id}, config`),
  createdAt: r.created_at,
  datasetId: r.dataset_id,
  dataFiles: r.data_files === 1,
});

const toRun = (r: RunRecord): Run => ({
  id: r.id,
  experimentId: r.experiment_id,
  fold: r.fold,
  status: r.status,
  createdAt: r.created_at,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  error: r.error,
  device: r.device,
  summary: parseJsonColumn(r.summary, `runs row ${r.id}, summary`),
  dir: r.dir,
  keep: r.keep ?? null,
});

export async function createExperiment(
  db: Queryable,
  e: { name: string; config: unknown; datasetId?: number | null; dataFiles?: boolean },
): Promise<number> {
  const { lastID } = await db.run(
    "INSERT INTO experiments (name, config, created_at, dataset_id, data_files) VALUES (?, ?, ?, ?, ?)",
    [e.name, JSON.stringify(e.config ?? null), new Date().toISOString(), e.datasetId ?? null, e.dataFiles ? 1 : 0],
  );
  return lastID;
}

export async function listExperiments(db: Queryable): Promise<Experiment[]> {
  const rows = await db.all<ExperimentRecord>("SELECT * FROM experiments ORDER BY created_at DESC, id DESC");
  return rows.map(toExperiment);
}

export async function getExperiment(db: Queryable, id: number): Promise<Experiment | undefined> {
  const row = await db.get<ExperimentRecord>("SELECT * FROM experiments WHERE id = ?", [id]);
  return row && toExperiment(row);
}

/** Deletes the experiment with its runs, metrics and checkpoint records (files on disk are the caller's). */
export async function deleteExperiment(db: Queryable, id: number): Promise<boolean> {
  const { changes } = await db.run("DELETE FROM experiments WHERE id = ?", [id]);
  return changes > 0;
}

export async function createRun(
  db: Queryable,
  r: { experimentId: number; fold?: number; device?: string | null; dir?: string | null; keep?: string | null },
): Promise<number> {
  const { lastID } = await db.run(
    "INSERT INTO runs (experiment_id, fold, status, created_at, device, dir, keep) VALUES (?, ?, 'queued', ?, ?, ?, ?)",
    [r.experimentId, r.fold ?? 0, new Date().toISOString(), r.device ?? null, r.dir ?? null, r.keep ?? null],
  );
  return lastID;
}

export async function getRun(db: Queryable, id: number): Promise<Run | undefined> {
  const row = await db.get<RunRecord>("SELECT * FROM runs WHERE id = ?", [id]);
  return row && toRun(row);
}

export async function listRuns(db: Queryable, experimentId: number): Promise<Run[]> {
  const rows = await db.all<RunRecord>("SELECT * FROM runs WHERE experiment_id = ? ORDER BY fold, id", [experimentId]);
  return rows.map(toRun);
}

/** Every run, newest first. */
export async function listAllRuns(db: Queryable): Promise<Run[]> {
  const rows = await db.all<RunRecord>("SELECT * FROM runs ORDER BY id DESC");
  return rows.map(toRun);
}

/** Runs in one status, oldest first (e.g. the queue). */
export async function runsWithStatus(db: Queryable, status: RunStatus): Promise<Run[]> {
  const rows = await db.all<RunRecord>("SELECT * FROM runs WHERE status = ? ORDER BY id", [status]);
  return rows.map(toRun);
}

export interface RunPlan {
  totalSteps: number | null;
  /** Optimizer group names, in the order the engine reports LRs. */
  groups: string[];
}

/** Records what the engine reported when the run's fold started. */
export async function setRunPlan(db: Queryable, id: number, plan: RunPlan): Promise<void> {
  await db.run("UPDATE runs SET total_steps = ?, groups = ? WHERE id = ?", [
    plan.totalSteps,
    JSON.stringify(plan.groups),
    id,
  ]);
}

export async function getRunPlan(db: Queryable, id: number): Promise<RunPlan | undefined> {
  const row = await db.get<{ total_steps: number | null; groups: string | null }>(
    "SELECT total_steps, groups FROM runs WHERE id = ?",
    [id],
  );
  if (!row) return undefined;
  return {
    totalSteps: row.total_steps,
    groups: parseJsonColumn<string[]>(row.groups, `runs row ${id}, groups`) ?? [],
  };
}

/**
 * Moves a run to `status`, stamping started_at on the first start and ended_at when it stops.
 * Throws when the run does not exist or the move is not in RUN_TRANSITIONS.
 */
export async function setRunStatus(
  db: Queryable,
  id: number,
  status: RunStatus,
  extra: { error?: string | null; device?: string | null; summary?: unknown } = {},
): Promise<Run> {
  const from = (Object.keys(RUN_TRANSITIONS) as RunStatus[]).filter((s) => RUN_TRANSITIONS[s].includes(status));
  const now = new Date().toISOString();
  const row = await db.get<RunRecord>(
    `UPDATE runs SET
       status = ?,
       started_at = CASE WHEN ? = 'running' THEN COALESCE(started_at, ?) ELSE started_at END,
       ended_at = CASE WHEN ? THEN ? ELSE NULL END,
       error = CASE WHEN ? THEN ? ELSE error END,
       device = COALESCE(?, device),
       summary = CASE WHEN ? THEN ? ELSE summary END
     WHERE id = ? AND status IN (${from.map(() => "?").join(", ") || "NULL"})
     RETURNING *`,
    [
      status,
      status,
      now,
      ENDED.includes(status) ? 1 : 0,
      now,
      extra.error !== undefined ? 1 : 0,
      extra.error ?? null,
      extra.device ?? null,
      extra.summary !== undefined ? 1 : 0,
      extra.summary === undefined ? null : JSON.stringify(extra.summary),
      id,
      ...from,
    ],
  );
  if (row) return toRun(row);
  const current = await getRun(db, id);
  if (!current) throw new Error(`Run ${id} does not exist`);
  throw new Error(`Run ${id} cannot go from ${current.status} to ${status}`);
}

/**
 * At startup: runs still marked running belong to a process that died; mark them interrupted.
 * `keep`: runs another live process is training (left alone).
 */
export async function markInterruptedRuns(db: Queryable, keep: readonly number[] = []): Promise<number> {
  const { changes } = await db.run(
    `UPDATE runs SET status = 'interrupted', ended_at = ?, error = COALESCE(error, 'The app stopped while this run was training')
     WHERE status = 'running' AND id NOT IN (${keep.map(() => "?").join(", ")})`,
    [new Date().toISOString(), ...keep],
  );
  return changes;
}
