#!/usr/bin/python3
"""`crucible eval --report` in headless Chromium (tests/python/page_check.py).

Usage: eval_report_test.py CRUCIBLE_BINARY

On a task from `crucible synth` (8 kernels, so several series kinds), the
baselines of `crucible models make-baselines`, copies of 4 of them under other
uids (12 scored models) and one broken file:
- the data inlined in the page equals result.json (ranking, scores, ci_lo,
  ci_hi, gap, sep, loss by step and by kind); result.json's ci_lo, ci_hi, gap
  and sep equal the numpy bootstrap of tests/python/oracle.py on its losses;
  the loss percentiles equal numpy.percentile over each model's finite series
  losses; the context and target of each drawn series equal the task's .npy
  files, and the CRPS of the drawn forecasts against the target (numpy)
  equals each model's loss for that series;
- loss by step: the series per step equal the target lengths' counts, for
  every scored model sum_t count_t mean_t = sum_j n_j loss_j, and the naive
  baseline's values equal a numpy CRPS of its forecasts rebuilt from the
  inputs; loss by kind: the kinds (docs/models.md's rule, applied here to
  kernels.json) and each model's mean loss per kind equal numpy's;
- the default series are 3 with a target, the same for the same seed;
  --report-series draws the named ones; the fan charts draw the 6 best-ranked
  scored models, or the scored ones of --report-uids (an unscored one named;
  it wins over --mine), or --mine's model first and the 5 best others;
- with --mine: its row is marked in the page's ranking and kinds tables and
  on the console, every fan chart draws it in kMineColour, the loss-by-step
  chart's lines and the loss-by-kind cells equal the JSON, the table shows CI
  low/high, gap and sep with their explanation, and the 12 models' colours
  (those Chart.js got) are pairwise distinct (CIELAB Delta E >= 25);
- every legend of every chart fits its canvas (each Chart.js legend hit box
  inside the chart and the legend, every label the dataset's own, none cut);
- each page loads with no console error and no blocked request, with the
  ranked table, the three loss charts and one fan chart per series (titles,
  every canvas drawn and painted); screenshots kept (eval-report-mine.png is
  docs/images/eval-report.png);
- with one model: the console and the page note why its win rate, composite
  and weight are 0 (and they are);
- without Chart.js: tables, no canvas, the page says why;
- bad flags are one-line errors and write no file.
Screenshots go to $CRUCIBLE_PAGE_CHECK_OUT (ctest: <build>/page-check).
Prints SKIP and passes when Chromium cannot run here.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from statistics import NormalDist

import numpy as np

import oracle
from oracle import Report, binary_from_argv
import page_check

LOADED = "document.getElementById('crucible-page').dataset.loaded === 'yes'"
SEED = 11
FAN_MODELS = 6  # kMaxFanModels
STEP_MODELS = 12  # kMaxStepModels
MINE_COLOUR = (214, 39, 40)  # kMineColour, #d62728
COPIES = {20: "0_naive.pt", 21: "1_seasonal_naive.pt", 22: "2_mean.pt", 23: "3_drift.pt"}
NAIVE = 0  # the naive baseline's uid: its forecasts are rebuilt here
# What the page holds once drawn, read by page_check's wait_for expression:
# it writes the JSON into document.title (the screenshot does not show it).
# Per chart: its size, its legend's box, items and hit boxes, its datasets'
# labels, uids and colours (and the loss-by-step chart's values); the tables'
# heads and rows (a cell with data-value gives that); notes; fan captions.
PROBE = r"""(function () {
  var charts = Object.values(Chart.instances).map(function (c) {
    var l = c.legend;
    return {id: c.canvas.id, width: c.width, height: c.height,
            legend: {left: l.left, top: l.top, right: l.right, bottom: l.bottom,
                     items: l.legendItems.map(function (i) { return i.text; }),
                     boxes: l.legendHitBoxes.map(function (b) {
                       return [b.left, b.top, b.width, b.height]; })},
            datasets: c.data.datasets.map(function (d) {
              var y = c.canvas.id === "chart-loss_by_step"
                  ? d.data.map(function (p) { return p.y; }) : null;
              return {label: d.label, uid: d.uid === undefined ? null : d.uid,
                      bound: !!d.bound,
                      colour: typeof d.borderColor === "string" ? d.borderColor : null, y: y};
            })};
  });
  var tables = Array.prototype.map.call(document.querySelectorAll("#crucible-tables table"),
    function (t) {
      var text = function (cells) {
        return Array.prototype.map.call(cells, function (c) {
          return c.dataset.value !== undefined ? "value:" + c.dataset.value : c.textContent;
        });
      };
      return {id: t.id, heads: text(t.rows[0].cells),
              rows: Array.prototype.slice.call(t.rows, 1).map(function (r) {
                return {mine: r.classList.contains("mine"), cells: text(r.cells)}; })};
    });
  var texts = function (selector) {
    return Array.prototype.map.call(document.querySelectorAll(selector),
                                    function (e) { return e.textContent; });
  };
  return {charts: charts, tables: tables, notes: texts("p.note"),
          explained: texts("#composite-explained"), captions: texts("p.caption")};
})()"""


def inlined_document(html_path):
    with open(html_path) as f:
        html = f.read()
    found = re.search(r'<script type="application/json" id="crucible-eval">(.*?)</script>',
                      html, re.S)
    return json.loads(found.group(1).replace("<\\/", "</")) if found else None


def titles_for(series):
    return (["Per-series loss by model", "Share of series under a loss", "Loss by horizon step"] +
            ["Series %d: forecasts against the truth" % j for j in series])


TRAITS = (("periodic", {"Periodic", "LocallyPeriodic", "Spectral"}),
          ("trend", {"DotProduct", "Polynomial", "ArcCosine"}),
          ("change point", {"ChangePoint"}))


def kind_of(description):
    """A series' kind as docs/models.md defines it (eval_report.h's series_kind)."""
    if not description:
        return "unknown"
    families = set(re.findall(r"\*([A-Za-z]+)\(", description))
    if not families:
        window = re.fullmatch(r"(.+)\[\d+:\d+\]\+\d+", description)
        return window.group(1) if window else description
    return " + ".join(t for t, names in TRAITS if names & families) or "stationary"


def lab(rgb):
    """sRGB 0-255 -> CIELAB (D65)."""
    c = np.array(rgb, dtype=np.float64) / 255.0
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                    [0.0193, 0.1192, 0.9505]]) @ c / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def rgb_of(text):
    """"rgba(r, g, b, a)" or "#rrggbb" -> (r, g, b)."""
    if text.startswith("#"):
        return tuple(int(text[i:i + 2], 16) for i in (1, 3, 5))
    return tuple(int(float(v)) for v in re.findall(r"[\d.]+", text)[:3])


def naive_forecasts(task, levels):
    """The naive baseline (engine/models/torchscript/baseline_models.cpp) in numpy: the last value,
    spread = std of the steps' differences x sqrt(h), normal quantiles."""
    z = np.array([NormalDist().inv_cdf(q) for q in levels])
    horizon = task["targets"].shape[1]
    h = np.sqrt(np.arange(1, horizon + 1, dtype=np.float64))
    out = np.zeros((task["inputs"].shape[0], horizon, len(levels)))
    for j, n in enumerate(task["input_lengths"]):
        x = task["inputs"][j, :n].astype(np.float64)
        steps = np.diff(x)
        spread = np.sqrt(((steps - steps.mean()) ** 2).mean() + 1e-6)
        out[j] = x[-1] + (spread * h)[:, None] * z[None, :]
    return out


