// Records one run's engine events while it trains: metric points into the store (flushed at
// every evaluation, so a crash loses at most the steps since the last one, and on demand, so a
// view opening mid-run reads every point sent before it asked), the plan reported at fold
// start, and progress events for the front ends (throttled, never dropping points).
import type { TrainEvent } from "../../native/addon.ts";
import type { MetricPoint } from "../api/contract.ts";
import type { EventHub } from "../events.ts";
import type { Queryable } from "../store/db.ts";
import { setRunPlan } from "../store/repo-experiments.ts";
import { deleteMetricsAfter, MetricsWriter } from "../store/repo-metrics.ts";
import { EtaClock, type EvalPlan, eventPoints } from "./progress.ts";

export interface RecorderOptions {
  progressIntervalMs?: number;
  /** When the fold evaluates (from its config), for the ETA; the total steps come from the engine. */
  evaluation?: { epochs: number; evalEvery: number | null; guessEvalSteps: number };
}

export class RunRecorder {
  readonly #db: Queryable;
  readonly #runId: number;
  readonly #events: EventHub;
  readonly #intervalMs: number;
  readonly #writer: MetricsWriter;
  readonly #eta: EtaClock;
  readonly #evaluation: RecorderOptions["evaluation"];
  readonly #pending: Promise<unknown>[] = [];
  #groups: string[] = [];
  #totalSteps: number | null = null;
  #points: MetricPoint[] = [];
  #last = { step: 0, epoch: 0, eta: null as number | null, publishedAt: 0 };
  #error: unknown;

  constructor(db: Queryable, runId: number, events: EventHub, options: RecorderOptions = {}) {
    this.#db = db;
    this.#runId = runId;
    this.#events = events;
    this.#intervalMs = options.progressIntervalMs ?? 250;
    this.#writer = new MetricsWriter(db, runId);
    this.#evaluation = options.evaluation;
    this.#eta = new EtaClock({ guessEvalSteps: options.evaluation?.guessEvalSteps });
  }

  /** Writes every point recorded so far (resolves once they are in the store). */
  async flush(): Promise<void> {
    await this.#writer.flush();
  }

  #plan(): EvalPlan | null {
    if (this.#totalSteps === null || !this.#evaluation) return null;
    return { totalSteps: this.#totalSteps, epochs: this.#evaluation.epochs, evalEvery: this.#evaluation.evalEvery };
  }

  event(e: TrainEvent): void {
    switch (e.kind) {
      case "fold_start":
        this.#groups = e.groups;
        this.#totalSteps = e.totalSteps;
        this.#track(setRunPlan(this.#db, this.#runId, { totalSteps: this.#totalSteps, groups: this.#groups }));
        break;
      case "resume":
        // Steps after the saved state were logged by the worker that died; they run again now.
        this.#track(deleteMetricsAfter(this.#db, this.#runId, e.step));
        this.#eta.restart();
        this.#last = { ...this.#last, step: e.step, epoch: e.epoch };
        this.#publish();
        break;
      case "step": {
        const points = eventPoints(e, this.#groups);
        this.#writer.append(points);
        this.#points.push(...points);
        this.#eta.step();
        this.#last = { ...this.#last, step: e.step, epoch: e.epoch, eta: this.#eta.seconds(e.step, this.#plan()) };
        if (Date.now() - this.#last.publishedAt >= this.#intervalMs) this.#publish();
        break;
      }
      case "eval": {
        const points = eventPoints(e, this.#groups);
        this.#writer.append(points);
        this.#points.push(...points);
        this.#track(this.#writer.flush());
        this.#eta.evaluated();
        this.#last = { ...this.#last, eta: this.#eta.seconds(e.step, this.#plan()) };
        this.#publish();
        break;
      }
      case "swa_start": {
        const points = eventPoints(e, this.#groups);
        this.#writer.append(points);
        this.#points.push(...points);
        break;
      }
    }
  }

  /** Writes what is left, sends the last progress, and rethrows a store failure seen on the way. */
  async finish(): Promise<void> {
    this.#publish();
    this.#track(this.#writer.close());
    await Promise.all(this.#pending);
    if (this.#error !== undefined) throw this.#error;
  }

  #track(p: Promise<unknown>): void {
    this.#pending.push(
      p.catch((err) => {
        this.#error ??= err;
      }),
    );
  }

  #publish(): void {
    this.#last.publishedAt = Date.now();
    const points = this.#points;
    this.#points = [];
    this.#events.publish({
      type: "run-progress",
      runId: this.#runId,
      step: this.#last.step,
      totalSteps: this.#totalSteps,
      epoch: this.#last.epoch,
      etaSeconds: this.#last.eta,
      points,
    });
  }
}
