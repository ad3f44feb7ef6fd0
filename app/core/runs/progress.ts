// Turns engine events into stored metric points and live progress (with an ETA that counts the
// evaluations still to come as well as the steps).
import type { TrainEvent } from "../../native/addon.ts";
import type { MetricPoint } from "../api/contract.ts";

/**
 * Metric points of one event: a train step (loss, grad norm, LR per group), an evaluation (its
 * metrics, and an "event" point "best" when the engine kept it as its best so far), or the step
 * where the SWA average starts (an "event" point "swa_start").
 */
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
    const best: MetricPoint[] = e.isBest ? [{ ...at, split: "event", name: "best", value: 1 }] : [];
    return [...of("valid", e.metrics), ...of("valid_swa", e.swaMetrics), ...best];
  }
  if (e.kind === "swa_start")
    return [{ step: e.step, epoch: e.epoch, split: "event", name: "swa_start", value: e.step }];
  return [];
}

/** When a fold evaluates: every `evalEvery` steps (if set) and at the end of every epoch. */
export interface EvalPlan {
  totalSteps: number;
  epochs: number;
  evalEvery: number | null;
}

/**
 * Evaluations after optimizer step `step`: those of the schedule in (step, totalSteps], plus the
 * final one on the finished model. Epoch ends are taken as equal shares of the steps.
 */
export function evaluationsAfter(step: number, plan: EvalPlan): number {
  const { totalSteps, epochs, evalEvery } = plan;
  let count = evalEvery ? Math.floor(totalSteps / evalEvery) - Math.floor(step / evalEvery) : 0;
  for (let e = 1; e <= epochs; e++) {
    const end = Math.round((e * totalSteps) / epochs);
    if (end > step && !(evalEvery && end % evalEvery === 0)) count++;
  }
  return count + 1;
}

/**
 * Seconds left, as the time the remaining steps take at the pace of the steps seen so far, plus
 * the remaining evaluations at the pace of those seen (before the first one: `guessEvalSteps`
 * steps' worth each, an estimate from the validation rows).
 */
export class EtaClock {
  readonly #guessEvalSteps: number;
  #last: number | undefined;
  #train = { seconds: 0, count: 0 };
  #eval = { seconds: 0, count: 0 };

  constructor(options: { guessEvalSteps?: number } = {}) {
    this.#guessEvalSteps = options.guessEvalSteps ?? 1;
  }

  /** A step event arrived (the time since the previous event was training). */
  step(now = Date.now()): void {
    this.#add(this.#train, now);
  }

  /** An eval event arrived (the time since the step before it was the evaluation). */
  evaluated(now = Date.now()): void {
    this.#add(this.#eval, now);
  }

  /** The time since the last event was neither (the worker restarted, say). */
  restart(): void {
    this.#last = undefined;
  }

  seconds(step: number, plan: EvalPlan | null): number | null {
    if (plan === null || this.#train.count === 0) return null;
    const perStep = this.#train.seconds / this.#train.count;
    const perEval = this.#eval.count > 0 ? this.#eval.seconds / this.#eval.count : perStep * this.#guessEvalSteps;
    return Math.max(0, perStep * (plan.totalSteps - step) + perEval * evaluationsAfter(step, plan));
  }

  #add(into: { seconds: number; count: number }, now: number): void {
    if (this.#last !== undefined) {
      into.seconds += (now - this.#last) / 1000;
      into.count++;
    }
    this.#last = now;
  }
}
