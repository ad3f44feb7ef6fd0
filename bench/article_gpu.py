"""The article's recipe on CommonLit, every fold, end to end: the engine (its ablate_plan binary,
the engine's run_experiment as the app runs it, one fold per process) against the article's own
loop (bench/article_loop.py), for bench/gpu.sh on a GPU machine that has no Node. The plan comes from
bench/article_gpu_plan.ts (recipe, engine config, data and the engine's fold of every row), so
both sides train and score the same rows.

  python bench/article_gpu.py PLAN_DIR ABLATE_PLAN OUT_DIR [--precision fp32|bf16]
         [--folds 0,1,2,3,4] [--concurrent N] [--deadline-seconds S] [--device cuda|cpu]

Each fold runs the engine and the loop one after the other (the order alternates per fold, so
drift does not favour one side). Time is each process's wall clock, start to exit: what a user
waits for (interpreter or libtorch start, CUDA context, tokenization, training, evaluations,
checkpoints). With --concurrent N (N > 1) the engine then trains the same folds again, N
processes at once on the one device: a small model leaves most of a big GPU idle. No fold starts
once --deadline-seconds have passed. Prints a table; writes OUT_DIR/article.json.
"""

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from gpu_summary import spread

HERE = os.path.dirname(os.path.abspath(__file__))


def run_engine(ablate_plan, plan_dir, out_dir):
    """One fold as a one-experiment plan through ablate_plan, keeping its best and final
    checkpoints on disk as a run does (the loop saves its best state too)."""
    shutil.rmtree(out_dir, ignore_errors=True)
    t0 = time.perf_counter()
    p = subprocess.run([ablate_plan, plan_dir, out_dir, "--checkpoints", os.path.join(out_dir, "checkpoints")], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"ablate_plan failed ({plan_dir}):\n{p.stderr[-2000:]}")
    fold = json.load(open(os.path.join(out_dir, "results.json")))[0]["summary"]["folds"][0]
    shutil.rmtree(out_dir, ignore_errors=True)
    return {
        "seconds": seconds,
        "best_rmse": fold["best_metric"],
        "swa_rmse": fold["final_metrics"].get("rmse"),
        "train_samples_per_second": fold["train_samples_per_second"],
        "steps": fold["steps"],
        "evaluations": fold["evaluations"],
        "valid_rows": len(fold["valid_outputs"]),
        "precision": fold["precision"],
    }


