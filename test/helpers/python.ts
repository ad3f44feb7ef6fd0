// Runs the Python references (torch, transformers) from the project's environment.
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dirname, "../..");
const python = join(root, ".venv/bin/python");
const script = join(root, "test/reference/reference.py");

export const scratch = (prefix: string) => mkdtempSync(join(tmpdir(), `ftune-${prefix}-`));

/** Runs `reference.py COMMAND ...args`, with `request` written to a JSON file as last arg. */
export function reference<T>(command: string, args: string[], request?: unknown): T {
  const extra = [];
  if (request !== undefined) {
    const file = join(scratch("req"), "request.json");
    writeFileSync(file, JSON.stringify(request));
    extra.push(file);
  }
  const out = execFileSync(python, [script, command, ...args, ...extra], {
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, HF_HUB_OFFLINE: "1", TRANSFORMERS_VERBOSITY: "error", TQDM_DISABLE: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return JSON.parse(out.trim().split("\n").at(-1) ?? "null") as T;
}

let fixtureDirs: Record<string, string> | undefined;

/** Tiny random BERT / RoBERTa folders saved by transformers (made once per test process). */
export function fixtures(): Record<string, string> {
  fixtureDirs ??= reference<Record<string, string>>("fixtures", [scratch("fixtures")]);
  return fixtureDirs;
}

export function maxAbsDiff(a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") return Math.abs(a - b);
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return Number.POSITIVE_INFINITY;
    return a.reduce((m: number, x, i) => Math.max(m, maxAbsDiff(x, b[i])), 0);
  }
  return Number.POSITIVE_INFINITY;
}
