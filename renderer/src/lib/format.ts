// Number and time formatting shared by the views.

/** Learning rates and other small quantities: "5e-5", "0.001", "2.5e-4". */
export function sci(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e4) return Number(v.toPrecision(3)).toString();
  return v
    .toExponential(2)
    .replace(/\.?0+e/, "e")
    .replace("e-0", "e-")
    .replace("e+", "e");
}

/** A metric value with 4 significant decimals. */
export const metric = (v: number | null | undefined): string =>
  v === null || v === undefined || !Number.isFinite(v) ? "–" : v.toFixed(4);

/** 12 345 678 → "12.3M". */
export function count(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return n.toLocaleString("en-US");
}

/** Seconds → "1 h 04 min", "3 min 05 s", "42 s". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (x: number) => String(x).padStart(2, "0");
  if (h > 0) return `${h} h ${pad(m)} min`;
  if (m > 0) return `${m} min ${pad(s % 60)} s`;
  return `${s} s`;
}

export const percent = (share: number): string => `${(share * 100).toFixed(share < 0.1 ? 1 : 0)}%`;

export function when(iso: string | null): string {
  if (!iso) return "–";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
