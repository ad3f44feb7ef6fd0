// The page's only ways into the main process: one API call channel that goes through the same
// dispatcher (and zod validation) as `ftune serve`, two file dialogs, and the open view. Every
// handler first checks that the message comes from our own page.
import { type BrowserWindow, dialog, type IpcMainEvent, type IpcMainInvokeEvent, ipcMain } from "electron";
import { z } from "zod";

import { dispatch, type Handlers, toApiError } from "../core/api/dispatch.ts";
import { type CallEnvelope, CHANNELS } from "./bridge.ts";
import { isOwnFrame } from "./security.ts";

const FiltersSchema = z
  .array(z.object({ name: z.string().max(100), extensions: z.array(z.string().regex(/^[\w*]{1,10}$/)).max(20) }))
  .max(10)
  .optional();

function checkSender(event: IpcMainInvokeEvent | IpcMainEvent): void {
  if (!isOwnFrame(event.senderFrame)) throw new Error("IPC refused: the sender is not the app's own page");
}

export function registerIpc(
  handlers: Handlers,
  window: () => BrowserWindow | null,
  onView: (view: string) => void,
): void {
  ipcMain.handle(CHANNELS.call, async (event, method: unknown, input: unknown): Promise<CallEnvelope> => {
    checkSender(event);
    try {
      if (typeof method !== "string") throw new Error("method must be a string");
      return { ok: true, result: await dispatch(handlers, method, input) };
    } catch (err) {
      const e = toApiError(err);
      return { ok: false, failure: { status: e.status, ...e.body } };
    }
  });

  ipcMain.handle(CHANNELS.pickFile, async (event, filters: unknown) => {
    checkSender(event);
    const win = window();
    const options = { properties: ["openFile" as const], filters: FiltersSchema.parse(filters) };
    const result = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
    return result.canceled ? null : (result.filePaths[0] ?? null);
  });

  ipcMain.handle(CHANNELS.pickFolder, async (event) => {
    checkSender(event);
    const win = window();
    const options = { properties: ["openDirectory" as const, "createDirectory" as const] };
    const result = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
    return result.canceled ? null : (result.filePaths[0] ?? null);
  });

  ipcMain.on(CHANNELS.saveView, (event, view: unknown) => {
    checkSender(event);
    if (typeof view === "string" && view.length <= 40) onView(view);
  });
}
