// Pure parts of the desktop shell: the saved window state (defaults when the file is missing or
// damaged, positions off every screen dropped) and the security rules (which frames may use the
// IPC channel, a CSP without inline code or remote sources, the same policy in the page).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { CSP, isOwnFrame } from "../../app/main/security.ts";
import { loadWindowState, saveWindowState, visiblePosition, windowStateFile } from "../../app/main/window-state.ts";

test("window state: defaults first, then what was saved; damage falls back per field", () => {
  const dir = mkdtempSync(join(tmpdir(), "ftune-window-"));
  const file = windowStateFile(dir);
  const defaults = loadWindowState(file);
  assert.deepEqual(defaults, { width: 1320, height: 860, maximized: false, view: "datasets" });
  saveWindowState(file, { ...defaults, width: 1000, x: 10, y: 20, view: "runs" });
  assert.deepEqual(loadWindowState(file), { width: 1000, height: 860, x: 10, y: 20, maximized: false, view: "runs" });
  writeFileSync(file, JSON.stringify({ width: "wide", height: 700, view: "compare" }));
  assert.deepEqual(loadWindowState(file), { width: 1320, height: 700, maximized: false, view: "compare" });
  writeFileSync(file, "{ not json");
  assert.deepEqual(loadWindowState(file), defaults);
});

test("window state: a position on no screen is dropped (the window then centres)", () => {
  const screens = [{ x: 0, y: 0, width: 1920, height: 1080 }];
  const state = loadWindowState("/nonexistent/window-state.json");
  assert.deepEqual(visiblePosition({ ...state, x: 100, y: 50 }, screens), { x: 100, y: 50 });
  assert.deepEqual(visiblePosition({ ...state, x: 2500, y: 50 }, screens), {});
  assert.deepEqual(visiblePosition(state, screens), {});
});

test("IPC is accepted only from the app's own page", () => {
  assert.ok(isOwnFrame({ url: "app://renderer/index.html#view=runs" }));
  for (const url of [
    "file:///tmp/index.html",
    "https://renderer/index.html",
    "app://other/index.html",
    "",
    "not a url",
  ]) {
    assert.equal(isOwnFrame({ url }), false, url);
  }
  assert.equal(isOwnFrame(null), false);
});

test("the CSP allows no inline or eval'd code and no remote source, and the page carries the same rules", () => {
  const directives = new Map(
    CSP.split(";")
      .map((d) => d.trim().split(/\s+/) as [string, ...string[]])
      .map(([k, ...v]) => [k, v]),
  );
  for (const [name, sources] of directives) {
    for (const s of sources) assert.match(s, /^'(self|none)'$|^data:$/, `${name} allows ${s}`);
  }
  assert.deepEqual(directives.get("script-src"), ["'self'"]);
  assert.deepEqual(directives.get("style-src"), ["'self'"]);
  const meta = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(
    readFileSync(join(import.meta.dirname, "../../renderer/index.html"), "utf8"),
  )?.[1];
  assert.ok(meta, "renderer/index.html has a CSP meta tag");
  for (const name of ["script-src", "style-src", "connect-src", "object-src"]) {
    assert.match(meta, new RegExp(`${name} ${directives.get(name)?.join(" ")}`), name);
  }
});
