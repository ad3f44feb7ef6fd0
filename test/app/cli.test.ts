// The `ftune` command end to end on a tiny model, each command a child process over a scratch
// data folder: train, schedule --json, predict, datasets, the demo's quick variant, runs and
// export, with their exit codes.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { parse } from "csv-parse/sync";

import { ftune, jsonLines, scratchHome, tinyModel, writeTinyCsv } from "./helpers.ts";

const bin = join(import.meta.dirname, "../../bin/ftune.js");

const home = scratchHome("cli");
after(home.cleanup);
const data = join(home.dir, "data");

function writeConfig(csv: string, extra = ""): string {
  const path = join(home.dir, "config.yaml");
  writeFileSync(
    path,
    [
      `model: ${tinyModel()}`,
      "task: regression",
      `data: { train: ${csv}, text: text, label: target, max_length: 32 }`,
      "folds: { k: 2, seed: 3, run: [0] }",
      "train: { epochs: 2, batch_size: 4, device: cpu }",
      "optimizer: { lr: 1.0e-3 }",
      "llrd: { mode: layerwise, top_lr: 1.0e-3, decay: 0.5, head_lr: 2.0e-3 }",
      extra,
    ].join("\n"),
  );
  return path;
}

describe("experiment files: train, schedule, predict", () => {
  const csv = writeTinyCsv(home.dir, 24);
  const config = writeConfig(csv);
  const out = join(home.dir, "trained");

  test("train writes checkpoints, metrics and a summary", async () => {
    const r = await ftune(["train", config, "--out", out, "--json"], data);
    assert.equal(r.code, 0, r.stderr);
    type Line = { metric: string; folds: unknown[]; seconds: number; wall_seconds: number };
    const summary = jsonLines(r.stdout).find((l) => l.kind === "summary") as Line;
    assert.equal(summary.metric, "rmse");
    assert.equal(summary.folds.length, 1);
    // One fold: the command's wall clock holds the fold's own seconds and what came around them.
    const written = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as Line;
    assert.equal(written.wall_seconds, summary.wall_seconds);
    assert.ok(summary.wall_seconds >= summary.seconds && summary.seconds > 0, JSON.stringify(summary));
    for (const f of [
      "summary.json",
      "fold-0/metrics.jsonl",
      "fold-0/best/model.safetensors",
      "fold-0/final/config.json",
    ]) {
      assert.ok(existsSync(join(out, f)), f);
    }
  });

  test("schedule --json: groups with name, lr, weight_decay, params and an LR list per group", async () => {
    const r = await ftune(["schedule", config, "--json"], data);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as {
      groups: { name: string; lr: number; weight_decay: number; params: number }[];
      lr: Record<string, number[]>;
    };
    assert.deepEqual(Object.keys(s).sort(), [
      "fold",
      "folds",
      "groups",
      "lr",
      "steps_per_epoch",
      "swa_start_step",
      "total_steps",
      "warmup_steps",
      "warnings",
    ]);
    for (const g of s.groups) {
      assert.deepEqual(Object.keys(g).sort(), ["lr", "name", "params", "weight_decay"]);
      assert.ok(g.params > 0);
      // 12 training rows, batch 4 → 3 steps per epoch, 2 epochs.
      assert.equal(s.lr[g.name]?.length, 6, g.name);
    }
    const head = s.groups.find((g) => g.name === "head");
    const top = s.groups.find((g) => g.name === "layer.2");
    const below = s.groups.find((g) => g.name === "layer.1");
    assert.deepEqual([head?.lr, top?.lr, below?.lr], [2e-3, 1e-3, 5e-4]);
  });

  test("predict writes a CSV with the id column and a prediction per row", async () => {
    const preds = join(home.dir, "preds.csv");
    const r = await ftune(
      ["predict", "--model", join(out, "fold-0/best"), "--input", csv, "--text-column", "text", "--output", preds],
      data,
    );
    assert.equal(r.code, 0, r.stderr);
    const rows = parse(readFileSync(preds, "utf8"), { columns: true }) as Record<string, string>[];
    assert.equal(rows.length, 24);
    assert.deepEqual(Object.keys(rows[0] ?? {}), ["id", "prediction"]);
    assert.equal(rows[3]?.id, "r3");
    assert.ok(rows.every((row) => Number.isFinite(Number(row.prediction))));
  });

  test("an invalid config exits 2 with the field named", async () => {
    const r = await ftune(
      ["train", writeConfig(csv, "schedule: { name: cosin }"), "--out", join(home.dir, "bad")],
      data,
    );
    assert.equal(r.code, 2);
    assert.match(r.stderr, /invalid config: .*schedule\.name/);
  });
});

