// Progress for long jobs: a bar with ETA on a terminal, JSON event lines with --json, and
// quiet one-line summaries when output is piped.
import { SingleBar } from "cli-progress";

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

/** A progress bar per fold on a TTY; otherwise a line per evaluation. */
export function humanProgress(metric: string): TrainingReporter {
  const tty = Boolean(process.stderr.isTTY);
  let bar: SingleBar | undefined;
  let lastEval = "";
  const log = (line: string) => {
    if (bar) bar.stop();
    process.stderr.write(`${line}\n`);
    bar = undefined;
  };
  return {
    event(e) {
      if (e.kind === "fold_start") {
        if (tty) {
          bar = new SingleBar({
            format: `fold ${e.fold} [{bar}] {percentage}% | step {value}/{total} | loss {loss} | ${metric} {metric} | ETA {eta_formatted}`,
            stream: process.stderr,
            hideCursor: true,
            etaBuffer: 50,
          });
          bar.start(e.totalSteps, 0, { loss: "-", metric: "-" });
        } else {
          process.stderr.write(`fold ${e.fold}: ${e.totalSteps} optimizer steps\n`);
        }
      } else if (e.kind === "step") {
        bar?.update(e.step, { loss: fmt(e.loss), metric: lastEval || "-" });
      } else if (e.kind === "eval") {
        const live = e.metrics[metric];
        const swa = e.swaMetrics?.[metric];
        lastEval = swa === undefined ? fmt(live) : `${fmt(live)} (swa ${fmt(swa)})`;
        if (!tty)
          process.stderr.write(
            `fold ${e.fold} step ${e.step} epoch ${e.epoch}: ${metric} ${lastEval}${e.isBest ? " *best" : ""}\n`,
          );
        bar?.update(e.step, { metric: lastEval });
      } else if (e.kind === "swa_start" && !tty) {
        process.stderr.write(`fold ${e.fold}: SWA starts at step ${e.step}\n`);
      } else if (e.kind === "warning") {
        log(`fold ${e.fold} step ${e.step}: warning: ${e.message}`);
      } else if (e.kind === "checkpoint") {
        if (bar) log(`fold ${e.fold}: wrote ${e.path}`);
      }
    },
    stop() {
      bar?.stop();
    },
  };
}
