// The desktop app's core on the backend its settings name (or FTUNE_BACKEND): Ray when it
// starts, else local with the reason kept for the engine panel — a Ray that cannot start must
// not keep the app from opening, since the app is where the setting is changed back.
import { existsSync } from "node:fs";

import { RayError } from "../runs/ray/bridge.ts";
import { type BackendChoice, backendChoice } from "../settings.ts";
import { type Core, type CoreOptions, openCore } from "./index.ts";

export interface RayInstall {
  python: string;
  binary: string;
  /** The set-up's stamp that ray is installed in that Python. */
  stamp: string;
}

export async function openAppCore(
  dataDir: string,
  options: CoreOptions,
  install: RayInstall,
  choice: BackendChoice = backendChoice({}, dataDir),
): Promise<Core> {
  // Local training (chosen, or the fallback) takes the choice's folds at once.
  const local = { foldsAtOnce: choice.foldsAtOnce, ...options };
  if (choice.backend !== "ray") return openCore(dataDir, local);
  const where = choice.rayAddress ? `the Ray cluster at ${choice.rayAddress}` : "a local Ray";
  let problem: string;
  if (!existsSync(install.stamp) || !existsSync(install.binary)) {
    problem = `The Ray backend is not installed: run \`node scripts/setup.mjs --ray\` (or any ftune command with --backend ray once), then restart the app. Runs train here meanwhile.`;
  } else {
    try {
      return await openCore(dataDir, {
        ...options,
        ray: { address: choice.rayAddress, python: install.python, binary: install.binary },
      });
    } catch (err) {
      if (!(err instanceof RayError)) throw err;
      problem = `Runs train here: ${where} did not start (${err.message}). Check the address and restart the app.`;
    }
  }
  return openCore(dataDir, { ...local, backendProblem: problem });
}
