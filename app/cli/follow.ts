// Following queued runs from a terminal: progress per run (bars on a TTY, lines otherwise, or
// JSON event lines), Ctrl-C cancels them, and the final runs come back when all have ended.
import type { Core } from "../core/service/index.ts";
import type { Run } from "../core/store/repo-experiments.ts";
import { humanProgress, lineWriter, progressBars, type TrainingReporter } from "./progress.ts";

export async function followRuns(core: Core, runIds: number[], o: { json?: boolean; metric: string }): Promise<Run[]> {
  const reporters = new Map<number, TrainingReporter>();
  // One set of bars for every run: folds trained at once (--folds-at-once, Ray) each keep a bar.
  const bars = o.json ? undefined : progressBars();
  const say = lineWriter(bars);
  const stopTap = core.runs.onTrainEvent((runId, e) => {
    if (!runIds.includes(runId)) return;
    if (o.json) {
      process.stdout.write(`${JSON.stringify({ runId, ...e })}\n`);
      return;
    }
    let reporter = reporters.get(runId);
    if (!reporter) {
      reporter = humanProgress(o.metric, bars);
      reporters.set(runId, reporter);
      say(`== run ${runId}`);
    }
    if (e.kind === "resume") say(`run ${runId}: resumed at step ${e.step}`);
    reporter.event(e);
  });
  const cancel = () => {
    say("ftune: cancelling (Ctrl-C again to force quit)...");
    process.once("SIGINT", () => process.exit(130));
    for (const id of runIds) core.runs.cancel(id).catch(() => {});
  };
  process.once("SIGINT", cancel);
  try {
    return await Promise.all(runIds.map((id) => core.runs.waitFor(id)));
  } finally {
    process.off("SIGINT", cancel);
    stopTap();
    for (const r of reporters.values()) r.stop();
    bars?.stop();
  }
}
