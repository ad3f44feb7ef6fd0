// `ftune sweep` survives a kill -9: the command is SIGKILLed once its first trial has finished,
// its Ray driver (and the local Ray with it) stops by itself, and the same command again
// (same --out) continues from Tune's saved state: the finished trial is not rerun, and the store
// ends with exactly one experiment per trial, none left running, all under one sweep.
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { listExperiments, listRuns, type Run } from "../../app/core/store/repo-experiments.ts";
import { listSweeps, listTrials } from "../../app/core/store/repo-sweeps.ts";
import { root } from "../../scripts/env.mjs";
import { ensureRaySetup } from "../helpers/ray-cluster.ts";
import { scratchHome, testCore, tinyConfig, writeTinyCsv } from "./helpers.ts";

const home = scratchHome("sweep-resume");
const env = { FTUNE_HOME: join(home.dir, "data"), RAY_AUTH_MODE: "token", RAY_AUTH_TOKEN: "e".repeat(32) };
const children: ChildProcess[] = [];

before(() => ensureRaySetup());
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  home.cleanup();
});

/** `ftune sweep`, its stderr lines handed to `onLine` as they come. */
function sweep(args: string[], onLine: (line: string) => void = () => {}) {
  const child = spawn(process.execPath, [join(root, "bin/ftune.js"), "sweep", ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  let partial = "";
  child.stderr.on("data", (d) => {
    stderr += d;
    partial += d;
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) onLine(line);
  });
  const done = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal })),
  );
  return { child, done, out: () => ({ stdout, stderr }) };
}

/** The sweep drivers (sweep.py) still running for this test's spec file. */
function drivers(spec: string): number[] {
  const ps = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
  return ps
    .split("\n")
    .filter((l) => l.includes("sweep.py") && l.includes(spec))
    .map((l) => Number.parseInt(l.trim(), 10));
}

