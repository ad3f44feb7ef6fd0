// The Ray backend through the `ftune` command, each command a child process: `ftune ablate
// --backend ray --ray-address` on a two-node cluster on 127.0.0.1 gives exactly the local
// backend's per-fold results; `ftune info --ray` reports every node and names the one whose
// Python lacks torch 2.11; `ftune serve` takes the backend from the app's settings; and
// `ftune train --backend ray` without an address runs a local Ray bound to 127.0.0.1 only,
// stopped with the command (no Ray process left).
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Summary } from "../../app/engine/training.ts";
import { ensureRaySetup, type RayTestCluster, startRayCluster } from "../helpers/ray-cluster.ts";
import { ftune, jsonLines, scratchHome, tinyConfig, writeTinyCsv } from "./helpers.ts";

const home = scratchHome("raycli");
let cluster: RayTestCluster | undefined;

before(async () => {
  ensureRaySetup();
  cluster = await startRayCluster(home.dir, { headCpus: 1 });
  await cluster.addWorker({ cpus: 1, resources: { second: 1 } });
});

after(async () => {
  await cluster?.stop();
  home.cleanup();
});

/** Every fold's numbers, as `ftune ablate` wrote them to results.json. */
function perFold(out: string) {
  const rows = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as { name: string; summary: Summary }[];
  return rows.map((r) => ({
    name: r.name,
    folds: r.summary.folds.map((f) => ({
      fold: f.fold,
      best: f.best_metric,
      bestStep: f.best_step,
      final: f.final_metrics,
      steps: f.steps,
      outputs: f.valid_outputs,
    })),
  }));
}

