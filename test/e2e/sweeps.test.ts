// A sweep from the Sweeps view, against a real `ftune serve` and a local Ray on 127.0.0.1 (token
// auth): defined over an existing experiment (learning rate searched, 4 trials, 2 at once), its
// trials followed live (ranked table, metric per evaluation), ASHA's early stops shown, then its
// trials ranked in Compare (filtered to the sweep, with the settings that differ), and the best
// config trained as a K-fold experiment in one click.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Page } from "playwright-core";

import type { SweepInfo } from "../../app/core/api/contract.ts";
import { tinyConfig, tinyModel, writeTinyCsv } from "../app/helpers.ts";
import { ensureRaySetup } from "../helpers/ray-cluster.ts";
import { openBrowser, openView, type Served, type Session, screenshot, screenshotOf, serve, until } from "./harness.ts";

let server: Served;
let session: Session;
let page: Page;
const scratch = mkdtempSync(join(tmpdir(), "ftune-e2e-sweep-"));

before(async () => {
  ensureRaySetup();
  server = await serve({ env: { RAY_AUTH_MODE: "token", RAY_AUTH_TOKEN: "d".repeat(32) } });
  session = await openBrowser(server.url);
  page = session.page;
});

after(async () => {
  await session?.browser.close();
  await server?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

test("sweeps: start from the view, follow it live, compare its trials, train the best as K-fold", {
  timeout: 900_000,
}, async () => {
  // The base: an experiment over an imported dataset (the builder's own test covers making one).
  const model = await server.call("addModel", { path: tinyModel(), name: "tiny" });
  const dataset = await server.call("importDataset", {
    path: writeTinyCsv(scratch, 48),
    mapping: { text: "text", label: "target", id: "id" },
    task: "regression",
    modelId: model.id,
    maxLength: 32,
  });
  const base = await server.call("createExperiment", {
    name: "tiny base",
    datasetId: dataset.id,
    config: tinyConfig({ train: { epochs: 2, batch_size: 4, device: "cpu", seed: 5 }, eval: { every_steps: 3 } }),
  });

  await openView(page, "Sweeps");
  const form = page.getByRole("form", { name: "New sweep" });
  await form.getByLabel("Base experiment").selectOption({ label: base.name });
  await form.getByLabel("Sweep name").fill("lr search");
  assert.ok(await form.getByLabel("Search Learning rate", { exact: true }).isChecked());
  // LLRD decay and SWA fields need those techniques, which the base does not use.
  assert.ok(await form.getByLabel("Search LLRD decay").isDisabled());
  await form.getByLabel("Learning rate low", { exact: true }).fill("0.00001");
  await form.getByLabel("Learning rate high", { exact: true }).fill("0.01");
  await form.getByLabel("Trials", { exact: true }).fill("4");
  await form.getByLabel("Trials at once").fill("2");
  await form.getByLabel("Grace period").fill("1");
  await screenshot(page, "sweep-form");
  await form.getByRole("button", { name: "Start sweep" }).click();

  const table = page.getByRole("table", { name: "Trials, best first" });
  // Live: the table fills in as trials report, before the sweep has ended.
  await until(
    async () =>
      table
        .locator("tbody tr")
        .filter({ hasText: /running/ })
        .count(),
    (n) => n > 0,
    "a running trial in the table",
    300_000,
  );
  await until(
    () => page.getByTestId("sweep-chart").count(),
    (n) => n > 0,
    "the metric chart",
    300_000,
  );
  await screenshot(page, "sweep-running");

  const sweep = await until(
    async () => (await server.call("listSweeps", {}))[0] as SweepInfo,
    (s) => s.status !== "running",
    "the sweep to end",
    600_000,
  );
  assert.equal(sweep.status, "completed", sweep.error ?? "");
  assert.equal(sweep.trials.length, 4);
  assert.deepEqual(Object.keys(sweep.space), ["optimizer.lr"]);
  // Ranked by the metric (rmse: lower first), each trial one experiment.
  const metrics = sweep.trials.map((t) => t.metric).filter((m): m is number => m !== null);
  assert.deepEqual(
    metrics,
    [...metrics].sort((a, b) => a - b),
  );
  assert.equal(new Set(sweep.trials.map((t) => t.experimentId)).size, 4);

  await page.getByText("Best config").waitFor();
  await until(
    async () => table.locator("tbody tr").count(),
    (n) => n === 4,
    "four trial rows",
    30_000,
  );
  const rows = await table.locator("tbody tr").allTextContents();
  for (const t of sweep.trials.filter((x) => x.status === "stopped"))
    assert.ok(
      rows.some((r) => r.includes(`stopped early by ASHA after ${t.evaluations} evaluation`)),
      `trial ${t.key} shown as stopped early: ${rows.join(" | ")}`,
    );
  const yaml = await page.getByTestId("python-snippet").textContent();
  assert.match(yaml ?? "", new RegExp(`lr: ${String(sweep.bestParams?.["optimizer.lr"]).slice(0, 8)}`));
  await screenshot(page, "sweep-done");
  await screenshotOf(page.getByTestId("sweep-chart"), "sweep-chart");

  // Compare: the sweep's trials only, ranked, with the learning rate as the setting that differs.
  await page.getByRole("button", { name: "Compare trials" }).click();
  await page.getByRole("heading", { level: 1, name: "Compare" }).waitFor();
  const results = page.getByTestId("results-table");
  await until(
    async () => results.locator("tbody tr").count(),
    (n) => n === 4,
    "the four trials in Compare",
    30_000,
  );
  const names = await results.locator("tbody th[scope=row]").allTextContents();
  for (const name of names) assert.match(name, /^lr search trial \d: optimizer\.lr=/);
  // Ranked by each trial's best metric, as in the Sweeps view: trials ASHA stopped included.
  const compareRows = await server.call("compare", { sweepId: sweep.id });
  const idOf = new Map(compareRows.map((r) => [r.name, r.experimentId]));
  assert.deepEqual(
    names.map((n) => idOf.get(n)),
    sweep.trials.map((t) => t.experimentId),
  );
  const cells = await results.locator("tbody tr").allTextContents();
  for (const t of sweep.trials.filter((x) => x.status === "stopped"))
    assert.ok(cells.some((c) => c.includes(`stopped early by ASHA after ${t.evaluations} evaluation`)));
  const diff = page.getByTestId("settings-diff");
  await diff.getByText("optimizer.lr", { exact: true }).waitFor();
  // The trials differ in the searched field only.
  assert.deepEqual(await diff.locator("tbody th[scope=row]").allTextContents(), ["optimizer.lr"]);
  // Searched values read as 4 significant digits, the exact value on hover.
  const lrCells = await diff.locator("tbody tr").first().getByRole("cell").all();
  assert.equal(lrCells.length, sweep.trials.length);
  for (const cell of lrCells) {
    const exact = Number(await cell.getAttribute("title"));
    assert.ok(
      sweep.trials.some((t) => t.params["optimizer.lr"] === exact),
      `${exact} is a trial's value`,
    );
    assert.equal(await cell.textContent(), Number(exact.toPrecision(4)).toString());
  }
  await screenshot(page, "sweep-compare");
  // Every experiment again.
  await page.getByLabel("Show experiments").selectOption({ label: "every experiment" });
  await until(
    async () => results.locator("tbody tr").count(),
    (n) => n === 5,
    "every experiment in Compare",
    30_000,
  );

  // Train the best config over every fold in one click.
  await openView(page, "Sweeps");
  await page.getByRole("button", { name: "Train best as K-fold" }).click();
  await page.getByRole("heading", { level: 1, name: "Runs" }).waitFor();
  const experiments = await server.call("listExperiments", {});
  const best = experiments.find((e) => e.name === "lr search: best config, 2-fold");
  assert.ok(best, experiments.map((e) => e.name).join(", "));
  const config = best.config as { optimizer: { lr: number }; folds: { run: unknown } };
  assert.equal(config.optimizer.lr, sweep.bestParams?.["optimizer.lr"]);
  assert.equal(config.folds.run, "all");
  const runs = await server.call("listRuns", { experimentId: best.id });
  assert.deepEqual(runs.map((r) => r.fold).sort(), [0, 1]);
  await screenshot(page, "sweep-train-best");
  assert.deepEqual(session.problems, []);
});
