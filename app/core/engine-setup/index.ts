// Setting up the engine's libtorch on a machine that has none (a desktop install, a fresh CLI):
// use an existing PyTorch 2.11 install, or download the official wheel(s) by name from a package
// index into the data folder, verified against the index's sha256, resumable. The choice is
// saved in settings.json, where every process that loads the engine finds it.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";

import { defaultDataDir } from "../data-dir.ts";
import { type EngineSetting, readSettings, updateSettings } from "../settings.ts";
import { DEFAULT_INDEX, LIBTORCH_FILES, TORCH_SERIES } from "./constants.ts";
import { downloadVerified, type Progress } from "./download.ts";
import { defaultPythons, findTorch, pythonIn } from "./existing.ts";
import { nativeRequirements, pickDependencyWheel, pickTorchWheel, projectFiles, wheelArch } from "./simple-index.ts";
import { extractWheel, wheelMetadata } from "./wheel.ts";

export { DEFAULT_INDEX, TORCH_SERIES } from "./constants.ts";
export type { Progress } from "./download.ts";
export type { TorchInstall } from "./existing.ts";

/** A failure the user can act on: its message says what to do. */
export class EngineSetupError extends Error {
  override name = "EngineSetupError";
}

export type SetupStep =
  | { step: "index"; message: string }
  | { step: "download"; message: string; progress: Progress }
  | { step: "extract"; message: string }
  | { step: "done"; message: string };

/** Whether an NVIDIA driver is installed (then the CUDA build is worth its size). */
export function hasNvidiaDriver(): boolean {
  return existsSync("/proc/driver/nvidia/version");
}

export const engineDir = (dataDir: string = defaultDataDir()) => join(dataDir, "engine");

/** The engine in settings, if its folder still holds libtorch. */
export function currentEngine(dataDir: string = defaultDataDir()): EngineSetting | null {
  const engine = readSettings(dataDir).engine;
  if (!engine) return null;
  return LIBTORCH_FILES.every((f) => existsSync(join(engine.libDir, f))) ? engine : null;
}

/** Uses an installed PyTorch 2.11: `paths` are Pythons or venv/conda folders (none: PATH and the active env). */
export function setUpFromExisting(paths: string[], dataDir: string = defaultDataDir()): EngineSetting {
  const pythons: string[] = [];
  for (const path of paths) {
    const python = pythonIn(path);
    if (!python)
      throw new EngineSetupError(`${path}: no Python there (give a python executable, or a venv or conda folder)`);
    pythons.push(python);
  }
  const { found, rejected } = findTorch(pythons.length > 0 ? pythons : defaultPythons());
  if (!found) {
    throw new EngineSetupError(
      `no PyTorch ${TORCH_SERIES}x found (${rejected.join("; ")}). Point at a Python or environment that has torch==2.11.0, or download it instead.`,
    );
  }
  const engine: EngineSetting = {
    libDir: found.libDir,
    source: "existing",
    torchVersion: found.version,
    variant: found.variant,
    origin: found.python,
    setUpAt: new Date().toISOString(),
  };
  updateSettings({ engine }, dataDir);
  return engine;
}

export interface DownloadOptions {
  variant?: "cpu" | "cuda";
  indexUrl?: string;
  dataDir?: string;
  onStep?: (step: SetupStep) => void;
  signal?: AbortSignal;
}

