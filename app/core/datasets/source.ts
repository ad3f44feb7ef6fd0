// Opening a data file: everything we can say about it before parsing (exists, readable, size,
// format, encoding), and the UTF-8 text stream the CSV and JSONL readers parse.
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import { extname } from "node:path";

import type { DatasetFormat } from "../store/types.ts";
import { fail } from "./errors.ts";

const EXTENSIONS: Record<string, DatasetFormat> = {
  ".csv": "csv",
  ".tsv": "tsv",
  ".tab": "tsv",
  ".jsonl": "jsonl",
  ".ndjson": "jsonl",
  ".parquet": "parquet",
  ".pq": "parquet",
};

const SAVE_AS_UTF8 =
  'Save it again as UTF-8 (in Excel: Save As → "CSV UTF-8"; in a text editor: choose the UTF-8 encoding).';

export function formatFromPath(path: string): DatasetFormat {
  const ext = extname(path).toLowerCase();
  const format = EXTENSIONS[ext];
  if (format) return format;
  if (ext === ".xlsx" || ext === ".xls") {
    fail(
      path,
      'Excel workbooks cannot be imported directly. In Excel, use Save As → "CSV UTF-8" and import the .csv file.',
    );
  }
  if (ext === ".json") {
    fail(
      path,
      "Plain .json files are not supported; save the records as JSON Lines (.jsonl), one JSON object per line.",
    );
  }
  fail(
    path,
    `Unknown file type "${ext || "(no extension)"}". Supported: .csv, .tsv, .jsonl and .parquet; rename the file or choose the format explicitly.`,
  );
}

export function formatBytes(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

function fileErrorMessage(err: NodeJS.ErrnoException, path: string): string {
  switch (err.code) {
    case "ENOENT":
      return `File not found: ${path}. Check the path and that the file was not moved or renamed.`;
    case "ENOTDIR":
      return `File not found: ${path} (a folder on that path is a file). Check the path.`;
    case "EACCES":
    case "EPERM":
      return `Permission denied reading ${path}. Allow your user to read the file (or copy it somewhere you own).`;
    case "EISDIR":
      return `${path} is a folder, not a file. Choose the data file inside it.`;
    default:
      return `Cannot read ${path}: ${err.message}.`;
  }
}

/**
 * Checks the file before any parsing; throws a DatasetError naming the single problem. The size
 * is checked from metadata, so a file over the limit is never read.
 */
export async function checkFile(path: string, format: DatasetFormat, maxBytes: number): Promise<void> {
  let size: number;
  try {
    const info = await stat(path);
    if (info.isDirectory()) fail(path, `${path} is a folder, not a file. Choose the data file inside it.`);
    if (!info.isFile()) fail(path, `${path} is not a regular file.`);
    size = info.size;
  } catch (err) {
    if ((err as Error).name === "DatasetError") throw err;
    fail(path, fileErrorMessage(err as NodeJS.ErrnoException, path));
  }
  if (size === 0) fail(path, "The file is empty (0 bytes). Choose the file that holds your data, or export it again.");
  if (size > maxBytes) {
    fail(
      path,
      `The file is ${formatBytes(size)}, over the import limit of ${formatBytes(maxBytes)}. Split it into smaller files, or raise the limit (maxFileBytes).`,
    );
  }
  const head = Buffer.alloc(Math.min(size, 4096));
  try {
    const fh = await open(path, "r");
    try {
      await fh.read(head, 0, head.length, 0);
    } finally {
      await fh.close();
    }
  } catch (err) {
    fail(path, fileErrorMessage(err as NodeJS.ErrnoException, path));
  }
  if (format !== "parquet") checkTextHead(path, head);
}

function checkTextHead(path: string, head: Buffer): void {
  const starts = (...bytes: number[]) => bytes.every((b, i) => head[i] === b);
  if (starts(0xff, 0xfe, 0x00, 0x00) || starts(0x00, 0x00, 0xfe, 0xff)) {
    fail(path, `The file is saved as UTF-32 (it starts with a UTF-32 byte-order mark). ${SAVE_AS_UTF8}`);
  }
  if (starts(0xff, 0xfe) || starts(0xfe, 0xff)) {
    fail(path, `The file is saved as UTF-16 (it starts with a UTF-16 byte-order mark). ${SAVE_AS_UTF8}`);
  }
  if (starts(0x50, 0x4b, 0x03, 0x04)) {
    fail(path, 'The file is a ZIP archive, probably an Excel workbook. In Excel, use Save As → "CSV UTF-8".');
  }
  if (starts(0x50, 0x41, 0x52, 0x31)) {
    fail(path, "The file is a Parquet file, not text. Rename it to .parquet or choose the Parquet format.");
  }
  if (head.includes(0)) {
    fail(path, `The file contains NUL bytes: it is binary, or UTF-16 without a byte-order mark. ${SAVE_AS_UTF8}`);
  }
}

function countNewlines(text: string, end = text.length): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < end; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

/**
 * Streams the file as UTF-8 text in ~1 MiB pieces. A UTF-8 byte-order mark is dropped; any
 * invalid byte sequence throws a DatasetError naming the line it is on.
 */
export async function* utf8Text(path: string): AsyncGenerator<string> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  let line = 1;
  function invalid(atLine: number): never {
    fail(
      path,
      `The file is not valid UTF-8 text (the first invalid byte is on line ${atLine}). It was probably saved in another encoding such as Windows-1252 or Latin-1. ${SAVE_AS_UTF8}`,
    );
  }
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let text: string;
      try {
        text = decoder.decode(chunk, { stream: true });
      } catch {
        // Decode leniently to find where the replacement character lands.
        const lenient = new TextDecoder().decode(chunk);
        invalid(line + countNewlines(lenient, Math.max(0, lenient.indexOf("\uFFFD"))));
      }
      line += countNewlines(text);
      yield text;
    }
    let tail: string;
    try {
      tail = decoder.decode();
    } catch {
      invalid(line); // the file ends inside a multi-byte character
    }
    if (tail) yield tail;
  } finally {
    stream.destroy();
  }
}
