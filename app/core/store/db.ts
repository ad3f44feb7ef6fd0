// Promise wrapper over one sqlite3 connection. Every statement goes through one queue, so a
// transaction owns the connection until it ends: statements issued elsewhere wait instead of
// landing inside someone else's transaction. Code running inside a transaction (tracked with
// AsyncLocalStorage) bypasses the queue, so calling the store from a transaction callback joins
// that transaction rather than deadlocking on it.
import { AsyncLocalStorage } from "node:async_hooks";
import sqlite3 from "sqlite3";

export type SqlValue = string | number | bigint | null | Buffer;
export type Params = readonly SqlValue[] | Readonly<Record<string, SqlValue>>;

export interface RunResult {
  lastID: number;
  changes: number;
}

/** What repositories need: plain statements and transactions. `Db` and transaction handles both satisfy it. */
export interface Queryable {
  run(sql: string, params?: Params): Promise<RunResult>;
  get<T>(sql: string, params?: Params): Promise<T | undefined>;
  all<T>(sql: string, params?: Params): Promise<T[]>;
  exec(sql: string): Promise<void>;
  prepare(sql: string): Promise<Statement>;
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
}

export interface DbOptions {
  /** How long a statement waits for another connection's lock before failing with SQLITE_BUSY. */
  busyTimeoutMs?: number;
}

/** A prepared statement; reuse it for many rows, then `finalize()`. */
export class Statement {
  readonly #stmt: sqlite3.Statement;
  readonly #serial: Serial;

  constructor(stmt: sqlite3.Statement, serial: Serial) {
    this.#stmt = stmt;
    this.#serial = serial;
  }

  run(params: Params = []): Promise<RunResult> {
    return this.#serial(
      () =>
        new Promise((resolve, reject) => {
          this.#stmt.run(params, function (this: sqlite3.RunResult, err: Error | null) {
            if (err) reject(err);
            else resolve({ lastID: this.lastID, changes: this.changes });
          });
        }),
    );
  }

  finalize(): Promise<void> {
    return this.#serial(
      () =>
        new Promise((resolve, reject) => this.#stmt.finalize((err?: Error | null) => (err ? reject(err) : resolve()))),
    );
  }
}

/** A data-changing statement that returns rows (see `Db.get`). */
const RETURNING = /\bRETURNING\b/i;

type Serial = <T>(op: () => Promise<T>) => Promise<T>;

export class Db implements Queryable {
  readonly #conn: sqlite3.Database;
  readonly #inTx = new AsyncLocalStorage<{ depth: number }>();
  #queue: Promise<unknown> = Promise.resolve();
  #savepoints = 0;
  /** The database file this connection opened. */
  readonly file: string;

  private constructor(conn: sqlite3.Database, file: string) {
    this.#conn = conn;
    this.file = file;
  }

  /** Opens (creating if needed) a database file with WAL, foreign keys and a busy timeout. */
  static async open(file: string, options: DbOptions = {}): Promise<Db> {
    const conn = await new Promise<sqlite3.Database>((resolve, reject) => {
      const c = new sqlite3.Database(file, sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE, (err) =>
        err ? reject(err) : resolve(c),
      );
    });
    const db = new Db(conn, file);
    const busy = options.busyTimeoutMs ?? 5000;
    conn.configure("busyTimeout", busy);
    try {
      // WAL lets readers (the UI) run while a training run writes metrics; NORMAL sync keeps every
      // committed transaction across a process crash (only an OS crash can lose the last few).
      await db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;`);
      await db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(busy))};`);
    } catch (err) {
      await db.close().catch(() => {});
      throw err;
    }
    return db;
  }

  run(sql: string, params: Params = []): Promise<RunResult> {
    return this.#serial(
      () =>
        new Promise((resolve, reject) => {
          this.#conn.run(sql, params, function (this: sqlite3.RunResult, err: Error | null) {
            if (err) reject(err);
            else resolve({ lastID: this.lastID, changes: this.changes });
          });
        }),
    );
  }

  /**
   * The first row. A write with `RETURNING` is stepped to its end instead: sqlite3's `get` stops
   * at the first row and ignores what finishing the statement reports, so a write that fails
   * there (SQLITE_FULL when the change is committed) would come back as the new row.
   */
  get<T>(sql: string, params: Params = []): Promise<T | undefined> {
    if (RETURNING.test(sql)) return this.all<T>(sql, params).then((rows) => rows[0]);
    return this.#serial(
      () =>
        new Promise((resolve, reject) => {
          this.#conn.get<T>(sql, params, (err: Error | null, row: T) => (err ? reject(err) : resolve(row)));
        }),
    );
  }

  all<T>(sql: string, params: Params = []): Promise<T[]> {
    return this.#serial(
      () =>
        new Promise((resolve, reject) => {
          this.#conn.all<T>(sql, params, (err: Error | null, rows: T[]) => (err ? reject(err) : resolve(rows)));
        }),
    );
  }

  /** Runs one or more statements without parameters (schema, pragmas). */
  exec(sql: string): Promise<void> {
    return this.#serial(
      () => new Promise((resolve, reject) => this.#conn.exec(sql, (err) => (err ? reject(err) : resolve()))),
    );
  }

  prepare(sql: string): Promise<Statement> {
    return this.#serial(
      () =>
        new Promise((resolve, reject) => {
          const stmt = this.#conn.prepare(sql, (err) =>
            err ? reject(err) : resolve(new Statement(stmt, (op) => this.#serial(op))),
          );
        }),
    );
  }

  /**
   * Runs `fn` in a transaction: committed when it resolves, rolled back when it throws (the error
   * is rethrown). Nested calls become savepoints, so an inner failure can be caught by the outer.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const ctx = this.#inTx.getStore();
    if (ctx) return this.#savepoint(ctx.depth, fn);
    return this.#serial(async () => {
      await this.#raw("BEGIN IMMEDIATE");
      try {
        const result = await this.#inTx.run({ depth: 1 }, () => fn(this));
        await this.#raw("COMMIT");
        return result;
      } catch (err) {
        await this.#raw("ROLLBACK").catch(() => {});
        throw err;
      }
    });
  }

  close(): Promise<void> {
    return this.#serial(
      () => new Promise<void>((resolve, reject) => this.#conn.close((err) => (err ? reject(err) : resolve()))),
    );
  }

  async #savepoint<T>(depth: number, fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const name = `sp_${++this.#savepoints}`;
    await this.#raw(`SAVEPOINT ${name}`);
    try {
      const result = await this.#inTx.run({ depth: depth + 1 }, () => fn(this));
      await this.#raw(`RELEASE ${name}`);
      return result;
    } catch (err) {
      await this.#raw(`ROLLBACK TO ${name}`).catch(() => {});
      await this.#raw(`RELEASE ${name}`).catch(() => {});
      throw err;
    }
  }

  #raw(sql: string): Promise<void> {
    return new Promise((resolve, reject) => this.#conn.exec(sql, (err) => (err ? reject(err) : resolve())));
  }

  /** Queues `op` behind earlier work, unless we are already inside the transaction that owns the queue. */
  #serial<T>(op: () => Promise<T>): Promise<T> {
    if (this.#inTx.getStore()) return op();
    const result = this.#queue.then(op);
    this.#queue = result.catch(() => {});
    return result;
  }
}
