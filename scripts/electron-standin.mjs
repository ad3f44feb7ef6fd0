#!/usr/bin/env node
// Writes a stand-in Electron distribution (dist/electron-standin/, or the folder given) for
// electron-builder's `electronDist` where Electron's binary cannot be downloaded. It is a test
// instrument, not a runtime: its `electron` is a shell script that runs the packaged app under
// Node with the fake `electron` module the app-shell tests use (electron-standin/launch.mjs).
// The script carries a fuse wire in Electron's format, with the states Electron ships, so
// electron-builder's `electronFuses` are flipped in it as in a real binary and can be read back.
import { chmodSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

import { root } from "./env.mjs";

const out = process.argv[2] ? resolve(process.argv[2]) : join(root, "dist/electron-standin");
const SENTINEL = "dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX";
// Fuse wire v1, Electron's defaults in fuse order: RunAsNode on, cookie encryption off, NODE_OPTIONS
// on, --inspect on, ASAR integrity off, only-load-from-asar off, browser V8 snapshot off,
// file:// privileges on.
const DEFAULT_WIRE = "10110001";

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "standin"), { recursive: true });
mkdirSync(join(out, "resources"), { recursive: true });
const wire = `${SENTINEL}\x01${String.fromCharCode(DEFAULT_WIRE.length)}${DEFAULT_WIRE}`;
writeFileSync(
  join(out, "electron"),
  [
    "#!/bin/sh",
    "# Finetune Studio's stand-in for the Electron binary (tests only): runs the packaged app under Node.",
    `# fuse wire: ${wire}`,
    'here=$(dirname "$(readlink -f "$0")")',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion, not a template
    'exec "${FTUNE_STANDIN_NODE:-node}" "$here/standin/launch.mjs" "$@"',
    "",
  ].join("\n"),
  "latin1",
);
chmodSync(join(out, "electron"), 0o755);
for (const file of ["launch.mjs", "electron-hook.mjs"]) {
  copyFileSync(join(root, "scripts/electron-standin", file), join(out, "standin", file));
}
for (const file of ["fake-electron.mjs", "fake-parent-port.mjs"]) {
  copyFileSync(join(root, "test/app-shell", file), join(out, "standin", file));
}
// Where @electron/asar comes from: this checkout's node_modules (the stand-in never leaves it).
writeFileSync(join(out, "standin/project.mjs"), `export const PROJECT_ROOT = ${JSON.stringify(root)};\n`);
writeFileSync(join(out, "version"), "stand-in\n");
process.stderr.write(`electron-standin: wrote ${out}\n`);
