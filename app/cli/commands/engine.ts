// ftune engine: which libtorch the engine will load, and setting one up where none is found —
// an installed PyTorch 2.11 (the Python on PATH, or venv/conda folders given), or the official
// wheel downloaded into the data folder (resumable, verified). The choice goes to settings.json.
import { SingleBar } from "cli-progress";
import type { Command } from "commander";

import {
  currentEngine,
  DEFAULT_INDEX,
  EngineSetupError,
  hasNvidiaDriver,
  type SetupStep,
  setUpByDownload,
  setUpFromExisting,
} from "../../core/engine-setup/index.ts";
import type { EngineSetting } from "../../core/settings.ts";
import { EXIT, UserError } from "../errors.ts";

interface SetupOptions {
  python?: string[];
  download?: boolean;
  cpu?: boolean;
  cuda?: boolean;
  index?: string;
  json?: boolean;
}

/** One line per step when piped; a byte bar on a terminal. */
function stepPrinter(json: boolean): { step: (s: SetupStep) => void; stop: () => void } {
  let bar: SingleBar | undefined;
  let file = "";
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    stop,
    step(s) {
      if (json) {
        process.stdout.write(`${JSON.stringify(s)}\n`);
        return;
      }
      if (s.step !== "download") {
        stop();
        process.stderr.write(`${s.message}\n`);
        return;
      }
      const { progress } = s;
      const mb = (n: number) => (n / 1e6).toFixed(1);
      if (!process.stderr.isTTY) {
        if (progress.file !== file) process.stderr.write(`${s.message}\n`);
        file = progress.file;
        return;
      }
      if (progress.file !== file || !bar) {
        stop();
        file = progress.file;
        bar = new SingleBar({
          format: `${progress.file} [{bar}] {percentage}% | {done}/{all} MB | ETA {eta_formatted}`,
          stream: process.stderr,
          hideCursor: true,
        });
        bar.start(progress.total ?? 0, progress.done, { done: mb(progress.done), all: mb(progress.total ?? 0) });
      }
      bar.update(progress.done, { done: mb(progress.done), all: mb(progress.total ?? 0) });
    },
  };
}

export function describeEngine(engine: EngineSetting | null): string {
  if (!engine) return "no engine set up";
  const how = engine.source === "existing" ? `the PyTorch of ${engine.origin}` : "downloaded";
  return `torch ${engine.torchVersion} (${engine.variant}), ${how}: ${engine.libDir}`;
}

export function registerEngine(program: Command): void {
  const engine = program
    .command("engine")
    .description("the libtorch the engine loads: show it, or set one up (an installed PyTorch 2.11, or a download)");

  engine
    .command("status")
    .description("show the engine set up in settings")
    .option("--json", "print one JSON object")
    .action((o: { json?: boolean }) => {
      const current = currentEngine();
      if (o.json) process.stdout.write(`${JSON.stringify({ engine: current })}\n`);
      else process.stdout.write(`${describeEngine(current)}\n`);
    });

  engine
    .command("setup")
    .description(
      "use an installed PyTorch 2.11 (--python, or the Python on PATH), or download the official wheel into the data folder (--download)",
    )
    .option("--python <path...>", "a python executable, or a venv / conda folder, that has torch 2.11")
    .option("--download", "download torch 2.11 from a package index (resumes an interrupted download)")
    .option("--cpu", "download the CPU build (the default without an NVIDIA driver)")
    .option("--cuda", "download the CUDA build (the default with an NVIDIA driver; a few GB)")
    .option(
      "--index <url>",
      `the package index (PEP 503/691; default ${DEFAULT_INDEX.cpu} for CPU, ${DEFAULT_INDEX.cuda} for CUDA)`,
    )
    .option("--json", "print the steps and the result as JSON lines")
    .action(async (o: SetupOptions) => {
      if (o.cpu && o.cuda) throw new UserError("choose --cpu or --cuda, not both", EXIT.usage);
      if (o.download && o.python) throw new UserError("choose --python or --download, not both", EXIT.usage);
      const printer = stepPrinter(Boolean(o.json));
      let result: EngineSetting;
      try {
        if (o.download) {
          const variant = o.cpu ? "cpu" : o.cuda ? "cuda" : hasNvidiaDriver() ? "cuda" : "cpu";
          result = await setUpByDownload({ variant, indexUrl: o.index, onStep: printer.step });
        } else {
          result = setUpFromExisting(o.python ?? []);
        }
      } catch (err) {
        printer.stop();
        if (err instanceof EngineSetupError) throw new UserError(err.message);
        throw err;
      }
      printer.stop();
      if (o.json) process.stdout.write(`${JSON.stringify({ engine: result })}\n`);
      else process.stdout.write(`engine set up: ${describeEngine(result)}\n`);
    });
}
