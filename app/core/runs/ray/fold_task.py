"""One fold on a Ray node: the engine's fold_job binary over a job file, its event lines
relayed to the driver as they come, its resumable state shipped to the driver whenever the
engine saves one (so a retry on another node continues from it), and the fold's folder
(outcome, best/, final/) returned at the end.

Imported by the bridge (driver side) and by Ray workers (via the bridge's runtime_env
working_dir, which also carries the binary and the model: `bin/fold_job`, `model/`).
"""

import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
from importlib.util import find_spec

import ray

FLUSH_SECONDS = 0.25


def tar_dir(path, skip=()):
    """A folder as tar bytes (None when it does not exist); links are stored as the files
    they point to (a Hugging Face cache's model folder is links into its blobs)."""
    if not os.path.isdir(path):
        return None
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", dereference=True) as tar:
        for name in sorted(os.listdir(path)):
            if name not in skip:
                tar.add(os.path.join(path, name), arcname=name)
    return buf.getvalue()


def untar(blob, dest):
    os.makedirs(dest, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r") as tar:
        tar.extractall(dest, filter="data")


def torch_lib():
    """This node's torch/lib (the binary needs libtorch 2.11), or None."""
    spec = find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    return os.path.join(list(spec.submodule_search_locations)[0], "lib")


ENGINE_TORCH = "2.11"


def node_info():
    """What this node offers the engine: the Python Ray runs there and its torch (whose
    libtorch the tasks load), and the engine binary run there, or the one reason it cannot
    train (said in a sentence for `ftune info --ray`)."""
    import sys
    from importlib.metadata import PackageNotFoundError, version

    try:
        torch = version("torch")
    except PackageNotFoundError:
        torch = None
    info = {"python": sys.executable, "torch": torch}
    lib = torch_lib()
    if lib is None or torch is None:
        return {**info, "error": f"no PyTorch in its Python ({sys.executable}); the engine needs torch {ENGINE_TORCH}"}
    if not torch.startswith(ENGINE_TORCH + "."):
        return {**info, "error": f"its Python ({sys.executable}) has torch {torch}; the engine needs torch {ENGINE_TORCH}"}
    env = {**os.environ, "LD_LIBRARY_PATH": f"{lib}:{os.environ.get('LD_LIBRARY_PATH', '')}"}
    r = subprocess.run([os.path.join(os.getcwd(), "bin", "fold_job"), "--info"], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        tail = " | ".join(r.stderr.strip().splitlines()[-3:]) or f"exit {r.returncode}"
        return {**info, "error": f"the engine binary does not run there: {tail}"}
    return {**info, "engine": json.loads(r.stdout)}


@ray.remote(num_cpus=0, max_restarts=0)
class Relay:
    """Lives on the driver's node: event lines, the latest saved state and cancel requests
    of every job, so that nothing a retry needs is lost with a worker node."""

    def __init__(self):
        self.lines = {}
        self.states = {}
        self.attempts = {}
        self.cancelled = set()

    def begin(self, key, node):
        self.attempts[key] = self.attempts.get(key, 0) + 1
        self.lines.setdefault(key, []).append({"placed": node, "attempt": self.attempts[key]})
        return self.attempts[key], self.states.get(key)

    def push(self, key, lines):
        self.lines.setdefault(key, []).extend(lines)

    def drain(self):
        out, self.lines = self.lines, {}
        return out

    def save_state(self, key, blob):
        self.states[key] = blob

    def cancel(self, key):
        self.cancelled.add(key)

    def is_cancelled(self, key):
        return key in self.cancelled

    def forget(self, key):
        self.states.pop(key, None)
        self.cancelled.discard(key)


def local_model(model):
    """The model folder on this node: unpacked from the object store by its first fold here."""
    dest = os.path.join(tempfile.gettempdir(), "ftune-ray-models", model["hash"])
    if not os.path.isdir(dest):
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".unpacking-", dir=os.path.dirname(dest))
        untar(ray.get(model["ref"]), tmp)
        try:
            os.rename(tmp, dest)
        except OSError:  # another fold on this node unpacked it first
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def run_fold(key, job, relay, model):
    """The task body: returns {"last": the final event, "folder": tar of fold-<k>/}."""
    node = ray.get_runtime_context().get_node_id()
    attempt, state = ray.get(relay.begin.remote(key, node))
    bundle = os.getcwd()  # the job's runtime_env working_dir: bin/fold_job
    work = tempfile.mkdtemp(prefix="ftune-fold-")
    try:
        config = json.loads(job["configJson"])
        run = config["folds"].get("run")
        fold = run[0] if isinstance(run, list) and run else 0  # a one-fold config names its fold
        config["model"] = local_model(model)
        job_file = os.path.join(work, "job.json")
        with open(job_file, "w") as f:
            json.dump({"config": config, "data": job["data"]}, f)
        out = os.path.join(work, "out")
        fold_dir = os.path.join(out, f"fold-{fold}")
        args = [os.path.join(bundle, "bin", "fold_job"), job_file, out]
        if state is not None:
            untar(state, os.path.join(fold_dir, "state"))
            args.append("--resume")
        elif attempt > 1:
            # A retry with no saved state starts over: what the lost attempt logged goes.
            relay.push.remote(key, [json.dumps({"kind": "resume", "fold": fold, "step": 0, "epoch": 1})])
        if job.get("stateIntervalSeconds") is not None:
            args += ["--state-interval-seconds", str(job["stateIntervalSeconds"])]
        env = dict(os.environ)
        lib = torch_lib()
        if lib is None:
            raise RuntimeError(f"node {node}: no PyTorch in this node's Python; the engine needs torch 2.11")
        env["LD_LIBRARY_PATH"] = f"{lib}:{env.get('LD_LIBRARY_PATH', '')}"
        return _follow(key, relay, args, env, fold_dir, (out, job["outDir"]), work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _follow(key, relay, args, env, fold_dir, paths, work):
    # Paths in events name this node's scratch folder: the driver knows them as the run's.
    scratch, run_dir = (json.dumps(p)[1:-1] for p in paths)
    with open(os.path.join(work, "stderr"), "w+") as err:
        proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env, text=True)
        done = threading.Event()

        def watch_cancel():
            while not done.wait(1.0):
                if ray.get(relay.is_cancelled.remote(key)):
                    _close(proc)
                    return

        threading.Thread(target=watch_cancel, daemon=True).start()
        state_file = os.path.join(fold_dir, "state", "state.json")
        shipped = None
        batch, last, flushed = [], None, time.monotonic()
        for line in proc.stdout:
            line = line.strip()
            if not line:
                continue
            line = line.replace(scratch, run_dir)
            event = json.loads(line)
            if event.get("kind") in ("done", "error"):
                last = event  # the result, returned rather than relayed
                continue
            # The engine saves its state just after it reports an evaluation, so any line after
            # an evaluation means that evaluation's state (if one was due) is whole on disk.
            # Ship the state before relaying, and never end a batch on an evaluation: whoever
            # sees evaluation k (the driver, a test killing the node then) knows the retry can
            # resume from state k. Relaying first lost that race once in a while.
            shipped = _ship_state(key, relay, state_file, shipped)
            batch.append(line)
            if event.get("kind") != "eval" and time.monotonic() - flushed >= FLUSH_SECONDS:
                relay.push.remote(key, batch)
                batch, flushed = [], time.monotonic()
        proc.wait()
        done.set()
        # The final batch is in the relay before the task returns (the driver drains after).
        ray.get(relay.push.remote(key, batch))
        if last is None:
            err.seek(0)
            tail = " | ".join(err.read().strip().splitlines()[-3:])
            raise RuntimeError(f"the engine exited with code {proc.returncode} without a result. {tail}")
        return {"last": last, "folder": tar_dir(fold_dir, skip=("state", "state.old"))}


def _ship_state(key, relay, state_file, shipped):
    """Sends the state folder when the engine has written a new one (it renames a finished
    state into place, so a present state.json is a whole state). The engine may replace the
    folder while it is read (its next save, once more lines came out): then the newer state is
    read, once whole, so that what is shipped is never older than the lines relayed after it."""
    for _ in range(200):
        try:
            stamp = os.stat(state_file).st_mtime_ns
        except FileNotFoundError:
            if not os.path.isdir(os.path.dirname(state_file) + ".old"):
                return shipped  # no state yet, or none being written
            time.sleep(0.05)  # between the engine's renames
            continue
        if stamp == shipped:
            return shipped
        try:
            blob = tar_dir(os.path.dirname(state_file))
        except FileNotFoundError:
            time.sleep(0.05)  # replaced while read: read the new one
            continue
        if blob is not None:
            ray.get(relay.save_state.remote(key, blob))
        return stamp
    return shipped


def _close(proc):
    try:
        proc.stdin.close()
    except OSError:
        pass
