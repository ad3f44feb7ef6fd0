// Every problem of a config at once. The engine stops at the first bad field; to list the others
// too, the check is repeated without each field it rejected (the engine's default takes its
// place) until the config passes or the engine's message names no field to drop.
import { ApiError, type Issue } from "../api/errors.ts";
import { ConfigError } from "../experiments/config-file.ts";
import { fieldOfMessage, plainConfigMessage } from "../experiments/config-messages.ts";

/** A config rejected for one or more reasons, each with the field it is about ("" for none). */
export class ConfigIssues extends ConfigError {
  constructor(readonly issues: Issue[]) {
    super(issues.map((i) => i.message).join("; "));
  }
}

/** Removes the setting at a dotted path; false when there is none there to remove. */
function drop(config: Record<string, unknown>, path: string): boolean {
  const keys = path.split(".");
  let node: unknown = config;
  for (const key of keys.slice(0, -1)) {
    if (node === null || typeof node !== "object") return false;
    node = (node as Record<string, unknown>)[key];
  }
  const last = keys.at(-1) as string;
  if (node === null || typeof node !== "object" || !Object.hasOwn(node, last)) return false;
  delete (node as Record<string, unknown>)[last];
  return true;
}

const rejection = (err: unknown): string | null =>
  err instanceof ConfigError || (err instanceof ApiError && err.status === 400) ? err.message : null;

/**
 * `check(config)`'s result; when the config is rejected, a ConfigIssues error listing every
 * problem found (in plain words) instead of the first one only.
 */
export function withAllIssues<T>(config: Record<string, unknown>, check: (config: Record<string, unknown>) => T): T {
  try {
    return check(config);
  } catch (first) {
    const message = rejection(first);
    if (message === null) throw first;
    const issues: Issue[] = [];
    const probe = structuredClone(config);
    let current: string | null = message;
    for (let i = 0; current !== null && i < 30; i++) {
      const path = fieldOfMessage(current);
      // After a field was dropped, "missing" means that field was required: nothing new.
      if (i > 0 && / is required$|missing field/.test(plainConfigMessage(current))) break;
      if (issues.some((x) => x.path === (path ?? ""))) break;
      issues.push({ path: path ?? "", message: plainConfigMessage(current) });
      if (path === null || !drop(probe, path)) break;
      try {
        check(probe);
        current = null;
      } catch (err) {
        current = rejection(err);
        if (current === null) break;
      }
    }
    throw new ConfigIssues(issues);
  }
}
