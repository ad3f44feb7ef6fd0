// A run's metric points arranged as chart columns. Deliberately not reactive: a run can log
// 100k+ points, and Svelte's deep proxies would cost far more than the charts themselves.
// Points may arrive twice (the catch-up fetch overlaps live events), so every column keeps
// only the first value per step; `version` grows whenever something was added, and the view
// redraws at most once per animation frame when it has.
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
  version = 0;
  lastStep = -1;

  constructor(public metric: string) {}

  add(points: readonly MetricPoint[]): void {
    let changed = false;
    for (const p of points) {
      if (p.split === "train") changed = this.#train(p) || changed;
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

  /** Best live or SWA value of the metric so far. */
  best(higherIsBetter: boolean): { value: number; step: number; swa: boolean } | null {
    const entry = this.#valid.get(this.metric);
    let best: { value: number; step: number; swa: boolean } | null = null;
    for (const [swa, column] of [
      [false, entry?.live],
      [true, entry?.swa],
    ] as const) {
      for (const [step, value] of column ?? []) {
        if (value === null) continue;
        if (!best || (higherIsBetter ? value > best.value : value < best.value)) best = { value, step, swa };
      }
    }
    return best;
  }
}

export const higherIsBetter = (metric: string): boolean => ["r2", "pearson", "accuracy", "macro_f1"].includes(metric);
