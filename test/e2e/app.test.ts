// The browser UI end to end, against a real `ftune serve` and a tiny BERT: add (and remove) a
// model by path, import a CSV (file input) and a bad one (a drop on the window), build
// experiments from presets while the LR preview follows the settings (every problem shown at
// once, warnings), train, watch live progress (charts with no gap after re-opening mid-run,
// hover values, theme switches), cancel (confirmed), resume and re-run, compare experiments,
// export a checkpoint to the default folder; Back and Forward move between views. Each view is
// saved to test-results/screenshots/.
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Locator, Page } from "playwright-core";

import { fixtures } from "../helpers/python.ts";
import { openBrowser, openView, type Served, type Session, screenshot, screenshotOf, serve, until } from "./harness.ts";

let server: Served;
let session: Session;
let page: Page;
let model: string;
const outDir = mkdtempSync(join(tmpdir(), "ftune-e2e-export-"));

/** 48 short reviews whose score grows with their length: learnable, fast to tokenize. */
function reviewsCsv(): string {
  const words = ["good", "plot", "slow", "bright", "story", "actors", "dull", "music", "ending", "warm", "long", "fun"];
  const rows = ["id,text,score"];
  for (let i = 0; i < 48; i++) {
    const n = 2 + (i % 9);
    const text = Array.from({ length: n }, (_, k) => words[(i + k * 5) % words.length]).join(" ");
    rows.push(`r${i},"${text}",${(n / 3 + (i % 3) * 0.1).toFixed(2)}`);
  }
  return `${rows.join("\n")}\n`;
}

const BAD_CSV = 'text,score\n"fine text",1.5\n"another",not-a-number\n"",2.0\n"last",3\n';

before(async () => {
  [server, model] = await Promise.all([serve(), Promise.resolve(fixtures()["bert-regression"] as string)]);
  session = await openBrowser(server.url);
  page = session.page;
});

after(async () => {
  await session?.browser.close();
  await server?.stop();
  rmSync(outDir, { recursive: true, force: true });
});

const field = (label: string) => page.getByLabel(label, { exact: true });
/** An element's text with runs of whitespace (template indentation) as single spaces. */
const text = async (locator: Locator) => ((await locator.textContent()) ?? "").replace(/\s+/g, " ").trim();

test("the token leaves the address bar, and Ctrl+2 opens the models view", async () => {
  assert.doesNotMatch(page.url(), /token=/);
  await page.keyboard.press("Control+2");
  await page.getByRole("heading", { level: 1, name: "Models" }).waitFor();
});

