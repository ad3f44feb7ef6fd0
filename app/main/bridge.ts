// What the preload script exposes as `window.ftune`, shared by the preload (which implements
// it) and the renderer (which calls it). Results cross the context bridge as plain envelopes
// because Electron keeps only the message of an error thrown across IPC, and the renderer
// needs the status, issues and problems of an ApiError.
import type { ServerEvent } from "../core/api/contract.ts";

export interface ApiFailure {
  status: number;
  error: string;
  issues?: { path: string; message: string }[];
  problems?: { row?: number; column?: string; message: string }[];
}

export type CallEnvelope = { ok: true; result: unknown } | { ok: false; failure: ApiFailure };

/** Menu commands the main process sends to the page. */
export type MenuCommand = "open-dataset" | `open-recent:${string}` | `view:${string}`;

export interface FtuneBridge {
  call(method: string, input: unknown): Promise<CallEnvelope>;
  /** Returns a function that stops listening. */
  onEvent(listener: (event: ServerEvent) => void): () => void;
  onMenu(listener: (command: MenuCommand) => void): () => void;
  /** The path on disk of a dropped or chosen File. */
  pathForFile(file: File): string;
  pickFile(filters?: { name: string; extensions: string[] }[]): Promise<string | null>;
  pickFolder(): Promise<string | null>;
  /** Remembers the open view so the next launch restores it. */
  saveView(view: string): void;
}

export const CHANNELS = {
  call: "ftune:call",
  event: "ftune:event",
  menu: "ftune:menu",
  pickFile: "ftune:pick-file",
  pickFolder: "ftune:pick-folder",
  saveView: "ftune:save-view",
} as const;