test("kill -9 of ftune sweep after its first trial, then the same command: it resumes", {
  timeout: 900_000,
}, async (t) => {
  const csv = writeTinyCsv(home.dir, 96);
  const path = join(home.dir, "sweep.yaml");
  const out = join(home.dir, "out");
  const base = tinyConfig({
    data: { train: csv, text: "text", label: "target", max_length: 32 },
    // Trials long enough (2,160 steps) that the second pair is still training 2 s after the
    // first pair ends, on a loaded CI machine too (720 steps once let it finish first).
    train: { epochs: 90, batch_size: 4, device: "cpu", seed: 3 },
    eval: { every_steps: 135 },
  });
  writeFileSync(
    path,
    JSON.stringify({
      base,
      space: { "optimizer.lr": { loguniform: [1e-5, 1e-2] } },
      trials: 4,
      concurrency: 2,
      grace_period: 5000, // no early stops: every trial trains long enough to be cut short
      seed: 2,
    }),
  );

  // First run: killed once a trial has completed (and Tune has had time to save its state)
  // while another trial is training.
  let firstDone: string | undefined;
  let doneAt = 0;
  const started = new Map<string, number>();
  const ended = new Set<string>();
  const first = sweep([path, "--out", out], (line) => {
    const s = /^ftune: trial (\S+) started/.exec(line);
    if (s?.[1]) started.set(s[1], Date.now());
    const e = /^ftune: trial (\S+) (completed|stopped|failed)/.exec(line);
    if (e?.[1]) ended.add(e[1]);
    if (e?.[1] && e[2] === "completed" && !firstDone) {
      firstDone = e[1];
      doneAt = Date.now();
    }
  });
  const training = () =>
    [...started].filter(([key, at]) => !ended.has(key) && Date.now() - at > 1500).map(([key]) => key);
  const deadline = Date.now() + 600_000;
  while (!firstDone || Date.now() - doneAt < 2000 || training().length === 0) {
    if (first.child.exitCode !== null) assert.fail(`the sweep ended before the kill:\n${first.out().stderr}`);
    if (Date.now() > deadline) assert.fail(`no moment to kill:\n${first.out().stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const runningAtKill = training();
  t.diagnostic(`killed ${Date.now() - doneAt} ms after ${firstDone} completed, while ${runningAtKill} trained`);
  first.child.kill("SIGKILL");
  assert.equal((await first.done).signal, "SIGKILL");
  // The driver notices its stdin closing and stops (with the local Ray it started).
  const specFile = join(out, "sweep-spec.json");
  const stopBy = Date.now() + 60_000;
  while (drivers(specFile).length > 0) {
    assert.ok(Date.now() < stopBy, `the sweep's driver outlived the command: ${drivers(specFile)}`);
    await new Promise((r) => setTimeout(r, 500));
  }

  // What the kill left: the finished trial recorded, the cut-short ones still "running".
  let finishedRun: Run | undefined;
  {
    const core = await testCore(env.FTUNE_HOME);
    try {
      const [s] = await listSweeps(core.store);
      assert.equal(s?.status, "running");
      const trial = (await listTrials(core.store, s?.id as number)).find((t) => t.key === firstDone);
      assert.ok(trial, "the finished trial is stored");
      [finishedRun] = await listRuns(core.store, trial.experimentId);
      assert.equal(finishedRun?.status, "completed");
    } finally {
      await core.close();
    }
  }

  // Second run: the same command continues the sweep to its end.
  const restarted: string[] = [];
  const second = sweep([path, "--out", out], (line) => {
    const s = /^ftune: trial (\S+) started/.exec(line);
    if (s?.[1]) restarted.push(s[1]);
  });
  const { code } = await second.done;
  assert.equal(code, 0, second.out().stderr);
  assert.ok(!restarted.includes(firstDone), `the finished trial ${firstDone} ran again`);
  // The trials the kill cut short train again (from the start), with the rest of the sweep.
  const cutShort = restarted.filter((key) => started.has(key));
  t.diagnostic(
    `first run started ${started.size} trial(s); the second ${restarted.length}, ${cutShort.length} cut short`,
  );
  for (const key of runningAtKill) assert.ok(restarted.includes(key), `${key} was cut short but not rerun`);
  const listed = second.out().stdout.trim().split("\n");
  assert.equal(listed.length, 4, second.out().stdout);

  const core = await testCore(env.FTUNE_HOME);
  try {
    const sweeps = await listSweeps(core.store);
    assert.equal(sweeps.length, 1);
    const s = sweeps[0];
    assert.equal(s?.status, "completed");
    assert.ok(s?.bestConfigPath);
    const trials = await listTrials(core.store, s.id);
    assert.equal(trials.length, 4);
    assert.equal(new Set(trials.map((t) => t.key)).size, 4);
    for (const t of trials) assert.ok(["completed", "stopped"].includes(t.status), `${t.key}: ${t.status}`);
    // Exactly one experiment per trial, each with one run, none left running or interrupted.
    const experiments = await listExperiments(core.store);
    assert.equal(experiments.length, 4);
    assert.deepEqual(experiments.map((e) => e.id).sort(), trials.map((t) => t.experimentId).sort());
    for (const e of experiments) {
      const runs = await listRuns(core.store, e.id);
      assert.equal(runs.length, 1, `experiment ${e.id} has ${runs.length} runs`);
      assert.ok(
        ["completed", "cancelled"].includes(runs[0]?.status as string),
        `run ${runs[0]?.id}: ${runs[0]?.status}`,
      );
    }
    // A trial the kill cut short trained again in its own experiment (one run, from the start).
    for (const key of cutShort) {
      const trial = trials.find((x) => x.key === key);
      assert.equal((await listRuns(core.store, trial?.experimentId as number)).length, 1, key);
    }
    // The trial finished before the kill kept its run: it was not trained again.
    const kept = trials.find((t) => t.key === firstDone);
    const [run] = await listRuns(core.store, kept?.experimentId as number);
    assert.equal(run?.id, finishedRun?.id);
    assert.equal(run?.endedAt, finishedRun?.endedAt);
  } finally {
    await core.close();
  }
  assert.deepEqual(drivers(specFile), []);
});
