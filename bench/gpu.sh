#!/usr/bin/env bash
# GPU checks and benchmarks, for a lent GPU machine (torch 2.11 in /opt/torch/.venv, no Node,
# no Rust, no network). Prepare here first:
#   npm run bench:gpu-build     # bench/bin (engine binaries) and bench/gpu-plan (ablation plan)
# then on the GPU machine, from the repository root, carrying bench/bin and bench/gpu-plan:
#   bash bench/gpu.sh [--ablation]
# 1. parity on CUDA, fp32: the engine's encoder vs transformers, and the whole training loop
#    (LLRD, warm-up, clipping, AdamW, SWA) vs PyTorch's on tiny BERT, RoBERTa and DistilBERT;
# 2. training throughput, roberta-base shape, sequence length 256, bf16: ours vs PyTorch eager
#    with SDPA, samples/s and model FLOPs utilisation (PEAK_TFLOPS, default 989 = H100/H200
#    SXM dense bf16);
# 3. with --ablation: the CommonLit ablation plan (8 experiments × 5 folds, about 10 minutes on
#    an H200), starting no experiment after ABLATION_SECONDS (default 300); a rerun with the
#    same results folder skips the experiments already done.
# 1 and 2 take about 2 minutes. Results go to $OUT when set (the device tool), else
# bench/results/gpu/. Each part runs even when an earlier one failed; the exit status says
# whether all passed.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${TORCH_PY:-/opt/torch/.venv/bin/python}
[ -x "$PY" ] || PY=python3
LIB=$("$PY" -c "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))")
export LD_LIBRARY_PATH="$LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" PYTHONUNBUFFERED=1
RES=${OUT:-bench/results/gpu}
mkdir -p "$RES"
BATCH=${BATCH:-32} SEQ=${SEQ:-256} STEPS=${STEPS:-30}
status=0
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | tee "$RES/gpu.txt"

echo "== forward parity"
"$PY" bench/gpu_forward_check.py bench/bin/forward_dump bench/gpu-plan/model 2>/dev/null | tee "$RES/forward-check.json" || status=1

echo "== training-loop parity"
"$PY" bench/gpu_train_check.py bench/bin/ablate_plan 2>/dev/null | tee "$RES/train-check.json" || status=1

echo "== training throughput (batch $BATCH, seq $SEQ, $STEPS steps)"
ours=$(bench/bin/train_bench bench/roberta-base.json --batch "$BATCH" --seq "$SEQ" --steps "$STEPS") || status=1
ref=$("$PY" bench/gpu_reference.py bench/roberta-base.json --batch "$BATCH" --seq "$SEQ" --steps "$STEPS") || status=1
"$PY" - "$ours" "$ref" "$RES/train-bench.json" <<'PY' || status=1
import json, os, sys
ours, ref = json.loads(sys.argv[1]), json.loads(sys.argv[2])
peak = float(os.environ.get("PEAK_TFLOPS", "989"))
for r in (ours, ref):
    print(f"{r['engine']:8} {r['samples_per_second']:9.1f} samples/s  {r['achieved_tflops']:7.1f} TFLOP/s  MFU {100 * r['achieved_tflops'] / peak:5.1f}%")
print(f"ratio ours / PyTorch: {ours['samples_per_second'] / ref['samples_per_second']:.2f}x")
json.dump({"ours": ours, "pytorch": ref, "peak_tflops": peak}, open(sys.argv[3], "w"), indent=2)
PY

if [ "${1:-}" = "--ablation" ]; then
  echo "== CommonLit ablation"
  bench/bin/ablate_plan bench/gpu-plan "$RES/ablation" --deadline-seconds "${ABLATION_SECONDS:-300}" \
    --precision "${PRECISION:-auto}" || status=1
fi
exit $status
