// Import problems. Each problem is one self-contained sentence that says where (row, column),
// what is wrong and what to do; they are gathered so the user can fix a file in one pass instead
// of one error per attempt, and capped so a file with 100k bad labels gives a readable message.
import { basename } from "node:path";

import type { DatasetFormat } from "../store/types.ts";

export interface DatasetProblem {
  /** 1-based, as `rowNumbering(format)` explains. */
  row?: number;
  column?: string;
  message: string;
}

/** How many problems a DatasetError lists; the rest are counted in `more`. */
export const MAX_LISTED = 20;

export class DatasetError extends Error {
  override readonly name = "DatasetError";
  readonly file: string;
  /** At most MAX_LISTED problems, file-level ones first, then by row. */
  readonly problems: DatasetProblem[];
  /** Problems found but not listed. */
  readonly more: number;

  constructor(file: string, problems: DatasetProblem[], more = 0, note?: string) {
    const total = problems.length + more;
    const lines = problems.map((p) => `  - ${p.message}`);
    if (more > 0) lines.push(`  …and ${more} more problem${more === 1 ? "" : "s"}.`);
    const rowsMentioned = problems.some((p) => p.row !== undefined);
    const head =
      total === 1 && problems[0]
        ? `Cannot import ${basename(file)}: ${problems[0].message}`
        : `Cannot import ${basename(file)} (${total} problems):\n${lines.join("\n")}`;
    super(rowsMentioned && note ? `${head}\n${note}` : head);
    this.file = file;
    this.problems = problems;
    this.more = more;
  }
}

/** How messages number rows in each format. */
export function rowNumbering(format: DatasetFormat): string {
  switch (format) {
    case "csv":
    case "tsv":
      return "Rows are numbered as a spreadsheet shows them: the header is row 1, the first data row is row 2.";
    case "jsonl":
      return "Line numbers are the file's line numbers, counting from 1.";
    case "parquet":
      return "Rows are numbered from 1 at the first row of the file.";
  }
}

/** "Row 7" or, for JSON Lines where each record is a line, "Line 7". */
export function rowLabel(format: DatasetFormat, row: number): string {
  return format === "jsonl" ? `Line ${row}` : `Row ${row}`;
}

/**
 * Collects problems while a file streams by. Keeps up to MAX_LISTED per column (and for problems
 * without a column) plus counts, so `replaceColumn` can swap 100k "empty label" rows for one
 * "the label column is empty" problem and still list the other columns' problems.
 */
export class ProblemCollector {
  readonly #file: string;
  readonly #kept = new Map<string, DatasetProblem[]>();
  readonly #counts = new Map<string, number>();
  #order = 0;
  readonly #seq = new WeakMap<DatasetProblem, number>();

  constructor(file: string) {
    this.#file = file;
  }

  get count(): number {
    let n = 0;
    for (const c of this.#counts.values()) n += c;
    return n;
  }

  add(problem: DatasetProblem): void {
    const key = problem.column ?? "";
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
    const kept = this.#kept.get(key) ?? [];
    if (kept.length < MAX_LISTED) {
      this.#seq.set(problem, this.#order++);
      kept.push(problem);
      this.#kept.set(key, kept);
    }
  }

  /** Drops every problem recorded for `column` and records `problem` in their place. */
  replaceColumn(column: string, problem: Omit<DatasetProblem, "column">): void {
    this.#kept.delete(column);
    this.#counts.delete(column);
    this.add({ ...problem, column });
  }

  toError(note?: string): DatasetError {
    const all = [...this.#kept.values()].flat();
    all.sort((a, b) => (a.row ?? 0) - (b.row ?? 0) || (this.#seq.get(a) ?? 0) - (this.#seq.get(b) ?? 0));
    const listed = all.slice(0, MAX_LISTED);
    return new DatasetError(this.#file, listed, this.count - listed.length, note);
  }

  /** Records `problem` and throws everything collected so far. */
  fatal(problem: DatasetProblem, note?: string): never {
    this.add(problem);
    throw this.toError(note);
  }
}

/** Throws a DatasetError holding a single file-level problem. */
export function fail(file: string, message: string): never {
  throw new DatasetError(file, [{ message }]);
}
