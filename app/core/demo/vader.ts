// The demo's data: the VADER sentiment lexicon (npm package vader-sentiment), ~7,500 English
// words, emoticons and slang, each with the mean valence (-4 to 4) ten human raters gave it.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { stringify } from "csv-stringify/sync";

export interface LexiconEntry {
  token: string;
  valence: number;
}

export function lexiconPath(): string {
  return join(dirname(createRequire(import.meta.url).resolve("vader-sentiment/package.json")), "vader_lexicon.txt");
}

/** Every entry of the lexicon (TSV: token, mean valence, std, raw ratings; no header). */
export function readLexicon(path = lexiconPath()): LexiconEntry[] {
  const entries: LexiconEntry[] = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const [token, mean] = line.split("\t");
    const valence = Number(mean);
    if (token && mean !== undefined && Number.isFinite(valence)) entries.push({ token, valence });
  }
  return entries;
}

/** `rows` entries spread evenly over the (alphabetical) lexicon: the same ones every time. */
export function subsample<T>(entries: T[], rows: number): T[] {
  if (rows >= entries.length) return entries;
  return Array.from({ length: rows }, (_, i) => entries[Math.floor((i * entries.length) / rows)] as T);
}

/** Writes the entries as a CSV with columns token,valence. */
export function writeLexiconCsv(path: string, entries: LexiconEntry[]): void {
  writeFileSync(
    path,
    stringify(
      entries.map((e) => [e.token, e.valence]),
      { header: true, columns: ["token", "valence"] },
    ),
  );
}
