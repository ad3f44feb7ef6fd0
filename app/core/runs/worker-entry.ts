// A training worker: the child process that runs one job (one fold) on the native engine and
// streams its events to the parent. It exits when the job ends or the parent goes away.
import { type RunningExperiment, startExperiment, TrainingError } from "../../engine/training.ts";
import type { ChildMessage, ParentMessage } from "./protocol.ts";

// Only the fork transport exists so far; a utilityProcess port would replace these two.
const send = (m: ChildMessage, then?: () => void) => process.send?.(m, undefined, {}, () => then?.());
const onMessage = (listener: (m: ParentMessage) => void) => process.on("message", (m) => listener(m as ParentMessage));

let run: RunningExperiment | undefined;

onMessage((m) => {
  if (m.type === "cancel") {
    run?.cancel();
    return;
  }
  if (run) return;
  const options = { resume: m.resume, stateIntervalSeconds: m.stateIntervalSeconds, threads: m.threads };
  try {
    run = startExperiment(m.configJson, m.data, m.outDir, (event) => send({ type: "event", event }), options);
  } catch (err) {
    finish({ type: "error", message: (err as Error).message, cancelled: false });
    return;
  }
  run.done.then(
    (summary) => finish({ type: "done", summary }),
    (err: unknown) =>
      finish({
        type: "error",
        message: err instanceof Error ? err.message : String(err),
        cancelled: err instanceof TrainingError && err.cancelled,
      }),
  );
});

/** Sends the last message, then lets the process end once the channel has written it. */
function finish(m: ChildMessage): void {
  send(m, () => process.disconnect());
}

// The parent died or closed the channel: nobody is listening, so stop training.
process.on("disconnect", () => {
  run?.cancel();
  setTimeout(() => process.exit(0), 100).unref();
});
