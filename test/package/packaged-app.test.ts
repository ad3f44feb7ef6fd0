// `npm run package:dir` and what it makes: electron-builder's unpacked Linux target, built
// offline around the stand-in Electron (scripts/electron-standin.mjs) where the real binary is
// absent. The archive must hold every file and native module the app loads (a classic packaging
// failure shows only on a user's machine); the addon must not point into the build machine; the
// security fuses must be flipped; and the packaged main process must train from that layout on
// an engine set up as a user's machine would (from a package index, or an installed PyTorch),
// with the build cache hidden: an empty tmpfs over ~/.cache/finetune-studio in a mount namespace
// of its own (unshare -m, as root), so nothing of the build machine's torch can be reached.
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, test } from "node:test";

import * as asar from "@electron/asar";
import { FuseV1Options, getCurrentFuseWire } from "@electron/fuses";

import { cacheDir, libtorchDir, root } from "../../scripts/env.mjs";
import { fixtures } from "../helpers/python.ts";
import { type FixtureIndex, realCpuWheels, serveIndex } from "../helpers/wheel-index.ts";

const unpacked = join(root, "release/linux-unpacked");
const archive = join(unpacked, "resources/app.asar");
const scratch = mkdtempSync(join(tmpdir(), "ftune-package-"));
const canHide =
  process.platform === "linux" && process.getuid?.() === 0 && spawnSync("unshare", ["--help"]).status === 0;
const hideSkip = canHide ? false : "hiding the build cache needs unshare -m as root";
let index: FixtureIndex | undefined;

before(async () => {
  execFileSync(process.execPath, [join(root, "scripts/package.mjs")], { cwd: root, stdio: "pipe" });
  if (canHide) index = await serveIndex(realCpuWheels(join(scratch, "wheels"), join(libtorchDir(), "lib")));
});
after(async () => {
  await index?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/**
 * Runs `steps` (shell, $1 = the test's folder) and then the packaged executable with the
 * app-shell driver, in a mount namespace where the build cache is an empty tmpfs; `binds` are
 * mounted first (a folder of the cache made visible elsewhere, as a user's own install).
 * Returns the driver's JSON report, and the output of the steps. Asynchronous: the package index
 * it may download from is served by this process.
 */
async function drivePackageHidden(
  name: string,
  steps: string,
  env: NodeJS.ProcessEnv = {},
  binds: [string, string][] = [],
  // biome-ignore lint/suspicious/noExplicitAny: the driver's JSON report
): Promise<{ report: any; log: string }> {
  const dir = join(scratch, name);
  const userData = join(dir, "user-data");
  mkdirSync(userData, { recursive: true });
  const script = [
    "set -e",
    ...binds.map(([from, to]) => `mkdir -p '${to}' && mount --bind '${from}' '${to}'`),
    `mount -t tmpfs -o size=1m tmpfs '${cacheDir}'`,
    `[ -z "$(ls -A '${cacheDir}')" ] || { echo 'the build cache is still visible' >&2; exit 3; }`,
    steps,
    `exec '${join(unpacked, "finetune-studio")}' '${userData}'`,
  ].join("\n");
  const child = spawn("unshare", ["-m", "sh", "-c", script, "sh", dir], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      FTUNE_HOME: join(dir, "home"),
      FAKE_ELECTRON_USER_DATA: userData,
      FTUNE_STANDIN_DRIVER: join(root, "test/app-shell/electron-main-driver.mjs"),
      FTUNE_STANDIN_CACHE: dir,
      TINY_MODEL: fixtures()["bert-regression"] as string,
      ...env,
    },
  });
  const r = { stdout: "", stderr: "", status: null as number | null };
  child.stdout.on("data", (d) => {
    r.stdout += d;
  });
  child.stderr.on("data", (d) => {
    r.stderr += d;
  });
  r.status = await new Promise<number | null>((resolve) => child.on("close", resolve));
  assert.equal(r.status, 0, `${r.stderr}\n${r.stdout}`);
  return { report: JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "{}"), log: `${r.stdout}${r.stderr}` };
}

/** The assertions every training report must pass: two folds, two optimizer steps each. */
// biome-ignore lint/suspicious/noExplicitAny: the driver's JSON report
function assertTrained(r: any): void {
  assert.deepEqual(r.errors, []);
  assert.equal(r.index.status, 200, "app:// serves the packaged UI");
  assert.equal(r.training.forks, 2, "one utility process per fold");
  assert.deepEqual(
    r.training.runs.map((run: { status: string; error: string | null; steps: number }) => [
      run.status,
      run.error,
      run.steps,
    ]),
    [
      ["completed", null, 2],
      ["completed", null, 2],
    ],
  );
}

test("app.asar holds the main bundle, the UI, the addon's loader and the production modules", () => {
  const files = new Set(asar.listPackage(archive, { isPack: false }).map((f) => f.replaceAll("\\", "/")));
  for (const file of [
    "/package.json",
    "/dist/main/main.js",
    "/dist/main/preload.cjs",
    "/dist/main/worker.js",
    "/renderer/dist/index.html",
    "/native/index.js",
    "/native/package.json",
    "/node_modules/sqlite3/package.json",
    "/node_modules/tsx/package.json",
    "/node_modules/yauzl/package.json",
  ]) {
    assert.ok(files.has(file), `app.asar lacks ${file}`);
  }
  for (const dev of ["/node_modules/electron/package.json", "/node_modules/vite/package.json"]) {
    assert.ok(!files.has(dev), `a development module is packaged: ${dev}`);
  }
});

