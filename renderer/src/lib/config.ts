// The experiment config as the builder edits it: a plain nested object with the engine's field
// names (docs/CONFIG.md), read and written by dotted paths ("llrd.decay", "optimizer.betas.0").
// Its starting values are the engine's defaults (the `defaultConfig` API); the engine validates
// it; this module only merges presets and maps engine errors to fields.
export type Draft = Record<string, unknown>;

const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Settings of which one at most may be set: a preset setting one clears the other. */
const EXCLUSIVE: [string, string, string][] = [
  ["schedule", "warmup_steps", "warmup_ratio"],
  ["swa", "start_epoch", "start_step"],
];

/**
 * `over` merged into `base` (neither is changed): nested mappings merge, anything else replaces.
 * A mapping whose `mode` changes (llrd layerwise ↔ grouped) replaces, since their keys differ.
 */
export function merge(base: Draft, over: Draft): Draft {
  const out: Draft = structuredClone(base);
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    const sameKind = isMapping(current) && isMapping(value) && (!("mode" in value) || value.mode === current.mode);
    out[key] = sameKind ? merge(current, value) : structuredClone(value);
  }
  for (const [section, a, b] of EXCLUSIVE) {
    const set = over[section];
    const merged = out[section];
    if (!isMapping(set) || !isMapping(merged)) continue;
    if (set[a] != null && set[b] === undefined) merged[b] = null;
    if (set[b] != null && set[a] === undefined) merged[a] = null;
  }
  return out;
}

const segments = (path: string) => path.split(".");

export function getPath(draft: Draft, path: string): unknown {
  let node: unknown = draft;
  for (const key of segments(path)) {
    if (!isMapping(node) && !Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** Sets a value, creating mappings on the way (a null section becomes a mapping). */
export function setPath(draft: Draft, path: string, value: unknown): void {
  const keys = segments(path);
  let node = draft as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) {
    if (!isMapping(node[key]) && !Array.isArray(node[key])) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1) as string] = value;
}

/**
 * The field an engine message is about: messages start with the field's path, e.g.
 * "llrd.decay must be in (0, 1], got 1.5", "schedule.name: unknown variant …",
 * "llrd.groups[1].lr must be positive". Returned as a builder path ("llrd.groups.1.lr").
 */
export function fieldOfError(message: string): string | null {
  const m = /^([a-z_]+(?:\[\d+\])?(?:\.[a-z_0-9]+(?:\[\d+\])?)*)(?=[\s:]|$)/.exec(message);
  if (!m?.[1] || (!m[1].includes(".") && !["model", "task", "encoder_dropout"].includes(m[1]))) return null;
  return m[1].replace(/\[(\d+)\]/g, ".$1");
}

/** The techniques a draft turns on, as the article names them. */
export function techniques(draft: Draft): string[] {
  const out: string[] = [];
  const llrd = draft.llrd as { mode?: string } | null;
  if (llrd) out.push(llrd.mode === "grouped" ? "Grouped LLRD" : "LLRD");
  const schedule = draft.schedule as { warmup_steps?: number | null; warmup_ratio?: number | null };
  if (schedule?.warmup_steps || schedule?.warmup_ratio) out.push("Warm-up");
  if (((draft.reinit as { top_layers?: number })?.top_layers ?? 0) > 0) out.push("Re-init");
  if (draft.swa) out.push("SWA");
  if ((draft.eval as { every_steps?: number | null })?.every_steps) out.push("Frequent eval");
  return out;
}
