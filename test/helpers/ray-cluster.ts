// A real Ray cluster on this machine for the Ray backend's suites: a head and worker nodes,
// each `ray start --block` in its own process group (so one node can be killed whole, as a
// lost machine would be), on 127.0.0.1 with free ports, token authentication with a token of
// its own, and a temp folder in the test's scratch folder.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

import { root, venvPython } from "../../scripts/env.mjs";

const rayCli = join(venvPython, "..", "ray");

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

export interface RayTestNode {
  proc: ChildProcess;
  log: string;
  /** Kills the node's every process at once (SIGKILL to its group): a machine lost mid-job. */
  kill(): void;
}

export interface RayTestCluster {
  address: string;
  /** The environment every process of this cluster (the bridge included) needs: its token. */
  env: Record<string, string>;
  head: RayTestNode;
  workers: RayTestNode[];
  /** `env`: extra environment of that node's processes (its workers' Python sees it). */
  addWorker(o: {
    cpus: number;
    resources?: Record<string, number>;
    env?: Record<string, string>;
  }): Promise<RayTestNode>;
  stop(): Promise<void>;
}

/** Installs the Ray backend when the set-up has not yet (`npm test` has; a lone suite may not). */
export function ensureRaySetup(): void {
  const r = spawnSync("node", ["scripts/setup.mjs", "--ray"], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`setup --ray failed: ${r.stderr}`);
}

async function startNode(args: string[], env: NodeJS.ProcessEnv, log: string): Promise<RayTestNode> {
  const { openSync } = await import("node:fs");
  const out = openSync(log, "w");
  const proc = spawn(rayCli, ["start", "--block", "--node-ip-address=127.0.0.1", ...args], {
    env,
    detached: true,
    stdio: ["ignore", out, out],
  });
  const node: RayTestNode = {
    proc,
    log,
    kill: () => {
      try {
        process.kill(-(proc.pid as number), "SIGKILL");
      } catch {
        // already gone
      }
    },
  };
  const deadline = Date.now() + 180_000;
  while (!readFileSync(log, "utf8").includes("Ray runtime started")) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      node.kill();
      throw new Error(`ray start failed:\n${readFileSync(log, "utf8").slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return node;
}

async function stopNode(node: RayTestNode): Promise<void> {
  if (node.proc.exitCode !== null || node.proc.signalCode !== null) {
    node.kill(); // the group's stragglers
    return;
  }
  const exited = new Promise((r) => node.proc.once("exit", r));
  try {
    process.kill(-(node.proc.pid as number), "SIGTERM");
  } catch {
    return;
  }
  await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
  node.kill();
}

export async function startRayCluster(dir: string, o: { headCpus: number }): Promise<RayTestCluster> {
  const port = await freePort();
  const env = {
    RAY_USAGE_STATS_ENABLED: "0",
    RAY_AUTH_MODE: "token",
    RAY_AUTH_TOKEN: randomBytes(16).toString("hex"),
  };
  const procEnv = { ...process.env, ...env };
  const agentPort = async () => `--dashboard-agent-listen-port=${await freePort()}`;
  const head = await startNode(
    [
      "--head",
      `--port=${port}`,
      `--num-cpus=${o.headCpus}`,
      "--include-dashboard=false",
      `--ray-client-server-port=${await freePort()}`,
      await agentPort(),
      "--object-store-memory=80000000",
      `--temp-dir=${join(dir, "ray")}`,
      // Notice a lost node within seconds (default: ~15 s).
      '--system-config={"health_check_period_ms":1000,"health_check_failure_threshold":3}',
    ],
    procEnv,
    join(dir, "head.log"),
  );
  const address = `127.0.0.1:${port}`;
  const workers: RayTestNode[] = [];
  const cluster: RayTestCluster = {
    address,
    env,
    head,
    workers,
    async addWorker(w) {
      const args = [
        `--address=${address}`,
        `--num-cpus=${w.cpus}`,
        await agentPort(),
        "--object-store-memory=80000000",
      ];
      if (w.resources) args.push(`--resources=${JSON.stringify(w.resources)}`);
      const node = await startNode(args, { ...procEnv, ...w.env }, join(dir, `worker-${workers.length + 1}.log`));
      workers.push(node);
      return node;
    },
    async stop() {
      for (const w of workers) await stopNode(w);
      await stopNode(head);
    },
  };
  return cluster;
}
