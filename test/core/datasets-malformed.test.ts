// Malformed inputs: each file is generated here, must fail with its specific, actionable
// message, and must leave the store exactly as it was (no dataset, no rows).
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parquetWriteBuffer } from "hyparquet-writer";

import { DatasetError, type ImportOptions, importDataset, MAX_LISTED } from "../../app/core/datasets/index.ts";
import { readLabelledFile } from "../../app/core/experiments/data.ts";
import type { Store } from "../../app/core/store/index.ts";
import { assertStoreEmpty, freshStore, scratchDir, writeFixture } from "./helpers.ts";

const scratch = scratchDir("malformed");
after(scratch.cleanup);
let store: Store;
before(async () => {
  store = await freshStore(scratch.dir);
});
after(() => store.close());

type Content = string | Uint8Array;
interface Case {
  name: string;
  file: string;
  /** File content; omitted when the case sets up the path itself (missing file, folder). */
  content?: Content;
  options?: Partial<ImportOptions>;
  message: RegExp;
  /** Row of the first listed problem, when the problem is about a row. */
  row?: number;
  /** Exact number of listed problems, when it matters (no per-row noise). */
  problems?: number;
}

const csv = (...lines: string[]) => `${lines.join("\n")}\n`;
const regression = { mapping: { text: "text", label: "label" }, task: "regression" } as const;
const classification = { mapping: { text: "text", label: "label" }, task: "classification" } as const;
const utf16le = (s: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(s, "utf16le")]);
const utf16be = (s: string) => {
  const le = Buffer.from(s, "utf16le");
  for (let i = 0; i < le.length; i += 2) [le[i], le[i + 1]] = [le[i + 1] as number, le[i] as number];
  return Buffer.concat([Buffer.from([0xfe, 0xff]), le]);
};
const validParquet = () =>
  new Uint8Array(
    parquetWriteBuffer({
      columnData: [
        { name: "sentence", data: ["a", "b", "c"], type: "STRING" },
        { name: "y", data: [1, 2, 3], type: "DOUBLE" },
      ],
    }),
  );

