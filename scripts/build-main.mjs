#!/usr/bin/env node
// Bundles the Electron main process, its preload and the training utility-process entry into
// dist/main/ with esbuild (the app's TypeScript imports other .ts files directly, which tsc
// cannot emit as is). Native modules (sqlite3, the engine addon) and electron stay external.
import { join, resolve } from "node:path";
import { build } from "esbuild";

import { root } from "./env.mjs";

// The output folder: dist/main unless given (the packaging test builds into a temporary one).
const out = process.argv[2] ? resolve(process.argv[2]) : join(root, "dist/main");
const common = {
  bundle: true,
  platform: "node",
  target: "node22",
  sourcemap: "linked",
  external: ["electron", "sqlite3"],
  logLevel: "warning",
};
// Bundled CommonJS dependencies call require(); an ES module has none, so give it one.
const requireShim =
  "import { createRequire as __ftuneRequire } from 'node:module'; const require = __ftuneRequire(import.meta.url);";

await Promise.all([
  build({
    ...common,
    entryPoints: [join(root, "app/main/main.ts")],
    outfile: join(out, "main.js"),
    format: "esm",
    banner: { js: requireShim },
  }),
  build({
    ...common,
    entryPoints: [join(root, "app/main/utility-worker.ts")],
    outfile: join(out, "worker.js"),
    format: "esm",
    banner: { js: requireShim },
  }),
  // A sandboxed preload must be a single CommonJS script that requires only "electron".
  build({
    ...common,
    entryPoints: [join(root, "app/main/preload.ts")],
    outfile: join(out, "preload.cjs"),
    format: "cjs",
  }),
]);
process.stderr.write(`build-main: wrote ${out}/{main.js,preload.cjs,worker.js}\n`);
