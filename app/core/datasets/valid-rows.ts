// A data file read as batches of validated rows: the one read-and-validate loop behind a
// dataset import and an experiment's data files, so both accept and reject the same files
// with the same messages. Problems are collected as they are found (reading goes on, to
// report them all); `throwIfProblems` ends with one DatasetError listing them.
import type { ColumnMapping, DatasetFormat, Task } from "../store/types.ts";
import { ProblemCollector, rowNumbering } from "./errors.ts";
import { openTable } from "./read.ts";
import type { ReadOptions } from "./table.ts";
import { RowValidator, type ValidRow } from "./validate.ts";

export interface ValidatedTable {
  format: DatasetFormat;
  /** The file's columns (JSON Lines: complete once `batches` is done). */
  columns: readonly string[];
  problems: ProblemCollector;
  /** The valid rows of each batch read; problems go to `problems`. */
  batches(): AsyncGenerator<ValidRow[]>;
  throwIfProblems(): void;
}

export interface ValidatedReadOptions extends ReadOptions {
  /** Most rows accepted; reading stops with a problem once the file has more. */
  maxRows?: number;
}

/** Opens `path` (file-level problems throw at once) for validation against `mapping`. */
export async function openValidated(
  path: string,
  mapping: ColumnMapping,
  task: Task,
  options: ValidatedReadOptions = {},
): Promise<ValidatedTable> {
  const scan = await openTable(path, options);
  const problems = new ProblemCollector(path);
  const note = rowNumbering(scan.format);
  const validator = new RowValidator(mapping, task, scan.format, problems);
  const maxRows = options.maxRows ?? Number.POSITIVE_INFINITY;
  // JSON Lines columns are only known at the end; the others know theirs before the first row.
  let columnsChecked = false;
  const checkColumns = () => {
    columnsChecked = true;
    if (!validator.checkColumns(scan.format === "jsonl" ? undefined : scan.columns)) throw problems.toError(note);
  };
  return {
    format: scan.format,
    columns: scan.columns,
    problems,
    async *batches() {
      let records = 0;
      for await (const batch of scan.batches(problems)) {
        if (!columnsChecked) checkColumns();
        const valid: ValidRow[] = [];
        for (const record of batch) {
          if (++records > maxRows) {
            problems.fatal(
              {
                message: `The file has more than ${maxRows} rows, the most this import accepts. Import a smaller file or raise the limit (maxRows).`,
              },
              note,
            );
          }
          const row = validator.check(record);
          if (row) valid.push(row);
        }
        yield valid;
      }
      if (!columnsChecked) checkColumns();
      validator.finish(scan.columns);
    },
    throwIfProblems() {
      if (problems.count > 0) throw problems.toError(note);
    },
  };
}
