"""Live check of `crucible eval` on native Chronos-Bolt models against amazon's
chronos-forecasting: two seeded random small models, a synth task, and the
per-series CRPS of the official pipeline's forecasts (numpy, docs/scoring.md
section 3) compared with result.json to 1e-4 relative + 1e-6 absolute.

    python3 tests/python/chronos_bolt_live_test.py CRUCIBLE_BINARY VENV_DIR

VENV_DIR is made by scripts/make-chronos-venv.sh; without VENV_DIR/.ready the
test prints SKIP and exits 0. Started with another python, it re-executes
itself with VENV_DIR/bin/python.
"""
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = {"3-bolt-a": 31, "7-bolt-b": 77}          # folder -> seed; uid = first number
SHAPE = dict(d_model=32, d_ff=64, d_kv=8, num_heads=4, num_layers=2, num_decoder_layers=2,
             feed_forward_proj="relu", context_length=128, prediction_length=32, patch=16,
             use_reg_token=True, quantiles=[round(0.1 * i, 1) for i in range(1, 10)])
RTOL, ATOL = 1e-4, 1e-6


def reexec_in_venv():
    if len(sys.argv) != 3 or not os.path.isfile(sys.argv[1]):
        sys.exit(f"usage: {Path(sys.argv[0]).name} CRUCIBLE_BINARY VENV_DIR")
    venv = Path(sys.argv[2]).resolve()
    if not (venv / ".ready").is_file():
        print(f"SKIP: {venv}/.ready missing (run scripts/make-chronos-venv.sh {venv})")
        sys.exit(0)
    if Path(sys.prefix).resolve() != venv:
        python = str(venv / "bin" / "python")
        os.execv(python, [python, __file__, os.path.abspath(sys.argv[1]), str(venv)])


def expected_losses(pipeline, inputs, input_lengths, targets, target_lengths, levels):
    """Per-series CRPS of the official forecasts on the true contexts; NaN for n = 0."""
    import numpy as np
    import oracle
    from make_chronos_bolt_golden import forecast
    series = [inputs[j, :input_lengths[j]] for j in range(len(input_lengths))]
    fc = forecast(pipeline, series, targets.shape[1], levels)     # [S, H, Q]
    y, x = oracle.sanitize(targets, fc)
    crps = oracle.crps_numpy(x, y)                                  # [S, H]
    steps = np.arange(targets.shape[1])[None, :] < target_lengths[:, None]
    total = np.where(steps, crps, 0.0).sum(axis=1)
    return np.where(target_lengths > 0, total / np.maximum(target_lengths, 1), np.nan)


def main():
    reexec_in_venv()
    sys.path.insert(0, str(HERE))
    import numpy as np
    import torch
    import oracle
    from make_chronos_bolt_golden import build_model, quiet
    from chronos import ChronosBoltPipeline
    quiet()
    torch.set_num_threads(1)
    binary = sys.argv[1]
    report = oracle.Report()
    tmp = Path(tempfile.mkdtemp(prefix="bolt-live-"))
    for folder, seed in MODELS.items():
        build_model(seed=seed, **SHAPE).save_pretrained(tmp / "models" / folder,
                                                         safe_serialization=True)
        (tmp / "models" / folder / "generation_config.json").unlink(missing_ok=True)

    for args in (["synth", "--seed", 11, "--series", 12, "--length", 200, "--out", tmp / "task"],
                 ["eval", "--models", tmp / "models", "--data", tmp / "task", "--seed", 11,
                  "--out", tmp / "result.json"]):
        done = oracle.run(binary, args, timeout=900)
        if done.returncode != 0:
            sys.exit(f"FAIL crucible {args[0]} exited {done.returncode} (kept {tmp}): "
                     f"{(done.stderr or done.stdout).strip()[-500:]}")
    task = {k: np.load(tmp / "task" / f"{k}.npy")
            for k in ("inputs", "input_lengths", "targets", "target_lengths")}
    entries = {e["uid"]: e for e in json.loads((tmp / "result.json").read_text())["models"]}

    for folder in MODELS:
        uid = int(folder.split("-")[0])
        entry = entries.get(uid)
        if not report.check(f"uid {uid} in result.json", entry is not None, f"uids {sorted(entries)}"):
            continue
        ok = report.check(f"uid {uid} status", entry.get("status") == "ok",
                          f"{entry.get('status')}: {entry.get('reason')}")
        ok &= report.check(f"uid {uid} format", entry.get("format") == "native",
                           str(entry.get("format")))
        if not ok:
            continue
        pipeline = ChronosBoltPipeline.from_pretrained(tmp / "models" / folder)
        want = expected_losses(pipeline, task["inputs"], task["input_lengths"], task["targets"],
                               task["target_lengths"], SHAPE["quantiles"])
        got = oracle.json_floats(entry.get("losses") or [])
        if got.shape != want.shape:
            report.check(f"uid {uid} losses", False, f"{got.size} losses for {want.size} series")
            continue
        bad = [f"series {j}: crucible {g!r} official {w!r}" for j, (g, w) in enumerate(zip(got, want))
               if not oracle.close([g], [w], RTOL, ATOL)]
        keep = ~np.isnan(want)
        worst = np.max(np.abs(got - want)[keep] / np.abs(want[keep]), initial=0.0)
        print(f"uid {uid} ({folder}): status ok, format native, {keep.sum()} series, "
              f"max rel diff {worst:.2e}, mean loss {np.nanmean(want):.6f}", flush=True)
        report.check(f"uid {uid} per-series CRPS vs chronos-forecasting", not bad, "; ".join(bad))
    if report.failed:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp)
    report.finish()


if __name__ == "__main__":
    main()
