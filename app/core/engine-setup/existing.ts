// An existing PyTorch install as the engine: the Python on PATH, or a venv / conda folder the
// user points at. Asks that Python where its torch distribution is (importlib.metadata: no
// import of torch, so a broken or CUDA-less torch still answers) and checks its libtorch files.
import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

import { LIBTORCH_FILES, TORCH_SERIES } from "./constants.ts";

export interface TorchInstall {
  python: string;
  version: string;
  libDir: string;
  variant: "cpu" | "cuda";
}

const PROBE = [
  "import json, importlib.metadata as m",
  "d = m.distribution('torch')",
  "print(json.dumps({'version': d.version, 'lib': str(d.locate_file('torch/lib'))}))",
].join("\n");

/** The interpreter inside a venv or conda folder, or `path` itself when it is a file. */
export function pythonIn(path: string): string | null {
  if (!existsSync(path)) return null;
  if (!statSync(path).isDirectory()) return resolve(path);
  for (const rel of ["bin/python3", "bin/python", "python.exe", "Scripts/python.exe"]) {
    if (existsSync(join(path, rel))) return resolve(path, rel);
  }
  return null;
}

/** Where to look when the user names nothing: the active venv / conda env, then PATH. */
export function defaultPythons(env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  for (const dir of [env.VIRTUAL_ENV, env.CONDA_PREFIX]) {
    const python = dir ? pythonIn(dir) : null;
    if (python) out.push(python);
  }
  out.push("python3", "python");
  return out;
}

/** Asks `python` for its torch; a string says why it is not usable. */
export function probeTorch(python: string): TorchInstall | string {
  let out: string;
  try {
    out = execFileSync(python, ["-c", PROBE], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 30_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT") return `${python}: no such Python`;
    if (/PackageNotFoundError/.test(String(e.stderr))) return `${python} has no PyTorch installed`;
    return `${python} could not be asked for its PyTorch (${String(e.stderr ?? e.message)
      .trim()
      .split("\n")
      .at(-1)})`;
  }
  const { version, lib } = JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as { version: string; lib: string };
  if (!version.startsWith(TORCH_SERIES)) {
    return `${python} has PyTorch ${version}; the engine needs ${TORCH_SERIES}x (libtorch has no stable ABI across releases)`;
  }
  const missing = LIBTORCH_FILES.filter((f) => !existsSync(join(lib, f)));
  if (missing.length > 0) return `${python}'s PyTorch ${version} has no ${missing.join(", ")} in ${lib}`;
  const variant = existsSync(join(lib, "libtorch_cuda.so")) ? "cuda" : "cpu";
  return { python, version, libDir: lib, variant };
}

/** The first usable install among `pythons`, with the reasons the others were passed over. */
export function findTorch(pythons: string[]): { found: TorchInstall | null; rejected: string[] } {
  const rejected: string[] = [];
  for (const python of pythons) {
    const r = probeTorch(python);
    if (typeof r !== "string") return { found: r, rejected };
    rejected.push(r);
  }
  return { found: null, rejected };
}
