// The app core behind every front end: opens the data folder, recovers runs a crash left
// behind, registers the bundled encoder, and implements every API method (`handlers`), which
// transports call through `dispatch` (app/core/api/dispatch.ts).

import { availableParallelism } from "node:os";

import { EngineLoadError, native } from "../../native/addon.ts";
import { libtorchChoice } from "../../native/libtorch.ts";
import type { Handlers } from "../api/dispatch.ts";
import { currentEngine } from "../engine-setup/index.ts";
import { EventHub } from "../events.ts";
import { listCachedModels } from "../models/hf-cache.ts";
import { RayBridge, RayError, type RayOptions, raySlots } from "../runs/ray/bridge.ts";
import { RunService } from "../runs/service.ts";
import type { WorkerTransport } from "../runs/worker.ts";
import { defaultDataDir, openStore, type Store } from "../store/index.ts";
import { backendHandlers } from "./backend.ts";
import type { Context } from "./context.ts";
import { datasetHandlers } from "./datasets.ts";
import { ModelDownloads } from "./downloads.ts";
import { engineStatus, setUpEngine } from "./engine.ts";
import { experimentHandlers } from "./experiments.ts";
import { ModelLibrary } from "./models.ts";
import { resultHandlers } from "./results.ts";
import { runHandlers, runLoader } from "./runs.ts";
import { defaultSweepRuntime, type SweepRuntime, SweepService, sweepHandlers } from "./sweeps.ts";

export function createHandlers(ctx: Context): Handlers {
  return {
    async runtimeInfo() {
      const { torchVersion, cudaAvailable, cudaDeviceCount, threads } = native.runtimeInfo();
      const source = libtorchChoice()?.source ?? "rpath";
      return { torchVersion, cudaAvailable, cudaDeviceCount, threads, source, engine: currentEngine(ctx.dataDir) };
    },
    engineStatus: async () => engineStatus(ctx.dataDir),
    async setUpEngine(input) {
      const status = await setUpEngine(ctx.dataDir, ctx.events, input);
      if (status.ready) await ctx.models.registerBundled();
      return status;
    },
    listModels: () => ctx.models.list(),
    addModel: (input) => ctx.models.add(input.path, input.name),
    listCachedModels: async () => listCachedModels(),
    downloadModel: (input) => ctx.downloads.start(input.id),
    removeModel: (input) => ctx.models.remove(input.id),
    ...backendHandlers(ctx),
    ...datasetHandlers(ctx),
    ...experimentHandlers(ctx),
    ...runHandlers(ctx),
    ...resultHandlers(ctx),
    ...sweepHandlers(ctx.sweeps ?? new SweepService(ctx, defaultSweepRuntime())),
  };
}

export interface Core extends Context {
  store: Store;
  handlers: Handlers;
  /** Cancels the run in progress, waits for its worker, closes the store. */
  close(): Promise<void>;
}

export interface CoreOptions {
  transport?: WorkerTransport;
  stateIntervalSeconds?: number;
  progressIntervalMs?: number;
  /**
   * false: open even when the engine does not load (the desktop app and `ftune serve`, which
   * then offer to set one up); true (the default): an engine that cannot load stops here.
   */
  requireEngine?: boolean;
  /** Train on Ray (a cluster at `address`, else a local Ray for this process) instead of local workers. */
  ray?: RayOptions;
  /**
   * Local workers: folds trained at once (default 1), for a GPU that one small model's fold
   * leaves idle; the CPU's cores are split between them.
   */
  foldsAtOnce?: number;
  /** Where sweeps run (default: the set-up's Python and fold_job, on `ray.address` or a local Ray). */
  sweepRuntime?: Partial<SweepRuntime>;
  /**
   * Continue the sweeps this data folder was running when its app stopped (the server and the
   * desktop app); the CLI's `ftune sweep` resumes its own, by its --out folder.
   */
  resumeSweeps?: boolean;
  /** Why the saved Ray backend is not used (the desktop app fell back to local); the API reports it. */
  backendProblem?: string;
}

/** n folds at once here: n workers, each with its share of the cores (at least one thread). */
function localSlots(n: number): { concurrency?: number; threadsPerRun?: number } {
  if (n <= 1) return {};
  return { concurrency: n, threadsPerRun: Math.max(1, Math.floor(availableParallelism() / n)) };
}

/** Starts the Ray driver and waits until it reaches its cluster; a failure stops it again. */
async function startRay(o: RayOptions): Promise<{ bridge: RayBridge; slots: number }> {
  const bridge = new RayBridge(o);
  try {
    return { bridge, slots: raySlots(await bridge.ready, o) };
  } catch (err) {
    await bridge.close();
    throw err instanceof RayError ? err : new RayError(String(err));
  }
}

export async function openCore(dataDir: string = defaultDataDir(), options: CoreOptions = {}): Promise<Core> {
  // The CLI's commands need the engine: one that cannot load stops here, with its own message.
  if (options.requireEngine ?? true) native.runtimeInfo();
  const engineLoads = () => {
    try {
      native.runtimeInfo();
      return true;
    } catch (err) {
      if (err instanceof EngineLoadError) return false;
      throw err;
    }
  };
  const ray = options.ray ? await startRay(options.ray) : undefined;
  const store = await openStore(dataDir).catch(async (err) => {
    await ray?.bridge.close();
    throw err;
  });
  const events = new EventHub();
  const {
    ray: _,
    requireEngine: __,
    sweepRuntime: ___,
    resumeSweeps: ____,
    backendProblem,
    foldsAtOnce = 1,
    ...rest
  } = options;
  const runs = new RunService({
    store,
    dataDir,
    events,
    load: runLoader(store),
    ...rest,
    ...(ray ? { transport: ray.bridge.transport(), concurrency: ray.slots } : localSlots(foldsAtOnce)),
  });
  const models = new ModelLibrary(store);
  try {
    await runs.recover();
    // Registering reads the model through the engine: without one, after it is set up.
    if (engineLoads()) await models.registerBundled();
  } catch (err) {
    await store.close().catch(() => {});
    await ray?.bridge.close();
    throw err;
  }
  const ctx: Context = {
    store,
    dataDir,
    events,
    runs,
    models,
    downloads: new ModelDownloads(events),
    ray: ray?.bridge,
    backendProblem,
  };
  const sweeps = new SweepService(ctx, {
    ...defaultSweepRuntime(options.ray?.address),
    ...(options.ray ? { python: options.ray.python, binary: options.ray.binary } : {}),
    ...options.sweepRuntime,
  });
  ctx.sweeps = sweeps;
  try {
    if (options.resumeSweeps) await sweeps.recover();
  } catch (err) {
    await store.close().catch(() => {});
    await ray?.bridge.close();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    ...ctx,
    store,
    handlers: createHandlers(ctx),
    close: () => {
      closing ??= Promise.all([ctx.downloads.close(), sweeps.close(), runs.close()])
        .then(() => {})
        .finally(() => ray?.bridge.close())
        .finally(() => store.close());
      return closing;
    },
  };
}
