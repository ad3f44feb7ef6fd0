// The desktop app's main-process bundles (scripts/build-main.mjs): each must load on its own,
// importing only what exists at run time in a packaged app. A sandboxed preload may require
// nothing but "electron"; the training worker runs without Electron's main-process modules.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

const root = join(import.meta.dirname, "../..");
const out = mkdtempSync(join(tmpdir(), "ftune-main-"));
const read = (file: string) => readFileSync(join(out, file), "utf8");

/** Module names a bundle still imports or requires at run time. */
function externals(code: string): Set<string> {
  const names = new Set<string>();
  for (const m of code.matchAll(/(?:^|\n)\s*import\s[^;]*?from\s*["']([^"']+)["']/g)) names.add(m[1] as string);
  for (const m of code.matchAll(/\brequire\(["']([^"']+)["']\)/g)) names.add(m[1] as string);
  return names;
}

const builtin = (name: string) => name.startsWith("node:") || builtinModules.includes(name.split("/")[0] as string);

before(() => {
  execFileSync(process.execPath, [join(root, "scripts/build-main.mjs"), out], { stdio: "pipe" });
});
after(() => rmSync(out, { recursive: true, force: true }));

test("main.js bundles the app core and leaves out only electron, sqlite3 and Node built-ins", () => {
  const code = read("main.js");
  const outside = [...externals(code)].filter((n) => !builtin(n));
  assert.deepEqual(outside.sort(), ["electron", "sqlite3"]);
  // The core came along: the dispatcher and the IPC channel name.
  assert.match(code, /Unknown method/);
  assert.match(code, /ftune:call/);
});

test("preload.cjs is one CommonJS script that requires only electron", () => {
  const code = read("preload.cjs");
  assert.doesNotMatch(code, /(?:^|\n)\s*import\s/);
  assert.deepEqual([...externals(code)], ["electron"]);
  assert.match(code, /exposeInMainWorld\("ftune"/);
});

test("worker.js maps the worker's IPC onto parentPort and needs no Electron module", () => {
  const code = read("worker.js");
  const outside = [...externals(code)].filter((n) => !builtin(n));
  assert.deepEqual(outside, []);
  assert.match(code, /parentPort/);
  assert.match(code, /TrainingJob\.start/, "the engine job starter is bundled in");
});
