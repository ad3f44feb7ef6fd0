// Which libtorch the engine runs on. The addon links libtorch dynamically and finds it through
// the RUNPATH its build baked in (the set-up's torch). Two sources take precedence, for
// machines other than the one that built it: FTUNE_LIBTORCH (the `torch/lib` folder of a
// PyTorch 2.11 install, e.g. a CUDA build) and a packaged app's bundled `resources/libtorch`.
// Their libraries are loaded before the addon; the dynamic linker then resolves the addon's
// libtorch to them, since it matches libraries already loaded by name first. The variable is
// inherited by training workers, which load the addon the same way.
import { existsSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";

/** The engine cannot load: its message says what to set or install. */
export class EngineLoadError extends Error {
  override name = "EngineLoadError";
}

/** What the addon links, in dependency order. */
const LIBRARIES = ["libc10.so", "libtorch_cpu.so", "libtorch.so"];
/** glibc's RTLD_NODELETE: Node closes a library that is not an addon; this keeps it loaded. */
const RTLD_NODELETE = 0x1000;

export const LIBTORCH_HINT =
  "set FTUNE_LIBTORCH to the torch/lib folder of a PyTorch 2.11 install (pip install torch==2.11.0; " +
  `python -c "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))")`;

/** FTUNE_LIBTORCH, else a packaged app's resources/libtorch, else null (the build's RUNPATH). */
export function libtorchOverride(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.FTUNE_LIBTORCH) return env.FTUNE_LIBTORCH;
  const resources = (process as { resourcesPath?: string }).resourcesPath;
  const bundled = resources ? join(resources, "libtorch") : null;
  return bundled && existsSync(join(bundled, "libtorch.so")) ? bundled : null;
}

/** Loads libtorch from `dir` ahead of the addon; throws one message saying what to fix. */
export function preloadLibtorch(dir: string): void {
  if (process.platform !== "linux") {
    throw new EngineLoadError(`FTUNE_LIBTORCH is supported on Linux only so far (this is ${process.platform})`);
  }
  for (const name of LIBRARIES) {
    const path = join(dir, name);
    if (!existsSync(path)) throw new EngineLoadError(`FTUNE_LIBTORCH=${dir} has no ${name}: ${LIBTORCH_HINT}`);
    try {
      const flags = constants.dlopen.RTLD_NOW | constants.dlopen.RTLD_GLOBAL | RTLD_NODELETE;
      process.dlopen({ exports: {} }, path, flags);
    } catch (err) {
      // Loaded, but not an addon: that is expected, and RTLD_NODELETE keeps it.
      if (!/did not self-register/.test((err as Error).message)) {
        throw new EngineLoadError(`cannot load ${path}: ${firstLine((err as Error).message)}`);
      }
    }
  }
}

/** The addon's load failure as one actionable message. */
export function addonLoadMessage(err: unknown, dir: string | null): string {
  const messages: string[] = [];
  for (let e = err; e instanceof Error; e = e.cause) messages.push(e.message);
  const all = messages.join("\n");
  const missing = all.match(/(lib(?:torch|c10)\w*\.so[.\d]*): cannot open shared object file/);
  if (missing) return `the engine cannot find libtorch (${missing[1]}): ${LIBTORCH_HINT}`;
  const symbol = all.match(/undefined symbol: (\S+)/);
  if (symbol) {
    return `the libtorch in ${dir ?? "the build's torch folder"} does not match the engine, which was built for PyTorch 2.11 (undefined symbol ${symbol[1]}); ${LIBTORCH_HINT}`;
  }
  return `the native engine failed to load: ${firstLine(messages.at(-1) ?? String(err))}`;
}

const firstLine = (text: string) => text.split("\n")[0] ?? text;
