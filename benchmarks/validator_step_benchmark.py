#!/usr/bin/env python3
"""A validator's steps over U unchanged native models, window after window.

U random Chronos-Bolt models of one config (chronos-bolt-tiny's shape ratios
at D_MODEL, 4 + 4 layers; benchmarks/make_bench_bolt_models.py, which needs
the venv of scripts/make-chronos-venv.sh) on a local chain and hub
(examples/make_demo_chain.py), the first competition of
examples/schedule.json (S=100, L=1024). The chain's block stands still; once every
model has run in a window, this script moves it to the next window, so each
window runs all U models again on that window's task. Prints, per window,
the steps it took, their seconds and the native weight bytes they read
(metrics.jsonl).

    benchmarks/validator_step_benchmark.py BUILD/apps/crucible [--count 32] [--d-model 64]
        [--windows 3] [--device cpu]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
from validator_harness import WINDOW, read_lines, write_json  # noqa: E402

FIRST_BLOCK = 1200


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("crucible")
    ap.add_argument("--count", type=int, default=32)
    ap.add_argument("--d-model", type=int, default=64)
    ap.add_argument("--windows", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    venv_python = os.path.join(ROOT, ".venv-chronos", "bin", "python")
    if not os.path.exists(os.path.join(ROOT, ".venv-chronos", ".ready")):
        print("validator step benchmark skipped: .venv-chronos/.ready missing "
              "(run scripts/make-chronos-venv.sh)")
        return
    with tempfile.TemporaryDirectory(prefix="crucible-step-bench-") as work:
        models, hub, chain = (os.path.join(work, n) for n in ("models", "hub", "chain"))
        subprocess.run([venv_python, os.path.join(ROOT, "benchmarks", "make_bench_bolt_models.py"),
                        "--out", models, "--count", str(a.count), "--d-model", str(a.d_model)],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([sys.executable, os.path.join(ROOT, "examples", "make_demo_chain.py"),
                        models, hub, chain], check=True, stdout=subprocess.DEVNULL)
        metagraph_path = os.path.join(chain, "metagraph.json")
        with open(metagraph_path) as f:
            metagraph = json.load(f)
        metagraph.update(block=FIRST_BLOCK, seconds_per_block=0)
        write_json(metagraph_path, metagraph)
        native_uids = set(range(1, a.count + 1))  # the demo chain adds one broken model after them
        # examples/schedule.json's first competition (S=100, L=1024), keeping
        # every model in its queue from window to window (sample_min).
        with open(os.path.join(ROOT, "examples", "schedule.json")) as f:
            schedule = {"schedule": json.load(f)["schedule"][:1]}
        schedule["schedule"][0]["competitions"][0]["sample_min"] = a.count + 1
        schedule_path = os.path.join(work, "schedule.json")
        write_json(schedule_path, schedule)
        state = os.path.join(work, "state")
        metrics = os.path.join(state, "metrics.jsonl")
        model_bytes = sum(os.path.getsize(os.path.join(models, m, "model.safetensors"))
                          for m in os.listdir(models))
        with open(os.path.join(work, "log"), "wb") as log:
            validator = subprocess.Popen(
                [a.crucible, "validator", "--chain", "local:" + chain, "--hub", hub,
                 "--state-dir", state, "--schedule", schedule_path, "--no-http", "--idle-poll", "0.2", "--sync-interval", "0.5",
                 "--weights-interval", "100000", "--timeout-per-model", "600",
                 "--device", a.device], stdout=log, stderr=subprocess.STDOUT)
        print(f"U={a.count} d_model={a.d_model} device={a.device}: {model_bytes} bytes of "
              f"model.safetensors in all")
        try:
            for w in range(a.windows):
                window = FIRST_BLOCK + w * WINDOW
                metagraph["block"] = window
                write_json(metagraph_path, metagraph)
                deadline = time.time() + 1800
                while True:
                    lines = [l for l in read_lines(metrics) if l["window"] == window]
                    ran = {m["uid"] for l in lines for m in l["models"]}
                    if native_uids <= ran:
                        break
                    if validator.poll() is not None or time.time() > deadline:
                        sys.exit("validator stopped or too slow; log: "
                                 + open(os.path.join(work, "log")).read()[-2000:])
                    time.sleep(0.2)
                seconds = sum(l["seconds"] for l in lines)
                read = sum(l.get("weight_bytes_read", 0) for l in lines)
                print(f"window {w + 1}: {len(lines)} steps, {len(ran)} models run, "
                      f"{seconds:.2f} s of steps, weight bytes read: "
                      f"{read if any('weight_bytes_read' in l for l in lines) else 'not reported'}")
        finally:
            validator.terminate()
            validator.wait(60)


if __name__ == "__main__":
    main()
