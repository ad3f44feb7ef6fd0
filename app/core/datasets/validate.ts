// Turns mapped source records into dataset rows, recording one actionable problem per bad cell.
// Column-wide verdicts (missing, empty in every row) replace the per-row noise they would cause.
import type { ColumnMapping, DatasetFormat, DatasetRow, MappingRole, Task } from "../store/types.ts";
import { type ProblemCollector, rowLabel } from "./errors.ts";
import { type Cell, cellOf, type TableRecord } from "./table.ts";

export type ValidRow = Omit<DatasetRow, "index">;

const ROLE_NAMES: Record<MappingRole, string> = {
  text: "text",
  textPair: "second text",
  label: "label",
  id: "id",
  group: "group",
  weight: "weight",
};

type NumberCheck = { ok: true; value: number } | { ok: false; why: string };

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parses a cell as a finite number; `why` completes a sentence such as `the label (column "y") …`. */
export function parseNumber(cell: Cell): NumberCheck {
  if (typeof cell === "number") {
    if (Number.isNaN(cell)) return { ok: false, why: "is NaN (not a number)" };
    if (!Number.isFinite(cell)) return { ok: false, why: `is ${cell}, which is infinite` };
    return { ok: true, value: cell };
  }
  const s = String(cell).trim();
  const shown = `"${s.length > 40 ? `${s.slice(0, 40)}…` : s}"`;
  if (DECIMAL.test(s)) {
    const value = Number(s);
    if (Number.isFinite(value)) return { ok: true, value };
    return { ok: false, why: `is ${shown}, which is too large to be a finite number` };
  }
  if (/^[+-]?nan$/i.test(s)) return { ok: false, why: `is ${shown}, which is not a number` };
  if (/^[+-]?inf(inity)?$/i.test(s)) return { ok: false, why: `is ${shown}, which is infinite` };
  if (/^[+-]?\d+,\d+$/.test(s)) {
    return { ok: false, why: `is ${shown}, which uses a comma as the decimal separator; write ${s.replace(",", ".")}` };
  }
  return { ok: false, why: `is ${shown}, which is not a number` };
}

const isBlank = (cell: Cell) => cell === null || (typeof cell === "string" && cell.trim() === "");

export class RowValidator {
  readonly #mapping: ColumnMapping;
  readonly #task: Task;
  readonly #format: DatasetFormat;
  readonly #problems: ProblemCollector;
  readonly #roles: [MappingRole, string][];
  /** Rows where each mapped column had a value; 0 at the end means the column is empty or absent. */
  readonly #filled = new Map<string, number>();
  readonly #ids = new Map<string, number>();

  constructor(mapping: ColumnMapping, task: Task, format: DatasetFormat, problems: ProblemCollector) {
    this.#mapping = mapping;
    this.#task = task;
    this.#format = format;
    this.#problems = problems;
    this.#roles = Object.entries(mapping).filter((e): e is [MappingRole, string] => typeof e[1] === "string");
  }

