// electron-builder's afterPack hook: the engine addon leaves the build machine without the RUNPATH
// its build baked in (a folder in the builder's home, meaningless on a user's machine). A packaged
// app finds libtorch through the engine its user set up (settings), loaded before the addon
// (app/native/libtorch.ts). Linux only so far: the addon is built for Linux x86-64 only.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** The .node files under `dir` (recursively). */
function nativeModules(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return nativeModules(path);
    return entry.name.endsWith(".node") ? [path] : [];
  });
}

export default async function afterPack(context) {
  if (context.electronPlatformName !== "linux") return;
  const unpacked = join(context.appOutDir, "resources/app.asar.unpacked/native");
  const addons = nativeModules(unpacked);
  if (addons.length === 0) throw new Error(`after-pack: no engine addon in ${unpacked}`);
  for (const addon of addons) {
    try {
      execFileSync("patchelf", ["--remove-rpath", addon], { stdio: "pipe" });
    } catch (err) {
      const missing = err.code === "ENOENT";
      throw new Error(
        missing
          ? "after-pack: patchelf is needed to strip the addon's build-machine RUNPATH (apt-get install patchelf)"
          : `after-pack: patchelf failed on ${addon}: ${String(err.stderr ?? err.message).trim()}`,
      );
    }
  }
}
