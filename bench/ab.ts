// `node --import tsx bench/ab.ts OLD_CHECKOUT [REPS]`: did a change make training slower? The
// MiniLM-L6 training case of `npm run bench`, run by an older checkout's engine (its own
// bench/ours.ts and built addon) and by this one's, interleaved (the order alternates each
// repetition) with the PyTorch loop after each pair; prints each repetition and then the median
// (min–max) of new/old and of each against the loop. Build the old checkout's addon first
// (`git worktree add DIR REV`, then its `node scripts/setup.mjs`, or `napi build` with
// CARGO_TARGET_DIR set to a copy of the target folder). A benchmark, never a test.
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

import { bundledModelDir, root, venvPython } from "../scripts/env.mjs";
import { miniLmCase, spread, texts, trainSettings } from "./common.ts";

const [oldArg, repsArg] = process.argv.slice(2);
if (!oldArg || !existsSync(join(oldArg, "bench/ours.ts"))) {
  throw new Error("usage: bench/ab.ts OLD_CHECKOUT [REPS] (a checkout with bench/ours.ts and a built addon)");
}
const oldRoot = resolve(oldArg);
// npm run bench's MiniLM training request, as bench/run.ts builds it.
const request = { ...miniLmCase, dir: bundledModelDir(), ...texts(), ...trainSettings };
const file = join(tmpdir(), `ftune-ab-${process.pid}.json`);
writeFileSync(file, JSON.stringify(request));

/** Samples/s of one measurement: the last JSON line's `field`. */
function measure(cwd: string, cmd: string, args: string[], field: string): number {
  const out = execFileSync(cmd, [...args, file], {
    cwd,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, HF_HUB_OFFLINE: "1", TRANSFORMERS_VERBOSITY: "error", TQDM_DISABLE: "1" },
  });
  return Number(JSON.parse(out.trim().split("\n").at(-1) ?? "{}")[field]);
}

const ours = (cwd: string) => measure(cwd, process.execPath, ["--import", "tsx", "bench/ours.ts", "train"], "train");
const reps = Number(repsArg) || 4;
const runs: { old: number; new: number; loop: number }[] = [];
for (let i = 0; i < reps; i++) {
  const r = { old: Number.NaN, new: Number.NaN, loop: Number.NaN };
  for (const which of i % 2 ? (["new", "old"] as const) : (["old", "new"] as const)) {
    r[which] = ours(which === "old" ? oldRoot : root);
  }
  r.loop = measure(root, venvPython, ["bench/reference_bench.py", "plain"], "plain");
  runs.push(r);
  console.log(JSON.stringify({ rep: i + 1, ...r }));
}
console.log(
  `median (min–max) over ${reps} interleaved repetitions: new/old ${spread(runs.map((r) => r.new / r.old), 2, "×")}; ` +
    `old vs PyTorch loop ${spread(runs.map((r) => r.old / r.loop), 2, "×")}; new vs loop ${spread(runs.map((r) => r.new / r.loop), 2, "×")}; ` +
    `samples/s old ${spread(runs.map((r) => r.old))}, new ${spread(runs.map((r) => r.new))}, loop ${spread(runs.map((r) => r.loop))}`,
);