test("each view has its address: Back and Forward move between views inside the app", async () => {
  assert.match(page.url(), /#view=models$/);
  await openView(page, "Compare");
  assert.match(page.url(), /#view=compare$/);
  await page.goBack();
  await page.getByRole("heading", { level: 1, name: "Models" }).waitFor();
  assert.match(page.url(), /#view=models$/);
  await page.goForward();
  await page.getByRole("heading", { level: 1, name: "Compare" }).waitFor();
  await page.goBack();
  await page.getByRole("heading", { level: 1, name: "Models" }).waitFor();
});

test("models: a Hugging Face folder is added by path and summarized", async () => {
  await field("Folder path").fill(model);
  await page.getByLabel(/^Name/).fill("tiny-bert");
  await page.getByRole("button", { name: "Add model" }).click();
  const card = page.getByRole("article", { name: "tiny-bert" });
  await card.waitFor();
  const summary = await text(card);
  assert.match(summary, /bert/i);
  assert.match(summary, /Layers\s*3/);
  await screenshot(page, "models");
});

test("models: an added model is removed after a confirmation; its folder stays", async () => {
  const copy = join(outDir, "model-copy");
  cpSync(model, copy, { recursive: true });
  await field("Folder path").fill(copy);
  await page.getByLabel(/^Name/).fill("spare");
  await page.getByRole("button", { name: "Add model" }).click();
  const card = page.getByRole("article", { name: "spare" });
  await card.waitFor();
  await card.getByRole("button", { name: "Remove…" }).click();
  await screenshot(page, "models-remove");
  await card.getByRole("button", { name: "Remove", exact: true }).click();
  await card.waitFor({ state: "detached" });
  assert.ok(!(await server.call("listModels", {})).some((m) => m.name === "spare"));
  assert.ok(existsSync(join(copy, "config.json")));
  assert.equal(await page.getByRole("article", { name: "tiny-bert" }).count(), 1);
});

test("models: the Hugging Face cache is listed and a model in it is added by its id", async () => {
  // The hub's layout: content in blobs/, refs/main naming a commit, a snapshot of links.
  const commit = "0123456789abcdef0123456789abcdef01234567";
  const repo = join(server.home, "hf-hub", "models--acme--tiny-bert");
  mkdirSync(join(repo, "snapshots", commit), { recursive: true });
  mkdirSync(join(repo, "blobs"), { recursive: true });
  mkdirSync(join(repo, "refs"), { recursive: true });
  for (const [i, file] of readdirSync(model).entries()) {
    cpSync(join(model, file), join(repo, "blobs", `b${i}`));
    symlinkSync(`../../blobs/b${i}`, join(repo, "snapshots", commit, file));
  }
  writeFileSync(join(repo, "refs", "main"), commit);
  await openView(page, "Datasets");
  await openView(page, "Models");
  const cache = page.getByRole("table", { name: "Models in the Hugging Face cache" });
  const row = cache.getByRole("row").filter({ hasText: "acme/tiny-bert" });
  await row.waitFor();
  const cells = await row.getByRole("cell").allTextContents();
  assert.deepEqual(
    cells.slice(0, 3).map((c) => c.trim()),
    ["acme/tiny-bert", "bert", "3"],
  );
  await row.getByRole("button", { name: "Add acme/tiny-bert" }).click();
  await page.getByRole("article", { name: "acme/tiny-bert" }).waitFor();
  await row.getByText("added").waitFor();
  await screenshot(page, "models-hf-cache");
});

test("datasets: a CSV chosen with the file input is mapped, imported and described", async () => {
  await openView(page, "Datasets");
  await page.getByTestId("file-input").setInputFiles({
    name: "reviews.csv",
    mimeType: "text/csv",
    buffer: Buffer.from(reviewsCsv()),
  });
  const form = page.getByRole("form", { name: "Import settings" });
  await form.waitFor();
  // The importer's suggestion: the long text column and the numeric "score".
  assert.equal(await form.getByLabel("Text column").inputValue(), "text");
  assert.equal(await form.getByLabel("Label column").inputValue(), "score");
  await form.getByLabel("Token budget (max_length)").fill("32");
  await form.getByLabel("Tokenizer of").selectOption({ label: "tiny-bert" });
  await form.getByRole("button", { name: "Import dataset" }).click();
  const dataset = page.getByRole("article", { name: "Dataset reviews" });
  await dataset.waitFor();
  await dataset.getByRole("img", { name: /Label histogram/ }).waitFor();
  assert.match(await text(dataset), /48 rows/);
  assert.match(await text(dataset), /fits in 32 tokens|longer than 32 tokens/);
  await screenshot(page, "datasets");
});

test("datasets: a file dropped on another view opens here and its bad rows are listed", async () => {
  await openView(page, "Models");
  await page.evaluate((csv) => {
    const data = new DataTransfer();
    data.items.add(new File([csv], "bad.csv", { type: "text/csv" }));
    const target = document.querySelector("main h1") as HTMLElement;
    for (const type of ["dragenter", "dragover", "drop"]) {
      target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: data }));
    }
  }, BAD_CSV);
  await page.getByRole("heading", { level: 1, name: "Datasets" }).waitFor();
  const form = page.getByRole("form", { name: "Import settings" });
  await form.getByRole("heading", { name: /bad\.csv/ }).waitFor();
  // "not-a-number" makes the label column look like classes; this file is meant for regression.
  await form.getByLabel("Task").selectOption("regression");
  await form.getByRole("button", { name: "Import dataset" }).click();
  const problems = page.getByRole("alert").filter({ hasText: "problems to fix" });
  await problems.waitFor();
  const listed = await text(problems);
  assert.match(listed, /Row 3\b.*not-a-number/);
  assert.match(listed, /Row 4\b/);
  await screenshot(page, "datasets-problems");
  await form.getByRole("button", { name: "Cancel" }).click();
  assert.equal((await server.call("listDatasets", {})).length, 1, "the bad file was not imported");
});

