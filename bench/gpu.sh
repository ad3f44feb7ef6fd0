#!/usr/bin/env bash
# GPU checks and benchmarks, for a lent GPU machine (torch 2.11 in /opt/torch/.venv, no Node,
# no Rust, no network). Prepare here first:
#   npm run bench:gpu-build     # bench/bin (engine binaries) and bench/gpu-plan (plans + model)
# then on the GPU machine, from the repository root, carrying bench/bin and bench/gpu-plan:
#   bash bench/gpu.sh [PART ...]      PART: parity throughput article ablation
#                                     (none: parity throughput article)
# parity      on CUDA, fp32: the engine's encoder vs transformers, and the whole training loop
#             (LLRD, warm-up, clipping, AdamW, SWA) vs PyTorch's on tiny BERT, RoBERTa and
#             DistilBERT (about 1 minute);
# throughput  roberta-base shape, batch $BATCH × $SEQ tokens, bf16: ours vs PyTorch eager with
#             SDPA and vs torch.compile (when this torch can compile; COMPILE=0 skips it), $REPS
#             interleaved repetitions, samples/s and model FLOPs utilisation (PEAK_TFLOPS,
#             default 989 = H100/H200 SXM dense bf16), median (min–max);
# article     the article's recipe on CommonLit, every fold (ARTICLE_FOLDS, default all 5), the
#             engine vs the article's loop (bench/article_loop.py) at $PRECISION, then the engine
#             with ARTICLE_CONCURRENT folds at once (default 5); no fold starts after
#             ARTICLE_SECONDS (default: what the budget leaves, less 90 s);
# ablation    the CommonLit ablation plan (8 experiments × 5 folds, about 10 minutes on an H200),
#             no experiment started after ABLATION_SECONDS (default: the budget's rest less
#             120 s); a rerun with the same results folder skips the experiments already done.
# The whole run keeps within BUDGET_SECONDS (default 540: one device call is 600 s at most):
# throughput repetitions stop at THROUGHPUT_SECONDS (default 240) after the part starts (one
# always runs), and the article and ablation parts start nothing that the budget cannot finish.
# Results go to $OUT when set (the device tool), else bench/results/gpu/. Each part runs even
# when an earlier one failed; the exit status says whether all passed.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${TORCH_PY:-/opt/torch/.venv/bin/python}
[ -x "$PY" ] || PY=python3
LIB=$("$PY" -c "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))")
export LD_LIBRARY_PATH="$LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" PYTHONUNBUFFERED=1
RES=${OUT:-bench/results/gpu}
BIN=${GPU_BIN:-bench/bin}
PLAN=${GPU_PLAN:-bench/gpu-plan}
mkdir -p "$RES"
BATCH=${BATCH:-32} SEQ=${SEQ:-256} STEPS=${STEPS:-30} REPS=${REPS:-3} PRECISION=${PRECISION:-bf16}
MODEL_CONFIG=${MODEL_CONFIG:-bench/roberta-base.json}
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(parity throughput article)
[ "${parts[*]}" = "--ablation" ] && parts=(parity throughput ablation) # the flag of earlier notes
wants() { [[ " ${parts[*]} " == *" $1 "* ]]; }
BUDGET=${BUDGET_SECONDS:-540}
# Seconds a part may still start work in: what is left of the budget, less a margin for the
# work in flight when the deadline passes (a fold, an experiment) to finish.
left() { local l=$((BUDGET - SECONDS - $1)); echo $((l > 0 ? l : 0)); }
status=0
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | tee "$RES/gpu.txt"
# The ablation plan travels gzipped (the carry is 64 MiB at most).
[ -f "$PLAN/plan.json" ] || { [ -f "$PLAN/plan.json.gz" ] && gunzip -kf "$PLAN/plan.json.gz"; }

if wants parity; then
  echo "== forward parity"
  "$PY" bench/gpu_forward_check.py "$BIN/forward_dump" "$PLAN/model" 2>/dev/null | tee "$RES/forward-check.json" || status=1
  echo "== training-loop parity"
  "$PY" bench/gpu_train_check.py "$BIN/ablate_plan" 2>/dev/null | tee "$RES/train-check.json" || status=1
fi

if wants throughput; then
  echo "== training throughput (batch $BATCH, seq $SEQ, $STEPS steps, $REPS interleaved repetitions)"
  runs="$RES/train-bench.jsonl"
  : >"$runs"
  compile=${COMPILE:-1}
  until_s=$((SECONDS + ${THROUGHPUT_SECONDS:-240}))
  for rep in $(seq "$REPS"); do
    if [ "$rep" -gt 1 ] && [ "$SECONDS" -ge "$until_s" ]; then
      echo "throughput: time is up after $((rep - 1)) repetition(s)"
      break
    fi
    "$BIN/train_bench" "$MODEL_CONFIG" --batch "$BATCH" --seq "$SEQ" --steps "$STEPS" | sed "s/^{/{\"rep\": $rep, /" >>"$runs" || status=1
    "$PY" bench/gpu_reference.py "$MODEL_CONFIG" --batch "$BATCH" --seq "$SEQ" --steps "$STEPS" | sed "s/^{/{\"rep\": $rep, /" >>"$runs" || status=1
    if [ "$compile" = 1 ]; then
      # A torch that cannot compile here (no compiler, no triton) is reported once, not fatal.
      if ! out=$(timeout "${COMPILE_SECONDS:-300}" "$PY" bench/gpu_reference.py "$MODEL_CONFIG" --batch "$BATCH" --seq "$SEQ" --steps "$STEPS" --compile 2>"$RES/compile-error.txt"); then
        echo "torch.compile: not measured ($(tail -n 1 "$RES/compile-error.txt"))"
        compile=0
      else
        echo "$out" | sed "s/^{/{\"rep\": $rep, /" >>"$runs"
      fi
    fi
  done
  "$PY" bench/gpu_summary.py "$runs" | tee "$RES/train-bench.txt" || status=1
fi

if wants article; then
  echo "== the article's recipe on CommonLit ($PRECISION)"
  folds=${ARTICLE_FOLDS:-}
  "$PY" bench/article_gpu.py "$PLAN/article" "$BIN/ablate_plan" "$RES/article" --precision "$PRECISION" \
    ${folds:+--folds "$folds"} --concurrent "${ARTICLE_CONCURRENT:-5}" --deadline-seconds "${ARTICLE_SECONDS:-$(left 90)}" \
    | tee "$RES/article.txt" || status=1
fi

if wants ablation; then
  echo "== CommonLit ablation"
  "$BIN/ablate_plan" "$PLAN" "$RES/ablation" --deadline-seconds "${ABLATION_SECONDS:-$(left 120)}" \
    --precision "${ABLATION_PRECISION:-auto}" || status=1
fi
exit $status