const cases: Case[] = [
  { name: "missing file", file: "nope.csv", options: regression, message: /File not found: .*nope\.csv/ },
  { name: "a folder instead of a file", file: "folder.csv", options: regression, message: /is a folder, not a file/ },
  { name: "empty file", file: "empty.csv", content: "", options: regression, message: /The file is empty \(0 bytes\)/ },
  {
    name: "file over the size limit",
    file: "big.csv",
    content: csv("text,label", ...Array.from({ length: 20 }, (_, i) => `row ${i},${i}`)),
    options: { ...regression, maxFileBytes: 64 },
    message: /over the import limit of 64 bytes/,
  },
  {
    name: "UTF-16 LE with BOM",
    file: "utf16le.csv",
    content: utf16le(csv("text,label", "hello,1")),
    options: regression,
    message: /saved as UTF-16 .*Save it again as UTF-8/,
  },
  {
    name: "UTF-16 BE with BOM",
    file: "utf16be.csv",
    content: utf16be(csv("text,label", "hello,1")),
    options: regression,
    message: /saved as UTF-16/,
  },
  {
    name: "Latin-1 bytes (invalid UTF-8)",
    file: "latin1.csv",
    content: Buffer.concat([Buffer.from("text,label\nfine,1\ncaf"), Buffer.from([0xe9]), Buffer.from(",2\n")]),
    options: regression,
    message: /not valid UTF-8 text \(the first invalid byte is on line 3\).*Windows-1252/,
  },
  {
    name: "invalid UTF-8 past the first read chunk",
    file: "latin1-late.csv",
    content: Buffer.concat([
      Buffer.from(`text,label\n${Array.from({ length: 60_000 }, (_, i) => `some text number ${i},${i}\n`).join("")}`),
      Buffer.from([0x80, 0x2c, 0x31, 0x0a]),
    ]),
    options: regression,
    message: /first invalid byte is on line 60002\b/,
  },
  {
    name: "unclosed quote",
    file: "quote.csv",
    content: csv("text,label", "ok,1", "fine,2", '"never closed,3', "more,4"),
    options: regression,
    message: /Row 4: a field opens a double quote that is never closed/,
    row: 4,
  },
  {
    name: "a row with too many fields",
    file: "wide.csv",
    content: csv("text,label", "ok,1", "a, b, and c,2", "fine,3"),
    options: regression,
    message: /Row 3 has 4 fields, but the header has 2 columns\. Put double quotes around any field that contains ","/,
    row: 3,
    problems: 1,
  },
  {
    name: "a row with too few fields (counted as a spreadsheet would, blank line included)",
    file: "narrow.csv",
    content: csv("text,label", "ok,1", "", "lonely", "fine,3"),
    options: regression,
    message: /Row 4 has 1 field, but the header has 2 columns/,
    row: 4,
  },
  {
    name: "TSV row with an extra tab",
    file: "extra.tsv",
    content: csv("text\tlabel", "ok\t1", "a\ttab\t2"),
    options: regression,
    message: /Row 3 has 3 fields.*contains a tab/,
    row: 3,
  },
  {
    name: "header but no data",
    file: "header-only.csv",
    content: csv("text,label"),
    options: regression,
    message: /header row but no data rows/,
  },
  { name: "only blank lines", file: "blank.csv", content: "\n\n\n", options: regression, message: /only blank lines/ },
  {
    name: "duplicate column names",
    file: "dupcols.csv",
    content: csv("text,label,label", "a,1,2", "b,3,4"),
    options: regression,
    message: /Column name "label" appears 2 times in the header \(columns 2, 3\)/,
  },
  {
    name: "malformed JSON line",
    file: "bad.jsonl",
    content: csv('{"text": "a", "label": 1}', '{"text": "b", "label": 2}', '{"text": "c", "label": 3'),
    options: regression,
    message: /Line 3 is not valid JSON/,
    row: 3,
    problems: 1,
  },
  {
    name: "JSONL line that is an array",
    file: "array-line.jsonl",
    content: csv('{"text": "a", "label": 1}', '["b", 2]', '{"text": "c", "label": 3}'),
    options: regression,
    message: /Line 2 is an array, not a JSON object/,
    row: 2,
  },
  {
    name: "JSONL line that is a bare string",
    file: "string-line.jsonl",
    content: csv('{"text": "a", "label": 1}', "", '"just text"'),
    options: regression,
    message: /Line 3 is a string, not a JSON object/,
    row: 3,
  },
  {
    name: "a JSON array saved as .jsonl",
    file: "array.jsonl",
    content: csv("[", '  {"text": "a", "label": 1},', '  {"text": "b", "label": 2}', "]"),
    options: regression,
    message: /one JSON array, not JSON Lines/,
  },
  {
    name: "text that is not Parquet",
    file: "fake.parquet",
    content: "text,label\nhello,1\n",
    options: regression,
    message: /cannot be read as Parquet/,
  },
  {
    name: "truncated Parquet",
    file: "truncated.parquet",
    content: validParquet().subarray(0, 40),
    options: regression,
    message: /cannot be read as Parquet .*damaged or truncated/,
  },
  {
    name: "mapped column missing from a CSV (columns listed, close match suggested)",
    file: "nocol.csv",
    content: csv("Text,Label", "a,1", "b,2"),
    options: regression,
    message: /The text column "text" is not in the file\. Available columns: "Text", "Label"\. Did you mean "Text"\?/,
  },
  {
    name: "mapped column missing from JSONL (one problem, not one per line)",
    file: "nocol.jsonl",
    content: csv('{"text": "a", "score": 1}', '{"text": "b", "score": 2}', '{"text": "c", "score": 3}'),
    options: regression,
    message: /The label column "label" is not in the file\. Available columns: "text", "score"/,
    problems: 1,
  },
  {
    name: "mapped column missing from Parquet",
    file: "nocol.parquet",
    content: validParquet(),
    options: regression,
    message: /The text column "text" is not in the file\. Available columns: "sentence", "y"/,
  },
  {
    name: "semicolon-separated file read as CSV",
    file: "semicolons.csv",
    content: csv("text;label", "a;1", "b;2"),
    options: regression,
    message: /not in the file\. Available columns: "text;label"\. The header looks separated by ";"/,
  },
  {
    name: "label column empty in every row",
    file: "nolabels.csv",
    content: csv("text,label", "a,", "b,", "c,"),
    options: regression,
    message: /The label column "label" is empty in every row/,
    problems: 1,
  },
  {
    name: "empty text",
    file: "emptytext.csv",
    content: csv("text,label", "a,1", ",2", "c,3"),
    options: regression,
    message: /Row 3: the text \(column "text"\) is empty/,
    row: 3,
  },
  {
    name: "whitespace-only text",
    file: "spaces.csv",
    content: csv("text,label", "a,1", "b,2", '"   ",3'),
    options: regression,
    message: /Row 4: the text \(column "text"\) contains only whitespace/,
    row: 4,
  },
  {
    name: "non-numeric regression label",
    file: "textlabel.csv",
    content: csv("text,label", "a,high", "b,2"),
    options: regression,
    message: /Row 2: the label \(column "label"\) is "high", which is not a number\. Regression needs/,
    row: 2,
  },
  {
    name: "NaN label",
    file: "nan.csv",
    content: csv("text,label", "a,1", "b,NaN"),
    options: regression,
    message: /Row 3: the label \(column "label"\) is "NaN", which is not a number/,
    row: 3,
  },
  {
    name: "infinite label in CSV",
    file: "inf.csv",
    content: csv("text,label", "a,1", "b,-inf"),
    options: regression,
    message: /Row 3: the label \(column "label"\) is "-inf", which is infinite/,
  },
  {
    name: "infinite label in JSONL (a number too large for a double)",
    file: "inf.jsonl",
    content: csv('{"text": "a", "label": 1}', '{"text": "b", "label": 1e999}'),
    options: regression,
    message: /Line 2: the label \(column "label"\) is Infinity, which is infinite/,
    row: 2,
  },
  {
    name: "decimal comma",
    file: "comma.csv",
    content: csv("text,label", 'a,"3,5"', "b,2"),
    options: regression,
    message: /is "3,5", which uses a comma as the decimal separator; write 3\.5/,
  },
  {
    name: "missing label",
    file: "nolabel.csv",
    content: csv("text,label", "a,1", "b,", "c,3"),
    options: classification,
    message: /Row 3: the label \(column "label"\) is missing\. Every row needs a label/,
    row: 3,
  },
  {
    name: "classification with a single class",
    file: "oneclass.csv",
    content: csv("text,label", "a,pos", "b,pos", "c, pos"),
    options: classification,
    message: /Classification needs at least 2 different labels, but every row of column "label" has the label "pos"/,
  },
  {
    name: "constant regression label",
    file: "constant.csv",
    content: csv("text,label", "a,2", "b,2.0", "c,2"),
    options: regression,
    message: /Every label in column "label" is 2; a constant label leaves nothing to learn/,
  },
  {
    name: "duplicate ids",
    file: "dupids.csv",
    content: csv("id,text,label", "a,x,1", "b,y,2", "a,z,3"),
    options: { ...regression, mapping: { text: "text", label: "label", id: "id" } },
    message: /Row 4: id "a" \(column "id"\) already appeared in row 2\. Ids must be unique/,
    row: 4,
  },
  {
    name: "negative weight",
    file: "negweight.csv",
    content: csv("text,label,w", "a,1,1", "b,2,-1"),
    options: { ...regression, mapping: { text: "text", label: "label", weight: "w" } },
    message: /Row 3: the weight \(column "w"\) is -1, a negative number/,
  },
  {
    name: "non-numeric weight",
    file: "textweight.csv",
    content: csv("text,label,w", "a,1,heavy", "b,2,1"),
    options: { ...regression, mapping: { text: "text", label: "label", weight: "w" } },
    message:
      /Row 2: the weight \(column "w"\) is "heavy", which is not a number\. Weights must be numbers of 0 or more/,
  },
  {
    name: "empty group",
    file: "nogroup.csv",
    content: csv("text,label,g", "a,1,x", "b,2,"),
    options: { ...regression, mapping: { text: "text", label: "label", group: "g" } },
    message: /Row 3: the group \(column "g"\) is empty/,
  },
  {
    name: "too few rows for k folds",
    file: "few.csv",
    content: csv("text,label", "a,1", "b,2", "c,3", "d,4"),
    options: { ...regression, folds: 5 },
    message: /has 4 usable rows, but 5-fold cross-validation needs at least 2 rows per fold \(10 rows\)/,
  },
  {
    name: "fewer rows than minRows",
    file: "min.csv",
    content: csv("text,label", "a,1", "b,2"),
    options: { ...regression, minRows: 3 },
    message: /has 2 usable rows; at least 3 are needed/,
  },
  {
    name: "more rows than maxRows",
    file: "many.csv",
    content: csv("text,label", "a,1", "b,2", "c,3", "d,4", "e,5"),
    options: { ...regression, maxRows: 3 },
    message: /more than 3 rows, the most this import accepts/,
  },
  {
    name: "one column mapped to two roles",
    file: "tworoles.csv",
    content: csv("text,label", "a,1", "b,2"),
    options: { mapping: { text: "text", label: "text" }, task: "classification" },
    message: /Column "text" is mapped as both text and label/,
  },
  {
    name: "an Excel workbook",
    file: "book.xlsx",
    content: "PK\u0003\u0004 pretend zip",
    options: regression,
    message: /Excel workbooks cannot be imported directly/,
  },
  {
    name: "an Excel workbook renamed to .csv",
    file: "book.csv",
    content: "PK\u0003\u0004 pretend zip",
    options: regression,
    message: /ZIP archive, probably an Excel workbook/,
  },
  {
    name: "UTF-16 without a byte-order mark",
    file: "nobom16.csv",
    content: Buffer.from(csv("text,label", "hello,1"), "utf16le"),
    options: regression,
    message: /contains NUL bytes/,
  },
  {
    name: "unknown extension",
    file: "data.txt",
    content: csv("text,label", "a,1"),
    options: regression,
    message: /Unknown file type "\.txt"/,
  },
  {
    name: "an empty column name in the mapping",
    file: "mapping.csv",
    content: csv("text,label", "a,1"),
    options: { mapping: { text: "", label: "label" }, task: "regression" },
    message: /Import setting "mapping\.text" is invalid: a column name cannot be empty/,
  },
];

