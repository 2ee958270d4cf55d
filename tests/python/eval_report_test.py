#!/usr/bin/python3
"""`crucible eval --report` in headless Chromium (tests/python/page_check.py).

Usage: eval_report_test.py CRUCIBLE_BINARY

On a task from `crucible synth` and the baselines of `crucible models
make-baselines` plus one broken file:
- the data inlined in the page equals result.json (ranking, scores), the
  loss percentiles equal numpy.percentile over each model's finite series
  losses, the context and target of each drawn series equal the task's .npy
  files, and the CRPS of the drawn forecasts against the target (numpy,
  tests/python/oracle.py) equals each model's loss for that series;
- the default series are 3 with a target, the same for the same seed;
  --report-series draws the named ones; the fan charts draw the 6 best-ranked
  scored models, or the scored ones of --report-uids (an unscored one named);
- each page loads with no console error and no blocked request, with the
  ranked table, the two loss charts and one fan chart per series (titles,
  every canvas drawn and painted); screenshot kept;
- without Chart.js: tables, no canvas, the page says why;
- bad flags are one-line errors and write no file.
Screenshots go to $CRUCIBLE_PAGE_CHECK_OUT (ctest: <build>/page-check).
Prints SKIP and passes when Chromium cannot run here.
"""
import json
import os
import re
import subprocess
import tempfile
import time

import numpy as np

import oracle
from oracle import Report, binary_from_argv
import page_check

LOADED = "document.getElementById('crucible-page').dataset.loaded === 'yes'"
SEED = 11
FAN_MODELS = 6  # kMaxFanModels


def inlined_document(html_path):
    with open(html_path) as f:
        html = f.read()
    found = re.search(r'<script type="application/json" id="crucible-eval">(.*?)</script>',
                      html, re.S)
    return json.loads(found.group(1).replace("<\\/", "</")) if found else None


def titles_for(series):
    return (["Per-series loss by model", "Share of series under a loss"] +
            ["Series %d: forecasts against the truth" % j for j in series])


def evaluate(crucible, root, name, *flags, env=None):
    """`crucible eval --report` on the test's models and task; -> (run, result path, page path)."""
    out, page = os.path.join(root, name + ".json"), os.path.join(root, name + ".html")
    run = subprocess.run([crucible, "eval", "--models", os.path.join(root, "models"), "--data",
                          os.path.join(root, "task"), "--seed", str(SEED), "--out", out,
                          "--report", page, *flags], capture_output=True, text=True, env=env,
                         timeout=300)
    return run, out, page


