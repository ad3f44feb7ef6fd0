// The one place that loads the native addon (Rust + libtorch). Everything else imports its
// typed surface from here, so a missing build gives one clear message instead of a stack.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import type * as Native from "../../native/index.js";
import { addonLoadMessage, EngineLoadError, libtorchChoice, preloadLibtorch } from "./libtorch.ts";

export { EngineLoadError };

const nativeDir = join(dirname(fileURLToPath(import.meta.url)), "../../native");

function load(): typeof Native {
  const entry = join(nativeDir, "index.js");
  if (!existsSync(entry)) {
    throw new EngineLoadError(
      "The native engine is not built yet. Run `npm run setup` (it builds native/ against libtorch).",
    );
  }
  const libtorch = libtorchChoice();
  if (libtorch) preloadLibtorch(libtorch.dir, libtorch.source);
  try {
    return createRequire(import.meta.url)(entry) as typeof Native;
  } catch (err) {
    throw new EngineLoadError(addonLoadMessage(err, libtorch?.dir ?? null));
  }
}

let loaded: typeof Native | undefined;
/**
 * The addon, loaded on first use: a failure (no libtorch, say) then surfaces where the app
 * handles errors (the CLI's message, the desktop app's error box), not at import time.
 */
export const native: typeof Native = new Proxy({} as typeof Native, {
  get: (_target, key) => {
    loaded ??= load();
    return Reflect.get(loaded, key);
  },
});
export type {
  LrSchedule,
  ModelInfo,
  ModelLoadOptions,
  ParamGroupInfo,
  SequenceModel,
  StartOptions,
  Tokenizer,
} from "../../native/index.js";
// The engine's events, outcomes and summaries: generated from the Rust types.
export type {
  BestSource,
  CheckpointName,
  ComputePrecision,
  FoldOutcome,
  Summary,
  TimedEvent,
  TrainEvent,
} from "./generated/events.ts";
// What a run takes and the engine's plan of it: generated from the Rust types.
export type { FoldPlan, RunPlan, TrainingData } from "./generated/run.ts";
export type { RuntimeInfo } from "./generated/runtime.ts";