def check_analyses(report, result, task, kernels):
    """result.json's scores behind the composite, loss by step and by kind."""
    ranked, seed = result["models"], SEED
    losses = [oracle.json_floats(m["losses"]) for m in ranked]
    losses = [np.where(np.isnan(v), np.inf, v) for v in losses]  # null: a failed model
    bounds = [oracle.bootstrap_bounds(v, 100, 0.05, seed) for v in losses]
    lo, hi = [b[0] for b in bounds], [b[1] for b in bounds]
    gaps, sep, _ = oracle.scores_from_bounds([m["win_rate"] for m in ranked], lo, hi)
    for name, got, expected in (("ci_lo", "ci_lo", lo), ("ci_hi", "ci_hi", hi),
                                ("gap", "gap", gaps), ("sep", "sep", sep)):
        report.check("result.json %s = the numpy bootstrap's" % name,
                     oracle.close(oracle.json_floats([m[got] for m in ranked]), expected,
                                  rtol=1e-12, atol=1e-15),
                     "%s vs %s" % ([m[got] for m in ranked][:3], list(expected)[:3]))
    n = task["target_lengths"]
    horizon = task["targets"].shape[1]
    counts = np.array([(n > t).sum() for t in range(horizon)])
    report.check("step_series: the series reaching each step",
                 result["task"]["step_series"] == counts.tolist())
    for m, v in zip(ranked, losses):
        steps = oracle.json_floats(m["loss_by_step"])
        if m["status"] != "ok":
            report.check("uid %d: no loss by step (not scored)" % m["uid"],
                         len(steps) == horizon and np.isnan(steps).all())
            continue
        report.check("uid %d: sum_t count_t loss_by_step_t = sum_j n_j loss_j" % m["uid"],
                     len(steps) == horizon and
                     oracle.close([np.nansum(counts * steps)], [np.sum(n * v)], rtol=1e-9),
                     "%s vs %s" % (np.nansum(counts * steps), np.sum(n * v)))
    # Tolerances. The bootstrap is the same float64 arithmetic in the same
    # order on both sides, so 1e-12 only absorbs the JSON round trip (17
    # digits). The step identity adds the same float64 products in another
    # order: H x S terms of relative error 2^-53 each stay far below 1e-9.
    # The naive baseline runs in float32 in crucible (float64 here): each
    # forecast value carries a relative error of a few float32 ulps (6e-8),
    # which the CRPS, a mean of |f - y| terms, passes on at most divided by
    # the share of its terms that cancel; 1e-5 is about 170 float32 ulps.
    # None of these involves a BLAS product (the naive baseline is a last
    # value plus a spread), so OPENBLAS_CORETYPE does not move them.
    levels = result["task"]["quantiles"]
    fc = naive_forecasts(task, levels)
    naive = next(m for m in ranked if m["uid"] == NAIVE)
    crps = oracle.crps_numpy(fc, task["targets"].astype(np.float64))  # [S, H]
    inside = np.arange(horizon)[None, :] < n[:, None]
    series = np.array([crps[j, :n[j]].mean() for j in range(len(n))])
    report.check("the naive baseline rebuilt in numpy: its series losses",
                 oracle.close(series, naive["losses"], rtol=1e-5),
                 "%s vs %s" % (series[:3], naive["losses"][:3]))
    expected = np.where(inside, crps, 0).sum(0) / np.maximum(counts, 1)
    report.check("the naive baseline's loss by step = numpy's CRPS per step",
                 oracle.close(naive["loss_by_step"], expected, rtol=1e-5),
                 "%s vs %s" % (naive["loss_by_step"][:3], expected[:3]))
    kinds = [kind_of(d) for d in kernels]
    tally = {}
    for k in kinds:
        tally[k] = tally.get(k, 0) + 1
    order = sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))
    report.check("result.json kinds: the kernels' traits, most series first",
                 result["task"]["kinds"] == [{"kind": k, "series": c} for k, c in order] and
                 len(order) >= 3, str(result["task"]["kinds"]))
    for m, v in zip(ranked, losses):
        expected = [np.mean([v[j] for j in range(len(v)) if kinds[j] == k]) for k, _ in order]
        expected = [e if np.isfinite(e) else np.nan for e in expected]
        report.check("uid %d: loss by kind = numpy's mean per kind" % m["uid"],
                     oracle.close(oracle.json_floats(m["loss_by_kind"]), expected, rtol=1e-12),
                     "%s vs %s" % (m["loss_by_kind"], expected))


