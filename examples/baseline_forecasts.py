#!/usr/bin/env python3
"""Quantile forecasts of three textbook baselines for a task folder written by
`crucible synth`: naive (last value), mean (of the context) and seasonal naive
(the value one period back), each with a normal spread fitted on the context.

usage: baseline_forecasts.py TASK_DIR PERIOD
Writes TASK_DIR/forecasts.npy, float32 [3, S, H, 9] (levels 0.1 .. 0.9)."""
import os
import sys

import numpy as np

# Standard-normal quantiles of 0.1, 0.2, ..., 0.9.
Z = np.array([-1.2816, -0.8416, -0.5244, -0.2533, 0.0, 0.2533, 0.5244, 0.8416, 1.2816])


def forecasts(context, horizon, period):
    steps = np.arange(1, horizon + 1)
    naive = np.full(horizon, context[-1])
    mean = np.full(horizon, context.mean())
    seasonal = context[len(context) - period + (steps - 1) % period] if len(context) >= period \
        else naive
    spread = np.diff(context).std() * np.sqrt(steps) if len(context) > 2 else np.ones(horizon)
    return [centre[:, None] + spread[:, None] * Z for centre in (naive, mean, seasonal)]


def main(task_dir, period):
    inputs = np.load(os.path.join(task_dir, "inputs.npy"))
    lengths = np.load(os.path.join(task_dir, "input_lengths.npy"))
    horizon = np.load(os.path.join(task_dir, "targets.npy")).shape[1]
    out = np.zeros((3, len(lengths), horizon, len(Z)), dtype=np.float32)
    for s, n in enumerate(lengths):
        for m, f in enumerate(forecasts(inputs[s, :n].astype(np.float64), horizon, period)):
            out[m, s] = f
    np.save(os.path.join(task_dir, "forecasts.npy"), out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]))
