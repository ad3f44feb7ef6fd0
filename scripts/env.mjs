// Where the heavy, versioned artefacts live, and the environment every build and test uses.
// Shared by setup.mjs (which creates them) and test.mjs / the CLI (which use them).
import { createHash } from "node:crypto";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const TORCH_VERSION = "2.11.0";

/** Per-user cache, outside any clone, so a second clone reuses torch and the tch build. */
export const cacheDir =
  process.env.FTUNE_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "finetune-studio");

const short = (text) => createHash("sha256").update(text).digest("hex").slice(0, 12);

/** The Python environment (torch, transformers) is keyed by its requirements. */
export function pythonEnvDir() {
  const reqs = readFileSync(join(root, "scripts/requirements.txt"), "utf8");
  return join(cacheDir, `pyenv-${short(reqs)}`);
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
/** cargo's build of tch is keyed by the libtorch it links, so a change of torch rebuilds. */
export function cargoTargetDir() {
  return process.env.CARGO_TARGET_DIR || join(cacheDir, `cargo-target-torch${TORCH_VERSION}-${short(libtorchDir())}`);
}

/** Environment for cargo / napi: which libtorch to link and where to build. */
export function nativeBuildEnv() {
  return {
    ...process.env,
    LIBTORCH: libtorchDir(),
    CARGO_TARGET_DIR: cargoTargetDir(),
  };
}

/** Where `setup` places the bundled pretrained encoder. */
export const bundledModelName = "all-MiniLM-L6-v2";
export const bundledModelDir = () => join(cacheDir, "models", bundledModelName);
