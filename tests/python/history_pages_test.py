#!/usr/bin/python3
"""The validator's history pages in headless Chromium (tests/python/page_check.py):
`crucible report` and /dashboard on a running validator.

Usage: history_pages_test.py CRUCIBLE_BINARY

- `crucible report` of state folders with 0, 1, 200 and 10,000 steps (the
  last with 40 uids, uids coming and going, failures): each page loads with
  no console error and no blocked request; it has the 8 charts with their
  titles, each drawn and painted; the data inlined in the page equals the
  series this test computes itself from metrics.jsonl; the 10,000-step page
  loads within 30 s.
- Without Chart.js (CRUCIBLE_CHART_JS names a missing file): no canvas, the
  page says why, and it shows its tables.
- Bad flags: a missing state folder and --steps 0 are one-line errors, no
  file written.
- /dashboard on a running validator: loads, fetches /history.json, draws the
  8 charts without errors; /history.json equals the series of metrics.jsonl.
Screenshots go to $CRUCIBLE_PAGE_CHECK_OUT (ctest: <build>/page-check).
Prints SKIP and passes when Chromium cannot run here.
"""
import json
import logging
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

from oracle import Report, binary_from_argv
from validator_harness import (HOTKEY, Bridge, NativeSetup, read_text, status_port,  # noqa: E402
                               stop, wait_for)
import page_check  # noqa: E402

TITLES = ["EMA per uid", "Weight per uid", "Mean loss per uid", "Composite score per uid",
          "Step duration", "Queue sizes", "Failures by reason", "Current subnet weights"]
LOADED = "document.getElementById('crucible-page').dataset.loaded === 'yes'"


