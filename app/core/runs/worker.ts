// The parent side of a training worker. Each run trains in its own process, so a native crash,
// an out-of-memory kill or `kill -9` ends that process only; the parent sees an exit without a
// final message and reports it. How the process is made is a `WorkerTransport`: `fork` here, an
// Electron utilityProcess in the desktop app (same messages, same entry module).
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

import type { Summary } from "../../engine/training.ts";
import type { TrainEvent } from "../../native/addon.ts";
import type { ChildMessage, ParentMessage, StartJob } from "./protocol.ts";

/** A started worker process, as the parent drives it. */
export interface WorkerProcess {
  readonly pid: number | undefined;
  send(message: ParentMessage): void;
  onMessage(listener: (message: ChildMessage) => void): void;
  /** Called once when the process has ended (code, or the signal that killed it). */
  onExit(listener: (code: number | null, signal: string | null) => void): void;
  kill(signal?: NodeJS.Signals): void;
  /** The end of what the process wrote to stderr (for crash reports). */
  stderrTail(): string;
}

export type WorkerTransport = () => WorkerProcess;

export const WORKER_ENTRY = fileURLToPath(new URL("./worker-entry.ts", import.meta.url));
// Resolved here so the worker starts whatever the current directory is.
const TSX_LOADER = import.meta.resolve("tsx");
const STDERR_TAIL = 4000;

/** Workers as Node child processes (CLI and server). */
export function forkTransport(options: { env?: NodeJS.ProcessEnv } = {}): WorkerTransport {
  return () => {
    const child = fork(WORKER_ENTRY, [], {
      execArgv: ["--import", TSX_LOADER],
      serialization: "advanced",
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      env: options.env ?? process.env,
    });
    let tail = "";
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      tail = (tail + chunk).slice(-STDERR_TAIL);
      if (process.env.FTUNE_DEBUG) process.stderr.write(chunk);
    });
    // 'close' follows an exit and also a failed spawn (which has no exit), so it always ends the job.
    const ended = new Promise<[number | null, string | null]>((resolve) => {
      child.once("close", (code, signal) => resolve([code, signal]));
    });
    child.on("error", (err) => {
      tail = `${tail}\n${err.message}`.slice(-STDERR_TAIL);
    });
    return {
      pid: child.pid,
      send: (message) => {
        // The callback swallows a send racing the child's exit; onExit reports that end.
        if (child.connected) child.send(message, () => {});
      },
      onMessage: (listener) => child.on("message", (m) => listener(m as ChildMessage)),
      onExit: (listener) => {
        ended.then(([code, signal]) => listener(code, signal));
      },
      kill: (signal = "SIGKILL") => {
        child.kill(signal);
      },
      stderrTail: () => tail,
    };
  };
}

export type WorkerOutcome =
  | { kind: "done"; summary: Summary }
  | { kind: "error"; message: string; cancelled: boolean }
  /** The process ended without a final message: it crashed or was killed. */
  | { kind: "crashed"; code: number | null; signal: string | null; stderr: string };

export interface WorkerHandle {
  readonly pid: number | undefined;
  /** Resolves once the process has exited (its memory, GPU memory included, is free again). */
  readonly outcome: Promise<WorkerOutcome>;
  /** Asks the engine to stop within a step; kills the process if it has not ended by `graceMs`. */
  cancel(graceMs?: number): void;
  kill(): void;
}

/** Starts one job in a new worker; `onEvent` sees every engine event as it arrives. */
export function startWorker(
  transport: WorkerTransport,
  job: StartJob,
  onEvent: (event: TrainEvent) => void,
): WorkerHandle {
  const proc = transport();
  let final: WorkerOutcome | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const outcome = new Promise<WorkerOutcome>((resolve) => {
    proc.onMessage((m) => {
      if (m.type === "event") onEvent(m.event);
      else if (m.type === "done") final = { kind: "done", summary: m.summary };
      else if (m.type === "error") final = { kind: "error", message: m.message, cancelled: m.cancelled };
      // A worker that reported but hangs on its way out must not hold the queue.
      if (final && !killTimer) killTimer = setTimeout(() => proc.kill(), 30_000);
    });
    proc.onExit((code, signal) => {
      clearTimeout(killTimer);
      resolve(final ?? { kind: "crashed", code, signal, stderr: proc.stderrTail() });
    });
  });
  proc.send({ type: "start", ...job });
  return {
    pid: proc.pid,
    outcome,
    cancel(graceMs = 60_000) {
      proc.send({ type: "cancel" });
      if (!killTimer) killTimer = setTimeout(() => proc.kill(), graceMs);
    },
    kill: () => proc.kill(),
  };
}

/** Why a worker ended without reporting, in a sentence for the run's error column. */
export function crashReason(o: Extract<WorkerOutcome, { kind: "crashed" }>): string {
  const how = o.signal ? `was killed by signal ${o.signal}` : `exited with code ${o.code}`;
  const hint = o.signal === "SIGKILL" ? " (possibly out of memory)" : "";
  const last = o.stderr.trim().split("\n").slice(-3).join(" | ");
  return `The training process ${how}${hint} before the run finished.${last ? ` Last output: ${last}` : ""} Resume the run to continue from its last saved state.`;
}
