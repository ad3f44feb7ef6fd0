// Sweeps (a search over config fields on Ray Tune) and their trials, each trial one experiment
// with one run. The store, not experiment names, knows which experiments are trials.
import type { Queryable } from "./db.ts";
import { parseJsonColumn } from "./json.ts";

export type SweepStatus = "running" | "completed" | "failed" | "cancelled" | "interrupted";
export type TrialStatus = "running" | "completed" | "stopped" | "failed" | "cancelled";

export interface SweepRecordOut {
  id: number;
  name: string;
  spec: Record<string, unknown>;
  datasetId: number | null;
  status: SweepStatus;
  outDir: string;
  bestParams: Record<string, unknown> | null;
  bestConfigPath: string | null;
  error: string | null;
  createdAt: string;
  endedAt: string | null;
}

export interface TrialRecordOut {
  sweepId: number;
  key: string;
  experimentId: number;
  params: Record<string, unknown>;
  status: TrialStatus;
  evaluations: number;
  metric: number | null;
}

interface SweepRow {
  id: number;
  name: string;
  spec: string;
  dataset_id: number | null;
  status: SweepStatus;
  out_dir: string;
  best_params: string | null;
  best_config_path: string | null;
  error: string | null;
  created_at: string;
  ended_at: string | null;
}

interface TrialRow {
  sweep_id: number;
  key: string;
  experiment_id: number;
  params: string;
  status: TrialStatus;
  evaluations: number;
  metric: number | null;
}

const toSweep = (r: SweepRow): SweepRecordOut => ({
  id: r.id,
  name: r.name,
  spec: parseJsonColumn(r.spec, `sweeps row ${r.id}, spec`) as Record<string, unknown>,
  datasetId: r.dataset_id,
  status: r.status,
  outDir: r.out_dir,
  bestParams: parseJsonColumn(r.best_params, `sweeps row ${r.id}, best_params`) as Record<string, unknown> | null,
  bestConfigPath: r.best_config_path,
  error: r.error,
  createdAt: r.created_at,
  endedAt: r.ended_at,
});

const toTrial = (r: TrialRow): TrialRecordOut => ({
  sweepId: r.sweep_id,
  key: r.key,
  experimentId: r.experiment_id,
  params: parseJsonColumn(r.params, `sweep_trials ${r.sweep_id}/${r.key}, params`) as Record<string, unknown>,
  status: r.status,
  evaluations: r.evaluations,
  metric: r.metric,
});

/** The sweep writing into `outDir`, or a new one (a rerun with the same folder resumes it). */
export async function sweepForFolder(
  db: Queryable,
  s: { name: string; spec: unknown; outDir: string; datasetId?: number | null },
): Promise<SweepRecordOut> {
  const existing = await db.get<SweepRow>("SELECT * FROM sweeps WHERE out_dir = ?", [s.outDir]);
  if (existing) {
    const row = await db.get<SweepRow>(
      "UPDATE sweeps SET status = 'running', error = NULL, ended_at = NULL WHERE id = ? RETURNING *",
      [existing.id],
    );
    return toSweep(row as SweepRow);
  }
  const { lastID } = await db.run(
    "INSERT INTO sweeps (name, spec, dataset_id, status, out_dir, created_at) VALUES (?, ?, ?, 'running', ?, ?)",
    [s.name, JSON.stringify(s.spec), s.datasetId ?? null, s.outDir, new Date().toISOString()],
  );
  return (await getSweep(db, lastID)) as SweepRecordOut;
}

export async function getSweep(db: Queryable, id: number): Promise<SweepRecordOut | undefined> {
  const row = await db.get<SweepRow>("SELECT * FROM sweeps WHERE id = ?", [id]);
  return row && toSweep(row);
}

export async function listSweeps(db: Queryable): Promise<SweepRecordOut[]> {
  return (await db.all<SweepRow>("SELECT * FROM sweeps ORDER BY id DESC")).map(toSweep);
}

export async function sweepsWithStatus(db: Queryable, status: SweepStatus): Promise<SweepRecordOut[]> {
  return (await db.all<SweepRow>("SELECT * FROM sweeps WHERE status = ? ORDER BY id", [status])).map(toSweep);
}

/** Ends a sweep (or records its best so far); `best` only when Tune gave one. */
export async function finishSweep(
  db: Queryable,
  id: number,
  status: SweepStatus,
  extra: { error?: string | null; bestParams?: unknown; bestConfigPath?: string } = {},
): Promise<void> {
  await db.run(
    `UPDATE sweeps SET status = ?, error = ?, ended_at = ?,
       best_params = COALESCE(?, best_params), best_config_path = COALESCE(?, best_config_path)
     WHERE id = ?`,
    [
      status,
      extra.error ?? null,
      status === "running" ? null : new Date().toISOString(),
      extra.bestParams === undefined ? null : JSON.stringify(extra.bestParams),
      extra.bestConfigPath ?? null,
      id,
    ],
  );
}

export async function listTrials(db: Queryable, sweepId: number): Promise<TrialRecordOut[]> {
  const rows = await db.all<TrialRow>("SELECT * FROM sweep_trials WHERE sweep_id = ? ORDER BY experiment_id", [
    sweepId,
  ]);
  return rows.map(toTrial);
}

export async function getTrial(db: Queryable, sweepId: number, key: string): Promise<TrialRecordOut | undefined> {
  const row = await db.get<TrialRow>("SELECT * FROM sweep_trials WHERE sweep_id = ? AND key = ?", [sweepId, key]);
  return row && toTrial(row);
}

export async function addTrial(
  db: Queryable,
  t: { sweepId: number; key: string; experimentId: number; params: unknown },
): Promise<void> {
  await db.run("INSERT INTO sweep_trials (sweep_id, key, experiment_id, params) VALUES (?, ?, ?, ?)", [
    t.sweepId,
    t.key,
    t.experimentId,
    JSON.stringify(t.params),
  ]);
}

export async function updateTrial(
  db: Queryable,
  sweepId: number,
  key: string,
  u: { status?: TrialStatus; evaluations?: number; metric?: number | null },
): Promise<void> {
  await db.run(
    `UPDATE sweep_trials SET status = COALESCE(?, status), evaluations = COALESCE(?, evaluations),
       metric = CASE WHEN ? THEN ? ELSE metric END
     WHERE sweep_id = ? AND key = ?`,
    [u.status ?? null, u.evaluations ?? null, u.metric !== undefined ? 1 : 0, u.metric ?? null, sweepId, key],
  );
}

/** The sweep an experiment is a trial of, if any. */
export async function sweepOfExperiment(db: Queryable, experimentId: number): Promise<number | null> {
  const row = await db.get<{ sweep_id: number }>("SELECT sweep_id FROM sweep_trials WHERE experiment_id = ?", [
    experimentId,
  ]);
  return row?.sweep_id ?? null;
}

/** Every experiment that is a trial, with its trial. */
export async function trialExperiments(db: Queryable): Promise<Map<number, TrialRecordOut>> {
  const rows = await db.all<TrialRow>("SELECT * FROM sweep_trials");
  return new Map(rows.map((r) => [r.experiment_id, toTrial(r)]));
}

/** A trial restarted by a resumed sweep trains again from the start: its old run goes. */
export async function dropTrialRuns(db: Queryable, experimentId: number): Promise<void> {
  await db.run("DELETE FROM runs WHERE experiment_id = ?", [experimentId]);
}
