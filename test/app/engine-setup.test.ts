// `ftune engine setup`: the engine's libtorch set up where none is found. From a package index on
// 127.0.0.1 (placeholder wheels: the download, resume, hash and index paths; the packaged-app
// test trains on real ones), and from an existing PyTorch 2.11 install (the project's venv).
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { type FixtureIndex, placeholderWheel, serveIndex } from "../helpers/wheel-index.ts";
import { ftune, jsonLines, scratchHome } from "./helpers.ts";

const root = join(import.meta.dirname, "../..");
const scratch = scratchHome("engine-setup");
const WHEEL = "torch-2.11.0+cpu-cp312-cp312-manylinux_2_28_x86_64.whl";
let index: FixtureIndex;
let wheelSize = 0;

before(async () => {
  const wheel = placeholderWheel(join(scratch.dir, "wheels"), WHEEL);
  // Another release and a CUDA build beside it: neither may be picked for "2.11, CPU".
  const other = placeholderWheel(join(scratch.dir, "wheels"), "torch-2.10.0+cpu-cp312-cp312-manylinux_2_28_x86_64.whl");
  const cuda = placeholderWheel(
    join(scratch.dir, "wheels"),
    "torch-2.11.0+cu130-cp312-cp312-manylinux_2_28_x86_64.whl",
  );
  wheelSize = statSync(wheel).size;
  index = await serveIndex([wheel, other, cuda]);
});
after(async () => {
  await index.close();
  scratch.cleanup();
});

/** The message a failed command ends with (steps come before it on stderr). */
const lastLine = (text: string) => `${text.trimEnd().split("\n").at(-1)}\n`;

const settings = (home: string) => {
  const file = join(home, "settings.json");
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : {};
};

test("download: the CPU wheel of 2.11 is fetched, verified, unpacked into the data folder and saved in settings", async () => {
  const home = join(scratch.dir, "download");
  const r = await ftune(["engine", "setup", "--download", "--cpu", "--index", index.url, "--json"], home);
  assert.equal(r.code, 0, r.stderr);
  const lines = jsonLines(r.stdout);
  const downloads = lines.filter((l) => l.step === "download") as {
    progress: { done: number; total: number; file: string };
  }[];
  assert.ok(downloads.length >= 2, "progress is reported while downloading");
  assert.equal(downloads.at(-1)?.progress.done, wheelSize);
  assert.equal(downloads.at(-1)?.progress.total, wheelSize);
  assert.equal(downloads.at(-1)?.progress.file, WHEEL);
  const engine = settings(home).engine;
  assert.equal(engine.source, "download");
  assert.equal(engine.variant, "cpu");
  assert.equal(engine.torchVersion, "2.11.0+cpu");
  assert.equal(engine.libDir, join(home, "engine/torch-2.11.0+cpu/torch/lib"));
  assert.ok(existsSync(join(engine.libDir, "libtorch_cpu.so")));
  assert.ok(!existsSync(join(home, "engine/downloads")), "the downloaded wheel is removed once unpacked");
  const status = await ftune(["engine", "status"], home);
  assert.match(status.stdout, /torch 2\.11\.0\+cpu \(cpu\), downloaded: /);
});

test("an interrupted download resumes where it stopped (HTTP Range) on the next set-up", async () => {
  const home = join(scratch.dir, "resume");
  index.cutNext(WHEEL, 100_000);
  const first = await ftune(["engine", "setup", "--download", "--cpu", "--index", index.url], home);
  assert.equal(first.code, 1);
  assert.match(
    lastLine(first.stderr),
    /^ftune: the download of torch-2\.11\.0\+cpu\S+ was interrupted at 100000 bytes .*run the set-up again to resume\n$/,
  );
  assert.equal(statSync(join(home, "engine/downloads", `${WHEEL}.part`)).size, 100_000);
  assert.equal(settings(home).engine, undefined, "nothing is selected before the engine is complete");
  const before = index.log.length;
  const second = await ftune(["engine", "setup", "--download", "--cpu", "--index", index.url], home);
  assert.equal(second.code, 0, second.stderr);
  assert.ok(index.log.slice(before).includes(`GET /files/${WHEEL} bytes=100000-`), index.log.slice(before).join("\n"));
  assert.equal(settings(home).engine.source, "download");
});

test("a wheel that does not match the index's sha256 is removed and nothing is selected", async () => {
  const home = join(scratch.dir, "hash");
  const corrupt = await serveIndex([placeholderWheel(join(scratch.dir, "corrupt"), WHEEL)]);
  corrupt.corruptHash(WHEEL);
  try {
    const r = await ftune(["engine", "setup", "--download", "--cpu", "--index", corrupt.url], home);
    assert.equal(r.code, 1);
    assert.match(
      lastLine(r.stderr),
      /^ftune: torch-2\.11\.0\+cpu\S+ does not match the sha256 its index publishes .*it was removed, run the set-up again\n$/,
    );
    assert.ok(!existsSync(join(home, "engine/downloads", `${WHEEL}.part`)));
    assert.equal(settings(home).engine, undefined);
  } finally {
    await corrupt.close();
  }
});

test("an index without a fitting wheel, or none at all, is one message", async () => {
  const home = join(scratch.dir, "no-wheel");
  const old = await serveIndex([
    placeholderWheel(join(scratch.dir, "old"), "torch-2.10.0+cpu-cp312-cp312-manylinux_2_28_x86_64.whl"),
  ]);
  const url = old.url;
  try {
    const r = await ftune(["engine", "setup", "--download", "--cpu", "--index", url], home);
    assert.equal(r.code, 1);
    assert.match(lastLine(r.stderr), /^ftune: http:\S+ has no torch 2\.11\.x cpu wheel for linux x86_64\n$/);
  } finally {
    await old.close();
  }
  const gone = await ftune(["engine", "setup", "--download", "--cpu", "--index", url], home);
  assert.equal(gone.code, 1);
  assert.match(lastLine(gone.stderr), /^ftune: cannot reach the package index http:\S+ \(.+\)\n$/);
});

test("an existing install: the venv's PyTorch 2.11 is used in place; a Python without torch is refused", async () => {
  const home = join(scratch.dir, "existing");
  const none = await ftune(["engine", "setup", "--python", "/usr/bin/python3"], home);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /^ftune: no PyTorch 2\.11\.x found \(\/usr\/bin\/python3 has no PyTorch installed\)/);
  const missing = await ftune(["engine", "setup", "--python", join(scratch.dir, "no-such-env")], home);
  assert.match(missing.stderr, /no-such-env: no Python there \(give a python executable, or a venv or conda folder\)/);

  const r = await ftune(["engine", "setup", "--python", join(root, ".venv")], home);
  assert.equal(r.code, 0, r.stderr);
  const engine = settings(home).engine;
  assert.equal(engine.source, "existing");
  assert.match(engine.torchVersion, /^2\.11\./);
  assert.ok(existsSync(join(engine.libDir, "libtorch.so")));
  assert.ok(!existsSync(join(home, "engine")), "nothing is copied");
  // `ftune info` loads the engine from there and says so.
  const info = await ftune(["info", "--json"], home);
  assert.equal(info.code, 0, info.stderr);
  const parsed = JSON.parse(info.stdout) as { source: string; engine: { libDir: string } };
  assert.equal(parsed.source, "settings");
  assert.equal(parsed.engine.libDir, engine.libDir);
});