/** The preview's per-group LRs, e.g. { "layer.0": 4.1e-5, … }, read in one go (never mid-update). */
function groupLrs(): Promise<Record<string, number>> {
  return page
    .getByTestId("group-lrs")
    .evaluate((table) =>
      Object.fromEntries(
        [...table.querySelectorAll("tbody tr")].map((tr) => [
          (tr as HTMLTableRowElement).cells[0]?.textContent?.trim() ?? "",
          Number((tr as HTMLTableRowElement).cells[1]?.textContent),
        ]),
      ),
    );
}

/** Layer i of 3 gets top_lr · decay^(2 − i): the ratio of layer 1 to layer 2 is the decay. */
const decayShown = (g: Record<string, number>) => (g["layer.1"] ?? Number.NaN) / (g["layer.2"] ?? Number.NaN);
const near = (a: number, b: number) => Math.abs(a - b) < 0.01 * b;

async function setUpTinyExperiment(preset: string, name: string) {
  await openView(page, "Experiment builder");
  await page.getByRole("button", { name: preset, exact: true }).click();
  await field("Dataset").selectOption({ label: "reviews · 48 rows" });
  await field("Encoder").selectOption({ label: "tiny-bert" });
  await field("Max length (tokens)").fill("32");
  await field("Folds (k)").fill("2");
  await field("Experiment name").fill(name);
}

