#!/usr/bin/env node
// Copies the engine's GPU bench binary to bench/bin/ (git-ignored), ready to carry.
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { cargoTargetDir, root } from "./env.mjs";

mkdirSync(join(root, "bench/bin"), { recursive: true });
copyFileSync(join(cargoTargetDir(), "release/examples/train_bench"), join(root, "bench/bin/train_bench"));
console.log("bench/bin/train_bench ready: carry it with `bench/` to the GPU machine and run bash bench/gpu.sh");
