"""PyTorch side of `npm run bench`: the same recipe as the engine's (LLRD groups, linear
warm-up, clipping, SWA from half-way), as a plain loop and as the transformers Trainer, plus
forward-only throughput. Prints one JSON object; samples/s skip the first steps (warm-up of
allocators and kernels), as the engine's figures do; "cpu" is samples per CPU second."""

import json
import resource
import sys
import time

import torch

sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/test/reference")
from reference import llrd_groups, recipe_step  # noqa: E402


def batches(tok, texts, bs, seq):
    for at in range(0, len(texts), bs):
        yield tok(texts[at : at + bs], padding=True, truncation=True, max_length=seq, return_tensors="pt")


def plain_loop(req, model, tok):
    from torch.optim.swa_utils import SWALR, AveragedModel
    from transformers import get_linear_schedule_with_warmup

    opt = torch.optim.AdamW([{k: g[k] for k in ("params", "lr", "weight_decay")} for g in llrd_groups(model, req)], eps=1e-6)
    steps, skip = req["steps"], req["skip"]
    sched = get_linear_schedule_with_warmup(opt, 2, steps)
    texts, y = req["texts"][: steps * req["batch"]], torch.tensor(req["targets"][: steps * req["batch"]])
    swa_model = swalr = None
    t0 = c0 = None
    for k, enc in enumerate(batches(tok, texts, req["batch"], req["seq"])):
        if k == skip:
            t0, c0 = time.perf_counter(), time.process_time()
        if k == steps // 2:
            swa_model, swalr = AveragedModel(model), SWALR(opt, swa_lr=1e-5, anneal_epochs=0)
        out = model(**enc).logits.squeeze(-1)
        loss = torch.nn.functional.mse_loss(out, y[k * req["batch"] : (k + 1) * req["batch"]].float())
        recipe_step(loss, model, opt, sched, swa_model, swalr, 1.0)
    n = (steps - skip) * req["batch"]
    return n / (time.perf_counter() - t0), n / (time.process_time() - c0)


def trainer(req, model, tok):
    """The transformers Trainer with the same LLRD groups and warm-up (it has no SWA)."""
    from torch.utils.data import Dataset
    from transformers import Trainer, TrainerCallback, TrainingArguments, get_linear_schedule_with_warmup

    n = req["steps"] * req["batch"]
    enc = tok(req["texts"][:n], padding="max_length", truncation=True, max_length=req["seq"])

    class Rows(Dataset):
        def __len__(self):
            return n

        def __getitem__(self, i):
            return {**{k: torch.tensor(v[i]) for k, v in enc.items()}, "labels": torch.tensor(float(req["targets"][i]))}

    class Clock(TrainerCallback):
        def __init__(self):
            self.t0 = self.c0 = None

        def on_step_begin(self, args, state, control, **kw):
            if state.global_step == req["skip"]:
                self.t0, self.c0 = time.perf_counter(), time.process_time()

    opt = torch.optim.AdamW([{k: g[k] for k in ("params", "lr", "weight_decay")} for g in llrd_groups(model, req)], eps=1e-6)
    clock = Clock()
    args = TrainingArguments(
        output_dir="/tmp/ftune-bench-trainer", per_device_train_batch_size=req["batch"], max_steps=req["steps"],
        max_grad_norm=1.0, logging_strategy="no", save_strategy="no", report_to=[], disable_tqdm=True,
        dataloader_num_workers=0, use_cpu=True,
    )
    t = Trainer(model=model, args=args, train_dataset=Rows(), optimizers=(opt, get_linear_schedule_with_warmup(opt, 2, req["steps"])), callbacks=[clock])
    t.train()
    n = (req["steps"] - req["skip"]) * req["batch"]
    return n / (time.perf_counter() - clock.t0), n / (time.process_time() - clock.c0)


def forward(req, model, tok):
    """Inference as a user runs it: tokenize (fast tokenizer) and forward, batches of 32."""
    model.eval()
    texts = req["texts"][: req["forward_batches"] * 32]
    with torch.no_grad():
        model(**next(batches(tok, texts[:32], 32, req["seq"])))
        t0, c0 = time.perf_counter(), time.process_time()
        for enc in batches(tok, texts[32:], 32, req["seq"]):
            model(**enc)
    return (len(texts) - 32) / (time.perf_counter() - t0), (len(texts) - 32) / (time.process_time() - c0)


def main():
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    req = json.loads(open(sys.argv[2]).read())
    torch.manual_seed(0)
    load = lambda: AutoModelForSequenceClassification.from_pretrained(req["dir"], num_labels=1, attn_implementation="sdpa")
    tok = AutoTokenizer.from_pretrained(req["dir"])
    result = {"threads": torch.get_num_threads(), "torch": torch.__version__}
    # Samples per second of wall time, and per CPU second of the process (all threads): with one
    # thread, the second is the work done however loaded the machine is.
    result[sys.argv[1]], result["cpu"] = {"plain": plain_loop, "trainer": trainer, "forward": forward}[sys.argv[1]](req, load().train(), tok)
    result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
