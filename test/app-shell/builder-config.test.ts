// electron-builder.yml: the packaging settings a broken desktop build would not reveal until
// someone installs it (targets per OS, the files the app loads, native libraries outside asar).
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, matchesGlob } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { z } from "zod";

const root = join(import.meta.dirname, "../..");
const read = (file: string) => readFileSync(join(root, file), "utf8");

const targets = (...required: string[]) =>
  z
    .array(z.union([z.string(), z.object({ target: z.string() }).loose()]))
    .transform((list) => list.map((t) => (typeof t === "string" ? t : t.target)))
    .refine((list) => required.every((r) => list.includes(r)), `targets must include ${required.join(", ")}`);

const BuilderConfig = z
  .object({
    appId: z.string().regex(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i, "appId must be a reverse-DNS id"),
    productName: z.literal("Finetune Studio"),
    extraMetadata: z.object({ main: z.string() }).loose(),
    files: z.array(z.string()).min(1),
    asar: z.literal(true),
    asarUnpack: z.array(z.string()).min(1),
    npmRebuild: z.literal(false),
    linux: z.object({ target: targets("AppImage", "deb") }).loose(),
    win: z.object({ target: targets("nsis") }).loose(),
    mac: z.object({ target: targets("dmg") }).loose(),
  })
  .loose();

const config = BuilderConfig.parse(parse(read("electron-builder.yml")));
const includes = (patterns: string[], file: string) => {
  // electron-builder applies patterns in order; a later "!pattern" excludes again.
  let inside = false;
  for (const p of patterns) {
    if (p.startsWith("!")) {
      if (matchesGlob(file, p.slice(1))) inside = false;
    } else if (matchesGlob(file, p)) inside = true;
  }
  return inside;
};

test("the packaged main entry is the one package.json and the build script use", () => {
  const pkg = JSON.parse(read("package.json")) as { main: string; scripts: Record<string, string> };
  assert.equal(config.extraMetadata.main, "dist/main/main.js");
  assert.equal(pkg.main, config.extraMetadata.main);
  assert.match(read("scripts/build-main.mjs"), /outfile: join\(out, "main\.js"\)/);
});

test("files include the main bundle, preload, worker, the renderer build and the engine addon", () => {
  for (const file of [
    "dist/main/main.js",
    "dist/main/preload.cjs",
    "dist/main/worker.js",
    "renderer/dist/index.html",
    "renderer/dist/assets/index-abc123.js",
    "native/index.js",
    "native/package.json",
    "native/ftune.linux-x64-gnu.node",
    "package.json",
  ]) {
    assert.ok(includes(config.files, file), `files must include ${file}`);
  }
});

test("every native library is unpacked from app.asar (the addon and sqlite3's binding)", () => {
  const nodeFiles = [
    ...readdirSync(join(root, "native"))
      .filter((f) => f.endsWith(".node"))
      .map((f) => `native/${f}`),
    "native/ftune.win32-x64-msvc.node",
    "node_modules/sqlite3/build/Release/node_sqlite3.node",
  ];
  assert.ok(existsSync(join(root, "node_modules/sqlite3/build/Release/node_sqlite3.node")), "sqlite3 is built");
  for (const file of nodeFiles) {
    assert.ok(
      config.asarUnpack.some((p) => matchesGlob(file, p)),
      `asarUnpack must cover ${file}`,
    );
  }
});

test("targets: AppImage and deb on Linux, an NSIS installer on Windows, a dmg on macOS", () => {
  // The schema above checks these too; restated so a failure names the OS.
  assert.ok(config.linux.target.includes("AppImage") && config.linux.target.includes("deb"), "linux targets");
  assert.ok(config.win.target.includes("nsis"), "windows target");
  assert.ok(config.mac.target.includes("dmg"), "macOS target");
});

test("the schema rejects a config that lost a target or an unpack rule", () => {
  const broken = structuredClone(parse(read("electron-builder.yml"))) as Record<string, unknown>;
  (broken.linux as { target: string[] }).target = ["AppImage"];
  assert.equal(BuilderConfig.safeParse(broken).success, false);
  const noUnpack = { ...(parse(read("electron-builder.yml")) as object), asarUnpack: [] };
  assert.equal(BuilderConfig.safeParse(noUnpack).success, false);
});
