// Valid files in every format import with the right rows and stats; readTable and
// detectColumns describe files for the UI.
import assert from "node:assert/strict";
import { chmodSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { parquetWriteBuffer } from "hyparquet-writer";

import {
  DatasetError,
  detectColumns,
  importDataset,
  lengthStats,
  percentile,
  readTable,
  regressionStats,
} from "../../app/core/datasets/index.ts";
import { countDatasetRows, getDatasetRows, listDatasets, type Store } from "../../app/core/store/index.ts";
import { assertStoreEmpty, freshStore, scratchDir, writeFixture } from "./helpers.ts";

const scratch = scratchDir("import");
after(scratch.cleanup);
let store: Store;
before(async () => {
  store = await freshStore(scratch.dir);
});
after(() => store.close());

const lines = (...l: string[]) => `${l.join("\n")}\n`;

describe("stats helpers", () => {
  test("nearest-rank percentiles", () => {
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(sorted, 0.5), 50);
    assert.equal(percentile(sorted, 0.9), 90);
    assert.equal(percentile(sorted, 0.99), 99);
    assert.equal(percentile(Float64Array.of(7), 0.99), 7);
    assert.deepEqual(lengthStats(Float64Array.of(5, 1, 3)), { min: 1, mean: 3, p50: 3, p90: 5, p99: 5, max: 5 });
  });

  test("histogram: 20 equal bins, the maximum in the last", () => {
    const s = regressionStats(Float64Array.from({ length: 101 }, (_, i) => i / 100));
    assert.equal(s.histogram.edges.length, 21);
    assert.equal(s.histogram.edges[0], 0);
    assert.equal(s.histogram.edges[20], 1);
    assert.ok(Math.abs((s.histogram.edges[10] as number) - 0.5) < 1e-12);
    assert.equal(
      s.histogram.counts.reduce((a, b) => a + b),
      101,
    );
    assert.equal(s.histogram.counts[19], 6); // 0.95..1.00 inclusive
    assert.ok(Math.abs(s.mean - 0.5) < 1e-12);
  });
});