def check_document(report, document, result, task, fan_uids=None):
    """`fan_uids`: --report-uids, None for the default (the best-ranked scored)."""
    ranked = result["models"]
    report.check("ranking equals result.json",
                 [(m["rank"], m["uid"], m["status"], m["reason"]) for m in document["models"]] ==
                 [(k + 1, m["uid"], m["status"], m["reason"]) for k, m in enumerate(ranked)])
    for m, r in zip(document["models"], ranked):
        same = all(m[k] == r[k] for k in ("win_rate", "composite", "weight")) and \
            m["name"] == os.path.basename(r["file"]) and \
            (m["mean_loss"] == r["mean_loss"] if r["status"] == "ok" else m["mean_loss"] is None)
        report.check("uid %d: scores equal result.json" % m["uid"], same)
        losses = np.array([np.inf if v is None else v for v in r["losses"]], dtype=np.float64)
        finite = losses[np.isfinite(losses)]
        expected = np.percentile(finite, np.arange(101)) if finite.size else np.array([])
        report.check("uid %d: loss percentiles equal numpy's" % m["uid"],
                     m["finite_series"] == finite.size and
                     oracle.close(m["loss_percentiles"], expected, rtol=1e-12, atol=1e-15),
                     str(m["loss_percentiles"][:3]) + " vs " + str(expected[:3]))
    ok = [m["uid"] for m in ranked if m["status"] == "ok"]
    expected = ok[:FAN_MODELS] if fan_uids is None else [u for u in ok if u in fan_uids]
    unscored = [] if fan_uids is None else [m["uid"] for m in ranked if m["uid"] in fan_uids and
                                            m["status"] != "ok"]
    report.check("fan charts draw %s" % ("--report-uids' scored models" if fan_uids else
                                         "the best-ranked scored models"),
                 document["fan_uids"] == expected and document["fan_unscored"] == unscored,
                 "%s %s" % (document["fan_uids"], document["fan_unscored"]))
    levels = document["quantiles"]
    for s in document["series"]:
        j, n, length = s["index"], task["target_lengths"][s["index"]], \
            task["input_lengths"][s["index"]]
        shown = min(length, max(64, min(512, 3 * n)))  # eval_report.h
        report.check("series %d: context equals inputs.npy" % j,
                     s["context_length"] == length and np.array_equal(
                         np.array(s["context"], dtype=np.float32),
                         task["inputs"][j, length - shown:length]))
        report.check("series %d: target equals targets.npy" % j, np.array_equal(
            np.array(s["target"], dtype=np.float32), task["targets"][j, :n]))
        report.check("series %d: forecasts of the fan models" % j,
                     sorted(s["forecasts"]) == sorted(map(str, document["fan_uids"])))
        for uid, rows in s["forecasts"].items():
            forecast = np.array(rows, dtype=np.float32)
            loss = next(m for m in ranked if str(m["uid"]) == uid)["losses"][j]
            fine = forecast.shape == (n, len(levels))
            crps = oracle.crps_numpy(forecast, task["targets"][j, :n]).mean() if fine else None
            report.check("series %d, uid %s: CRPS of the drawn forecast = its loss" % (j, uid),
                         fine and oracle.close([crps], [loss], rtol=1e-6),
                         "%s vs %s" % (crps, loss))


def check_page(report, name, page, series, shots):
    result = page_check.check_page(page, screenshot=os.path.join(shots, name + ".png"),
                                   timeout=60, wait_for=LOADED)
    count = 2 + len(series)
    report.check(name + ": no errors", result.ok, str(result.errors[:3]))
    report.check(name + ": titled charts", result.titles == titles_for(series),
                 str(result.titles))
    report.check(name + ": every chart drawn and painted",
                 result.canvases == result.charts == result.painted == count,
                 "%s %s %s" % (result.canvases, result.charts, result.painted))
    print("%s: %d charts, checked in %.1f s" % (name, count, result.elapsed_s))


def check_refusals(report, crucible, root):
    cases = [(["--report-series", "999"], "is not a series of the task"),
             (["--report-series", "1,1"], "named twice"),
             (["--report-series", ",".join(map(str, range(13)))], "at most 12"),
             (["--report-series", "x"], "expected series numbers"),
             (["--report-series", ""], "expected series numbers"),
             (["--report-series", "1,-2"], "expected series numbers"),
             (["--report-uids", "99"], "no model in the folder has uid 99"),
             (["--report-uids", "1,1"], "named twice"),
             (["--report-uids", "0,1,2,3,4,5,6"], "at most 6"),
             (["--report-uids", "-1"], "expected uids")]
    for flags, expected in cases:
        run, out, page = evaluate(crucible, root, "refused", *flags)
        report.check("refused: " + " ".join(flags)[:40],
                     run.returncode != 0 and expected in run.stderr and
                     len(run.stderr.strip().splitlines()) == 1 and
                     not os.path.exists(out) and not os.path.exists(page), run.stderr)
    out = os.path.join(root, "alone.json")
    run = oracle.run(crucible, ["eval", "--models", os.path.join(root, "models"), "--data",
                                os.path.join(root, "task"), "--seed", SEED, "--out", out,
                                "--report-series", "1"])
    report.check("refused: --report-series without --report",
                 run.returncode != 0 and "add --report" in run.stderr and
                 not os.path.exists(out), run.stderr)
    run = oracle.run(crucible, ["eval", "--models", os.path.join(root, "models"), "--data",
                                os.path.join(root, "task"), "--seed", SEED, "--out", out,
                                "--report-uids", "1"])
    report.check("refused: --report-uids without --report",
                 run.returncode != 0 and "--report-uids:" in run.stderr and
                 "add --report" in run.stderr and not os.path.exists(out), run.stderr)
    run = oracle.run(crucible, ["eval", "--models", os.path.join(root, "models"), "--data",
                                os.path.join(root, "task"), "--seed", SEED, "--out", out,
                                "--report", os.path.join(root, "absent", "eval.html")])
    report.check("refused: --report into a missing folder",
                 run.returncode != 0 and "--report:" in run.stderr and "no such folder" in
                 run.stderr and not os.path.exists(out), run.stderr)


