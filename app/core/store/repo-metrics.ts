// Training metrics. A run logs many points per second, so points are buffered and written in
// batches: one transaction per flush() keeps the write rate and fsync count low, and a point is
// durable exactly when the flush() that covers it has resolved.
import { insertMany } from "./bulk.ts";
import type { Queryable, SqlValue } from "./db.ts";

export interface MetricPoint {
  step: number;
  epoch?: number | null;
  /** e.g. "train", "valid". */
  split: string;
  name: string;
  /** NaN is stored as NULL and read back as null. */
  value: number | null;
}

export interface StoredMetric extends MetricPoint {
  epoch: number | null;
}

const COLUMNS = ["run_id", "step", "epoch", "split", "name", "value"] as const;

export class MetricsWriter {
  readonly #db: Queryable;
  readonly #runId: number;
  readonly #autoFlushAt: number;
  #buffer: MetricPoint[] = [];
  #chain: Promise<unknown> = Promise.resolve();
  #lastError: unknown;

  /** `autoFlushAt`: start a background flush once this many points are buffered (bounds memory). */
  constructor(db: Queryable, runId: number, options: { autoFlushAt?: number } = {}) {
    this.#db = db;
    this.#runId = runId;
    this.#autoFlushAt = options.autoFlushAt ?? 1000;
  }

  get pending(): number {
    return this.#buffer.length;
  }

  append(points: MetricPoint | readonly MetricPoint[]): void {
    if (Array.isArray(points)) this.#buffer.push(...points);
    else this.#buffer.push(points as MetricPoint);
    if (this.#buffer.length >= this.#autoFlushAt) {
      // A failed background flush puts its points back; the next flush() retries and reports.
      this.flush().catch((err) => {
        this.#lastError = err;
      });
    }
  }

  /** Writes everything appended so far in one transaction; resolves with the number of points written. */
  flush(): Promise<number> {
    const batch = this.#buffer;
    this.#buffer = [];
    const done = this.#chain.then(async () => {
      if (batch.length === 0) return 0;
      const rows = batch.map((p): SqlValue[] => [
        this.#runId,
        p.step,
        p.epoch ?? null,
        p.split,
        p.name,
        p.value === null || Number.isNaN(p.value) ? null : p.value,
      ]);
      try {
        await insertMany(this.#db, "metrics", COLUMNS, rows);
      } catch (err) {
        this.#buffer = batch.concat(this.#buffer);
        throw err;
      }
      this.#lastError = undefined;
      return batch.length;
    });
    this.#chain = done.catch(() => {});
    return done;
  }

  /** Flushes what is left. Rethrows the error of a failed background flush if nothing fixed it since. */
  async close(): Promise<void> {
    await this.flush();
    if (this.#lastError !== undefined) throw this.#lastError;
  }
}

/** Points of one run in step order (insertion order within a step), optionally filtered. */
export async function queryMetrics(
  db: Queryable,
  runId: number,
  filter: { name?: string; split?: string; afterStep?: number } = {},
): Promise<StoredMetric[]> {
  const where = ["run_id = ?"];
  const params: SqlValue[] = [runId];
  if (filter.name !== undefined) {
    where.push("name = ?");
    params.push(filter.name);
  }
  if (filter.split !== undefined) {
    where.push("split = ?");
    params.push(filter.split);
  }
  if (filter.afterStep !== undefined) {
    where.push("step > ?");
    params.push(filter.afterStep);
  }
  return db.all<StoredMetric>(
    `SELECT step, epoch, split, name, value FROM metrics WHERE ${where.join(" AND ")} ORDER BY step, rowid`,
    params,
  );
}

/** The (split, name) series a run has logged, for building charts. */
export async function metricSeries(db: Queryable, runId: number): Promise<{ split: string; name: string }[]> {
  return db.all("SELECT DISTINCT split, name FROM metrics WHERE run_id = ? ORDER BY split, name", [runId]);
}

/** Drops a run's points after `step`: a resumed run logs those steps again. */
export async function deleteMetricsAfter(db: Queryable, runId: number, step: number): Promise<number> {
  const { changes } = await db.run("DELETE FROM metrics WHERE run_id = ? AND step > ?", [runId, step]);
  return changes;
}

/** The last optimizer step a run has logged a train point for. */
export async function lastTrainStep(db: Queryable, runId: number): Promise<number | null> {
  const row = await db.get<{ step: number | null }>(
    "SELECT MAX(step) AS step FROM metrics WHERE run_id = ? AND split = 'train'",
    [runId],
  );
  return row?.step ?? null;
}

/**
 * SWA ran in this run: the engine reported its start (a stored swa_start event), or, for runs
 * recorded before those events were stored, the run has SWA evaluations.
 */
export async function swaStarted(db: Queryable, runId: number): Promise<boolean> {
  const row = await db.get<{ n: number }>(
    `SELECT COUNT(*) AS n FROM metrics WHERE run_id = ?
       AND ((split = 'event' AND name = 'swa_start') OR split = 'valid_swa')`,
    [runId],
  );
  return (row?.n ?? 0) > 0;
}
