#!/usr/bin/env python3
"""The benchmarks of record, from engine_bench's JSON, as one JSON file and
the Markdown table BENCHMARKS.md takes as it is.

    engine_bench --record=full --benchmark_filter='^record/' --benchmark_repetitions=3 \\
        --benchmark_report_aggregates_only=true --benchmark_out=bench.json
    record.py bench.json --machine "NVIDIA H200" --out-json record.json --out-md record.md

Each figure is the median over the repetitions. Where the machine's peaks
are known (PEAKS, from the vendor's data sheet), the loss pass is given as a
fraction of memory bandwidth (the forecasts' bytes read once per pass) and
the Chronos-Bolt stacks as a fraction of the float32 (CUDA cores) or TF32
(tensor cores, dense) peak; elsewhere those columns say n/a. The Chronos-2
stacks give series/s (every row, covariates included, times the models) and
the time per model.
"""
import argparse
import json
import re
import sys

# Vendor data-sheet peaks: memory bandwidth (bytes/s), float32 and dense TF32 FLOP/s.
PEAKS = {
    "H200": {"memory": 4.8e12, "fp32": 67e12, "tf32": 494.7e12},
    "H100": {"memory": 3.35e12, "fp32": 67e12, "tf32": 494.7e12},
}

# record/<what>/<device>/<args...>: what the arguments are, and the work each names.
SIZES = {
    "loss": ("U={} S={} H={} Q={}", "CRPS per (model, series)"),
    "scoring": ("U={} S={} B={}", "win rate, paired bootstrap CI, composite"),
    "bolt_fp32": ("U={} d_model={} H={} S={}", "stacked Chronos-Bolt forecast, fp32 products"),
    "bolt_tf32": ("U={} d_model={} H={} S={}", "stacked Chronos-Bolt forecast, TF32 products"),
    "chronos2_fp32": ("U={} d_model={} groups={} (x3 rows)",
                      "stacked Chronos-2 forecast, fp32 products, 1 target + 1 past + 1 known "
                      "covariate per group"),
}


def peaks_for(machine):
    for name, peaks in PEAKS.items():
        if name in machine:
            return peaks
    return None


def medians(document):
    """name -> the benchmark's median entry (or its only run)."""
    runs = {}
    for entry in document["benchmarks"]:
        name = entry.get("run_name", entry["name"])
        if entry.get("run_type") == "aggregate" and entry.get("aggregate_name") != "median":
            continue
        if entry.get("error_occurred"):
            runs[name] = {"error": entry.get("error_message", "error")}
            continue
        runs[name] = entry
    return runs


def row(name, entry, peaks):
    parts = name.split("/")
    what, device = parts[1], parts[2]
    args = [p for p in parts[3:] if p.isdigit()]
    size_format, work = SIZES[what]
    record = {"benchmark": what, "device": device, "size": size_format.format(*args),
              "work": work}
    if "error" in entry:
        record["error"] = entry["error"]
        return record
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[entry.get("time_unit", "ns")]
    record["seconds"] = entry["real_time"] * scale
    if what == "loss":
        record["bytes_per_second"] = entry.get("bytes_per_second")
        if peaks and record["bytes_per_second"]:
            record["fraction_of_peak"] = record["bytes_per_second"] / peaks["memory"]
    if what.startswith("chronos2"):
        record["series_per_second"] = entry.get("series/s")
        record["seconds_per_model"] = entry.get("s/model")
    if what.startswith("bolt"):
        record["flops_per_second"] = entry.get("FLOP/s")
        precision = what.split("_")[1]
        if peaks and record["flops_per_second"]:
            record["fraction_of_peak"] = record["flops_per_second"] / peaks[precision]
        if "loss_drift" in entry:
            record["loss_drift_vs_fp32"] = entry["loss_drift"]
    return record


def markdown(machine, rows):
    lines = ["Machine: %s (`scripts/device-build-and-test.sh`; medians of the repetitions)." % machine,
             "", "| benchmark | size | device | time | throughput | of peak | note |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if "error" in r:
            lines.append("| %s | %s | %s | error | | | %s |" % (r["work"], r["size"], r["device"],
                                                             r["error"]))
            continue
        throughput = ""
        if r.get("bytes_per_second"):
            throughput = "%.1f GB/s" % (r["bytes_per_second"] / 1e9)
        if r.get("flops_per_second"):
            flops = r["flops_per_second"]
            throughput = ("%.2f TFLOP/s" % (flops / 1e12) if flops >= 1e12
                          else "%.1f GFLOP/s" % (flops / 1e9))
        if r.get("series_per_second"):
            throughput = "%.0f series/s (%.1f ms per model)" % (r["series_per_second"],
                                                                1e3 * r["seconds_per_model"])
        peak = "%.1f%%" % (100 * r["fraction_of_peak"]) if "fraction_of_peak" in r else "n/a"
        note = ""
        if "loss_drift_vs_fp32" in r:
            note = "mean-CRPS drift vs fp32: %.2e" % r["loss_drift_vs_fp32"]
        lines.append("| %s | %s | %s | %.1f ms | %s | %s | %s |" % (
            r["work"], r["size"], r["device"], 1e3 * r["seconds"], throughput, peak, note))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bench_json")
    ap.add_argument("--machine", required=True, help="e.g. the GPU's name from nvidia-smi")
    ap.add_argument("--out-json", required=True)
    ap.add_argument("--out-md", required=True)
    a = ap.parse_args()
    try:
        with open(a.bench_json) as f:
            document = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit("record.py: %s: %s" % (a.bench_json, e))
    peaks = peaks_for(a.machine)
    rows = [row(name, entry, peaks) for name, entry in medians(document).items()
            if name.startswith("record/")]
    # In SIZES' order, then by size (the model count first).
    rows.sort(key=lambda r: (list(SIZES).index(r["benchmark"]),
                             [int(x) for x in re.findall(r"\d+", r["size"])]))
    if not rows:
        sys.exit("record.py: %s holds no record/ benchmark" % a.bench_json)
    with open(a.out_json, "w") as f:
        json.dump({"machine": a.machine, "peaks": peaks, "context": document.get("context", {}),
                   "benchmarks": rows}, f, indent=1)
    with open(a.out_md, "w") as f:
        f.write(markdown(a.machine, rows))


if __name__ == "__main__":
    main()
