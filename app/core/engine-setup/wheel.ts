// Reading a wheel (a zip): its METADATA, and extracting the members the engine needs.
import { createWriteStream, mkdirSync } from "node:fs";
import { dirname, join, normalize, sep } from "node:path";
import { pipeline } from "node:stream/promises";
import yauzl from "yauzl";

type Entry = yauzl.Entry;

function open(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, autoClose: true }, (err, zip) => (err ? reject(err) : resolve(zip))),
  );
}

/** Calls `visit` for every entry, one at a time. */
async function eachEntry(file: string, visit: (zip: yauzl.ZipFile, entry: Entry) => Promise<void>): Promise<void> {
  const zip = await open(file);
  await new Promise<void>((resolve, reject) => {
    zip.on("entry", (entry: Entry) => {
      visit(zip, entry).then(() => zip.readEntry(), reject);
    });
    zip.on("end", resolve);
    zip.on("error", reject);
    zip.readEntry();
  });
}

const stream = (zip: yauzl.ZipFile, entry: Entry) =>
  new Promise<NodeJS.ReadableStream>((resolve, reject) =>
    zip.openReadStream(entry, (err, s) => (err ? reject(err) : resolve(s))),
  );

/** The text of `*.dist-info/METADATA`. */
export async function wheelMetadata(file: string): Promise<string> {
  let text = "";
  await eachEntry(file, async (zip, entry) => {
    if (!/^[^/]+\.dist-info\/METADATA$/.test(entry.fileName)) return;
    // yauzl's streams are classic ones: read them with events (async iteration stalls on them).
    const s = await stream(zip, entry);
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      s.on("data", (chunk: Buffer) => chunks.push(chunk));
      s.on("end", resolve);
      s.on("error", reject);
    });
    text = Buffer.concat(chunks).toString("utf8");
  });
  return text;
}

/** Extracts the entries whose name `keep` accepts into `dir` (never outside it). */
export async function extractWheel(file: string, dir: string, keep: (name: string) => boolean): Promise<number> {
  let count = 0;
  await eachEntry(file, async (zip, entry) => {
    if (entry.fileName.endsWith("/") || !keep(entry.fileName)) return;
    const target = normalize(join(dir, entry.fileName));
    if (!target.startsWith(normalize(dir) + sep))
      throw new Error(`${file} has an entry outside its folder: ${entry.fileName}`);
    mkdirSync(dirname(target), { recursive: true });
    await pipeline(await stream(zip, entry), createWriteStream(target, { mode: 0o755 }));
    count++;
  });
  return count;
}