/** Every evaluation a row's fold logged (metrics.jsonl), without wall-clock fields. */
function evaluations(out: string, row: string, fold: number) {
  const lines = readFileSync(join(out, row, `fold-${fold}`, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n");
  return lines
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((m) => m.split !== "train")
    .map(({ step, split, name, value }) => ({ step, split, name, value }));
}

/** The pids below `root` (its children, theirs, ...), read from /proc. */
function descendants(root: number): Set<number> {
  const parent = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out = new Set<number>([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (out.has(ppid) && !out.has(pid)) {
        out.add(pid);
        grew = true;
      }
    }
  }
  return out;
}

/** TCP listeners of the given processes: local address and the process's name. */
function listeners(pids: Set<number>): { address: string; process: string }[] {
  const ss = spawnSync("ss", ["-ltnpH"], { encoding: "utf8" });
  assert.equal(ss.status, 0, ss.stderr);
  const found: { address: string; process: string }[] = [];
  for (const line of ss.stdout.split("\n")) {
    for (const m of line.matchAll(/\("([^"]+)",pid=(\d+),/g)) {
      if (pids.has(Number(m[2])))
        found.push({ address: line.trim().split(/\s+/)[3] as string, process: m[1] as string });
    }
  }
  return found;
}

const loopback = (address: string) => /^(127\.\d+\.\d+\.\d+|\[::ffff:127\.\d+\.\d+\.\d+\]|\[::1\]):\d+$/.test(address);

describe("the Ray backend through the CLI", { timeout: 900_000 }, () => {
  test("ftune ablate --backend ray on a two-node cluster: exactly the local backend's per-fold results", async () => {
    const csv = writeTinyCsv(home.dir, 24);
    const spec = join(home.dir, "ablation.json");
    const base = tinyConfig({
      data: { train: csv, text: "text", label: "target", max_length: 32 },
      train: { epochs: 2, batch_size: 4, device: "cpu", seed: 11 },
    });
    writeFileSync(
      spec,
      JSON.stringify({
        base,
        experiments: [{ name: "basic" }, { name: "+ SWA", set: { swa: { start_epoch: 2, lr: 1e-4 } } }],
      }),
    );
    const local = join(home.dir, "ablate-local");
    const ray = join(home.dir, "ablate-ray");
    // A Ray fold asks for one CPU and its engine runs one thread: the local run gets the same.
    const l = await ftune(["ablate", spec, "--out", local], join(home.dir, "data-local"), { OMP_NUM_THREADS: "1" });
    assert.equal(l.code, 0, l.stderr);
    const r = await ftune(
      ["ablate", spec, "--out", ray, "--backend", "ray", "--ray-address", cluster?.address as string],
      join(home.dir, "data-ray"),
      cluster?.env,
    );
    assert.equal(r.code, 0, r.stderr);
    const rows = perFold(ray);
    assert.equal(rows.length, 2);
    for (const row of rows) assert.equal(row.folds.length, 2, row.name);
    assert.deepEqual(rows, perFold(local));
    // The events came back as a local run's do: the same evaluations, step by step.
    for (const row of ["basic", "_SWA"]) {
      for (const fold of [0, 1]) {
        const evals = evaluations(ray, row, fold);
        assert.ok(evals.length > 0, `${row} fold ${fold}: evaluations`);
        assert.deepEqual(evals, evaluations(local, row, fold), `${row} fold ${fold}`);
      }
    }
    // Both printed the same table, but for the speed and time columns.
    const table = (out: string) => out.replace(/\| [\d.]+ \| [\d.]+ \|$/gm, "|");
    assert.match(r.stdout, /^\| \+ SWA \|/m);
    assert.equal(table(r.stdout), table(l.stdout));
  });

  test("ftune serve takes the backend from the app's settings when no flag is given", async () => {
    const data = join(home.dir, "data-serve");
    mkdirSync(data, { recursive: true });
    writeFileSync(
      join(data, "settings.json"),
      JSON.stringify({ backend: "ray", rayAddress: cluster?.address as string }),
    );
    const child = spawn(process.execPath, [join(import.meta.dirname, "../../bin/ftune.js"), "serve"], {
      env: { ...process.env, ...cluster?.env, FTUNE_HOME: data, FTUNE_BACKEND: "", FTUNE_RAY_ADDRESS: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const exited = new Promise((resolve) => child.once("close", resolve));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (d) => {
          out += d;
          const m = /running at (\S+)/.exec(out);
          if (m) resolve(m[1] as string);
        });
        child.once("close", () => reject(new Error(`serve exited: ${stderr}`)));
      });
      const token = new URL(url).hash.replace("#token=", "");
      const res = await fetch(new URL("/api/rpc/backendSettings", url), {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
        body: "{}",
      });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), {
        active: { backend: "ray", rayAddress: cluster?.address },
        saved: { backend: "ray", rayAddress: cluster?.address },
        problem: null,
        // On Ray the cluster decides how many folds train at once.
        foldsAtOnce: { active: null, saved: 1 },
      });
      assert.match(stderr, /runs train on Ray \(127\.0\.0\.1:\d+\) \(the app's saved setting/);
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
  });

  test("ftune info --ray: every node with its torch and engine; a node without torch 2.11 is named", async () => {
    const data = join(home.dir, "data-info");
    const args = ["info", "--ray", "--ray-address", cluster?.address as string];
    const good = await ftune(args, data, cluster?.env);
    assert.equal(good.code, 0, good.stderr);
    const lines = good.stdout.trim().split("\n");
    assert.equal(lines[0], "Ray cluster: 2 node(s)");
    assert.equal(lines.length, 3);
    for (const line of lines.slice(1)) {
      assert.match(
        line,
        /^\S+ \(node [0-9a-f]{8}\): 1 CPU, 0 GPU; torch 2\.11\.\d+\S* in \/\S+python\S*; engine runs: libtorch 2\.11/,
      );
    }

    // A node whose Python finds a torch 2.10 first (a package dir ahead of site-packages).
    const fake = join(home.dir, "torch-2.10");
    mkdirSync(join(fake, "torch"), { recursive: true });
    mkdirSync(join(fake, "torch-2.10.0.dist-info"), { recursive: true });
    writeFileSync(join(fake, "torch", "__init__.py"), "");
    writeFileSync(
      join(fake, "torch-2.10.0.dist-info", "METADATA"),
      "Metadata-Version: 2.1\nName: torch\nVersion: 2.10.0\n",
    );
    const oldTorch = await cluster?.addWorker({ cpus: 0, env: { PYTHONPATH: fake } });
    try {
      const bad = await ftune(args, data, cluster?.env);
      assert.equal(bad.code, 1, bad.stderr);
      const nodes = bad.stdout.trim().split("\n");
      assert.equal(nodes[0], "Ray cluster: 3 node(s)");
      const broken = nodes.filter((l) => l.includes("cannot train"));
      assert.equal(broken.length, 1, bad.stdout);
      assert.match(
        broken[0] as string,
        /: 0 CPU, 0 GPU; cannot train: its Python \(\S+\) has torch 2\.10\.0; the engine needs torch 2\.11$/,
      );
      const id = /\(node ([0-9a-f]{8})\)/.exec(broken[0] as string)?.[1];
      // One plain line on stderr naming that node and what to do.
      const said = bad.stderr.trim().split("\n");
      assert.equal(said.length, 1, bad.stderr);
      assert.match(
        said[0] as string,
        new RegExp(
          `^ftune: 1 node cannot train: \\S+ \\(node ${id}\\): .*torch 2\\.10\\.0.*pip install torch==2\\.11\\.0`,
        ),
      );
    } finally {
      oldTorch?.kill();
    }
  });

  test("ftune train --backend ray without an address: a local Ray on 127.0.0.1 only, gone afterwards", async () => {
    const csv = writeTinyCsv(home.dir, 24, "train.csv");
    const config = join(home.dir, "train.json");
    writeFileSync(
      config,
      JSON.stringify(tinyConfig({ data: { train: csv, text: "text", label: "target", max_length: 32 } })),
    );
    // Ray's temp folder for this command alone: every Ray process names it on its command line.
    const rayTmp = join(home.dir, "rt");
    mkdirSync(rayTmp);
    const child = spawn(
      process.execPath,
      [
        join(import.meta.dirname, "../../bin/ftune.js"),
        "train",
        config,
        "--backend",
        "ray",
        "--json",
        "--out",
        join(home.dir, "train-out"),
      ],
      {
        env: { ...process.env, FTUNE_HOME: join(home.dir, "data-train"), RAY_TMPDIR: rayTmp, FTUNE_RAY_ADDRESS: "" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
    const seen = new Map<string, string>();
    let code: number | null | undefined;
    void exited.then((c) => {
      code = c;
    });
    while (code === undefined) {
      for (const l of listeners(descendants(child.pid as number))) seen.set(`${l.process} ${l.address}`, l.address);
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.equal(code, 0, stderr);
    assert.ok(jsonLines(stdout).some((l) => l.kind === "summary"));
    const names = [...seen.keys()].map((k) => k.split(" ")[0]);
    // The Ray servers were seen (so the check below checked something)...
    assert.ok(names.includes("gcs_server") && names.includes("raylet"), [...seen.keys()].join(", "));
    // ...and each listened on loopback only.
    const exposed = [...seen].filter(([, address]) => !loopback(address)).map(([k]) => k);
    assert.deepEqual(exposed, [], `listening beyond 127.0.0.1: ${exposed.join(", ")}`);
    // Nothing of that Ray is left (its workers may take a moment to follow the raylet).
    const left = () => spawnSync("pgrep", ["-f", rayTmp], { encoding: "utf8" }).stdout.trim();
    for (let i = 0; i < 20 && left(); i++) await new Promise((r) => setTimeout(r, 500));
    assert.equal(left(), "", "Ray processes left after the command");
  });
});
