#!/usr/bin/env node
// `npm run package:dir`: electron-builder's unpacked Linux target (release/linux-unpacked/),
// offline. Builds the main bundle and the UI, then packages with the real Electron when
// node_modules/electron holds its binary, else with the stand-in (scripts/electron-standin.mjs):
// the package's layout, app.asar and native modules are then real, its executable is not.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

import { root } from "./env.mjs";

function run(cmd, args, env = process.env) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ["ignore", "inherit", "inherit"], env });
  if (r.status !== 0) {
    process.stderr.write(`package: '${cmd} ${args.join(" ")}' failed (exit ${r.status ?? r.signal})\n`);
    process.exit(r.status || 1);
  }
}

const realElectron = join(root, "node_modules/electron/dist");
let electronDist = realElectron;
if (!existsSync(join(realElectron, "electron"))) {
  electronDist = join(root, "dist/electron-standin");
  process.stderr.write("package: Electron's binary is not installed; packaging around the stand-in (tests only)\n");
  run(process.execPath, [join(root, "scripts/electron-standin.mjs"), electronDist]);
}
run(process.execPath, [join(root, "scripts/build-main.mjs")]);
run(process.execPath, [join(root, "scripts/setup.mjs"), "--renderer"]);
run(join(root, "node_modules/.bin/electron-builder"), [
  "--linux",
  "dir",
  "--publish",
  "never",
  `-c.electronDist=${electronDist}`,
]);
process.stderr.write(`package: ${join(root, "release/linux-unpacked")}\n`);
