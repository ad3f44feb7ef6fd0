// The stand-in Electron's entry (a test instrument, never shipped to users): what the real binary
// does with a packaged app, done under Node. It reads resources/app.asar with @electron/asar
// (unpacked files come from app.asar.unpacked, as Electron redirects them), sets
// process.resourcesPath, maps the "electron" import onto the fake module the app-shell tests use,
// and starts the package's main entry. FTUNE_STANDIN_DRIVER names a script that imports the main
// entry itself and drives it (test/app-shell/electron-main-driver.mjs).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { createRequire, register } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

import { PROJECT_ROOT } from "./project.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const resources = join(here, "../resources");
const asarFile = join(resources, "app.asar");
if (!existsSync(asarFile)) {
  process.stderr.write(`electron stand-in: no packaged app at ${asarFile}\n`);
  process.exit(1);
}
const asar = createRequire(join(PROJECT_ROOT, "package.json"))("@electron/asar");

// One extraction per package build (keyed by the archive's size and time).
const stat = statSync(asarFile);
const key = createHash("sha256").update(`${asarFile}:${stat.size}:${stat.mtimeMs}`).digest("hex").slice(0, 12);
const appDir = join(process.env.FTUNE_STANDIN_CACHE ?? tmpdir(), `ftune-standin-${key}`);
if (!existsSync(join(appDir, "package.json"))) {
  const partial = `${appDir}.${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  asar.extractAll(asarFile, partial);
  try {
    renameSync(partial, appDir);
  } catch {
    rmSync(partial, { recursive: true, force: true }); // another launch won the race
  }
}

process.resourcesPath = resources;
register(pathToFileURL(join(here, "electron-hook.mjs")).href, {
  data: { fake: pathToFileURL(join(here, "fake-electron.mjs")).href },
});

const pkg = JSON.parse(readFileSync(join(appDir, "package.json"), "utf8"));
const main = join(appDir, pkg.main ?? "index.js");
const driver = process.env.FTUNE_STANDIN_DRIVER;
if (driver) {
  process.argv = [process.argv[0], driver, main, ...process.argv.slice(2)];
  await import(pathToFileURL(driver).href);
} else {
  await import(pathToFileURL(main).href);
}
