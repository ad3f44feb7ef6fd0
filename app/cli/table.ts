// Plain text tables for listings (columns padded to the widest cell).
export function formatTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((x, c) => x.padEnd(widths[c] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

export const fmt = (x: number | null | undefined, digits = 4): string =>
  x === null || x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(digits);
