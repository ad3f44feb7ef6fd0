// `npm run bench [-- --reps N] [--only NAME] [--threads N] [--precision P]`: the engine against PyTorch on this machine, measured in the
// same run with the same libtorch, model, batch, sequence length and threads, N (default 3)
// interleaved repetitions. Prints each ratio's median and range, and writes
// bench/results/<date>-<machine>.json. A benchmark, never a pass/fail test.
// Cases: training and forward throughput per model, and "article recipe": the article's whole
// recipe on one CommonLit fold, end to end, against bench/article_loop.py (fp32, and bf16 where
// the CPU has bf16 instructions).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus, hostname, loadavg, tmpdir } from "node:os";
import { join } from "node:path";

import { bundledModelDir, cacheDir, root, venvPython } from "../scripts/env.mjs";
import { articleRecipe } from "./article_recipe.ts";
import { fixed as f, median as med, miniLmCase, spread, texts, trainSettings } from "./common.ts";

const python = venvPython;
const say = (s: string) => process.stderr.write(`${s}\n`);

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

/** `--threads N`: every process measured runs N intra-op threads (OMP/MKL); with 1, CPU seconds
 * are the work done, however loaded the machine is (the article case reports them). */
const threadsOption = process.argv.includes("--threads") ? process.argv[process.argv.indexOf("--threads") + 1] : undefined;
const threadEnv = threadsOption ? { OMP_NUM_THREADS: threadsOption, MKL_NUM_THREADS: threadsOption } : {};

