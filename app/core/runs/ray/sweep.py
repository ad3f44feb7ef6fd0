"""`ftune sweep` on Ray Tune: Optuna's TPE sampler proposes configs, ASHA stops poor trials
early on the engine's evaluations, which each trial reports to Tune as they happen. Every
trial is the engine's fold_job binary over one fold (as a Ray backend fold is); its events go
to Node (sweep.ts) through the relay, tagged with the trial, so each trial is a normal
experiment in the store.

  sweep.py SPEC_JSON   (spec: see sweep.ts; prints JSON lines like bridge.py; stdin closed: stop)
Out: {"type": "ready"} | {"type": "fatal", message}
     {"key", "type": "trial", "params", "config"}   a trial started (its merged config)
     {"key", "type": "event", "event"}              an engine event of that trial
     {"key", "type": "ended", "evaluations", "error"} Tune is done with the trial (after its events)
     {"type": "end", "trials": [{key, params, status, evaluations, metric}], "best": {key, params}}
"""

import copy
import json
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
# Tune saves its state (the resume point of a killed sweep) every second, not every 10+ s.
os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "1")

import ray  # noqa: E402
import sweep_events  # noqa: E402
from bridge import Bundles, connect, node_list, say  # noqa: E402
from fold_task import Relay, local_model, torch_lib  # noqa: E402
from ray import tune  # noqa: E402
from ray.tune.schedulers import ASHAScheduler  # noqa: E402
from ray.tune.search import ConcurrencyLimiter  # noqa: E402
from ray.tune.search.optuna import OptunaSearch  # noqa: E402
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy  # noqa: E402


def space_of(spec):
    """The search space in Tune's terms: loguniform / uniform / int (inclusive) / choice."""
    out = {}
    for path, d in spec["space"].items():
        (kind, args), = d.items()
        if kind == "loguniform":
            out[path] = tune.loguniform(args[0], args[1])
        elif kind == "uniform":
            out[path] = tune.uniform(args[0], args[1])
        elif kind == "int":
            out[path] = tune.randint(args[0], args[1] + 1)
        elif kind == "choice":
            out[path] = tune.choice(args)
    return out


def merged(base, params):
    """The base config with each dotted field set to the trial's value."""
    config = copy.deepcopy(base)
    for path, value in params.items():
        node = config
        parts = path.split(".")
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                node[p] = {}
            node = node[p]
        node[parts[-1]] = value.item() if hasattr(value, "item") else value
    return config


