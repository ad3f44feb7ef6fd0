#!/usr/bin/env bash
# GPU mode of the benchmark, for a lent GPU machine (torch 2.11 in /opt/torch/.venv, no Node,
# no Rust, no network). Build the engine's bench binary here first:
#   npm run bench:gpu-build          # writes bench/bin/train_bench (stripped, ~1 MB)
# then on the GPU machine, from the repository root:
#   bash bench/gpu.sh
# roberta-base shape, sequence length 256, bf16: ours vs PyTorch eager with SDPA, samples/s and
# model FLOPs utilisation (peak: PEAK_TFLOPS, default 989 = H100/H200 SXM dense bf16).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${TORCH_PY:-/opt/torch/.venv/bin/python}
LIB=$("$PY" -c "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))")
BATCH=${BATCH:-32} SEQ=${SEQ:-256} STEPS=${STEPS:-30}
ours=$(LD_LIBRARY_PATH="$LIB" bench/bin/train_bench bench/roberta-base.json --batch "$BATCH" --seq "$SEQ" --steps "$STEPS")
ref=$("$PY" bench/gpu_reference.py bench/roberta-base.json --batch "$BATCH" --seq "$SEQ" --steps "$STEPS")
"$PY" - "$ours" "$ref" <<'PY'
import json, os, sys
ours, ref = json.loads(sys.argv[1]), json.loads(sys.argv[2])
peak = float(os.environ.get("PEAK_TFLOPS", "989"))
for r in (ours, ref):
    print(f"{r['engine']:8} {r['samples_per_second']:9.1f} samples/s  {r['achieved_tflops']:7.1f} TFLOP/s  MFU {100 * r['achieved_tflops'] / peak:5.1f}%")
print(f"ratio ours / PyTorch: {ours['samples_per_second'] / ref['samples_per_second']:.2f}x")
print(json.dumps({"ours": ours, "pytorch": ref, "peak_tflops": peak}))
PY
