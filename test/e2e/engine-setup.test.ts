// The first-run engine set-up screen in the browser, against `ftune serve` from a copy of the app
// whose addon has no RUNPATH (as in a package), so no engine loads until one is set up: the
// screen and its reason, a download from a package index on 127.0.0.1 with its progress bar,
// errors (an unreachable index; a downloaded engine that does not load), then an installed
// PyTorch 2.11 (the project venv) opening the app, with the engine named in the status bar.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Page } from "playwright-core";

import { type FixtureIndex, placeholderWheel, serveIndex } from "../helpers/wheel-index.ts";
import { checkoutWithoutEngine, openBrowser, type Served, type Session, screenshot, serve } from "./harness.ts";

const root = join(import.meta.dirname, "../..");
let appRoot: string;
let server: Served;
let index: FixtureIndex;
let session: Session;
let page: Page;

before(async () => {
  appRoot = checkoutWithoutEngine();
  index = await serveIndex([placeholderWheel(join(appRoot, "wheels"))]);
  server = await serve({ appRoot });
  session = await openBrowser(server.url);
  page = session.page;
});

after(async () => {
  await session?.browser.close();
  await server?.stop();
  await index?.close();
  if (appRoot) rmSync(appRoot, { recursive: true, force: true });
});

test("without an engine the app opens on the set-up screen, saying why", async () => {
  await page.getByRole("heading", { level: 1, name: "Set up the engine" }).waitFor();
  assert.match(
    (await page.getByTestId("engine-problem").textContent()) ?? "",
    /the engine cannot find libtorch \(libtorch_cpu\.so\)/,
  );
  assert.equal(await page.getByRole("navigation").count(), 0, "the views wait for the engine");
  await screenshot(page, "engine-setup");
});

test("an unreachable package index is one error on the screen", async () => {
  await page.getByLabel("Package index").fill("http://127.0.0.1:9/simple");
  await page.getByRole("button", { name: "Download and set up" }).click();
  const alert = page.getByRole("alert");
  await alert.waitFor();
  assert.match(
    (await alert.textContent()) ?? "",
    /The engine set-up failed.*cannot reach the package index http:\/\/127\.0\.0\.1:9\/simple/s,
  );
});

test("a download shows its progress; an engine that does not load is reported", async () => {
  index.throttle(150);
  await page.getByLabel("Package index").fill(index.url);
  await page.getByRole("button", { name: "Download and set up" }).click();
  const bar = page.getByRole("progressbar", { name: "Download progress" });
  await bar.waitFor();
  // Part-way: the bar and the byte count move before the download ends.
  await page.waitForFunction(() => {
    const p = document.querySelector("progress");
    return p !== null && p.value > 0 && p.value < p.max;
  });
  assert.match(
    (await page.getByTestId("engine-bytes").textContent()) ?? "",
    /torch-2\.11\.0\+cpu\S+\.whl: [\d.]+ of 0\.8 MB/,
  );
  await screenshot(page, "engine-setup-progress");
  const alert = page.getByRole("alert");
  await page.waitForFunction(() => document.querySelector("[role=alert]")?.textContent?.includes("cannot load"), null, {
    timeout: 60_000,
  });
  // The placeholder wheel's libraries are not libraries: the set-up says so instead of opening.
  assert.match(
    (await alert.textContent()) ?? "",
    /the engine set up in settings \(\S+torch-2\.11\.0\+cpu\/torch\/lib\)|cannot load \S+libc10\.so/,
  );
  assert.equal(await page.getByRole("navigation").count(), 0);
  await screenshot(page, "engine-setup-error");
});

test("an installed PyTorch 2.11 (a venv folder) sets the engine up and opens the app", async () => {
  await page.getByLabel(/Python, venv or conda folder/).fill(join(root, ".venv"));
  await page.getByRole("button", { name: "Use this PyTorch" }).click();
  await page.getByRole("navigation").waitFor({ timeout: 60_000 });
  await page.getByRole("heading", { level: 1, name: "Datasets" }).waitFor();
  assert.match(
    (await page.getByTestId("engine-source").textContent()) ?? "",
    /Engine: (CUDA|CPU) build, installed PyTorch/,
  );
  const status = await server.call("engineStatus", {});
  assert.equal(status.ready, true);
  assert.equal(status.engine?.source, "existing");
});

test("no console errors and no CSP violations on the way", () => {
  assert.deepEqual(session.problems, []);
});