def evaluate(crucible, root, name, *flags, env=None):
    """`crucible eval --report` on the test's models and task; -> (run, result path, page path)."""
    out, page = os.path.join(root, name + ".json"), os.path.join(root, name + ".html")
    run = subprocess.run([crucible, "eval", "--models", os.path.join(root, "models"), "--data",
                          os.path.join(root, "task"), "--seed", str(SEED), "--out", out,
                          "--report", page, *flags], capture_output=True, text=True, env=env,
                         timeout=300)
    return run, out, page


def check_document(report, document, result, task, fan_uids=None, mine=None):
    """`fan_uids`: --report-uids, None for the default (the best-ranked scored);
    `mine`: --mine."""
    ranked = result["models"]
    report.check("ranking equals result.json",
                 [(m["rank"], m["uid"], m["status"], m["reason"]) for m in document["models"]] ==
                 [(k + 1, m["uid"], m["status"], m["reason"]) for k, m in enumerate(ranked)])
    report.check("mine in the page and result.json",
                 document["mine"] == mine and result["mine"] == mine and
                 [m["uid"] for m in document["models"] if m["mine"]] ==
                 ([] if mine is None else [mine]))
    report.check("kinds and series per step equal result.json",
                 document["kinds"] == result["task"]["kinds"] and
                 document["step_series"] == result["task"]["step_series"])
    for m, r in zip(document["models"], ranked):
        same = all(m[k] == r[k] for k in ("win_rate", "composite", "weight", "ci_lo", "ci_hi",
                                          "gap", "sep", "loss_by_step", "loss_by_kind")) and \
            m["name"] == os.path.basename(r["file"]) and \
            (m["mean_loss"] == r["mean_loss"] if r["status"] == "ok" else m["mean_loss"] is None)
        report.check("uid %d: scores, loss by step and by kind equal result.json" % m["uid"],
                     same)
        losses = np.array([np.inf if v is None else v for v in r["losses"]], dtype=np.float64)
        finite = losses[np.isfinite(losses)]
        expected = np.percentile(finite, np.arange(101)) if finite.size else np.array([])
        report.check("uid %d: loss percentiles equal numpy's" % m["uid"],
                     m["finite_series"] == finite.size and
                     oracle.close(m["loss_percentiles"], expected, rtol=1e-12, atol=1e-15),
                     str(m["loss_percentiles"][:3]) + " vs " + str(expected[:3]))
    ok = [m["uid"] for m in ranked if m["status"] == "ok"]
    first = [u for u in ok if u == mine] + [u for u in ok if u != mine]  # mine's first
    expected = first[:FAN_MODELS] if fan_uids is None else [u for u in first if u in fan_uids]
    unscored = [m["uid"] for m in ranked if m["uid"] in (fan_uids or []) + [mine] and
                m["status"] != "ok"]
    report.check("fan charts draw %s" % ("--report-uids' scored models" if fan_uids else
                                         "--mine's and the best-ranked scored models" if mine
                                         is not None else "the best-ranked scored models"),
                 document["fan_uids"] == expected and document["fan_unscored"] == unscored,
                 "%s %s" % (document["fan_uids"], document["fan_unscored"]))
    report.check("the loss-by-step chart draws %s" % ("--mine's and the best" if mine is not None
                                                      else "the best-ranked"),
                 document["step_uids"] == first[:STEP_MODELS], str(document["step_uids"]))
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
    """Loads the page; checks its charts and legends; -> what PROBE read (None on failure)."""
    result = page_check.check_page(page, screenshot=os.path.join(shots, name + ".png"),
                                   timeout=60,
                                   wait_for=LOADED + " && (document.title = JSON.stringify(" +
                                   PROBE + "), true)")
    count = 3 + len(series)
    report.check(name + ": no errors", result.ok, str(result.errors[:3]))
    report.check(name + ": titled charts", result.titles == titles_for(series),
                 str(result.titles))
    report.check(name + ": every chart drawn and painted",
                 result.canvases == result.charts == result.painted == count,
                 "%s %s %s" % (result.canvases, result.charts, result.painted))
    print("%s: %d charts, checked in %.1f s" % (name, count, result.elapsed_s))
    try:
        probe = json.loads(result.document_title)
    except ValueError:
        report.check(name + ": the page's probe ran", False, result.document_title[:200])
        return None
    for chart in probe["charts"]:
        legend, where = chart["legend"], name + ", " + chart["id"]
        labels = [d["label"] for d in chart["datasets"] if not d["bound"]]
        fits = len(legend["boxes"]) == len(legend["items"]) > 0 and all(
            0 <= left and left + width <= chart["width"] and 0 <= top and
            top + height <= chart["height"] and legend["left"] <= left and
            left + width <= legend["right"] and legend["top"] <= top and
            top + height <= legend["bottom"] for left, top, width, height in legend["boxes"])
        report.check(where + ": every legend item inside the chart and its legend", fits,
                     "%s in %sx%s" % (legend, chart["width"], chart["height"]))
        report.check(where + ": legend labels whole (the datasets' own, none cut)",
                     legend["items"] == labels and
                     not any(t.endswith(("...", "\u2026")) or len(t) > 24
                             for t in legend["items"]), str(legend["items"]))
    return probe


