#!/usr/bin/env node
// Runs cargo on native/ with the environment the set-up uses (which libtorch, which target
// folder), so `npm run lint:rust` and friends build nothing twice.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { nativeBuildEnv, root } from "./env.mjs";

const args = process.argv.slice(2);
const r = spawnSync(
  "cargo",
  [...args.slice(0, 1), "--manifest-path", join(root, "native/Cargo.toml"), ...args.slice(1)],
  { stdio: "inherit", env: nativeBuildEnv() },
);
process.exit(r.status ?? 1);
