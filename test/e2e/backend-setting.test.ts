// The backend control under the engine status in the sidebar, in the browser against `ftune
// serve`: it shows where runs train, saves Ray with a cluster address (a bad one is refused in
// one line), says the change takes effect when the app restarts, and goes back to local.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Page } from "playwright-core";

import { openBrowser, type Served, type Session, screenshotOf, serve } from "./harness.ts";

let server: Served;
let session: Session;
let page: Page;

before(async () => {
  server = await serve({ env: { FTUNE_BACKEND: "", FTUNE_RAY_ADDRESS: "" } });
  session = await openBrowser(server.url);
  page = session.page;
});

after(async () => {
  await session?.browser.close();
  await server?.stop();
});

test("the backend control saves Ray with an address, for the next start", async () => {
  const panel = page.getByTestId("backend-setting");
  await panel.getByText("Runs: local").waitFor();
  await panel.getByRole("button", { name: "change" }).click();
  await panel.getByLabel("Backend").selectOption("ray");
  await panel.getByLabel("Cluster address").fill("head.lan");
  await panel.getByRole("button", { name: "Save" }).click();
  await panel.getByText(/a Ray address is host:port/).waitFor();
  await screenshotOf(panel, "backend-setting-edit");

  await panel.getByLabel("Cluster address").fill("head.lan:6379");
  await panel.getByRole("button", { name: "Save" }).click();
  await panel.getByText("Saved: Ray · head.lan:6379. Takes effect when the app restarts.").waitFor();
  // This server keeps training where it started.
  assert.match((await panel.textContent()) ?? "", /Runs: local/);
  await screenshotOf(panel, "backend-setting-saved");
  assert.deepEqual((await server.call("backendSettings", {})).saved, { backend: "ray", rayAddress: "head.lan:6379" });

  await panel.getByRole("button", { name: "change" }).click();
  await panel.getByLabel("Backend").selectOption("local");
  await panel.getByRole("button", { name: "Save" }).click();
  await panel.getByRole("button", { name: "change" }).waitFor();
  assert.equal(await panel.getByText(/Takes effect/).count(), 0);
  assert.deepEqual((await server.call("backendSettings", {})).saved, { backend: "local", rayAddress: null });
  assert.deepEqual(session.problems, []);
});

test("local folds at once: saved from the control, and the next `ftune serve` trains that many at once", async () => {
  const panel = page.getByTestId("backend-setting");
  await panel.getByRole("button", { name: "change" }).click();
  await panel.getByLabel("Backend").selectOption("local");
  await panel.getByLabel("Folds at once").fill("2");
  await screenshotOf(panel, "backend-setting-folds-at-once");
  await panel.getByRole("button", { name: "Save" }).click();
  await panel.getByText("Saved: local · 2 folds at once. Takes effect when the app restarts.").waitFor();
  assert.deepEqual((await server.call("backendSettings", {})).foldsAtOnce, { active: 1, saved: 2 });

  // The same data folder served again: its queue trains two folds at once.
  const next = await serve({ env: { FTUNE_BACKEND: "", FTUNE_RAY_ADDRESS: "", FTUNE_HOME: server.home } });
  try {
    assert.deepEqual((await next.call("backendSettings", {})).foldsAtOnce, { active: 2, saved: 2 });
  } finally {
    await next.stop();
  }
  assert.deepEqual(session.problems, []);
});
