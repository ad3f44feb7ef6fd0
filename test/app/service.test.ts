// The app core behind the API: datasets → experiments → runs (one worker per fold) with
// metrics and checkpoints in the store; cancel; the results table; export to a folder that
// transformers loads; presets and the LR preview through the engine; input validation.
import assert from "node:assert/strict";
import { cpSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

import { ApiError } from "../../app/core/api/errors.ts";
import { mergeConfig } from "../../app/core/experiments/ablation.ts";
import { normalizeConfig } from "../../app/core/experiments/config-file.ts";
import { requestCancel, runDir } from "../../app/core/runs/control.ts";
import type { Core } from "../../app/core/service/index.ts";
import { presets } from "../../app/core/service/presets.ts";
import type { Dataset } from "../../app/core/store/types.ts";
import type { Summary } from "../../app/engine/training.ts";
import { native } from "../../app/native/addon.ts";
import { maxAbsDiff, reference } from "../helpers/python.ts";
import { api, scratchHome, testCore, tinyConfig, tinyDataset, tinyModel, tinyRows } from "./helpers.ts";

const home = scratchHome("service");
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

const rejectsWith = (p: Promise<unknown>, status: number, message: RegExp) =>
  assert.rejects(p, (e: unknown) => e instanceof ApiError && e.status === status && message.test(e.message));

describe("datasets and models", () => {
  test("a model is removed from the library, its folder left on disk; the bundled one stays", async () => {
    const copy = join(home.dir, "tiny-copy");
    cpSync(tinyModel(), copy, { recursive: true });
    const added = await api(core, "addModel", { path: copy, name: "copy" });
    assert.deepEqual(await api(core, "removeModel", { id: added.id }), { removed: true });
    assert.ok(!(await api(core, "listModels", {})).some((m) => m.id === added.id));
    assert.ok(existsSync(join(copy, "config.json")), "the folder stays");
    await rejectsWith(api(core, "removeModel", { id: added.id }), 404, /does not exist/);
    const bundled = (await api(core, "listModels", {})).find((m) => m.bundled);
    if (bundled) await rejectsWith(api(core, "removeModel", { id: bundled.id }), 400, /bundled encoder/);
  });

  test("import measures token lengths with the chosen model's tokenizer", async () => {
    assert.equal(dataset.rowCount, 24);
    const tokens = dataset.stats?.tokens;
    assert.ok(tokens, "token stats");
    const lengths = native.SequenceModel.load(tinyModel(), { device: "cpu" })
      .tokenize(tinyRows(24).map((r) => r.text))
      .map((ids) => ids.length);
    assert.equal(tokens.max, Math.max(...lengths));
    assert.equal(tokens.maxLength, 32);
    const models = await api(core, "listModels", {});
    const tiny = models.find((m) => m.name === "tiny");
    assert.deepEqual([tiny?.modelType, tiny?.layers, tiny?.hiddenSize], ["bert", 3, 32]);
    assert.ok((tiny?.parameters ?? 0) > 1000);
    const page = await api(core, "datasetRows", { id: dataset.id, offset: 20, limit: 10 });
    assert.equal(page.total, 24);
    assert.deepEqual(
      page.rows.map((r) => r.id),
      ["r20", "r21", "r22", "r23"],
    );
  });

  test("inputs are validated once, with the field named; unknown ids are 404", async () => {
    await assert.rejects(
      api(core, "importDataset", { path: "x.csv", mapping: { text: "text" }, task: "regression" } as never),
      (e: unknown) => e instanceof ApiError && e.status === 400 && e.details.issues?.[0]?.path === "mapping.label",
    );
    await rejectsWith(api(core, "nope" as never, {} as never), 404, /Unknown method "nope"/);
    await rejectsWith(api(core, "getDataset", { id: 999 }), 404, /Dataset 999 does not exist/);
    await rejectsWith(api(core, "addModel", { path: home.dir }), 400, /not a Hugging Face model folder/);
    const bad = await api(core, "importDataset", {
      path: join(home.dir, "tiny-24.csv"),
      mapping: { text: "text", label: "missing" },
      task: "regression",
    }).catch((e: unknown) => e);
    assert.ok(
      bad instanceof ApiError && bad.status === 400 && /label column "missing" is not in the file/.test(bad.message),
    );
    assert.ok(bad.details.problems?.length);
  });
});

describe("presets and the LR preview", () => {
  test("every preset, over Basic, is a valid config the engine plans on a 3-layer model", () => {
    const list = presets(3);
    const basic = list[0]?.config as Record<string, unknown>;
    assert.deepEqual(
      list.map((p) => p.name),
      [
        "Basic",
        "Article: all techniques",
        "Article, as published",
        "LLRD",
        "Grouped LLRD",
        "Warm-up",
        "Re-init",
        "SWA",
        "Frequent evaluation",
      ],
    );
    for (const p of list) {
      // 3 epochs: the SWA presets start at epoch 3.
      const train = { epochs: 3, batch_size: 4, device: "cpu", seed: 11 };
      const base = mergeConfig(
        tinyConfig({ data: { train: "x.csv", text: "t", label: "y", max_length: 32 }, train }),
        basic,
      );
      const config = normalizeConfig(mergeConfig(base, p.config), "/");
      const plan = native.LrSchedule.create(JSON.stringify(config), 10, 1);
      assert.equal(plan.totalSteps, 10 * config.train.epochs, p.name);
    }
    const grouped = list.find((p) => p.name === "Grouped LLRD")?.config as { llrd: { groups: { layers: string }[] } };
    assert.deepEqual(
      grouped.llrd.groups.map((g) => g.layers),
      ["0-0", "1-1", "2-2"],
    );
    // The article's 0-3 / 4-7 / 8-11 and re-init of 5 of 12 layers, on 12 and on 6 layers.
    const published = (layers: number) =>
      presets(layers).find((p) => p.name === "Article, as published")?.config as {
        llrd: { groups: { layers: string; lr: number }[] };
        reinit: { top_layers: number };
      };
    assert.deepEqual(
      published(12).llrd.groups.map((g) => [g.layers, g.lr]),
      [
        ["0-3", 1e-6],
        ["4-7", 1.75e-6],
        ["8-11", 3.5e-6],
      ],
    );
    assert.equal(published(12).reinit.top_layers, 5);
    assert.deepEqual(
      published(6).llrd.groups.map((g) => g.layers),
      ["0-1", "2-3", "4-5"],
    );
    assert.equal(published(6).reinit.top_layers, 2);
  });

  test("previewSchedule fills the data from the dataset and reports engine errors as 400 naming the field", async () => {
    const preview = await api(core, "previewSchedule", {
      config: tinyConfig({ schedule: { name: "linear", warmup_steps: 2 } }),
      datasetId: dataset.id,
    });
    // 24 rows, 2 folds → 12 training rows, batch 4 → 3 steps per epoch, 2 epochs.
    assert.equal(preview.stepsPerEpoch, 3);
    assert.deepEqual(
      preview.folds.map((f) => [f.fold, f.trainRows, f.validRows, f.totalSteps]),
      [
        [0, 12, 12, 6],
        [1, 12, 12, 6],
      ],
    );
    const fold1 = await api(core, "previewSchedule", { config: tinyConfig(), datasetId: dataset.id, fold: 1 });
    assert.equal(fold1.fold, 1);
    await rejectsWith(
      api(core, "previewSchedule", { config: tinyConfig(), datasetId: dataset.id, fold: 4 }),
      400,
      /fold 4 does not run in this experiment/,
    );
    assert.equal(preview.totalSteps, 6);
    assert.equal(preview.warmupSteps, 2);
    assert.equal(preview.curves.length, preview.groups.length);
    assert.ok(preview.curves.every((c) => c.length === 6));
    assert.equal(preview.curves[0]?.[0], 0);
    await rejectsWith(
      api(core, "previewSchedule", { config: tinyConfig({ schedule: { name: "cosin" } }), datasetId: dataset.id }),
      400,
      /schedule\.name/,
    );
    await rejectsWith(
      api(core, "previewSchedule", { config: tinyConfig({ reinit: { top_layers: 5 } }), datasetId: dataset.id }),
      400,
      /reinit\.top_layers is 5 but the model has only 3/,
    );
    await rejectsWith(api(core, "previewSchedule", { config: tinyConfig() }), 400, /Give datasetId or stepsPerEpoch/);
  });

  test("every problem of a config at once, each naming its field, in plain words", async () => {
    const config = tinyConfig({
      train: { epochs: -5, batch_size: 1.5, device: "cpu" },
      optimizer: { lr: -1 },
      llrd: { mode: "layerwise", top_lr: 1e-4, decay: 1.5, head_lr: 1e-3 },
      schedule: { name: "cosin" },
    });
    for (const method of ["previewSchedule", "createExperiment"] as const) {
      const input = { config, datasetId: dataset.id, ...(method === "createExperiment" ? { name: "bad" } : {}) };
      const err = await api(core, method, input as never).catch((e: unknown) => e);
      assert.ok(err instanceof ApiError && err.status === 400, String(err));
      const issues = [...(err.details.issues ?? [])].sort((a, b) => a.path.localeCompare(b.path));
      assert.deepEqual(
        issues.map((i) => i.path),
        ["llrd.decay", "optimizer.lr", "schedule.name", "train.batch_size", "train.epochs"],
        method,
      );
      const messages = issues.map((i) => i.message);
      assert.ok(
        messages.every((m) => !/usize|invalid value|invalid type|variant/.test(m)),
        messages.join("\n"),
      );
      assert.match(messages[0] ?? "", /^llrd\.decay must be in \(0, 1\], got 1\.5$/);
      assert.match(messages[1] ?? "", /^optimizer\.lr must be positive, got -1$/);
      assert.match(
        messages[2] ?? "",
        /^schedule\.name must be one of linear, cosine, constant; "cosin" is not one of them$/,
      );
      assert.match(messages[3] ?? "", /^train\.batch_size must be a whole number .*got 1\.5$/);
      assert.match(messages[4] ?? "", /^train\.epochs cannot be negative, got -5$/);
    }
    // A problem that names no field comes alone, as it is.
    await rejectsWith(
      api(core, "previewSchedule", {
        config: tinyConfig({ schedule: { warmup_steps: 2, warmup_ratio: 0.1 } }),
        datasetId: dataset.id,
      }),
      400,
      /^schedule: give warmup_steps or warmup_ratio, not both$/,
    );
  });
});

describe("experiments and runs", () => {
  let summaries: Summary[] = [];
  let experimentId = 0;
  let runIds: number[] = [];

  test("startRuns trains one worker per fold; metrics, plan and checkpoints land in the store", async () => {
    const config = tinyConfig({
      swa: { start_epoch: 2, lr: 5e-4, anneal_steps: 1 },
      eval: { every_steps: 2 },
    });
    const experiment = await api(core, "createExperiment", { name: "swa", datasetId: dataset.id, config });
    experimentId = experiment.id;
    assert.equal(experiment.datasetId, dataset.id);
    const statuses: string[] = [];
    const stop = core.events.subscribe((e) => {
      if (e.type === "run-status") statuses.push(`${e.run.id}:${e.run.status}`);
    });
    const runs = await api(core, "startRuns", { experimentId });
    assert.deepEqual(
      runs.map((r) => [r.fold, r.status]),
      [
        [0, "queued"],
        [1, "queued"],
      ],
    );
    runIds = runs.map((r) => r.id);
    const ended = await Promise.all(runIds.map((id) => core.runs.waitFor(id)));
    stop();
    assert.deepEqual(
      ended.map((r) => r.status),
      ["completed", "completed"],
      ended.map((r) => r.error).join("; "),
    );
    assert.deepEqual(statuses, [
      `${runIds[0]}:queued`,
      `${runIds[1]}:queued`,
      `${runIds[0]}:running`,
      `${runIds[0]}:completed`,
      `${runIds[1]}:running`,
      `${runIds[1]}:completed`,
    ]);
    summaries = ended.map((r) => r.summary as Summary);

    const detail = await api(core, "getRun", { id: runIds[1] as number });
    assert.equal(detail.experimentName, "swa");
    assert.equal(detail.totalSteps, 6);
    assert.equal(detail.stepsDone, 6);
    assert.ok(detail.groups.includes("head"));
    assert.deepEqual(detail.checkpoints.map((c) => c.kind).sort(), ["best", "final"]);
    for (const c of detail.checkpoints) assert.ok(existsSync(join(c.path, "model.safetensors")), c.path);
    assert.ok(detail.checkpoints.every((c) => c.path.startsWith(join(home.dir, "runs", String(runIds[1])))));

    const points = await api(core, "runMetrics", { id: runIds[1] as number });
    const names = (split: string) => new Set(points.filter((p) => p.split === split).map((p) => p.name));
    assert.ok(names("train").has("loss") && names("train").has("grad_norm") && names("train").has("lr/head"));
    assert.ok(names("valid").has("rmse") && names("valid").has("pearson"));
    assert.ok(names("valid_swa").has("rmse"), "SWA evaluations after SWA starts");
    assert.deepEqual(
      points.filter((p) => p.split === "train" && p.name === "loss").map((p) => p.step),
      [1, 2, 3, 4, 5, 6],
    );
    const evalSteps = points.filter((p) => p.split === "valid" && p.name === "rmse").map((p) => p.step);
    assert.deepEqual(evalSteps, [2, 3, 4, 6]);
    const later = await api(core, "runMetrics", { id: runIds[1] as number, afterStep: 4 });
    assert.ok(later.length > 0 && later.every((p) => p.step > 4));

    // The engine's own verdicts are stored with the points: its best evaluations (isBest) and
    // where SWA started; the last flagged evaluation is the summary's best.
    const flagged = points.filter((p) => p.split === "event" && p.name === "best").map((p) => p.step);
    assert.ok(flagged.length > 0 && flagged.every((s) => evalSteps.includes(s)), `flagged ${flagged}`);
    assert.equal(flagged.at(-1), summaries[1]?.folds[0]?.best_step);
    const swaStart = points.filter((p) => p.split === "event" && p.name === "swa_start");
    assert.deepEqual(
      swaStart.map((p) => [p.step, p.value]),
      [[3, 3]],
      "SWA from epoch 2: after step 3 of 6",
    );
    assert.equal(detail.swa, true);
    assert.equal(detail.resumable, false, "a completed fold keeps no resumable state");
  });

  test("keep: the default drops the final weights unless SWA ran; best+final keeps both", async () => {
    const experiment = await api(core, "createExperiment", {
      name: "no swa",
      datasetId: dataset.id,
      config: tinyConfig(),
    });
    const [plain] = await api(core, "startRuns", { experimentId: experiment.id, folds: [0] });
    const [both] = await api(core, "startRuns", { experimentId: experiment.id, folds: [0], keep: "best+final" });
    const [onlyBest] = await api(core, "startRuns", { experimentId: experimentId, folds: [0], keep: "best" });
    for (const run of [plain, both, onlyBest])
      assert.equal((await core.runs.waitFor(run?.id as number)).status, "completed");
    const kept = async (id: number) => {
      const detail = await api(core, "getRun", { id });
      return detail.checkpoints.map((c) => c.kind).sort();
    };
    const folder = (id: number, kind: string) => existsSync(join(runDir(home.dir, id), "fold-0", kind));
    assert.deepEqual(await kept(plain?.id as number), ["best"]);
    assert.ok(folder(plain?.id as number, "best") && !folder(plain?.id as number, "final"), "final folder removed");
    assert.deepEqual(await kept(both?.id as number), ["best", "final"]);
    assert.ok(folder(both?.id as number, "final"));
    assert.deepEqual(await kept(onlyBest?.id as number), ["best"], "SWA ran, but keep: best");
    assert.ok(!folder(onlyBest?.id as number, "final"));
    // The SWA experiment's runs kept their SWA average by default (the first test).
    assert.deepEqual(await kept(runIds[0] as number), ["best", "final"]);
  });

  test("compare: mean ± std of each fold's best metric, with the techniques", async () => {
    const basic = await api(core, "createExperiment", {
      name: "basic, no runs",
      datasetId: dataset.id,
      config: tinyConfig(),
    });
    const rows = await api(core, "compare", { experimentIds: [experimentId, basic.id] });
    const best = summaries.map((s) => s.folds[0]?.best_metric as number);
    const [b0 = Number.NaN, b1 = Number.NaN] = best;
    const mean = (b0 + b1) / 2;
    assert.equal(rows[0]?.metric, "rmse");
    assert.deepEqual(
      rows[0]?.folds,
      best.map((value, fold) => ({ fold, value })),
    );
    assert.ok(Math.abs((rows[0]?.mean ?? 0) - mean) < 1e-12);
    assert.ok(Math.abs((rows[0]?.std ?? 0) - Math.abs(b0 - b1) / Math.SQRT2) < 1e-12);
    assert.ok(rows[0]?.techniques.some((t) => t.startsWith("SWA")));
    // Both folds ran: the out-of-fold RMSE over all 24 rows sits between the fold scores' range.
    const oof = rows[0]?.oof as number;
    assert.ok(Number.isFinite(oof) && oof >= Math.min(b0, b1) - 1e-9 && oof <= Math.max(b0, b1) + 1e-9, `${oof}`);
    const { settings, ...rest } = rows[1] as NonNullable<(typeof rows)[1]>;
    assert.deepEqual(rest, {
      experimentId: basic.id,
      name: "basic, no runs",
      techniques: ["basic fine-tuning"],
      metric: "rmse",
      folds: [],
      mean: null,
      std: null,
      oof: null,
      metrics: [],
      statuses: {},
      sweepId: null,
      trial: null,
    });
    // Every metric the engine reported at each fold's best evaluation, mean ± std over folds.
    const pearson = rows[0]?.metrics.find((m) => m.name === "pearson");
    const p = summaries.map((s) => s.folds[0]?.best_metrics.pearson as number);
    assert.deepEqual(
      pearson?.folds.map((f) => f.value),
      p,
    );
    assert.ok(Math.abs((pearson?.mean ?? 0) - ((p[0] as number) + (p[1] as number)) / 2) < 1e-12);
    assert.deepEqual(rows[0]?.metrics.find((m) => m.name === "rmse")?.folds, rows[0]?.folds);
    assert.deepEqual(rows[0]?.statuses, { completed: 2 });
    // The settings, flattened, show what differs: SWA on in one, off in the other.
    assert.equal(rows[0]?.settings["swa.lr"], 5e-4);
    assert.equal(settings.swa, null);
    assert.equal(settings["optimizer.lr"], rows[0]?.settings["optimizer.lr"]);
  });

  test("exportRun writes a folder transformers loads, predicting what the engine predicts", async () => {
    const out = join(home.dir, "exported");
    const result = await api(core, "exportRun", { id: runIds[0] as number, kind: "best", outDir: out });
    assert.equal(result.path, out);
    assert.equal(result.head, "cls");
    assert.ok(result.python.includes(`model = AutoModelForSequenceClassification.from_pretrained("${out}").eval()`));
    assert.ok(readFileSync(join(out, "README.md"), "utf8").includes(result.python), "the model card");
    const probe = tinyRows(5).map((r) => r.text);
    const [theirs] = reference<{ logits: number[][] }[]>("forward", [], [{ dir: out, texts: probe, max_length: 32 }]);
    const ours = native.SequenceModel.load(out, { device: "cpu", maxLength: 32 }).predict(probe);
    assert.ok(maxAbsDiff(ours, theirs?.logits) < 1e-4, `differ by ${maxAbsDiff(ours, theirs?.logits)}`);
    await rejectsWith(api(core, "exportRun", { id: runIds[0] as number, kind: "best", outDir: out }), 400, /not empty/);
  });

  test("exports go under the data folder's exports/ by default, and so do relative folders", async () => {
    const exports = join(home.dir, "exports");
    const target = await api(core, "exportTarget", { id: runIds[0] as number, kind: "best" });
    assert.equal(target.path, join(exports, "swa-fold0-best"));
    const first = await api(core, "exportRun", { id: runIds[0] as number, kind: "best" });
    assert.equal(first.path, target.path);
    assert.ok(existsSync(join(first.path, "config.json")));
    // The default never reuses a folder that has something in it.
    const second = await api(core, "exportTarget", { id: runIds[0] as number, kind: "best" });
    assert.equal(second.path, join(exports, "swa-fold0-best-2"));
    const relative = await api(core, "exportRun", { id: runIds[0] as number, kind: "final", outDir: "mine/final" });
    assert.equal(relative.path, join(exports, "mine", "final"));
    assert.ok(existsSync(join(relative.path, "config.json")));
    assert.ok(!existsSync(join(process.cwd(), "mine")), "nothing in the server's working directory");
  });

  test("cancel: a queued run at once, a running one within a step", async () => {
    const long = tinyConfig({ train: { epochs: 200, batch_size: 2, device: "cpu" } });
    const experiment = await api(core, "createExperiment", { name: "long", datasetId: dataset.id, config: long });
    let steps = 0;
    const started = new Promise<void>((resolve) => {
      const stop = core.runs.onTrainEvent((_id, e) => {
        if (e.kind === "step" && ++steps === 1) {
          stop();
          resolve();
        }
      });
    });
    const [first, second] = await api(core, "startRuns", { experimentId: experiment.id });
    const queued = await api(core, "cancelRun", { id: second?.id as number });
    assert.equal(queued.status, "cancelled");
    await started;
    const cancelled = await api(core, "cancelRun", { id: first?.id as number });
    assert.equal(cancelled.status, "cancelled");
    assert.equal(cancelled.error, null);
    const detail = await api(core, "getRun", { id: first?.id as number });
    assert.ok(detail.stepsDone < 50, `stopped after ${detail.stepsDone} steps`);
    await rejectsWith(api(core, "cancelRun", { id: first?.id as number }), 400, /already ended \(cancelled\)/);
    assert.equal(core.runs.active, null);

    // A cancelled run resumes: queued again, then training (from its saved state, if any).
    const statuses: string[] = [];
    const watch = core.events.subscribe((e) => {
      if (e.type === "run-status" && e.run.id === first?.id) statuses.push(e.run.status);
    });
    const resumedSteps = new Promise<void>((resolve) => {
      const stop = core.runs.onTrainEvent((runId, e) => {
        if (runId === first?.id && e.kind === "step") {
          stop();
          resolve();
        }
      });
    });
    const queuedAgain = await api(core, "resumeRun", { id: first?.id as number });
    assert.equal(queuedAgain.status, "queued");
    await resumedSteps;
    const again = await api(core, "cancelRun", { id: first?.id as number });
    watch();
    assert.equal(again.status, "cancelled");
    assert.deepEqual(statuses, ["queued", "running", "cancelled"]);
    const completed = (await api(core, "listRuns", {})).find((r) => r.status === "completed");
    await rejectsWith(
      api(core, "resumeRun", { id: completed?.id as number }),
      400,
      /only interrupted or cancelled runs can resume/,
    );

    // Another process (say `ftune runs cancel` next to a server) asks through the run's folder.
    const [third] = await api(core, "startRuns", { experimentId: experiment.id, folds: [0] });
    const id = third?.id as number;
    const stop = core.runs.onTrainEvent((runId, e) => {
      if (runId === id && e.kind === "step") {
        stop();
        requestCancel(runDir(home.dir, id));
      }
    });
    const ended = await core.runs.waitFor(id);
    assert.equal(ended.status, "cancelled");
    assert.ok(!existsSync(join(runDir(home.dir, id), "cancel-requested")), "the request is cleared");
  });

  test("a deleted dataset leaves its experiments' results but no new runs", async () => {
    const other = await tinyDataset(core, 12);
    const experiment = await api(core, "createExperiment", {
      name: "orphan",
      datasetId: other.id,
      config: tinyConfig(),
    });
    assert.deepEqual(await api(core, "deleteDataset", { id: other.id }), { deleted: true });
    const after = await api(core, "getExperiment", { id: experiment.id });
    assert.equal(after.datasetId, null);
    await rejectsWith(api(core, "startRuns", { experimentId: experiment.id }), 400, /has no dataset/);
    await rejectsWith(
      api(core, "startRuns", { experimentId: experimentId, folds: [2] }),
      400,
      /folds: 2 not in this experiment/,
    );
  });
});
