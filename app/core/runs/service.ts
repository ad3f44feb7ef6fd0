// The run queue: one training job at a time (one GPU), each in its own worker process, with
// the status kept in the store (queued → running → completed | failed | cancelled |
// interrupted). Front ends follow along through run-status and run-progress events.
import type { Summary } from "../../engine/training.ts";
import type { TrainEvent, TrainingData } from "../../native/addon.ts";
import { badRequest, notFound } from "../api/errors.ts";
import type { EventHub } from "../events.ts";
import { metricsWriter } from "../experiments/run-files.ts";
import type { Queryable } from "../store/db.ts";
import { saveCheckpoint } from "../store/repo-checkpoints.ts";
import { getRun, markInterruptedRuns, type Run, runsWithStatus, setRunStatus } from "../store/repo-experiments.ts";
import type { RunStatus } from "../store/types.ts";
import { cancelRequested, claimRun, ownedElsewhere, releaseRun, requestCancel, runDir } from "./control.ts";
import { RunRecorder } from "./recorder.ts";
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

/** One run this process queued or trains, from enqueue until it has ended. */
interface Job {
  runId: number;
  resume: boolean;
  phase: "queued" | "starting" | "training";
  /** Its worker, once started. */
  handle?: WorkerHandle;
  /** Cancel was asked: the worker is told (or, not started yet, told as soon as it is). */
  stopping: boolean;
}

export class RunService {
  readonly #o: RunServiceOptions;
  readonly #transport: WorkerTransport;
  /** Every job of this process, in queue order (Maps keep insertion order). */
  readonly #jobs = new Map<number, Job>();
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
    const alive = running.filter((r) => ownedElsewhere(this.#dir(r))).map((r) => r.id);
    return markInterruptedRuns(this.#o.store, alive);
  }

  /** Picks up runs queued in the store (e.g. before a restart). */
  async startQueued(): Promise<void> {
    for (const run of await runsWithStatus(this.#o.store, "queued")) this.enqueue(run.id);
  }

  enqueue(runId: number, resume = false): void {
    if (this.#closed || this.#jobs.has(runId)) return;
    this.#jobs.set(runId, { runId, resume, phase: "queued", stopping: false });
    this.#kick();
  }

  #next(): Job | undefined {
    for (const job of this.#jobs.values()) if (job.phase === "queued") return job;
    return undefined;
  }

  #kick(): void {
    if (this.#pump || this.#closed) return;
    this.#pump = this.#drain().finally(() => {
      this.#pump = undefined;
      // A job queued while the drain was finishing would otherwise wait for the next enqueue.
      if (this.#next()) this.#kick();
    });
  }

  /** Every raw engine event of the runs this process trains (for CLI progress); returns the unsubscribe. */
  onTrainEvent(listener: (runId: number, event: TrainEvent) => void): () => void {
    this.#taps.add(listener);
    return () => this.#taps.delete(listener);
  }

  /** The run training in this process, if any. */
  get active(): { runId: number; pid: number | undefined } | null {
    for (const job of this.#jobs.values())
      if (job.phase === "training") return { runId: job.runId, pid: job.handle?.pid };
    return null;
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
    if (this.#jobs.has(runId)) return ended;
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
    const job = this.#jobs.get(runId);
    if (job?.phase === "queued") {
      this.#jobs.delete(runId);
      return this.#setStatus(runId, "cancelled");
    }
    if (job) {
      this.#stop(job);
      return this.waitFor(runId);
    }
    // Not ours: queued or interrupted in the store, or trained by another process.
    const run = await this.#get(runId);
    if (run.status === "queued" || run.status === "interrupted") return this.#setStatus(runId, "cancelled");
    if (run.status === "running") {
      if (ownedElsewhere(this.#dir(run))) {
        requestCancel(this.#dir(run));
        return run;
      }
      await this.#setStatus(runId, "interrupted", { error: "The process training this run is gone" });
      return this.#setStatus(runId, "cancelled");
    }
    throw badRequest(`Run ${runId} has already ended (${run.status}); there is nothing to cancel.`);
  }

  /** Queues an interrupted run to continue from its last saved state, in its own folder. */
  async resume(runId: number): Promise<Run> {
    const run = await this.#get(runId);
    if (run.status !== "interrupted") {
      throw badRequest(`Run ${runId} is ${run.status}; only interrupted runs can resume.`);
    }
    this.enqueue(runId, true);
    return run;
  }

  /** Stops taking work, cancels the job in progress and waits for its worker to end. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const job of [...this.#jobs.values()]) {
      if (job.phase === "queued") this.#jobs.delete(job.runId);
      else this.#stop(job, 15_000);
    }
    await this.#pump;
  }

  async #drain(): Promise<void> {
    for (let job = this.#next(); job && !this.#closed; job = this.#next()) {
      job.phase = "starting";
      try {
        await this.#execute(job);
      } catch (err) {
        // A store failure around a run: record it on the run if we still can, keep the queue going.
        const message = `Internal error while running: ${(err as Error).message}`;
        await this.#setStatus(job.runId, "failed", { error: message }).catch(() => {});
      } finally {
        this.#jobs.delete(job.runId);
      }
    }
  }

  async #execute(job: Job): Promise<void> {
    const { runId, resume } = job;
    const dir = this.#dir(await this.#get(runId));
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
      let work: Awaited<ReturnType<RunLoader>>;
      try {
        work = await this.#o.load(await this.#get(runId));
      } catch (err) {
        await this.#setStatus(runId, "failed", { error: (err as Error).message });
        return;
      }
      // Every event goes to both sinks: the store (charts, Compare) and the run's folder
      // (metrics.jsonl beside its checkpoints).
      const recorder = new RunRecorder(this.#o.store, runId, this.#o.events, {
        progressIntervalMs: this.#o.progressIntervalMs,
      });
      const folder = metricsWriter(dir, { append: resume });
      const handle = startWorker(
        this.#transport,
        { ...work, outDir: dir, resume, stateIntervalSeconds: this.#o.stateIntervalSeconds },
        (e) => {
          recorder.event(e);
          folder(e);
          for (const tap of this.#taps) tap(runId, e);
        },
      );
      job.handle = handle;
      job.phase = "training";
      if (job.stopping) handle.cancel(); // cancelled while its worker was starting
      const poll = setInterval(() => cancelRequested(dir) && this.#stop(job), 1000);
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
      } else if (job.stopping) {
        await this.#setStatus(runId, "cancelled", { error: null });
      } else {
        await this.#setStatus(runId, "interrupted", { error: crashReason(outcome) });
      }
    } finally {
      // Ended: no longer this process's job by the time anyone waiting on it looks.
      this.#jobs.delete(runId);
      releaseRun(dir);
    }
  }

  async #saveCheckpoints(runId: number, summary: Summary): Promise<void> {
    for (const fold of summary.folds) {
      if (fold.best_dir) {
        await saveCheckpoint(this.#o.store, {
          runId,
          kind: "best",
          path: fold.best_dir,
          step: fold.best_step,
          metric: fold.best_metric,
        });
      }
      if (fold.final_dir) {
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

  #stop(job: Job, graceMs?: number): void {
    if (job.stopping) return;
    job.stopping = true;
    job.handle?.cancel(graceMs);
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

  #dir(run: Run): string {
    return run.dir ?? runDir(this.#o.dataDir, run.id);
  }
}
