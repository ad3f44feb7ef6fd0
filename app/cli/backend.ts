// `--backend local|ray` and `--ray-address` for the commands that train several folds or
// experiments (train, ablate, serve): the Ray backend is installed on first use (the set-up's
// `--ray` step: pinned ray and optuna in the project's Python environment, and the engine's
// fold_job binary), then every fold is one Ray task (app/core/runs/ray/).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";

import { foldJobBinary, rayStamp, root, venvPython } from "../../scripts/env.mjs";
import type { CoreOptions } from "../core/service/index.ts";
import { type BackendChoice, BackendName, backendChoice, RayAddress } from "../core/settings.ts";
import { defaultDataDir } from "../core/store/index.ts";
import { UserError } from "./errors.ts";
import { int } from "./options.ts";

export interface BackendOptions {
  backend?: BackendName;
  rayAddress?: string;
  rayCpusPerFold?: number;
  rayGpusPerFold?: number;
  foldsAtOnce?: number;
}

/** A GPU share: 0.5 puts two folds on each GPU (a small model's fold cannot fill one alone). */
function gpuShare(value: string): number {
  const x = Number(value);
  if (!Number.isFinite(x) || x <= 0)
    throw new InvalidArgumentError("give a number above 0, e.g. 0.5 for two folds per GPU");
  return x;
}

export function addBackendOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        "--backend <backend>",
        "where folds train: local (here, one at a time unless --folds-at-once) or ray (one Ray task per fold); default: FTUNE_BACKEND, else local",
      ).choices(BackendName.options),
    )
    .addOption(
      new Option(
        "--folds-at-once <n>",
        "local: train n folds at once (default 1); 2+ fills a GPU that one small model's fold leaves idle, and splits the CPU's cores between them",
      ).argParser(int),
    )
    .addOption(
      new Option(
        "--ray-address <address>",
        "an existing Ray cluster (host:port of `ray start --head`; default: FTUNE_RAY_ADDRESS); without one a local Ray runs for this command",
      ),
    )
    .addOption(new Option("--ray-cpus-per-fold <n>", "CPUs each fold asks for on Ray (default 1)").argParser(int))
    .addOption(
      new Option(
        "--ray-gpus-per-fold <share>",
        "GPUs each fold asks for on Ray (default 1 where the cluster has GPUs; 0.5 trains two folds at once on each GPU)",
      ).argParser(gpuShare),
    );
}

/** Installs the Ray backend when it is not yet (once per Python environment). */
export function ensureRayBackend(): void {
  if (existsSync(rayStamp()) && existsSync(foldJobBinary())) return;
  process.stderr.write("ftune: setting up the Ray backend (first use: pip install ray and optuna, build fold_job)\n");
  const r = spawnSync("node", [join(root, "scripts/setup.mjs"), "--ray"], { stdio: ["ignore", 2, 2] });
  if (r.status !== 0) throw new UserError("The Ray backend could not be set up (see the set-up's output above).");
}

/**
 * The backend a command runs with: its flags, then FTUNE_BACKEND / FTUNE_RAY_ADDRESS; `ftune
 * serve` (the app) also takes the app's saved settings (backend, folds at once), which train
 * and ablate do not.
 */
export function chooseBackend(o: BackendOptions, app = false): BackendChoice {
  const c = backendChoice(o, defaultDataDir(), process.env, app);
  if (o.rayAddress && c.backend !== "ray") throw new UserError("--ray-address needs --backend ray", 2);
  if (o.foldsAtOnce !== undefined && c.backend === "ray") {
    throw new UserError(
      "--folds-at-once is for local training; on Ray, --ray-gpus-per-fold 0.5 trains two folds at once on each GPU",
      2,
    );
  }
  if (c.rayAddress && !RayAddress.safeParse(c.rayAddress).success) {
    throw new UserError(`"${c.rayAddress}" is not a Ray address: give host:port, as \`ray start --head\` prints it`, 2);
  }
  return c;
}

/** The core's options for the chosen backend (installing Ray first when it is asked for). */
export function backendCoreOptions(o: BackendOptions, app = false): CoreOptions {
  const c = chooseBackend(o, app);
  if (c.backend !== "ray") return c.foldsAtOnce ? { foldsAtOnce: c.foldsAtOnce } : {};
  ensureRayBackend();
  return {
    ray: {
      address: c.rayAddress,
      cpusPerFold: o.rayCpusPerFold,
      gpusPerFold: o.rayGpusPerFold,
      python: venvPython,
      binary: foldJobBinary(),
    },
  };
}
