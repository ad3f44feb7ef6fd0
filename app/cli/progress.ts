// Progress for long jobs: a bar with ETA on a terminal, JSON event lines with --json, and
// quiet one-line summaries when output is piped.
import { MultiBar, type SingleBar } from "cli-progress";

import type { TrainEvent } from "../native/addon.ts";

export interface TrainingReporter {
  event(e: TrainEvent): void;
  stop(): void;
}

const fmt = (x: number | undefined) =>
  x === undefined ? "-" : Math.abs(x) >= 1e-3 ? x.toFixed(4) : x.toExponential(2);

/** Plain JSON: one event object per line on stdout, as scripts expect. */
export function jsonLines(): TrainingReporter {
  return {
    event: (e) => process.stdout.write(`${JSON.stringify(e)}\n`),
    stop: () => {},
  };
}

/**
 * A fold's progress: on a TTY a bar in `bars` (one per fold training, so folds trained at once
 * each keep theirs; removed when the fold ends); otherwise a line per evaluation.
 */
export function humanProgress(metric: string, bars?: MultiBar): TrainingReporter {
  let bar: SingleBar | undefined;
  let lastEval = "";
  const line = lineWriter(bars);
  const end = () => {
    if (bar) bars?.remove(bar);
    bar = undefined;
  };
  return {
    event(e) {
      if (e.kind === "fold_start") {
        end();
        if (bars) {
          bar = bars.create(
            e.totalSteps,
            0,
            { loss: "-", metric: "-" },
            {
              format: `fold ${e.fold} [{bar}] {percentage}% | step {value}/{total} | loss {loss} | ${metric} {metric} | ETA {eta_formatted}`,
            },
          );
        } else {
          line(`fold ${e.fold}: ${e.totalSteps} optimizer steps`);
        }
      } else if (e.kind === "step") {
        bar?.update(e.step, { loss: fmt(e.loss), metric: lastEval || "-" });
      } else if (e.kind === "eval") {
        const live = e.metrics[metric];
        const swa = e.swaMetrics?.[metric];
        lastEval = swa === undefined ? fmt(live) : `${fmt(live)} (swa ${fmt(swa)})`;
        if (!bars)
          line(`fold ${e.fold} step ${e.step} epoch ${e.epoch}: ${metric} ${lastEval}${e.isBest ? " *best" : ""}`);
        bar?.update(e.step, { metric: lastEval });
      } else if (e.kind === "swa_start" && !bars) {
        line(`fold ${e.fold}: SWA starts at step ${e.step}`);
      } else if (e.kind === "warning") {
        line(`fold ${e.fold} step ${e.step}: warning: ${e.message}`);
      } else if (e.kind === "checkpoint") {
        if (bars) line(`fold ${e.fold}: wrote ${e.path}`);
      } else if (e.kind === "done" || e.kind === "error") {
        end();
      }
    },
    stop: end,
  };
}

/** Writes a line above the bars when there are bars (they redraw below it), else to stderr. */
export function lineWriter(bars?: MultiBar): (text: string) => void {
  return (text) => {
    if (bars) bars.log(`${text}\n`);
    else process.stderr.write(`${text}\n`);
  };
}

/** The bars of every fold training at once, on a terminal (none when `stream` is not one). */
export function progressBars(stream: NodeJS.WriteStream = process.stderr): MultiBar | undefined {
  if (!stream.isTTY) return undefined;
  return new MultiBar({ stream, hideCursor: true, etaBuffer: 50, clearOnComplete: false });
}
