// The persisted data model shared by the store, the dataset importer, the CLI and the server.
// Inputs that come from users (mappings, tasks) have zod schemas so every entry point checks them alike.
import { z } from "zod";

export const TaskSchema = z.enum(["regression", "classification"]);
export type Task = z.infer<typeof TaskSchema>;

export const DatasetFormatSchema = z.enum(["csv", "tsv", "jsonl", "parquet"]);
export type DatasetFormat = z.infer<typeof DatasetFormatSchema>;

const columnName = z.string().min(1, "a column name cannot be empty");

/** Which source columns feed which role. Only text and label are required. */
export const ColumnMappingSchema = z
  .object({
    text: columnName,
    textPair: columnName.optional(),
    label: columnName,
    id: columnName.optional(),
    group: columnName.optional(),
    weight: columnName.optional(),
  })
  .strict();
export type ColumnMapping = z.infer<typeof ColumnMappingSchema>;
export type MappingRole = keyof ColumnMapping;

/** Nearest-rank percentiles over a list of lengths. */
export interface LengthStats {
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface RegressionLabelStats {
  kind: "regression";
  mean: number;
  /** Population standard deviation. */
  std: number;
  min: number;
  max: number;
  /** `counts[i]` labels fall in [edges[i], edges[i+1]); the last bin also holds `max`. */
  histogram: { edges: number[]; counts: number[] };
}

export interface ClassificationLabelStats {
  kind: "classification";
  /** Most frequent first; ties by label. */
  classes: { label: string; count: number }[];
}

export interface TokenLengthStats extends LengthStats {
  maxLength: number;
  /** Texts whose token count exceeds maxLength (they will be truncated). */
  overMaxLength: number;
  overMaxLengthShare: number;
}

export interface DatasetStats {
  rows: number;
  textChars: LengthStats;
  textPairChars?: LengthStats;
  label: RegressionLabelStats | ClassificationLabelStats;
  /** Distinct values of the group column, when one is mapped. */
  groups?: number;
  tokens?: TokenLengthStats;
}

export interface Dataset {
  id: number;
  name: string;
  sourcePath: string;
  format: DatasetFormat;
  task: Task;
  createdAt: string;
  rowCount: number;
  columns: string[];
  mapping: ColumnMapping;
  stats: DatasetStats | null;
}

export interface DatasetRow {
  /** 0-based position among the imported rows. */
  index: number;
  /** Row number in the source file, as import messages number rows. */
  sourceRow: number;
  text: string;
  textPair: string | null;
  /** A number for regression, the class name for classification. */
  label: number | string;
  id: string | null;
  group: string | null;
  weight: number | null;
}

export const RunStatusSchema = z.enum(["queued", "running", "completed", "failed", "cancelled", "interrupted"]);
export type RunStatus = z.infer<typeof RunStatusSchema>;

export const CheckpointKindSchema = z.enum(["best", "final"]);
export type CheckpointKind = z.infer<typeof CheckpointKindSchema>;
