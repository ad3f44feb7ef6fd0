// The Ray backend on a real two-node Ray cluster (127.0.0.1): an ablation's folds as Ray tasks
// give exactly the local backend's per-fold results, their events land in the same store and
// run folders; a node killed mid-fold loses nothing: the fold is retried on the other node and
// resumes from the state it last saved, finishing with the uninterrupted run's numbers.
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type AblationTrainer, runAblation } from "../../app/core/experiments/ablation.ts";
import { loadConfigFile } from "../../app/core/experiments/config-file.ts";
import { loadExperimentData } from "../../app/core/experiments/data.ts";
import { trainFileExperiment } from "../../app/core/runs/orchestrate.ts";
import type { RayPlacement } from "../../app/core/runs/ray/bridge.ts";
import { forkTransport } from "../../app/core/runs/worker.ts";
import type { Core, CoreOptions } from "../../app/core/service/index.ts";
import { getRun } from "../../app/core/store/repo-experiments.ts";
import type { Summary } from "../../app/engine/training.ts";
import { foldJobBinary, venvPython } from "../../scripts/env.mjs";
import { ensureRaySetup, type RayTestCluster, startRayCluster } from "../helpers/ray-cluster.ts";
import { scratchHome, testCore, tinyConfig, writeTinyCsv } from "./helpers.ts";

const home = scratchHome("ray");
let cluster: RayTestCluster | undefined;
const savedEnv = { ...process.env };

// A Ray fold asks for one CPU and its engine runs one thread; the local backend's worker gets
// the same, so both do the very same arithmetic.
const localOptions = (): CoreOptions => ({
  transport: forkTransport({ env: { ...process.env, OMP_NUM_THREADS: "1" } }),
});
const rayOptions = (address: string): CoreOptions => ({
  ray: { address, python: venvPython, binary: foldJobBinary(), cpusPerFold: 1 },
});

/** What must match between backends: every fold's numbers. */
const perFold = (s: Summary) =>
  s.folds.map((f) => ({
    fold: f.fold,
    best: f.best_metric,
    bestStep: f.best_step,
    final: f.final_metrics,
    steps: f.steps,
    outputs: f.valid_outputs,
  }));

before(async () => {
  ensureRaySetup();
  cluster = await startRayCluster(home.dir, { headCpus: 1 });
  await cluster.addWorker({ cpus: 1, resources: { second: 1 } });
  // The bridge (a child of this process) joins the cluster with its token.
  Object.assign(process.env, cluster.env);
});

after(async () => {
  await cluster?.stop();
  process.env = savedEnv;
  home.cleanup();
});

