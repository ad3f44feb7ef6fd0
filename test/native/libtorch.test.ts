// Which libtorch the engine loads: FTUNE_LIBTORCH takes precedence over the folder the build
// baked in (how a packaged app runs on the user's own PyTorch 2.11), and a wrong folder is one
// message saying what to set. Each case runs in a child process: a loaded libtorch stays.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, test } from "node:test";

import { cacheDir, libtorchDir } from "../../scripts/env.mjs";

const root = join(import.meta.dirname, "../..");
const probe = `
  const { native } = await import(${JSON.stringify(join(root, "app/native/addon.ts"))});
  const info = native.runtimeInfo();
  const maps = (await import("node:fs")).readFileSync("/proc/self/maps", "utf8");
  const loaded = [...new Set(maps.split("\\n").map((l) => l.split(/\\s+/)[5]).filter((p) => p?.endsWith("/libtorch_cpu.so")))];
  console.log(JSON.stringify({ info, loaded }));
`;

function runProbe(env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", probe], {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
}

const scratch: string[] = [];
after(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

test("without FTUNE_LIBTORCH the engine runs on the torch it was built against", () => {
  const r = runProbe({ FTUNE_LIBTORCH: "" });
  assert.equal(r.status, 0, r.stderr);
  const { info, loaded } = JSON.parse(r.stdout);
  assert.deepEqual(loaded, [join(libtorchDir(), "lib/libtorch_cpu.so")]);
  assert.match(info.torchVersion, /^2\.11\.0/);
});

test("FTUNE_LIBTORCH points the engine at another PyTorch 2.11 install", (t) => {
  // Another install, without copying gigabytes: the wheel's files hard-linked into a new
  // site-packages (same file system as the cache), CUDA libraries reached as the wheel does.
  const torch = libtorchDir();
  const mirror = mkdtempSync(join(cacheDir, "test-libtorch-"));
  scratch.push(mirror);
  const lib = join(mirror, "torch/lib");
  mkdirSync(lib, { recursive: true });
  try {
    linkSync(join(torch, "version.py"), join(mirror, "torch/version.py"));
    for (const name of readdirSync(join(torch, "lib"))) {
      if (statSync(join(torch, "lib", name)).isFile()) linkSync(join(torch, "lib", name), join(lib, name));
    }
  } catch (err) {
    t.skip(`cannot hard-link the torch install here: ${(err as Error).message}`);
    return;
  }
  const nvidia = join(dirname(torch), "nvidia");
  if (existsSync(nvidia)) symlinkSync(nvidia, join(mirror, "nvidia"));

  const r = runProbe({ FTUNE_LIBTORCH: lib });
  assert.equal(r.status, 0, r.stderr);
  const { info, loaded } = JSON.parse(r.stdout);
  assert.deepEqual(loaded, [join(lib, "libtorch_cpu.so")], "libtorch loaded from the build's folder as well");
  assert.equal(info.torchLibDir, lib);
  assert.match(info.torchVersion, /^2\.11\.0/);

  // `ftune info` is how a user checks it.
  const cli = spawnSync(process.execPath, [join(root, "bin/ftune.js"), "info", "--json"], {
    env: { ...process.env, FTUNE_LIBTORCH: lib },
    encoding: "utf8",
  });
  assert.equal(cli.status, 0, cli.stderr);
  assert.deepEqual((({ torchLibDir, source }) => ({ torchLibDir, source }))(JSON.parse(cli.stdout)), {
    torchLibDir: lib,
    source: "FTUNE_LIBTORCH",
  });
});

test("a FTUNE_LIBTORCH without libtorch is one message saying what to set", () => {
  const r = runProbe({ FTUNE_LIBTORCH: join(root, "docs") });
  assert.notEqual(r.status, 0);
  assert.match(
    r.stderr,
    /EngineLoadError: FTUNE_LIBTORCH=\S+docs has no libc10\.so: set up the engine with `ftune engine setup` .*or set FTUNE_LIBTORCH to the torch\/lib folder/,
  );
});
