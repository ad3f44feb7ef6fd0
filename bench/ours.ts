// The engine side of `npm run bench`, one measurement per process (so peak RSS is its own):
//   ours.ts train REQUEST.json   training throughput with the recipe, SWA and evaluation cost,
//                                native-step → JS-event latency
//   ours.ts forward REQUEST.json forward-only throughput
//   ours.ts article REQUEST.json the article's recipe on one fold, end to end (bench/article_loop.py's
//                                counterpart; the request is that script's)
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { startExperiment } from "../app/engine/training.ts";
import { native, type TimedEvent } from "../app/native/addon.ts";
import { type ArticleRecipe, articleConfig } from "./article_recipe.ts";

interface Request {
  dir: string;
  texts: string[];
  targets: number[];
  batch: number;
  seq: number;
  steps: number;
  skip: number;
  forward_batches: number;
}

const [mode, file] = process.argv.slice(2);
const req = JSON.parse(readFileSync(file as string, "utf8")) as Request;
const rssMb = () => process.resourceUsage().maxRSS / 1024;
const now = () => performance.timeOrigin + performance.now();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

async function train() {
  const n = req.steps * req.batch;
  const config = {
    model: req.dir,
    data: { train: "bench", valid: "bench", text: "text", label: "label", max_length: req.seq },
    head: { pooling: "cls" },
    train: { epochs: 1, batch_size: req.batch, eval_batch_size: 32, shuffle: false, device: "cpu" },
    optimizer: { eps: 1e-6 },
    llrd: { mode: "layerwise", top_lr: 3.5e-5, decay: 0.9, head_lr: 1e-4 },
    schedule: { name: "linear", warmup_steps: 2 },
    swa: { start_step: Math.floor(req.steps / 2), lr: 1e-5 },
    eval: { save_best: false },
  };
  const stepAt: number[] = [];
  let cpuAtSkip: NodeJS.CpuUsage | undefined;
  let cpuSeconds = Number.NaN;
  const latency: number[] = [];
  let swaStart = Number.POSITIVE_INFINITY;
  let evals = 0;
  const summary = await startExperiment(
    JSON.stringify(config),
    {
      texts: req.texts.slice(0, n),
      targets: req.targets.slice(0, n),
      validTexts: req.texts.slice(0, 32),
      validTargets: req.targets.slice(0, 32),
    },
    null,
    (e: TimedEvent) => {
      latency.push(now() - e.emittedAtMs);
      if (e.kind === "step") {
        stepAt[e.step] = e.emittedAtMs;
        // The process's CPU time (every thread) over the measured steps: the work they did.
        if (e.step === req.skip) cpuAtSkip = process.cpuUsage();
        if (e.step === req.steps && cpuAtSkip) {
          const c = process.cpuUsage(cpuAtSkip);
          cpuSeconds = (c.user + c.system) / 1e6;
        }
      }
      if (e.kind === "swa_start") swaStart = e.step;
      if (e.kind === "eval") evals++;
    },
  ).done;
  const durations = (from: number, to: number) => {
    const d: number[] = [];
    for (let k = Math.max(from, req.skip + 1); k <= to; k++) if (stepAt[k] && stepAt[k - 1]) d.push((stepAt[k] as number) - (stepAt[k - 1] as number));
    return d;
  };
  const before = durations(0, swaStart);
  const during = durations(swaStart + 2, req.steps);
  const measured = (stepAt[req.steps] as number) - (stepAt[req.skip] as number);
  const fold = summary.folds[0];
  const stepMs = median([...before, ...during]);
  return {
    train: ((req.steps - req.skip) * req.batch) / (measured / 1e3),
    cpu: ((req.steps - req.skip) * req.batch) / cpuSeconds,
    swa_overhead: median(during) / median(before) - 1,
    eval_share: fold ? (fold.eval_seconds * 1e3) / Math.max(1, evals) / stepMs : Number.NaN,
    event_latency_ms: { p50: median(latency), max: Math.max(...latency) },
  };
}

function forward() {
  const model = native.SequenceModel.load(req.dir, { maxLength: req.seq, device: "cpu", numLabels: 1 });
  const texts = req.texts.slice(0, req.forward_batches * 32);
  model.predict(texts.slice(0, 32), null, 32);
  const t0 = now();
  const c0 = process.cpuUsage();
  model.predict(texts.slice(32), null, 32);
  const c = process.cpuUsage(c0);
  return { forward: (texts.length - 32) / ((now() - t0) / 1e3), cpu: (texts.length - 32) / ((c.user + c.system) / 1e6) };
}

/** The article's recipe on one fold, end to end, with bench/article_loop.py's settings. */
async function article() {
  const a = req as unknown as ArticleRecipe & { dir: string; texts: string[]; targets: number[]; valid_texts: string[]; valid_targets: number[] };
  const config = articleConfig(a.dir, a);
  const out = mkdtempSync(join(tmpdir(), "ftune-bench-article-"));
  let evals = 0;
  const t0 = now();
  const cpu0 = process.cpuUsage();
  const summary = await startExperiment(
    JSON.stringify(config),
    { texts: a.texts, targets: a.targets, validTexts: a.valid_texts, validTargets: a.valid_targets },
    out,
    (e: TimedEvent) => {
      if (e.kind === "eval") evals += e.swaMetrics ? 2 : 1;
    },
  ).done;
  const seconds = (now() - t0) / 1e3;
  const cpu = process.cpuUsage(cpu0);
  rmSync(out, { recursive: true, force: true });
  const fold = summary.folds[0];
  return {
    seconds,
    // The process's CPU seconds over the same span (every thread): with one thread, the work
    // done, however loaded the machine is.
    cpu_seconds: (cpu.user + cpu.system) / 1e6,
    train_samples_per_second: fold?.train_samples_per_second,
    steps: fold?.steps,
    evaluations: fold?.evaluations,
    eval_events: evals,
    best_rmse: fold?.best_metric,
    best_source: fold?.best_source,
    swa_rmse: fold?.final_metrics.rmse,
    precision: fold?.precision,
  };
}

const modes: Record<string, () => unknown> = { train, forward, article };
const result = await (modes[mode as string] as () => unknown)();
process.stdout.write(`${JSON.stringify({ ...(result as object), max_rss_mb: rssMb(), threads: native.runtimeInfo().threads })}\n`);
