// Runs an experiment on the native engine's background thread and turns its event stream into
// a promise. The job object is kept referenced until the run ends (dropping it cancels).
import { native, type StartOptions, type Summary, type TimedEvent, type TrainingData } from "../native/addon.ts";

export type { FoldOutcome, Summary } from "../native/addon.ts";

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
  onEvent: (event: TimedEvent) => void = () => {},
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
          if (event.kind === "done") resolve(event.summary);
          else reject(new TrainingError(event.message, event.cancelled));
          job = undefined;
        }
      },
      options,
    );
  });
  return { done, cancel: () => job?.cancel() };
}
