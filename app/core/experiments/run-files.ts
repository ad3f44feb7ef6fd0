// The files `ftune train` leaves in its output folder: per fold `fold-<k>/metrics.jsonl` (one
// JSON object per line: train steps with loss and LR per group, validation metrics), and at
// the end `summary.json` (config, per-fold and mean metrics, timings).
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import type { Summary } from "../../engine/training.ts";
import type { TrainEvent } from "../../native/addon.ts";
import type { ExperimentConfig } from "./config-types.ts";

/**
 * Writes a run's events as `fold-<k>/metrics.jsonl` under `outDir`. With `append` (a resumed
 * run), the file is kept and, at the engine's resume event, cut back to the saved step: the
 * steps after it run again.
 */
export function metricsWriter(outDir: string, options: { append?: boolean } = {}): (e: TrainEvent) => void {
  const groups = new Map<number, string[]>();
  const pending = new Map<number, string[]>();
  const file = (fold: number) => join(outDir, `fold-${fold}`, "metrics.jsonl");
  const flush = (fold: number) => {
    const lines = pending.get(fold);
    if (!lines?.length) return;
    appendFileSync(file(fold), lines.join(""));
    pending.set(fold, []);
  };
  const add = (fold: number, record: object) => {
    const lines = pending.get(fold) ?? [];
    lines.push(`${JSON.stringify(record)}\n`);
    pending.set(fold, lines);
  };
  return (e) => {
    if (e.kind === "fold_start") {
      mkdirSync(join(outDir, `fold-${e.fold}`), { recursive: true });
      if (!options.append || !existsSync(file(e.fold))) writeFileSync(file(e.fold), "");
      groups.set(e.fold, e.groups);
    } else if (e.kind === "resume") {
      const kept = readFileSync(file(e.fold), "utf8")
        .split("\n")
        .filter((line) => line && (JSON.parse(line) as { step: number }).step <= e.step);
      writeFileSync(file(e.fold), kept.map((l) => `${l}\n`).join(""));
    } else if (e.kind === "step") {
      const names = groups.get(e.fold) ?? [];
      const lr = Object.fromEntries(e.lrs.map((v, i) => [names[i] ?? `group.${i}`, v]));
      add(e.fold, { step: e.step, epoch: e.epoch, split: "train", loss: e.loss, grad_norm: e.gradNorm, lr });
    } else if (e.kind === "eval") {
      add(e.fold, {
        step: e.step,
        epoch: e.epoch,
        split: "valid",
        ...e.metrics,
        swa: e.swaMetrics,
        best: e.isBest,
      });
      flush(e.fold); // evaluations are where a crash must not lose the record
    } else if (e.kind === "checkpoint" || e.kind === "done" || e.kind === "error") {
      for (const fold of pending.keys()) flush(fold);
    }
  };
}

export function writeSummary(
  outDir: string,
  config: ExperimentConfig,
  summary: Summary & { oof?: Record<string, number> | null; wall_seconds?: number },
): string {
  const path = join(outDir, "summary.json");
  writeFileSync(path, `${JSON.stringify({ config, ...summary }, null, 2)}\n`);
  return path;
}
