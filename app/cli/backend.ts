// `--backend local|ray` and `--ray-address` for the commands that train several folds or
// experiments (train, ablate, serve): the Ray backend is installed on first use (the set-up's
// `--ray` step: pinned ray and optuna in the project's Python environment, and the engine's
// fold_job binary), then every fold is one Ray task (app/core/runs/ray/).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Command, Option } from "commander";

import { foldJobBinary, rayStamp, root, venvPython } from "../../scripts/env.mjs";
import type { CoreOptions } from "../core/service/index.ts";
import { UserError } from "./errors.ts";
import { int } from "./options.ts";

export interface BackendOptions {
  backend: "local" | "ray";
  rayAddress?: string;
  rayCpusPerFold?: number;
}

export function addBackendOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option("--backend <backend>", "where folds train: local (one at a time here) or ray (one Ray task per fold)")
        .choices(["local", "ray"])
        .default(process.env.FTUNE_BACKEND ?? "local"),
    )
    .addOption(
      new Option(
        "--ray-address <address>",
        "an existing Ray cluster (host:port of `ray start --head`); without it a local Ray runs for this command",
      ).env("FTUNE_RAY_ADDRESS"),
    )
    .addOption(new Option("--ray-cpus-per-fold <n>", "CPUs each fold asks for on Ray (default 1)").argParser(int));
}

/** Installs the Ray backend when it is not yet (once per Python environment). */
export function ensureRayBackend(): void {
  if (existsSync(rayStamp()) && existsSync(foldJobBinary())) return;
  process.stderr.write("ftune: setting up the Ray backend (first use: pip install ray and optuna, build fold_job)\n");
  const r = spawnSync("node", [join(root, "scripts/setup.mjs"), "--ray"], { stdio: ["ignore", 2, 2] });
  if (r.status !== 0) throw new UserError("The Ray backend could not be set up (see the set-up's output above).");
}

/** The core's options for the chosen backend (installing Ray first when it is asked for). */
export function backendCoreOptions(o: BackendOptions): CoreOptions {
  if (o.backend !== "ray") {
    if (o.rayAddress && process.env.FTUNE_RAY_ADDRESS !== o.rayAddress)
      throw new UserError("--ray-address needs --backend ray", 2);
    return {};
  }
  ensureRayBackend();
  return {
    ray: { address: o.rayAddress, cpusPerFold: o.rayCpusPerFold, python: venvPython, binary: foldJobBinary() },
  };
}
