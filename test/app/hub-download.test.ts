// Downloads by Hugging Face id, against a stand-in hub on 127.0.0.1 (test/helpers/fake-hub.ts)
// that serves fixture folders saved by transformers: the download fills the hub's cache layout,
// shows progress, resumes after kill -9 with a Range request, pins revisions, and what it
// wrote answers `ftune predict --model org/name` and transformers (offline, same cache) alike;
// every failure is one message.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parse } from "csv-parse/sync";
import type { ServerEvent } from "../../app/core/api/contract.ts";
import { listCachedModels } from "../../app/core/models/hf-cache.ts";
import { venvPython } from "../../scripts/env.mjs";
import { type FakeHub, startFakeHub } from "../helpers/fake-hub.ts";
import { fixtures, reference } from "../helpers/python.ts";
import { api, ftune, jsonLines, scratchHome, testCore, writeTinyCsv } from "./helpers.ts";

const home = scratchHome("hub-download");
const root = join(import.meta.dirname, "../..");
const commit = "1111111111111111111111111111111111111111";
const tagged = "2222222222222222222222222222222222222222";
let hub: FakeHub;
let source: string;
let csv: string;

function repoFolder(name: string, files: string[], from: string): string {
  const dir = join(home.dir, "repos", name);
  mkdirSync(dir, { recursive: true });
  for (const f of files) copyFileSync(join(from, f), join(dir, f));
  return dir;
}

before(async () => {
  source = fixtures()["bert-regression"] as string;
  const full = repoFolder("tiny-bert", readdirSync(source), source);
  writeFileSync(join(full, "README.md"), "# a model card, not needed to fine-tune\n");
  const binDir = join(home.dir, "repos", "bin-bert");
  reference("resave", [], [{ src: source, dst: binDir, safe: false }]);
  hub = await startFakeHub({
    "acme/tiny-bert": { dir: full, commit, refs: { v1: tagged } },
    "acme/bin-bert": { dir: binDir, commit },
    "acme/gated-bert": { dir: full, commit, gatedToken: "hf_granted" },
    "acme/no-tokenizer": { dir: repoFolder("no-tok", ["config.json", "model.safetensors"], source), commit },
    "acme/no-weights": {
      dir: repoFolder("no-weights", ["config.json", "tokenizer.json", "tokenizer_config.json"], source),
      commit,
    },
  });
  csv = writeTinyCsv(home.dir, 12);
});
after(async () => {
  await hub?.close();
  home.cleanup();
});

const envFor = (cache: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  HF_ENDPOINT: hub.url,
  HF_HUB_CACHE: cache,
  HF_HOME: join(home.dir, "hf-home"),
  HF_TOKEN: "",
  HF_HUB_OFFLINE: "",
  ...extra,
});

const download = (args: string[], cache: string, extra: NodeJS.ProcessEnv = {}) =>
  ftune(["models", "download", ...args], home.dir, envFor(cache, extra));

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

async function predict(model: string, cache: string): Promise<number[]> {
  const r = await ftune(["predict", "--model", model, "--input", csv, "--text-column", "text"], home.dir, {
    HF_HUB_CACHE: cache,
    HF_HUB_OFFLINE: "1",
  });
  assert.equal(r.code, 0, r.stderr);
  return (parse(r.stdout, { columns: true }) as Record<string, string>[]).map((row) => Number(row.prediction));
}

/** transformers' predictions for `id`, loaded offline from `cache`. */
function transformersPredict(id: string, cache: string): number[] {
  const texts = (parse(readFileSync(csv, "utf8"), { columns: true }) as Record<string, string>[]).map((r) => r.text);
  const py = spawnSync(
    venvPython,
    [
      "-c",
      [
        "import json, sys, torch",
        "from transformers import AutoModelForSequenceClassification, AutoTokenizer",
        `m = AutoModelForSequenceClassification.from_pretrained(${JSON.stringify(id)}).eval()`,
        `t = AutoTokenizer.from_pretrained(${JSON.stringify(id)})`,
        "texts = json.loads(sys.stdin.read())",
        "with torch.no_grad(): out = m(**t(texts, padding=True, truncation=True, return_tensors='pt')).logits[:, 0]",
        "print(json.dumps(out.tolist()))",
      ].join("\n"),
    ],
    {
      input: JSON.stringify(texts),
      encoding: "utf8",
      env: { ...process.env, HF_HUB_CACHE: cache, HF_HUB_OFFLINE: "1", TRANSFORMERS_VERBOSITY: "error" },
    },
  );
  assert.equal(py.status, 0, py.stderr);
  return JSON.parse(py.stdout.trim().split("\n").at(-1) ?? "[]") as number[];
}

function assertClose(ours: number[], theirs: number[], tol: number) {
  assert.equal(ours.length, theirs.length);
  for (const [i, p] of ours.entries())
    assert.ok(Math.abs(p - (theirs[i] as number)) < tol, `row ${i}: ${p} vs ${theirs[i]}`);
}

