// The SQLite store: connection settings, migrations (from empty, from every older version, a
// failing one, a newer database), transactions, and the repositories the app uses.
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";

import {
  createDataset,
  createExperiment,
  createRun,
  DB_FILE,
  Db,
  defaultDataDir,
  deleteDataset,
  deleteExperiment,
  deleteModel,
  getDataset,
  getDatasetRows,
  getExperiment,
  getRun,
  insertDatasetRows,
  LATEST_VERSION,
  listCheckpoints,
  listDatasets,
  listExperiments,
  listModels,
  listRuns,
  MetricsWriter,
  MIGRATIONS,
  markInterruptedRuns,
  metricSeries,
  migrate,
  type NewDatasetRow,
  openStore,
  type Queryable,
  queryMetrics,
  saveCheckpoint,
  saveModel,
  schemaVersion,
  setRunStatus,
} from "../../app/core/store/index.ts";
import { scratchDir } from "./helpers.ts";

const scratch = scratchDir("store");
after(scratch.cleanup);
let counter = 0;
const nextDir = () => join(scratch.dir, `s${counter++}`);

const mapping = { text: "text", label: "label" };

function rows(n: number, start = 0): NewDatasetRow[] {
  return Array.from({ length: n }, (_, i) => ({
    index: start + i,
    sourceRow: start + i + 2,
    text: `text ${start + i}`,
    textPair: null,
    label: (start + i) / 10,
    id: `id-${start + i}`,
    group: null,
    weight: null,
  }));
}

async function schemaOf(db: Queryable): Promise<string[]> {
  const rows = await db.all<{ sql: string }>(
    "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name != 'schema_migrations' ORDER BY name",
  );
  return rows.map((r) => r.sql.replace(/\s+/g, " "));
}

describe("opening a store", () => {
  test("creates dir/ftune.db with WAL, foreign keys, a busy timeout and the latest schema", async () => {
    const dir = nextDir();
    const store = await openStore(dir, { busyTimeoutMs: 1234 });
    try {
      assert.ok(existsSync(join(dir, DB_FILE)));
      assert.equal(store.file, join(dir, DB_FILE));
      assert.equal((await store.get<{ journal_mode: string }>("PRAGMA journal_mode"))?.journal_mode, "wal");
      assert.equal((await store.get<{ foreign_keys: number }>("PRAGMA foreign_keys"))?.foreign_keys, 1);
      assert.equal((await store.get<{ timeout: number }>("PRAGMA busy_timeout"))?.timeout, 1234);
      assert.equal(await schemaVersion(store), LATEST_VERSION);
      const applied = await store.all<{ version: number }>("SELECT version FROM schema_migrations ORDER BY version");
      assert.deepEqual(
        applied.map((r) => r.version),
        MIGRATIONS.map((m) => m.version),
      );
    } finally {
      await store.close();
    }
  });

  test("foreign keys are enforced", async () => {
    const store = await openStore(nextDir());
    try {
      await assert.rejects(createRun(store, { experimentId: 999 }), /FOREIGN KEY constraint failed/);
    } finally {
      await store.close();
    }
  });

  test("defaultDataDir prefers FTUNE_HOME, then XDG_DATA_HOME, then ~/.local/share", () => {
    assert.equal(defaultDataDir({ FTUNE_HOME: "/a", XDG_DATA_HOME: "/b", HOME: "/h" }), "/a");
    assert.equal(defaultDataDir({ XDG_DATA_HOME: "/b" }), "/b/finetune-studio");
    assert.match(defaultDataDir({}), /\/\.local\/share\/finetune-studio$/);
  });
});

