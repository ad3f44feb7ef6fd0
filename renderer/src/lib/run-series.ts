// A run's metric points arranged as chart columns. Deliberately not reactive: a run can log
// 100k+ points, and Svelte's deep proxies would cost far more than the charts themselves.
// Points may arrive twice (the catch-up fetch overlaps live events), so every column keeps
// only the first value per step; `version` grows whenever something was added, and the view
// redraws at most once per animation frame when it has. The best evaluation and the SWA start
// are the engine's (its `isBest` flags and `swa_start` event, stored as "event" points): the
// UI never re-decides which evaluation was best.
import type { MetricPoint } from "../../../app/core/api/contract.ts";

type Column = (number | null)[];

const LR_PREFIX = "lr/";

export class RunSeries {
  /** [steps, loss] */
  readonly loss: [number[], Column] = [[], []];
  /** [steps, one column per LR group] */
  readonly lr: [number[], ...Column[]] = [[]];
  readonly lrGroups: string[] = [];
  /** Validation metric name → step → value, for the live model and the SWA average. */
  readonly #valid = new Map<string, { live: Map<number, number | null>; swa: Map<number, number | null> }>();
  /** Steps of the evaluations the engine flagged as its best so far, in arrival order. */
  readonly #bestSteps: number[] = [];
  /** The engine's step where the SWA average started (its swa_start event), if it has. */
  swaStart: number | null = null;
  version = 0;
  lastStep = -1;

  constructor(public metric: string) {}

  add(points: readonly MetricPoint[]): void {
    let changed = false;
    for (const p of points) {
      if (p.split === "train") changed = this.#train(p) || changed;
      else if (p.split === "event") changed = this.#event(p) || changed;
      else if (p.split === "valid" || p.split === "valid_swa") {
        const entry = this.#valid.get(p.name) ?? { live: new Map(), swa: new Map() };
        this.#valid.set(p.name, entry);
        const column = p.split === "valid" ? entry.live : entry.swa;
        if (!column.has(p.step)) {
          column.set(p.step, p.value);
          changed = true;
        }
      }
      if (p.step > this.lastStep) this.lastStep = p.step;
    }
    if (changed) this.version++;
  }

  #event(p: MetricPoint): boolean {
    if (p.name === "best" && !this.#bestSteps.includes(p.step)) {
      this.#bestSteps.push(p.step);
      return true;
    }
    if (p.name === "swa_start" && this.swaStart === null) {
      this.swaStart = p.value ?? p.step;
      return true;
    }
    return false;
  }

  #train(p: MetricPoint): boolean {
    if (p.name === "loss") {
      const steps = this.loss[0];
      if (steps.length > 0 && p.step <= (steps.at(-1) as number)) return false;
      steps.push(p.step);
      this.loss[1].push(p.value);
      return true;
    }
    if (!p.name.startsWith(LR_PREFIX)) return false;
    const group = p.name.slice(LR_PREFIX.length);
    let g = this.lrGroups.indexOf(group);
    if (g < 0) {
      g = this.lrGroups.push(group) - 1;
      this.lr.push(this.lr[0].map(() => null));
    }
    const steps = this.lr[0];
    const last = steps.at(-1);
    if (last === undefined || p.step > last) {
      steps.push(p.step);
      for (let i = 1; i < this.lr.length; i++) (this.lr[i] as Column).push(null);
    } else if (p.step < last) return false;
    const column = this.lr[g + 1] as Column;
    if (column[column.length - 1] !== null) return false;
    column[column.length - 1] = p.value;
    return true;
  }

  /** Metric names seen in evaluations. */
  get validNames(): string[] {
    return [...this.#valid.keys()];
  }

  /** [steps, live, swa] of the chosen metric, sorted by step. */
  valid(): [number[], Column, Column] {
    const entry = this.#valid.get(this.metric);
    if (!entry) return [[], [], []];
    const steps = [...new Set([...entry.live.keys(), ...entry.swa.keys()])].sort((a, b) => a - b);
    return [steps, steps.map((s) => entry.live.get(s) ?? null), steps.map((s) => entry.swa.get(s) ?? null)];
  }

  get hasSwa(): boolean {
    return (this.#valid.get(this.metric)?.swa.size ?? 0) > 0;
  }

  /**
   * The engine's best evaluation so far: the latest one it flagged as best (`isBest`), with the
   * value of `metric` (the one the engine ranks by) it kept: the SWA average's when that was
   * strictly better than the live model's at that evaluation, as the engine picks, else the live
   * model's. Null before the first flagged evaluation.
   */
  best(metric: string, higherIsBetter: boolean): { value: number; step: number; swa: boolean } | null {
    const step = this.#bestSteps.at(-1);
    const entry = this.#valid.get(metric);
    if (step === undefined || !entry) return null;
    const live = entry.live.get(step) ?? null;
    const swa = entry.swa.get(step) ?? null;
    const swaWins = swa !== null && (live === null || (higherIsBetter ? swa > live : swa < live));
    const value = swaWins ? swa : live;
    return value === null ? null : { value, step, swa: swaWins };
  }

  /**
   * The training loss is running away: the mean of the latest tenth of the steps (at least 5)
   * is over three times the lowest such mean earlier in the run and above where it started.
   * (A NaN or infinite loss stops the run in the engine; this catches a divergence that stays
   * finite.)
   */
  get diverging(): boolean {
    const losses = this.loss[1].filter((v): v is number => v !== null && Number.isFinite(v));
    const w = Math.max(5, Math.floor(losses.length / 10));
    if (losses.length < 3 * w) return false;
    const mean = (from: number) => losses.slice(from, from + w).reduce((a, b) => a + b, 0) / w;
    const recent = mean(losses.length - w);
    let lowest = Number.POSITIVE_INFINITY;
    for (let i = 0; i + w <= losses.length - w; i += Math.max(1, Math.floor(w / 2))) lowest = Math.min(lowest, mean(i));
    return recent > 3 * lowest && recent > mean(0);
  }
}

export const higherIsBetter = (metric: string): boolean => ["r2", "pearson", "accuracy", "macro_f1"].includes(metric);
