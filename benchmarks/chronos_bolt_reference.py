"""The Python baseline for evaluating native Chronos-Bolt models: amazon's
chronos-forecasting on a crucible task (`crucible synth --out TASKDIR`).

  --mode loop:          one interpreter loads each model of DIR in turn
                        (ChronosBoltPipeline.from_pretrained), forecasts all the
                        task's series (true contexts, horizon = targets width,
                        levels 0.1..0.9) and scores per-series CRPS with numpy;
  --mode fresh-process: the same, each model in a new interpreter (import,
                        load, predict, score), as subnet validators run models.

Prints one line per model and, last, total_seconds=<wall time of the run>.

    .venv-chronos/bin/python benchmarks/chronos_bolt_reference.py --models DIR --data TASKDIR --mode loop
"""
import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

LEVELS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


def crps_losses(fc, targets, lengths):
    """Per-series CRPS [S] of forecasts fc [S, H, Q]: mean over t < n of
    mean_i |x_i - y| - sum_ik |x_i - x_k| / (2 Q^2); NaN where n = 0."""
    import numpy as np
    x = np.nan_to_num(fc.astype(np.float64), nan=1e9, posinf=1e9, neginf=-1e9)
    y = np.where(np.isfinite(targets), targets, 0.0).astype(np.float64)
    q = x.shape[-1]
    spread = np.abs(x[..., :, None] - x[..., None, :]).sum(axis=(-2, -1))
    crps = np.abs(x - y[..., None]).mean(axis=-1) - spread / (2.0 * q * q)
    steps = np.arange(y.shape[1])[None, :] < lengths[:, None]
    return np.where(lengths > 0, np.where(steps, crps, 0.0).sum(1) / np.maximum(lengths, 1), np.nan)


def evaluate(model_dir, data, device):
    """Loads, predicts and scores one model: a dict of seconds and the mean loss."""
    t0 = time.perf_counter()
    import numpy as np
    import torch
    import transformers
    from chronos import ChronosBoltPipeline
    t1 = time.perf_counter()
    transformers.logging.set_verbosity_error()
    task = {k: np.load(Path(data) / f"{k}.npy")
            for k in ("inputs", "input_lengths", "targets", "target_lengths")}
    pipeline = ChronosBoltPipeline.from_pretrained(model_dir)
    pipeline.model.to(device)
    t2 = time.perf_counter()
    context = [torch.tensor(row[:n]) for row, n in zip(task["inputs"], task["input_lengths"])]
    with torch.no_grad():
        fc, _ = pipeline.predict_quantiles(context, prediction_length=task["targets"].shape[1],
                                           quantile_levels=LEVELS)
    t3 = time.perf_counter()
    losses = crps_losses(fc.numpy(), task["targets"], task["target_lengths"])
    t4 = time.perf_counter()
    return dict(model=Path(model_dir).name, import_s=t1 - t0, load_s=t2 - t1, predict_s=t3 - t2,
                score_s=t4 - t3, mean_loss=float(np.nanmean(losses)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=Path)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--mode", choices=("loop", "fresh-process"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--one", type=Path, help=argparse.SUPPRESS)   # the fresh-process child
    a = ap.parse_args()
    import warnings
    warnings.filterwarnings("ignore")
    if a.one:
        print(json.dumps(evaluate(a.one, a.data, a.device)))
        return
    if not a.models or not a.mode:
        ap.error("--models and --mode are required")
    models = sorted(p for p in a.models.iterdir() if (p / "config.json").is_file())
    start = time.perf_counter()
    for model in models:
        t = time.perf_counter()
        if a.mode == "loop":
            r = evaluate(model, a.data, a.device)
        else:
            out = subprocess.run([sys.executable, __file__, "--one", str(model), "--data",
                                  str(a.data), "--device", a.device],
                                 capture_output=True, text=True)
            if out.returncode:
                sys.exit(f"{model.name}: exited {out.returncode}: {out.stderr.strip()[-400:]}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{r['model']}: {time.perf_counter() - t:.3f} s (import {r['import_s']:.3f}, "
              f"load {r['load_s']:.3f}, predict {r['predict_s']:.3f}, score {r['score_s']:.3f}) "
              f"mean_loss {r['mean_loss']:.6f}", flush=True)
    print(f"total_seconds={time.perf_counter() - start:.3f}")


if __name__ == "__main__":
    main()
