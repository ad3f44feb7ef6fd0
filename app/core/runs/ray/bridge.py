"""The Ray driver behind `--backend ray`: one process per app or CLI process, speaking JSON
lines with Node on stdin/stdout (see bridge.ts). Each started job (one fold) becomes one Ray
task running the engine's fold_job binary; its events come back through a relay actor and
are written out tagged with the job's key. Without --address a local Ray is started for this
process and stopped when it ends (stdin closed).

In:  {"op": "start", "key", "job": {configJson, data, outDir, resume, stateIntervalSeconds}}
     {"op": "cancel", "key"}
Out: {"type": "ready", "nodes", "resources"} | {"type": "fatal", "message"}
     {"key", "type": "event", "event"} | {"key", "type": "placed", "node", "attempt"}
     {"key", "type": "done", "summary"} | {"key", "type": "error", "message", "cancelled"}
     {"key", "type": "crashed", "message"}
"""

import argparse
import hashlib
import json
import os
import queue
import shutil
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import ray  # noqa: E402
from fold_task import Relay, node_info, run_fold, tar_dir, untar  # noqa: E402
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy  # noqa: E402

_out_lock = threading.Lock()


def say(message):
    with _out_lock:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--address", default=None)
    p.add_argument("--binary", required=True)
    p.add_argument("--cpus-per-fold", type=float, default=1)
    p.add_argument("--gpus-per-fold", type=float, default=None)
    p.add_argument("--local-cpus", type=int, default=None)
    p.add_argument("--max-retries", type=int, default=3)
    p.add_argument("--info", action="store_true", help="check every node, print one line, exit")
    return p.parse_args()


def connect(a, runtime_env):
    common = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if runtime_env:
        common["runtime_env"] = runtime_env
    if a.address:
        ray.init(address=a.address, **common)
    else:
        # "local": a new instance for this process, never a cluster someone else started here.
        # No dashboard; with RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (set by bridge.ts) Ray keeps
        # 127.0.0.1 as the node address, so every server of this Ray binds loopback only.
        ray.init(
            address="local",
            num_cpus=a.local_cpus or os.cpu_count(),
            _node_ip_address="127.0.0.1",
            object_store_memory=128 * 1024 * 1024,
            **common,
        )


class Bundles:
    """What travels to the nodes: the binary and this code in the job's runtime_env
    working_dir (Ray uploads it once and caches it on each node), and each model once through
    the object store, unpacked into a per-node cache by its first fold there."""

    def __init__(self, binary):
        self.root = tempfile.mkdtemp(prefix="ftune-ray-bundle-")
        os.makedirs(os.path.join(self.root, "bin"))
        shutil.copy2(binary, os.path.join(self.root, "bin", "fold_job"))
        shutil.copy2(os.path.join(HERE, "fold_task.py"), os.path.join(self.root, "fold_task.py"))
        self.models = {}

    def runtime_env(self):
        return {"working_dir": self.root}

    def model(self, model_dir):
        if model_dir not in self.models:
            blob = tar_dir(model_dir)
            digest = hashlib.sha256(blob).hexdigest()[:16]
            self.models[model_dir] = {"hash": digest, "ref": ray.put(blob)}
        return self.models[model_dir]

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)


