// Exports as a user makes them: tiny runs with each head, exported through the app's API and
// through `ftune export`, loaded in Python with exactly the code they print (real transformers
// and sentence-transformers), against `ftune predict` on the same folder. And an export onto a
// full disk (a small tmpfs): a plain message, nothing left behind, the disk's other data intact,
// and a retry that works once there is room.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import type { ExportResult } from "../../app/core/api/contract.ts";
import type { HeadKind } from "../../app/core/export/loading.ts";
import type { Core } from "../../app/core/service/index.ts";
import type { Dataset } from "../../app/core/store/types.ts";
import { maxAbsDiff, reference } from "../helpers/python.ts";
import { api, ftune, scratchHome, testCore, tinyConfig, tinyDataset, tinyRows } from "./helpers.ts";

const root = join(import.meta.dirname, "../..");
const home = scratchHome("export");
let core: Core;
let dataset: Dataset;
before(async () => {
  core = await testCore(home.dir);
  dataset = await tinyDataset(core, 24);
});
after(async () => {
  await core.close();
  home.cleanup();
});

// Texts the model did not train on, one longer than max_length (32) so truncation counts.
const probe = [
  ...tinyRows(30)
    .slice(24)
    .map((r) => r.text),
  "river mountain teacher student ".repeat(12),
];
const probeCsv = join(home.dir, "probe.csv");
writeFileSync(probeCsv, `id,text\n${probe.map((t, i) => `p${i},${t}`).join("\n")}\n`);

async function trainRun(head: HeadKind): Promise<number> {
  const config = tinyConfig({
    head: { pooling: head, dropout: 0 },
    folds: { k: 2, strategy: "stratified", seed: 7, run: [0] },
  });
  const experiment = await api(core, "createExperiment", { name: `tiny ${head}`, datasetId: dataset.id, config });
  const [run] = await api(core, "startRuns", { experimentId: experiment.id });
  const ended = await core.runs.waitFor(run?.id as number);
  assert.equal(ended.status, "completed", ended.error ?? "");
  return ended.id;
}

/** `ftune predict` on a folder: one row of predictions per probe text. */
async function ftunePredict(dir: string): Promise<number[][]> {
  const out = join(dir, "..", `${dir.split("/").at(-1)}-predictions.csv`);
  const r = await ftune(
    ["predict", "--model", dir, "--input", probeCsv, "--text-column", "text", "--output", out, "--device", "cpu"],
    home.dir,
  );
  assert.equal(r.code, 0, r.stderr);
  const [header, ...rows] = readFileSync(out, "utf8").trim().split("\n");
  assert.equal(header, "id,prediction");
  return rows.map((line) => [Number(line.split(",")[1])]);
}

describe("exports load the standard way for their head", () => {
  const worst: Record<string, number> = {};

  for (const head of ["cls", "mean", "attention"] as const) {
    test(`${head}: the app's export and \`ftune export\` load with the code they print, as \`ftune predict\` predicts`, async () => {
      const runId = await trainRun(head);
      const viaApi = join(home.dir, `export-${head}-app`);
      const fromApp = await api(core, "exportRun", { id: runId, kind: "best", outDir: viaApi });
      const viaCli = join(home.dir, `export-${head}-cli`);
      const cli = await ftune(["export", String(runId), "--out", viaCli, "--json"], home.dir);
      assert.equal(cli.code, 0, cli.stderr);
      const fromCli = JSON.parse(cli.stdout) as ExportResult;
      const plainCli = await ftune(
        ["export", String(runId), "--out", join(home.dir, `export-${head}-plain`)],
        home.dir,
      );
      assert.equal(plainCli.code, 0, plainCli.stderr);

      for (const [r, dir] of [
        [fromApp, viaApi],
        [fromCli, viaCli],
      ] as const) {
        assert.equal(r.path, dir);
        assert.equal(r.head, head);
        // The same code, printed by the command, shown by the app and written in the model card.
        assert.equal(r.python, fromApp.python.replaceAll(viaApi, dir));
        const card = readFileSync(join(dir, "README.md"), "utf8");
        assert.ok(card.includes(r.python), "the model card has the loading code");
        assert.match(card, /base model \| .*bert-regression \(bert\)/);
        assert.match(
          card,
          /CV score \| rmse \d+\.\d{4} ± \d+\.\d{4} \(mean ± std of the best evaluation over 1 of 2 folds\)/,
        );
        assert.match(card, /"pooling": "\w+"/);
      }
      assert.ok(plainCli.stdout.includes(fromApp.python.replaceAll(viaApi, join(home.dir, `export-${head}-plain`))));
      assert.ok(plainCli.stdout.includes(fromApp.note));
      const library = {
        cls: "AutoModelForSequenceClassification",
        mean: "SentenceTransformer",
        attention: "head.safetensors",
      };
      assert.match(fromApp.python, new RegExp(library[head]));
      if (head === "attention") assert.match(fromApp.note, /no standard class/);

      // The checkpoint the run keeps loads the same way (the export rewrites, not copies, it).
      const detail = await api(core, "getRun", { id: runId });
      const best = detail.checkpoints.find((c) => c.kind === "best")?.path as string;
      const bestCode = fromApp.python.replaceAll(viaApi, best);

      const expected = await ftunePredict(viaApi);
      assert.ok(maxAbsDiff(await ftunePredict(viaCli), expected) === 0);
      assert.ok(maxAbsDiff(await ftunePredict(best), expected) < 1e-6);
      const loaded = reference<{ logits: number[][]; log: string }[]>(
        "snippets",
        [],
        [fromApp.python, fromCli.python, bestCode].map((code) => ({ code, texts: probe })),
      );
      for (const [i, r] of loaded.entries()) {
        const diff = maxAbsDiff(r.logits, expected);
        worst[head] = Math.max(worst[head] ?? 0, diff);
        assert.ok(diff < 1e-4, `snippet ${i}: differs from ftune predict by ${diff}`);
        assert.doesNotMatch(r.log, /newly initialized|MISSING|UNEXPECTED|not used/i, r.log);
      }
    });
  }

  after(() => process.stdout.write(`# max |python − ftune predict| per head: ${JSON.stringify(worst)}\n`));
});