test("builder: a preset fills every technique and the LR preview follows the decay", async () => {
  await setUpTinyExperiment("Article: all techniques", "Article (tiny)");
  await field("Evaluate every (steps)").fill("2");
  for (const on of [
    "Layer-wise LR decay",
    "Schedule and warm-up",
    "Re-initialize top layers",
    "Stochastic weight averaging",
  ]) {
    const tag = page.getByRole("group", { name: new RegExp(on) }).locator("legend .tag");
    assert.equal(await text(tag), "on", `${on} is on`);
  }
  await until(groupLrs, (g) => Object.keys(g).length >= 5, "the preview's groups");
  const facts = await text(page.getByTestId("schedule-facts"));
  assert.match(facts, /warm-up [1-9]\d* steps/);
  assert.match(facts, /SWA from step \d+/);

  const before = await until(groupLrs, (g) => near(decayShown(g), 0.9), "the preset's decay (0.9) in the preview");
  await field("Decay per layer").fill("0.5");
  const afterChange = await until(groupLrs, (g) => near(decayShown(g), 0.5), "the preview to follow decay 0.5");
  // Every layer below the top slows down by (0.5 / 0.9)^depth; the top layer and head stay.
  assert.ok(near((afterChange["layer.0"] as number) / (before["layer.0"] as number), (0.5 / 0.9) ** 2));
  assert.equal(afterChange["layer.2"], before["layer.2"]);
  assert.equal(afterChange.head, before.head);

  // 5 folds of 48 rows hold 38 or 39 training rows: at batch 2 that is 19 or 20 steps an
  // epoch. The preview shows the fold picked, from the engine's plan, and says folds differ.
  const batch = await field("Batch size").inputValue();
  await field("Folds (k)").fill("5");
  await field("Batch size").fill("2");
  await page.getByTestId("folds-differ").waitFor();
  const lengths = await page.locator("#lr-fold option").allTextContents();
  assert.equal(lengths.length, 5);
  assert.ok(lengths.some((o) => /39 training rows/.test(o)) && lengths.some((o) => /38 training rows/.test(o)));
  const longFold = lengths.findIndex((o) => /39 training rows/.test(o));
  await page.locator("#lr-fold").selectOption(String(longFold));
  await until(
    () => text(page.getByTestId("schedule-facts")),
    (t) => t.startsWith(`Fold ${longFold}: `) && /\(20 per epoch\)/.test(t),
    "the picked fold's own steps",
  );
  await screenshot(page, "builder-folds-differ");
  await field("Folds (k)").fill("2");
  await field("Batch size").fill(batch);

  // Two invalid values: both messages at once, each next to its field, in plain words; Create
  // is off and says why, and takes the user to the first problem.
  await field("Decay per layer").fill("1.5");
  await field("Epochs").fill("-5");
  const decayField = page.locator(".field").filter({ has: field("Decay per layer") });
  const epochsField = page.locator(".field").filter({ has: field("Epochs") });
  await decayField.getByRole("alert").filter({ hasText: "llrd.decay must be in (0, 1]" }).waitFor();
  await epochsField.getByRole("alert").filter({ hasText: "train.epochs cannot be negative, got -5" }).waitFor();
  assert.equal(await field("Decay per layer").getAttribute("aria-invalid"), "true");
  assert.equal(await field("Epochs").getAttribute("aria-invalid"), "true");
  assert.doesNotMatch(await text(page.locator("main")), /usize|invalid value|expected/);
  const create = page.getByRole("button", { name: "Create and start runs" });
  assert.equal(await create.isDisabled(), true);
  assert.match(await text(page.locator("#create-reason")), /2 settings need fixing/);
  await screenshot(page, "builder-invalid");
  await page.getByRole("button", { name: "Show the first" }).click();
  await until(
    () => page.evaluate(() => document.activeElement?.id ?? ""),
    (id) => id === "field-llrd.decay" || id === "field-train.epochs",
    "focus on the first problem",
  );
  await field("Epochs").fill("3");
  await epochsField.getByRole("alert").waitFor({ state: "detached" });
  await decayField.getByRole("alert").waitFor();
  await field("Decay per layer").fill("0.8");
  await decayField.getByRole("alert").waitFor({ state: "detached" });
  assert.equal(await create.isDisabled(), false);
  await until(groupLrs, (g) => near(decayShown(g), 0.8), "the preview to follow decay 0.8");

  // Warnings: SWA's LR replaces the layer-wise rates (the table shows the rate under SWA: once
  // the annealing is over, swa.lr for every group), and a warm-up as long as the run.
  await field("Anneal steps").fill("1");
  const swaTable = page.getByTestId("swa-lrs");
  await swaTable.waitFor();
  const swaLr = Number(await field("SWA LR").inputValue());
  const underSwa = await until(
    () =>
      swaTable.evaluate((t) =>
        [...t.querySelectorAll("tbody tr")].map((tr) => Number((tr as HTMLTableRowElement).cells[2]?.textContent)),
      ),
    (lrs) => lrs.length >= 5 && lrs.every((lr) => near(lr, swaLr)),
    `every group at swa.lr ${swaLr}`,
  );
  assert.ok(underSwa.length >= 5);
  await field("Warm-up share").fill("1");
  const warmupWarning = page.getByRole("status").filter({ hasText: "Warm-up is as long as the run" });
  await warmupWarning.waitFor();
  await screenshot(page, "builder-warnings");
  await field("Warm-up share").fill("0.06");
  await warmupWarning.waitFor({ state: "detached" });
  // An encoder rate far above the usual range: a warning that the loss will likely diverge.
  await field("Top layer LR").fill("0.01");
  const lrWarning = page.getByRole("status").filter({ hasText: "likely to diverge" });
  await lrWarning.waitFor();
  assert.match(await text(lrWarning), /encoder groups train at up to 0\.01/);
  await field("Top layer LR").fill("0.00005");
  await lrWarning.waitFor({ state: "detached" });
  // Every choice shows a choice: a section a preset switched on names each of its fields.
  const shown = await page
    .locator("select")
    .evaluateAll((ss) => ss.map((s) => (s as HTMLSelectElement).selectedOptions[0]?.textContent ?? ""));
  assert.deepEqual(
    shown.filter((t) => t === "" || t === "undefined" || t === "null"),
    [],
    `selects: ${shown.join(" | ")}`,
  );
  await screenshot(page, "builder");
  await screenshotOf(page.getByRole("region", { name: "Learning rate per layer group" }), "builder-lr-preview");
});

