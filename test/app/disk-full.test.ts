// A full disk loses nothing and says so, on a real small disk (a tmpfs mounted for the test):
// a status write SQLite cannot make is an error (not the new row), and a run whose training
// state does not fit ends "failed" with a plain message, leaves no *.tmp behind, and the data
// already on the disk (datasets, a finished run's checkpoints) stays as it was.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";

import type { Core } from "../../app/core/service/index.ts";
import { createExperiment, createRun, getRun, openStore, setRunStatus } from "../../app/core/store/index.ts";
import { startServer } from "../../app/server/server.ts";
import { mountSmallDisk, type SmallDisk } from "../helpers/tmpfs.ts";
import { api, ftune, testCore, tinyConfig, tinyDataset, tinyModel, writeTinyCsv } from "./helpers.ts";

const mounted = mountSmallDisk(48);
const disk: SmallDisk | undefined = typeof mounted === "string" ? undefined : mounted;
const skip = typeof mounted === "string" ? mounted : false;

/** Every path under `dir`, files and folders. */
function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? [path, ...walk(path)] : [path];
  });
}

const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

test("a status write on a full disk is an error, and the stored status stays as it was", { skip }, async () => {
  const dir = join((disk as SmallDisk).dir, "store");
  const db = await openStore(dir);
  const experimentId = await createExperiment(db, { name: "e", config: {} });
  const runId = await createRun(db, { experimentId });
  const filler = (disk as SmallDisk).fill(0, "store-filler.bin");
  try {
    // sqlite3's get() would hand back the updated row although the commit failed.
    await assert.rejects(setRunStatus(db, runId, "running"), /SQLITE_FULL|disk is full/);
  } finally {
    rmSync(filler);
  }
  assert.equal((await getRun(db, runId))?.status, "queued");
  await db.close();
  // What another connection (the next start of the app) reads.
  const again = await openStore(dir);
  assert.equal((await getRun(again, runId))?.status, "queued");
  assert.equal((await setRunStatus(again, runId, "running")).status, "running");
  await again.close();
});

let core: Core;
before(async () => {
  if (disk) core = await testCore(join(disk.dir, "data"), { stateIntervalSeconds: 0 });
});
after(async () => {
  await core?.close();
  disk?.unmount();
});

test("a run that runs out of disk ends failed, says the disk is full, and leaves no temporary state", {
  skip,
}, async (t) => {
  const small = disk as SmallDisk;
  const dataset = await tinyDataset(core, 16);
  // A first run that finishes: its checkpoints are the data that must come through intact.
  const config = tinyConfig({ folds: { k: 2, run: [0] }, train: { epochs: 2, batch_size: 4, device: "cpu", seed: 1 } });
  const first = await api(core, "createExperiment", { name: "before", datasetId: dataset.id, config });
  const [done] = await api(core, "startRuns", { experimentId: first.id });
  const finished = await core.runs.waitFor(done?.id as number);
  assert.equal(finished.status, "completed", finished.error ?? "");
  const kept = walk(small.dir).filter((p) => statSync(p).isFile() && !p.endsWith(".db-wal") && !p.includes("ftune.db"));
  const hashes = new Map(kept.map((p) => [p, sha(p)]));
  const weights = kept.find((p) => p.endsWith("model.safetensors"));
  assert.ok(weights, "the finished run saved a model");
  const modelBytes = statSync(weights).size;

  // Room for the run's metrics, not for its resumable state (weights, two AdamW moments, best).
  const second = await api(core, "createExperiment", { name: "no room", datasetId: dataset.id, config });
  const filler = small.fill(Math.floor(modelBytes * 1.5));
  try {
    const [run] = await api(core, "startRuns", { experimentId: second.id });
    const ended = await core.runs.waitFor(run?.id as number);
    t.diagnostic(`the run's message: ${ended.error}`);
    assert.equal(ended.status, "failed", `status ${ended.status}: ${ended.error}`);
    assert.match(ended.error ?? "", /^The disk is full \(.+\)/);
    assert.doesNotMatch(ended.error ?? "", /IoError|Os \{|code: 28|os error|interrupted|app stopped/);
    const leftovers = walk(small.dir).filter((p) => /\.tmp$/.test(p) || p.includes(".tmp/"));
    assert.deepEqual(leftovers, []);
  } finally {
    rmSync(filler);
  }

  // What was on the disk before is untouched, and the failure was really stored: a new core
  // (the app's next start) reads "failed" with the message, not "interrupted".
  for (const [path, hash] of hashes) assert.equal(sha(path), hash, path);
  await core.close();
  core = await testCore(join(small.dir, "data"));
  const runs = await api(core, "listRuns", {});
  const byName = (id: number) => runs.find((r) => r.experimentId === id);
  assert.equal(byName(first.id)?.status, "completed");
  assert.equal(byName(second.id)?.status, "failed");
  assert.match(byName(second.id)?.error ?? "", /^The disk is full/);
  const stored = await api(core, "getDataset", { id: dataset.id });
  assert.equal(stored.rowCount, 16);
});

test("ftune train onto a full disk says so in one line and exits 1", { skip }, async (t) => {
  const small = disk as SmallDisk;
  const csv = writeTinyCsv(small.dir, 24, "train-full.csv");
  const config = join(small.dir, "train-full.yaml");
  writeFileSync(
    config,
    [
      `model: ${tinyModel()}`,
      "task: regression",
      `data: { train: ${csv}, text: text, label: target, max_length: 32 }`,
      "folds: { k: 2, seed: 3, run: [0] }",
      "train: { epochs: 1, batch_size: 4, device: cpu }",
    ].join("\n"),
  );
  const filler = small.fill(64 * 1024, "train-filler.bin");
  try {
    const r = await ftune(["train", config, "--out", join(small.dir, "train-out")], join(small.dir, "cli-home"));
    t.diagnostic(r.stderr.trim().split("\n").at(-1) ?? "");
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /^ftune: The disk is full \((no space to write \/.+|.+ while (writing the metrics in|opening the data folder|writing to the data folder) \/.+)\): free some space and try again\.$/m,
    );
    assert.doesNotMatch(r.stderr, /IoError|Os \{|os error|unexpected error|\n\s+at /);
    assert.deepEqual(
      walk(small.dir).filter((p) => p.includes(".tmp")),
      [],
    );
  } finally {
    rmSync(filler);
  }
});

test("an upload onto a full disk is a 507 that says so, and leaves no partial file", { skip }, async () => {
  const small = disk as SmallDisk;
  const server = await startServer({
    handlers: core.handlers,
    events: core.events,
    dataDir: core.dataDir,
    rendererDir: join(small.dir, "no-ui"),
  });
  const filler = small.fill(32 * 1024, "upload-filler.bin");
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/api/upload?name=big.csv`, {
      method: "POST",
      headers: { Authorization: `Bearer ${server.token}` },
      body: `id,text\n${"1,some words\n".repeat(20_000)}`,
    });
    assert.equal(res.status, 507);
    const { error } = (await res.json()) as { error: string };
    assert.match(error, /^The disk is full \(.+ while saving the upload\): free some space and try again\.$/);
    const uploads = join(core.dataDir, "uploads");
    assert.deepEqual(
      readdirSync(uploads).filter((f) => f.endsWith("big.csv")),
      [],
    );
  } finally {
    rmSync(filler);
    await server.close();
  }
});
