"""Where a step of the PyTorch loop spends its time, in the same phases as the engine's
`step_profile` example (native/engine/examples/step_profile.rs): tokenize+collate, forward,
backward, clip_grad_norm_, AdamW, zero_grad, AveragedModel.update_parameters. Prints one JSON
line of per-phase medians in milliseconds.

  step_profile.py REQUEST_JSON [--adamw default|foreach|fused] [--threads N]
"""

import json
import statistics
import sys
import time

import torch

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/test/reference")
from reference import llrd_groups  # noqa: E402


def main():
    from torch.optim.swa_utils import AveragedModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    req = json.loads(open(sys.argv[1]).read())
    args = sys.argv[2:]
    opt_kind = args[args.index("--adamw") + 1] if "--adamw" in args else "default"
    if "--threads" in args:
        torch.set_num_threads(int(args[args.index("--threads") + 1]))
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(req["dir"], num_labels=1, attn_implementation="sdpa").train()
    tok = AutoTokenizer.from_pretrained(req["dir"])
    kw = {"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}[opt_kind]
    opt = torch.optim.AdamW([{k: g[k] for k in ("params", "lr", "weight_decay")} for g in llrd_groups(model, req)], eps=1e-6, **kw)
    bs, steps = req["batch"], req["steps"]
    y = torch.tensor(req["targets"][: steps * bs]).float()
    phases, cpu, swa_model = {}, {}, None

    for k in range(steps):
        marks = [("start", time.perf_counter(), time.thread_time())]

        def lap(name):
            marks.append((name, time.perf_counter(), time.thread_time()))

        enc = tok(req["texts"][k * bs : (k + 1) * bs], padding=True, truncation=True, max_length=req["seq"], return_tensors="pt")
        lap("collate")
        out = model(**enc).logits.squeeze(-1)
        loss = torch.nn.functional.mse_loss(out, y[k * bs : (k + 1) * bs])
        lap("forward")
        loss.backward()
        lap("backward")
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        lap("clip")
        opt.step()
        lap("adamw")
        opt.zero_grad()
        lap("zero_grad")
        loss.item(), norm.item()
        lap("read loss")
        if k >= steps // 2:
            if swa_model is None:
                swa_model = AveragedModel(model)
            swa_model.update_parameters(model)
            lap("swa average")
        if k >= req["skip"]:
            for (_, t0, c0), (name, t1, c1) in zip(marks, marks[1:]):
                phases.setdefault(name, []).append((t1 - t0) * 1e3)
                cpu.setdefault(name, []).append((c1 - c0) * 1e3)
            phases.setdefault("step", []).append((marks[-1][1] - marks[0][1]) * 1e3)
            cpu.setdefault("step", []).append((marks[-1][2] - marks[0][2]) * 1e3)
    med = lambda d: {k: statistics.median_low(v) for k, v in d.items()}  # noqa: E731
    print(json.dumps({"engine": "pytorch", "adamw": opt_kind, "threads": torch.get_num_threads(), "ms": med(phases), "cpu_ms": med(cpu)}))


if __name__ == "__main__":
    main()
