// Datasets and their rows. Rows are written with multi-row INSERTs; call these inside one
// transaction (as importDataset does) so a dataset and its rows appear together or not at all.
import { insertMany } from "./bulk.ts";
import type { Queryable, SqlValue } from "./db.ts";
import { parseJsonColumn } from "./json.ts";
import {
  type ColumnMapping,
  ColumnMappingSchema,
  type Dataset,
  type DatasetFormat,
  type DatasetRow,
  type DatasetStats,
  type Task,
} from "./types.ts";

export interface NewDataset {
  name: string;
  sourcePath: string;
  format: DatasetFormat;
  task: Task;
  mapping: ColumnMapping;
  columns?: string[];
  rowCount?: number;
  stats?: DatasetStats | null;
}

export type NewDatasetRow = DatasetRow;

interface DatasetRecord {
  id: number;
  name: string;
  source_path: string;
  format: DatasetFormat;
  task: Task;
  created_at: string;
  row_count: number;
  columns: string;
  mapping: string;
  stats: string | null;
}

interface RowRecord {
  row_index: number;
  source_row: number;
  text: string;
  text_pair: string | null;
  label: number | null;
  label_text: string | null;
  row_id: string | null;
  group_key: string | null;
  weight: number | null;
}

const ROW_COLUMNS = [
  "dataset_id",
  "row_index",
  "source_row",
  "text",
  "text_pair",
  "label",
  "label_text",
  "row_id",
  "group_key",
  "weight",
] as const;

function toDataset(r: DatasetRecord): Dataset {
  const where = `datasets row ${r.id}`;
  return {
    id: r.id,
    name: r.name,
    sourcePath: r.source_path,
    format: r.format,
    task: r.task,
    createdAt: r.created_at,
    rowCount: r.row_count,
    columns: parseJsonColumn<string[]>(r.columns, `${where}, columns`) ?? [],
    mapping: ColumnMappingSchema.parse(parseJsonColumn(r.mapping, `${where}, mapping`)),
    stats: parseJsonColumn<DatasetStats>(r.stats, `${where}, stats`),
  };
}

export async function createDataset(db: Queryable, d: NewDataset): Promise<number> {
  const { lastID } = await db.run(
    `INSERT INTO datasets (name, source_path, format, task, created_at, row_count, columns, mapping, stats)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      d.name,
      d.sourcePath,
      d.format,
      d.task,
      new Date().toISOString(),
      d.rowCount ?? 0,
      JSON.stringify(d.columns ?? []),
      JSON.stringify(ColumnMappingSchema.parse(d.mapping)),
      d.stats ? JSON.stringify(d.stats) : null,
    ],
  );
  return lastID;
}

/** Sets what is only known once all rows are in: the count, the final column list and the stats. */
export async function finishDataset(
  db: Queryable,
  id: number,
  done: { rowCount: number; columns: string[]; stats: DatasetStats },
): Promise<void> {
  await db.run("UPDATE datasets SET row_count = ?, columns = ?, stats = ? WHERE id = ?", [
    done.rowCount,
    JSON.stringify(done.columns),
    JSON.stringify(done.stats),
    id,
  ]);
}

export async function insertDatasetRows(
  db: Queryable,
  datasetId: number,
  rows: readonly NewDatasetRow[],
): Promise<void> {
  const values = rows.map((r): SqlValue[] => [
    datasetId,
    r.index,
    r.sourceRow,
    r.text,
    r.textPair,
    typeof r.label === "number" ? r.label : null,
    typeof r.label === "string" ? r.label : null,
    r.id,
    r.group,
    r.weight,
  ]);
  await insertMany(db, "dataset_rows", ROW_COLUMNS, values);
}

export async function listDatasets(db: Queryable): Promise<Dataset[]> {
  const rows = await db.all<DatasetRecord>("SELECT * FROM datasets ORDER BY created_at DESC, id DESC");
  return rows.map(toDataset);
}

export async function getDataset(db: Queryable, id: number): Promise<Dataset | undefined> {
  const row = await db.get<DatasetRecord>("SELECT * FROM datasets WHERE id = ?", [id]);
  return row && toDataset(row);
}

/** Rows in import order; page with offset/limit (default: all). */
export async function getDatasetRows(
  db: Queryable,
  datasetId: number,
  page: { offset?: number; limit?: number } = {},
): Promise<DatasetRow[]> {
  const rows = await db.all<RowRecord>(
    `SELECT row_index, source_row, text, text_pair, label, label_text, row_id, group_key, weight
     FROM dataset_rows WHERE dataset_id = ? AND row_index >= ? ORDER BY row_index LIMIT ?`,
    [datasetId, page.offset ?? 0, page.limit ?? -1],
  );
  return rows.map((r) => ({
    index: r.row_index,
    sourceRow: r.source_row,
    text: r.text,
    textPair: r.text_pair,
    label: r.label_text ?? r.label ?? Number.NaN,
    id: r.row_id,
    group: r.group_key,
    weight: r.weight,
  }));
}

export async function countDatasetRows(db: Queryable, datasetId: number): Promise<number> {
  const row = await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM dataset_rows WHERE dataset_id = ?", [datasetId]);
  return row?.n ?? 0;
}

/** Deletes a dataset and (by cascade) its rows. Returns false when there was no such dataset. */
export async function deleteDataset(db: Queryable, id: number): Promise<boolean> {
  const { changes } = await db.run("DELETE FROM datasets WHERE id = ?", [id]);
  return changes > 0;
}