def run_loop(request_file):
    t0 = time.perf_counter()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error", "TQDM_DISABLE": "1"}
    out = subprocess.run([sys.executable, os.path.join(HERE, "article_loop.py"), request_file], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"article_loop.py failed ({request_file}):\n{out.stderr[-2000:]}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return {**r, "seconds": seconds, "in_process_seconds": r["seconds"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("plan_dir")
    ap.add_argument("ablate_plan")
    ap.add_argument("out_dir")
    ap.add_argument("--precision", default="bf16")
    ap.add_argument("--folds", default="")
    ap.add_argument("--concurrent", type=int, default=1)
    ap.add_argument("--deadline-seconds", type=float, default=float("inf"))
    ap.add_argument("--device", default="")
    a = ap.parse_args()

    import torch

    device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    plan = json.load(gzip.open(os.path.join(a.plan_dir, "plan.json.gz"), "rt"))
    model = os.path.normpath(os.path.join(os.path.abspath(a.plan_dir), plan["model"]))
    assignment, data = plan["assignment"], plan["data"]
    k = plan["config"]["folds"]["k"]
    folds = [int(f) for f in a.folds.split(",")] if a.folds else list(range(k))
    work = os.path.abspath(a.out_dir)
    os.makedirs(work, exist_ok=True)

    def job(fold, name):
        config = json.loads(json.dumps(plan["config"]))
        config["model"] = model
        config["train"].update(device=device, precision=a.precision)
        config["folds"]["run"] = [fold]
        path = os.path.join(work, f"plan-{name}")
        os.makedirs(path, exist_ok=True)
        json.dump({"data": data, "experiments": [{"name": "article", "techniques": [], "config": config}]}, open(os.path.join(path, "plan.json"), "w"))
        return path

    def loop_request(fold):
        train = [i for i, f in enumerate(assignment) if f != fold]
        valid = [i for i, f in enumerate(assignment) if f == fold]
        pick = lambda key, rows: [data[key][i] for i in rows]  # noqa: E731
        req = {
            **plan["recipe"],
            "dir": model,
            "device": device,
            "precision": a.precision,
            "texts": pick("texts", train),
            "targets": pick("targets", train),
            "valid_texts": pick("texts", valid),
            "valid_targets": pick("targets", valid),
        }
        path = os.path.join(work, f"loop-{fold}.json")
        json.dump(req, open(path, "w"))
        return path, len(valid)

    say = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    started = time.perf_counter()
    rows = []
    for n, fold in enumerate(folds):
        if time.perf_counter() - started > a.deadline_seconds:
            say(f"article: deadline reached, fold {fold} and later not run")
            break
        jobs, (loops, valid_rows) = job(fold, fold), loop_request(fold)
        sides = [("ours", lambda: run_engine(a.ablate_plan, jobs, os.path.join(work, f"ours-{fold}"))), ("loop", lambda: {**run_loop(loops), "valid_rows": valid_rows})]
        result = {"fold": fold}
        for name, go in sides if n % 2 == 0 else sides[::-1]:
            result[name] = go()
            say(f"article: fold {fold} {name} {result[name]['seconds']:.1f} s, best RMSE {result[name]['best_rmse']:.4f}")
        rows.append(result)

    concurrent = None
    if a.concurrent > 1 and rows and time.perf_counter() - started <= a.deadline_seconds:
        ran = [r["fold"] for r in rows]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(a.concurrent) as pool:
            outs = list(pool.map(lambda f: run_engine(a.ablate_plan, job(f, f"together-{f}"), os.path.join(work, f"together-{f}")), ran))
        concurrent = {"processes": a.concurrent, "folds": ran, "seconds": time.perf_counter() - t0, "best_rmse": [o["best_rmse"] for o in outs]}
        say(f"article: {len(ran)} folds, {a.concurrent} at once: {concurrent['seconds']:.1f} s")

    ours_s = [r["ours"]["seconds"] for r in rows]
    loop_s = [r["loop"]["seconds"] for r in rows]
    ratio = [lp / o for o, lp in zip(ours_s, loop_s)]
    mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")  # noqa: E731
    print(f"\narticle recipe on {device}, {a.precision}, {len(rows)} of {k} folds, wall clock per process")
    print("fold | ours s | loop s | speed-up | best RMSE ours / loop | SWA RMSE ours / loop | train samples/s ours / loop")
    for r in rows:
        o, lp = r["ours"], r["loop"]
        print(f"{r['fold']:4} | {o['seconds']:6.1f} | {lp['seconds']:6.1f} | {lp['seconds'] / o['seconds']:7.2f}× | {o['best_rmse']:.4f} / {lp['best_rmse']:.4f} | {o['swa_rmse']:.4f} / {lp['swa_rmse']:.4f} | {o['train_samples_per_second']:.0f} / {lp['train_samples_per_second']:.0f}")
    if rows:
        print(f"all folds, one after another: ours {sum(ours_s):.1f} s, loop {sum(loop_s):.1f} s: {sum(loop_s) / sum(ours_s):.2f}× (per fold {spread(ratio)})")
        print(f"CV (mean best RMSE): ours {mean([r['ours']['best_rmse'] for r in rows]):.4f}, loop {mean([r['loop']['best_rmse'] for r in rows]):.4f}")
    if concurrent:
        print(f"ours, {concurrent['processes']} folds at once: {concurrent['seconds']:.1f} s: {sum(loop_s) / concurrent['seconds']:.2f}× the loop's folds one after another")
    json.dump({"device": device, "precision": a.precision, "folds": rows, "concurrent": concurrent, "torch": torch.__version__}, open(os.path.join(work, "article.json"), "w"), indent=2)


if __name__ == "__main__":
    main()
