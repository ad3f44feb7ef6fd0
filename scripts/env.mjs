// Where the heavy, versioned artefacts live, and the environment every build and test uses.
// Shared by setup.mjs (which creates them) and test.mjs / the CLI (which use them).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const TORCH_VERSION = "2.11.0";

/** Per-user cache, outside any clone, so a second clone reuses torch and the tch build. */
export const cacheDir =
  process.env.FTUNE_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "finetune-studio");

const short = (text) => createHash("sha256").update(text).digest("hex").slice(0, 12);

/** The Python interpreter that creates the environment. */
export const basePython = process.env.PYTHON || "python3";

/** "3.11" for the base interpreter (the venv's lib/ folder is named after it). */
function pythonVersion() {
  const r = spawnSync(basePython, ["-c", "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"], {
    encoding: "utf8",
  });
  return r.status === 0 ? r.stdout.trim() : "unknown";
}

/**
 * The Python environment (torch, transformers) is keyed by the torch version and the Python
 * version; a change of the other requirements upgrades it in place (see setup.mjs).
 */
export function pythonEnvDir() {
  return join(cacheDir, `pyenv-torch${TORCH_VERSION}-py${pythonVersion()}`);
}

/** What the environment must hold; its hash is stamped in the environment once installed. */
export function requirementsHash() {
  return short(readFileSync(join(root, "scripts/requirements.txt"), "utf8"));
}

export const venvPython = join(root, ".venv/bin/python");

/** libtorch's root: $LIBTORCH when the user points at another torch 2.11, else the venv's. */
export function libtorchDir() {
  if (process.env.LIBTORCH) return process.env.LIBTORCH;
  // Resolve the .venv link: the build (and the rpath it bakes in) must not depend on the clone.
  const venv = existsSync(join(root, ".venv")) ? realpathSync(join(root, ".venv")) : pythonEnvDir();
  const py = existsSync(join(venv, "pyvenv.cfg")) ? venvPythonFolder(venv) : "python3.11";
  return join(venv, "lib", py, "site-packages/torch");
}

/** The venv's lib/ holds one pythonX.Y folder; pyvenv.cfg names the version. */
function venvPythonFolder(venv) {
  const cfg = readFileSync(join(venv, "pyvenv.cfg"), "utf8");
  const version = cfg.match(/^version(?:_info)?\s*=\s*(\d+\.\d+)/m);
  return `python${version ? version[1] : "3.11"}`;
}
/** cargo's build of tch is keyed by the torch version (torch-sys reruns if LIBTORCH moves). */
export function cargoTargetDir() {
  return process.env.CARGO_TARGET_DIR || join(cacheDir, `cargo-target-torch${TORCH_VERSION}`);
}

/** The engine binary a Ray task runs for one fold (built by `setup.mjs --ray`). */
export const foldJobBinary = () => join(cargoTargetDir(), "release/examples/fold_job");

/** Stamped in the Python environment once ray and optuna are installed (setup.mjs --ray). */
export const rayStamp = () => join(pythonEnvDir(), ".ray-requirements-sha");

/**
 * The cargo target folder is shared by every checkout of this user (tch takes ~10 min to
 * build), and cargo's fingerprints are relative to the workspace: after another checkout built
 * there, this checkout's sources would look older than the artifacts and be taken as built.
 * When the last checkout to build differs, mark this one's native sources as just changed.
 */
function claimCargoTarget() {
  const dir = cargoTargetDir();
  const marker = join(dir, ".ftune-checkout");
  if (existsSync(marker) && readFileSync(marker, "utf8") === root) return;
  const now = new Date();
  const touch = (path) => {
    if (!existsSync(path)) return;
    if (statSync(path).isDirectory()) {
      for (const name of readdirSync(path)) if (name !== "target" && name !== "node_modules") touch(join(path, name));
    } else if (/\.(rs|toml|cpp|h)$/.test(path)) utimesSync(path, now, now);
  };
  touch(join(root, "native"));
  mkdirSync(dir, { recursive: true });
  writeFileSync(marker, root);
}

/** Environment for cargo / napi: which libtorch to link and where to build. */
export function nativeBuildEnv() {
  claimCargoTarget();
  return {
    ...process.env,
    LIBTORCH: libtorchDir(),
    CARGO_TARGET_DIR: cargoTargetDir(),
  };
}

/** Where `setup` places the bundled pretrained encoder. */
export const bundledModelName = "all-MiniLM-L6-v2";
export const bundledModelDir = () => join(cacheDir, "models", bundledModelName);

/** The Chromium the browser tests drive (Debian's package by default). */
export const chromiumPath = process.env.FTUNE_CHROMIUM || "/usr/bin/chromium";