/** Downloads torch (and the runtime libraries it pins) into the data folder and selects it. */
export async function setUpByDownload(options: DownloadOptions = {}): Promise<EngineSetting> {
  const dataDir = options.dataDir ?? defaultDataDir();
  const variant = options.variant ?? (hasNvidiaDriver() ? "cuda" : "cpu");
  const indexUrl = options.indexUrl ?? DEFAULT_INDEX[variant];
  const onStep = options.onStep ?? (() => {});
  const arch = wheelArch();
  if (!arch)
    throw new EngineSetupError(
      `downloading the engine is supported on Linux (x86-64, arm64) so far, not ${process.platform}-${process.arch}; use an existing PyTorch 2.11 install`,
    );

  onStep({ step: "index", message: `looking up torch ${TORCH_SERIES}x (${variant}) on ${indexUrl}` });
  const wheel = pickTorchWheel(await indexFiles(indexUrl, "torch"), TORCH_SERIES, variant, arch);
  if (!wheel)
    throw new EngineSetupError(`${indexUrl} has no torch ${TORCH_SERIES}x ${variant} wheel for linux ${arch}`);
  const downloads = join(engineDir(dataDir), "downloads");
  mkdirSync(downloads, { recursive: true });
  const fetchWheel = async (file: { filename: string; url: string; sha256: string | null }) => {
    if (!file.sha256)
      throw new EngineSetupError(`${indexUrl} publishes no sha256 for ${file.filename}: it cannot be verified`);
    const dest = join(downloads, file.filename);
    await downloadVerified(
      file.url,
      dest,
      file.sha256,
      (progress) => onStep({ step: "download", message: `downloading ${file.filename}`, progress }),
      options.signal,
    ).catch((err: Error) => {
      throw new EngineSetupError(err.message);
    });
    return dest;
  };
  const torchFile = await fetchWheel(wheel);
  const keepTorch = (name: string) => name.startsWith("torch/lib/") || /^torch-[^/]+\.dist-info\//.test(name);
  const wheels = [{ file: torchFile, keep: keepTorch }];
  // The runtime libraries it pins, through meta-packages (cuda-toolkit[cudart,…]) as pip would.
  const queue = nativeRequirements(await wheelMetadata(torchFile));
  const seen = new Set<string>();
  for (let req = queue.shift(); req; req = queue.shift()) {
    const key = `${req.name}==${req.version}[${req.extras.join(",")}]`;
    if (seen.has(key)) continue;
    seen.add(key);
    const dep = pickDependencyWheel(await indexFiles(indexUrl, req.name), req, arch);
    if (!dep)
      throw new EngineSetupError(
        `${indexUrl} has no ${req.name}==${req.version}${req.prefix ? ".*" : ""} wheel for linux ${arch} (torch needs it)`,
      );
    const file = await fetchWheel(dep);
    queue.push(...nativeRequirements(await wheelMetadata(file), req.extras));
    wheels.push({ file, keep: (name) => name.startsWith("nvidia/") });
  }

  // Extracted beside and renamed into place: a failure leaves no half engine behind.
  const version = wheel.filename.split("-")[1] as string;
  const target = join(engineDir(dataDir), `torch-${version}`);
  const staging = `${target}.partial`;
  rmSync(staging, { recursive: true, force: true });
  for (const w of wheels) {
    onStep({ step: "extract", message: `unpacking ${w.file.split("/").at(-1)}` });
    await extractWheel(w.file, staging, w.keep);
  }
  const libDir = join(staging, "torch/lib");
  const missing = LIBTORCH_FILES.filter((f) => !existsSync(join(libDir, f)));
  if (missing.length > 0) {
    rmSync(staging, { recursive: true, force: true });
    throw new EngineSetupError(
      `${wheel.filename} has no ${missing.join(", ")} in torch/lib: not a PyTorch wheel the engine can use`,
    );
  }
  rmSync(target, { recursive: true, force: true });
  renameSync(staging, target);
  for (const w of wheels) rmSync(w.file, { force: true });
  if (readdirSync(downloads).length === 0) rmSync(downloads, { recursive: true, force: true });

  const engine: EngineSetting = {
    libDir: join(target, "torch/lib"),
    source: "download",
    torchVersion: version,
    variant,
    origin: wheel.url,
    setUpAt: new Date().toISOString(),
  };
  updateSettings({ engine }, dataDir);
  onStep({ step: "done", message: `engine ready: torch ${version} (${variant}) in ${target}` });
  return engine;
}

async function indexFiles(indexUrl: string, project: string) {
  try {
    return await projectFiles(indexUrl, project);
  } catch (err) {
    throw new EngineSetupError((err as Error).message);
  }
}