test("runs: a started experiment trains both folds with live progress and charts", async () => {
  await page.getByRole("button", { name: "Create and start runs" }).click();
  await page.getByRole("heading", { level: 1, name: "Runs" }).waitFor();
  await page.getByRole("tab", { name: /Fold 0/ }).waitFor();
  const runs = await until(
    () => server.call("listRuns", {}),
    (r) => r.length === 2 && r.every((x) => x.status === "completed" || x.status === "failed"),
    "both folds to finish",
    180_000,
  );
  assert.deepEqual(
    runs.map((r) => r.status),
    ["completed", "completed"],
    runs.map((r) => r.error).join("\n"),
  );
  const panel = page.getByRole("tabpanel");
  await until(
    () => text(panel.getByTestId("run-step")),
    (t) => /Step (\d+) \/ \1\b/.test(t),
    "a full bar",
  );
  assert.match(await text(panel.getByTestId("run-best")), /^\d+\.\d{4}$/);
  assert.equal(await panel.locator("canvas").count(), 3, "loss, metric and LR charts");
  await page.getByRole("tab", { name: /Fold 1/ }).click();
  await until(
    () => text(panel.getByTestId("run-best")),
    (t) => /^\d+\.\d{4}$/.test(t),
    "fold 1's best metric",
  );
  await screenshot(page, "runs");
  await screenshotOf(panel, "runs-charts");

  // Best and Final say what they are: the engine's best evaluation, and the SWA average.
  assert.match(
    await text(panel.getByTestId("run-best-where")),
    /^at step \d+, the (model|SWA average) \(the checkpoint "best"\)$/,
  );
  assert.match(
    await text(panel.getByTestId("run-final-what")),
    /^the SWA average of the weights from step \d+ to \d+$/,
  );
  assert.match(await text(panel), /Checkpoints kept: best \(step \d+\), final \(SWA average\) \(step \d+\)/);
  const run = (await server.call("listRuns", {})).find((r) => r.fold === 1);
  const flagged = (await server.call("runMetrics", { id: run?.id as number })).filter(
    (p) => p.split === "event" && p.name === "best",
  );
  const bestStep = Number(/at step (\d+)/.exec(await text(panel.getByTestId("run-best-where")))?.[1]);
  assert.equal(bestStep, flagged.at(-1)?.step, "the best shown is the engine's last flagged evaluation");
});

