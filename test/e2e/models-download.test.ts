// The Models view downloads a model by id, against `ftune serve` pointed at a stand-in hub on
// 127.0.0.1 (HF_ENDPOINT): the typed id starts the download, a progress bar follows the bytes
// (held mid-file by the stand-in so that the bar is seen moving), then the model is listed in
// the cache and added in one click; an unknown id is one message.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { type FakeHub, startFakeHub } from "../helpers/fake-hub.ts";
import { fixtures } from "../helpers/python.ts";
import { openBrowser, openView, type Served, type Session, screenshot, serve, until } from "./harness.ts";

let hub: FakeHub;
let server: Served;
let session: Session;
const scratchDir = mkdtempSync(join(tmpdir(), "ftune-e2e-download-"));

before(async () => {
  hub = await startFakeHub({
    "acme/tiny-bert": { dir: fixtures()["bert-regression"] as string, commit: "3".repeat(40) },
  });
  server = await serve({ env: { HF_ENDPOINT: hub.url, HF_HOME: scratchDir, HF_TOKEN: "", HF_HUB_OFFLINE: "" } });
  session = await openBrowser(server.url);
});

after(async () => {
  await session?.browser.close();
  await server?.stop();
  await hub?.close();
  rmSync(scratchDir, { recursive: true, force: true });
});

test("models: an id typed in the Models view downloads with progress, then is added in one click", async () => {
  const { page } = session;
  await openView(page, "Models");
  const form = page.getByRole("form", { name: "Download a model by id" });
  const input = form.getByLabel("Download by id");

  await input.fill("acme/nope");
  await form.getByRole("button", { name: "Download" }).click();
  await page
    .getByRole("alert")
    .filter({ hasText: /acme\/nope was not found on http:\/\/127\.0\.0\.1:\d+/ })
    .waitFor();

  hub.stallAfter.set("model.safetensors", 60_000);
  await input.fill("acme/tiny-bert");
  await form.getByRole("button", { name: "Download" }).click();
  const status = page.getByLabel("Download of acme/tiny-bert");
  const bar = status.locator("progress");
  const held = await until(
    async () => Number((await bar.getAttribute("value").catch(() => null)) ?? 0),
    (v) => v >= 60_000,
    "the progress bar to show the bytes received before the stall",
  );
  assert.ok(held < Number(await bar.getAttribute("max")));
  assert.match((await status.textContent()) ?? "", /acme\/tiny-bert: 0\.\d MB of 0\.2 MB \(model\.safetensors\)/);
  await screenshot(page, "models-download-progress");
  hub.release();
  await status.getByText("downloaded, listed below").waitFor();

  const row = page
    .getByRole("table", { name: "Models in the Hugging Face cache" })
    .getByRole("row")
    .filter({ hasText: "acme/tiny-bert" });
  await row.getByRole("button", { name: "Add acme/tiny-bert" }).click();
  await page.getByRole("article", { name: "acme/tiny-bert" }).waitFor();
  await screenshot(page, "models-downloaded");
  assert.deepEqual(session.problems, []);
});
