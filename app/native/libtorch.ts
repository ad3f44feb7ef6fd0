// Which libtorch the engine runs on. The addon links libtorch dynamically; a development build
// finds it through the RUNPATH its build baked in (the set-up's torch), a packaged one has none.
// Three sources take precedence, for machines other than the one that built it: FTUNE_LIBTORCH
// (the `torch/lib` folder of a PyTorch 2.11 install; for development and scripts), the engine
// the user set up (settings.json in the data folder: `ftune engine setup` or the app's first-run
// screen), and a packaged app's bundled `resources/libtorch`. Their libraries are loaded before
// the addon; the dynamic linker then resolves the addon's libtorch to them, since it matches
// libraries already loaded by name first. Training workers read the same settings and variable.
import { existsSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";

import { readSettings } from "../core/settings.ts";

/** The engine cannot load: its message says what to set or install. */
export class EngineLoadError extends Error {
  override name = "EngineLoadError";
}

/** What the addon links, in dependency order. */
const LIBRARIES = ["libc10.so", "libtorch_cpu.so", "libtorch.so"];
/** glibc's RTLD_NODELETE: Node closes a library that is not an addon; this keeps it loaded. */
const RTLD_NODELETE = 0x1000;

export const LIBTORCH_HINT =
  "set up the engine with `ftune engine setup` (or the desktop app's engine screen), which uses an installed " +
  "PyTorch 2.11 or downloads it; or set FTUNE_LIBTORCH to the torch/lib folder of a PyTorch 2.11 install";

export type LibtorchSource = "FTUNE_LIBTORCH" | "settings" | "bundled";

/** FTUNE_LIBTORCH, else the engine in settings, else a packaged resources/libtorch, else null (the RUNPATH). */
export function libtorchChoice(env: NodeJS.ProcessEnv = process.env): { dir: string; source: LibtorchSource } | null {
  if (env.FTUNE_LIBTORCH) return { dir: env.FTUNE_LIBTORCH, source: "FTUNE_LIBTORCH" };
  const engine = readSettings().engine;
  if (engine) return { dir: engine.libDir, source: "settings" };
  const resources = (process as { resourcesPath?: string }).resourcesPath;
  const bundled = resources ? join(resources, "libtorch") : null;
  return bundled && existsSync(join(bundled, "libtorch.so")) ? { dir: bundled, source: "bundled" } : null;
}

/** The folder libtorch is loaded from ahead of the addon, or null (the build's RUNPATH). */
export function libtorchOverride(env: NodeJS.ProcessEnv = process.env): string | null {
  return libtorchChoice(env)?.dir ?? null;
}

/** Loads libtorch from `dir` ahead of the addon; throws one message saying what to fix. */
export function preloadLibtorch(dir: string, source: LibtorchSource = "FTUNE_LIBTORCH"): void {
  const label = source === "settings" ? `the engine set up in settings (${dir})` : `FTUNE_LIBTORCH=${dir}`;
  if (process.platform !== "linux") {
    throw new EngineLoadError(
      `${label}: loading libtorch from a folder is supported on Linux only so far (this is ${process.platform})`,
    );
  }
  for (const name of LIBRARIES) {
    const path = join(dir, name);
    if (!existsSync(path)) throw new EngineLoadError(`${label} has no ${name}: ${LIBTORCH_HINT}`);
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
