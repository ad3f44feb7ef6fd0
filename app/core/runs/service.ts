// The run queue: training jobs one at a time by default (one GPU), n at once with
// `--folds-at-once n`, or as many as a Ray cluster fits; each in its own worker process (or Ray
// task), with the status kept in the store (queued → running → completed | failed | cancelled |
// interrupted). Front ends follow along through run-status and run-progress events.
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";

import type { FoldOutcome, Summary } from "../../engine/training.ts";
import type { TrainEvent, TrainingData } from "../../native/addon.ts";
import { badRequest, notFound } from "../api/errors.ts";
import { isDiskFull, plainMessage } from "../disk-full.ts";
import type { EventHub } from "../events.ts";
import type { ExperimentConfig } from "../experiments/config-types.ts";
import { metricsWriter } from "../experiments/run-files.ts";
import type { Queryable } from "../store/db.ts";
import { deleteCheckpoints, saveCheckpoint } from "../store/repo-checkpoints.ts";
import { getRun, markInterruptedRuns, type Run, runsWithStatus, setRunStatus } from "../store/repo-experiments.ts";
import { deleteMetricsAfter, swaStarted } from "../store/repo-metrics.ts";
import type { RunStatus } from "../store/types.ts";
import { cancelRequested, claimRun, ownedElsewhere, releaseRun, requestCancel, runDir } from "./control.ts";
import { planRun } from "./orchestrate.ts";
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
  /**
   * Runs trained at once (default 1). More fill a GPU that one small model's fold leaves idle
   * (`--folds-at-once`); the Ray backend runs as many as its cluster fits.
   */
  concurrency?: number;
  /** Each run's engine CPU threads (runs trained at once here split the cores); default: libtorch's. */
  threadsPerRun?: number;
}

/** Status writes on a full disk: tries, and the pause before the n-th retry (n × this). */
const STORE_RETRIES = 5;
const STORE_RETRY_MS = 500;

const ENDED: readonly RunStatus[] = ["completed", "failed", "cancelled", "interrupted"];

/** One run this process queued or trains, from enqueue until it has ended. */
interface Job {
  runId: number;
  phase: "queued" | "starting" | "training";
  /** Its worker and the recorder of its events, once started. */
  handle?: WorkerHandle;
  recorder?: RunRecorder;
  /** Cancel was asked: the worker is told (or, not started yet, told as soon as it is). */
  stopping: boolean;
}

/**
 * What decides a fold's evaluation times (for the ETA): the config's cadence and the fold's
 * validation rows as the engine plans them (a one-fold config: its one planned fold).
 */
