// The run queue: one training job at a time (one GPU), each in its own worker process, with
// the status kept in the store (queued → running → completed | failed | cancelled |
// interrupted). Front ends follow along through run-status and run-progress events.
import type { Summary } from "../../engine/training.ts";
import type { TrainEvent, TrainingData } from "../../native/addon.ts";
import { badRequest, notFound } from "../api/errors.ts";
import { isDiskFull, plainMessage } from "../disk-full.ts";
import type { EventHub } from "../events.ts";
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

/** Status writes on a full disk: tries, and the pause before the n-th retry (n × this). */
const STORE_RETRIES = 5;
const STORE_RETRY_MS = 500;

const ENDED: readonly RunStatus[] = ["completed", "failed", "cancelled", "interrupted"];

interface Job {
  runId: number;
  resume: boolean;
}

interface Active {
  runId: number;
  handle: WorkerHandle;
  stopping: boolean;
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

  enqueue(runId: number, resume = false): void {
    if (this.#closed || this.#current === runId || this.#queue.some((j) => j.runId === runId)) return;
    this.#queue.push({ runId, resume });
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
        const message = plainMessage(err, "recording the run");
        const shown = isDiskFull(err) ? message : `Internal error while running: ${message}`;
        await this.#setStatus(job.runId, "failed", { error: shown }).catch((e) => {
          process.stderr.write(`ftune: run ${job.runId}: its failure could not be recorded: ${plainMessage(e)}\n`);
        });
      } finally {
        this.#current = undefined;
      }
    }
  }

  async #execute({ runId, resume }: Job): Promise<void> {
    const dir = this.#dir(runId);
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
      let job: Awaited<ReturnType<RunLoader>>;
      try {
        job = await this.#o.load(await this.#get(runId));
      } catch (err) {
        await this.#setStatus(runId, "failed", { error: plainMessage(err, "loading the run's data") });
        return;
      }
      const recorder = new RunRecorder(this.#o.store, runId, this.#o.events, {
        progressIntervalMs: this.#o.progressIntervalMs,
      });
      const handle = startWorker(
        this.#transport,
        { ...job, outDir: dir, resume, stateIntervalSeconds: this.#o.stateIntervalSeconds },
        (e) => {
          recorder.event(e);
          for (const tap of this.#taps) tap(runId, e);
        },
      );
      const active: Active = { runId, handle, stopping: false };
      this.#active = active;
      if (this.#cancelling.delete(runId)) this.#stop(active);
      const poll = setInterval(() => cancelRequested(dir) && this.#stop(active), 1000);
      const outcome = await handle.outcome;
      clearInterval(poll);
      let storeError: string | undefined;
      await recorder.finish().catch((err) => {
        storeError = `Some metrics could not be saved: ${plainMessage(err, "saving metrics")}`;
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
          error: outcome.cancelled ? null : plainMessage(outcome.message, "training"),
        });
      } else if (active.stopping) {
        await this.#setStatus(runId, "cancelled", { error: null });
      } else if (isDiskFull(outcome.stderr)) {
        // Died of a full disk: resuming would fail the same way until space is freed.
        await this.#setStatus(runId, "failed", { error: plainMessage(outcome.stderr, "training") });
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

  #stop(active: Active, graceMs?: number): void {
    if (active.stopping) return;
    active.stopping = true;
    active.handle.cancel(graceMs);
  }

  async #setStatus(runId: number, status: RunStatus, extra: Parameters<typeof setRunStatus>[3] = {}): Promise<Run> {
    const run = await this.#write(() => setRunStatus(this.#o.store, runId, status, extra));
    this.#o.events.publish({ type: "run-status", run });
    if (ENDED.includes(status)) {
      for (const resolve of this.#waiters.get(runId) ?? []) resolve(run);
      this.#waiters.delete(runId);
    }
    return run;
  }

  /**
   * A store write, tried again a few times while the disk is full: the failure that filled it
   * (a half-written checkpoint) is usually cleaned up a moment later, and the run's status is
   * the one thing that must not be lost. Any other failure, or a disk that stays full, throws.
   */
  async #write<T>(op: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await op();
      } catch (err) {
        if (!isDiskFull(err) || attempt >= STORE_RETRIES) throw err;
        await new Promise((r) => setTimeout(r, STORE_RETRY_MS * attempt));
      }
    }
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
