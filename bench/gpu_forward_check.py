"""The engine's encoder against transformers on the same device and in fp32: runs the engine's
forward_dump binary on a few texts of mixed lengths (so batches carry padding), then the
transformers model on the very same ids, and prints the largest difference of the last hidden
states over real tokens as one JSON line. Exit status 1 when it exceeds the tolerance."""

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import AutoModel

p = argparse.ArgumentParser()
p.add_argument("binary")
p.add_argument("model")
p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
p.add_argument("--tolerance", type=float, default=1e-4)
a = p.parse_args()

texts = [
    "When the young people returned to the ballroom, it presented a decidedly changed appearance.",
    "Short.",
    "The sun was setting, and the whole sky over the mountains glowed a deep, burning orange "
    "while the shepherds gathered their flocks and began the long walk down to the village.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
] * 2
with tempfile.TemporaryDirectory() as tmp:
    (Path(tmp) / "texts.json").write_text(json.dumps(texts))
    out = Path(tmp) / "out.safetensors"
    subprocess.run([a.binary, a.model, str(Path(tmp) / "texts.json"), str(out), "--device", a.device], check=True,
                   stdout=subprocess.DEVNULL)
    ours = load_file(out)

model = AutoModel.from_pretrained(a.model, dtype=torch.float32, attn_implementation="sdpa").to(a.device).eval()
with torch.no_grad():
    ref = model(
        input_ids=ours["input_ids"].to(a.device),
        attention_mask=ours["attention_mask"].to(a.device),
        token_type_ids=ours["token_type_ids"].to(a.device),
    ).last_hidden_state.cpu()
real = ours["attention_mask"].bool()
diff = (ours["hidden"] - ref).abs()[real].max().item()
ok = diff <= a.tolerance
print(json.dumps({"check": "forward parity (fp32)", "device": a.device, "shape": list(ref.shape), "max_abs_diff": diff,
                  "tolerance": a.tolerance, "ok": ok, "torch": torch.__version__}))
raise SystemExit(0 if ok else 1)
