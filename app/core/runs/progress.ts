// Turns engine events into stored metric points and live progress (with an ETA from the pace
// of the steps this worker has run).
import type { TrainEvent } from "../../native/addon.ts";
import type { MetricPoint } from "../api/contract.ts";

/** Metric points of one event: a train step (loss, grad norm, LR per group) or an evaluation. */
export function eventPoints(e: TrainEvent, groups: readonly string[]): MetricPoint[] {
  if (e.kind === "step") {
    const at = { step: e.step, epoch: e.epoch };
    const points: MetricPoint[] = [{ ...at, split: "train", name: "loss", value: e.loss }];
    if (e.gradNorm !== null) points.push({ ...at, split: "train", name: "grad_norm", value: e.gradNorm });
    e.lrs.forEach((lr, i) => {
      points.push({ ...at, split: "train", name: `lr/${groups[i] ?? `group.${i}`}`, value: lr });
    });
    return points;
  }
  if (e.kind === "eval") {
    const at = { step: e.step, epoch: e.epoch };
    const of = (split: "valid" | "valid_swa", metrics: Record<string, number> | null) =>
      Object.entries(metrics ?? {}).map(([name, value]) => ({ ...at, split, name, value }));
    return [...of("valid", e.metrics), ...of("valid_swa", e.swaMetrics)];
  }
  return [];
}

/** Seconds left, from the average pace since the first step this clock saw. */
export class EtaClock {
  #first: { step: number; at: number } | undefined;

  seconds(step: number, totalSteps: number | null, now = Date.now()): number | null {
    if (!this.#first) {
      this.#first = { step, at: now };
      return null;
    }
    const done = step - this.#first.step;
    if (totalSteps === null || done <= 0) return null;
    const perStep = (now - this.#first.at) / 1000 / done;
    return Math.max(0, perStep * (totalSteps - step));
  }
}
