#!/usr/bin/env node
// Every suite behind `npm test`, in order: Rust unit tests (cargo), then the TypeScript suites
// (unit, bindings, parity against Python references, CLI, browser e2e) on node's test runner.
// Ends with one "N passed, N failed" line over all suites; exits non-zero if anything failed.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { chromiumPath, nativeBuildEnv, root } from "./env.mjs";

const totals = { passed: 0, failed: 0, skipped: 0 };

/** Runs a command, echoing its output, and returns the output for counting. */
function run(cmd, args, env) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.stderr.on("data", (d) => {
      out += d;
      process.stderr.write(d);
    });
    child.on("close", (code) => resolve({ code, out }));
  });
}

function testFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...testFiles(path));
    else if (name.endsWith(".test.ts")) out.push(relative(root, path));
  }
  return out;
}

const filter = process.argv.slice(2);
let failedSuites = 0;

if (filter.length === 0 || filter.includes("rust")) {
  const { code, out } = await run(
    "cargo",
    ["test", "--release", "--manifest-path", "native/Cargo.toml", "--workspace", "--exclude", "ftune-addon"],
    nativeBuildEnv(),
  );
  for (const m of out.matchAll(/test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored/g)) {
    totals.passed += Number(m[1]);
    totals.failed += Number(m[2]);
    totals.skipped += Number(m[3]);
  }
  if (code !== 0) failedSuites++;
}

const files = testFiles(join(root, "test")).filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)));
/** Names (and reasons) of skipped tests, listed at the end: nothing is skipped silently. */
const skippedNames = [];

// The browser tests need the renderer build and Chromium (`npm test` runs the set-up, which
// makes both). Say so up front; the tests themselves then fail, they are not skipped.
if (files.some((f) => f.startsWith("test/e2e/"))) {
  if (!existsSync(join(root, "renderer/dist/index.html"))) {
    console.error(
      "test: renderer/dist is missing: run `node scripts/setup.mjs --renderer`; the browser tests will fail.",
    );
  }
  if (!existsSync(chromiumPath)) {
    console.error(
      `test: ${chromiumPath} is missing: run \`node scripts/setup.mjs --browser\`; the browser tests will fail.`,
    );
  }
}

if (files.length > 0) {
  const { code, out } = await run(
    process.execPath,
    ["--import", "tsx", "--test", "--test-reporter=spec", "--test-concurrency=1", ...files],
    { ...process.env, FORCE_COLOR: "0" },
  );
  const count = (label) => Number(out.match(new RegExp(`^ℹ ${label} (\\d+)`, "m"))?.[1] ?? 0);
  totals.passed += count("pass");
  totals.failed += count("fail");
  totals.skipped += count("skipped") + count("todo");
  // The spec reporter marks a skipped test with "﹣ name (…ms) # reason", a todo with "# TODO".
  for (const m of out.matchAll(/^\s*﹣ (.+?) \([\d.]+ms\)(?: # (.*))?$/gm))
    skippedNames.push(`${m[1]} (skipped${m[2] && m[2] !== "SKIP" ? `: ${m[2]}` : ""})`);
  for (const m of out.matchAll(/^\s*\S+ (.+?) \([\d.]+ms\) # TODO(.*)$/gm))
    skippedNames.push(`${m[1]} (todo${m[2].trim() ? `: ${m[2].trim()}` : ""})`);
  if (code !== 0) failedSuites++;
}

if (skippedNames.length > 0) console.log(`\nSkipped:\n${skippedNames.map((n) => `  - ${n}`).join("\n")}`);

console.log(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(failedSuites > 0 || totals.failed > 0 ? 1 : 0);
