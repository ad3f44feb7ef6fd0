// What the API handlers share: the store, the data folder, the run queue, the models library,
// the downloads by id and the event hub, plus look-ups that turn a missing id into a 404.
import { notFound } from "../api/errors.ts";
import type { EventHub } from "../events.ts";
import type { RayBridge } from "../runs/ray/bridge.ts";
import type { RunService } from "../runs/service.ts";
import type { Queryable } from "../store/db.ts";
import { getDataset } from "../store/repo-datasets.ts";
import { type Experiment, getExperiment, getRun, type Run } from "../store/repo-experiments.ts";
import type { Dataset } from "../store/types.ts";
import type { ModelDownloads } from "./downloads.ts";
import type { ModelLibrary } from "./models.ts";
import type { SweepService } from "./sweeps.ts";

export interface Context {
  store: Queryable;
  dataDir: string;
  events: EventHub;
  runs: RunService;
  models: ModelLibrary;
  downloads: ModelDownloads;
  /** The Ray driver when runs train on Ray (`--backend ray`). */
  ray?: RayBridge;
  /** Sweeps on Ray Tune (set by openCore). */
  sweeps?: SweepService;
  /** Why the saved Ray backend could not start (the app then trains locally). */
  backendProblem?: string;
}

export async function datasetOr404(db: Queryable, id: number): Promise<Dataset> {
  const dataset = await getDataset(db, id);
  if (!dataset) throw notFound(`Dataset ${id} does not exist`);
  return dataset;
}

export async function experimentOr404(db: Queryable, id: number): Promise<Experiment> {
  const experiment = await getExperiment(db, id);
  if (!experiment) throw notFound(`Experiment ${id} does not exist`);
  return experiment;
}

export async function runOr404(db: Queryable, id: number): Promise<Run> {
  const run = await getRun(db, id);
  if (!run) throw notFound(`Run ${id} does not exist`);
  return run;
}
