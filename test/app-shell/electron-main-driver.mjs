// Runs the bundled main process (argv[2]) against fake-electron.mjs and exercises what a real
// window would: IPC calls from our page and a foreign one, the app:// protocol, navigation and
// permission rules, the menu, the saved window state, quitting. Prints one JSON line of results.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [mainPath, userData] = process.argv.slice(2);
const until = async (ok, ms = 60_000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
};

await import(pathToFileURL(mainPath).href);
const e = globalThis.__electron;
await until(() => e.windows.length > 0 || e.errors.length > 0 || e.quit > 0);
if (e.quit > 0) await new Promise((r) => setTimeout(r, 1000)); // a window would have opened by now
const out = { errors: e.errors, privileged: e.privileged, windows: e.windows.length, quitAtStart: e.quit };
if (e.errors.length === 0 && e.windows.length > 0) {
  const win = e.windows[0];
  const own = { senderFrame: { url: "app://renderer/index.html#view=datasets" } };
  const foreign = { senderFrame: { url: "https://evil.example/" } };
  const call = e.handlers["ftune:call"];

  out.foreign = await call(foreign, "runtimeInfo", {}).then(
    () => "accepted",
    (err) => err.message,
  );
  out.engine = await call(own, "engineStatus", {});
  // The first-run screen's call: set the engine up through IPC, as the window would.
  if (process.env.ENGINE_SETUP) {
    out.setup = await call(own, "setUpEngine", JSON.parse(process.env.ENGINE_SETUP));
    out.setupSteps = win.sent
      .filter(([c, v]) => c === "ftune:event" && v.type === "engine-setup")
      .map(([, v]) => v.step);
    win.sent.length = 0;
  } else if (!out.engine.result?.ready) {
    // No engine and none asked for: what the first-run screen would show is the report.
    process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0));
    await new Promise(() => {});
  }
  out.runtime = await call(own, "runtimeInfo", {});
  out.missing = await call(own, "getDataset", { id: 999 });
  out.invalid = await call(own, "importDataset", { path: "" });
  out.unknown = await call(own, "noSuchMethod", {});

  // A server event reaches the page: an import publishes "dataset-imported".
  const csv = join(userData, "tiny.csv");
  writeFileSync(csv, `text,label\n${Array.from({ length: 12 }, (_, i) => `"text ${i}",${i % 3}`).join("\n")}\n`);
  out.imported = await call(own, "importDataset", {
    path: csv,
    mapping: { text: "text", label: "label" },
    task: "regression",
  });
  await until(() => win.sent.some(([channel]) => channel === "ftune:event"));
  out.sent = win.sent.map(([channel, value]) => [channel, value.type]);

  // Training in utility processes (the fake forks Node children that only have parentPort).
  if (process.env.TINY_MODEL) {
    const config = {
      model: process.env.TINY_MODEL,
      data: { max_length: 16 },
      folds: { k: 2, strategy: "random", seed: 1 },
      train: { epochs: 1, batch_size: 4, device: "cpu", seed: 1 },
      optimizer: { lr: 1e-3 },
    };
    const experiment = await call(own, "createExperiment", {
      name: "utility",
      datasetId: out.imported.result.id,
      config,
    });
    const started = await call(own, "startRuns", { experimentId: experiment.result.id });
    const ids = started.result.map((run) => run.id);
    const terminal = new Set(["completed", "failed", "cancelled", "interrupted"]);
    let runs = [];
    for (const end = Date.now() + 120_000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
      runs = await Promise.all(ids.map(async (id) => (await call(own, "getRun", { id })).result));
      if (runs.every((run) => terminal.has(run.status))) break;
    }
    out.training = {
      forks: e.utilityForks ?? 0,
      runs: runs.map((run) => ({ fold: run.fold, status: run.status, error: run.error, steps: run.stepsDone })),
      events: [...new Set(win.sent.filter(([c]) => c === "ftune:event").map(([, v]) => v.type))],
    };
  }

  const serve = e.protocols.app;
  const index = await serve({ url: "app://renderer/index.html" });
  out.index = {
    status: index.status,
    csp: index.headers.get("content-security-policy"),
    type: index.headers.get("content-type"),
    isApp: (await index.text()).includes('id="app"'),
  };
  out.escape = (await serve({ url: "app://renderer/..%2F..%2Fpackage.json" })).status;
  out.otherHost = (await serve({ url: "app://elsewhere/index.html" })).status;

  out.window = {
    webPreferences: win.options.webPreferences,
    url: win.url,
    preloadBuilt: existsSync(win.options.webPreferences.preload),
  };

  const contents = {
    handlers: {},
    setWindowOpenHandler(handler) {
      this.open = handler;
    },
    on(event, handler) {
      this.handlers[event] = handler;
    },
  };
  for (const listener of e.listeners["web-contents-created"]) listener({}, contents);
  let prevented = 0;
  for (const event of ["will-navigate", "will-redirect", "will-attach-webview"]) {
    contents.handlers[event]?.({ preventDefault: () => prevented++ });
  }
  out.hardening = { open: contents.open({ url: "https://example.com" }), prevented };

  e.headersHook({ responseHeaders: { "X-Test": ["1"] } }, (r) => {
    out.headers = r.responseHeaders;
  });
  const permission = (name) => new Promise((resolve) => e.permissionHook(null, name, resolve));
  out.permissions = { clipboard: await permission("clipboard-sanitized-write"), media: await permission("media") };

  out.menu = e.menu.template.flatMap((m) => (m.submenu ?? []).map((i) => i.accelerator ?? i.role ?? i.type));
  // Help: About shows the versions; the crash logs folder opens (reports stay local).
  const item = (label) => e.menu.template.flatMap((m) => m.submenu ?? []).find((i) => i.label === label);
  out.recent = (item("Open Recent")?.submenu ?? []).map((i) => i.label);
  item("About Finetune Studio")?.click();
  item("Open Crash Logs Folder")?.click();
  await until(() => e.messageBoxes.length > 0 && e.opened.length > 0);
  out.about = e.messageBoxes[0];
  out.opened = e.opened;
  out.crashReporter = e.crashReporter;

  e.ipcListeners["ftune:save-view"](own, "runs");
  out.foreignSave = (() => {
    try {
      e.ipcListeners["ftune:save-view"](foreign, "compare");
      return "accepted";
    } catch (err) {
      return err.message;
    }
  })();
  win.events.close();
  out.saved = JSON.parse(readFileSync(join(userData, "window-state.json"), "utf8"));

  let quitPrevented = false;
  for (const listener of e.listeners["before-quit"]) listener({ preventDefault: () => (quitPrevented = true) });
  await until(() => e.quit > 0);
  out.quit = { prevented: quitPrevented, quit: e.quit };
}
// A large report must be written out before the process ends.
process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0));
