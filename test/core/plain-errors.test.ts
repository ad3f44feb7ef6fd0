// The two translations that keep internals out of messages: a full disk however it is
// reported (Node, SQLite, the engine, a library's debug dump), and values too deep or not
// finite, found without recursion.
import assert from "node:assert/strict";
import { test } from "node:test";

import { diskFullMessage, isDiskFull } from "../../app/core/disk-full.ts";
import { describeValueProblem, findValueProblem } from "../../app/core/plain-value.ts";

test("a full disk is recognized from every layer, and nothing else is", () => {
  const node = Object.assign(new Error("ENOSPC: no space left on device, write"), {
    code: "ENOSPC",
    path: "/data/uploads/a.csv",
  });
  const sqlite = Object.assign(new Error("SQLITE_FULL: database or disk is full"), { code: "SQLITE_FULL" });
  const engine = "cannot write the training state to /runs/3/fold-0/state: No space left on device (os error 28)";
  const dump =
    'safetensors error /runs/3/fold-0/best/model.safetensors: IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })';
  assert.equal(
    diskFullMessage(node, "saving the upload"),
    "The disk is full (no space to write /data/uploads/a.csv while saving the upload): free some space and try again.",
  );
  assert.equal(diskFullMessage(sqlite), "The disk is full (no space left on device): free some space and try again.");
  assert.match(diskFullMessage(engine) ?? "", /^The disk is full \(no space to write \/runs\/3\/fold-0\/state\)/);
  assert.match(
    diskFullMessage(new Error(dump)) ?? "",
    /no space to write \/runs\/3\/fold-0\/best\/model\.safetensors\)/,
  );
  for (const other of [new Error("ENOENT: no such file"), "NaN loss at step 3", new Error("error code: 280"), null]) {
    assert.equal(isDiskFull(other), false, String(other));
  }
});

test("nesting past the limit and non-finite numbers are found, at any depth, with their path", () => {
  let deep: unknown = 1;
  for (let i = 0; i < 200_000; i++) deep = [deep];
  const problem = findValueProblem({ config: { extra: deep } });
  assert.equal(problem?.kind, "too-deep");
  assert.equal(
    describeValueProblem(problem as NonNullable<typeof problem>, "the input"),
    "the input is nested too deeply: more than 32 levels (under config.extra[0][0][0][0]…)",
  );
  assert.equal(findValueProblem({ a: [[[1]]] }), null);
  const nan = findValueProblem({ optimizer: { lr: Number.NaN }, folds: { run: [0, Number.POSITIVE_INFINITY] } });
  assert.equal(
    describeValueProblem(nan as NonNullable<typeof nan>, "the config"),
    "optimizer.lr must be a finite number (got NaN)",
  );
  const inf = findValueProblem({ folds: { run: [0, Number.NEGATIVE_INFINITY] } });
  assert.equal(
    describeValueProblem(inf as NonNullable<typeof inf>, "the config"),
    "folds.run[1] must be a finite number (got -infinity)",
  );
});