def check_colours(report, name, probe, document):
    """The loss-by-step chart's 12 lines: the page data's colours, pairwise
    distinct; -> their (r, g, b)."""
    steps = next((c for c in probe["charts"] if c["id"] == "chart-loss_by_step"), None)
    by_uid = {m["uid"]: m for m in document["models"]}
    colours = [rgb_of(d["colour"]) for d in steps["datasets"]] if steps else []
    report.check(name + ": the loss-by-step chart's colours are the page data's",
                 colours == [rgb_of(by_uid[u]["colour"]) for u in document["step_uids"]])
    labs = [lab(c) for c in colours]
    distance = min((np.linalg.norm(a - b) for i, a in enumerate(labs) for b in labs[i + 1:]),
                   default=0)
    report.check(name + ": 12 model colours, pairwise Delta E >= 25",
                 len(colours) == 12 and distance >= 25, "%d colours, min %.1f" %
                 (len(colours), distance))
    return colours


def check_mine_page(report, probe, document, result, mine):
    """The --mine page: its row marked, its model in every fan chart, the
    loss-by-step lines and loss-by-kind cells equal to the JSON, colours."""
    tables = {t["id"] or t["heads"][0]: t for t in probe["tables"]}
    ranking = probe["tables"][0]
    report.check("mine: the ranking table marks one row, its uid's",
                 [r["cells"][1] for r in ranking["rows"] if r["mine"]] == [str(mine)],
                 str([r["cells"][:3] for r in ranking["rows"] if r["mine"]]))
    heads = ranking["heads"]
    columns = {h: heads.index(h) for h in ("uid", "CI low", "CI high", "gap", "sep")
               if h in heads}
    shown = len(columns) == 5
    for r, m in zip(ranking["rows"], result["models"]):
        for head, key in (("CI low", "ci_lo"), ("CI high", "ci_hi"), ("gap", "gap"),
                          ("sep", "sep")):
            text = r["cells"][columns[head]] if shown else None
            value = None if text in (None, "-") else float(text)
            shown = shown and (value is None if m[key] is None else
                               oracle.close([value], [m[key]], rtol=1e-5, atol=1e-12))
    report.check("mine: the table shows CI low, CI high, gap and sep as in result.json", shown,
                 str(heads))
    report.check("mine: the composite's parts explained",
                 len(probe["explained"]) == 1 and "win rate" in probe["explained"][0] and
                 "gap" in probe["explained"][0] and "sep" in probe["explained"][0])
    kinds = tables.get("loss-by-kind")
    expected = [[str(m["uid"])] + ["-" if v is None else "value:" + repr(v)
                                   for v in m["loss_by_kind"]]
                for m in document["models"] if m["status"] == "ok"]
    got = [[r["cells"][0]] + [c if c == "-" else "value:" + repr(float(c[6:]))
                              for c in r["cells"][2:]] for r in kinds["rows"]] if kinds else None
    report.check("mine: the loss-by-kind table equals the JSON", got == expected,
                 "%s vs %s" % ((got or [None])[:2], expected[:2]))
    report.check("mine: the loss-by-kind table heads are the kinds",
                 kinds is not None and
                 [h.split(str(k["series"]) + " series")[0] for h, k in
                  zip(kinds["heads"][2:], document["kinds"])] ==
                 [k["kind"] for k in document["kinds"]], str(kinds and kinds["heads"]))
    report.check("mine: the loss-by-kind table marks its row",
                 kinds is not None and
                 [r["cells"][0] for r in kinds["rows"] if r["mine"]] == [str(mine)])
    charts = {c["id"]: c for c in probe["charts"]}
    steps = charts.get("chart-loss_by_step")
    by_uid = {m["uid"]: m for m in document["models"]}
    lines = [(d["uid"], d["y"]) for d in steps["datasets"]] if steps else None
    report.check("mine: the loss-by-step chart draws the JSON's values",
                 lines == [(u, by_uid[u]["loss_by_step"]) for u in document["step_uids"]],
                 str(lines and [u for u, _ in lines]))
    colours = check_colours(report, "mine", probe, document)
    report.check("mine: its line in kMineColour, labelled mine",
                 steps is not None and steps["datasets"][0]["uid"] == mine and
                 colours[0] == MINE_COLOUR and steps["datasets"][0]["label"].endswith("(mine)"))
    fans = [c for c in probe["charts"] if c["id"].startswith("chart-fan-")]
    report.check("mine: every fan chart draws its median in kMineColour",
                 len(fans) == len(document["series"]) and all(
                     any(d["uid"] == mine and not d["bound"] and
                         rgb_of(d["colour"]) == MINE_COLOUR for d in c["datasets"])
                     for c in fans))
    report.check("mine: each fan chart's caption names the series' kind",
                 probe["captions"] == ["kind: %s; %s" % (s["kind"], s["description"])
                                       for s in document["series"]],
                 str(probe["captions"][:1]))


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