describe("importing valid files", () => {
  test("CSV with quoted multi-line fields, commas, escaped quotes, CRLF and a pandas index column", async () => {
    const path = writeFixture(
      scratch.dir,
      "reviews.csv",
      [
        ",text,label",
        '0,"Line one\r\nline two, with a comma",1',
        '1,"She said ""hi""",2',
        "2,plain,3.5",
        "3,  padded  ,-1e1",
        "",
      ].join("\r\n"),
    );
    const dataset = await importDataset(store, { path, mapping: { text: "text", label: "label" }, task: "regression" });
    assert.equal(dataset.name, "reviews");
    assert.equal(dataset.format, "csv");
    assert.equal(dataset.rowCount, 4);
    assert.deepEqual(dataset.columns, ["unnamed_1", "text", "label"]);
    const rows = await getDatasetRows(store, dataset.id);
    assert.deepEqual(
      rows.map((r) => [r.sourceRow, r.text, r.label]),
      [
        [2, "Line one\r\nline two, with a comma", 1],
        [3, 'She said "hi"', 2],
        [4, "plain", 3.5],
        [5, "  padded  ", -10],
      ],
    );
    const stats = dataset.stats;
    assert.ok(stats && stats.label.kind === "regression");
    assert.equal(stats.rows, 4);
    assert.equal(stats.label.min, -10);
    assert.equal(stats.label.max, 3.5);
    assert.ok(Math.abs(stats.label.mean - -0.875) < 1e-12);
    const std = Math.sqrt([1, 2, 3.5, -10].reduce((a, v) => a + (v + 0.875) ** 2, 0) / 4);
    assert.ok(Math.abs(stats.label.std - std) < 1e-12);
    assert.equal(stats.label.histogram.counts.length, 20);
    assert.equal(stats.label.histogram.counts[0], 1);
    assert.equal(stats.label.histogram.counts[19], 1);
    // Character counts: 32 (the CRLF inside the quotes counts), 13, 5, 10.
    assert.deepEqual(stats.textChars, { min: 5, mean: 15, p50: 10, p90: 32, p99: 32, max: 32 });
  });

  test("CSV with a UTF-8 byte-order mark: the BOM is not part of the first column name", async () => {
    const path = writeFixture(scratch.dir, "bom.csv", `\uFEFF${lines("text,label", "café,pos", "naïve,neg")}`);
    const table = await readTable(path);
    assert.deepEqual(table.columns, ["text", "label"]);
    const dataset = await importDataset(store, {
      path,
      mapping: { text: "text", label: "label" },
      task: "classification",
    });
    assert.equal(dataset.rowCount, 2);
    assert.equal((await getDatasetRows(store, dataset.id))[0]?.text, "café");
  });

  test("TSV for classification: class counts, trimmed labels, groups", async () => {
    const path = writeFixture(
      scratch.dir,
      "topics.tsv",
      lines("sentence\ttopic\tauthor", "a b c\tsport\tx", "d e\tpolitics\ty", 'f "quoted" g\t sport\tx', "h\tart\tz"),
    );
    const dataset = await importDataset(store, {
      path,
      name: "Topics",
      mapping: { text: "sentence", label: "topic", group: "author" },
      task: "classification",
    });
    assert.equal(dataset.name, "Topics");
    assert.equal(dataset.format, "tsv");
    assert.deepEqual(dataset.stats?.label, {
      kind: "classification",
      classes: [
        { label: "sport", count: 2 },
        { label: "art", count: 1 },
        { label: "politics", count: 1 },
      ],
    });
    assert.equal(dataset.stats?.groups, 3);
    const rows = await getDatasetRows(store, dataset.id);
    assert.deepEqual(
      rows.map((r) => [r.text, r.label, r.group]),
      [
        ["a b c", "sport", "x"],
        ["d e", "politics", "y"],
        ['f "quoted" g', "sport", "x"],
        ["h", "art", "z"],
      ],
    );
  });

  test("JSONL with text pairs, ids, weights, blank lines, emoji and numbers as ids", async () => {
    const path = writeFixture(
      scratch.dir,
      "pairs.jsonl",
      lines(
        '{"q": "Is it 🙂?", "a": "yes", "y": 0.5, "id": 1, "w": 1}',
        "",
        '{"q": "Why?", "a": "because", "y": 1, "id": "two", "w": 0, "extra": {"nested": true}}',
        '{"q": "How", "a": "so", "y": "2.5", "id": 3, "w": 2.5}',
      ),
    );
    const dataset = await importDataset(store, {
      path,
      mapping: { text: "q", textPair: "a", label: "y", id: "id", weight: "w" },
      task: "regression",
    });
    assert.deepEqual(dataset.columns, ["q", "a", "y", "id", "w", "extra"]);
    const rows = await getDatasetRows(store, dataset.id);
    assert.deepEqual(rows[0], {
      index: 0,
      sourceRow: 1,
      text: "Is it 🙂?",
      textPair: "yes",
      label: 0.5,
      id: "1",
      group: null,
      weight: 1,
    });
    assert.deepEqual(
      rows.map((r) => [r.sourceRow, r.id, r.label, r.weight]),
      [
        [1, "1", 0.5, 1],
        [3, "two", 1, 0],
        [4, "3", 2.5, 2.5],
      ],
    );
    // "Is it 🙂?" is 8 characters (the emoji is one), though 9 UTF-16 units.
    assert.equal(dataset.stats?.textChars.max, 8);
    assert.deepEqual(dataset.stats?.textPairChars, { min: 2, mean: 4, p50: 3, p90: 7, p99: 7, max: 7 });
  });

  test("Parquet across several row groups", async () => {
    const n = 25;
    const path = writeFixture(
      scratch.dir,
      "scores.parquet",
      new Uint8Array(
        parquetWriteBuffer({
          rowGroupSize: 10,
          columnData: [
            { name: "essay", data: Array.from({ length: n }, (_, i) => `essay number ${i}`), type: "STRING" },
            { name: "score", data: Array.from({ length: n }, (_, i) => i % 5), type: "INT32" },
            { name: "big", data: Array.from({ length: n }, (_, i) => BigInt(i) * 1000n), type: "INT64" },
          ],
        }),
      ),
    );
    const table = await readTable(path, { batchSize: 4 });
    assert.deepEqual(table.columns, ["essay", "score", "big"]);
    assert.equal(table.rows.length, n);
    assert.deepEqual(table.rows[24], { row: 25, values: { essay: "essay number 24", score: 4, big: 24000 } });

    const dataset = await importDataset(store, {
      path,
      mapping: { text: "essay", label: "score" },
      task: "regression",
    });
    assert.equal(dataset.format, "parquet");
    assert.equal(dataset.rowCount, n);
    assert.ok(dataset.stats?.label.kind === "regression");
    assert.equal(dataset.stats.label.mean, 2);
    assert.deepEqual(
      dataset.stats.label.histogram.counts.filter((c) => c > 0),
      [5, 5, 5, 5, 5],
    );
    const rows = await getDatasetRows(store, dataset.id, { offset: 20 });
    assert.deepEqual(
      rows.map((r) => [r.sourceRow, r.text, r.label]),
      [21, 22, 23, 24, 25].map((row) => [row, `essay number ${row - 1}`, (row - 1) % 5]),
    );
  });

  test("gzip-compressed Parquet (as Spark and others write it) reads through the extra codecs", async () => {
    const path = writeFixture(
      scratch.dir,
      "gzip.parquet",
      new Uint8Array(
        parquetWriteBuffer({
          codec: "GZIP",
          compressors: { GZIP: (input: Uint8Array) => new Uint8Array(gzipSync(input)) },
          columnData: [
            { name: "text", data: ["good", "bad", "fine"], type: "STRING" },
            { name: "label", data: ["pos", "neg", "pos"], type: "STRING" },
          ],
        }),
      ),
    );
    const dataset = await importDataset(store, {
      path,
      mapping: { text: "text", label: "label" },
      task: "classification",
    });
    assert.deepEqual(dataset.stats?.label, {
      kind: "classification",
      classes: [
        { label: "pos", count: 2 },
        { label: "neg", count: 1 },
      ],
    });
  });

  test("token lengths from the caller's tokenizer: percentiles and the share over maxLength", async () => {
    const texts = Array.from({ length: 10 }, (_, i) => "word ".repeat(i + 1).trim());
    const path = writeFixture(
      scratch.dir,
      "tokens.csv",
      lines("text,pair,label", ...texts.map((t, i) => `${t},p${i},${i}`)),
    );
    const calls: { texts: number; pairs: number | undefined }[] = [];
    const dataset = await importDataset(store, {
      path,
      mapping: { text: "text", textPair: "pair", label: "label" },
      task: "regression",
      batchSize: 4,
      maxLength: 7,
      tokenLengths: async (batch, pairs) => {
        calls.push({ texts: batch.length, pairs: pairs?.length });
        return batch.map((t) => t.split(" ").length + 2); // [CLS] words [SEP]
      },
    });
    assert.deepEqual(calls, [
      { texts: 4, pairs: 4 },
      { texts: 4, pairs: 4 },
      { texts: 2, pairs: 2 },
    ]);
    assert.deepEqual(dataset.stats?.tokens, {
      min: 3,
      mean: 7.5,
      p50: 7,
      p90: 11,
      p99: 12,
      max: 12,
      maxLength: 7,
      overMaxLength: 5,
      overMaxLengthShare: 0.5,
    });
  });

  test("a tokenizer that returns the wrong number of lengths is a programming error, and rolls back", async () => {
    const before = (await listDatasets(store)).length;
    const path = writeFixture(scratch.dir, "tok-bad.csv", lines("text,label", "a,1", "b,2"));
    await assert.rejects(
      importDataset(store, {
        path,
        mapping: { text: "text", label: "label" },
        task: "regression",
        tokenLengths: () => [1],
      }),
      /tokenLengths must return one non-negative count per text \(got 1 for 2\)/,
    );
    assert.equal((await listDatasets(store)).length, before);
  });

  test("format override: CSV content in a .txt file", async () => {
    const path = writeFixture(scratch.dir, "data.txt", lines("text,label", "a,1", "b,2"));
    const dataset = await importDataset(store, {
      path,
      format: "csv",
      mapping: { text: "text", label: "label" },
      task: "regression",
    });
    assert.equal(await countDatasetRows(store, dataset.id), 2);
  });

  test("semicolon CSV with the delimiter option", async () => {
    const path = writeFixture(scratch.dir, "semi.csv", lines("text;label", "a;1,5", "b;2"));
    const table = await readTable(path, { delimiter: ";" });
    assert.deepEqual(table.rows[0]?.values, { text: "a", label: "1,5" });
  });

  test("columns named like Object properties are ordinary columns", async () => {
    const path = writeFixture(
      scratch.dir,
      "proto.jsonl",
      lines('{"__proto__": "hello", "label": 1}', '{"__proto__": "world", "label": 2}'),
    );
    const table = await readTable(path);
    assert.deepEqual(table.columns, ["__proto__", "label"]);
    assert.equal(Object.getPrototypeOf(table.rows[0]?.values), Object.prototype);
    const dataset = await importDataset(store, {
      path,
      mapping: { text: "__proto__", label: "label" },
      task: "regression",
    });
    assert.deepEqual(
      (await getDatasetRows(store, dataset.id)).map((r) => r.text),
      ["hello", "world"],
    );
    await assert.rejects(
      importDataset(store, { path, mapping: { text: "__proto__", label: "constructor" }, task: "regression" }),
      /The label column "constructor" is not in the file/,
    );
  });

  test("permission denied", { skip: process.getuid?.() === 0 ? "root can read any file" : false }, async () => {
    const empty = await freshStore(scratch.dir);
    try {
      const path = writeFixture(scratch.dir, "secret.csv", lines("text,label", "a,1"));
      chmodSync(path, 0o000);
      await assert.rejects(
        importDataset(empty, { path, mapping: { text: "text", label: "label" }, task: "regression" }),
        (err: unknown) => err instanceof DatasetError && /Permission denied/.test(err.message),
      );
      await assertStoreEmpty(empty);
    } finally {
      await empty.close();
    }
  });
});