test("runs: a long run shows progress, survives a worker crash (resume) and can be cancelled", async () => {
  await setUpTinyExperiment("Basic", "Basic (tiny)");
  await page.getByRole("button", { name: "Create and start runs" }).click();
  await page.getByRole("heading", { level: 1, name: "Runs" }).waitFor();

  await setUpTinyExperiment("Basic", "Long (cancelled)");
  await field("Epochs").fill("3000");
  await field("Folds to run").fill("0");
  await page.getByRole("button", { name: "Create and start runs" }).click();
  await page
    .getByRole("navigation", { name: "Run queue" })
    .getByRole("button", { name: /Long \(cancelled\)/ })
    .click();

  const panel = page.getByRole("tabpanel");
  const bar = page.getByRole("progressbar");
  const step = async () => Number(await bar.getAttribute("aria-valuenow"));
  const first = await until(step, (s) => s > 0, "the long run to start", 180_000);
  await until(step, (s) => s > first + 5, "progress to move");
  await until(
    () => panel.locator("canvas").count(),
    (n) => n === 3,
    "the charts",
  );
  await until(
    () => text(panel.locator(".progress")),
    (t) => /about .* left/.test(t),
    "an ETA",
  );

  // Hovering a chart shows the values at the step under the cursor.
  const lossPlot = panel.getByRole("img", { name: /^Train loss\./ });
  const over = lossPlot.locator(".u-over");
  const box = await over.boundingBox();
  assert.ok(box, "the loss chart's plot area");
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
  const tip = lossPlot.getByTestId("chart-tip");
  await tip.waitFor();
  assert.match(await text(tip), /^step \d+\s*loss: [\d.e-]+$/);
  await screenshotOf(panel.locator(".card").first(), "runs-hover");
  await page.mouse.move(0, 0);

  // Re-opening the run mid-run (another view, then back) draws every step: no gap.
  const lossShown = async () => {
    const label = (await lossPlot.getAttribute("aria-label")) ?? "";
    const m = /(\d+) steps, up to step (\d+)/.exec(label);
    return { count: Number(m?.[1]), last: Number(m?.[2]) };
  };
  await openView(page, "Compare");
  await page.waitForTimeout(1500); // the run goes on meanwhile; its points are not sent here
  await page.goBack();
  await page.getByRole("heading", { level: 1, name: "Runs" }).waitFor();
  const reopenedAt = await step();
  const shown = await until(lossShown, (l) => l.last > reopenedAt + 3, "the re-opened charts to follow the run");
  assert.equal(shown.count, shown.last, `steps 1…${shown.last} all drawn (no gap), got ${shown.count}`);

  // Switching the theme mid-run redraws the charts in the new theme's colours.
  const gridOf = () => lossPlot.getAttribute("data-grid");
  const cssGrid = () =>
    page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue("--grid").trim());
  await page.getByText("Dark", { exact: true }).click();
  await until(gridOf, (g) => g === "#2a333f", "the dark grid");
  assert.equal(await gridOf(), await cssGrid());
  await screenshotOf(panel, "runs-dark-midrun");
  await page.getByText("Light", { exact: true }).click();
  await until(gridOf, (g) => g === "#e4e8ee", "the light grid");
  assert.equal(await gridOf(), await cssGrid());

  // The training process dies (a native crash, the OOM killer): the run is resumable.
  assert.equal(server.killWorker(), 1, "one training worker");
  const warning = panel.getByRole("status").filter({ hasText: "Run interrupted" });
  await warning.waitFor();
  assert.match(await text(warning), /What to do: .*Resume/);
  await screenshot(page, "runs-interrupted");
  await panel.getByRole("button", { name: "Resume" }).click();
  await panel.getByText(/^running$/i).waitFor();
  await warning.waitFor({ state: "detached" });
  const resumed = await until(step, (s) => s > 0, "the resumed run to report progress");
  await until(step, (s) => s > resumed + 5, "the resumed run to move");

  // Cancel asks first; "Keep training" keeps it running.
  const cancelAndConfirm = async () => {
    await panel.getByRole("button", { name: "Cancel run" }).click();
    const dialog = panel.getByRole("alertdialog");
    await dialog.waitFor();
    await dialog.getByRole("button", { name: "Stop the run" }).click();
    await panel.getByText(/^cancelled$/i).waitFor();
  };
  await panel.getByRole("button", { name: "Cancel run" }).click();
  await screenshot(page, "runs-cancel-confirm");
  await panel.getByRole("button", { name: "Keep training" }).click();
  await panel.getByRole("alertdialog").waitFor({ state: "detached" });
  assert.equal((await server.call("listRuns", {})).filter((r) => r.status === "running").length, 1);
  await cancelAndConfirm();
  await screenshot(page, "runs-cancelled");

  // A cancelled run offers Resume (it continues) and Re-run (a new run of the fold).
  const cancelledAt = await step();
  await panel.getByRole("button", { name: "Resume" }).click();
  await panel.getByText(/^running$/i).waitFor();
  await until(step, (s) => s > cancelledAt + 3, "the resumed run to move on");
  await cancelAndConfirm();
  const runsBefore = (await server.call("listRuns", {})).length;
  await panel.getByRole("button", { name: "Re-run" }).click();
  await until(
    () => server.call("listRuns", {}),
    (r) => r.length === runsBefore + 1,
    "the re-run",
  );
  const tabs = page.getByRole("tab", { name: /Fold 0/ });
  await until(
    () => tabs.count(),
    (n) => n === 2,
    "a tab for the re-run",
  );
  assert.equal(await page.getByRole("tab", { selected: true }).count(), 1);
  assert.match(await text(page.getByRole("tab", { selected: true })), /#\d+/);
  await until(step, (s) => s > 2, "the re-run to train");
  await cancelAndConfirm();
  const long = (await server.call("listRuns", {})).filter((r) => r.status === "cancelled");
  assert.equal(long.length, 2);
});