describe("downloads by Hugging Face id", () => {
  test("a download fills the hub's cache layout with progress; ftune and transformers load it offline alike", async () => {
    const cache = join(home.dir, "cache-layout");
    const r = await download(["acme/tiny-bert"], cache);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /acme\/tiny-bert@main \(commit 111111111111\): 4 files, 154\.\d kB/);
    assert.match(r.stderr, /^model\.safetensors: 146\.\d kB$/m);
    assert.match(r.stdout, /use it as --model acme\/tiny-bert/);
    const repo = join(cache, "models--acme--tiny-bert");
    assert.equal(readFileSync(join(repo, "refs", "main"), "utf8"), commit);
    const snapshot = join(repo, "snapshots", commit);
    // Only what a fine-tune needs: the model card stays on the hub.
    assert.deepEqual(readdirSync(snapshot).sort(), [
      "config.json",
      "model.safetensors",
      "tokenizer.json",
      "tokenizer_config.json",
    ]);
    // Relative links to blobs named by the LFS sha256 (weights) or git object id (the rest).
    const weights = sha256(join(source, "model.safetensors"));
    assert.equal(readlinkSync(join(snapshot, "model.safetensors")), `../../blobs/${weights}`);
    const config = readFileSync(join(source, "config.json"));
    const gitOid = createHash("sha1").update(`blob ${config.length}\0`).update(config).digest("hex");
    assert.equal(readlinkSync(join(snapshot, "config.json")), `../../blobs/${gitOid}`);
    assert.equal(sha256(join(snapshot, "model.safetensors")), weights);

    const ours = await predict("acme/tiny-bert", cache);
    assert.deepEqual(ours, await predict(source, cache));
    assertClose(ours, transformersPredict("acme/tiny-bert", cache), 1e-4);

    // A second download fetches nothing.
    const again = await download(["acme/tiny-bert"], cache);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /already in the cache/);
  });

  test("kill -9 mid-file, rerun: the download resumes with a Range request and the file matches", async () => {
    const cache = join(home.dir, "cache-resume");
    const blobs = join(cache, "models--acme--tiny-bert", "blobs");
    const weights = sha256(join(source, "model.safetensors"));
    const partial = join(blobs, `${weights}.incomplete`);
    hub.stallAfter.set("model.safetensors", 60_000);
    const child = spawn(process.execPath, [join(root, "bin/ftune.js"), "models", "download", "acme/tiny-bert"], {
      cwd: root,
      env: { ...process.env, FTUNE_HOME: home.dir, ...envFor(cache) },
      stdio: "ignore",
    });
    const exited = new Promise((resolve) => child.on("exit", resolve));
    const deadline = Date.now() + 60_000;
    while (!(existsSync(partial) && statSync(partial).size === 60_000)) {
      assert.ok(Date.now() < deadline, "the download never reached the stall");
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGKILL");
    await exited;
    hub.stallAfter.delete("model.safetensors");
    // Killed mid-file: no ref names the half-downloaded snapshot.
    assert.ok(!existsSync(join(cache, "models--acme--tiny-bert", "refs", "main")));

    const logged = hub.log.length;
    const r = await download(["acme/tiny-bert"], cache);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /model\.safetensors: 146\.\d kB \(resuming at 60\.0 kB\)/);
    const size = statSync(join(source, "model.safetensors")).size;
    assert.ok(
      hub.log.slice(logged).includes(`GET /cdn/acme/tiny-bert/${weights} bytes=60000-${size - 1}`),
      hub.log.slice(logged).join("\n"),
    );
    assert.ok(!existsSync(partial));
    assert.equal(sha256(join(blobs, weights)), weights);
    assert.deepEqual(await predict("acme/tiny-bert", cache), await predict(source, cache));
  });

  test("a pinned revision: @tag and --revision write refs/<tag> → its commit", async () => {
    const cache = join(home.dir, "cache-pinned");
    const r = await download(["acme/tiny-bert@v1"], cache);
    assert.equal(r.code, 0, r.stderr);
    const repo = join(cache, "models--acme--tiny-bert");
    assert.equal(readFileSync(join(repo, "refs", "v1"), "utf8"), tagged);
    assert.ok(!existsSync(join(repo, "refs", "main")));
    assert.ok(existsSync(join(repo, "snapshots", tagged, "model.safetensors")));
    const byFlag = await download(["acme/tiny-bert", "--revision", commit], cache);
    assert.equal(byFlag.code, 0, byFlag.stderr);
    assert.ok(existsSync(join(repo, "snapshots", commit, "config.json")));
    assert.deepEqual(await predict("acme/tiny-bert@v1", cache), await predict(`acme/tiny-bert@${commit}`, cache));
    // Listed (and addable) under the revision it was pinned to.
    assert.deepEqual(
      listCachedModels({ HF_HUB_CACHE: cache }).map((m) => [m.id, m.path]),
      [["acme/tiny-bert@v1", join(repo, "snapshots", tagged)]],
    );
  });

  test("a pytorch_model.bin-only repo downloads and predicts as transformers does", async () => {
    const cache = join(home.dir, "cache-bin");
    const r = await download(["acme/bin-bert", "--json"], cache);
    assert.equal(r.code, 0, r.stderr);
    const lines = jsonLines(r.stdout);
    const progress = lines.filter((l) => l.kind === "progress");
    assert.ok(progress.some((p) => p.file === "pytorch_model.bin"));
    const bytes = progress.map((p) => p.bytes as number);
    assert.deepEqual(
      bytes,
      [...bytes].sort((a, b) => a - b),
    );
    assert.equal(bytes.at(-1), progress[0]?.totalBytes);
    assert.equal(lines.at(-1)?.kind, "done");
    const snapshot = join(cache, "models--acme--bin-bert", "snapshots", commit);
    assert.ok(existsSync(join(snapshot, "pytorch_model.bin")) && !existsSync(join(snapshot, "model.safetensors")));
    assertClose(await predict("acme/bin-bert", cache), transformersPredict("acme/bin-bert", cache), 1e-4);
  });

  test("each failure is one plain message", async () => {
    const cache = join(home.dir, "cache-errors");
    const expect = async (args: string[], pattern: RegExp, extra: NodeJS.ProcessEnv = {}) => {
      const r = await download(args, cache, extra);
      assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /\bat .*\.ts:\d+|HubApiError|TypeError/);
    };
    await expect(["acme/nope"], /^ftune: acme\/nope was not found on http:\/\/127\.0\.0\.1:\d+: check the id/);
    await expect(["acme/tiny-bert@v9"], /acme\/tiny-bert has no revision "v9" on http/);
    await expect(["acme/gated-bert"], /acme\/gated-bert is gated: accept its conditions at .*, then set HF_TOKEN/);
    await expect(["acme/gated-bert"], /gated and the account of HF_TOKEN has no access yet/, { HF_TOKEN: "hf_other" });
    await expect(["acme/gated-bert"], /HF_TOKEN is not a Hugging Face access token \(they start with hf_\)/, {
      HF_TOKEN: "secret",
    });
    await expect(["acme/no-tokenizer"], /acme\/no-tokenizer@main has no tokenizer\.json/);
    await expect(["acme/no-weights"], /acme\/no-weights@main has no weights Finetune Studio reads .*; it holds: /);
    await expect(["acme/tiny-bert"], /cannot reach http:\/\/127\.0\.0\.1:9: check the network connection/, {
      HF_ENDPOINT: "http://127.0.0.1:9",
    });
    await expect(["acme/tiny-bert"], /HF_HUB_OFFLINE is set, so nothing is downloaded; unset it to download/, {
      HF_HUB_OFFLINE: "1",
    });
    assert.ok(!existsSync(join(cache, "models--acme--no-tokenizer")), "nothing is written for a refused repo");
    // With the right token, the gated model downloads.
    const granted = await download(["acme/gated-bert"], cache, { HF_TOKEN: "hf_granted" });
    assert.equal(granted.code, 0, granted.stderr);
    rmSync(cache, { recursive: true, force: true });
  });

  test("the app's API downloads by id with progress events; the model is then cached and addable", async () => {
    const cache = join(home.dir, "cache-api");
    const saved = { ...process.env };
    Object.assign(process.env, envFor(cache));
    const core = await testCore(join(home.dir, "data-api"));
    const events: Extract<ServerEvent, { type: "model-download" }>[] = [];
    const finished = new Promise<void>((resolve) =>
      core.events.subscribe((e) => {
        if (e.type !== "model-download") return;
        events.push(e);
        if (e.status !== "running") resolve();
      }),
    );
    try {
      await assert.rejects(api(core, "downloadModel", { id: "acme/nope" }), {
        status: 400,
        message: /acme\/nope was not found on http/,
      });
      const started = await api(core, "downloadModel", { id: "acme/tiny-bert" });
      assert.deepEqual(
        { id: started.id, commit: started.commit, files: started.files },
        { id: "acme/tiny-bert", commit, files: 4 },
      );
      await finished;
      const last = events.at(-1);
      assert.equal(last?.status, "done", last?.error);
      assert.equal(last?.bytes, started.totalBytes);
      assert.ok(events.some((e) => e.status === "running" && e.file === "model.safetensors"));
      const running = events.filter((e) => e.status === "running").map((e) => e.bytes);
      assert.deepEqual(
        running,
        [...running].sort((a, b) => a - b),
      );
      const cached = await api(core, "listCachedModels", {});
      assert.deepEqual(
        cached.map((m) => m.id),
        ["acme/tiny-bert"],
      );
      const added = await api(core, "addModel", { path: "acme/tiny-bert" });
      assert.equal(added.path, join(cache, "models--acme--tiny-bert", "snapshots", commit));
    } finally {
      await core.close();
      process.env = saved;
    }
  });
});
