// Dataset import: reading CSV/TSV/JSONL/Parquet, validation with actionable messages, stats.
export type { ColumnDetection, ColumnInfo, ColumnType, DetectOptions } from "./detect.ts";
export { detectColumns } from "./detect.ts";
export type { DatasetProblem } from "./errors.ts";
export { DatasetError, MAX_LISTED, ProblemCollector, rowLabel, rowNumbering } from "./errors.ts";
export type { ImportOptions, TokenLengths } from "./import.ts";
export { importDataset, MIN_ROWS_PER_FOLD } from "./import.ts";
export type { Table } from "./read.ts";
export { openTable, readTable } from "./read.ts";
export { formatFromPath } from "./source.ts";
export {
  charCount,
  DEFAULT_HISTOGRAM_BINS,
  DEFAULT_MAX_LENGTH,
  lengthStats,
  percentile,
  regressionStats,
} from "./stats.ts";
export type { Cell, ReadOptions, TableRecord, TableScan } from "./table.ts";
export { DEFAULT_BATCH_SIZE, DEFAULT_MAX_FILE_BYTES } from "./table.ts";
export type { ValidRow } from "./validate.ts";
export { parseNumber } from "./validate.ts";
