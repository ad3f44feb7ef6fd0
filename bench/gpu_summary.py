"""Summarizes bench/gpu.sh's throughput runs (JSON lines from train_bench and gpu_reference.py,
each with its repetition): per engine samples/s and MFU, and ours over each reference taken
within each repetition; median (min–max) over the repetitions. PEAK_TFLOPS (default 989, H100/H200
SXM dense bf16) sets MFU. Prints a table and writes the same figures as JSON beside the input."""

import json
import os
import statistics
import sys



def spread(xs, f="{:.1f}"):
    """Median (min–max) of repetitions, as every GPU bench table prints them."""
    return f"{f.format(statistics.median(xs))} ({f.format(min(xs))}–{f.format(max(xs))})" if xs else "-"


def main(path):
    runs = [json.loads(line) for line in open(path) if line.strip()]
    peak = float(os.environ.get("PEAK_TFLOPS", "989"))
    by = {}
    for r in runs:
        by.setdefault(r["engine"], {})[r["rep"]] = r
    ours = by.get("ftune", {})
    summary = {"peak_tflops": peak, "engines": {}, "ratios": {}}
    print(f"engine   | samples/s (median, min–max, {len(ours)} reps) | MFU % (peak {peak:g} TFLOP/s)")
    for name, reps in by.items():
        sps = [r["samples_per_second"] for r in reps.values()]
        mfu = [100 * r["achieved_tflops"] / peak for r in reps.values()]
        summary["engines"][name] = {"samples_per_second": sps, "mfu_percent": mfu}
        print(f"{name:8} | {spread(sps):>36} | {spread(mfu)}")
    for name, reps in by.items():
        if name == "ftune":
            continue
        ratio = [ours[k]["samples_per_second"] / r["samples_per_second"] for k, r in reps.items() if k in ours]
        summary["ratios"][f"ftune/{name}"] = ratio
        print(f"ours / {name}: {spread(ratio, '{:.2f}×')}")
    json.dump(summary, open(os.path.splitext(path)[0] + "-summary.json", "w"), indent=2)


if __name__ == "__main__":
    main(sys.argv[1])
