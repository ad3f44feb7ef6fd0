// Multi-row INSERTs: one prepared statement binds many rows, so 100k rows cost a few hundred
// round trips to the sqlite thread instead of 100k. All chunks run in one transaction (a
// savepoint when the caller already has one), so a batch lands whole or not at all.
import type { Queryable, SqlValue } from "./db.ts";

// SQLite builds before 3.32 cap bound parameters at 999; staying under it works everywhere.
const MAX_PARAMS = 999;

export async function insertMany(
  db: Queryable,
  table: string,
  columns: readonly string[],
  rows: readonly (readonly SqlValue[])[],
): Promise<void> {
  if (rows.length === 0) return;
  const perStatement = Math.max(1, Math.floor(MAX_PARAMS / columns.length));
  const placeholders = (n: number) => {
    const one = `(${columns.map(() => "?").join(", ")})`;
    return Array.from({ length: n }, () => one).join(", ");
  };
  const sql = (n: number) => `INSERT INTO ${table} (${columns.join(", ")}) VALUES ${placeholders(n)}`;

  await db.transaction(async (tx) => {
    const fullCount = Math.floor(rows.length / perStatement);
    if (fullCount > 0) {
      const stmt = await tx.prepare(sql(perStatement));
      try {
        for (let c = 0; c < fullCount; c++) {
          await stmt.run(rows.slice(c * perStatement, (c + 1) * perStatement).flat());
        }
      } finally {
        await stmt.finalize();
      }
    }
    const rest = rows.slice(fullCount * perStatement);
    if (rest.length > 0) await tx.run(sql(rest.length), rest.flat());
  });
}
