// The desktop main process, bundled as for `npm start`, run under Node against a fake Electron
// (test/app-shell/fake-electron.mjs; the real binary is not available to the tests): the app
// core opens, the window is locked down, IPC goes through the shared dispatcher only from our
// own page, app:// serves the UI with the CSP, the menu has its shortcuts, the window state is
// saved, and quitting closes the core first.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { fixtures } from "../helpers/python.ts";

const root = join(import.meta.dirname, "../..");
const dir = mkdtempSync(join(tmpdir(), "ftune-electron-"));
// biome-ignore lint/suspicious/noExplicitAny: the driver's JSON report
let r: any;

before(() => {
  // An app folder shaped like the package: dist/main next to renderer/dist and native/.
  execFileSync(process.execPath, [join(root, "scripts/build-main.mjs"), join(dir, "dist/main")], { stdio: "pipe" });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module", main: "dist/main/main.js" }));
  mkdirSync(join(dir, "renderer"));
  symlinkSync(join(root, "renderer/dist"), join(dir, "renderer/dist"));
  symlinkSync(join(root, "native"), join(dir, "native"));
  mkdirSync(join(dir, "node_modules/electron"), { recursive: true });
  for (const name of ["sqlite3", "tsx"]) symlinkSync(join(root, "node_modules", name), join(dir, "node_modules", name));
  writeFileSync(join(dir, "node_modules/electron/package.json"), JSON.stringify({ type: "module", main: "index.js" }));
  copyFileSync(join(import.meta.dirname, "fake-electron.mjs"), join(dir, "node_modules/electron/index.js"));
  copyFileSync(
    join(import.meta.dirname, "fake-parent-port.mjs"),
    join(dir, "node_modules/electron/fake-parent-port.mjs"),
  );
  r = drive("user-data", { TINY_MODEL: fixtures()["bert-regression"] as string });
});

/** Starts the bundled main process against the fake Electron; returns the driver's report. */
// biome-ignore lint/suspicious/noExplicitAny: the driver's JSON report
function drive(userDataName: string, env: NodeJS.ProcessEnv = {}): any {
  const userData = join(dir, userDataName);
  mkdirSync(userData);
  const stdout = execFileSync(
    process.execPath,
    [join(import.meta.dirname, "electron-main-driver.mjs"), join(dir, "dist/main/main.js"), userData],
    {
      env: { ...process.env, FTUNE_HOME: join(dir, "home"), FAKE_ELECTRON_USER_DATA: userData, ...env },
      encoding: "utf8",
    },
  );
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}");
}

after(() => rmSync(dir, { recursive: true, force: true }));

test("the app starts: no error box, app:// registered as a secure standard scheme", () => {
  assert.deepEqual(r.errors, []);
  assert.equal(r.privileged[0].scheme, "app");
  assert.equal(r.privileged[0].privileges.secure, true);
  assert.equal(r.privileged[0].privileges.standard, true);
});

test("the window is isolated and sandboxed, with the preload built next to main.js", () => {
  assert.deepEqual(
    {
      contextIsolation: r.window.webPreferences.contextIsolation,
      sandbox: r.window.webPreferences.sandbox,
      nodeIntegration: r.window.webPreferences.nodeIntegration,
      webSecurity: r.window.webPreferences.webSecurity,
    },
    { contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true },
  );
  assert.ok(r.window.preloadBuilt);
  assert.equal(r.window.url, "app://renderer/index.html#view=datasets");
});

