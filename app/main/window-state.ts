// The window's size, position and open view, kept in a small JSON file in the user-data folder
// so the next launch looks like the last one. A missing or damaged file gives the defaults.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { z } from "zod";

const WindowStateSchema = z.object({
  width: z.number().int().min(640).max(10_000).catch(1320),
  height: z.number().int().min(480).max(10_000).catch(860),
  x: z.number().int().optional().catch(undefined),
  y: z.number().int().optional().catch(undefined),
  maximized: z.boolean().catch(false),
  view: z.string().max(40).catch("datasets"),
});

export type WindowState = z.infer<typeof WindowStateSchema>;

export const windowStateFile = (userData: string): string => join(userData, "window-state.json");

export function loadWindowState(file: string): WindowState {
  let raw: unknown = {};
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    // First launch, or a file we cannot read: start from the defaults.
  }
  const parsed = WindowStateSchema.safeParse(raw);
  return parsed.success ? parsed.data : WindowStateSchema.parse({});
}

/** Written to a temporary file first, so a crash mid-write cannot leave half a file. */
export function saveWindowState(file: string, state: WindowState): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, file);
}

/** Drops a saved position that is no longer on any screen (a monitor was unplugged). */
export function visiblePosition(
  state: WindowState,
  screens: { x: number; y: number; width: number; height: number }[],
): { x?: number; y?: number } {
  if (state.x === undefined || state.y === undefined) return {};
  const { x, y } = state;
  const onScreen = screens.some((s) => x + 100 > s.x && x < s.x + s.width - 100 && y >= s.y && y < s.y + s.height - 50);
  return onScreen ? { x, y } : {};
}
