// Checks on values that arrive from outside (config files, API payloads) before anything
// recursive touches them: structuredClone, JSON.stringify and the engine's parser all recurse,
// so a value nested thousands deep would end in "Maximum call stack size exceeded". The walk
// here is iterative, so it answers for any depth.

/** Deeper than any real config or payload (a config is four or five levels deep). */
export const MAX_NESTING = 32;

export type ValueProblem =
  | { kind: "too-deep"; path: string; limit: number }
  | { kind: "not-finite"; path: string; value: number };

/** "a.b[2].c" for the keys from the root (the first few, when the path is long). */
function pathText(keys: readonly (string | number)[]): string {
  const shown = keys.length > 8 ? keys.slice(0, 6) : keys;
  const text = shown.map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? k : `.${k}`)).join("");
  return keys.length > shown.length ? `${text}…` : text;
}

/**
 * The first problem of `value`, walking it without recursion: nesting past `maxDepth`
 * objects/arrays, or a number that is NaN or infinite (YAML's `.nan` and `.inf`, which JSON
 * would turn into null).
 */
export function findValueProblem(value: unknown, maxDepth = MAX_NESTING): ValueProblem | null {
  const stack: { value: unknown; keys: (string | number)[] }[] = [{ value, keys: [] }];
  while (stack.length > 0) {
    const { value: v, keys } = stack.pop() as { value: unknown; keys: (string | number)[] };
    if (typeof v === "number" && !Number.isFinite(v)) return { kind: "not-finite", path: pathText(keys), value: v };
    if (typeof v !== "object" || v === null) continue;
    if (keys.length >= maxDepth) return { kind: "too-deep", path: pathText(keys), limit: maxDepth };
    const entries: [string | number, unknown][] = Array.isArray(v)
      ? v.map((item, i) => [i, item])
      : Object.entries(v as Record<string, unknown>);
    // Reversed so the walk meets fields in their written order.
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, item] = entries[i] as [string | number, unknown];
      stack.push({ value: item, keys: [...keys, key] });
    }
  }
  return null;
}

/** A sentence for the user about `problem`, `what` naming the whole value ("the config"). */
export function describeValueProblem(problem: ValueProblem, what: string): string {
  if (problem.kind === "not-finite") {
    const shown = Number.isNaN(problem.value) ? "NaN" : problem.value > 0 ? "infinity" : "-infinity";
    return `${problem.path || what} must be a finite number (got ${shown})`;
  }
  return `${what} is nested too deeply: more than ${problem.limit} levels${problem.path ? ` (under ${problem.path})` : ""}`;
}

/** V8's message when a recursive parser or serializer runs out of stack. */
export const isStackOverflow = (err: unknown): boolean =>
  err instanceof Error && /Maximum call stack size exceeded/.test(err.message);
