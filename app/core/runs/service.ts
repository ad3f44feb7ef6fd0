// The run queue: one training job at a time (one GPU), each in its own worker process, with
// the status kept in the store (queued → running → completed | failed | cancelled |
// interrupted). Front ends follow along through run-status and run-progress events.
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";

import type { FoldOutcome, Summary } from "../../engine/training.ts";
import type { TrainEvent, TrainingData } from "../../native/addon.ts";
import { badRequest, notFound } from "../api/errors.ts";
import type { EventHub } from "../events.ts";
import type { Queryable } from "../store/db.ts";
import { deleteCheckpoints, saveCheckpoint } from "../store/repo-checkpoints.ts";
import { getRun, markInterruptedRuns, type Run, runsWithStatus, setRunStatus } from "../store/repo-experiments.ts";
import { deleteMetricsAfter, swaStarted } from "../store/repo-metrics.ts";
import type { RunStatus } from "../store/types.ts";
import { cancelRequested, claimRun, ownedElsewhere, releaseRun, requestCancel, runDir } from "./control.ts";
import { type RecorderOptions, RunRecorder } from "./recorder.ts";
import { crashReason, forkTransport, startWorker, type WorkerHandle, type WorkerTransport } from "./worker.ts";

/** What a run trains: its one-fold config (normalized JSON) and the rows. */
export type RunLoader = (run: Run) => Promise<{ configJson: string; data: TrainingData }>;

export interface RunServiceOptions {
  store: Queryable;
  dataDir: string;
  events: EventHub;
  load: RunLoader;
  transport?: WorkerTransport;
  /** Passed to the engine: how often it saves the resumable state (default: the engine's). */
  stateIntervalSeconds?: number;
  progressIntervalMs?: number;
}

const ENDED: readonly RunStatus[] = ["completed", "failed", "cancelled", "interrupted"];

interface Job {
  runId: number;
}

interface Active {
  runId: number;
  handle: WorkerHandle;
  recorder: RunRecorder;
  stopping: boolean;
}

/** What decides a fold's evaluation times, read from its normalized config (for the ETA). */
function evaluationOf(configJson: string, data: TrainingData): NonNullable<RecorderOptions["evaluation"]> {
  const config = JSON.parse(configJson) as {
    train: { epochs: number; batch_size: number; grad_accum: number };
    eval: { every_steps: number | null };
    folds: { k: number };
  };
  const validRows = data.validTexts?.length ?? data.texts.length / Math.max(config.folds.k, 2);
  const rowsPerStep = config.train.batch_size * config.train.grad_accum;
  // Evaluating a row (forward only, no gradients) costs about a third of training on it.
  return {
    epochs: config.train.epochs,
    evalEvery: config.eval.every_steps,
    guessEvalSteps: validRows / rowsPerStep / 3,
  };
}

/** The checkpoint folders a completed fold keeps (see KeepSchema in the API contract). */
export function keptCheckpoints(
  keep: string | null,
  fold: Pick<FoldOutcome, "best_dir">,
  swaRan: boolean,
): { best: boolean; final: boolean } {
  const best = fold.best_dir !== null;
  switch (keep) {
    case "all":
    case "best+final":
      return { best, final: true };
    case "best":
      // Without a best checkpoint (eval.save_best off) the final weights are all there is.
      return { best, final: !best };
    default:
      return { best, final: swaRan || !best };
  }
}

export class RunService {
  readonly #o: RunServiceOptions;
  readonly #transport: WorkerTransport;
  #queue: Job[] = [];
  #active: Active | undefined;
  /** The job taken off the queue, from then until it has ended. */
  #current: number | undefined;
  readonly #cancelling = new Set<number>();
  #pump: Promise<void> | undefined;
  #closed = false;
  readonly #waiters = new Map<number, ((run: Run) => void)[]>();
  readonly #taps = new Set<(runId: number, event: TrainEvent) => void>();

  constructor(options: RunServiceOptions) {
    this.#o = options;
    this.#transport = options.transport ?? forkTransport();
  }