def trainable(params, spec=None, relay=None, model=None):
    """One trial: the engine over the sweep's fold, each evaluation reported to Tune."""
    import subprocess
    import tempfile

    key = tune.get_context().get_trial_id()
    config = merged(spec["base"], params)
    config["folds"]["run"] = [spec["fold"]]
    relay.push.remote(key, [{"trial": params, "config": config}])
    import fold_task

    bundle = os.path.dirname(os.path.abspath(fold_task.__file__))  # Tune moves the cwd: the working_dir is where the code is
    work = tempfile.mkdtemp(prefix="ftune-trial-")
    job_config = {**config, "model": local_model(model)}
    job_file = os.path.join(work, "job.json")
    with open(spec["dataFile"]) as f:
        data = json.load(f)
    with open(job_file, "w") as f:
        json.dump({"config": job_config, "data": data}, f)
    env = {**os.environ, "LD_LIBRARY_PATH": f"{torch_lib()}:{os.environ.get('LD_LIBRARY_PATH', '')}"}
    out = os.path.join(work, "out")
    proc = subprocess.Popen(
        [os.path.join(bundle, "bin", "fold_job"), job_file, out],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    metric = spec["metric"]
    evaluations = 0
    batch, flushed = [], time.monotonic()
    try:
        for line in proc.stdout:
            line = line.strip()
            if not line:
                continue
            event = json.loads(line)
            batch.append(line)
            if event.get("kind") == "eval" or time.monotonic() - flushed > 0.25:
                # Events reach Node before Tune hears of the evaluation (ASHA may stop us there).
                ray.get(relay.push.remote(key, batch))
                batch, flushed = [], time.monotonic()
            if event.get("kind") == "eval":
                evaluations += 1
                tune.report({metric: event["metrics"][metric], "evaluation": evaluations, "step": event["step"]})
        proc.wait()
        ray.get(relay.push.remote(key, batch))
    finally:
        # Stopped by ASHA (or anything else): the engine cancels when its stdin closes.
        try:
            proc.stdin.close()
        except OSError:
            pass
        proc.wait()
        import shutil

        shutil.rmtree(work, ignore_errors=True)


def watch_parent():
    """Node keeps our stdin open: its end (cancel, or Node killed) stops the sweep, and the
    local Ray with it; Tune's saved state stays for a resume."""
    for _ in sys.stdin:
        pass
    timer = threading.Timer(15, lambda: os._exit(3))
    timer.daemon = True
    timer.start()
    try:
        ray.shutdown()
    finally:
        os._exit(3)


def main():
    spec = json.load(open(sys.argv[1]))
    threading.Thread(target=watch_parent, daemon=True).start()

    class A:
        address = spec.get("address")
        local_cpus = spec.get("localCpus")

    # The binary and the model travel to every trial's node in the job's runtime_env.
    bundles = Bundles(spec["binary"])
    try:
        connect(A, bundles.runtime_env())
    except Exception as e:  # noqa: BLE001 - one line for the user
        say({"type": "fatal", "message": f"cannot start or reach Ray: {e}"})
        return 1
    heads = [n["id"] for n in node_list() if n["alive"] and "node:__internal_head__" in n["resources"]]
    here = heads[0] if heads else ray.get_runtime_context().get_node_id()
    relay = Relay.options(scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False)).remote()
    sweep_events.relay = relay
    model = bundles.model(spec["base"]["model"])
    say({"type": "ready"})
    stop = threading.Event()

    def pump():
        while not stop.wait(0.2):
            sweep_events.drain(relay)

    pumper = threading.Thread(target=pump, daemon=True)
    pumper.start()
    gpus = spec.get("gpusPerTrial")
    if gpus is None:
        gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
    resources = {"cpu": spec.get("cpusPerTrial", 1), "gpu": gpus}
    fn = tune.with_resources(tune.with_parameters(trainable, spec=spec, relay=relay, model=model), resources)
    searcher = OptunaSearch(metric=spec["metric"], mode=spec["mode"], seed=spec.get("seed", 0))
    scheduler = ASHAScheduler(
        time_attr="evaluation",
        metric=spec["metric"],
        mode=spec["mode"],
        grace_period=spec["gracePeriod"],
        reduction_factor=spec.get("reductionFactor", 2),
        max_t=spec.get("maxEvaluations", 10_000),
    )
    storage = spec["storage"]
    name = "tune"
    path = os.path.join(storage, name)
    run_config = tune.RunConfig(name=name, storage_path=storage, verbose=0, callbacks=[sweep_events.Ended()])
    if tune.Tuner.can_restore(path):
        tuner = tune.Tuner.restore(path, trainable=fn, resume_unfinished=True, resume_errored=True)
    else:
        tuner = tune.Tuner(
            fn,
            param_space=space_of(spec),
            tune_config=tune.TuneConfig(
                search_alg=ConcurrencyLimiter(searcher, max_concurrent=spec["concurrency"]),
                scheduler=scheduler,
                num_samples=spec["trials"],
            ),
            run_config=run_config,
        )
    grid = tuner.fit()
    stop.set()
    pumper.join()
    sweep_events.drain(relay)
    trials = []
    for r in grid:
        m = r.metrics or {}
        trials.append({
            "key": m.get("trial_id"),
            "params": {k: sweep_events.plain(v) for k, v in (r.config or {}).items()},
            "evaluations": m.get("evaluation", 0),
            "metric": m.get(spec["metric"]),
            "error": str(r.error).strip().splitlines()[-1] if r.error else None,
        })
    best = grid.get_best_result(metric=spec["metric"], mode=spec["mode"], scope="all")
    say({"type": "end", "trials": trials, "best": {"key": best.metrics.get("trial_id"), "params": {k: sweep_events.plain(v) for k, v in best.config.items()}}})
    bundles.close()
    ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