describe("migrations", () => {
  test("from an empty database every migration applies in order", async () => {
    const db = await Db.open(join(scratch.dir, "empty.db"));
    try {
      assert.equal(await schemaVersion(db), 0);
      const result = await migrate(db);
      assert.deepEqual(result, { from: 0, to: LATEST_VERSION, applied: MIGRATIONS.map((m) => m.version) });
      assert.deepEqual(await migrate(db), { from: LATEST_VERSION, to: LATEST_VERSION, applied: [] });
    } finally {
      await db.close();
    }
  });

  test("from version N-1, data written under the old schema survives and the new tables work", async () => {
    assert.ok(LATEST_VERSION >= 2, "this test needs at least two migrations");
    const dir = nextDir();
    mkdirSync(dir, { recursive: true });
    const old = await Db.open(join(dir, DB_FILE));
    await migrate(old, { to: LATEST_VERSION - 1 });
    assert.equal(await schemaVersion(old), LATEST_VERSION - 1);
    const id = await old.transaction(async (tx) => {
      const datasetId = await createDataset(tx, {
        name: "old",
        sourcePath: "/data/old.csv",
        format: "csv",
        task: "regression",
        mapping,
      });
      await insertDatasetRows(tx, datasetId, rows(250));
      return datasetId;
    });
    await old.close();

    const store = await openStore(dir);
    try {
      assert.equal(await schemaVersion(store), LATEST_VERSION);
      const dataset = await getDataset(store, id);
      assert.equal(dataset?.name, "old");
      const back = await getDatasetRows(store, id);
      assert.equal(back.length, 250);
      assert.deepEqual(back[249], rows(250)[249]);
      const experimentId = await createExperiment(store, { name: "after upgrade", config: { lr: 2e-5 } });
      assert.equal((await getExperiment(store, experimentId))?.name, "after upgrade");
    } finally {
      await store.close();
    }
  });

  test("every starting version reaches the same schema as a fresh database", async () => {
    const fresh = await Db.open(join(scratch.dir, "fresh.db"));
    await migrate(fresh);
    const want = await schemaOf(fresh);
    await fresh.close();
    for (let start = 0; start < LATEST_VERSION; start++) {
      const db = await Db.open(join(scratch.dir, `from-${start}.db`));
      await migrate(db, { to: start });
      const result = await migrate(db);
      assert.equal(result.from, start);
      assert.deepEqual(await schemaOf(db), want, `schema differs when migrating from version ${start}`);
      await db.close();
    }
  });

  test("a failing migration leaves the database at the previous version", async () => {
    const db = await Db.open(join(scratch.dir, "broken.db"));
    try {
      const broken = [
        ...MIGRATIONS,
        {
          version: LATEST_VERSION + 1,
          name: "broken",
          sql: "CREATE TABLE half_done (a); INSERT INTO no_such_table VALUES (1);",
        },
      ];
      await assert.rejects(migrate(db, { migrations: broken }), /no such table: no_such_table/);
      assert.equal(await schemaVersion(db), LATEST_VERSION);
      const table = await db.get("SELECT name FROM sqlite_master WHERE name = 'half_done'");
      assert.equal(table, undefined);
      const recorded = await db.get("SELECT version FROM schema_migrations WHERE version = ?", [LATEST_VERSION + 1]);
      assert.equal(recorded, undefined);
    } finally {
      await db.close();
    }
  });

  test("a database from a newer app is refused with a clear message", async () => {
    const dir = nextDir();
    const store = await openStore(dir);
    await store.exec(`PRAGMA user_version = ${LATEST_VERSION + 5}`);
    await store.close();
    await assert.rejects(openStore(dir), /written by a newer Finetune Studio/);
  });
});

describe("transactions", () => {
  test("commit on success, rollback on error, savepoints for nested calls", async () => {
    const store = await openStore(nextDir());
    try {
      await store.exec("CREATE TABLE t (v INTEGER)");
      await store.transaction(async (tx) => {
        await tx.run("INSERT INTO t VALUES (1)");
      });
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.run("INSERT INTO t VALUES (2)");
          throw new Error("boom");
        }),
        /boom/,
      );
      await store.transaction(async (tx) => {
        await tx.run("INSERT INTO t VALUES (3)");
        await assert.rejects(
          tx.transaction(async (inner) => {
            await inner.run("INSERT INTO t VALUES (4)");
            throw new Error("inner");
          }),
          /inner/,
        );
        await tx.transaction(async (inner) => {
          await inner.run("INSERT INTO t VALUES (5)");
        });
      });
      const values = await store.all<{ v: number }>("SELECT v FROM t ORDER BY v");
      assert.deepEqual(
        values.map((r) => r.v),
        [1, 3, 5],
      );
    } finally {
      await store.close();
    }
  });

  test("statements issued outside a running transaction wait for it instead of joining it", async () => {
    const store = await openStore(nextDir());
    try {
      await store.exec("CREATE TABLE t (v INTEGER)");
      let release: () => void = () => {};
      const gate = new Promise<void>((r) => {
        release = r;
      });
      const tx = store.transaction(async (t) => {
        await t.run("INSERT INTO t VALUES (1)");
        await gate;
        throw new Error("rolled back");
      });
      const outside = store.run("INSERT INTO t VALUES (2)");
      setTimeout(release, 20);
      await assert.rejects(tx, /rolled back/);
      await outside;
      const values = await store.all<{ v: number }>("SELECT v FROM t");
      assert.deepEqual(
        values.map((r) => r.v),
        [2],
      );
    } finally {
      await store.close();
    }
  });
});