test("compare: experiments side by side, sortable, per fold on demand, charted", async () => {
  await until(
    () => server.call("listRuns", {}),
    (r) => r.filter((x) => x.status === "completed").length === 4,
    "the basic experiment's folds",
    180_000,
  );
  await openView(page, "Compare");
  const table = page.getByTestId("results-table");
  const rowOf = (name: string) => table.locator("tbody tr").filter({ hasText: name });
  await rowOf("Basic (tiny)").waitFor();
  assert.match(await text(rowOf("Article (tiny)")), /\d\.\d{4} ± \d\.\d{4}/);
  assert.match(await text(rowOf("Article (tiny)")), /LLRD/);
  assert.match(await text(rowOf("Basic (tiny)")), /\d\.\d{4} ± \d\.\d{4}/);
  // Out-of-fold: the service's score (every row predicted by the fold that held it out), as shown.
  const basicRow = (await server.call("compare", {})).find((r) => r.name === "Basic (tiny)");
  assert.ok(typeof basicRow?.oof === "number", "every fold ran: an out-of-fold score");
  const oofCell = rowOf("Basic (tiny)").locator("td.num").nth(1);
  assert.equal(await text(oofCell), basicRow.oof.toFixed(4));
  assert.equal(await text(rowOf("Long (cancelled)").locator("td.num").nth(1)), "–");

  const names = async () => (await table.locator("tbody th").allTextContents()).map((t) => t.trim());
  const header = table.getByRole("columnheader", { name: /Mean/ });
  const ascending = await names();
  await header.getByRole("button").click();
  assert.equal(await header.getAttribute("aria-sort"), "descending");
  const descending = await names();
  // Experiments without results stay last; those with results swap order.
  assert.deepEqual(descending.slice(0, 2), ascending.slice(0, 2).reverse());

  // Runs' status, every metric, an axis fitted to the values, the settings that differ.
  assert.equal(await text(rowOf("Long (cancelled)").locator("td.status")), "cancelled");
  assert.match(await text(rowOf("Basic (tiny)").locator("td.status")), /^completed\s*×2$/);
  await page.getByLabel("Show every metric").check();
  for (const m of ["pearson", "mae"]) await table.getByRole("columnheader", { name: m }).waitFor();
  const axis = page.getByTestId("bars-axis");
  const [lo, hi] = (await axis.locator("span").allTextContents()).map(Number);
  // The axis spans the means ± std (and a tenth of that range either side), not 0…max.
  const scored = (await server.call("compare", {})).filter((r) => r.mean !== null);
  const low = Math.min(...scored.map((r) => (r.mean as number) - (r.std as number)));
  const high = Math.max(...scored.map((r) => (r.mean as number) + (r.std as number)));
  assert.ok(Math.abs((lo as number) - (low - 0.1 * (high - low))) < 1e-4, `axis from ${lo}`);
  assert.ok(Math.abs((hi as number) - (high + 0.1 * (high - low))) < 1e-4, `axis to ${hi}`);
  await page.getByLabel("Metric", { exact: true }).selectOption("pearson");
  await page.getByRole("heading", { name: /^pearson per experiment/ }).waitFor();
  const diff = page.getByTestId("settings-diff");
  const decayRow = diff.getByRole("row").filter({ has: page.getByRole("rowheader", { name: "llrd.decay" }) });
  // Article (tiny), Basic (tiny), Long: LLRD at 0.8 in the first, off in the others.
  assert.deepEqual(await decayRow.getByRole("cell").allTextContents(), ["0.8", "off", "off"]);
  assert.equal(await diff.getByRole("rowheader", { name: "optimizer.eps" }).count(), 0, "equal settings are left out");
  assert.equal(
    await diff.getByRole("rowheader", { name: "llrd", exact: true }).count(),
    0,
    "sections show as their settings",
  );
  await page.getByLabel("Show each fold").check();
  await table.getByRole("columnheader", { name: "Fold 1" }).waitFor();
  await page
    .getByRole("list", { name: /per experiment/ })
    .getByRole("listitem")
    .nth(1)
    .waitFor();
  await screenshot(page, "compare");
});

