// The page's `window.ftune` (see bridge.ts). Sandboxed: only contextBridge, ipcRenderer and
// webUtils are used, and no Electron object crosses into the page.
import { contextBridge, ipcRenderer, webUtils } from "electron";

import { CHANNELS, type FtuneBridge, type MenuCommand } from "./bridge.ts";

function listen<T>(channel: string, listener: (value: T) => void): () => void {
  const wrapped = (_event: unknown, value: T) => listener(value);
  ipcRenderer.on(channel, wrapped);
  return () => ipcRenderer.removeListener(channel, wrapped);
}

const bridge: FtuneBridge = {
  call: (method, input) => ipcRenderer.invoke(CHANNELS.call, method, input),
  onEvent: (listener) => listen(CHANNELS.event, listener),
  onMenu: (listener) => listen<MenuCommand>(CHANNELS.menu, listener),
  pathForFile: (file) => webUtils.getPathForFile(file),
  pickFile: (filters) => ipcRenderer.invoke(CHANNELS.pickFile, filters),
  pickFolder: () => ipcRenderer.invoke(CHANNELS.pickFolder),
  saveView: (view) => ipcRenderer.send(CHANNELS.saveView, view),
};

contextBridge.exposeInMainWorld("ftune", bridge);
