// The user's settings (settings.json in the data folder): what the app remembers between runs
// that is not experiment data — the engine (libtorch) it was set up with. Read by every process
// that loads the engine (CLI, server, desktop main, training workers); written atomically.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { z } from "zod";

import { defaultDataDir } from "./data-dir.ts";

export const EngineSetting = z.object({
  /** The `torch/lib` folder the engine loads libtorch from. */
  libDir: z.string().min(1),
  /** "existing": a PyTorch install the user has; "download": wheels fetched into the data folder. */
  source: z.enum(["existing", "download"]),
  torchVersion: z.string(),
  variant: z.enum(["cpu", "cuda"]),
  /** The Python it came from, or the wheel's URL. */
  origin: z.string(),
  setUpAt: z.string(),
});
export type EngineSetting = z.infer<typeof EngineSetting>;

const Settings = z
  .object({
    engine: EngineSetting.optional(),
    /** Data files imported lately, newest first (the desktop app's File › Open Recent). */
    recentDatasets: z.array(z.string()).optional(),
  })
  .loose();
export type Settings = z.infer<typeof Settings>;

export const settingsFile = (dataDir: string = defaultDataDir()) => join(dataDir, "settings.json");

/** The settings, or empty ones when the file is missing or unreadable (it is then rewritten). */
export function readSettings(dataDir: string = defaultDataDir()): Settings {
  try {
    const parsed = Settings.safeParse(JSON.parse(readFileSync(settingsFile(dataDir), "utf8")));
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}

/** Merges `patch` into the settings; written beside and renamed, so a crash leaves the old file. */
export function updateSettings(patch: Partial<Settings>, dataDir: string = defaultDataDir()): Settings {
  const next = { ...readSettings(dataDir), ...patch };
  const file = settingsFile(dataDir);
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(next, null, 2)}\n`);
  renameSync(tmp, file);
  return next;
}

const RECENT = 8;

/** Puts `path` first in the recent datasets (once, at most RECENT kept). */
export function rememberDataset(path: string, dataDir: string = defaultDataDir()): string[] {
  const recent = [path, ...(readSettings(dataDir).recentDatasets ?? []).filter((p) => p !== path)].slice(0, RECENT);
  updateSettings({ recentDatasets: recent }, dataDir);
  return recent;
}
