// Experiments over imported datasets: the config's data section comes from the dataset (its
// file, column mapping and task), and runs train on the rows stored at import, one fold each.
import type { TrainingData } from "../../native/addon.ts";
import type { Queryable } from "../store/db.ts";
import { getDatasetRows } from "../store/repo-datasets.ts";
import type { Dataset } from "../store/types.ts";
import type { ExperimentConfig } from "./config-types.ts";
import { classNames } from "./data.ts";

type Plain = Record<string, unknown>;

/** A user's config with `task` and `data` set from the dataset (the model defaults to the bundled one). */
export function configForDataset(raw: Plain, dataset: Dataset): Plain {
  const given = (typeof raw.data === "object" && raw.data !== null ? raw.data : {}) as Plain;
  const m = dataset.mapping;
  return {
    model: "bundled",
    ...raw,
    task: dataset.task,
    data: {
      ...given,
      train: dataset.sourcePath,
      valid: null,
      text: m.text,
      text_pair: m.textPair ?? null,
      label: m.label,
      group: m.group ?? null,
    },
  };
}

/** The config one run trains: the experiment's, restricted to one fold. */
export function foldConfig(config: ExperimentConfig, fold: number): ExperimentConfig {
  return { ...config, folds: { ...config.folds, run: config.data.valid ? "all" : [fold] } };
}

/** Class names of a classification dataset, in the index order the engine trains with. */
export function datasetLabels(dataset: Dataset): string[] | undefined {
  if (dataset.task !== "classification" || dataset.stats?.label.kind !== "classification") return undefined;
  return classNames(dataset.stats.label.classes.map((c) => c.label));
}

/** Every stored row of the dataset, shaped for the engine. */
export async function datasetTrainingData(
  db: Queryable,
  dataset: Dataset,
  config: ExperimentConfig,
): Promise<TrainingData> {
  const rows = await getDatasetRows(db, dataset.id);
  const labels =
    dataset.task === "classification" ? (datasetLabels(dataset) ?? classNames(rows.map((r) => r.label))) : undefined;
  const grouped = config.folds.strategy === "group";
  return {
    texts: rows.map((r) => r.text),
    pairs: dataset.mapping.textPair ? rows.map((r) => r.textPair ?? "") : undefined,
    targets: rows.map((r) => (labels ? labels.indexOf(String(r.label)) : Number(r.label))),
    groups: grouped ? rows.map((r) => r.group ?? "") : undefined,
    labels,
  };
}
