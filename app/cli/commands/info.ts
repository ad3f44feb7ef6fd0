// ftune info: which libtorch the engine loaded, from where, and whether it sees a GPU — the
// first thing to check after setting FTUNE_LIBTORCH.
import type { Command } from "commander";

import { foldJobBinary, venvPython } from "../../../scripts/env.mjs";
import { currentEngine } from "../../core/engine-setup/index.ts";
import { checkRayNodes, RayError, type RayNodeCheck } from "../../core/runs/ray/bridge.ts";
import { native } from "../../native/addon.ts";
import { libtorchChoice } from "../../native/libtorch.ts";
import { ensureRayBackend } from "../backend.ts";
import { UserError } from "../errors.ts";
import { describeEngine } from "./engine.ts";

const SOURCES = {
  rpath: "the set-up's torch, found through the build's rpath",
  FTUNE_LIBTORCH: "set by FTUNE_LIBTORCH",
  settings: "the engine set up in settings (ftune engine setup)",
  bundled: "bundled with the app",
} as const;

export function registerInfo(program: Command): void {
  program
    .command("info")
    .description("show the libtorch the engine runs on (version, folder, CUDA devices, CPU threads)")
    .option("--json", "print one JSON object")
    .option("--ray", "check every node of the Ray cluster instead: the engine binary run on each")
    .option("--ray-address <address>", "the cluster (default: FTUNE_RAY_ADDRESS, else a local Ray)")
    .action(async (o: { json?: boolean; ray?: boolean; rayAddress?: string }) => {
      if (o.ray || o.rayAddress) {
        await rayInfo(o.rayAddress ?? process.env.FTUNE_RAY_ADDRESS, o.json);
        return;
      }
      const info = native.runtimeInfo();
      const source = libtorchChoice()?.source ?? "rpath";
      const engine = currentEngine();
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ ...info, source, engine })}\n`);
        return;
      }
      const devices = info.cudaAvailable
        ? `${info.cudaDeviceCount} CUDA device(s)`
        : "no CUDA device: training runs on the CPU";
      process.stdout.write(
        `${[
          `libtorch ${info.torchVersion}`,
          `  from   ${info.torchLibDir} (${SOURCES[source]})`,
          `  GPU    ${devices}`,
          `  CPU    ${info.threads} threads, ${info.cpuBf16 ? "bf16 instructions (train.precision bf16 runs here)" : "no bf16 instructions (fp32 only)"}`,
          `  engine ${describeEngine(engine)}`,
        ].join("\n")}\n`,
      );
    });
}

/** `ftune info --ray`: each node's libtorch as the engine binary loads it there; exit 1 if one cannot train. */
async function rayInfo(address: string | undefined, json?: boolean): Promise<void> {
  ensureRayBackend();
  let nodes: RayNodeCheck[];
  try {
    nodes = await checkRayNodes({ address, python: venvPython, binary: foldJobBinary() });
  } catch (err) {
    throw err instanceof RayError ? new UserError(`Ray backend: ${err.message}`) : err;
  }
  const bad = nodes.filter((n) => n.error || !n.engine?.torch_version.startsWith("2.11"));
  if (json) process.stdout.write(`${JSON.stringify({ nodes })}\n`);
  else {
    const lines = nodes.map((n) => {
      const what = n.engine
        ? `libtorch ${n.engine.torch_version}, ${n.engine.cuda_available ? `${n.engine.cuda_device_count} CUDA device(s)` : "no CUDA device"}, ${n.engine.threads} threads`
        : `cannot run the engine: ${n.error}`;
      const cpus = n.resources.CPU ?? 0;
      const gpus = n.resources.GPU ?? 0;
      return `${n.address} (node ${n.id.slice(0, 8)}, ${cpus} CPU, ${gpus} GPU): ${what}`;
    });
    process.stdout.write(`${[`Ray cluster: ${nodes.length} node(s)`, ...lines].join("\n")}\n`);
  }
  if (bad.length > 0) {
    throw new UserError(
      `${bad.length} node(s) cannot run the engine: each needs PyTorch 2.11 in the Python Ray runs (pip install torch==2.11.0).`,
    );
  }
}
