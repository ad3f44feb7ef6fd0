"""The whole training loop against PyTorch on one device (CUDA on a GPU machine): the engine's
ablate_plan binary trains tiny BERT, RoBERTa and DistilBERT models (made here by the test
references, LLRD + warm-up + clipping + SWA, fp32), PyTorch's reference loop trains the same
models from the same weights on the same device, and the per-step losses and final weights are
compared. Prints one JSON line per model; exit status 1 when any exceeds the tolerance."""

import argparse
import contextlib
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test/reference"))
import reference  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("binary", help="bench/bin/ablate_plan")
p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
p.add_argument("--tolerance", type=float, default=1e-4)
a = p.parse_args()

# The recipe and data of test/native/training-parity.test.ts.
texts = [
    "The quick brown fox jumps over the lazy dog.",
    "Science!",
    "Children learn history from an old teacher by the river.",
    "a",
    "Difficult vocabulary in a complex paragraph about ancient energy.",
    "Easy story.",
    "The student writes a large number.",
    "Modern language is simple.",
    "Old mountain, new river, quick teacher.",
    "Reading passage",
]
cases = [
    ("bert-regression", "regression", [0.5, -1.2, 0.3, 2.0, -0.7, 1.1, 0.0, -2.2, 0.9, 1.4]),
    ("roberta-3class", "classification", [0, 2, 1, 0, 2, 0, 1, 1, 2, 0]),
    ("distilbert-regression", "regression", [1.5, -0.2, 0.8, -1.0, 0.4, 2.1, -0.6, 0.1, 1.0, -1.7]),
]
llrd = {"mode": "layerwise", "top_lr": 2e-3, "decay": 0.8, "head_lr": 3e-3}


def quiet(fn, *args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        fn(*args)
    return out.getvalue()


failed = False
with tempfile.TemporaryDirectory() as tmp:
    tmp = Path(tmp)
    made = json.loads(quiet(reference.fixtures, tmp / "fixtures"))
    for name, task, targets in cases:
        plan = tmp / name
        plan.mkdir()
        (plan / "model").symlink_to(made[name])
        labels = ["easy", "medium", "hard"] if task == "classification" else None
        config = {
            "model": "model", "task": task,
            "data": {"train": "in-memory", "valid": "in-memory", "text": "text", "label": "label", "max_length": 16},
            "head": {"pooling": "cls", "dropout": 0}, "encoder_dropout": 0,
            "train": {"epochs": 3, "batch_size": 4, "max_grad_norm": 1.0, "shuffle": False, "device": a.device,
                      "precision": "fp32"},
            "optimizer": {"weight_decay": 0.01, "betas": [0.9, 0.98], "eps": 1e-6},
            "eval": {"every_steps": 2}, "llrd": llrd, "schedule": {"name": "linear", "warmup_steps": 2},
            "swa": {"start_epoch": 2, "lr": 5e-4, "anneal_steps": 2, "anneal_strategy": "cos"},
        }
        data = {"texts": texts, "targets": targets, "validTexts": texts[:4], "validTargets": targets[:4], "labels": labels}
        (plan / "plan.json").write_text(json.dumps({"data": data, "experiments": [{"name": name, "techniques": [], "config": config}]}))
        events = tmp / f"{name}.jsonl"
        subprocess.run([a.binary, str(plan), str(tmp / f"{name}-out"), "--checkpoints", str(tmp / f"{name}-runs"),
                        "--events", str(events)], check=True, stderr=subprocess.DEVNULL)
        ours = [json.loads(line)["loss"] for line in events.read_text().splitlines()]
        request = tmp / f"{name}-request.json"
        request.write_text(json.dumps({
            "dir": made[name], "task": task, "texts": texts, "targets": targets, "batch_size": 4, "epochs": 3,
            "max_length": 16, "max_grad_norm": 1.0, "betas": [0.9, 0.98], "eps": 1e-6, "lr": 2e-5,
            "weight_decay": 0.01, "llrd": llrd, "schedule": {"name": "linear", "warmup_steps": 2},
            "swa": {"start": 3, "lr": 5e-4, "anneal_steps": 2, "strategy": "cos"}, "device": a.device,
            "ours": str(tmp / f"{name}-runs" / name / "fold-0/final/model.safetensors"),
        }))
        torch.manual_seed(0)
        theirs = json.loads(quiet(reference.train, str(request)))
        loss_diff = max(abs(x - y) for x, y in zip(ours, theirs["losses"])) if len(ours) == len(theirs["losses"]) else float("inf")
        ok = loss_diff <= a.tolerance and theirs["max_weight_diff"] <= a.tolerance and not theirs["missing"]
        failed |= not ok
        print(json.dumps({"check": "training loop parity (fp32)", "model": name, "device": a.device, "steps": len(ours),
                          "max_loss_diff": loss_diff, "max_weight_diff": theirs["max_weight_diff"], "worst": theirs["worst"],
                          "tolerance": a.tolerance, "ok": ok}))
sys.exit(1 if failed else 0)
