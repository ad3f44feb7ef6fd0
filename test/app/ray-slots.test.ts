// How many folds the Ray backend keeps in flight: one per GPU by default, 1/share per GPU with
// --ray-gpus-per-fold (several folds of a small model on one GPU), CPUs / --ray-cpus-per-fold
// without GPUs; and the flag's bad values as one usage line.
import assert from "node:assert/strict";
import { after, test } from "node:test";

import { raySlots } from "../../app/core/runs/ray/bridge.ts";
import { ftune, scratchHome } from "./helpers.ts";

const home = scratchHome("ray-slots");
after(() => home.cleanup());

const cluster = (resources: Record<string, number>) => ({ nodes: [], resources });

test("folds in flight: per GPU share, else per CPUs", () => {
  assert.equal(raySlots(cluster({ CPU: 16, GPU: 1 }), {}), 1);
  assert.equal(raySlots(cluster({ CPU: 16, GPU: 1 }), { gpusPerFold: 0.5 }), 2);
  assert.equal(raySlots(cluster({ CPU: 32, GPU: 4 }), { gpusPerFold: 0.25 }), 16);
  assert.equal(raySlots(cluster({ CPU: 8 }), { cpusPerFold: 2 }), 4);
  assert.equal(raySlots(cluster({ CPU: 1 }), { cpusPerFold: 4 }), 1, "never fewer than one");
});

test("--ray-gpus-per-fold takes a share above 0", async () => {
  for (const bad of ["0", "-1", "half"]) {
    const r = await ftune(["train", "missing.yaml", "--backend", "ray", "--ray-gpus-per-fold", bad], home.dir);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--ray-gpus-per-fold .* is invalid\. give a number above 0/);
    assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, "no stack trace");
  }
});