/** Checks of the import alone: its options, and whole-dataset checks (the engine has its own). */
const importOnly = new Set([
  "classification with a single class",
  "constant regression label",
  "an empty column name in the mapping",
]);

describe("malformed files are refused with one clear message each, leaving nothing behind", () => {
  before(() => {
    mkdirSync(join(scratch.dir, "folder.csv"));
  });

  for (const c of cases) {
    test(c.name, async () => {
      const path = c.content === undefined ? join(scratch.dir, c.file) : writeFixture(scratch.dir, c.file, c.content);
      const options = { ...regression, ...c.options, path } as ImportOptions;
      const err = await importDataset(store, options).then(
        () => assert.fail("the import should have failed"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof DatasetError, `expected a DatasetError, got ${String(err)}`);
      assert.match(err.message, c.message);
      assert.ok(err.problems.length > 0);
      assert.ok(
        err.problems.some((p) => c.message.test(p.message)),
        "the matching text should be one problem's own message",
      );
      if (c.row !== undefined) assert.equal(err.problems[0]?.row, c.row);
      if (c.problems !== undefined) assert.equal(err.problems.length + err.more, c.problems);
      await assertStoreEmpty(store);
      // An experiment's data file (`ftune train`, ablations) is read and validated by the same
      // code: the same file fails with the same message.
      const plainOptions = Object.keys(c.options ?? {}).every((k) => k === "mapping" || k === "task");
      if (plainOptions && !importOnly.has(c.name)) {
        const asData = await readLabelledFile(path, options.mapping, options.task).catch((e: unknown) => e);
        assert.ok(asData instanceof DatasetError, "the experiment's data path accepted the file");
        assert.equal(asData.message, err.message);
      }
    });
  }

  test("many bad rows: the first 20 listed in row order, the rest counted", async () => {
    const lines = [
      "text,label",
      ...Array.from({ length: 35 }, (_, i) => (i % 7 === 3 ? `ok ${i},${i}` : `bad ${i},x${i}`)),
    ];
    const path = writeFixture(scratch.dir, "manybad.csv", csv(...lines));
    const err = await importDataset(store, { ...regression, path }).catch((e: unknown) => e);
    assert.ok(err instanceof DatasetError);
    assert.equal(err.problems.length, MAX_LISTED);
    assert.equal(err.more, 30 - MAX_LISTED);
    assert.match(err.message, /\(30 problems\)/);
    assert.match(err.message, /…and 10 more problems\./);
    assert.match(err.message, /the header is row 1, the first data row is row 2/);
    const rows = err.problems.map((p) => p.row ?? 0);
    assert.deepEqual(
      rows,
      [...rows].sort((a, b) => a - b),
    );
    assert.equal(rows[0], 2);
    await assertStoreEmpty(store);
  });

  test("problems in different columns are all reported together", async () => {
    const path = writeFixture(scratch.dir, "mixed.csv", csv("id,text,label,w", "1,a,1,1", "1,,x,-2", "2,b,2,1"));
    const err = await importDataset(store, {
      path,
      task: "regression",
      mapping: { text: "text", label: "label", id: "id", weight: "w" },
    }).catch((e: unknown) => e);
    assert.ok(err instanceof DatasetError);
    assert.deepEqual(
      err.problems.map((p) => [p.row, p.column]),
      [
        [3, "text"],
        [3, "label"],
        [3, "id"],
        [3, "w"],
      ],
    );
    await assertStoreEmpty(store);
  });

  test("a file read problem found after rows were inserted still rolls everything back", async () => {
    // ~2.5 MB of good rows (read in 1 MiB pieces, so many batches are inserted) before a bad byte.
    const good = `text,label\n${Array.from({ length: 150_000 }, (_, i) => `text ${i},${i}\n`).join("")}`;
    const path = writeFixture(
      scratch.dir,
      "late-bad.csv",
      Buffer.concat([Buffer.from(good), Buffer.from([0xff, 0x0a])]),
    );
    // Count row INSERTs to be sure rows really were written before the failure.
    const prepare = store.prepare.bind(store);
    let rowInserts = 0;
    store.prepare = (sql: string) => {
      if (sql.startsWith("INSERT INTO dataset_rows")) rowInserts++;
      return prepare(sql);
    };
    try {
      await assert.rejects(importDataset(store, { ...regression, path, batchSize: 1000 }), /not valid UTF-8/);
    } finally {
      store.prepare = prepare;
    }
    assert.ok(rowInserts > 10, `expected rows to be inserted before the bad byte, saw ${rowInserts} inserts`);
    await assertStoreEmpty(store);
  });
});
