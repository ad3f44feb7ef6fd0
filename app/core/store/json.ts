// JSON columns: written with JSON.stringify, read back through here so a hand-edited or
// truncated value fails with the table and column named instead of a bare SyntaxError.
export function parseJsonColumn<T>(value: string | null, where: string): T | null {
  if (value === null) return null;
  try {
    return JSON.parse(value) as T;
  } catch (err) {
    throw new Error(`Corrupt JSON in ${where}: ${(err as Error).message}`);
  }
}
