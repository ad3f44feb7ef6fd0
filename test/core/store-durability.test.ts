// WAL durability: a writer killed with SIGKILL in the middle of its work leaves a database that
// passes integrity_check and holds every metric whose flush() had resolved before the kill.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, test } from "node:test";

import { openStore, queryMetrics } from "../../app/core/store/index.ts";
import { scratchDir } from "./helpers.ts";

const scratch = scratchDir("durability");
after(scratch.cleanup);
const root = join(import.meta.dirname, "../..");

test("metrics flushed before a SIGKILL survive it, and the database is intact", async () => {
  const dir = join(scratch.dir, "data");
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "fixtures/metrics-child.ts"), dir],
    {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));

  let runId = 0;
  let flushedSteps = 0;
  let flushes = 0;
  for await (const line of createInterface({ input: child.stdout })) {
    const m = /^flushed (\d+) (\d+)$/.exec(line);
    assert.ok(m, `unexpected child output: ${line}`);
    runId = Number(m[1]);
    flushedSteps = Number(m[2]);
    // Kill while the child is busy writing the next batches, not between runs of the test.
    if (++flushes === 25) {
      child.kill("SIGKILL");
      break;
    }
  }
  assert.equal(await exited, "SIGKILL", `the child did not run until killed:\n${stderr}`);
  assert.ok(flushedSteps > 0);

  const store = await openStore(dir);
  try {
    const check = await store.all<{ integrity_check: string }>("PRAGMA integrity_check");
    assert.deepEqual(check, [{ integrity_check: "ok" }]);
    const points = await queryMetrics(store, runId, { name: "loss" });
    assert.ok(points.length >= flushedSteps, `only ${points.length} of ${flushedSteps} flushed points survived`);
    // Whole batches only: a batch is committed entirely or not at all.
    assert.equal(points.length % 200, 0);
    points.slice(0, flushedSteps).forEach((p, i) => {
      assert.equal(p.step, i);
    });
  } finally {
    await store.close();
  }
});