describe("repositories", () => {
  test("datasets: create, rows in pages, list, delete cascades to rows", async () => {
    const store = await openStore(nextDir());
    try {
      const id = await store.transaction(async (tx) => {
        const datasetId = await createDataset(tx, {
          name: "reviews",
          sourcePath: "/d/reviews.csv",
          format: "csv",
          task: "classification",
          mapping: { text: "review", label: "stars", id: "id" },
          columns: ["id", "review", "stars"],
        });
        // 1234 rows crosses several multi-row INSERT chunks and leaves a remainder.
        await insertDatasetRows(
          tx,
          datasetId,
          rows(1234).map((r) => ({ ...r, label: `class ${r.index % 3}`, weight: 0.5 })),
        );
        return datasetId;
      });
      const [listed] = await listDatasets(store);
      assert.equal(listed?.id, id);
      assert.deepEqual(listed?.mapping, { text: "review", label: "stars", id: "id" });
      assert.deepEqual(listed?.columns, ["id", "review", "stars"]);
      const page = await getDatasetRows(store, id, { offset: 1000, limit: 300 });
      assert.equal(page.length, 234);
      assert.deepEqual(page[0], {
        index: 1000,
        sourceRow: 1002,
        text: "text 1000",
        textPair: null,
        label: "class 1",
        id: "id-1000",
        group: null,
        weight: 0.5,
      });
      assert.equal(await deleteDataset(store, id), true);
      assert.equal(await deleteDataset(store, id), false);
      assert.equal((await store.get<{ n: number }>("SELECT COUNT(*) AS n FROM dataset_rows"))?.n, 0);
    } finally {
      await store.close();
    }
  });

  test("models: registering a path twice updates it", async () => {
    const store = await openStore(nextDir());
    try {
      const a = await saveModel(store, { name: "tiny", path: "/m/tiny", bundled: true, summary: { layers: 2 } });
      const b = await saveModel(store, { name: "tiny v2", path: "/m/tiny", bundled: true, summary: { layers: 4 } });
      assert.equal(a.id, b.id);
      await saveModel(store, { name: "mine", path: "/m/mine" });
      const models = await listModels(store);
      assert.deepEqual(
        models.map((m) => [m.name, m.bundled, m.summary]),
        [
          ["tiny v2", true, { layers: 4 }],
          ["mine", false, {}],
        ],
      );
      assert.equal(await deleteModel(store, a.id), true);
      assert.equal((await listModels(store)).length, 1);
    } finally {
      await store.close();
    }
  });

  test("runs: allowed status moves stamp times; impossible moves are refused", async () => {
    const store = await openStore(nextDir());
    try {
      const experimentId = await createExperiment(store, { name: "e", config: { folds: 2 } });
      const runId = await createRun(store, { experimentId, fold: 1 });
      assert.equal((await getRun(store, runId))?.status, "queued");
      const running = await setRunStatus(store, runId, "running", { device: "cuda:0" });
      assert.equal(running.status, "running");
      assert.equal(running.device, "cuda:0");
      assert.ok(running.startedAt);
      assert.equal(running.endedAt, null);
      const done = await setRunStatus(store, runId, "completed", { summary: { best: 0.91 } });
      assert.ok(done.endedAt);
      assert.equal(done.startedAt, running.startedAt);
      assert.deepEqual(done.summary, { best: 0.91 });
      await assert.rejects(setRunStatus(store, runId, "running"), /cannot go from completed to running/);
      await assert.rejects(setRunStatus(store, 12345, "running"), /Run 12345 does not exist/);

      const crashed = await createRun(store, { experimentId, fold: 2 });
      await setRunStatus(store, crashed, "running");
      assert.equal(await markInterruptedRuns(store), 1);
      const interrupted = await getRun(store, crashed);
      assert.equal(interrupted?.status, "interrupted");
      assert.match(interrupted?.error ?? "", /stopped while this run was training/);
      const resumed = await setRunStatus(store, crashed, "running");
      assert.equal(resumed.endedAt, null);
      const failed = await setRunStatus(store, crashed, "failed", { error: "CUDA out of memory" });
      assert.equal(failed.error, "CUDA out of memory");
      assert.deepEqual(
        (await listRuns(store, experimentId)).map((r) => [r.fold, r.status]),
        [
          [1, "completed"],
          [2, "failed"],
        ],
      );
      assert.equal((await listExperiments(store)).length, 1);
    } finally {
      await store.close();
    }
  });

  test("metrics: buffered points land on flush, in step order, NaN as null; deleting the experiment cascades", async () => {
    const store = await openStore(nextDir());
    try {
      const experimentId = await createExperiment(store, { name: "e", config: {} });
      const runId = await createRun(store, { experimentId });
      const writer = new MetricsWriter(store, runId, { autoFlushAt: 1000 });
      for (let step = 0; step < 1250; step++) {
        writer.append([
          { step, epoch: step / 500, split: "train", name: "loss", value: 1 / (step + 1) },
          { step, split: "valid", name: "rmse", value: step === 7 ? Number.NaN : step },
        ]);
      }
      assert.ok(writer.pending < 1000, "the writer flushes on its own past autoFlushAt");
      await writer.flush();
      assert.equal(writer.pending, 0);
      const loss = await queryMetrics(store, runId, { name: "loss" });
      assert.equal(loss.length, 1250);
      assert.deepEqual(
        loss.map((m) => m.step),
        Array.from({ length: 1250 }, (_, i) => i),
      );
      assert.deepEqual(loss[500], { step: 500, epoch: 1, split: "train", name: "loss", value: 1 / 501 });
      const rmse = await queryMetrics(store, runId, { split: "valid", afterStep: 5 });
      assert.equal(rmse[0]?.step, 6);
      assert.equal(rmse[1]?.value, null);
      assert.deepEqual(await metricSeries(store, runId), [
        { split: "train", name: "loss" },
        { split: "valid", name: "rmse" },
      ]);
      await writer.close();

      await saveCheckpoint(store, { runId, kind: "best", path: "/c/best-1", step: 100, metric: 0.5 });
      await saveCheckpoint(store, { runId, kind: "best", path: "/c/best-2", step: 200, metric: 0.4 });
      await saveCheckpoint(store, { runId, kind: "final", path: "/c/final", step: 1249 });
      assert.deepEqual(
        (await listCheckpoints(store, runId)).map((c) => [c.kind, c.path, c.step, c.metric]),
        [
          ["best", "/c/best-2", 200, 0.4],
          ["final", "/c/final", 1249, null],
        ],
      );

      assert.equal(await deleteExperiment(store, experimentId), true);
      for (const table of ["runs", "metrics", "checkpoints"]) {
        const n = await store.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`);
        assert.equal(n?.n, 0, `${table} kept rows of a deleted experiment`);
      }
    } finally {
      await store.close();
    }
  });

  test("a failed metrics flush keeps its points for the next flush", async () => {
    const store = await openStore(nextDir());
    try {
      const experimentId = await createExperiment(store, { name: "e", config: {} });
      const runId = await createRun(store, { experimentId });
      const writer = new MetricsWriter(store, runId);
      writer.append({ step: 1, split: "train", name: "loss", value: 1 });
      await store.exec("ALTER TABLE metrics RENAME TO metrics_away");
      await assert.rejects(writer.flush(), /no such table: metrics/);
      assert.equal(writer.pending, 1);
      await store.exec("ALTER TABLE metrics_away RENAME TO metrics");
      assert.equal(await writer.flush(), 1);
      assert.equal((await queryMetrics(store, runId)).length, 1);
    } finally {
      await store.close();
    }
  });
});
