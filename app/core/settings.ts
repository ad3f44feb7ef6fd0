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

/** A Ray cluster's address as `ray start --head` prints it: host:port. */
export const RayAddress = z
  .string()
  .trim()
  .max(300)
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "a Ray address is host:port, as `ray start --head` prints it");
export const BackendName = z.enum(["local", "ray"]);
export type BackendName = z.infer<typeof BackendName>;
/** Folds a local backend trains at once: each is a process with its own copy of the model. */
export const FoldsAtOnce = z
  .number()
  .int("folds at once is a whole number")
  .min(1, "folds at once is at least 1")
  .max(16, "at most 16 folds at once (each is a process with its own copy of the model)");

const Settings = z
  .object({
    engine: EngineSetting.optional(),
    /** Where the app's runs train: here, one at a time, or as Ray tasks (`--backend`). */
    backend: BackendName.optional(),
    /** The Ray cluster for backend "ray"; none: a local Ray started with the app. */
    rayAddress: RayAddress.optional(),
    /** Backend "local": folds trained at once (`--folds-at-once`; none: 1). */
    foldsAtOnce: FoldsAtOnce.optional(),
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

export interface BackendChoice {
  backend: BackendName;
  rayAddress?: string;
  /** Where the choice came from: a command-line flag, FTUNE_BACKEND, the settings, or none. */
  from: "flag" | "env" | "settings" | "default";
  /** Folds trained at once when training is local (chosen, or the fallback from a Ray that
   * does not start): the flag, else the saved setting; none: 1. */
  foldsAtOnce?: number;
}

/**
 * The backend a front end runs with: its flags win, then FTUNE_BACKEND / FTUNE_RAY_ADDRESS,
 * then the saved settings (the app's; `useSaved` false for commands that take none), else local.
 */
export function backendChoice(
  flags: { backend?: BackendName; rayAddress?: string; foldsAtOnce?: number },
  dataDir: string = defaultDataDir(),
  env: NodeJS.ProcessEnv = process.env,
  useSaved = true,
): BackendChoice {
  const saved: Settings = useSaved ? readSettings(dataDir) : {};
  const envBackend = BackendName.safeParse(env.FTUNE_BACKEND);
  const [backend, from] = flags.backend
    ? [flags.backend, "flag" as const]
    : envBackend.success
      ? [envBackend.data, "env" as const]
      : saved.backend
        ? [saved.backend, "settings" as const]
        : ["local" as const, "default" as const];
  // The saved address goes with the saved backend: `--backend ray` alone means a local Ray.
  const rayAddress =
    flags.rayAddress ?? (env.FTUNE_RAY_ADDRESS || undefined) ?? (from === "settings" ? saved.rayAddress : undefined);
  const choice = { backend, rayAddress: backend === "ray" ? rayAddress : undefined, from };
  const foldsAtOnce = flags.foldsAtOnce ?? saved.foldsAtOnce;
  return foldsAtOnce === undefined ? choice : { ...choice, foldsAtOnce };
}
