#!/usr/bin/env node
// Prepares what travels to a lent GPU machine (no Node, no Rust, no network; 64 MiB at most):
//   bench/bin/      the engine's stripped release binaries: train_bench, forward_dump, ablate_plan
//   bench/gpu-plan/ the CommonLit ablation as a plan (configs + data, gzipped), the article
//                   case's plan (article/: recipe, config, data, the engine's folds) and the
//                   bundled encoder with its weights in fp16 (45 MB instead of 91; they load into
//                   fp32 weights). About 60 MiB in all.
// Both folders are git-ignored. Then, on the GPU machine: bash bench/gpu.sh
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { bundledModelDir, cargoTargetDir, root, venvPython } from "./env.mjs";

const examples = ["train_bench", "forward_dump", "ablate_plan"];
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: "inherit", cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

run("node", [
  "scripts/cargo.mjs",
  "build",
  "--release",
  "-p",
  "ftune-engine",
  ...examples.flatMap((e) => ["--example", e]),
]);
mkdirSync(join(root, "bench/bin"), { recursive: true });
for (const e of examples) copyFileSync(join(cargoTargetDir(), "release/examples", e), join(root, "bench/bin", e));

const plan = join(root, "bench/gpu-plan");
rmSync(plan, { recursive: true, force: true });
run("node", ["bin/ftune.js", "ablate", "bench/ablation/commonlit-gpu.yaml", "--plan", plan]);
// gpu.sh unpacks it there: the carry is 64 MiB at most, and the fp16 model alone is 45 MB.
writeFileSync(join(plan, "plan.json.gz"), gzipSync(readFileSync(join(plan, "plan.json"))));
rmSync(join(plan, "plan.json"));
run(venvPython, ["bench/half_model.py", bundledModelDir(), join(plan, "model")]);
run("node", ["--import", "tsx", "bench/article_gpu_plan.ts", join(plan, "article")]);
console.log("ready: carry bench/bin and bench/gpu-plan to the GPU machine and run bash bench/gpu.sh there");
