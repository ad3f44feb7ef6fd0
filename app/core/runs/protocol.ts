// Messages between a run's parent process and its training worker (one child per run).
import type { Summary } from "../../engine/training.ts";
import type { TrainEvent, TrainingData } from "../../native/addon.ts";

export interface StartJob {
  /** Normalized config for this one fold (folds.run = [fold]). */
  configJson: string;
  data: TrainingData;
  /** `<dataDir>/runs/<runId>`: checkpoints and the resumable state land here. */
  outDir: string;
  /** Continue from the fold's saved state in outDir. */
  resume: boolean;
  /** How often the engine writes the resumable state (seconds; engine default when absent). */
  stateIntervalSeconds?: number;
  /** The engine's CPU threads (runs trained at once split the cores); libtorch's default when absent. */
  threads?: number;
}

export type ParentMessage = ({ type: "start" } & StartJob) | { type: "cancel" };

export type ChildMessage =
  | { type: "event"; event: TrainEvent }
  | { type: "done"; summary: Summary }
  | { type: "error"; message: string; cancelled: boolean };
