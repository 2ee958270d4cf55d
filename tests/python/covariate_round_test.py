"""Grouped tasks with covariates, end to end: `crucible eval` on a folder
mixing TorchScript, Chronos-Bolt and Chronos-2 models (and a hostile
Chronos-2 folder) over a synthetic task of groups (2 targets, a past-only and
a known covariate each), then a validator on examples/schedule.json running
its multivariate competition.

Checked:
- each model's status, and the hostile folder's reason;
- the TorchScript models' per-series losses against numpy: the naive
  baseline and the covariate regression rebuilt here, scored by oracle.py;
- one loss per target row (covariate rows are not scored);
- the native models' losses are the same bits alone as in the mixed folder;
- the covariate-aware model beats the univariate ones;
- with .venv-chronos2 (scripts/make-chronos2-venv.sh), the Chronos-2 models'
  losses against the official Chronos2Pipeline's forecasts on the same groups;
- a validator on the example schedule, at a block of its covariate
  competition, scores the four models ok.

    covariate_round_test.py <crucible binary> [<repo root>]
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from statistics import NormalDist

import numpy as np

import oracle
from validator_harness import (commitment, folder_files, start_validator, stop, verdict_rows,
                               wait_for, write_json)

CRUCIBLE = sys.argv[1]
ROOT = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
LEVELS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
GROUPS, TARGETS = 20, 2
FAILURES = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        FAILURES.append(what)
    return condition


def run(args, timeout=600):
    return subprocess.run([CRUCIBLE, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def load_task(folder):
    names = ("inputs", "input_lengths", "targets", "target_lengths", "group_ids", "roles",
             "future_inputs")
    return {name: np.load(os.path.join(folder, name + ".npy")) for name in names}


def to_quantiles(point, spread):
    """The baselines' point + spread x z_q, in float32 as their TorchScript does."""
    z = np.array([NormalDist().inv_cdf(q) for q in LEVELS], np.float32)
    return point.astype(np.float32)[..., None] + spread.astype(np.float32)[..., None] * z


def naive_forecasts(task):
    """0_naive.pt in numpy (float64): the last value, spread = std of the
    steps x sqrt(h)."""
    x, n = task["inputs"].astype(np.float64), task["input_lengths"]
    h = task["targets"].shape[1]
    mask = (np.arange(x.shape[1])[None, :] < n[:, None]).astype(np.float64)
    last = x[np.arange(len(x)), np.maximum(n - 1, 0)]
    diffs = (x[:, 1:] - x[:, :-1]) * mask[:, 1:]
    count = np.maximum(mask[:, 1:].sum(1), 1.0)
    mean = diffs.sum(1) / count
    var = (((diffs - mean[:, None]) * mask[:, 1:]) ** 2).sum(1) / count
    spread = np.sqrt(var + 1e-6)[:, None] * np.sqrt(np.arange(1, h + 1))[None, :]
    return to_quantiles(np.repeat(last[:, None], h, 1), spread)


def covariate_forecasts(task):
    """9_covariate_regression.pt in numpy: each row fitted by least squares on
    its group's known covariates over its context, forecast from their
    future values; the spread is the residuals' standard deviation."""
    x, n, groups = task["inputs"].astype(np.float64), task["input_lengths"], task["group_ids"]
    future = task["future_inputs"].astype(np.float64)
    known = ~np.isnan(future).all(1)
    point = naive_forecasts(task)[..., LEVELS.index(0.5)].astype(np.float64)
    spread = (naive_forecasts(task)[..., -1] - point) / NormalDist().inv_cdf(0.9)
    for i in range(len(x)):
        drivers = (groups == groups[i]) & known & (np.arange(len(x)) != i)
        if not drivers.any():
            continue
        m = np.arange(x.shape[1]) < n[i]
        fit = np.column_stack([np.ones(m.sum()), x[drivers][:, m].T])
        coef, *_ = np.linalg.lstsq(fit, x[i, m], rcond=None)
        residual = x[i, m] - fit @ coef
        ahead = np.column_stack([np.ones(future.shape[1]), np.nan_to_num(future[drivers]).T])
        point[i] = ahead @ coef
        spread[i] = np.sqrt((residual ** 2).sum() / (max(m.sum(), 2) - 1.0) + 1e-6)
    return to_quantiles(point, spread)


def losses_of(result, name):
    row = next(m for m in result["models"] if os.path.basename(m["file"]) == name)
    return row, np.array([np.nan if v is None else v for v in row["losses"]], np.float64)