  /** At startup: runs left "running" by a process that is gone become interrupted (resumable). */
  async recover(): Promise<number> {
    const running = await runsWithStatus(this.#o.store, "running");
    const alive = running.filter((r) => ownedElsewhere(this.#dir(r.id))).map((r) => r.id);
    return markInterruptedRuns(this.#o.store, alive);
  }

  /** Picks up runs queued in the store (e.g. before a restart). */
  async startQueued(): Promise<void> {
    for (const run of await runsWithStatus(this.#o.store, "queued")) this.enqueue(run.id);
  }

  /** Queues a run; it continues from its saved state if it has one (see #execute). */
  enqueue(runId: number): void {
    if (this.#closed || this.#current === runId || this.#queue.some((j) => j.runId === runId)) return;
    this.#queue.push({ runId });
    this.#kick();
  }

  #kick(): void {
    if (this.#pump || this.#closed) return;
    this.#pump = this.#drain().finally(() => {
      this.#pump = undefined;
      // A job queued while the drain was finishing would otherwise wait for the next enqueue.
      if (this.#queue.length > 0) this.#kick();
    });
  }

  /** Every raw engine event of the runs this process trains (for CLI progress); returns the unsubscribe. */
  onTrainEvent(listener: (runId: number, event: TrainEvent) => void): () => void {
    this.#taps.add(listener);
    return () => this.#taps.delete(listener);
  }

  /** The run training in this process, if any. */
  get active(): { runId: number; pid: number | undefined } | null {
    return this.#active ? { runId: this.#active.runId, pid: this.#active.handle.pid } : null;
  }

  /**
   * Resolves with the run once it has ended: when this process queued or trains it, once that
   * job ends (so a resumed run is followed to its new end); otherwise at once if it has ended.
   */
  async waitFor(runId: number): Promise<Run> {
    let resolve!: (run: Run) => void;
    const ended = new Promise<Run>((r) => {
      resolve = r;
    });
    this.#waiters.set(runId, [...(this.#waiters.get(runId) ?? []), resolve]);
    if (this.#current === runId || this.#queue.some((j) => j.runId === runId)) return ended;
    const run = await this.#get(runId);
    if (!ENDED.includes(run.status)) return ended;
    this.#waiters.set(
      runId,
      (this.#waiters.get(runId) ?? []).filter((w) => w !== resolve),
    );
    return run;
  }

  /**
   * Cancels a queued run at once; a running one stops within an optimizer step (resolves when
   * it has, if this process trains it; another process is asked through the run's folder).
   */
  async cancel(runId: number): Promise<Run> {
    const queued = this.#queue.findIndex((j) => j.runId === runId);
    if (queued >= 0) {
      this.#queue.splice(queued, 1);
      return this.#setStatus(runId, "cancelled");
    }
    if (this.#current === runId) {
      if (this.#active?.runId === runId) this.#stop(this.#active);
      else this.#cancelling.add(runId); // its worker is about to start: stop it right away
      return this.waitFor(runId);
    }
    const run = await this.#get(runId);
    if (run.status === "queued" || run.status === "interrupted") return this.#setStatus(runId, "cancelled");
    if (run.status === "running") {
      if (ownedElsewhere(this.#dir(runId))) {
        requestCancel(this.#dir(runId));
        return run;
      }
      await this.#setStatus(runId, "interrupted", { error: "The process training this run is gone" });
      return this.#setStatus(runId, "cancelled");
    }
    throw badRequest(`Run ${runId} has already ended (${run.status}); there is nothing to cancel.`);
  }

  /**
   * Queues an interrupted or cancelled run to continue from its last saved state, in its own
   * folder (from the start when it saved none).
   */
  async resume(runId: number): Promise<Run> {
    const run = await this.#get(runId);
    if (run.status !== "interrupted" && run.status !== "cancelled") {
      throw badRequest(`Run ${runId} is ${run.status}; only interrupted or cancelled runs can resume.`);
    }
    const queued = await this.#setStatus(runId, "queued");
    this.enqueue(runId);
    return queued;
  }

  /** True when the run's folder holds a saved state a resume would continue from. */
  hasSavedState(run: Pick<Run, "id" | "fold">): boolean {
    return existsSync(join(this.#dir(run.id), `fold-${run.fold}`, "state"));
  }

  /** Writes the points of a run this process trains that are not in the store yet. */
  async flushMetrics(runId: number): Promise<void> {
    if (this.#active?.runId === runId) await this.#active.recorder.flush();
  }

  /** Stops taking work, cancels the job in progress and waits for its worker to end. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#queue = [];
    if (this.#active) this.#stop(this.#active, 15_000);
    else if (this.#current !== undefined) this.#cancelling.add(this.#current);
    await this.#pump;
  }

  async #drain(): Promise<void> {
    for (let job = this.#queue.shift(); job && !this.#closed; job = this.#queue.shift()) {
      this.#current = job.runId;
      try {
        await this.#execute(job);
      } catch (err) {
        // A store failure around a run: record it on the run if we still can, keep the queue going.
        const message = `Internal error while running: ${(err as Error).message}`;
        await this.#setStatus(job.runId, "failed", { error: message }).catch(() => {});
      } finally {
        this.#current = undefined;
      }
    }
  }

  async #execute({ runId }: Job): Promise<void> {
    const dir = this.#dir(runId);
    // A run with a saved state continues from it (resumed, or queued again before a restart);
    // one without starts from the beginning.
    const resume = this.hasSavedState(await this.#get(runId));
    try {
      await this.#setStatus(runId, "running", { error: null });
    } catch {
      // Cancelled meanwhile, or another process took it: release whoever waits on this job.
      const run = await this.#get(runId);
      for (const resolve of this.#waiters.get(runId) ?? []) resolve(run);
      this.#waiters.delete(runId);
      return;
    }
    claimRun(dir);
    try {
      if (!resume) {
        // A run that starts over (no saved state to continue from) logs every step again.
        await deleteMetricsAfter(this.#o.store, runId, -1);
        await deleteCheckpoints(this.#o.store, runId);
      }
      let job: Awaited<ReturnType<RunLoader>>;
      let evaluation: RecorderOptions["evaluation"];
      try {
        job = await this.#o.load(await this.#get(runId));
        evaluation = evaluationOf(job.configJson, job.data);
      } catch (err) {
        await this.#setStatus(runId, "failed", { error: (err as Error).message });
        return;
      }
      const recorder = new RunRecorder(this.#o.store, runId, this.#o.events, {
        progressIntervalMs: this.#o.progressIntervalMs,
        evaluation,
      });
      const handle = startWorker(
        this.#transport,
        { ...job, outDir: dir, resume, stateIntervalSeconds: this.#o.stateIntervalSeconds },
        (e) => {
          recorder.event(e);
          for (const tap of this.#taps) tap(runId, e);
        },
      );
      const active: Active = { runId, handle, recorder, stopping: false };
      this.#active = active;
      if (this.#cancelling.delete(runId)) this.#stop(active);
      const poll = setInterval(() => cancelRequested(dir) && this.#stop(active), 1000);
      const outcome = await handle.outcome;
      clearInterval(poll);
      let storeError: string | undefined;
      await recorder.finish().catch((err) => {
        storeError = `Some metrics could not be saved: ${(err as Error).message}`;
      });

      if (outcome.kind === "done") {
        await this.#saveCheckpoints(runId, outcome.summary);
        await this.#setStatus(runId, "completed", {
          summary: outcome.summary,
          device: outcome.summary.device,
          ...(storeError ? { error: storeError } : {}),
        });
      } else if (outcome.kind === "error") {
        await this.#setStatus(runId, outcome.cancelled ? "cancelled" : "failed", {
          error: outcome.cancelled ? null : outcome.message,
        });
      } else if (active.stopping) {
        await this.#setStatus(runId, "cancelled", { error: null });
      } else {
        await this.#setStatus(runId, "interrupted", { error: crashReason(outcome) });
      }
    } finally {
      this.#active = undefined;
      this.#cancelling.delete(runId);
      releaseRun(dir);
    }
  }

  async #saveCheckpoints(runId: number, summary: Summary): Promise<void> {
    const { keep } = await this.#get(runId);
    const swaRan = await swaStarted(this.#o.store, runId);
    for (const fold of summary.folds) {
      const kept = keptCheckpoints(keep, fold, swaRan);
      // Folders the run does not keep go now (each holds a whole model).
      if (fold.best_dir && !kept.best) rmSync(fold.best_dir, { recursive: true, force: true });
      if (fold.final_dir && !kept.final) rmSync(fold.final_dir, { recursive: true, force: true });
      if (fold.best_dir && kept.best) {
        await saveCheckpoint(this.#o.store, {
          runId,
          kind: "best",
          path: fold.best_dir,
          step: fold.best_step,
          metric: fold.best_metric,
        });
      }
      if (fold.final_dir && kept.final) {
        await saveCheckpoint(this.#o.store, {
          runId,
          kind: "final",
          path: fold.final_dir,
          step: fold.steps,
          metric: fold.final_metrics[summary.metric] ?? null,
        });
      }
    }
  }

  #stop(active: Active, graceMs?: number): void {
    if (active.stopping) return;
    active.stopping = true;
    active.handle.cancel(graceMs);
  }

  async #setStatus(runId: number, status: RunStatus, extra: Parameters<typeof setRunStatus>[3] = {}): Promise<Run> {
    const run = await setRunStatus(this.#o.store, runId, status, extra);
    this.#o.events.publish({ type: "run-status", run });
    if (ENDED.includes(status)) {
      for (const resolve of this.#waiters.get(runId) ?? []) resolve(run);
      this.#waiters.delete(runId);
    }
    return run;
  }

  async #get(runId: number): Promise<Run> {
    const run = await getRun(this.#o.store, runId);
    if (!run) throw notFound(`Run ${runId} does not exist`);
    return run;
  }

  #dir(runId: number): string {
    return runDir(this.#o.dataDir, runId);
  }
}