def number(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def expected_history(lines):
    """The series document of step_history.h, computed independently."""
    steps = [line for line in lines]
    uids = sorted({m["uid"] for line in steps for m in line["models"]})
    series = {}
    for uid in uids:
        rows = [next((m for m in line["models"] if m["uid"] == uid), None) for line in steps]
        hotkeys = [r["hotkey"] for r in rows if r and r.get("hotkey")]
        series[str(uid)] = {"hotkey": hotkeys[-1] if hotkeys else "",
                            **{k: [number(r[k]) if r else None for r in rows]
                               for k in ("ema", "weight", "mean_loss", "composite")}}
    statuses = sorted({m["status"] for line in steps for m in line["models"]} - {"ok", "waiting"})
    failures = {s: [sum(m["status"] == s for m in line["models"]) for line in steps]
                for s in statuses}
    last = steps[-1]["models"] if steps else []
    miners = [{"uid": m["uid"], **{k: m.get(k, "") for k in ("hotkey", "model", "status", "reason")},
               "ema": number(m.get("ema")), "weight": number(m.get("weight"))} for m in last]
    return {"steps": [l["step"] for l in steps], "times": [number(l.get("time")) for l in steps],
            "blocks": [l["block"] for l in steps],
            "competition_ids": [l["competition_id"] for l in steps],
            "seconds": [number(l.get("seconds")) for l in steps],
            "pending": [l.get("pending") for l in steps],
            "active": [l.get("active") for l in steps], "uids": uids, "series": series,
            "failures": failures,
            "current_weights": steps[-1]["subnet_weights"] if steps else [], "miners": miners,
            "skipped_lines": 0, "total_steps_in_window": len(steps)}


def synthetic_lines(count, uids, seed):
    """Step records as the validator writes them: uids joining and leaving,
    some failing with a reason."""
    rng = random.Random(seed)
    lines = []
    for step in range(1, count + 1):
        models = []
        for uid in uids:
            if (uid + step // 50) % 7 == 0:
                continue  # not evaluated in this stretch of steps
            ok = rng.random() > 0.1
            models.append({"uid": uid, "hotkey": "hk%d" % uid,
                           "status": "ok" if ok else rng.choice(["failed", "timeout"]),
                           "reason": "" if ok else "scripted </script> failure",
                           "mean_loss": round(rng.uniform(0.5, 2), 6) if ok else None,
                           "win_rate": round(rng.random(), 6), "composite": round(rng.random(), 6),
                           "ema": round(rng.random(), 6), "weight": round(rng.random() / 10, 6)})
        lines.append({"step": step, "block": 1000 + 10 * step, "competition_id": 0,
                      "seed": step * 7, "seconds": round(rng.uniform(1, 9), 3),
                      "pending": rng.randrange(5), "active": rng.randrange(20), "models": models,
                      "subnet_weights": [round(rng.random() / 10, 6) for _ in range(max(uids) + 1)]})
    return lines


def write_state(folder, lines):
    os.makedirs(folder)
    with open(os.path.join(folder, "metrics.jsonl"), "w") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")


def inlined_history(html_path):
    with open(html_path) as f:
        html = f.read()
    found = re.search(r'<script type="application/json" id="crucible-history">(.*?)</script>',
                      html, re.S)
    return json.loads(found.group(1).replace("<\\/", "</")) if found else None


def check_charts(report, name, result):
    report.check(name + ": no errors", result.ok and not result.errors, str(result.errors[:3]))
    report.check(name + ": 8 titled charts", result.titles == TITLES, str(result.titles))
    report.check(name + ": every chart drawn and painted",
                 result.canvases == result.charts == result.painted == 8,
                 "%s %s %s" % (result.canvases, result.charts, result.painted))


def check_reports(crucible, root, shots, report):
    cases = [("zero", []), ("one", synthetic_lines(1, [0, 1, 2], 1)),
             ("many", synthetic_lines(200, list(range(12)), 2)),
             ("ten-thousand", synthetic_lines(10000, list(range(40)), 3))]
    for name, lines in cases:
        state = os.path.join(root, name)
        write_state(state, lines)
        out = os.path.join(root, name + ".html")
        run = subprocess.run([crucible, "report", "--state-dir", state, "--out", out, "--steps",
                              "10000"], capture_output=True, text=True)
        if not report.check(name + ": report written", run.returncode == 0, run.stderr):
            continue
        report.check(name + ": inlined data equals metrics.jsonl",
                     inlined_history(out) == expected_history(lines))
        result = page_check.check_page(out, screenshot=os.path.join(shots, "report-%s.png" % name),
                                       timeout=60, wait_for=LOADED)
        check_charts(report, name, result)
        print("%s: %d steps, page checked in %.1f s" % (name, len(lines), result.elapsed_s))
        if name == "ten-thousand":
            report.check("10,000 steps load within 30 s", result.elapsed_s < 30,
                         "%.1f s" % result.elapsed_s)

    out = os.path.join(root, "tables.html")
    run = subprocess.run([crucible, "report", "--state-dir", os.path.join(root, "many"), "--out",
                          out], capture_output=True, text=True,
                         env=dict(os.environ, CRUCIBLE_CHART_JS=os.path.join(root, "missing.js")))
    report.check("without Chart.js: written, saying so", run.returncode == 0 and
                 "as tables" in run.stdout, run.stdout + run.stderr)
    html = read_text(out)
    report.check("without Chart.js: the page says why", "Charts are not drawn:" in html and
                 "missing.js" in html)
    result = page_check.check_page(out, screenshot=os.path.join(shots, "report-tables.png"),
                                   wait_for="document.querySelectorAll('#crucible-tables table')"
                                            ".length === 2")
    report.check("without Chart.js: tables, no canvas, no error",
                 result.ok and result.canvases == 0, str(result.errors[:3]))

    for args, expected in ((["--state-dir", os.path.join(root, "absent")], "not a folder"),
                           (["--state-dir", os.path.join(root, "many"), "--steps", "0"],
                            "--steps")):
        out = os.path.join(root, "bad.html")
        run = subprocess.run([crucible, "report", *args, "--out", out], capture_output=True,
                             text=True)
        report.check("refused: " + " ".join(args[-2:]),
                     run.returncode != 0 and expected in run.stderr and
                     len(run.stderr.strip().splitlines()) == 1 and not os.path.exists(out),
                     run.stderr)


def check_dashboard(crucible, root, shots, report):
    setup = NativeSetup(crucible, os.path.join(root, "validator"))
    failing = setup.add_failing_miners()
    logging.getLogger("crucible_bridge").setLevel(logging.ERROR)
    bridge = Bridge(setup.chain)  # the bridge's own code, so the health strip is complete
    bridge.start()
    state, log = os.path.join(root, "validator-state"), os.path.join(root, "validator.log")
    process = setup.start(state, log, "--http-port", "0", "--hotkey", HOTKEY,
                          "--weights-interval", "1")
    try:
        port = None

        def listening():
            nonlocal port
            port = status_port(log)
            return port and os.path.exists(os.path.join(state, "metrics.jsonl"))
        if not report.check("validator up with a step", wait_for(listening, 120),
                            read_text(log)[-2000:]):
            return
        base = "http://127.0.0.1:%d" % port
        # Loaded, the health strip drawn from /status, and a marked row with
        # its status and reason for each failing miner.
        shown = " && ".join(
            ["document.getElementById('crucible-health').textContent.includes('chain data age')",
             "document.getElementById('crucible-health').textContent.includes("
             "'latest weights: submitted')",
             "document.querySelectorAll('tr.failing').length === %d" % len(failing)] +
            ["Array.from(document.querySelectorAll('tr.failing')).some(function (r) { "
             "return r.textContent.includes(%s) && r.textContent.includes(%s); })"
             % (json.dumps(status), json.dumps(hotkey))
             for hotkey, status in setup.FAILING.items()])
        result = page_check.check_page(base + "/dashboard",
                                       screenshot=os.path.join(shots, "dashboard.png"),
                                       timeout=90, wait_for=LOADED + " && " + shown)
        check_charts(report, "dashboard", result)
        report.check("dashboard: health strip and every failing miner with its status",
                     not any("wait_for never true" in e for e in result.errors), str(result.errors))
        with urllib.request.urlopen(base + "/history.json", timeout=10) as response:
            served = json.load(response)
        with open(os.path.join(state, "metrics.jsonl")) as f:
            lines = [json.loads(l) for l in f if l.strip()]
        lines = [l for l in lines if l["step"] <= served["steps"][-1]]
        report.check("/history.json equals metrics.jsonl", served == expected_history(lines))
    finally:
        stop(process, timeout=60)
        bridge.stop()


def main():
    crucible = binary_from_argv()
    shots = page_check.screenshots_folder_or_skip()
    if shots is None:
        return
    report = Report()
    with tempfile.TemporaryDirectory(prefix="history_pages_test.") as root:
        started = time.time()
        check_reports(crucible, root, shots, report)
        check_dashboard(crucible, root, shots, report)
        print("screenshots in %s; %.1f s" % (shots, time.time() - started))
    report.finish()


if __name__ == "__main__":
    main()
