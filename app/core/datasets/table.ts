// The shape every reader produces: named columns and records of plain cells, with the record's
// row number as messages report it (see rowNumbering in errors.ts).
import type { DatasetFormat } from "../store/types.ts";
import type { DatasetProblem, ProblemCollector } from "./errors.ts";

export type Cell = string | number | null;

export interface TableRecord {
  /** 1-based row number in the file's own convention (header is row 1 in CSV/TSV; line number in JSONL). */
  row: number;
  values: Record<string, Cell>;
}

export interface ReadOptions {
  /** Overrides detection by file extension. */
  format?: DatasetFormat;
  /** Files larger than this are refused before any byte is read. Default 1 GiB. */
  maxFileBytes?: number;
  /** CSV field separator; default "," for csv and tab for tsv. */
  delimiter?: string;
  /** Records per yielded batch. Default 1000. */
  batchSize?: number;
}

export const DEFAULT_MAX_FILE_BYTES = 1024 ** 3;
export const DEFAULT_BATCH_SIZE = 1000;

/** An opened file, read as it is iterated, so memory holds one batch (one row group for Parquet). */
export interface TableScan {
  readonly path: string;
  readonly format: DatasetFormat;
  /**
   * Column names. Known on open for Parquet, after the first batch for CSV/TSV (the header),
   * and for JSON Lines it grows as keys appear: final once batches() is exhausted.
   */
  readonly columns: readonly string[];
  /**
   * Yields records in batches. Row-level problems (a malformed line, a wrong field count) go to
   * `problems` and the record is skipped; file-level ones throw a DatasetError.
   */
  batches(problems: ProblemCollector): AsyncGenerator<TableRecord[]>;
}

/**
 * Names columns from a header: trims them, names blank ones after their position (pandas writes
 * a blank name for its index column) and reports names used twice.
 */
export function headerNames(raw: readonly string[], row?: number): { names: string[]; problems: DatasetProblem[] } {
  const names = raw.map((name, i) => name.trim() || `unnamed_${i + 1}`);
  const positions = new Map<string, number[]>();
  names.forEach((n, i) => {
    const at = positions.get(n) ?? [];
    at.push(i + 1);
    positions.set(n, at);
  });
  const problems: DatasetProblem[] = [];
  for (const [name, at] of positions) {
    if (at.length < 2) continue;
    problems.push({
      row,
      message: `Column name "${name}" appears ${at.length} times in the header (columns ${at.join(", ")}). Rename the copies so that every column name is unique.`,
    });
  }
  return { names, problems };
}

/** Sets a cell; a column named "__proto__" becomes an ordinary own property, not the prototype. */
export function setCell(values: Record<string, Cell>, column: string, value: Cell): void {
  if (column === "__proto__")
    Object.defineProperty(values, column, { value, enumerable: true, writable: true, configurable: true });
  else values[column] = value;
}

/** Reads a cell; null when the record lacks the column (never an inherited property like "constructor"). */
export function cellOf(values: Record<string, Cell>, column: string): Cell {
  return Object.hasOwn(values, column) ? (values[column] ?? null) : null;
}

/** Converts what JSON or Parquet hands us into a cell: text, a finite-or-not number, or null. */
export function toCell(value: unknown): Cell {
  if (value === null || value === undefined) return null;
  if (typeof value === "string" || typeof value === "number") return value;
  if (typeof value === "bigint") {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (typeof value === "boolean") return value ? "true" : "false";
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
}