  /**
   * Problems with the mapping itself: a column mapped to two roles, or (once the columns are
   * known) a mapped column the file does not have. Returns false when there were any.
   */
  checkColumns(columns: readonly string[] | undefined): boolean {
    let ok = true;
    const byColumn = new Map<string, MappingRole[]>();
    for (const [role, column] of this.#roles) byColumn.set(column, [...(byColumn.get(column) ?? []), role]);
    for (const [column, roles] of byColumn) {
      if (roles.length < 2) continue;
      ok = false;
      this.#problems.add({
        column,
        message: `Column "${column}" is mapped as both ${roles.map((r) => ROLE_NAMES[r]).join(" and ")}. Map each role to a different column.`,
      });
    }
    if (columns) {
      for (const [role, column] of this.#roles) {
        if (columns.includes(column)) continue;
        ok = false;
        this.#problems.replaceColumn(column, { message: missingColumnMessage(role, column, columns) });
      }
    }
    return ok;
  }

  /** Returns the dataset row, or null after recording why the record cannot be used. */
  check(record: TableRecord): ValidRow | null {
    const { row, values } = record;
    const m = this.#mapping;
    const at = rowLabel(this.#format, row);
    let ok = true;
    const problem = (role: MappingRole, message: string) => {
      ok = false;
      this.#problems.add({ row, column: m[role], message: `${at}: ${message}` });
    };
    const cell = (role: MappingRole): Cell => {
      const column = m[role];
      if (column === undefined) return null;
      const v = cellOf(values, column);
      if (!isBlank(v)) this.#filled.set(column, (this.#filled.get(column) ?? 0) + 1);
      return v;
    };
    const describe = (role: MappingRole) => `the ${ROLE_NAMES[role]} (column "${m[role]}")`;

    const text = cell("text");
    if (text === null) problem("text", `${describe("text")} is empty. Fill in the text or remove the row.`);
    else if (isBlank(text))
      problem("text", `${describe("text")} contains only whitespace. Fill in the text or remove the row.`);

    let textPair: string | null = null;
    if (m.textPair !== undefined) {
      const v = cell("textPair");
      if (v === null) problem("textPair", `${describe("textPair")} is empty. Fill it in or remove the row.`);
      else if (isBlank(v))
        problem("textPair", `${describe("textPair")} contains only whitespace. Fill it in or remove the row.`);
      else textPair = String(v);
    }

    let label: number | string = Number.NaN;
    const rawLabel = cell("label");
    if (isBlank(rawLabel)) {
      problem("label", `${describe("label")} is missing. Every row needs a label; fill it in or remove the row.`);
    } else if (this.#task === "regression") {
      const n = parseNumber(rawLabel);
      if (n.ok) label = n.value;
      else
        problem(
          "label",
          `${describe("label")} ${n.why}. Regression needs a finite number in every row; fix the value, remove the row, or import the data for classification.`,
        );
    } else {
      label = String(rawLabel).trim();
    }

    let id: string | null = null;
    if (m.id !== undefined) {
      const v = cell("id");
      if (isBlank(v))
        problem("id", `${describe("id")} is empty. With an id column mapped, every row needs a unique id.`);
      else {
        id = String(v).trim();
        const first = this.#ids.get(id);
        if (first !== undefined) {
          problem(
            "id",
            `id "${id}" (column "${m.id}") already appeared in ${rowLabel(this.#format, first).toLowerCase()}. Ids must be unique; fix the duplicate or leave the id column unmapped.`,
          );
        } else this.#ids.set(id, row);
      }
    }

    let group: string | null = null;
    if (m.group !== undefined) {
      const v = cell("group");
      if (isBlank(v))
        problem("group", `${describe("group")} is empty. With a group column mapped, every row needs a group.`);
      else group = String(v).trim();
    }

    let weight: number | null = null;
    if (m.weight !== undefined) {
      const v = cell("weight");
      if (isBlank(v)) {
        problem("weight", `${describe("weight")} is empty. Fill in a weight (1 is the normal weight).`);
      } else {
        const n = parseNumber(v);
        if (!n.ok) problem("weight", `${describe("weight")} ${n.why}. Weights must be numbers of 0 or more.`);
        else if (n.value < 0)
          problem("weight", `${describe("weight")} is ${n.value}, a negative number. Weights must be 0 or more.`);
        else weight = n.value;
      }
    }

    if (!ok) return null;
    return { sourceRow: row, text: String(text), textPair, label, id, group, weight };
  }

  /**
   * Column-wide checks once every record has been seen: a mapped column that never had a value
   * is reported once (missing from the file, or empty in every row) instead of once per row.
   */
  finish(columns: readonly string[]): void {
    for (const [role, column] of this.#roles) {
      if ((this.#filled.get(column) ?? 0) > 0) continue;
      this.#problems.replaceColumn(column, {
        message: columns.includes(column)
          ? `The ${ROLE_NAMES[role]} column "${column}" is empty in every row. Map a column that has values.`
          : missingColumnMessage(role, column, columns),
      });
    }
  }
}

function missingColumnMessage(role: MappingRole, column: string, columns: readonly string[]): string {
  const list = columns.map((c) => `"${c}"`).join(", ") || "(none)";
  const near = columns.find((c) => c.trim().toLowerCase() === column.trim().toLowerCase());
  const hint = near ? ` Did you mean "${near}"?` : "";
  // One column whose name holds a ; or tab: the file most likely uses another separator.
  const sep = columns.length === 1 ? columns[0]?.match(/[;\t|]/)?.[0] : undefined;
  const separator = sep
    ? ` The header looks separated by ${sep === "\t" ? "tabs" : `"${sep}"`}; choose that separator when importing.`
    : "";
  return `The ${ROLE_NAMES[role]} column "${column}" is not in the file. Available columns: ${list}.${hint}${separator}`;
}
