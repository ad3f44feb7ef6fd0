// Known model folders: bundled ones ship with the app, others were added or produced by training.
import type { Queryable } from "./db.ts";
import { parseJsonColumn } from "./json.ts";

export interface Model {
  id: number;
  name: string;
  path: string;
  /** Whatever the engine reports about the model (architecture, sizes, labels). */
  summary: Record<string, unknown>;
  bundled: boolean;
  createdAt: string;
}

export interface NewModel {
  name: string;
  path: string;
  summary?: Record<string, unknown>;
  bundled?: boolean;
}

interface ModelRecord {
  id: number;
  name: string;
  path: string;
  summary: string;
  bundled: number;
  created_at: string;
}

function toModel(r: ModelRecord): Model {
  return {
    id: r.id,
    name: r.name,
    path: r.path,
    summary: parseJsonColumn<Record<string, unknown>>(r.summary, `models row ${r.id}, summary`) ?? {},
    bundled: r.bundled === 1,
    createdAt: r.created_at,
  };
}

/** Registers a model folder; registering the same path again updates its name, summary and flag. */
export async function saveModel(db: Queryable, m: NewModel): Promise<Model> {
  const row = await db.get<ModelRecord>(
    `INSERT INTO models (name, path, summary, bundled, created_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (path) DO UPDATE SET name = excluded.name, summary = excluded.summary, bundled = excluded.bundled
     RETURNING *`,
    [m.name, m.path, JSON.stringify(m.summary ?? {}), m.bundled ? 1 : 0, new Date().toISOString()],
  );
  if (!row) throw new Error(`Saving model ${m.path} returned no row`);
  return toModel(row);
}

export async function listModels(db: Queryable): Promise<Model[]> {
  const rows = await db.all<ModelRecord>("SELECT * FROM models ORDER BY bundled DESC, name, id");
  return rows.map(toModel);
}

export async function getModel(db: Queryable, id: number): Promise<Model | undefined> {
  const row = await db.get<ModelRecord>("SELECT * FROM models WHERE id = ?", [id]);
  return row && toModel(row);
}

export async function deleteModel(db: Queryable, id: number): Promise<boolean> {
  const { changes } = await db.run("DELETE FROM models WHERE id = ?", [id]);
  return changes > 0;
}