def evaluate_one(report, crucible, root, shots):
    """One model: the table's and the page's note on its zero scores."""
    alone = os.path.join(root, "alone")
    os.makedirs(alone)
    shutil.copy(os.path.join(root, "models", "0_naive.pt"), alone)
    out, page = os.path.join(root, "one.json"), os.path.join(root, "one.html")
    run = oracle.run(crucible, ["eval", "--models", alone, "--data", os.path.join(root, "task"),
                                "--seed", SEED, "--out", out, "--report", page])
    if not report.check("one model: eval ran", run.returncode == 0, run.stderr):
        return
    with open(out) as f:
        (model,) = json.load(f)["models"]
    report.check("one model: win rate, composite and weight are 0, sep 1",
                 model["status"] == "ok" and model["win_rate"] == model["composite"] ==
                 model["weight"] == 0 and model["sep"] == 1, str(model)[:300])
    notes = [line for line in run.stdout.splitlines() if line.startswith("note: one model ran")]
    report.check("one model: the console notes why its scores are 0",
                 len(notes) == 1 and "make-baselines" in notes[0], run.stdout[-600:])
    probe = check_page(report, "eval-report-one", page,
                       [s["index"] for s in inlined_document(page)["series"]], shots)
    report.check("one model: the page shows the same note",
                 probe is not None and probe["notes"] == notes, str(probe and probe["notes"]))


