// A stand-in for the "electron" module, enough to run the bundled main process under plain
// Node (the Electron binary cannot be downloaded where the tests run). It records what the main
// process asks of Electron in globalThis.__electron so a driver can inspect and poke it.
import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const rec = {
  listeners: {},
  windows: [],
  handlers: {},
  ipcListeners: {},
  protocols: {},
  privileged: [],
  menu: null,
  headersHook: null,
  permissionHook: null,
  errors: [],
  quit: 0,
  userData: process.env.FAKE_ELECTRON_USER_DATA ?? "/tmp",
  crashReporter: null,
  opened: [],
  messageBoxes: [],
};
globalThis.__electron = rec;

export const app = {
  isPackaged: false,
  // FAKE_ELECTRON_SECOND_INSTANCE=1: another instance holds the lock.
  requestSingleInstanceLock: () => process.env.FAKE_ELECTRON_SECOND_INSTANCE !== "1",
  getVersion: () => "0.1.0",
  on(event, listener) {
    rec.listeners[event] ??= [];
    rec.listeners[event].push(listener);
    return app;
  },
  whenReady: () => Promise.resolve(),
  getPath: (name) =>
    name === "userData" ? rec.userData : name === "crashDumps" ? join(rec.userData, "Crashpad") : "/tmp",
  quit() {
    rec.quit++;
  },
  exit(code) {
    rec.exitCode = code;
  },
};

export class BrowserWindow {
  static getAllWindows = () => rec.windows;

  constructor(options) {
    this.options = options;
    this.sent = [];
    this.events = {};
    this.webContents = { send: (channel, value) => this.sent.push([channel, value]) };
    rec.windows.push(this);
  }

  loadURL(url) {
    this.url = url;
    return Promise.resolve();
  }

  once(event, listener) {
    this.events[event] = listener;
  }

  on(event, listener) {
    this.events[event] = listener;
  }

  maximize() {}
  show() {}
  focus() {}
  restore() {}
  isMinimized = () => false;
  isMaximized = () => false;
  getNormalBounds = () => ({ x: 40, y: 30, width: 1111, height: 777 });
}

export const screen = { getAllDisplays: () => [{ workArea: { x: 0, y: 0, width: 1920, height: 1080 } }] };

export const session = {
  defaultSession: {
    webRequest: {
      onHeadersReceived(hook) {
        rec.headersHook = hook;
      },
    },
    setPermissionRequestHandler(hook) {
      rec.permissionHook = hook;
    },
  },
};

export const dialog = {
  showErrorBox(title, message) {
    rec.errors.push(`${title}: ${message}`);
  },
  showOpenDialog: async () => ({ canceled: true, filePaths: [] }),
  async showMessageBox(options) {
    rec.messageBoxes.push(options);
    return { response: 0 };
  },
};

export const crashReporter = {
  start(options) {
    rec.crashReporter = options;
  },
};

export const shell = {
  async openPath(path) {
    rec.opened.push(path);
    return "";
  },
};

export const Menu = {
  buildFromTemplate: (template) => ({ template }),
  setApplicationMenu(menu) {
    rec.menu = menu;
  },
};

export const ipcMain = {
  handle(channel, handler) {
    rec.handlers[channel] = handler;
  },
  on(channel, listener) {
    rec.ipcListeners[channel] = listener;
  },
};

export const protocol = {
  registerSchemesAsPrivileged(schemes) {
    rec.privileged.push(...schemes);
  },
  handle(scheme, handler) {
    rec.protocols[scheme] = handler;
  },
};

// Electron's net.fetch reads file: URLs; Node's fetch does not.
export const net = {
  fetch: async (url) => new Response(readFileSync(fileURLToPath(url))),
};

// Utility processes as Node children that see only what Electron gives one: messages through
// process.parentPort (fake-parent-port.mjs), not Node's process.send/"message" IPC.
export const utilityProcess = {
  fork(entry, args = [], options = {}) {
    const stdio = options.stdio ?? "inherit";
    const child = fork(entry, args, {
      stdio: [...(Array.isArray(stdio) ? stdio : [stdio, stdio, stdio]), "ipc"],
      execArgv: ["--import", fileURLToPath(new URL("./fake-parent-port.mjs", import.meta.url))],
    });
    rec.utilityForks = (rec.utilityForks ?? 0) + 1;
    return {
      get pid() {
        return child.pid;
      },
      stderr: child.stderr,
      postMessage: (data) => child.send({ [PORT]: data }),
      on(event, listener) {
        if (event === "message") child.on("message", (m) => m && PORT in m && listener(m[PORT]));
        else child.on(event, listener);
      },
      once(event, listener) {
        // Electron's "exit" carries the exit code only.
        if (event === "exit") child.once("exit", (code, signal) => listener(code ?? (signal ? 1 : 0)));
        else child.once(event, listener);
      },
      kill: () => child.kill("SIGTERM"),
    };
  },
};
const PORT = "__fakeParentPort";