def main():
    crucible = binary_from_argv()
    shots = page_check.screenshots_folder_or_skip()
    if shots is None:
        return
    report = Report()
    with tempfile.TemporaryDirectory(prefix="eval_report_test.") as root:
        started = time.time()
        models = os.path.join(root, "models")
        os.makedirs(models)
        for args in (["models", "make-baselines", "--out", models],
                     ["synth", "--seed", SEED, "--series", 40, "--length", 700, "--out",
                      os.path.join(root, "task")]):
            made = oracle.run(crucible, args)
            if not report.check(" ".join(map(str, args[:2])), made.returncode == 0, made.stderr):
                report.finish()
        with open(os.path.join(models, "9_broken.pt"), "wb") as f:
            f.write(b"not a TorchScript archive")
        task = {k: np.load(os.path.join(root, "task", k + ".npy"))
                for k in ("inputs", "input_lengths", "targets", "target_lengths")}

        run, out, page = evaluate(crucible, root, "eval")
        if report.check("eval --report ran", run.returncode == 0 and "report: " in run.stdout,
                        run.stdout + run.stderr):
            with open(out) as f:
                result = json.load(f)
            document = inlined_document(page)
            series = [s["index"] for s in document["series"]]
            report.check("3 distinct series with a target by default",
                         len(set(series)) == 3 and series == sorted(series) and
                         all(task["target_lengths"][j] > 0 for j in series), str(series))
            report.check("a broken model is in the ranking, not scored",
                         any(m["uid"] == 9 and m["status"] != "ok" and m["loss_percentiles"] == []
                             for m in document["models"]))
            check_document(report, document, result, task)
            check_page(report, "eval-report", page, series, shots)
            again = evaluate(crucible, root, "again")[2]
            report.check("the same seed picks the same series",
                         [s["index"] for s in inlined_document(again)["series"]] == series)

        run, out, page = evaluate(crucible, root, "chosen", "--report-series", "0,39",
                                  "--report-uids", "1,9")
        if report.check("--report-series 0,39 --report-uids 1,9", run.returncode == 0,
                        run.stderr):
            document = inlined_document(page)
            report.check("--report-series: draws 0 and 39",
                         [s["index"] for s in document["series"]] == [0, 39])
            with open(out) as f:
                check_document(report, document, json.load(f), task, fan_uids=[1, 9])
            check_page(report, "eval-report-chosen", page, [0, 39], shots)

        run, out, page = evaluate(crucible, root, "tables",
                                  env=dict(os.environ,
                                           CRUCIBLE_CHART_JS=os.path.join(root, "missing.js")))
        report.check("without Chart.js: written, saying so",
                     run.returncode == 0 and "as tables" in run.stdout, run.stdout + run.stderr)
        with open(page) as f:
            html = f.read()
        report.check("without Chart.js: the page says why",
                     "Charts are not drawn:" in html and "missing.js" in html)
        result = page_check.check_page(
            page, screenshot=os.path.join(shots, "eval-report-tables.png"),
            wait_for="document.querySelectorAll('#crucible-tables table').length === 2")
        report.check("without Chart.js: tables, no canvas, no error",
                     result.ok and result.canvases == 0, str(result.errors[:3]))

        check_refusals(report, crucible, root)
        print("screenshots in %s; %.1f s" % (shots, time.time() - started))
    report.finish()


if __name__ == "__main__":
    main()