describe("the Ray backend", { timeout: 900_000 }, () => {
  test("a two-row ablation on a two-node cluster gives exactly the local backend's per-fold results", async () => {
    const csv = writeTinyCsv(home.dir, 24);
    const spec = join(home.dir, "ablation.yaml");
    const base = tinyConfig({
      data: { train: csv, text: "text", label: "target", max_length: 32 },
      train: { epochs: 2, batch_size: 4, device: "cpu", seed: 11 },
    });
    writeFileSync(
      spec,
      JSON.stringify({
        base,
        experiments: [
          { name: "basic" },
          { name: "+ SWA", set: { swa: { start_epoch: 2, lr: 1e-4 }, eval: { every_steps: 1 } } },
        ],
      }),
    );
    const ablate = async (options: CoreOptions, out: string, placements?: RayPlacement[]) => {
      const core = await testCore(join(home.dir, "data"), options);
      core.ray?.onPlaced((p) => placements?.push(p));
      const train: AblationTrainer = async (name, config, dir) => {
        const { data } = await loadExperimentData(config);
        return (await trainFileExperiment(core, { name, config, data, outDir: dir })).summary;
      };
      try {
        return { results: await runAblation(spec, out, train), core };
      } finally {
        await core.close();
      }
    };
    const local = await ablate(localOptions(), join(home.dir, "local"));
    const placements: RayPlacement[] = [];
    const ray = await ablate(rayOptions(cluster?.address as string), join(home.dir, "ray"), placements);

    assert.equal(ray.results.length, 2);
    for (const [i, r] of ray.results.entries()) {
      assert.equal(r.summary.folds.length, 2);
      assert.deepEqual(perFold(r.summary), perFold(local.results[i]?.summary as Summary), `row ${r.name}`);
    }
    // Four folds, as four tasks, on both nodes.
    assert.equal(placements.length, 4);
    assert.equal(new Set(placements.map((p) => p.node)).size, 2);
    // The run folders hold what a local run's do: the events and the checkpoints came back.
    for (const row of ["basic", "_SWA"]) {
      for (const fold of [0, 1]) {
        const dir = join(home.dir, "ray", row, `fold-${fold}`);
        const lines = readFileSync(join(dir, "metrics.jsonl"), "utf8").trim().split("\n");
        assert.ok(
          lines.some((l) => JSON.parse(l).split === "valid"),
          `${dir}: evaluations`,
        );
        assert.ok(existsSync(join(dir, "outcome.json")), `${dir}: outcome`);
      }
    }
  });

  test("a node killed mid-fold: the fold is retried elsewhere, resumes from its saved state and finishes", async () => {
    const csv = writeTinyCsv(home.dir, 160, "longer.csv");
    const path = join(home.dir, "longer.json");
    const config = tinyConfig({
      data: { train: csv, text: "text", label: "target", max_length: 32 },
      train: { epochs: 4, batch_size: 4, device: "cpu", seed: 5 },
      eval: { every_steps: 4 },
    });
    writeFileSync(path, JSON.stringify(config));
    const normalized = loadConfigFile(path);
    const { data } = await loadExperimentData(normalized);
    const run = async (core: Core, outDir: string) =>
      trainFileExperiment(core, { name: "kill", config: normalized, data, outDir });

    const localCore = await testCore(join(home.dir, "data"), localOptions());
    const local = await run(localCore, join(home.dir, "kill-local")).finally(() => localCore.close());

    const second = cluster?.workers[0];
    const core = await testCore(join(home.dir, "data"), {
      ...rayOptions(cluster?.address as string),
      // A state at every evaluation, so the retry has one to continue from.
      stateIntervalSeconds: 0,
    });
    try {
      const nodes = (await core.ray?.ready)?.nodes ?? [];
      const secondId = nodes.find((n) => n.alive && n.resources.second)?.id;
      assert.ok(secondId, "the second node is in the cluster");
      const placements: RayPlacement[] = [];
      const evals = new Map<number, number>();
      const resumes: { runId: number; step: number }[] = [];
      let killedFold: number | undefined;
      core.ray?.onPlaced((p) => placements.push(p));
      core.runs.onTrainEvent((runId, e) => {
        if (e.kind === "resume") resumes.push({ runId, step: e.step });
        if (e.kind !== "eval") return;
        evals.set(e.fold, (evals.get(e.fold) ?? 0) + 1);
        const there = placements.find((p) => p.node === secondId && p.attempt === 1);
        if (killedFold === undefined && there && e.fold === there.fold && (evals.get(e.fold) ?? 0) >= 3) {
          killedFold = there.fold;
          second?.kill();
        }
      });
      const ray = await run(core, join(home.dir, "kill-ray"));
      assert.notEqual(killedFold, undefined, "a fold ran on the second node and the node was killed mid-fold");
      assert.deepEqual(
        ray.runs.map((r) => r.status),
        ["completed", "completed"],
        ray.runs.map((r) => r.error).join(" / "),
      );
      const retried = placements.filter((p) => p.attempt === 2);
      assert.equal(retried.length, 1);
      assert.equal(retried[0]?.fold, killedFold);
      assert.notEqual(retried[0]?.node, secondId);
      // It continued from a saved state, not from the start...
      assert.equal(resumes.length, 1);
      assert.ok((resumes[0]?.step ?? 0) >= 3 * 4, `resumed at step ${resumes[0]?.step}`);
      const killedRun = await getRun(core.store, resumes[0]?.runId as number);
      assert.equal(killedRun?.fold, killedFold);
      // ...and ends exactly where the uninterrupted local run ends.
      assert.deepEqual(perFold(ray.summary), perFold(local.summary));
    } finally {
      await core.close();
    }
  });
});
