"""Copies a Hugging Face model folder with its safetensors weights in fp16, so that it fits in
what travels to a GPU machine. The engine loads fp16 checkpoints into fp32 weights."""

import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

src, dst = Path(sys.argv[1]), Path(sys.argv[2])
dst.mkdir(parents=True, exist_ok=True)
for f in src.iterdir():
    if f.is_file() and f.name != "model.safetensors":
        shutil.copy(f, dst / f.name)
weights = load_file(src / "model.safetensors")
assert all(t.abs().max() < 6e4 for t in weights.values() if t.is_floating_point()), "out of fp16 range"
save_file({k: t.half() if t.is_floating_point() else t for k, t in weights.items()}, dst / "model.safetensors")