describe("the data folder: datasets, demo, runs, export", () => {
  test("datasets import, list and show", async () => {
    const csv = writeTinyCsv(home.dir, 30, "thirty.csv");
    const imported = await ftune(
      ["datasets", "import", csv, "--text", "text", "--label", "target", "--id", "id", "--name", "thirty", "--json"],
      data,
    );
    assert.equal(imported.code, 0, imported.stderr);
    const d = JSON.parse(imported.stdout) as { id: number; task: string; rowCount: number };
    assert.deepEqual([d.task, d.rowCount], ["regression", 30]);
    const list = await ftune(["datasets", "list", "--json"], data);
    assert.deepEqual(
      (JSON.parse(list.stdout) as { id: number; name: string }[]).map((x) => [x.id, x.name]),
      [[d.id, "thirty"]],
    );
    const table = await ftune(["datasets", "list"], data);
    assert.match(table.stdout, /^id\s+name\s+task\s+rows/);
    assert.match(table.stdout, /thirty\s+regression\s+30/);
    const show = await ftune(["datasets", "show", String(d.id)], data);
    assert.match(show.stdout, /dataset \d+: thirty \(regression, 30 rows, csv\)/);
    const bad = await ftune(["datasets", "import", csv, "--text", "text", "--label", "score"], data);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /label column "score" is not in the file/);
    const missing = await ftune(["datasets", "show", "999"], data);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /Dataset 999 does not exist/);
  });

  test("demo --quick: imports the VADER lexicon, trains Basic vs the article's recipe, compares, exports", async () => {
    const r = await ftune(["demo", "--quick", "--model", tinyModel()], data);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /VADER sentiment lexicon, 48 of \d{4} entries/);
    assert.match(r.stdout, /Demo: Basic\s+\d+\.\d{4} ± \d+\.\d{4}\s+0: \d+\.\d{4}, 1: \d+\.\d{4}/);
    assert.match(
      r.stdout,
      /Demo: Article \(all techniques\)\s+\d+\.\d{4} ± \d+\.\d{4}.*LLRD.*warm-up.*re-init top 1.*SWA.*eval every/,
    );
    const exported = join(data, "demo", "best-model");
    assert.ok(r.stdout.includes(`written as a Hugging Face folder to:\n  ${exported}`));
    assert.ok(r.stdout.includes(`model = AutoModelForSequenceClassification.from_pretrained("${exported}")`));
    assert.ok(existsSync(join(exported, "model.safetensors")) && existsSync(join(exported, "tokenizer.json")));
  });

  test("runs list/show, export, and cancel of an ended run", async () => {
    const list = await ftune(["runs", "list", "--json"], data);
    assert.equal(list.code, 0, list.stderr);
    const runs = JSON.parse(list.stdout) as { id: number; status: string; fold: number }[];
    // The demo's 2 experiments × 2 folds, newest first, and the run `ftune train` stored.
    assert.equal(runs.length, 5);
    assert.ok(runs.every((x) => x.status === "completed"));
    const id = runs[0]?.id as number;
    const show = await ftune(["runs", "show", String(id)], data);
    assert.match(show.stdout, new RegExp(`run ${id}: Demo: .*, fold \\d, completed`));
    assert.match(show.stdout, /best:\s+rmse \d+\.\d+ at step \d+/);
    const out = join(home.dir, "exported-final");
    const exp = await ftune(["export", String(id), "--out", out, "--kind", "final"], data);
    assert.equal(exp.code, 0, exp.stderr);
    assert.ok(existsSync(join(out, "config.json")) && existsSync(join(out, "model.safetensors")));
    assert.match(exp.stdout, /from transformers import AutoModelForSequenceClassification, AutoTokenizer/);
    const again = await ftune(["export", String(id), "--out", out], data);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /not empty/);
    const cancel = await ftune(["runs", "cancel", String(id)], data);
    assert.equal(cancel.code, 2);
    assert.match(cancel.stderr, /already ended \(completed\)/);
  });
});

describe("serve", () => {
  /** Starts `ftune serve ...args`, resolves with the printed URL and the process. */
  function serve(args: string[]) {
    const child = spawn(process.execPath, [bin, "serve", ...args], {
      env: { ...process.env, FTUNE_HOME: data },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const url = new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d) => {
        out += d;
        const m = /running at (\S+)/.exec(out);
        if (m?.[1]) resolve(m[1]);
      });
      child.on("exit", (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
    });
    const exited = new Promise<number | string | null>((resolve) =>
      child.on("exit", (code, signal) => resolve(code ?? signal)),
    );
    return { child, url, exited, stderr: () => stderr };
  }

  test("prints a 127.0.0.1 URL with a token, answers with it, and stops cleanly on SIGTERM", async () => {
    const s = serve(["--port", "0"]);
    try {
      const url = new URL(await s.url);
      assert.equal(url.hostname, "127.0.0.1");
      const token = url.hash.replace("#token=", "");
      assert.ok(token.length >= 40);
      const rpc = (auth: string) =>
        fetch(new URL("/api/rpc/listDatasets", url), { method: "POST", headers: { Authorization: auth }, body: "{}" });
      assert.equal((await rpc("Bearer nope")).status, 401);
      const ok = await rpc(`Bearer ${token}`);
      assert.equal(ok.status, 200);
      assert.ok(Array.isArray(await ok.json()));
    } finally {
      s.child.kill("SIGTERM");
    }
    assert.equal(await s.exited, 0, s.stderr());
    assert.match(s.stderr(), /SIGTERM: stopping/);
    assert.doesNotMatch(s.stderr(), /WARNING/);
  });

  test("--host other than 127.0.0.1 warns that the API is reachable from the network", async () => {
    const s = serve(["--host", "0.0.0.0"]);
    await s.url.finally(() => s.child.kill("SIGINT"));
    assert.equal(await s.exited, 0, s.stderr());
    assert.match(s.stderr(), /WARNING: listening on 0\.0\.0\.0, reachable from other machines/);
  });
});