describe("detectColumns", () => {
  test("types, a 20-row preview and a suggested regression mapping", async () => {
    const rows = Array.from(
      { length: 50 },
      (_, i) =>
        `${i},Title ${i},"A much longer body of text for row ${i}, with a comma",${(i % 7) / 2},${i % 2 ? "" : "x"}`,
    );
    const path = writeFixture(scratch.dir, "detect.csv", lines("id,title,body,target,notes", ...rows));
    const d = await detectColumns(path);
    assert.equal(d.format, "csv");
    assert.deepEqual(
      d.columns.map((c) => [c.name, c.type, c.filled]),
      [
        ["id", "numeric", 50],
        ["title", "text", 50],
        ["body", "text", 50],
        ["target", "numeric", 50],
        ["notes", "text", 25],
      ],
    );
    assert.equal(d.preview.length, 20);
    assert.deepEqual(d.preview[0], {
      row: 2,
      cells: ["0", "Title 0", "A much longer body of text for row 0, with a comma", "0", "x"],
    });
    assert.equal(d.sampledRows, 50);
    assert.deepEqual(d.suggested, { text: "body", label: "target", task: "regression", id: "id" });
  });

  test("a text label column suggests classification; sampling stops early", async () => {
    const path = writeFixture(
      scratch.dir,
      "detect.jsonl",
      lines(
        ...Array.from({ length: 300 }, (_, i) =>
          JSON.stringify({ review: `review ${i} `.repeat(3), label: ["pos", "neg"][i % 2], empty: null }),
        ),
      ),
    );
    const d = await detectColumns(path, { sampleRows: 100 });
    assert.equal(d.sampledRows, 100);
    assert.deepEqual(
      d.columns.map((c) => c.type),
      ["text", "text", "empty"],
    );
    assert.deepEqual(d.suggested, { text: "review", label: "label", task: "classification", id: undefined });
  });

  test("a malformed start of file is reported like an import", async () => {
    const path = writeFixture(scratch.dir, "detect-bad.csv", lines("a,b", "1,2,3"));
    await assert.rejects(detectColumns(path), /Row 2 has 3 fields, but the header has 2 columns/);
  });
});