test("export: the best checkpoint goes to a default folder under the data folder, shown before writing", async () => {
  await openView(page, "Export");
  const option = field("Run").locator("option", { hasText: "Article (tiny) · fold 0" });
  await field("Run").selectOption((await option.getAttribute("value")) ?? "");
  await page.getByRole("radio", { name: /^Best/ }).check();
  await until(
    () => text(page.getByRole("radio", { name: /^Final/ }).locator("..")),
    (t) => /the SWA average of the weights/.test(t),
    "Final named as the SWA average",
  );
  const target = join(server.home, "exports", "Article-tiny-fold0-best");
  const shownTarget = page.getByTestId("export-target");
  await until(
    () => text(shownTarget),
    (t) => t === `Writes to ${target}`,
    "the default folder",
  );
  await page.getByRole("form", { name: "Export a run" }).getByRole("button", { name: "Export" }).click();
  const snippet = await text(page.getByTestId("python-snippet"));
  // The builder starts with the engine's pooling, cls: transformers' own head, said before and
  // after (mean pooling's sentence-transformers layout is tested in test/app/export).
  assert.match(await text(page.getByTestId("head-note")), /AutoModelForSequenceClassification/);
  assert.match(snippet, /AutoModelForSequenceClassification\.from_pretrained\(/);
  assert.match(await text(page.getByTestId("export-note")), /AutoModelForSequenceClassification/);
  assert.ok(existsSync(join(target, "config.json")) && existsSync(join(target, "README.md")), "written");
  assert.ok(!existsSync(join(target, "modules.json")), "no sentence-transformers modules for cls");
  await screenshot(page, "export");

  // A relative folder lands under the same exports folder, never the server's working directory.
  await page.getByRole("radio", { name: /^Final/ }).check();
  await field("Output folder").fill("mine/final");
  await until(
    () => text(shownTarget),
    (t) => t === `Writes to ${join(server.home, "exports", "mine", "final")}`,
    "the relative folder, resolved",
  );
  await page.getByRole("form", { name: "Export a run" }).getByRole("button", { name: "Export" }).click();
  await page.getByRole("heading", { name: /Exported to .*mine\/final/ }).waitFor();
  assert.ok(existsSync(join(server.home, "exports", "mine", "final", "config.json")));
  assert.ok(!existsSync(join(process.cwd(), "mine")));
});

test("dark theme: the toggle switches every colour, charts included", async () => {
  await page.getByText("Dark", { exact: true }).click();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
  await openView(page, "Runs");
  await page
    .getByRole("navigation", { name: "Run queue" })
    .getByRole("button", { name: /Article \(tiny\)/ })
    .click();
  await page.getByRole("tabpanel").locator("canvas").first().waitFor();
  await screenshot(page, "runs-dark");
  await openView(page, "Experiment builder");
  // The builder kept the last config (the long run's): its preview is computed on opening.
  await until(
    () => text(page.getByTestId("schedule-facts")),
    (t) => t.startsWith("9000 steps"),
    "the preview",
  );
  await screenshot(page, "builder-dark");
});

test("no console errors and no CSP violations on the way", () => {
  assert.deepEqual(session.problems, []);
});
