// The one place that loads the native addon (Rust + libtorch). Everything else imports its
// typed surface from here, so a missing build gives one clear message instead of a stack.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import type * as Native from "../../native/index.js";

const nativeDir = join(dirname(fileURLToPath(import.meta.url)), "../../native");

function load(): typeof Native {
  const entry = join(nativeDir, "index.js");
  if (!existsSync(entry)) {
    throw new Error("The native engine is not built yet. Run `npm run setup` (it builds native/ against libtorch).");
  }
  return createRequire(import.meta.url)(entry) as typeof Native;
}

export const native: typeof Native = load();
export type {
  LrSchedule,
  ModelInfo,
  ModelLoadOptions,
  ParamGroupInfo,
  RuntimeInfo,
  SequenceModel,
  StartOptions,
  TrainEvent,
  TrainingData,
} from "../../native/index.js";
