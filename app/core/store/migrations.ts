// Versioned schema. Each migration runs in its own transaction together with the bump of
// `PRAGMA user_version` and its row in `schema_migrations`, so a crash or a failing statement
// leaves the database at the previous version, never in between. Append new migrations; never
// edit one that has shipped (databases in the field already ran it).
import type { Queryable } from "./db.ts";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "datasets",
    sql: `
      CREATE TABLE datasets (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL,
        source_path TEXT NOT NULL,
        format      TEXT NOT NULL CHECK (format IN ('csv', 'tsv', 'jsonl', 'parquet')),
        task        TEXT NOT NULL CHECK (task IN ('regression', 'classification')),
        created_at  TEXT NOT NULL,
        row_count   INTEGER NOT NULL DEFAULT 0,
        columns     TEXT NOT NULL DEFAULT '[]',
        mapping     TEXT NOT NULL,
        stats       TEXT
      );
      -- One row per example. label holds the number for regression, label_text the class name
      -- for classification; source_row is the row number in the file, as messages show it.
      CREATE TABLE dataset_rows (
        dataset_id  INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        row_index   INTEGER NOT NULL,
        source_row  INTEGER NOT NULL,
        text        TEXT NOT NULL,
        text_pair   TEXT,
        label       REAL,
        label_text  TEXT,
        row_id      TEXT,
        group_key   TEXT,
        weight      REAL,
        PRIMARY KEY (dataset_id, row_index)
      );
    `,
  },
  {
    version: 2,
    name: "training",
    sql: `
      CREATE TABLE models (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        path       TEXT NOT NULL UNIQUE,
        summary    TEXT NOT NULL DEFAULT '{}',
        bundled    INTEGER NOT NULL DEFAULT 0 CHECK (bundled IN (0, 1)),
        created_at TEXT NOT NULL
      );
      CREATE TABLE experiments (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        config     TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE runs (
        id            INTEGER PRIMARY KEY,
        experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
        fold          INTEGER NOT NULL DEFAULT 0,
        status        TEXT NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled', 'interrupted')),
        created_at    TEXT NOT NULL,
        started_at    TEXT,
        ended_at      TEXT,
        error         TEXT,
        device        TEXT,
        summary       TEXT
      );
      CREATE INDEX runs_by_experiment ON runs (experiment_id, fold);
      -- value is NULL when the metric was NaN (SQLite stores NaN as NULL).
      CREATE TABLE metrics (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step   INTEGER NOT NULL,
        epoch  REAL,
        split  TEXT NOT NULL,
        name   TEXT NOT NULL,
        value  REAL
      );
      CREATE INDEX metrics_by_run ON metrics (run_id, name, step);
      CREATE TABLE checkpoints (
        id         INTEGER PRIMARY KEY,
        run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        kind       TEXT NOT NULL CHECK (kind IN ('best', 'final')),
        path       TEXT NOT NULL,
        step       INTEGER NOT NULL,
        metric     REAL,
        created_at TEXT NOT NULL,
        UNIQUE (run_id, kind)
      );
    `,
  },
  {
    version: 3,
    name: "experiment datasets and run plans",
    sql: `
      -- The dataset an experiment trains on; kept NULL when the dataset is deleted later (its
      -- runs and results stay, but it cannot start new runs).
      ALTER TABLE experiments ADD COLUMN dataset_id INTEGER REFERENCES datasets(id) ON DELETE SET NULL;
      -- What the engine reports when a run's fold starts: optimizer steps and group names.
      ALTER TABLE runs ADD COLUMN total_steps INTEGER;
      ALTER TABLE runs ADD COLUMN groups TEXT;
    `,
  },
  {
    version: 4,
    name: "experiments from config files and run folders",
    sql: `
      -- 1: the experiment trains on the files its config names (ftune train / ablate), not on
      -- an imported dataset.
      ALTER TABLE experiments ADD COLUMN data_files INTEGER NOT NULL DEFAULT 0;
      -- Where the run writes checkpoints and metrics (ftune train --out); NULL: <data>/runs/<id>.
      ALTER TABLE runs ADD COLUMN dir TEXT;
    `,
  },
  {
    version: 5,
    name: "checkpoints a run keeps",
    sql: `
      -- 'best' | 'best+final' | 'all'; NULL: the best, plus the final weights when SWA ran.
      ALTER TABLE runs ADD COLUMN keep TEXT;
    `,
  },
  {
    version: 6,
    name: "sweeps",
    sql: `
      -- A search over config fields on Ray Tune (ftune sweep, the Sweeps view). out_dir holds
      -- Tune's state: starting the same folder again resumes the sweep.
      CREATE TABLE sweeps (
        id               INTEGER PRIMARY KEY,
        name             TEXT NOT NULL,
        spec             TEXT NOT NULL,
        dataset_id       INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
        status           TEXT NOT NULL DEFAULT 'running'
                         CHECK (status IN ('running', 'completed', 'failed', 'cancelled', 'interrupted')),
        out_dir          TEXT NOT NULL UNIQUE,
        best_params      TEXT,
        best_config_path TEXT,
        error            TEXT,
        created_at       TEXT NOT NULL,
        ended_at         TEXT
      );
      -- One row per Tune trial: its experiment (one run) and what Tune saw of it. The trial's
      -- key is Tune's id, so a resumed sweep finds the experiment of a trial it restarts.
      CREATE TABLE sweep_trials (
        sweep_id      INTEGER NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
        key           TEXT NOT NULL,
        experiment_id INTEGER NOT NULL UNIQUE REFERENCES experiments(id) ON DELETE CASCADE,
        params        TEXT NOT NULL,
        status        TEXT NOT NULL DEFAULT 'running'
                      CHECK (status IN ('running', 'completed', 'stopped', 'failed', 'cancelled')),
        evaluations   INTEGER NOT NULL DEFAULT 0,
        metric        REAL,
        PRIMARY KEY (sweep_id, key)
      );
    `,
  },
];

