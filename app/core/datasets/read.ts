// Reading a data file of any supported format into columns and records.
import type { DatasetFormat } from "../store/types.ts";
import { ProblemCollector, rowNumbering } from "./errors.ts";
import { csvTable } from "./read-csv.ts";
import { jsonlTable } from "./read-jsonl.ts";
import { parquetTable } from "./read-parquet.ts";
import { checkFile, formatFromPath } from "./source.ts";
import {
  DEFAULT_BATCH_SIZE,
  DEFAULT_MAX_FILE_BYTES,
  type ReadOptions,
  type TableRecord,
  type TableScan,
} from "./table.ts";

export interface Table {
  format: DatasetFormat;
  columns: string[];
  rows: TableRecord[];
}

/**
 * Checks the file (exists, readable, not empty, under the size limit, text encoding) and returns
 * a scan that parses it as it is iterated. Throws a DatasetError for any file-level problem.
 */
export async function openTable(path: string, options: ReadOptions = {}): Promise<TableScan> {
  const format = options.format ?? formatFromPath(path);
  await checkFile(path, format, options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES);
  const batchSize = Math.max(1, options.batchSize ?? DEFAULT_BATCH_SIZE);
  switch (format) {
    case "csv":
      return csvTable(path, format, options.delimiter ?? ",", batchSize);
    case "tsv":
      return csvTable(path, format, options.delimiter ?? "\t", batchSize);
    case "jsonl":
      return jsonlTable(path, batchSize);
    case "parquet":
      return parquetTable(path, batchSize);
  }
}

/**
 * Reads a whole file (or its first `maxRows` records) into memory. For large files prefer
 * `openTable` and iterate; importDataset does. Throws a DatasetError listing every problem.
 */
export async function readTable(path: string, options: ReadOptions & { maxRows?: number } = {}): Promise<Table> {
  const scan = await openTable(path, options);
  const problems = new ProblemCollector(path);
  const rows: TableRecord[] = [];
  const max = options.maxRows ?? Number.POSITIVE_INFINITY;
  read: for await (const batch of scan.batches(problems)) {
    for (const record of batch) {
      if (rows.length >= max) break read;
      rows.push(record);
    }
  }
  if (problems.count > 0) throw problems.toError(rowNumbering(scan.format));
  return { format: scan.format, columns: [...scan.columns], rows };
}
