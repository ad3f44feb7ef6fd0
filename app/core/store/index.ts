// The app's data folder: one SQLite file, migrated to the latest schema on open.
import { mkdirSync } from "node:fs";
import { join } from "node:path";

import { defaultDataDir } from "../data-dir.ts";
import { Db, type DbOptions } from "./db.ts";
import { migrate } from "./migrations.ts";

export type Store = Db;
export const DB_FILE = "ftune.db";

export { defaultDataDir };

/** Opens `dir/ftune.db` (creating the folder and file if needed) and migrates it to the latest schema. */
export async function openStore(dir: string = defaultDataDir(), options: DbOptions = {}): Promise<Store> {
  mkdirSync(dir, { recursive: true });
  const db = await Db.open(join(dir, DB_FILE), options);
  try {
    await migrate(db);
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
  return db;
}

export type { DbOptions, Params, Queryable, RunResult, SqlValue } from "./db.ts";
export { Db, Statement } from "./db.ts";
export type { MigrateOptions, MigrateResult, Migration } from "./migrations.ts";
export { LATEST_VERSION, MIGRATIONS, migrate, schemaVersion } from "./migrations.ts";
export * from "./repo-checkpoints.ts";
export * from "./repo-datasets.ts";
export * from "./repo-experiments.ts";
export * from "./repo-metrics.ts";
export * from "./repo-models.ts";
export * from "./types.ts";