export const LATEST_VERSION = MIGRATIONS.length;

export interface MigrateOptions {
  /** Stop at this version (tests use it to build an older schema). Default: the latest. */
  to?: number;
  /** The list to apply; defaults to MIGRATIONS. */
  migrations?: readonly Migration[];
}

export interface MigrateResult {
  from: number;
  to: number;
  applied: number[];
}

export async function schemaVersion(db: Queryable): Promise<number> {
  const row = await db.get<{ user_version: number }>("PRAGMA user_version");
  return row?.user_version ?? 0;
}

/** Brings the schema up to `to` (default latest), applying each missing migration in its own transaction. */
export async function migrate(db: Queryable, options: MigrateOptions = {}): Promise<MigrateResult> {
  const migrations = options.migrations ?? MIGRATIONS;
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`Migration list is out of order: entry ${i} has version ${m.version}`);
  });
  const target = options.to ?? migrations.length;
  if (!Number.isInteger(target) || target < 0 || target > migrations.length) {
    throw new Error(`Cannot migrate to schema version ${target}; versions 0..${migrations.length} exist`);
  }
  const from = await schemaVersion(db);
  if (from > migrations.length) {
    throw new Error(
      `This data folder was written by a newer Finetune Studio (schema version ${from}; this version knows up to ${migrations.length}). Update the app, or point FTUNE_HOME at another folder.`,
    );
  }
  if (from > target)
    throw new Error(`Schema is at version ${from}, past the requested ${target}; downgrades are not supported`);

  await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
  )`);
  const applied: number[] = [];
  for (const m of migrations.slice(from, target)) {
    await db.transaction(async (tx) => {
      await tx.exec(m.sql);
      await tx.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", [
        m.version,
        m.name,
        new Date().toISOString(),
      ]);
      await tx.exec(`PRAGMA user_version = ${m.version}`);
    });
    applied.push(m.version);
  }
  return { from, to: Math.max(from, target), applied };
}
