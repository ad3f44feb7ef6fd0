// What the import dialog shows before the user maps columns: names, inferred types, a preview
// and a suggested mapping. Reads only the first `sampleRows` records, so it is quick on any size.
import type { DatasetFormat, Task } from "../store/types.ts";
import { ProblemCollector, rowNumbering } from "./errors.ts";
import { openTable } from "./read.ts";
import { type Cell, cellOf, type ReadOptions } from "./table.ts";
import { parseNumber } from "./validate.ts";

export type ColumnType = "numeric" | "text" | "empty";

export interface ColumnInfo {
  name: string;
  /** numeric: every non-empty sampled value is a finite number; empty: no values in the sample. */
  type: ColumnType;
  /** Sampled rows with a value in this column. */
  filled: number;
  /** Distinct sampled values (capped by the sample size). */
  distinct: number;
  /** Mean length in characters of the sampled values. */
  meanChars: number;
}

export interface ColumnDetection {
  format: DatasetFormat;
  columns: ColumnInfo[];
  /** The first `previewRows` records, cells in `columns` order. */
  preview: { row: number; cells: Cell[] }[];
  sampledRows: number;
  suggested: { text?: string; label?: string; task?: Task; id?: string };
}

export interface DetectOptions extends ReadOptions {
  previewRows?: number;
  sampleRows?: number;
}

const LABEL_NAMES = ["target", "label", "labels", "score", "scores", "rating", "y", "value", "class", "category"];
const LABEL_HINT = /target|label|score|rating|grade/i;
const ID_NAMES = /^(id|uid|uuid|guid|key|.+[_ ]id)$/i;

/** Reads the start of a file and describes its columns. Throws a DatasetError if that part is malformed. */
export async function detectColumns(path: string, options: DetectOptions = {}): Promise<ColumnDetection> {
  const previewRows = options.previewRows ?? 20;
  const sampleRows = Math.max(previewRows, options.sampleRows ?? 1000);
  const scan = await openTable(path, options);
  const problems = new ProblemCollector(path);
  const records: { row: number; values: Record<string, Cell> }[] = [];
  read: for await (const batch of scan.batches(problems)) {
    for (const record of batch) {
      if (records.length >= sampleRows) break read;
      records.push(record);
    }
  }
  if (problems.count > 0) throw problems.toError(rowNumbering(scan.format));

  const names = [...scan.columns];
  const columns = names.map((name): ColumnInfo => {
    let filled = 0;
    let numeric = true;
    let chars = 0;
    const distinct = new Set<Cell>();
    for (const { values } of records) {
      const v = cellOf(values, name);
      if (v === null || (typeof v === "string" && v.trim() === "")) continue;
      filled++;
      distinct.add(v);
      chars += String(v).length;
      if (numeric && !parseNumber(v).ok) numeric = false;
    }
    const type: ColumnType = filled === 0 ? "empty" : numeric ? "numeric" : "text";
    return { name, type, filled, distinct: distinct.size, meanChars: filled ? chars / filled : 0 };
  });

  return {
    format: scan.format,
    columns,
    preview: records.slice(0, previewRows).map((r) => ({ row: r.row, cells: names.map((n) => cellOf(r.values, n)) })),
    sampledRows: records.length,
    suggested: suggest(columns, records.length),
  };
}

function suggest(columns: ColumnInfo[], rows: number): ColumnDetection["suggested"] {
  const nameRank = (c: ColumnInfo) => {
    const exact = LABEL_NAMES.indexOf(c.name.trim().toLowerCase());
    return exact >= 0 ? exact : LABEL_HINT.test(c.name) ? LABEL_NAMES.length : -1;
  };
  const byName = (list: ColumnInfo[]) =>
    list.filter((c) => nameRank(c) >= 0).sort((a, b) => nameRank(a) - nameRank(b))[0];

  const id = columns.find((c) => ID_NAMES.test(c.name.trim()) && c.filled === rows && c.distinct === rows);
  const candidates = columns.filter((c) => c !== id);
  const numericLabel = byName(candidates.filter((c) => c.type === "numeric"));
  const textLabel = numericLabel ? undefined : byName(candidates.filter((c) => c.type === "text" && c.distinct <= 50));
  const label = numericLabel ?? textLabel;
  const text = candidates.filter((c) => c.type === "text" && c !== label).sort((a, b) => b.meanChars - a.meanChars)[0];

  // A numeric label with two values (0/1) is almost always a binary class.
  const task: Task | undefined = numericLabel
    ? numericLabel.distinct <= 2
      ? "classification"
      : "regression"
    : textLabel
      ? "classification"
      : undefined;
  return { text: text?.name, label: label?.name, task, id: id?.name };
}
