// A 200k-row CSV imports in one streaming pass: memory stays bounded (the file is never held
// whole) and every row lands in the store.
import assert from "node:assert/strict";
import { createWriteStream, statSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";

import { importDataset } from "../../app/core/datasets/index.ts";
import { countDatasetRows, getDatasetRows } from "../../app/core/store/index.ts";
import { freshStore, scratchDir } from "./helpers.ts";

const scratch = scratchDir("large");
after(scratch.cleanup);

const ROWS = 200_000;
const filler = "lorem ipsum dolor sit amet, consectetur adipiscing elit ";

async function writeLargeCsv(path: string): Promise<void> {
  const out = createWriteStream(path);
  const write = (s: string) => new Promise<void>((resolve) => (out.write(s) ? resolve() : out.once("drain", resolve)));
  await write("id,text,score\n");
  for (let start = 0; start < ROWS; start += 1000) {
    let chunk = "";
    for (let i = start; i < start + 1000; i++) {
      chunk += `r${i},"Essay ${i}: ${filler.repeat(4 + (i % 9))}""quoted""",${(i % 100) / 10}\n`;
    }
    await write(chunk);
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

test(`a ${ROWS.toLocaleString("en")}-row CSV imports with bounded memory`, async () => {
  const path = join(scratch.dir, "large.csv");
  await writeLargeCsv(path);
  const bytes = statSync(path).size;
  const store = await freshStore(scratch.dir);
  try {
    const baseline = process.memoryUsage().heapUsed;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }, 20);
    const started = performance.now();
    const dataset = await importDataset(store, {
      path,
      mapping: { text: "text", label: "score", id: "id" },
      task: "regression",
      folds: 5,
    }).finally(() => clearInterval(sampler));
    const seconds = (performance.now() - started) / 1000;
    peak = Math.max(peak, process.memoryUsage().heapUsed);
    const growthMb = (peak - baseline) / 2 ** 20;
    console.log(
      `# ${ROWS} rows, ${(bytes / 2 ** 20).toFixed(0)} MiB file: ${seconds.toFixed(1)} s, heap growth ${growthMb.toFixed(0)} MiB`,
    );

    assert.equal(dataset.rowCount, ROWS);
    assert.equal(await countDatasetRows(store, dataset.id), ROWS);
    assert.ok(dataset.stats?.label.kind === "regression");
    assert.equal(dataset.stats.label.min, 0);
    assert.equal(dataset.stats.label.max, 9.9);
    const [last] = await getDatasetRows(store, dataset.id, { offset: ROWS - 1 });
    assert.equal(last?.id, `r${ROWS - 1}`);
    assert.equal(last?.sourceRow, ROWS + 1);
    assert.match(last?.text ?? "", /"quoted"$/);
    // Holding the parsed rows would take more heap than the file's own size (~93 MiB of text);
    // streaming keeps the growth to a batch plus stats and the id index.
    const fileMb = bytes / 2 ** 20;
    assert.ok(fileMb > 80, "the file should be large enough for the bound to mean something");
    assert.ok(growthMb < Math.min(300, fileMb), `heap grew by ${growthMb.toFixed(0)} MiB`);
    assert.ok(seconds < 120, `import took ${seconds.toFixed(0)} s`);
  } finally {
    await store.close();
  }
});