/** Runs `script` as root in a private mount namespace (so the tmpfs vanishes with it). */
function inMountNamespace(script: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync("unshare", ["-m", "--propagation", "private", "bash", "-c", script, "bash", ...args], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, FTUNE_HOME: home.dir },
  });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

const canMount = (() => {
  const dir = join(home.dir, "probe-mount");
  mkdirSync(dir, { recursive: true });
  return inMountNamespace('mount -t tmpfs -o size=64k tmpfs "$1"', [dir]).ok;
})();

test("an export onto a full disk says so plainly, leaves nothing behind and works once there is room", {
  skip: canMount ? false : "needs root to mount a tmpfs in a private mount namespace (unshare -m)",
}, async () => {
  const runId = await trainRun("mean");
  const normal = join(home.dir, "full-disk-reference");
  await api(core, "exportRun", { id: runId, kind: "best", outDir: normal });
  const bytes = readdirSync(normal, { recursive: true })
    .map((f) => statSync(join(normal, String(f))))
    .filter((s) => s.isFile())
    .reduce((sum, s) => sum + Math.ceil(s.size / 4096) * 4096, 0);
  const disk = join(home.dir, "small-disk");
  mkdirSync(disk);
  const size = bytes + 256 * 1024;
  // Room for half the export beside a file that must survive.
  const filler = size - Math.floor(bytes / 2);
  const script = `
      set -u
      mount -t tmpfs -o size=${size} tmpfs "$1"
      head -c ${filler} /dev/urandom > "$1/keep.bin" 2>/dev/null
      before=$(sha256sum < "$1/keep.bin")
      node bin/ftune.js export ${runId} --out "$1/model"; echo "first exit $?"
      echo "left: $(ls -A "$1" | tr '\\n' ' ')"
      [ "$before" = "$(sha256sum < "$1/keep.bin")" ] && echo "keep.bin intact"
      rm "$1/keep.bin"
      node bin/ftune.js export ${runId} --out "$1/model" > /dev/null; echo "second exit $?"
      cp -r "$1/model" "$2"
    `;
  const copied = join(home.dir, "full-disk-retry");
  const r = inMountNamespace(script, [disk, copied]);
  assert.match(r.out, /first exit 1\n/, r.out);
  assert.match(
    r.out,
    /ftune: The disk is full: could not write the export to .*\/model\. Nothing was left behind; free some space and try again\./,
  );
  assert.doesNotMatch(r.out, /IoError|code: 28|os error/);
  assert.match(r.out, /left: keep\.bin \n/, "no half export, no staging folder");
  assert.match(r.out, /keep\.bin intact/);
  assert.match(r.out, /second exit 0/);
  assert.ok(maxAbsDiff(await ftunePredict(copied), await ftunePredict(normal)) === 0);
});
