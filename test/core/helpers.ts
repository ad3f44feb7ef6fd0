// Shared by the core suites: scratch folders, a fresh store per test, and the "nothing left
// behind" check every failed import must pass.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { openStore, type Store } from "../../app/core/store/index.ts";

export function scratchDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `ftune-${prefix}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes `content` (text as UTF-8, or raw bytes) under `dir` and returns the path. */
export function writeFixture(dir: string, name: string, content: string | Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

export async function freshStore(dir: string): Promise<Store> {
  return openStore(join(dir, `store-${Math.random().toString(36).slice(2)}`));
}

export async function assertStoreEmpty(store: Store): Promise<void> {
  const datasets = await store.get<{ n: number }>("SELECT COUNT(*) AS n FROM datasets");
  const rows = await store.get<{ n: number }>("SELECT COUNT(*) AS n FROM dataset_rows");
  assert.equal(datasets?.n, 0, "a failed import left a dataset behind");
  assert.equal(rows?.n, 0, "a failed import left rows behind");
}