def mid_ranked(result):
    """The uid in the middle of the scored baselines' ranking (not a copy)."""
    ok = [m["uid"] for m in result["models"] if m["status"] == "ok" and m["uid"] not in COPIES]
    return ok[len(ok) // 2]


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
                     ["synth", "--seed", SEED, "--series", 40, "--length", 700,
                      "--samples-per-kernel", 5, "--out", os.path.join(root, "task")]):
            made = oracle.run(crucible, args)
            if not report.check(" ".join(map(str, args[:2])), made.returncode == 0, made.stderr):
                report.finish()
        # The univariate baselines and the two Chronos-Bolt ones: the report's
        # 12-colour palette covers them, their copies and the broken file.
        shutil.rmtree(os.path.join(models, "8_chronos2_gaussian"))
        os.remove(os.path.join(models, "9_covariate_regression.pt"))
        for uid, original in COPIES.items():
            shutil.copy(os.path.join(models, original), os.path.join(models, "%d_copy.pt" % uid))
        with open(os.path.join(models, "9_broken.pt"), "wb") as f:
            f.write(b"not a TorchScript archive")
        task = {k: np.load(os.path.join(root, "task", k + ".npy"))
                for k in ("inputs", "input_lengths", "targets", "target_lengths")}
        with open(os.path.join(root, "task", "kernels.json")) as f:
            kernels = json.load(f)

        mine = None
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
            report.check("12 scored models", sum(m["status"] == "ok" for m in result["models"])
                         == 12)
            report.check("no mine, no mark", "<- mine" not in run.stdout)
            check_document(report, document, result, task)
            check_analyses(report, result, task, kernels)
            probe = check_page(report, "eval-report", page, series, shots)
            if probe is not None:
                check_colours(report, "no mine", probe, document)
            again = evaluate(crucible, root, "again")[2]
            report.check("the same seed picks the same series",
                         [s["index"] for s in inlined_document(again)["series"]] == series)
            mine = mid_ranked(result)

        run, out, page = evaluate(crucible, root, "chosen", "--report-series", "0,39",
                                  "--report-uids", "1,9", "--mine", "4")
        if report.check("--report-series 0,39 --report-uids 1,9 --mine 4", run.returncode == 0,
                        run.stderr):
            document = inlined_document(page)
            report.check("--report-series: draws 0 and 39",
                         [s["index"] for s in document["series"]] == [0, 39])
            with open(out) as f:
                check_document(report, document, json.load(f), task, fan_uids=[1, 9], mine=4)
            check_page(report, "eval-report-chosen", page, [0, 39], shots)

        if mine is not None:
            run, out, page = evaluate(crucible, root, "mine", "--mine", str(mine))
            if report.check("--mine %d" % mine, run.returncode == 0, run.stderr):
                marked = [line.split()[0] for line in run.stdout.splitlines()
                          if "<- mine" in line]
                report.check("--mine: the console table marks its row", marked == [str(mine)],
                             run.stdout)
                document = inlined_document(page)
                with open(out) as f:
                    result = json.load(f)
                check_document(report, document, result, task, mine=mine)
                probe = check_page(report, "eval-report-mine", page,
                                   [s["index"] for s in document["series"]], shots)
                if probe is not None:
                    check_mine_page(report, probe, document, result, mine)

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
            wait_for="document.querySelectorAll('#crucible-tables table').length === 3 && "
                     "document.getElementById('loss-by-kind') !== null")
        report.check("without Chart.js: tables (ranking, kinds, percentiles), no canvas, no error",
                     result.ok and result.canvases == 0, str(result.errors[:3]))

        evaluate_one(report, crucible, root, shots)
        check_refusals(report, crucible, root)
        print("screenshots in %s; %.1f s" % (shots, time.time() - started))
    report.finish()


if __name__ == "__main__":
    main()
