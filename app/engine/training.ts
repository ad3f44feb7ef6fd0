// Runs an experiment on the native engine's background thread and turns its event stream into
// a promise. The job object is kept referenced until the run ends (dropping it cancels).
import { native, type StartOptions, type TrainEvent, type TrainingData } from "../native/addon.ts";

export interface FoldOutcome {
  fold: number;
  best_metric: number;
  best_step: number;
  best_source: "live" | "swa";
  best_metrics: Record<string, number>;
  final_metrics: Record<string, number>;
  steps: number;
  epochs: number;
  stopped_early: boolean;
  /** Wall time of the loop, evaluations included. */
  train_seconds: number;
  eval_seconds: number;
  /** Training throughput, evaluation time excluded. */
  train_samples_per_second: number;
  best_dir: string | null;
  final_dir: string | null;
  reinitialized: number;
  precision: "bf16" | "fp32";
}

export interface Summary {
  metric: string;
  folds: FoldOutcome[];
  mean: number;
  std: number;
  final_mean: number;
  final_std: number;
  train_samples_per_second: number;
  seconds: number;
  device: string;
}

/** A run that failed (message says what to do) or was cancelled. */
export class TrainingError extends Error {
  constructor(
    message: string,
    readonly cancelled: boolean,
  ) {
    super(message);
    this.name = "TrainingError";
  }
}

export interface RunningExperiment {
  done: Promise<Summary>;
  cancel(): void;
}

/**
 * Starts an experiment (config as normalized JSON text); `onEvent` sees every event. With
 * `options.resume`, folds continue from their saved state in `outDir` (see the engine's
 * checkpoint module) and finished folds are skipped.
 */
export function startExperiment(
  configJson: string,
  data: TrainingData,
  outDir: string | null,
  onEvent: (event: TrainEvent) => void = () => {},
  options: StartOptions = {},
): RunningExperiment {
  let job: ReturnType<typeof native.TrainingJob.start> | undefined;
  const done = new Promise<Summary>((resolve, reject) => {
    job = native.TrainingJob.start(
      configJson,
      data,
      outDir,
      (event) => {
        onEvent(event);
        if (event.kind === "done" || event.kind === "error") {
          job?.join();
          if (event.kind === "done") resolve(JSON.parse(event.summaryJson ?? "null") as Summary);
          else reject(new TrainingError(event.message ?? "training failed", event.cancelled ?? false));
          job = undefined;
        }
      },
      options,
    );
  });
  return { done, cancel: () => job?.cancel() };
}
