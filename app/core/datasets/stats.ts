// Dataset statistics, accumulated row by row while the file streams: labels and lengths go into
// growing typed arrays (8 bytes a row), so 1M rows cost ~16 MB, not the rows themselves.
import type {
  ClassificationLabelStats,
  DatasetStats,
  LengthStats,
  RegressionLabelStats,
  Task,
  TokenLengthStats,
} from "../store/types.ts";
import type { ValidRow } from "./validate.ts";

export const DEFAULT_HISTOGRAM_BINS = 20;
export const DEFAULT_MAX_LENGTH = 512;

class Floats {
  #buf = new Float64Array(1024);
  #n = 0;

  push(v: number): void {
    if (this.#n === this.#buf.length) {
      const bigger = new Float64Array(this.#buf.length * 2);
      bigger.set(this.#buf);
      this.#buf = bigger;
    }
    this.#buf[this.#n++] = v;
  }

  get length(): number {
    return this.#n;
  }

  values(): Float64Array {
    return this.#buf.subarray(0, this.#n);
  }
}

/** Length in Unicode characters (code points), so an emoji counts once. */
export function charCount(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff && i > 0) {
      const prev = s.charCodeAt(i - 1);
      if (prev >= 0xd800 && prev <= 0xdbff) n--;
    }
  }
  return n;
}

/** Nearest-rank percentile of an ascending array: the smallest value with at least p of the data at or below it. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1] as number;
}

export function lengthStats(values: Float64Array): LengthStats {
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    min: sorted[0] ?? 0,
    mean: sorted.length ? sum / sorted.length : 0,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? 0,
  };
}

/** Mean, population std, range and an equal-width histogram; the last bin is closed so it holds the max. */
export function regressionStats(labels: Float64Array, bins = DEFAULT_HISTOGRAM_BINS): RegressionLabelStats {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (const v of labels) {
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  const n = labels.length;
  const mean = n ? sum / n : Number.NaN;
  let sq = 0;
  for (const v of labels) sq += (v - mean) ** 2;
  const std = n ? Math.sqrt(sq / n) : Number.NaN;

  const width = max - min;
  const binCount = width > 0 ? bins : 1; // all labels equal: one bin holding them all
  const edges = Array.from({ length: binCount + 1 }, (_, i) => (i === binCount ? max : min + (width * i) / binCount));
  const counts = new Array<number>(binCount).fill(0);
  for (const v of labels) {
    const b = width > 0 ? Math.min(binCount - 1, Math.floor(((v - min) / width) * binCount)) : 0;
    counts[b] = (counts[b] ?? 0) + 1;
  }
  return { kind: "regression", mean, std, min, max, histogram: { edges, counts } };
}

export class StatsCollector {
  readonly #task: Task;
  readonly #bins: number;
  readonly #labels = new Floats();
  readonly #classes = new Map<string, number>();
  readonly #textChars = new Floats();
  readonly #pairChars = new Floats();
  readonly #tokens = new Floats();
  readonly #groups = new Set<string>();
  #hasPair = false;
  #hasGroup = false;
  #rows = 0;

  constructor(task: Task, options: { histogramBins?: number } = {}) {
    this.#task = task;
    this.#bins = Math.max(1, Math.floor(options.histogramBins ?? DEFAULT_HISTOGRAM_BINS));
  }

  get rows(): number {
    return this.#rows;
  }

  /** Class name → count, for classification. */
  get classes(): ReadonlyMap<string, number> {
    return this.#classes;
  }

  add(row: ValidRow): void {
    this.#rows++;
    this.#textChars.push(charCount(row.text));
    if (row.textPair !== null) {
      this.#hasPair = true;
      this.#pairChars.push(charCount(row.textPair));
    }
    if (row.group !== null) {
      this.#hasGroup = true;
      this.#groups.add(row.group);
    }
    if (this.#task === "regression") this.#labels.push(row.label as number);
    else this.#classes.set(String(row.label), (this.#classes.get(String(row.label)) ?? 0) + 1);
  }

  addTokenLengths(lengths: readonly number[]): void {
    for (const n of lengths) this.#tokens.push(n);
  }

  labelStats(): RegressionLabelStats | ClassificationLabelStats {
    if (this.#task === "regression") return regressionStats(this.#labels.values(), this.#bins);
    const classes = [...this.#classes]
      .map(([label, count]) => ({ label, count }))
      .sort((a, b) => b.count - a.count || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
    return { kind: "classification", classes };
  }

  finish(maxLength = DEFAULT_MAX_LENGTH): DatasetStats {
    const stats: DatasetStats = {
      rows: this.#rows,
      textChars: lengthStats(this.#textChars.values()),
      label: this.labelStats(),
    };
    if (this.#hasPair) stats.textPairChars = lengthStats(this.#pairChars.values());
    if (this.#hasGroup) stats.groups = this.#groups.size;
    if (this.#tokens.length > 0) {
      const tokens = this.#tokens.values();
      let over = 0;
      for (const n of tokens) if (n > maxLength) over++;
      const t: TokenLengthStats = {
        ...lengthStats(tokens),
        maxLength,
        overMaxLength: over,
        overMaxLengthShare: over / tokens.length,
      };
      stats.tokens = t;
    }
    return stats;
  }
}
