// `ftune` at the edges: each bad input gets one plain message (no "unexpected error", no stack
// overflow, no "null") and leaves nothing behind. A port in use, a failed train's --out, a
// config nested 100,000 deep (YAML and JSON), NaN/infinite numbers, k folds on too few rows, and a
// metric that is undefined (constant targets).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, test } from "node:test";

import { ftune, scratchHome, tinyModel, writeTinyCsv } from "./helpers.ts";

const home = scratchHome("cli-edges");
after(home.cleanup);
const data = join(home.dir, "data");
const csv = writeTinyCsv(home.dir, 24);

/** A config file with `lines` (YAML) written under `name`. */
function config(name: string, lines: string[]): string {
  const path = join(home.dir, name);
  writeFileSync(path, lines.join("\n"));
  return path;
}

const base = (overrides: { model?: string; folds?: string; optimizer?: string } = {}) => [
  `model: ${overrides.model ?? tinyModel()}`,
  "task: regression",
  `data: { train: ${csv}, text: text, label: target, max_length: 32 }`,
  `folds: ${overrides.folds ?? "{ k: 2, seed: 3, run: [0] }"}`,
  "train: { epochs: 1, batch_size: 4, device: cpu }",
  `optimizer: ${overrides.optimizer ?? "{ lr: 1.0e-3 }"}`,
];

test("a port in use is a plain message naming the port", async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
  const port = (blocker.address() as { port: number }).port;
  try {
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [join(import.meta.dirname, "../../bin/ftune.js"), "serve", "--port", String(port)],
        {
          env: { ...process.env, FTUNE_HOME: data },
          stdio: ["ignore", "ignore", "pipe"],
        },
      );
      let stderr = "";
      child.stderr.on("data", (d) => {
        stderr += d;
      });
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stderr });
      });
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`port ${port} is already in use.*--port`));
    assert.doesNotMatch(r.stderr, /unexpected error|EADDRINUSE|\n\s+at /);
  } finally {
    blocker.close();
  }
});

test("a failed train removes the --out folder it made, and keeps one that was there", async () => {
  const bad = config("no-model.yaml", base({ model: join(home.dir, "no-such-model") }));
  const out = join(home.dir, "made", "by", "train");
  const r = await ftune(["train", bad, "--out", out], data);
  assert.equal(r.code, 1, r.stderr);
  assert.ok(!existsSync(join(home.dir, "made")), "the folders train made are gone");

  const existing = join(home.dir, "mine");
  mkdirSync(existing);
  const again = await ftune(["train", bad, "--out", existing], data);
  assert.equal(again.code, 1, again.stderr);
  assert.ok(existsSync(existing), "a folder the user made stays");
  assert.deepEqual(readdirSync(existing), []);
});

test("a config nested 100,000 deep is a plain message, as YAML and as JSON", async () => {
  const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
  const yaml = config("deep.yaml", [...base(), `extra: ${deep}`]);
  const json = join(home.dir, "deep.json");
  writeFileSync(json, `{"task": "regression", "extra": ${deep}}`);
  let block = "extra:\n";
  for (let i = 1; i < 1000; i++) block += `${" ".repeat(i)}- \n`;
  const indented = config("deep-block.yaml", [...base(), block]);
  for (const file of [yaml, json, indented]) {
    const r = await ftune(["train", file, "--out", join(home.dir, "deep-out")], data);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /invalid config: .*nested too deeply/, file);
    assert.doesNotMatch(r.stderr, /Maximum call stack|recursion limit|\n\s+at /, file);
  }
  // 40 levels parse, and are still refused before they reach anything recursive.
  const moderate = config("moderate.yaml", [...base(), `extra: ${"[".repeat(40)}${"]".repeat(40)}`]);
  const r = await ftune(["schedule", moderate], data);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /the config is nested too deeply: more than 32 levels \(under extra/);
});

test("NaN and infinity in a config name the field (not null)", async () => {
  const nan = await ftune(["schedule", config("nan.yaml", base({ optimizer: "{ lr: .nan }" }))], data);
  assert.equal(nan.code, 2, nan.stderr);
  assert.match(nan.stderr, /invalid config: optimizer\.lr must be a finite number \(got NaN\)/);
  assert.doesNotMatch(nan.stderr, /null/);
  const inf = await ftune(
    ["schedule", config("inf.yaml", base({ optimizer: "{ lr: 1.0e-3, weight_decay: -.inf }" }))],
    data,
  );
  assert.equal(inf.code, 2, inf.stderr);
  assert.match(inf.stderr, /optimizer\.weight_decay must be a finite number \(got -infinity\)/);
});

test("k folds need as many rows as the API asks for (2 per fold)", async () => {
  const five = writeTinyCsv(home.dir, 5, "five.csv");
  const path = config("five-rows.yaml", [
    ...base({ folds: "{ k: 5, seed: 3, run: [0] }" }).filter((l) => !l.startsWith("data:")),
    `data: { train: ${five}, text: text, label: target, max_length: 32 }`,
  ]);
  const out = join(home.dir, "five-out");
  const r = await ftune(["train", path, "--out", out], data);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /folds\.k is 5 but .*five\.csv has 5 usable rows; 5 folds need at least 10 \(2 per fold\)/);
  assert.ok(!existsSync(out));
});

test("validation targets all equal: Pearson's r is undefined (null), and train still summarizes", async () => {
  const same = join(home.dir, "same-target.csv");
  writeFileSync(same, ["text,target", ...Array.from({ length: 12 }, (_, i) => `"passage number ${i}",0.5`)].join("\n"));
  const path = config("same-target.yaml", [
    `model: ${tinyModel()}`,
    `data: { train: ${same}, text: text, label: target, max_length: 16 }`,
    "folds: { k: 2, seed: 3 }",
    "train: { epochs: 1, batch_size: 4, device: cpu }",
  ]);
  const out = join(home.dir, "same-target-out");
  const r = await ftune(["train", path, "--out", out], data);
  // Once the engine read its own outcome back with "invalid type: null, expected f64".
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as {
    folds: { final_metrics: Record<string, number | null> }[];
    mean: number;
  };
  assert.equal(summary.folds.length, 2);
  for (const f of summary.folds) assert.equal(f.final_metrics.pearson, null);
  assert.ok(Number.isFinite(summary.mean));
});
