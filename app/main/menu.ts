// The native menu: open a dataset (or a recent one), switch views (Ctrl/Cmd+1…7), reload,
// developer tools in development only, quit; Help: About (versions) and the crash logs folder.
// Commands reach the page as "ftune:menu" messages.
import { app, type BrowserWindow, Menu, type MenuItemConstructorOptions } from "electron";

import { VIEWS } from "../../renderer/src/lib/views.ts";
import { CHANNELS, type MenuCommand } from "./bridge.ts";

export interface MenuActions {
  /** Data files imported lately, newest first. */
  recent: () => string[];
  about: () => void;
  openCrashLogs: () => void;
}

export function buildMenu(window: () => BrowserWindow | null, actions: MenuActions): Menu {
  const send = (command: MenuCommand) => window()?.webContents.send(CHANNELS.menu, command);
  const isMac = process.platform === "darwin";
  const template: MenuItemConstructorOptions[] = [
    ...(isMac ? [{ role: "appMenu" as const }] : []),
    {
      label: "&File",
      submenu: [
        { label: "Open Dataset…", accelerator: "CmdOrCtrl+O", click: () => send("open-dataset") },
        {
          label: "Open Recent",
          submenu: actions.recent().length
            ? actions.recent().map((path) => ({ label: path, click: () => send(`open-recent:${path}`) }))
            : [{ label: "No recent datasets", enabled: false }],
        },
        { type: "separator" },
        isMac ? { role: "close" } : { role: "quit", accelerator: "CmdOrCtrl+Q" },
      ],
    },
    { role: "editMenu" },
    {
      label: "&View",
      submenu: [
        ...VIEWS.map(
          (v, i): MenuItemConstructorOptions => ({
            label: v.label,
            accelerator: `CmdOrCtrl+${i + 1}`,
            click: () => send(`view:${v.id}`),
          }),
        ),
        { type: "separator" },
        { role: "reload" },
        ...(app.isPackaged ? [] : [{ role: "toggleDevTools" as const }]),
        { type: "separator" },
        { role: "resetZoom" },
        { role: "zoomIn" },
        { role: "zoomOut" },
        { type: "separator" },
        { role: "togglefullscreen" },
      ],
    },
    { role: "windowMenu" },
    {
      label: "&Help",
      submenu: [
        { label: "About Finetune Studio", click: actions.about },
        { label: "Open Crash Logs Folder", click: actions.openCrashLogs },
      ],
    },
  ];
  return Menu.buildFromTemplate(template);
}
