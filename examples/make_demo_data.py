#!/usr/bin/env python3
"""Writes the demo round's inputs: noisy seasonal series and the quantile
forecasts of eight made-up models of different quality.

usage: make_demo_data.py OUT_DIR
Writes targets.npy [S, H], lengths.npy [S], forecasts.npy [U, S, H, Q] and
uids.npy [U]; deterministic (fixed seed)."""
import os
import sys

import numpy as np

SERIES, HORIZON, MODELS = 100, 64, 8
LEVELS = np.arange(1, 10) / 10.0
# Standard-normal quantiles of LEVELS, so a model can emit calibrated quantiles.
Z = np.array([-1.2816, -0.8416, -0.5244, -0.2533, 0.0, 0.2533, 0.5244, 0.8416, 1.2816])


def main(out_dir):
    rng = np.random.default_rng(2026)
    t = np.arange(HORIZON)
    phase = rng.uniform(0, 2 * np.pi, size=(SERIES, 1))
    signal = np.sin(2 * np.pi * t / 24 + phase) * rng.uniform(0.5, 3.0, size=(SERIES, 1))
    noise_scale = 0.3
    targets = signal + noise_scale * rng.standard_normal((SERIES, HORIZON))
    lengths = rng.integers(HORIZON // 2, HORIZON + 1, size=SERIES)

    forecasts = np.empty((MODELS, SERIES, HORIZON, len(LEVELS)))
    for m in range(MODELS):
        bias = 0.15 * m  # later models drift further from the signal
        spread = noise_scale * (1.0 + 0.4 * abs(m - 2))  # model 2 is the best calibrated
        centre = signal + bias + 0.05 * rng.standard_normal((SERIES, HORIZON))
        forecasts[m] = centre[..., None] + spread * Z

    os.makedirs(out_dir, exist_ok=True)
    np.save(os.path.join(out_dir, "targets.npy"), targets.astype(np.float32))
    np.save(os.path.join(out_dir, "lengths.npy"), lengths.astype(np.int64))
    np.save(os.path.join(out_dir, "forecasts.npy"), forecasts.astype(np.float32))
    np.save(os.path.join(out_dir, "uids.npy"), np.arange(MODELS, dtype=np.int64) * 3 + 1)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
