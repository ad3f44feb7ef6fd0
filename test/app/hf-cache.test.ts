// Models by Hugging Face id from the hub's cache layout: a cache laid out by the hub's rules
// (blobs, refs/main, snapshots/<commit>/ with links) answers `--model org/name[@rev]`, predicts
// what the folder predicts and what transformers predicts from the same cache, offline; the
// API lists it and adds it by id.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "csv-parse/sync";

import { parseHubId } from "../../app/core/models/hf-cache.ts";
import { venvPython } from "../../scripts/env.mjs";
import { fixtures } from "../helpers/python.ts";
import { api, ftune, scratchHome, testCore, writeTinyCsv } from "./helpers.ts";

const home = scratchHome("hf-cache");
after(home.cleanup);
const cache = join(home.dir, "hub");
const commit = "0123456789abcdef0123456789abcdef01234567";
const env = { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: "1" };
let source: string;
let csv: string;

before(() => {
  // As huggingface_hub writes it: content in blobs/, a snapshot of relative links, refs/main.
  source = fixtures()["bert-regression"] as string;
  const repo = join(cache, "models--acme--tiny-bert");
  mkdirSync(join(repo, "blobs"), { recursive: true });
  mkdirSync(join(repo, "refs"), { recursive: true });
  mkdirSync(join(repo, "snapshots", commit), { recursive: true });
  for (const [i, file] of readdirSync(source).entries()) {
    copyFileSync(join(source, file), join(repo, "blobs", `blob${i}`));
    symlinkSync(`../../blobs/blob${i}`, join(repo, "snapshots", commit, file));
  }
  writeFileSync(join(repo, "refs", "main"), commit);
  csv = writeTinyCsv(home.dir, 12);
});

async function predict(model: string): Promise<number[]> {
  const r = await ftune(["predict", "--model", model, "--input", csv, "--text-column", "text"], home.dir, env);
  assert.equal(r.code, 0, r.stderr);
  return (parse(r.stdout, { columns: true }) as Record<string, string>[]).map((row) => Number(row.prediction));
}

describe("models from the Hugging Face cache", () => {
  test("ids parse as org/name[@revision]; bare names and paths are not ids", () => {
    assert.deepEqual(parseHubId("acme/tiny-bert"), { id: "acme/tiny-bert", revision: "main" });
    assert.deepEqual(parseHubId("acme/tiny-bert@v1.0"), { id: "acme/tiny-bert", revision: "v1.0" });
    assert.equal(parseHubId("tiny-bert"), null);
    assert.equal(parseHubId("./models/x"), null);
    assert.equal(parseHubId("/abs/path"), null);
  });

  test("--model org/name predicts what the folder predicts, and what transformers predicts from the cache", async () => {
    const byFolder = await predict(source);
    assert.deepEqual(await predict("acme/tiny-bert"), byFolder);
    assert.deepEqual(await predict(`acme/tiny-bert@${commit}`), byFolder);
    const texts = (parse(readFileSync(csv, "utf8"), { columns: true }) as Record<string, string>[]).map((r) => r.text);
    const py = spawnSync(
      venvPython,
      [
        "-c",
        [
          "import json, sys, torch",
          "from transformers import AutoModelForSequenceClassification, AutoTokenizer",
          "m = AutoModelForSequenceClassification.from_pretrained('acme/tiny-bert').eval()",
          "t = AutoTokenizer.from_pretrained('acme/tiny-bert')",
          "texts = json.loads(sys.stdin.read())",
          "with torch.no_grad(): out = m(**t(texts, padding=True, truncation=True, return_tensors='pt')).logits[:, 0]",
          "print(json.dumps(out.tolist()))",
        ].join("\n"),
      ],
      { input: JSON.stringify(texts), encoding: "utf8", env: { ...process.env, ...env } },
    );
    assert.equal(py.status, 0, py.stderr);
    const reference = JSON.parse(py.stdout) as number[];
    byFolder.forEach((p, i) => {
      assert.ok(Math.abs(p - (reference[i] as number)) < 1e-4, `${p} vs ${reference[i]}`);
    });
  });

  test("a missing id or revision is one plain message", async () => {
    const r = await ftune(["predict", "--model", "acme/nope", "--input", csv, "--text-column", "text"], home.dir, env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ftune: acme\/nope is not in the Hugging Face cache \(.*hub\); download it first/);
    const rev = await ftune(
      ["predict", "--model", "acme/tiny-bert@v9", "--input", csv, "--text-column", "text"],
      home.dir,
      env,
    );
    assert.match(rev.stderr, /acme\/tiny-bert has no revision "v9" in the cache/);
  });

  test("the API lists the cache and adds a model by id", async () => {
    const saved = process.env.HF_HUB_CACHE;
    process.env.HF_HUB_CACHE = cache;
    const core = await testCore(join(home.dir, "data"));
    try {
      const cached = await api(core, "listCachedModels", {});
      assert.deepEqual(
        cached.map((m) => [m.id, m.modelType, m.layers]),
        [["acme/tiny-bert", "bert", 3]],
      );
      const added = await api(core, "addModel", { path: "acme/tiny-bert" });
      assert.equal(added.name, "acme/tiny-bert");
      assert.equal(added.path, join(cache, "models--acme--tiny-bert", "snapshots", commit));
    } finally {
      await core.close();
      if (saved === undefined) delete process.env.HF_HUB_CACHE;
      else process.env.HF_HUB_CACHE = saved;
    }
  });
});