test("IPC: our page reaches the dispatcher; failures come back as envelopes with their status", () => {
  assert.match(r.foreign, /not the app's own page/);
  assert.equal(r.runtime.ok, true);
  assert.match(r.runtime.result.torchVersion, /^2\.11/);
  assert.equal(r.missing.failure.status, 404);
  assert.equal(r.invalid.failure.status, 400);
  assert.ok(r.invalid.failure.issues.length > 0, "zod issues travel with the failure");
  assert.equal(r.unknown.failure.status, 404);
  assert.equal(r.imported.ok, true);
  assert.deepEqual(r.sent, [["ftune:event", "dataset-imported"]], "server events are forwarded to the window");
});

test("app:// serves the built UI with the CSP and nothing outside it", () => {
  assert.equal(r.index.status, 200);
  assert.ok(r.index.isApp);
  assert.match(r.index.type, /^text\/html/);
  assert.match(r.index.csp, /script-src 'self'/);
  assert.equal(r.escape, 404);
  assert.equal(r.otherHost, 404);
  assert.match(r.headers["Content-Security-Policy"][0], /default-src 'self'/);
  assert.deepEqual(r.headers["X-Test"], ["1"], "other headers are kept");
});

test("no navigation, no new windows, no permissions but the clipboard", () => {
  assert.deepEqual(r.hardening, { open: { action: "deny" }, prevented: 3 });
  assert.deepEqual(r.permissions, { clipboard: true, media: false });
});

test("the menu: Open dataset (Ctrl+O), a shortcut per view, reload, devtools in development, quit", () => {
  for (const item of ["CmdOrCtrl+O", "reload", "toggleDevTools", "CmdOrCtrl+Q"]) assert.ok(r.menu.includes(item), item);
  for (let i = 1; i <= 7; i++) assert.ok(r.menu.includes(`CmdOrCtrl+${i}`), `view ${i}`);
});

test("the window state (size, position, view) is saved; a foreign page cannot change it", () => {
  assert.match(r.foreignSave, /not the app's own page/);
  assert.deepEqual(r.saved, { width: 1111, height: 777, x: 40, y: 30, maximized: false, view: "runs" });
});

test("quitting waits for the core to close, then quits", () => {
  assert.deepEqual(r.quit, { prevented: true, quit: 1 });
});

test("training runs in utility processes, which have only parentPort: both folds finish, progress reaches the window", () => {
  assert.equal(r.training.forks, 2, "one utility process per fold");
  assert.deepEqual(
    r.training.runs.map((run: { fold: number; status: string; error: string | null }) => [
      run.fold,
      run.status,
      run.error,
    ]),
    [
      [0, "completed", null],
      [1, "completed", null],
    ],
  );
  // 12 rows, 2 folds, batch 4: 2 optimizer steps per fold.
  assert.deepEqual(
    r.training.runs.map((run: { steps: number }) => run.steps),
    [2, 2],
  );
  assert.ok(r.training.events.includes("run-progress") && r.training.events.includes("run-status"));
});

test("an engine that cannot load ends in one error box saying what to set, not a crash", () => {
  const broken = drive("user-data-broken", { FTUNE_LIBTORCH: join(dir, "no-torch-here") });
  assert.equal(broken.errors.length, 1);
  assert.match(
    broken.errors[0],
    /^Finetune Studio cannot start: FTUNE_LIBTORCH=\S+no-torch-here has no libc10\.so: set up the engine with `ftune engine setup` .*or set FTUNE_LIBTORCH to the torch\/lib folder of a PyTorch 2\.11 install/,
  );
  assert.doesNotMatch(broken.errors[0], /\n\s+at /, "a stack trace");
});

test("a second instance quits at once: no window, no second core on the same store", () => {
  const second = drive("user-data-second", { FAKE_ELECTRON_SECOND_INSTANCE: "1" });
  assert.deepEqual(
    { windows: second.windows, quit: second.quitAtStart, errors: second.errors },
    {
      windows: 0,
      quit: 1,
      errors: [],
    },
  );
});

test("File › Open Recent lists the imported data file; Help has About (versions) and the crash logs folder", () => {
  assert.deepEqual(r.recent, [join(dir, "user-data", "tiny.csv")]);
  assert.match(r.about.detail, /^Finetune Studio 0\.1\.0\n/);
  assert.match(r.about.detail, /\nlibtorch 2\.11\.\S+ \(/);
  assert.match(r.about.detail, /Node \d+\.\d+/);
  assert.deepEqual(r.opened, [join(dir, "user-data", "Crashpad")]);
  assert.equal(r.crashReporter.uploadToServer, false, "crash reports stay on the machine");
});