def main():
    a = parse_args()
    bundles = Bundles(a.binary)
    try:
        connect(a, bundles.runtime_env())
    except Exception as e:  # noqa: BLE001 - reported as one line to the user
        say({"type": "fatal", "message": f"cannot start or reach Ray: {e}"})
        return 1
    if a.info:
        try:
            say({"type": "info", "nodes": check_nodes()})
        finally:
            ray.shutdown()
            bundles.close()
        return 0
    gpus = a.gpus_per_fold
    if gpus is None:
        gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
    # The relay lives on the head (it must outlive any worker node), else on the driver's node.
    heads = [n["id"] for n in node_list() if n["alive"] and "node:__internal_head__" in n["resources"]]
    here = heads[0] if heads else ray.get_runtime_context().get_node_id()
    relay = Relay.options(scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False)).remote()
    task = ray.remote(run_fold)
    say({"type": "ready", "nodes": node_list(), "resources": ray.cluster_resources()})

    commands = queue.Queue()

    def read_stdin():
        for line in sys.stdin:
            if line.strip():
                commands.put(json.loads(line))
        commands.put(None)

    threading.Thread(target=read_stdin, daemon=True).start()
    pending = {}  # ObjectRef -> (key, job)
    try:
        while True:
            try:
                cmd = commands.get(timeout=0.2)
            except queue.Empty:
                cmd = ""
            if cmd is None:
                break
            if cmd:
                handle(cmd, task, relay, bundles, pending, a, gpus)
            forward(relay.drain.remote())
            if pending:
                ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)
                for ref in ready:
                    key, job = pending.pop(ref)
                    finish(ref, key, job, relay)
    finally:
        bundles.close()
        ray.shutdown()
    return 0


def check_nodes():
    """Runs the engine binary on every alive node: which libtorch it loads there, or why not."""
    probe = ray.remote(node_info)
    nodes = [n for n in node_list() if n["alive"]]
    refs = [
        probe.options(num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(n["id"], soft=False)).remote()
        for n in nodes
    ]
    results = []
    for n, ref in zip(nodes, refs):
        try:
            results.append({**n, **ray.get(ref, timeout=300)})
        except Exception as e:  # noqa: BLE001 - reported per node
            results.append({**n, "error": _first_line(e)})
    return results


def node_list():
    return [
        {"id": n["NodeID"], "address": n["NodeManagerAddress"], "alive": n["Alive"], "resources": n["Resources"]}
        for n in ray.nodes()
    ]


def handle(cmd, task, relay, bundles, pending, a, gpus):
    key = cmd["key"]
    if cmd["op"] == "cancel":
        relay.cancel.remote(key)
        return
    job = cmd["job"]
    config = json.loads(job["configJson"])
    fold_dir = os.path.join(job["outDir"], f"fold-{_fold(config)}")
    state = tar_dir(os.path.join(fold_dir, "state")) if job.get("resume") else None
    if state is not None:
        # A resumed run continues from the state its folder holds, wherever it lands.
        ray.get(relay.save_state.remote(key, state))
    options = {
        "num_cpus": a.cpus_per_fold,
        "num_gpus": gpus,
        "max_retries": a.max_retries,
    }
    ref = task.options(**options).remote(key, job, relay, bundles.model(config["model"]))
    pending[ref] = (key, job)


def _fold(config):
    run = config["folds"].get("run")
    return run[0] if isinstance(run, list) and run else 0


def forward(drained):
    for key, lines in ray.get(drained).items():
        for line in lines:
            if isinstance(line, dict):
                say({"key": key, "type": "placed", "node": line["placed"], "attempt": line["attempt"]})
            else:
                say({"key": key, "type": "event", "event": json.loads(line)})


def finish(ref, key, job, relay):
    """The task ended: its last events, its folder unpacked into the run's, then its result."""
    try:
        result = ray.get(ref)
    except Exception as e:  # noqa: BLE001 - a task that failed after its retries
        forward(relay.drain.remote())
        say({"key": key, "type": "crashed", "message": _first_line(e)})
        return
    forward(relay.drain.remote())
    relay.forget.remote(key)
    last = result["last"]
    if result["folder"] is not None:
        untar(result["folder"], os.path.join(job["outDir"], f"fold-{_fold(json.loads(job['configJson']))}"))
    if last["kind"] == "done":
        say({"key": key, "type": "done", "summary": last["summary"]})
    else:
        say({"key": key, "type": "error", "message": last["message"], "cancelled": last["cancelled"]})


def _first_line(e):
    text = str(e).strip().splitlines()
    return text[-1] if text else type(e).__name__


if __name__ == "__main__":
    sys.exit(main())
