"""PyTorch reference for bench/gpu.sh: the same roberta-base-shaped classifier, random token ids,
SDPA attention, bf16 autocast on CUDA, AdamW, clipping; eager, or with --compile the model under
torch.compile (its compile time, spent in the warm-up steps, is reported and not timed).
Prints one JSON line."""

import argparse
import json
import time

import torch
from transformers import RobertaConfig, RobertaForSequenceClassification

p = argparse.ArgumentParser()
p.add_argument("config")
p.add_argument("--batch", type=int, default=32)
p.add_argument("--seq", type=int, default=256)
p.add_argument("--steps", type=int, default=30)
p.add_argument("--warmup", type=int, default=5)
p.add_argument("--compile", action="store_true")
a = p.parse_args()

device = "cuda" if torch.cuda.is_available() else "cpu"
torch.manual_seed(0)
config = RobertaConfig(**json.load(open(a.config)), num_labels=1)
config._attn_implementation = "sdpa"
model = RobertaForSequenceClassification(config).to(device).train()
n = sum(p.numel() for p in model.parameters())
if a.compile:
    model = torch.compile(model)
started = time.perf_counter()
opt = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.01, eps=1e-6)
ids = torch.randint(5, config.vocab_size, (a.batch, a.seq), device=device)
mask = torch.ones_like(ids)
target = torch.randn(a.batch, device=device)
for step in range(a.steps + a.warmup):
    if step == a.warmup:
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        warmup_seconds = t0 - started
    with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
        logits = model(input_ids=ids, attention_mask=mask).logits
    loss = torch.nn.functional.mse_loss(logits.float().squeeze(-1), target)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad()
if device == "cuda":
    torch.cuda.synchronize()
sps = a.steps * a.batch / (time.perf_counter() - t0)
flops = (6 * n + 12 * config.num_hidden_layers * a.seq * config.hidden_size) * a.seq * sps
engine = "compile" if a.compile else "eager"
print(json.dumps({"engine": engine, "device": device, "warmup_seconds": warmup_seconds, "samples_per_second": sps, "achieved_tflops": flops / 1e12, "params": n, "torch": torch.__version__}))
