// The desktop app's main process: opens the app core (store, run queue, handlers) on the same
// data folder as the CLI, shows the renderer from app://renderer/ in a locked-down window, and
// connects the two through one IPC channel plus server events. Built by scripts/build-main.mjs
// into dist/main/ (main.js, preload.cjs, worker.js).
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { app, BrowserWindow, dialog, Menu, screen, session } from "electron";
import { foldJobBinary, rayStamp, venvPython } from "../../scripts/env.mjs";
import { openAppCore } from "../core/service/app-backend.ts";
import { engineStatus } from "../core/service/engine.ts";
import type { Core } from "../core/service/index.ts";
import { readSettings } from "../core/settings.ts";
import { defaultDataDir } from "../core/store/index.ts";
import { registerSchemePrivileges, rendererIndexExists, serveRenderer } from "./app-protocol.ts";
import { CHANNELS } from "./bridge.ts";
import { openCrashLogs, showAbout, startCrashLogs } from "./desktop.ts";
import { registerIpc } from "./ipc.ts";
import { buildMenu } from "./menu.ts";
import { APP_ORIGIN, hardenContents, hardenSession } from "./security.ts";
import { utilityTransport } from "./utility-transport.ts";
import {
  loadWindowState,
  saveWindowState,
  visiblePosition,
  type WindowState,
  windowStateFile,
} from "./window-state.ts";

const here = dirname(fileURLToPath(import.meta.url));
const rendererDir = join(here, "../../renderer/dist");
const stateFile = () => windowStateFile(app.getPath("userData"));

let core: Core | undefined;
let win: BrowserWindow | null = null;
let state: WindowState;

registerSchemePrivileges();
app.on("web-contents-created", (_event, contents) => hardenContents(contents));

// One instance per user: two would share one store and one GPU queue. A second launch focuses
// the first one's window and quits before opening anything.
const primary = app.requestSingleInstanceLock();
if (!primary) app.quit();
app.on("second-instance", () => {
  if (win?.isMinimized()) win.restore();
  win?.focus();
});

function createWindow(): BrowserWindow {
  const window = new BrowserWindow({
    width: state.width,
    height: state.height,
    ...visiblePosition(
      state,
      screen.getAllDisplays().map((d) => d.workArea),
    ),
    minWidth: 900,
    minHeight: 600,
    title: "Finetune Studio",
    show: false,
    webPreferences: {
      preload: join(here, "preload.cjs"),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      webviewTag: false,
      spellcheck: false,
    },
  });
  if (state.maximized) window.maximize();
  window.once("ready-to-show", () => window.show());
  window.on("close", () => {
    const bounds = window.getNormalBounds();
    state = { ...state, ...bounds, maximized: window.isMaximized() };
    saveWindowState(stateFile(), state);
  });
  window.on("closed", () => {
    win = null;
  });
  void window.loadURL(`${APP_ORIGIN}/index.html#view=${encodeURIComponent(state.view)}`);
  return window;
}

async function start(): Promise<void> {
  if (!rendererIndexExists(rendererDir)) {
    throw new Error(`The user interface is not built (${rendererDir}). Run \`npm run build:renderer\`.`);
  }
  state = loadWindowState(stateFile());
  hardenSession(session.defaultSession);
  serveRenderer(rendererDir);
  // The worker transport is swapped here: training runs in Electron utility processes
  // (dist/main/worker.js) instead of the forked Node children the CLI and server use.
  // Without an engine the window opens on the first-run engine set-up screen (the renderer asks
  // engineStatus); an FTUNE_LIBTORCH that does not load is the user's explicit choice: an error box.
  // Runs train on the backend the settings name (or FTUNE_BACKEND): Ray tasks instead of
  // utility processes; a Ray that does not start leaves the app on local training, saying why.
  core = await openAppCore(
    defaultDataDir(),
    {
      transport: utilityTransport(join(here, "worker.js")),
      requireEngine: Boolean(process.env.FTUNE_LIBTORCH),
      resumeSweeps: true,
    },
    { python: venvPython, binary: foldJobBinary(), stamp: rayStamp() },
  );
  await core.runs.startQueued();
  core.events.subscribe((event) => win?.webContents.send(CHANNELS.event, event));
  registerIpc(
    core.handlers,
    () => win,
    (view) => {
      state = { ...state, view };
      saveWindowState(stateFile(), state);
    },
  );
  const dataDir = defaultDataDir();
  const setMenu = () =>
    Menu.setApplicationMenu(
      buildMenu(() => win, {
        recent: () => readSettings(dataDir).recentDatasets ?? [],
        about: () => void showAbout(engineStatus(dataDir), dataDir),
        openCrashLogs: () => void openCrashLogs(),
      }),
    );
  setMenu();
  // Open Recent follows the imports.
  core.events.subscribe((event) => {
    if (event.type === "dataset-imported") setMenu();
  });
  win = createWindow();
}

if (primary) {
  startCrashLogs();
  app.whenReady().then(start).catch(fail);
}

function fail(err: unknown): void {
  dialog.showErrorBox("Finetune Studio cannot start", err instanceof Error ? err.message : String(err));
  app.exit(1);
}

app.on("activate", () => {
  if (core && BrowserWindow.getAllWindows().length === 0) win = createWindow();
});

app.on("window-all-closed", () => {
  if (process.platform !== "darwin") app.quit();
});

// Stop the run in progress and close the store before exiting; the run becomes resumable.
let closed = false;
app.on("before-quit", (event) => {
  if (closed || !core) return;
  event.preventDefault();
  core
    .close()
    .catch(() => {})
    .finally(() => {
      closed = true;
      app.quit();
    });
});
