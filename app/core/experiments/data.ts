// The rows an experiment trains on, read from the config's data files with the same
// validation (and messages) as a dataset import, then shaped for the native engine.

import type { TrainingData } from "../../native/addon.ts";
import { MIN_ROWS_PER_FOLD } from "../datasets/import.ts";
import type { ValidRow } from "../datasets/index.ts";
import { DatasetError } from "../datasets/index.ts";
import { openValidated } from "../datasets/valid-rows.ts";
import type { ColumnMapping } from "../store/types.ts";
import { ConfigError } from "./config-file.ts";
import type { ExperimentConfig, Task } from "./config-types.ts";

/** Reads and validates every row of a labelled file; throws a DatasetError listing problems. */
export async function readLabelledFile(path: string, mapping: ColumnMapping, task: Task): Promise<ValidRow[]> {
  const table = await openValidated(path, mapping, task);
  const rows: ValidRow[] = [];
  for await (const valid of table.batches()) for (const row of valid) rows.push(row);
  table.throwIfProblems();
  if (rows.length === 0) throw new DatasetError(path, [{ message: "The file has no data rows." }]);
  return rows;
}

/** Class names in a stable order: numerically when every name is a number, else by text. */
export function classNames(labels: Iterable<number | string>): string[] {
  const names = [...new Set([...labels].map(String))];
  const numeric = names.every((n) => n.trim() !== "" && Number.isFinite(Number(n)));
  return numeric ? names.sort((a, b) => Number(a) - Number(b)) : names.sort();
}

export interface ExperimentRows {
  data: TrainingData;
  trainRows: number;
  validRows: number;
}

/** Reads `data.train` (and `data.valid`) of a config into the engine's TrainingData. */
export async function loadExperimentData(config: ExperimentConfig): Promise<ExperimentRows> {
  const d = config.data;
  const mapping: ColumnMapping = { text: d.text, label: d.label };
  if (d.text_pair) mapping.textPair = d.text_pair;
  if (d.group && config.folds.strategy === "group" && !d.valid) mapping.group = d.group;
  const train = await readLabelledFile(d.train, mapping, config.task);
  if (!d.valid) {
    // The same floor as the API's (checkTrainable) and dataset imports.
    const k = config.folds.k;
    const needed = k * MIN_ROWS_PER_FOLD;
    if (train.length < needed) {
      throw new ConfigError(
        `folds.k is ${k} but ${d.train} has ${train.length} usable row${train.length === 1 ? "" : "s"}; ${k} folds need at least ${needed} (${MIN_ROWS_PER_FOLD} per fold). Add rows or use fewer folds.`,
      );
    }
  }
  const valid = d.valid ? await readLabelledFile(d.valid, { ...mapping, group: undefined }, config.task) : null;
  const classification = config.task === "classification";
  const labels = classification ? classNames([...train, ...(valid ?? [])].map((r) => r.label)) : undefined;
  const target = (r: ValidRow) => (labels ? labels.indexOf(String(r.label)) : Number(r.label));
  const data: TrainingData = {
    texts: train.map((r) => r.text),
    pairs: d.text_pair ? train.map((r) => r.textPair ?? "") : undefined,
    targets: train.map(target),
    groups: mapping.group ? train.map((r) => r.group ?? "") : undefined,
    labels,
  };
  if (valid) {
    data.validTexts = valid.map((r) => r.text);
    data.validPairs = d.text_pair ? valid.map((r) => r.textPair ?? "") : undefined;
    data.validTargets = valid.map(target);
  }
  return { data, trainRows: train.length, validRows: valid?.length ?? 0 };
}
