// ftune info: which libtorch the engine loaded, from where, and whether it sees a GPU — the
// first thing to check after setting FTUNE_LIBTORCH.
import type { Command } from "commander";

import { currentEngine } from "../../core/engine-setup/index.ts";
import { native } from "../../native/addon.ts";
import { libtorchChoice } from "../../native/libtorch.ts";
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
    .action((o: { json?: boolean }) => {
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
