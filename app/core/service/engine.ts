// The engine's state for front ends: does libtorch load, from where, and setting one up (the
// desktop app's first-run screen; `ftune engine setup` is the CLI's). Progress goes out as
// `engine-setup` events; the call resolves with the new state once the engine loads (or not).
import { existsSync } from "node:fs";

import { EngineLoadError, native } from "../../native/addon.ts";
import { libtorchChoice } from "../../native/libtorch.ts";
import type { EngineStatus, Input, ServerEvent } from "../api/contract.ts";
import { badRequest } from "../api/errors.ts";
import {
  currentEngine,
  DEFAULT_INDEX,
  EngineSetupError,
  hasNvidiaDriver,
  setUpByDownload,
  setUpFromExisting,
} from "../engine-setup/index.ts";
import type { EventHub } from "../events.ts";

/** Loads the engine if it can; the state either way. */
export function engineStatus(dataDir: string): EngineStatus {
  const base = {
    engine: currentEngine(dataDir),
    source: libtorchChoice()?.source ?? "rpath",
    nvidiaDriver: hasNvidiaDriver(),
    defaultIndex: DEFAULT_INDEX,
  } as const;
  try {
    const info = native.runtimeInfo();
    return { ...base, ready: true, problem: null, torchVersion: info.torchVersion, torchLibDir: info.torchLibDir };
  } catch (err) {
    if (!(err instanceof EngineLoadError)) throw err;
    return { ...base, ready: false, problem: err.message, torchVersion: null, torchLibDir: null };
  }
}

let running = false;

export async function setUpEngine(
  dataDir: string,
  events: EventHub,
  input: Input<"setUpEngine">,
): Promise<EngineStatus> {
  if (running) throw badRequest("An engine set-up is already in progress");
  if (input.source === "existing" && input.python && !existsSync(input.python)) {
    throw badRequest(`${input.python} does not exist: give a python executable, or a venv or conda folder`);
  }
  running = true;
  const say = (step: Extract<ServerEvent, { type: "engine-setup" }>["step"]) =>
    events.publish({ type: "engine-setup", step });
  try {
    if (input.source === "existing") {
      say({ step: "index", message: "looking for PyTorch 2.11" });
      setUpFromExisting(input.python ? [input.python] : [], dataDir);
    } else {
      await setUpByDownload({ variant: input.variant, indexUrl: input.indexUrl, dataDir, onStep: say });
    }
  } catch (err) {
    const message =
      err instanceof EngineSetupError ? err.message : `the engine set-up failed: ${(err as Error).message}`;
    say({ step: "error", message });
    throw badRequest(message);
  } finally {
    running = false;
  }
  const status = engineStatus(dataDir);
  if (!status.ready) say({ step: "error", message: status.problem ?? "the engine does not load" });
  else say({ step: "done", message: `engine ready: libtorch ${status.torchVersion}` });
  return status;
}
