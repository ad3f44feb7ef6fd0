// Checkpoint records: at most one 'best' and one 'final' per run; saving again replaces the
// record (the trainer overwrites the best checkpoint each time the metric improves).
import type { Queryable } from "./db.ts";
import type { CheckpointKind } from "./types.ts";

export interface Checkpoint {
  id: number;
  runId: number;
  kind: CheckpointKind;
  path: string;
  step: number;
  metric: number | null;
  createdAt: string;
}

interface CheckpointRecord {
  id: number;
  run_id: number;
  kind: CheckpointKind;
  path: string;
  step: number;
  metric: number | null;
  created_at: string;
}

const toCheckpoint = (r: CheckpointRecord): Checkpoint => ({
  id: r.id,
  runId: r.run_id,
  kind: r.kind,
  path: r.path,
  step: r.step,
  metric: r.metric,
  createdAt: r.created_at,
});

export async function saveCheckpoint(
  db: Queryable,
  c: { runId: number; kind: CheckpointKind; path: string; step: number; metric?: number | null },
): Promise<Checkpoint> {
  const row = await db.get<CheckpointRecord>(
    `INSERT INTO checkpoints (run_id, kind, path, step, metric, created_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (run_id, kind) DO UPDATE SET
       path = excluded.path, step = excluded.step, metric = excluded.metric, created_at = excluded.created_at
     RETURNING *`,
    [c.runId, c.kind, c.path, c.step, c.metric ?? null, new Date().toISOString()],
  );
  if (!row) throw new Error(`Saving the ${c.kind} checkpoint of run ${c.runId} returned no row`);
  return toCheckpoint(row);
}

export async function listCheckpoints(db: Queryable, runId: number): Promise<Checkpoint[]> {
  const rows = await db.all<CheckpointRecord>("SELECT * FROM checkpoints WHERE run_id = ? ORDER BY kind", [runId]);
  return rows.map(toCheckpoint);
}

/** Forgets a run's checkpoint records (a run starting over writes new ones). */
export async function deleteCheckpoints(db: Queryable, runId: number): Promise<number> {
  const { changes } = await db.run("DELETE FROM checkpoints WHERE run_id = ?", [runId]);
  return changes;
}
