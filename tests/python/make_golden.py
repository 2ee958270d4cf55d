"""Writes tests/golden/crps_golden.npz: CRPS inputs and the per-series CRPS that
properscoring (an implementation independent of both crucible and
oracle.crps_numpy) gives for them after the docs/scoring.md section 3 sanitising. Run once by hand; the npz is committed and
loss_oracle_test.py checks the engine against it.

For each case NAME the archive holds NAME_targets float32 [S, H] (raw, with
NaN/inf), NAME_forecasts float32 [U, S, H, Q] (raw), NAME_lengths int64 [S]
and NAME_expected float64 [U, S]; `cases` lists the names.

    /usr/bin/python3 tests/python/make_golden.py
"""
import os
import sys

import numpy as np

import oracle

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "crps_golden.npz")


def poke(rng, array, value, count):
    """Puts `value` at `count` random positions of `array` (in place)."""
    flat = array.reshape(-1)
    flat[rng.choice(flat.size, size=count, replace=False)] = value


def make_case(rng, models, series, horizon, q):
    targets = rng.normal(0.0, 2.0, (series, horizon)).astype(np.float32)
    forecasts = (targets[None, :, :, None]
                 + rng.normal(0.5, 1.5, (models, series, horizon, q))).astype(np.float32)
    lengths = rng.integers(1, horizon + 1, series).astype(np.int64)
    lengths[0] = 0
    lengths[1] = horizon
    for value, count in ((np.nan, 4), (np.inf, 2), (-np.inf, 2)):
        poke(rng, targets, value, count)
        poke(rng, forecasts, value, 3 * count)
    targets[2, :] = np.nan                               # a whole series of NaN targets
    forecasts[0, 3, :, :] = forecasts[0, 3, :, :1]       # all members equal
    return targets, forecasts, lengths


def main():
    if not oracle.HAVE_PROPERSCORING:
        sys.exit("make_golden.py needs properscoring (pip install properscoring)")
    rng = np.random.default_rng(20240611)
    shapes = {"q9": (2, 6, 12, 9), "q1": (2, 5, 7, 1), "q20": (1, 4, 10, 20)}
    arrays = {"cases": np.array(list(shapes))}
    for name, (models, series, horizon, q) in shapes.items():
        targets, forecasts, lengths = make_case(rng, models, series, horizon, q)
        arrays[f"{name}_targets"] = targets
        arrays[f"{name}_forecasts"] = forecasts
        arrays[f"{name}_lengths"] = lengths
        arrays[f"{name}_expected"] = oracle.properscoring_crps(targets, forecasts, lengths)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