function evaluationOf(configJson: string, data: TrainingData): NonNullable<RecorderOptions["evaluation"]> {
  const config = JSON.parse(configJson) as ExperimentConfig;
  const validRows = planRun(config, data).folds[0]?.validRows ?? 0;
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
  /** Every job of this process, in queue order (Maps keep insertion order). */
  readonly #jobs = new Map<number, Job>();
  /** The jobs being started or trained, each until it has ended. */
  readonly #running = new Set<Promise<void>>();
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

  /** Queues a run; it continues from its saved state if it has one (see #execute). */
  enqueue(runId: number): void {
    if (this.#closed || this.#jobs.has(runId)) return;
    this.#jobs.set(runId, { runId, phase: "queued", stopping: false });
    this.#kick();
  }

  #next(): Job | undefined {
    for (const job of this.#jobs.values()) if (job.phase === "queued") return job;
    return undefined;
  }

  /** Starts queued jobs while fewer than `concurrency` run; each one ending starts the next. */
  #kick(): void {
    const limit = this.concurrency;
    for (let job = this.#next(); job && !this.#closed && this.#running.size < limit; job = this.#next()) {
      job.phase = "starting";
      const running: Promise<void> = this.#run(job).finally(() => {
        this.#running.delete(running);
        this.#kick();
      });
      this.#running.add(running);
    }
  }

  /** Every raw engine event of the runs this process trains (for CLI progress); returns the unsubscribe. */
  onTrainEvent(listener: (runId: number, event: TrainEvent) => void): () => void {
    this.#taps.add(listener);
    return () => this.#taps.delete(listener);
  }

  /** Runs this process trains at once. */
  get concurrency(): number {
    return this.#o.concurrency ?? 1;
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
  hasSavedState(run: Pick<Run, "id" | "fold" | "dir">): boolean {
    return existsSync(join(this.#dir(run), `fold-${run.fold}`, "state"));
  }

  /** Writes the points of a run this process trains that are not in the store yet. */
  async flushMetrics(runId: number): Promise<void> {
    await this.#jobs.get(runId)?.recorder?.flush();
  }

  /** Stops taking work, cancels the job in progress and waits for its worker to end. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const job of [...this.#jobs.values()]) {
      if (job.phase === "queued") this.#jobs.delete(job.runId);
      else this.#stop(job, 15_000);
    }
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }

  async #run(job: Job): Promise<void> {
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
      this.#jobs.delete(job.runId);
    }
  }

  async #execute(job: Job): Promise<void> {
    const { runId } = job;
    const run = await this.#get(runId);
    const dir = this.#dir(run);
    // A run with a saved state continues from it (resumed, or queued again before a restart);
    // one without starts from the beginning.
    const resume = this.hasSavedState(run);
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
      let work: Awaited<ReturnType<RunLoader>>;
      let evaluation: RecorderOptions["evaluation"];
      try {
        work = await this.#o.load(await this.#get(runId));
        evaluation = evaluationOf(work.configJson, work.data);
      } catch (err) {
        await this.#setStatus(runId, "failed", { error: plainMessage(err, "loading the run's data") });
        return;
      }
      // Every event goes to both sinks: the store (charts, Compare) and the run's folder
      // (metrics.jsonl beside its checkpoints).
      const recorder = new RunRecorder(this.#o.store, runId, this.#o.events, {
        progressIntervalMs: this.#o.progressIntervalMs,
        evaluation,
      });
      const writeFolder = metricsWriter(dir, { append: resume });
      // The run folder's metrics.jsonl failing to write (a full disk) stops the run with that
      // message; it must not throw out of the worker's message handler.
      let folderError: string | undefined;
      const folder = (e: Parameters<typeof writeFolder>[0]) => {
        if (folderError !== undefined) return;
        try {
          writeFolder(e);
        } catch (err) {
          folderError = plainMessage(err, `writing the metrics in ${dir}`);
          this.#stop(job);
        }
      };
      const handle = startWorker(
        this.#transport,
        {
          ...work,
          outDir: dir,
          resume,
          stateIntervalSeconds: this.#o.stateIntervalSeconds,
          threads: this.#o.threadsPerRun,
        },
        (e) => {
          recorder.event(e);
          folder(e);
          for (const tap of this.#taps) tap(runId, e);
        },
      );
      job.handle = handle;
      job.recorder = recorder;
      job.phase = "training";
      if (job.stopping) handle.cancel(); // cancelled while its worker was starting
      const poll = setInterval(() => cancelRequested(dir) && this.#stop(job), 1000);
      const outcome = await handle.outcome;
      clearInterval(poll);
      let storeError: string | undefined;
      await recorder.finish().catch((err) => {
        storeError = `Some metrics could not be saved: ${plainMessage(err, "saving metrics")}`;
      });

      if (folderError !== undefined) {
        await this.#setStatus(runId, "failed", { error: folderError });
      } else if (outcome.kind === "done") {
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
      } else if (job.stopping) {
        await this.#setStatus(runId, "cancelled", { error: null });
      } else if (isDiskFull(outcome.stderr)) {
        // Died of a full disk: resuming would fail the same way until space is freed.
        await this.#setStatus(runId, "failed", { error: plainMessage(outcome.stderr, "training") });
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

  #stop(job: Job, graceMs?: number): void {
    if (job.stopping) return;
    job.stopping = true;
    job.handle?.cancel(graceMs);
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

  #dir(run: Pick<Run, "id" | "dir">): string {
    return run.dir ?? runDir(this.#o.dataDir, run.id);
  }
}
