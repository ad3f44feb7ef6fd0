// `npm run bench`: the engine against PyTorch on this machine, measured in the same run with
// the same libtorch, model, batch, sequence length and threads. Prints a table of ratios and
// writes bench/results/<date>-<machine>.json. A benchmark, never a pass/fail test.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "csv-parse/sync";

import { bundledModelDir, cacheDir, root, venvPython } from "../scripts/env.mjs";

const python = venvPython;
const say = (s: string) => process.stderr.write(`${s}\n`);

/** CommonLit excerpts when the shared data is there (long texts: every batch is full length). */
function texts(): { texts: string[]; targets: number[] } {
  const csv = join(root, "../shared/data/commonlit/train.csv");
  if (existsSync(csv)) {
    const rows = parse(readFileSync(csv), { columns: true }) as { excerpt: string; target: string }[];
    return { texts: rows.map((r) => r.excerpt), targets: rows.map((r) => Number(r.target)) };
  }
  const words = "the reading passage grows harder as the ancient river carries difficult vocabulary".split(" ");
  const t = Array.from({ length: 600 }, (_, i) => Array.from({ length: 300 }, (_, j) => words[(i * 7 + j * 3) % words.length]).join(" "));
  return { texts: t, targets: t.map((_, i) => Math.sin(i)) };
}

/** A BERT-base-shaped model (12 × 768, random weights) with the bundled tokenizer. */
function bertBase(): string {
  const dir = join(cacheDir, "bench-models", "bert-base-random");
  if (existsSync(join(dir, "model.safetensors"))) return dir;
  say("bench: creating a BERT-base-shaped model (random weights)");
  const script = `
import torch, sys
from transformers import BertConfig, BertForSequenceClassification, AutoTokenizer
torch.manual_seed(0)
BertForSequenceClassification(BertConfig(num_labels=1)).save_pretrained(sys.argv[1])
AutoTokenizer.from_pretrained(sys.argv[2]).save_pretrained(sys.argv[1])`;
  execFileSync(python, ["-c", script, dir, bundledModelDir()], { stdio: ["ignore", "ignore", "inherit"] });
  return dir;
}

function measure(cmd: string, args: string[], request: object): Record<string, unknown> {
  const file = join(tmpdir(), `ftune-bench-${process.pid}.json`);
  writeFileSync(file, JSON.stringify(request));
  const out = execFileSync(cmd, [...args, file], {
    encoding: "utf8",
    cwd: root,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, HF_HUB_OFFLINE: "1", TRANSFORMERS_VERBOSITY: "error", TQDM_DISABLE: "1" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return JSON.parse(out.trim().split("\n").at(-1) ?? "{}");
}

const data = texts();
const cases = [
  { name: "MiniLM-L6 (bundled)", dir: bundledModelDir(), batch: 16, seq: 128, steps: 16, skip: 3, forward_batches: 8 },
  { name: "BERT-base shape", dir: bertBase(), batch: 8, seq: 128, steps: 10, skip: 2, forward_batches: 4 },
];
const results = [];
for (const c of cases) {
  const req = { ...c, ...data, lr: 2e-5, weight_decay: 0.01, llrd: { mode: "layerwise", top_lr: 3.5e-5, decay: 0.9, head_lr: 1e-4 } };
  say(`bench: ${c.name}, batch ${c.batch} × ${c.seq} tokens`);
  const ours = measure(process.execPath, ["--import", "tsx", "bench/ours.ts", "train"], req);
  const oursForward = measure(process.execPath, ["--import", "tsx", "bench/ours.ts", "forward"], req);
  const plain = measure(python, ["bench/reference_bench.py", "plain"], req);
  const trainer = measure(python, ["bench/reference_bench.py", "trainer"], req);
  const forward = measure(python, ["bench/reference_bench.py", "forward"], req);
  results.push({ case: c.name, batch: c.batch, seq: c.seq, ours, oursForward, plain, trainer, forward });
}

const n = (x: unknown) => Number(x);
const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");
const rows = results.map((r) => [
  r.case,
  f(n(r.ours.train)),
  `${f(n(r.ours.train) / n(r.plain.plain))}×`,
  `${f(n(r.ours.train) / n(r.trainer.trainer))}×`,
  `${f(n(r.oursForward.forward) / n(r.forward.forward))}×`,
  `${f(n(r.ours.max_rss_mb), 0)} / ${f(n(r.plain.max_rss_mb), 0)} MB`,
  `${f(100 * n(r.ours.swa_overhead), 1)}%`,
  `${f(100 * n(r.ours.eval_share), 0)}%`,
  f(n((r.ours.event_latency_ms as { p50: number }).p50), 2),
]);
const head = ["model", "ours samples/s", "vs PyTorch loop", "vs HF Trainer", "forward vs PyTorch", "peak RSS ours / PyTorch", "SWA update cost", "one eval / step", "event latency ms (p50)"];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ");
console.log(line(head));
for (const r of rows) console.log(line(r));
const runtime = JSON.parse(execFileSync(process.execPath, ["-e", "console.log(JSON.stringify(require('./native/index.js').runtimeInfo()))"], { cwd: root, encoding: "utf8" }));
const out = join(root, "bench/results", `${new Date().toISOString().slice(0, 10)}-${hostname()}.json`);
mkdirSync(join(root, "bench/results"), { recursive: true });
writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), machine: hostname(), runtime, results }, null, 2)}\n`);
say(`bench: results in ${out}`);
