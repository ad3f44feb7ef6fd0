// The Ray backend's Node side: one Python driver process (bridge.py) per app or CLI process,
// and a WorkerTransport over it, so the RunService queues, records and resumes Ray folds
// exactly as it does local ones (same events, same store, same run folders). Each fold is
// one Ray task on some node, running the engine's fold_job binary.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import type { RuntimeInfo } from "../../../native/generated/runtime.ts";
import type { ChildMessage, ParentMessage } from "../protocol.ts";
import type { WorkerProcess, WorkerTransport } from "../worker.ts";

export interface RayOptions {
  /** An existing cluster (`ray start --head` prints it); without one a local Ray runs for this process. */
  address?: string;
  /** CPUs each fold asks for (default 1); its engine uses that many threads. */
  cpusPerFold?: number;
  /** GPUs each fold asks for (default: 1 when the cluster has GPUs, else 0). */
  gpusPerFold?: number;
  /** CPUs of the local Ray started without an address (default: all). */
  localCpus?: number;
  /** Retries of a fold whose node or worker was lost (default 3). */
  maxRetries?: number;
  /** The Python with ray installed, and the fold_job binary (defaults: the set-up's). */
  python: string;
  binary: string;
}

export interface RayNode {
  id: string;
  address: string;
  alive: boolean;
  resources: Record<string, number>;
}

export interface RayReady {
  nodes: RayNode[];
  resources: Record<string, number>;
}

/** Where a job's task ran (node id), which attempt (2+ after a lost node), and which fold of which folder. */
export type RayPlacement = { key: string; node: string; attempt: number; fold: number; outDir: string };

type BridgeMessage =
  | ({ key: string } & ChildMessage)
  | { key: string; type: "placed"; node: string; attempt: number }
  | { key: string; type: "crashed"; message: string }
  | ({ type: "ready" } & RayReady)
  | { type: "fatal"; message: string };

const BRIDGE = fileURLToPath(new URL("./bridge.py", import.meta.url));

/**
 * The driver's environment. A local Ray (no address) is this machine's alone: with Ray's
 * cluster mode off (its Windows/macOS default) the node's address stays 127.0.0.1 instead of
 * being resolved to a network address, and then the GCS, raylet, object manager, workers and
 * the dashboard and runtime-env agents all listen on 127.0.0.1 only (test/app/ray-cli.test.ts
 * checks with `ss`). Such a node cannot take others; a cluster is started with `ray start`.
 */
export function bridgeEnv(address: string | undefined): NodeJS.ProcessEnv {
  return {
    ...process.env,
    RAY_USAGE_STATS_ENABLED: "0",
    ...(address ? {} : { RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER: "0" }),
  };
}

/** The bridge failed to start or reach Ray: the message says what to do. */
export class RayError extends Error {
  override name = "RayError";
}

interface Job {
  onMessage: (m: ChildMessage) => void;
  onExit: (code: number | null, signal: string | null) => void;
  crash: string;
  ended: boolean;
  fold: number;
  outDir: string;
}

export class RayBridge {
  readonly ready: Promise<RayReady>;
  /** The cluster's address; undefined: a local Ray started for this process. */
  readonly address?: string;
  readonly #proc: ChildProcess;
  readonly #jobs = new Map<string, Job>();
  readonly #placed = new Set<(p: RayPlacement) => void>();
  #next = 0;
  #stderr = "";
  #gone: Promise<void>;

