"""The Python baseline for a whole evaluation round, done the way the reference
subnet's validator does it: per model a fresh Python subprocess that loads the
TorchScript model and forecasts, predictions to numpy, properscoring CRPS per
series, then numpy scoring (win rate per column, bootstrap per model in a loop).

    /usr/bin/python3 benchmarks/python_round_reference.py --models DIR --data TASK_DIR

TASK_DIR is a `crucible synth` folder; DIR holds the .pt models. Needs
python3-torch (Debian's PyTorch) and properscoring. Prints one JSON line.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

LEVELS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


def worker(model_path, data_dir, out_path):
    """One model in its own interpreter: load, forecast, save the numpy array."""
    import torch
    inputs = torch.from_numpy(np.load(os.path.join(data_dir, "inputs.npy"))).unsqueeze(-1)
    lengths = torch.from_numpy(np.load(os.path.join(data_dir, "input_lengths.npy")))
    horizon = np.load(os.path.join(data_dir, "targets.npy")).shape[1]
    model = torch.jit.load(model_path)
    model.eval()
    with torch.no_grad():
        out = model.forecast(inputs, horizon, LEVELS, lengths)
    np.save(out_path, out[:, :horizon, 0, :].numpy())


def score(losses, seed, replicates=100, alpha=0.05):
    """Win rate by columns, bootstrap CI per model by a loop over replicates."""
    models, series = losses.shape
    rates = np.zeros((models, series))
    for j in range(series):
        col = losses[:, j]
        rates[:, j] = (col[:, None] < col[None, :]).sum(1) / max(models - 1, 1)
    rng = np.random.default_rng(seed)
    bounds = []
    for u in range(models):
        finite = losses[u][np.isfinite(losses[u])]
        means = [finite[rng.integers(0, len(finite), len(finite))].mean() for _ in range(replicates)]
        bounds.append(np.percentile(means, [100 * alpha / 2, 100 * (1 - alpha / 2)]))
    return rates.mean(1), np.array(bounds)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    import properscoring

    start = time.perf_counter()
    targets = np.load(os.path.join(args.data, "targets.npy"))
    lengths = np.load(os.path.join(args.data, "target_lengths.npy"))
    paths = sorted(glob.glob(os.path.join(args.models, "*.pt")))
    losses = np.full((len(paths), len(targets)), np.inf)
    with tempfile.TemporaryDirectory() as tmp:
        for u, path in enumerate(paths):
            out = os.path.join(tmp, f"{u}.npy")
            result = subprocess.run([sys.executable, __file__, "--models", args.models,
                                     "--data", args.data, "--worker", path, args.data, out],
                                    capture_output=True, text=True, check=False)
            if result.returncode != 0:
                continue
            forecasts = np.load(out)
            for s, n in enumerate(lengths):
                losses[u, s] = properscoring.crps_ensemble(targets[s, :n], forecasts[s, :n]).mean()
    forecast_seconds = time.perf_counter() - start
    score(losses, args.seed)
    print(json.dumps({"job": "round_reference", "models": len(paths), "series": len(targets),
                      "seconds": time.perf_counter() - start,
                      "forecast_and_loss_seconds": forecast_seconds}))


if __name__ == "__main__":
    main()
