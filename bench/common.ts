// What `npm run bench` (bench/run.ts) and bench/ab.ts share: the texts they train on, the
// training case's settings, and how a figure over repetitions is printed.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "csv-parse/sync";

import { root } from "../scripts/env.mjs";

/** CommonLit excerpts when the shared data is there (long texts: every batch is full length). */
export function texts(): { texts: string[]; targets: number[] } {
  const csv = join(root, "../shared/data/commonlit/train.csv");
  if (existsSync(csv)) {
    const rows = parse(readFileSync(csv), { columns: true }) as { excerpt: string; target: string }[];
    return { texts: rows.map((r) => r.excerpt), targets: rows.map((r) => Number(r.target)) };
  }
  const words = "the reading passage grows harder as the ancient river carries difficult vocabulary".split(" ");
  const t = Array.from({ length: 600 }, (_, i) => Array.from({ length: 300 }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(" "));
  return { texts: t, targets: t.map((_, i) => Math.sin(i)) };
}

/** The optimizer settings of every training case (ours and the references read the same request). */
export const trainSettings = { lr: 2e-5, weight_decay: 0.01, llrd: { mode: "layerwise", top_lr: 3.5e-5, decay: 0.9, head_lr: 1e-4 } };

/** The MiniLM-L6 training case (its model folder resolved by the caller). */
export const miniLmCase = { name: "MiniLM-L6 (bundled)", batch: 16, seq: 128, steps: 16, skip: 3, forward_batches: 8 };

export const fixed = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");
export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
/** "median (min–max)" of one figure over the repetitions. */
export const spread = (xs: number[], d = 2, unit = "") => {
  const s = [...xs].filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? `${fixed(median(s), d)}${unit} (${fixed(s[0] as number, d)}–${fixed(s.at(-1) as number, d)})` : "n/a";
};
