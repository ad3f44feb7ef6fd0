// JSON Lines: one object per line; blank lines are skipped but still counted, so "Line N" is
// the line an editor shows. Columns are the keys in order of first appearance; a key missing
// from a line reads as null there.
import { fail, type ProblemCollector } from "./errors.ts";
import { utf8Text } from "./source.ts";
import { type Cell, setCell, type TableRecord, type TableScan, toCell } from "./table.ts";

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return "a string";
  return `a ${typeof value}`;
}

export function jsonlTable(path: string, batchSize: number): TableScan {
  const columns: string[] = [];
  const known = new Set<string>();

  async function* batches(problems: ProblemCollector): AsyncGenerator<TableRecord[]> {
    let batch: TableRecord[] = [];
    let line = 0;
    let seen = 0;

    const take = (raw: string) => {
      line++;
      const text = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (text.trim() === "") return;
      seen++;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        if (seen === 1 && text.trim() === "[") {
          fail(
            path,
            "The file is one JSON array, not JSON Lines. Write one JSON object per line (no surrounding [ ]).",
          );
        }
        problems.add({
          row: line,
          message: `Line ${line} is not valid JSON (${(err as Error).message}). Each line must hold one complete JSON object; look for a missing quote, comma or brace, or a line break inside a string (write it as \\n).`,
        });
        return;
      }
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        problems.add({
          row: line,
          message: `Line ${line} is ${kindOf(parsed)}, not a JSON object. Each line must be one object with named fields, such as {"text": "…", "label": 1}.`,
        });
        return;
      }
      const values: Record<string, Cell> = {};
      for (const [key, value] of Object.entries(parsed)) {
        if (!known.has(key)) {
          known.add(key);
          columns.push(key);
        }
        setCell(values, key, toCell(value));
      }
      batch.push({ row: line, values });
    };

    let carry = "";
    for await (const text of utf8Text(path)) {
      const lines = (carry + text).split("\n");
      carry = lines.pop() ?? "";
      for (const l of lines) take(l);
      if (batch.length >= batchSize) {
        yield batch;
        batch = [];
      }
    }
    if (carry !== "") take(carry);
    if (batch.length > 0) yield batch;
    if (seen === 0) fail(path, "The file contains only blank lines.");
  }

  return { path, format: "jsonl", columns, batches };
}
