// Importing a file as a dataset: stream it, validate each record against the mapping, insert
// the good rows and accumulate stats, all inside one transaction. Any problem rolls the whole
// import back, so a failed import leaves no dataset and no rows; the DatasetError lists what
// to fix. Once a problem is found we stop inserting but keep reading to report the rest.
import { basename, extname, resolve } from "node:path";
import { z } from "zod";

import type { Queryable } from "../store/db.ts";
import { createDataset, finishDataset, getDataset, insertDatasetRows } from "../store/repo-datasets.ts";
import { type ColumnMapping, ColumnMappingSchema, type Dataset, type Task, TaskSchema } from "../store/types.ts";
import { DatasetError, type ProblemCollector } from "./errors.ts";
import { StatsCollector } from "./stats.ts";
import type { ReadOptions } from "./table.ts";
import { openValidated } from "./valid-rows.ts";
import type { ValidRow } from "./validate.ts";

/** Each fold's validation split needs a couple of rows for its metrics to mean anything. */
export const MIN_ROWS_PER_FOLD = 2;

export type TokenLengths = (texts: string[], pairs?: string[]) => number[] | Promise<number[]>;

export interface ImportOptions extends ReadOptions {
  path: string;
  /** Defaults to the file name without its extension. */
  name?: string;
  mapping: ColumnMapping;
  task: Task;
  /** Planned k for k-fold cross-validation: requires MIN_ROWS_PER_FOLD rows per fold. */
  folds?: number;
  /** Fewest usable rows accepted (default 1). */
  minRows?: number;
  /** Most rows accepted; reading stops once the file has more. */
  maxRows?: number;
  histogramBins?: number;
  /**
   * Counts tokens per text (e.g. with the model's tokenizer). Called once per batch of valid
   * rows, with the second texts when a text pair column is mapped; adds `stats.tokens`.
   */
  tokenLengths?: TokenLengths;
  /** Token budget the stats compare against (default 512). */
  maxLength?: number;
}

const count = z.number().int().positive().optional();
const OptionsSchema = z.object({
  path: z.string().min(1, "the file path is empty"),
  name: z.string().trim().min(1, "the dataset name is empty").optional(),
  mapping: ColumnMappingSchema,
  task: TaskSchema,
  folds: z.number().int().min(2, "k-fold cross-validation needs at least 2 folds").optional(),
  minRows: count,
  maxRows: count,
  maxFileBytes: count,
  batchSize: count,
  histogramBins: count,
  maxLength: count,
});

function checkOptions(options: ImportOptions): void {
  const parsed = OptionsSchema.safeParse(options);
  if (parsed.success) return;
  throw new DatasetError(
    options.path ?? "",
    parsed.error.issues.map((i) => ({
      message: `Import setting "${i.path.join(".") || "options"}" is invalid: ${i.message}.`,
    })),
  );
}

/** Imports a file as a dataset and returns it, or throws a DatasetError listing every problem. */
export async function importDataset(store: Queryable, options: ImportOptions): Promise<Dataset> {
  checkOptions(options);
  const { mapping, task } = options;
  const path = resolve(options.path);
  const table = await openValidated(path, mapping, task, options);
  const stats = new StatsCollector(task, { histogramBins: options.histogramBins });

  const id = await store.transaction(async (tx) => {
    const datasetId = await createDataset(tx, {
      name: options.name?.trim() || basename(path, extname(path)),
      sourcePath: path,
      format: table.format,
      task,
      mapping,
    });
    let index = 0;
    for await (const valid of table.batches()) {
      for (const row of valid) stats.add(row);
      if (table.problems.count > 0) continue; // the import will fail: skip the writes and the tokenizer
      await insertDatasetRows(
        tx,
        datasetId,
        valid.map((r) => ({ ...r, index: index++ })),
      );
      if (options.tokenLengths) await addTokenLengths(options.tokenLengths, valid, stats);
    }
    if (table.problems.count === 0) checkDataset(options, stats, table.problems);
    table.throwIfProblems();

    await finishDataset(tx, datasetId, {
      rowCount: stats.rows,
      columns: [...table.columns],
      stats: stats.finish(options.maxLength),
    });
    return datasetId;
  });
  const dataset = await getDataset(store, id);
  if (!dataset) throw new Error(`Dataset ${id} vanished right after its import`);
  return dataset;
}

async function addTokenLengths(fn: TokenLengths, rows: ValidRow[], stats: StatsCollector): Promise<void> {
  if (rows.length === 0) return;
  const texts = rows.map((r) => r.text);
  const pairs = rows[0]?.textPair !== null ? rows.map((r) => r.textPair ?? "") : undefined;
  const lengths = await fn(texts, pairs);
  if (lengths.length !== texts.length || lengths.some((n) => !Number.isFinite(n) || n < 0)) {
    throw new Error(
      `tokenLengths must return one non-negative count per text (got ${lengths.length} for ${texts.length})`,
    );
  }
  stats.addTokenLengths(lengths);
}

/** Whole-dataset checks, run once every row is valid. */
function checkDataset(options: ImportOptions, stats: StatsCollector, problems: ProblemCollector): void {
  const { mapping, task, folds } = options;
  const rows = stats.rows;
  const required = Math.max(options.minRows ?? 1, folds ? folds * MIN_ROWS_PER_FOLD : 0);
  if (rows < required) {
    problems.add({
      message: folds
        ? `The dataset has ${rows} usable row${rows === 1 ? "" : "s"}, but ${folds}-fold cross-validation needs at least ${MIN_ROWS_PER_FOLD} rows per fold (${required} rows). Add rows or use fewer folds.`
        : `The dataset has ${rows} usable row${rows === 1 ? "" : "s"}; at least ${required} are needed. Add rows.`,
    });
  }
  if (task === "classification" && stats.classes.size < 2) {
    const [only] = stats.classes.keys();
    problems.add({
      column: mapping.label,
      message: `Classification needs at least 2 different labels, but every row of column "${mapping.label}" has the label "${only}". Check that the right label column is mapped, or import the data for regression.`,
    });
  }
  if (task === "regression" && rows > 1) {
    const label = stats.labelStats();
    if (label.kind === "regression" && label.min === label.max) {
      problems.add({
        column: mapping.label,
        message: `Every label in column "${mapping.label}" is ${label.min}; a constant label leaves nothing to learn. Check that the right label column is mapped.`,
      });
    }
  }
}
