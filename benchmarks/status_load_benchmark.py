#!/usr/bin/env python3
"""The status endpoint under a bounded loopback load while steps run.

A validator (tests/python/validator_harness.py's NativeSetup: two native
models, a new task window every 1.5 s, so a step runs every window) serves
/metrics, /healthz, /status and /history.json; wrk (Debian's `wrk`) drives
each path for DURATION seconds with CONNECTIONS connections on 2 threads.
Prints, per path, requests per second, the latency percentiles, the errors
(socket errors and non-2xx answers), and the steps the validator completed
during each run (they must go on), as JSON lines and a summary table.

    benchmarks/status_load_benchmark.py BUILD/apps/crucible [--duration 10] [--connections 32]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
from validator_harness import NativeSetup, read_text, status_port, stop, wait_for  # noqa: E402

PATHS = ["/healthz", "/metrics", "/status", "/history.json?steps=500"]
# wrk's latency distribution lines ("50%  1.23ms") and totals.
PERCENTILE = re.compile(r"^\s+(50|90|99)%\s+([0-9.]+)(us|ms|s)$", re.M)
REQUESTS = re.compile(r"Requests/sec:\s+([0-9.]+)")
SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
SCALE = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def steps_logged(state):
    path = os.path.join(state, "metrics.jsonl")
    return len(open(path).read().splitlines()) if os.path.exists(path) else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("crucible")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    a = ap.parse_args()
    if a.duration < 1 or a.connections < 1:
        sys.exit("status_load_benchmark: --duration and --connections must be >= 1")
    if shutil.which("wrk") is None:
        sys.exit("status_load_benchmark: wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory() as root:
        setup = NativeSetup(a.crucible, root)
        state, log = os.path.join(root, "state"), os.path.join(root, "validator.log")
        process = setup.start(state, log, "--http-port", "0")
        results = []
        try:
            port = []

            def up():
                port[:] = [status_port(log)] if status_port(log) else []
                return port and steps_logged(state) > 0
            if not wait_for(up, 180):
                sys.exit("status_load_benchmark: the validator did not start:\n" +
                         read_text(log)[-2000:])
            for path in PATHS:
                before = steps_logged(state)
                run = subprocess.run(
                    ["wrk", "-t2", "-c%d" % a.connections, "-d%ds" % a.duration, "--latency",
                     "http://127.0.0.1:%d%s" % (port[0], path)],
                    capture_output=True, text=True, timeout=a.duration + 60)
                out = run.stdout
                latency = {p + "%": float(v) * SCALE[u] for p, v, u in PERCENTILE.findall(out)}
                sockets = SOCKET_ERRORS.search(out)
                non_2xx = NON_2XX.search(out)
                results.append({
                    "path": path, "connections": a.connections, "seconds": a.duration,
                    "requests_per_second": float(REQUESTS.search(out).group(1)),
                    "latency_ms": latency,
                    "socket_errors": sum(map(int, sockets.groups())) if sockets else 0,
                    "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
                    "steps_during": steps_logged(state) - before})
                print(json.dumps(results[-1]), flush=True)
        finally:
            stop(process)
    print("\n| path | req/s | p50 ms | p99 ms | errors | steps during |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        print("| %s | %.0f | %.2f | %.2f | %d | %d |" % (
            r["path"], r["requests_per_second"], r["latency_ms"].get("50%", float("nan")),
            r["latency_ms"].get("99%", float("nan")), r["socket_errors"] + r["non_2xx"],
            r["steps_during"]))


if __name__ == "__main__":
    main()
