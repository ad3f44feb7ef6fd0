// Desktop conventions around the window: crash reports and the main process's own errors kept
// in a folder the user can open (nothing is uploaded), and the About panel's versions.
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { app, crashReporter, dialog, shell } from "electron";

import type { EngineStatus } from "../core/api/contract.ts";

/** Where Electron's crash reports (minidumps) and main-errors.log go. */
export const crashLogDir = (): string => app.getPath("crashDumps");

/** Local crash reports only, and the main process's uncaught errors appended to a log there. */
export function startCrashLogs(): void {
  crashReporter.start({ uploadToServer: false, compress: true });
  const log = (kind: string, err: unknown) => {
    try {
      mkdirSync(crashLogDir(), { recursive: true });
      const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
      appendFileSync(join(crashLogDir(), "main-errors.log"), `${new Date().toISOString()} ${kind}: ${text}\n`);
    } catch {
      // A log that cannot be written must not take the app down with it.
    }
  };
  process.on("uncaughtException", (err) => {
    log("uncaught exception", err);
    dialog.showErrorBox("Finetune Studio hit an error", `${(err as Error).message}\n\nDetails: ${crashLogDir()}`);
  });
  process.on("unhandledRejection", (reason) => log("unhandled rejection", reason));
}

export async function openCrashLogs(): Promise<string> {
  mkdirSync(crashLogDir(), { recursive: true });
  return shell.openPath(crashLogDir());
}

/** The About panel's text: the app's version and what it runs on. */
export function aboutText(engine: EngineStatus | null, dataDir: string): string {
  const libtorch = engine?.ready
    ? `libtorch ${engine.torchVersion} (${engine.engine ? `${engine.engine.variant}, ${engine.engine.source}` : engine.source})`
    : "libtorch: not set up";
  return [
    `Finetune Studio ${app.getVersion()}`,
    `Electron ${process.versions.electron ?? "?"} · Chromium ${process.versions.chrome ?? "?"} · Node ${process.versions.node}`,
    libtorch,
    `Data folder: ${dataDir}`,
    `Crash logs: ${crashLogDir()}`,
  ].join("\n");
}

export async function showAbout(engine: EngineStatus | null, dataDir: string): Promise<void> {
  await dialog.showMessageBox({
    type: "info",
    title: "About Finetune Studio",
    message: "Finetune Studio",
    detail: aboutText(engine, dataDir),
  });
}
