// The browser UI end to end, against a real `ftune serve` and a tiny BERT: add the model by
// path, import a CSV (file input) and a bad one (a drop on the window), build experiments from
// presets while the LR preview follows the settings, train, watch live progress, cancel a run,
// compare experiments, export a checkpoint. Each view is saved to test-results/screenshots/.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
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

  // An invalid value: the engine's message sits next to the field.
  await field("Decay per layer").fill("1.5");
  const decayField = page.locator(".field").filter({ has: field("Decay per layer") });
  await decayField.getByRole("alert").filter({ hasText: "llrd.decay must be in (0, 1]" }).waitFor();
  assert.equal(await field("Decay per layer").getAttribute("aria-invalid"), "true");
  await screenshot(page, "builder-invalid");
  await field("Decay per layer").fill("0.8");
  await decayField.getByRole("alert").waitFor({ state: "detached" });
  await until(groupLrs, (g) => near(decayShown(g), 0.8), "the preview to follow decay 0.8");
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

  await panel.getByRole("button", { name: "Cancel run" }).click();
  await panel.getByText(/^cancelled$/i).waitFor();
  await screenshot(page, "runs-cancelled");
  const long = (await server.call("listRuns", {})).filter((r) => r.status === "cancelled");
  assert.equal(long.length, 1);
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

  const names = async () => (await table.locator("tbody th").allTextContents()).map((t) => t.trim());
  const header = table.getByRole("columnheader", { name: /Mean/ });
  const ascending = await names();
  await header.getByRole("button").click();
  assert.equal(await header.getAttribute("aria-sort"), "descending");
  const descending = await names();
  // Experiments without results stay last; those with results swap order.
  assert.deepEqual(descending.slice(0, 2), ascending.slice(0, 2).reverse());

  await page.getByLabel("Show each fold").check();
  await table.getByRole("columnheader", { name: "Fold 1" }).waitFor();
  await page
    .getByRole("list", { name: /per experiment/ })
    .getByRole("listitem")
    .nth(1)
    .waitFor();
  await screenshot(page, "compare");
});

test("export: the best checkpoint becomes a Hugging Face folder with its loading code", async () => {
  await openView(page, "Export");
  const option = field("Run").locator("option", { hasText: "Article (tiny) · fold 0" });
  await field("Run").selectOption((await option.getAttribute("value")) ?? "");
  await page.getByRole("radio", { name: /^Best/ }).check();
  const target = join(outDir, "article-fold0");
  await field("Output folder").fill(target);
  await page.getByRole("form", { name: "Export a run" }).getByRole("button", { name: "Export" }).click();
  const snippet = await text(page.getByTestId("python-snippet"));
  // The builder starts with mean pooling: a sentence-transformers folder, said before and after.
  assert.match(await text(page.getByTestId("head-note")), /sentence-transformers layout/);
  assert.match(snippet, /SentenceTransformer\(/);
  assert.match(await text(page.getByTestId("export-note")), /SentenceTransformer\(folder\)\.encode/);
  assert.ok(existsSync(join(target, "modules.json")) && existsSync(join(target, "README.md")), "written");
  await screenshot(page, "export");
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