  constructor(o: RayOptions) {
    this.address = o.address;
    const args = [BRIDGE, "--binary", o.binary];
    if (o.address) args.push("--address", o.address);
    if (o.cpusPerFold !== undefined) args.push("--cpus-per-fold", String(o.cpusPerFold));
    if (o.gpusPerFold !== undefined) args.push("--gpus-per-fold", String(o.gpusPerFold));
    if (o.localCpus !== undefined) args.push("--local-cpus", String(o.localCpus));
    if (o.maxRetries !== undefined) args.push("--max-retries", String(o.maxRetries));
    this.#proc = spawn(o.python, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: bridgeEnv(o.address),
    });
    this.#proc.stderr?.setEncoding("utf8");
    this.#proc.stderr?.on("data", (chunk: string) => {
      this.#stderr = (this.#stderr + chunk).slice(-4000);
      if (process.env.FTUNE_DEBUG) process.stderr.write(chunk);
    });
    let resolveReady!: (r: RayReady) => void;
    let rejectReady!: (e: Error) => void;
    this.ready = new Promise((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    this.ready.catch(() => {});
    const lines = createInterface({ input: this.#proc.stdout as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      let m: BridgeMessage;
      try {
        m = JSON.parse(line) as BridgeMessage;
      } catch {
        return; // a library printing to stdout; the protocol's lines are all JSON
      }
      if (m.type === "ready") resolveReady({ nodes: m.nodes, resources: m.resources });
      else if (m.type === "fatal") rejectReady(new RayError(m.message));
      else this.#route(m);
    });
    this.#gone = new Promise((resolve) => {
      this.#proc.once("close", (code) => {
        const why = this.#stderr.trim().split("\n").slice(-3).join(" | ");
        rejectReady(new RayError(`the Ray driver exited (code ${code}) before it was ready${why ? `: ${why}` : ""}`));
        for (const [key, job] of this.#jobs) this.#end(key, job, `The Ray driver exited (code ${code}).`);
        resolve();
      });
    });
  }

  #route(m: Exclude<BridgeMessage, { type: "ready" | "fatal" }>): void {
    const job = this.#jobs.get(m.key);
    if (!job) return;
    if (m.type === "placed") {
      const p = { key: m.key, node: m.node, attempt: m.attempt, fold: job.fold, outDir: job.outDir };
      for (const l of this.#placed) l(p);
    } else if (m.type === "crashed") {
      this.#end(m.key, job, m.message);
    } else {
      job.onMessage(m);
      if (m.type === "done" || m.type === "error") {
        job.ended = true;
        this.#jobs.delete(m.key);
        job.onExit(0, null);
      }
    }
  }

  #end(key: string, job: Job, crash: string): void {
    this.#jobs.delete(key);
    if (job.ended) return;
    job.ended = true;
    job.crash = crash;
    job.onExit(1, null);
  }

  /** Sees where every task lands (tests kill that node; the CLI could show it). */
  onPlaced(listener: (p: RayPlacement) => void): () => void {
    this.#placed.add(listener);
    return () => this.#placed.delete(listener);
  }

  #write(m: object): void {
    if (this.#proc.stdin?.writable) this.#proc.stdin.write(`${JSON.stringify(m)}\n`);
  }

  /** Workers as Ray tasks: one "process" per job, multiplexed over this bridge. */
  transport(): WorkerTransport {
    return () => {
      const key = `job-${++this.#next}`;
      const job: Job = { onMessage: () => {}, onExit: () => {}, crash: "", ended: false, fold: 0, outDir: "" };
      const exited = new Promise<[number | null, string | null]>((resolve) => {
        job.onExit = (code, signal) => resolve([code, signal]);
      });
      this.#jobs.set(key, job);
      const proc: WorkerProcess = {
        pid: this.#proc.pid,
        send: (m: ParentMessage) => {
          if (m.type === "start") {
            const { type: _, ...rest } = m;
            const run = (JSON.parse(m.configJson) as { folds?: { run?: unknown } }).folds?.run;
            job.fold = Array.isArray(run) && typeof run[0] === "number" ? run[0] : 0;
            job.outDir = m.outDir;
            this.#write({ op: "start", key, job: rest });
          } else this.#write({ op: "cancel", key });
        },
        onMessage: (listener) => {
          job.onMessage = listener;
        },
        onExit: (listener) => {
          exited.then(([code, signal]) => listener(code, signal));
        },
        // A task cannot be killed from here without losing its saved state: ask it to stop.
        kill: () => this.#write({ op: "cancel", key }),
        stderrTail: () => job.crash,
      };
      return proc;
    };
  }

  /** Stops the driver (a local Ray it started stops with it) and waits for it to exit. */
  async close(): Promise<void> {
    this.#proc.stdin?.end();
    const timer = setTimeout(() => this.#proc.kill("SIGKILL"), 30_000);
    await this.#gone;
    clearTimeout(timer);
  }
}

/** How many folds a cluster runs at once: its GPUs, or its CPUs over each fold's CPUs. */
export function raySlots(ready: RayReady, o: Pick<RayOptions, "cpusPerFold" | "gpusPerFold">): number {
  const gpus = ready.resources.GPU ?? 0;
  const perGpu = o.gpusPerFold ?? (gpus > 0 ? 1 : 0);
  const slots = perGpu > 0 ? gpus / perGpu : (ready.resources.CPU ?? 1) / (o.cpusPerFold ?? 1);
  return Math.max(1, Math.floor(slots));
}

/** One node as `ftune info --ray` reports it: the engine binary run there, or why it cannot. */
export interface RayNodeCheck extends RayNode {
  /** The Python Ray runs on that node, and its torch version (null: none). */
  python?: string;
  torch: string | null;
  engine?: RuntimeInfo;
  error?: string;
}

/** Runs the engine binary on every node of the cluster (a local Ray without an address). */
export async function checkRayNodes(o: RayOptions): Promise<RayNodeCheck[]> {
  const args = [BRIDGE, "--info", "--binary", o.binary, ...(o.address ? ["--address", o.address] : [])];
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(o.python, args, { env: bridgeEnv(o.address), maxBuffer: 1 << 24 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
  for (const line of r.stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    const m = JSON.parse(line) as { type: string; nodes?: RayNodeCheck[]; message?: string };
    if (m.type === "info") return m.nodes ?? [];
    if (m.type === "fatal") throw new RayError(m.message ?? "Ray failed");
  }
  const why = r.stderr.trim().split("\n").slice(-3).join(" | ");
  throw new RayError(`the Ray driver exited (code ${r.code})${why ? `: ${why}` : ""}`);
}
