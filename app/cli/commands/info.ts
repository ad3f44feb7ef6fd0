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

/** `ftune info --ray`: every node, its Python's torch and the engine binary run there; exit 1 if one cannot train. */
async function rayInfo(address: string | undefined, json?: boolean): Promise<void> {
  ensureRayBackend();
  let nodes: RayNodeCheck[];
  try {
    nodes = await checkRayNodes({ address, python: venvPython, binary: foldJobBinary() });
  } catch (err) {
    throw err instanceof RayError ? new UserError(`Ray backend: ${err.message}`) : err;
  }
  const bad = nodes.filter((n) => n.error || !n.engine);
  if (json) process.stdout.write(`${JSON.stringify({ nodes })}\n`);
  else process.stdout.write(`${[`Ray cluster: ${nodes.length} node(s)`, ...nodes.map(describeNode)].join("\n")}\n`);
  if (bad.length > 0) {
    const names = bad.map((n) => `${nodeName(n)}: ${n.error ?? "no answer"}`).join("; ");
    throw new UserError(
      `${bad.length === 1 ? "1 node cannot" : `${bad.length} nodes cannot`} train: ${names}. Install PyTorch 2.11 in the Python Ray runs on each (pip install torch==2.11.0) and restart Ray there.`,
    );
  }
}

const nodeName = (n: RayNodeCheck) => `${n.address} (node ${n.id.slice(0, 8)})`;

/** One line per node: where it is, what it offers, and what the engine finds there. */
export function describeNode(n: RayNodeCheck): string {
  const offers = `${n.resources.CPU ?? 0} CPU, ${n.resources.GPU ?? 0} GPU`;
  if (!n.engine) return `${nodeName(n)}: ${offers}; cannot train: ${n.error ?? "no answer"}`;
  const e = n.engine;
  const devices = e.cudaAvailable ? `${e.cudaDeviceCount} CUDA device(s)` : "no CUDA device";
  return `${nodeName(n)}: ${offers}; torch ${n.torch} in ${n.python}; engine runs: libtorch ${e.torchVersion}, ${devices}, ${e.threads} threads`;
}