function measure(cmd: string, args: string[], request: object): Record<string, unknown> {
  const file = join(tmpdir(), `ftune-bench-${process.pid}.json`);
  writeFileSync(file, JSON.stringify(request));
  const out = execFileSync(cmd, [...args, file], {
    encoding: "utf8",
    cwd: root,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, ...threadEnv, HF_HUB_OFFLINE: "1", TRANSFORMERS_VERBOSITY: "error", TQDM_DISABLE: "1" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return JSON.parse(out.trim().split("\n").at(-1) ?? "{}");
}

/** One fold for the article case: 192 training and 96 validation rows of CommonLit (the row
 * with target 0, which the article drops, left out), or of the synthetic texts. */
function articleFold(d: { texts: string[]; targets: number[] }) {
  const rows = d.texts.map((t, i) => ({ t, y: d.targets[i] as number })).filter((r) => r.y !== 0);
  const train = rows.slice(0, 192);
  const valid = rows.slice(192, 288);
  return {
    texts: train.map((r) => r.t),
    targets: train.map((r) => r.y),
    valid_texts: valid.map((r) => r.t),
    valid_targets: valid.map((r) => r.y),
  };
}

const runtime = JSON.parse(execFileSync(process.execPath, ["-e", "console.log(JSON.stringify(require('./native/index.js').runtimeInfo()))"], { cwd: root, encoding: "utf8" }));
const data = texts();
const option = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
// `--only TEXT` keeps the cases whose name contains TEXT (a quick run on a loaded machine).
const cases = [
  { ...miniLmCase, dir: bundledModelDir },
  { name: "BERT-base shape", dir: bertBase, batch: 8, seq: 128, steps: 10, skip: 2, forward_batches: 4 },
]
  .filter((c) => c.name.includes(option("--only") ?? ""))
  .map((c) => ({ ...c, dir: c.dir() }));
// Repetitions, run interleaved (ours, PyTorch loop, Trainer, ours, …): on shared cores the load
// drifts, so each ratio is taken between neighbouring runs and reported as median and range.
const reps = Number(option("--reps")) || 3;
type Run = Record<string, unknown>;
const results: { case: string; batch: number; seq: number; reps: { ours: Run; oursForward: Run; plain: Run; trainer: Run; forward: Run; load: number[] }[] }[] =
  cases.map((c) => ({ case: c.name, batch: c.batch, seq: c.seq, reps: [] }));
for (let rep = 0; rep < reps; rep++) {
  for (const [i, c] of cases.entries()) {
    const req = { ...c, ...data, ...trainSettings };
    say(`bench: ${c.name}, batch ${c.batch} × ${c.seq} tokens, repetition ${rep + 1}/${reps} (load ${loadavg()[0]?.toFixed(1)})`);
    const load = [loadavg()[0] ?? Number.NaN];
    const ours = measure(process.execPath, ["--import", "tsx", "bench/ours.ts", "train"], req);
    const plain = measure(python, ["bench/reference_bench.py", "plain"], req);
    const trainer = measure(python, ["bench/reference_bench.py", "trainer"], req);
    const oursForward = measure(process.execPath, ["--import", "tsx", "bench/ours.ts", "forward"], req);
    const forward = measure(python, ["bench/reference_bench.py", "forward"], req);
    load.push(loadavg()[0] ?? Number.NaN);
    results[i]?.reps.push({ ours, oursForward, plain, trainer, forward, load });
  }
}

// The article's recipe, end to end on one fold: the engine and the article's loop, at each
// precision, interleaved.
const article = "article recipe".includes(option("--only") ?? "");
// `--precision fp32|bf16` runs one of them (bf16 only where the CPU has bf16 instructions).
const precisions = (runtime.cpuBf16 ? ["fp32", "bf16"] : ["fp32"]).filter((p) => [p, undefined].includes(option("--precision")));
const articleRuns: Record<string, { ours: Run; loop: Run; load: number[] }[]> = Object.fromEntries(precisions.map((p) => [p, []]));
if (article) {
  const fold = articleFold(data);
  for (let rep = 0; rep < reps; rep++) {
    for (const precision of precisions) {
      const req = { dir: bundledModelDir(), ...fold, ...articleRecipe, precision };
      say(`bench: article recipe (${precision}), one fold end to end, repetition ${rep + 1}/${reps} (load ${loadavg()[0]?.toFixed(1)})`);
      const load = [loadavg()[0] ?? Number.NaN];
      const ours = measure(process.execPath, ["--import", "tsx", "bench/ours.ts", "article"], req);
      say(`bench:   engine ${JSON.stringify(ours)}`);
      const loop = measure(python, ["bench/article_loop.py"], req);
      say(`bench:   article loop ${JSON.stringify(loop)}`);
      load.push(loadavg()[0] ?? Number.NaN);
      articleRuns[precision]?.push({ ours, loop, load });
    }
  }
}

const n = (x: unknown) => Number(x);
const rows = results.map((r) => {
  const each = (g: (x: (typeof r.reps)[number]) => number) => r.reps.map(g);
  return [
    r.case,
    spread(each((x) => n(x.ours.train))),
    spread(each((x) => n(x.ours.train) / n(x.plain.plain)), 2, "×"),
    spread(each((x) => n(x.ours.train) / n(x.trainer.trainer)), 2, "×"),
    spread(each((x) => n(x.oursForward.forward) / n(x.forward.forward)), 2, "×"),
    // The same ratios in samples per CPU second: the work done, load-proof with --threads 1.
    `${spread(each((x) => n(x.ours.cpu) / n(x.plain.cpu)), 2, "×")} · ${spread(each((x) => n(x.ours.cpu) / n(x.trainer.cpu)), 2, "×")} · ${spread(each((x) => n(x.oursForward.cpu) / n(x.forward.cpu)), 2, "×")}`,
    `${f(med(each((x) => n(x.ours.max_rss_mb))), 0)} / ${f(med(each((x) => n(x.plain.max_rss_mb))), 0)} MB`,
    spread(each((x) => 100 * n(x.ours.swa_overhead)), 1, "%"),
    spread(each((x) => 100 * n(x.ours.eval_share)), 0, "%"),
    f(med(each((x) => n((x.ours.event_latency_ms as { p50: number }).p50))), 2),
    spread(r.reps.flatMap((x) => x.load), 1),
  ];
});
const head = ["model", "ours samples/s", "vs PyTorch loop", "vs HF Trainer", "forward vs PyTorch", "work: loop · Trainer · forward", "peak RSS ours / PyTorch", "SWA update cost", "one eval / step", "event latency ms (p50)", "load avg"];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ");
if (rows.length) {
  console.log(`median (min–max) over ${reps} interleaved repetitions, ${threadsOption ?? runtime.threads} thread(s)`);
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}
if (article) {
  const articleRows = precisions.map((p) => {
    const runs = articleRuns[p] ?? [];
    const each = (g: (x: (typeof runs)[number]) => number) => runs.map(g);
    const pair = (g: (r: Run) => number, d = 3) => `${f(med(each((x) => g(x.ours))), d)} / ${f(med(each((x) => g(x.loop))), d)}`;
    return [
      p,
      spread(each((x) => n(x.ours.seconds)), 1, " s"),
      spread(each((x) => n(x.loop.seconds)), 1, " s"),
      spread(each((x) => n(x.loop.seconds) / n(x.ours.seconds)), 2, "×"),
      `${spread(each((x) => n(x.ours.cpu_seconds)), 0, " s")} / ${spread(each((x) => n(x.loop.cpu_seconds)), 0, " s")}`,
      spread(each((x) => n(x.loop.cpu_seconds) / n(x.ours.cpu_seconds)), 2, "×"),
      pair((r) => n(r.train_samples_per_second), 2),
      pair((r) => n(r.best_rmse)),
      f(med(each((x) => n(x.loop.best_article_score))), 3),
      pair((r) => n(r.swa_rmse)),
      pair((r) => n(r.evaluations), 0),
      spread(runs.flatMap((x) => x.load), 1),
    ];
  });
  const articleHead = ["precision", "ours end to end", "article loop", "speed-up", "CPU s ours / loop", "work ratio (CPU s)", "train samples/s ours / loop", "best RMSE ours / loop", "loop's article score", "SWA final RMSE ours / loop", "evaluations ours / loop", "load avg"];
  const w = articleHead.map((h, i) => Math.max(h.length, ...articleRows.map((r) => (r[i] ?? "").length)));
  console.log(`\narticle recipe, one fold (192 train / 96 valid, 256 tokens, 3 epochs), MiniLM-L6; median (min–max) over ${reps} interleaved repetitions, ${threadsOption ?? runtime.threads} thread(s)`);
  console.log(articleHead.map((c, i) => c.padEnd(w[i] ?? 0)).join(" | "));
  for (const r of articleRows) console.log(r.map((c, i) => c.padEnd(w[i] ?? 0)).join(" | "));
}
// A partial run (--only) gets its own file, so it never overwrites the day's full one.
const only = option("--only")?.replace(/[^A-Za-z0-9]+/g, "-");
const out = join(root, "bench/results", `${new Date().toISOString().slice(0, 10)}-${hostname()}${only ? `-${only}` : ""}.json`);
mkdirSync(join(root, "bench/results"), { recursive: true });
const articleResults = article ? { recipe: articleRecipe, runs: articleRuns } : undefined;
writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), machine: hostname(), cpus: cpus().length, reps, runtime, results, article: articleResults }, null, 2)}\n`);
say(`bench: results in ${out}`);