def official_chronos2_forecasts(venv_python, folder, task_dir, out):
    """The official pipeline's forecasts for the task's target rows, group by
    group as dicts of target, past_covariates and future_covariates."""
    script = r'''
import sys, numpy as np, torch
from chronos import Chronos2Pipeline
folder, task, out = sys.argv[1:4]
load = lambda name: np.load(task + "/" + name + ".npy")
x, n, g, roles, fut = (load(k) for k in ("inputs", "input_lengths", "group_ids", "roles",
                                           "future_inputs"))
h = load("targets").shape[1]
pipeline = Chronos2Pipeline.from_pretrained(folder, attn_implementation="eager")
inputs = []
for group in np.unique(g):
    rows = np.flatnonzero(g == group)
    length = n[rows[0]]
    item = {"target": np.stack([x[r, :length] for r in rows if roles[r] == 0]).astype(np.float32)}
    past = [r for r in rows if roles[r] == 1]
    known = [r for r in rows if roles[r] == 2]
    item["past_covariates"] = {**{"past%d" % i: x[r, :length].astype(np.float32)
                                  for i, r in enumerate(past)},
                               **{"known%d" % i: x[r, :length].astype(np.float32)
                                  for i, r in enumerate(known)}}
    item["future_covariates"] = {"known%d" % i: fut[r, :h].astype(np.float32)
                                 for i, r in enumerate(known)}
    inputs.append(item)
levels = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
with torch.no_grad():
    quantiles, _ = pipeline.predict_quantiles(inputs, prediction_length=h, quantile_levels=levels)
np.save(out, np.concatenate([q.numpy() for q in quantiles], 0).astype(np.float32))
'''
    done = subprocess.run([venv_python, "-c", script, folder, task_dir, out], capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        return None, done.stderr.strip().splitlines()[-1:]
    return np.load(out), None


def check_eval(root):
    baselines = os.path.join(root, "baselines")
    made = run(["models", "make-baselines", "--out", baselines])
    check(made.returncode == 0, "make-baselines: " + made.stderr.strip()[-300:])
    models = os.path.join(root, "models")
    os.makedirs(models)
    for name in ("0_naive.pt", "3_drift.pt", "9_covariate_regression.pt"):
        shutil.copy(os.path.join(baselines, name), models)
    for name in ("6_bolt_gaussian", "8_chronos2_gaussian"):
        shutil.copytree(os.path.join(baselines, name), os.path.join(models, name))
    shutil.copytree(os.path.join(ROOT, "tests", "golden", "chronos2", "models", "b9"),
                    os.path.join(models, "11_chronos2_b9"))
    hostile = os.path.join(models, "12_chronos2_hostile")
    shutil.copytree(os.path.join(baselines, "8_chronos2_gaussian"), hostile)
    with open(os.path.join(hostile, "config.json")) as f:
        config = json.load(f)
    config["chronos_config"]["prediction_horizon"] = 64
    write_json(os.path.join(hostile, "config.json"), config)

    task_dir = os.path.join(root, "task")
    made = run(["synth", "--seed", 3, "--series", GROUPS, "--length", 256, "--group-targets",
                TARGETS, "--past-covariates", 1, "--known-covariates", 1, "--out", task_dir])
    check(made.returncode == 0, "synth a grouped task: " + made.stderr.strip()[-300:])
    task = load_task(task_dir)
    targets = np.flatnonzero(task["roles"] == 0)
    check(len(targets) == GROUPS * TARGETS and len(task["roles"]) == GROUPS * 4,
          "the task has 20 groups of 2 targets, a past and a known covariate")

    out = os.path.join(root, "result.json")
    done = run(["eval", "--models", models, "--data", task_dir, "--seed", 1, "--out", out])
    check(done.returncode == 0, "eval on the mixed folder: " + done.stderr.strip()[-300:])
    with open(out) as f:
        result = json.load(f)
    statuses = {os.path.basename(m["file"]): m["status"] for m in result["models"]}
    expected = {name: "ok" for name in statuses}
    expected["12_chronos2_hostile"] = "refused"
    check(statuses == expected, "statuses: %s" % statuses)
    hostile_row, _ = losses_of(result, "12_chronos2_hostile")
    check("unknown key" in hostile_row["reason"] and "prediction_horizon" in hostile_row["reason"],
          "the hostile Chronos-2 folder is refused by reason: " + hostile_row["reason"])

    y, lengths = task["targets"][targets], task["target_lengths"][targets]
    scale = np.abs(y).max()
    for name, forecasts in (("0_naive.pt", naive_forecasts(task)),
                            ("9_covariate_regression.pt", covariate_forecasts(task))):
        _, got = losses_of(result, name)
        want = oracle.series_losses("crps", y, forecasts[targets], lengths, LEVELS)
        # The models compute in float32 (the regression in float64, then
        # float32); numpy here in float64. CRPS is 1-Lipschitz in every
        # forecast value, so a loss moves by at most the largest forecast
        # difference: float32 rounding of values of size `scale`, a few ulps
        # (2^-24 each) through the quantile formula, bounded by 1e-5 x scale.
        check(len(got) == len(targets) and np.allclose(got, want, rtol=0, atol=1e-5 * scale),
              "%s: one loss per target row, equal to numpy's (largest difference %.2g)"
              % (name, np.nanmax(np.abs(got - want)) if len(got) == len(want) else np.inf))
    means = {os.path.basename(m["file"]): m["mean_loss"] for m in result["models"]
             if m["status"] == "ok"}
    best_other = min(v for k, v in means.items() if k != "9_covariate_regression.pt")
    check(means["9_covariate_regression.pt"] < 0.7 * best_other,
          "the covariate regression beats every model without covariates by 30%%: %s" % means)

    for name in ("6_bolt_gaussian", "8_chronos2_gaussian", "11_chronos2_b9"):
        alone_models = os.path.join(root, "alone-" + name)
        os.makedirs(alone_models)
        shutil.copytree(os.path.join(models, name), os.path.join(alone_models, name))
        alone_out = os.path.join(root, "alone-" + name + ".json")
        done = run(["eval", "--models", alone_models, "--data", task_dir, "--seed", 1, "--out",
                    alone_out])
        with open(alone_out) as f:
            _, alone = losses_of(json.load(f), name)
        _, mixed = losses_of(result, name)
        check(done.returncode == 0 and np.array_equal(alone, mixed),
              "%s: the same losses, to the bit, alone and in the mixed folder" % name)

    venv = os.path.join(ROOT, ".venv-chronos2", "bin", "python")
    if not os.path.exists(venv):
        print("skip the official Chronos-2 comparison: no .venv-chronos2 "
              "(scripts/make-chronos2-venv.sh)", flush=True)
        return models
    for name in ("8_chronos2_gaussian", "11_chronos2_b9"):
        official, error = official_chronos2_forecasts(venv, os.path.join(models, name), task_dir,
                                                      os.path.join(root, name + ".npy"))
        if not check(official is not None, "%s: the official pipeline ran %s" % (name, error)):
            continue
        if not check(official.shape == (len(targets), y.shape[1], len(LEVELS)),
                     "%s: official forecasts [R, H, Q] %s" % (name, official.shape)):
            continue
        want = oracle.series_losses("crps", y, official, lengths, LEVELS)
        _, got = losses_of(result, name)
        # The golden cases bound crucible's forecasts to 16x the official
        # float32 error (at most 5.6e-6 of the values' size there) + 1e-6:
        # 1e-4 x scale; CRPS is 1-Lipschitz in the forecasts.
        check(np.allclose(got, want, rtol=0, atol=1e-4 * scale),
              "%s: losses equal the official pipeline's (largest difference %.2g)"
              % (name, np.nanmax(np.abs(got - want))))
    return models


def check_validator(root, models):
    """A validator on examples/schedule.json at a block of its covariate
    competition (id 2) scores four models committed to it."""
    hub, chain, state = (os.path.join(root, name) for name in ("hub", "chain", "state"))
    neurons = [{"uid": 0, "hotkey": "validator0", "stake": 100.0, "validator_permit": True}]
    commitments, names = {}, {}
    for uid, name in enumerate(("0_naive.pt", "9_covariate_regression.pt", "6_bolt_gaussian",
                                "8_chronos2_gaussian"), start=1):
        repo = "m%d" % uid
        folder = os.path.join(hub, "ns", repo, "c1")
        if name.endswith(".pt"):
            os.makedirs(folder)
            shutil.copy(os.path.join(models, name), os.path.join(folder, "model.pt"))
        else:
            shutil.copytree(os.path.join(models, name), folder)
        hotkey = "miner%d" % uid
        commitments[hotkey] = {"commitment": commitment(repo, "c1", folder_files(folder), hotkey,
                                                        2), "block": 6_000_010}
        neurons.append({"uid": uid, "hotkey": hotkey, "stake": 1.0, "validator_permit": False})
        names[uid] = name
    os.makedirs(chain)
    write_json(os.path.join(chain, "metagraph.json"),
               {"netuid": 7, "block": 6_000_200, "seconds_per_block": 0, "time": time.time(),
                "neurons": neurons})
    write_json(os.path.join(chain, "commitments.json"), commitments)
    process = start_validator(CRUCIBLE, chain, hub, state,
                              os.path.join(ROOT, "examples", "schedule.json"),
                              os.path.join(root, "validator.log"))
    seen = {}

    def all_seen():
        for row in verdict_rows(state):
            seen.setdefault(row["uid"], row)
        return len(seen) == len(names)

    try:
        if not check(wait_for(all_seen, 300), "the validator scored every miner of competition 2"):
            with open(os.path.join(root, "validator.log"), errors="replace") as f:
                print("validator.log, last lines:\n" + "".join(f.readlines()[-25:]))
    finally:
        stop(process)
    for uid, name in names.items():
        row = seen.get(uid, {"status": "missing", "reason": "no row"})
        check(row["status"] == "ok" and row.get("competition", 2) == 2,
              "validator: %s scored ok in competition 2 (%s)" % (name, row))


def main():
    with tempfile.TemporaryDirectory(prefix="covariate_round_test.") as root:
        models = check_eval(root)
        check_validator(root, models)
    if FAILURES:
        sys.exit("%d check(s) failed" % len(FAILURES))
    print("all checks passed")


if __name__ == "__main__":
    main()