test("both native modules are unpacked beside the archive (a shared library cannot load from inside it)", () => {
  for (const file of ["native/ftune.linux-x64-gnu.node", "node_modules/sqlite3/build/Release/node_sqlite3.node"]) {
    const entry = asar.statFile(archive, file) as { unpacked?: boolean };
    assert.equal(entry.unpacked, true, `${file} is inside app.asar`);
    assert.ok(existsSync(join(unpacked, "resources/app.asar.unpacked", file)), `${file} is not in app.asar.unpacked`);
  }
});

test("readelf -d: the packaged addon has no RUNPATH or RPATH into the build machine", () => {
  const addon = join(unpacked, "resources/app.asar.unpacked/native/ftune.linux-x64-gnu.node");
  const dynamic = execFileSync("readelf", ["-d", addon], { encoding: "utf8" });
  assert.match(dynamic, /\(NEEDED\)\s+Shared library: \[libtorch\.so\]/, "the addon links libtorch");
  assert.doesNotMatch(dynamic, /\((RUNPATH|RPATH)\)/, dynamic);
  // The checkout's own addon does carry one (the set-up's torch): the package step removed it.
  const own = execFileSync("readelf", ["-d", join(root, "native/ftune.linux-x64-gnu.node")], { encoding: "utf8" });
  assert.ok(own.includes(libtorchDir()), "the development build's RUNPATH names the set-up's torch");
  for (const home of [homedir(), cacheDir]) assert.ok(!dynamic.includes(home), `mentions ${home}`);
  assert.ok(existsSync(join(unpacked, "resources/app.asar.unpacked/native/ftune.linux-x64-gnu.node")));
});

test("the Electron security fuses are flipped in the packaged executable", async () => {
  const wire = await getCurrentFuseWire(join(unpacked, "finetune-studio"));
  const on = (option: FuseV1Options) => String.fromCharCode(wire[option] as number) === "1";
  assert.equal(on(FuseV1Options.RunAsNode), false, "RunAsNode");
  assert.equal(on(FuseV1Options.EnableCookieEncryption), true, "cookie encryption");
  assert.equal(on(FuseV1Options.EnableNodeOptionsEnvironmentVariable), false, "NODE_OPTIONS");
  assert.equal(on(FuseV1Options.EnableNodeCliInspectArguments), false, "--inspect");
  assert.equal(on(FuseV1Options.EnableEmbeddedAsarIntegrityValidation), true, "ASAR integrity");
  assert.equal(on(FuseV1Options.OnlyLoadAppFromAsar), true, "only load the app from app.asar");
});

test("the packaged app, build cache hidden, no engine: it opens (first-run set-up screen) and says why", {
  skip: hideSkip,
}, async () => {
  const { report } = await drivePackageHidden("no-engine", "true");
  assert.deepEqual(report.errors, [], "no error box: the window opens on the engine set-up screen");
  assert.equal(report.engine.result.ready, false);
  assert.match(
    report.engine.result.problem,
    /^the engine cannot find libtorch \(libtorch_cpu\.so\): set up the engine with `ftune engine setup`/,
  );
});

test("engine downloaded from a package index through the app (IPC), build cache hidden: it trains a tiny model", {
  skip: hideSkip,
}, async () => {
  const home = join(scratch, "index", "home");
  const setup = { source: "download", variant: "cpu", indexUrl: index?.url };
  const { report } = await drivePackageHidden("index", "true", { ENGINE_SETUP: JSON.stringify(setup) });
  assert.equal(report.engine.result.ready, false, "no engine before the set-up");
  assert.equal(report.setup.ok, true, JSON.stringify(report.setup));
  const engine = JSON.parse(readFileSync(join(home, "settings.json"), "utf8")).engine;
  assert.equal(engine.libDir, join(home, "engine/torch-2.11.0+cpu/torch/lib"));
  assert.equal(report.setup.result.ready, true);
  assert.equal(report.setup.result.torchLibDir, engine.libDir, "the engine loads the downloaded libtorch");
  const steps = report.setupSteps.map((s: { step: string }) => s.step);
  assert.deepEqual([...new Set(steps)], ["index", "download", "extract", "done"]);
  const torch = report.setupSteps.filter(
    (s: { step: string; progress?: { file: string } }) =>
      s.step === "download" && s.progress?.file.startsWith("torch-"),
  );
  assert.ok(torch.length > 2, "download progress reaches the window");
  assert.equal(torch.at(-1).progress.done, torch.at(-1).progress.total);
  assert.equal(report.runtime.result.source, "settings", "the status bar's source");
  assert.match(
    report.window.webPreferences.preload,
    /ftune-standin-\w+\/dist\/main\/preload\.cjs$/,
    "the preload comes from app.asar",
  );
  assertTrained(report);
});

test("engine from an existing PyTorch 2.11 install (the project venv, seen elsewhere) through the app, build cache hidden: it trains", {
  skip: hideSkip,
}, async () => {
  const userPython = join(scratch, "existing", "user-python");
  const { report } = await drivePackageHidden(
    "existing",
    "true",
    { ENGINE_SETUP: JSON.stringify({ source: "existing", python: userPython }) },
    [[realpathSync(join(root, ".venv")), userPython]],
  );
  assert.equal(report.setup.ok, true, JSON.stringify(report.setup));
  const torchInVenv = relative(realpathSync(join(root, ".venv")), libtorchDir());
  assert.equal(report.setup.result.torchLibDir, join(userPython, torchInVenv, "lib"));
  assert.equal(report.runtime.result.engine.source, "existing");
  assertTrained(report);
});
