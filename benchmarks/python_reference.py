"""The Python baseline the crucible benchmarks are compared to: what a Python
validator does today, timed on synthetic inputs made here from a seed.

  --job loss:  per-series CRPS with properscoring.crps_ensemble, one call per
               (model, series) pair on the first n steps, then the mean;
               --max-series N times the first N pairs and extrapolates
               linearly to all U*S.
  --job score: win rate by a loop over columns (vectorised compare inside),
               then a bootstrap per model, timed twice: a Python loop over the
               B replicates (one rng.integers draw each) and a vectorised
               rng.integers(0, m, (B, m)); np.percentile for the bounds.

Each job prints one JSON line with the seconds and the sizes.

    /usr/bin/python3 benchmarks/python_reference.py --job loss --max-series 2000
    /usr/bin/python3 benchmarks/python_reference.py --job score
"""
import argparse
import importlib.util
import json
import sys
import time

import numpy as np


def loss_inputs(rng, series, horizon, quantiles, pairs):
    """Targets [S, H], lengths [S] and the forecasts of the first `pairs`
    (model, series) pairs, [pairs, H, Q] in model-major order."""
    targets = rng.normal(0.0, 1.0, (series, horizon)).astype(np.float32)
    lengths = rng.integers(horizon // 2, horizon + 1, series)
    series_of_pair = np.arange(pairs) % series
    forecasts = (targets[series_of_pair, :, None] +
                 rng.normal(0.0, 1.0, (pairs, horizon, quantiles))).astype(np.float32)
    return targets, lengths, forecasts, series_of_pair


def job_loss(args):
    try:
        import properscoring
    except ImportError:
        sys.exit("--job loss needs properscoring (pip install properscoring)")
    # properscoring uses a numba gufunc when numba is installed, else O(Q^2) numpy.
    accelerated = importlib.util.find_spec("numba") is not None

    total_pairs = args.models * args.series
    pairs = min(total_pairs, args.max_series or total_pairs)
    rng = np.random.default_rng(args.seed)
    targets, lengths, forecasts, series_of_pair = loss_inputs(
        rng, args.series, args.horizon, args.quantiles, pairs)

    losses = np.empty(pairs)
    start = time.perf_counter()
    for p in range(pairs):
        s = series_of_pair[p]
        n = lengths[s]
        losses[p] = properscoring.crps_ensemble(targets[s, :n], forecasts[p, :n, :]).mean()
    seconds = time.perf_counter() - start

    if pairs < total_pairs:
        print(f"timed {pairs} of {total_pairs} (model, series) pairs; 'seconds' is "
              "extrapolated linearly", file=sys.stderr)
    print(json.dumps({
        "job": "loss", "models": args.models, "series": args.series, "horizon": args.horizon,
        "quantiles": args.quantiles, "pairs_timed": pairs, "pairs_total": total_pairs,
        "extrapolated": pairs < total_pairs, "seconds_timed": seconds,
        "seconds": seconds * total_pairs / pairs, "properscoring_numba": accelerated,
        "checksum": float(losses.sum()),
    }))


def score_inputs(rng, models, series):
    """A loss matrix [U, S] with some NaN, some +inf and one failed (all +inf) model."""
    m = rng.gamma(2.0, 0.5, (models, series)) * rng.uniform(0.8, 1.2, (models, 1))
    m[rng.random(m.shape) < 0.02] = np.nan
    m[rng.random(m.shape) < 0.01] = np.inf
    m[0, :] = np.inf
    return m


def win_rates(m):
    """Column loop, vectorised compare within a column (docs/scoring.md 4.1)."""
    models, series = m.shape
    rate_sum = np.zeros(models)
    defined = np.zeros(models)
    for j in range(series):
        column = m[:, j]
        present = ~np.isnan(column)
        values = column[present]
        n = values.size
        if n == 0:
            continue
        wins = (values[:, None] < values[None, :]).sum(axis=1)
        rate_sum[present] += wins / (n - 1) if n > 1 else 0.0
        defined[present] += 1
    return np.divide(rate_sum, defined, out=np.zeros(models), where=defined > 0)


def bootstrap_loop(finite, replicates, rng):
    means = np.empty(replicates)
    for b in range(replicates):
        means[b] = finite[rng.integers(0, finite.size, finite.size)].mean()
    return means


def bootstrap_vectorised(finite, replicates, rng):
    return finite[rng.integers(0, finite.size, (replicates, finite.size))].mean(axis=1)


def bounds(m, replicates, alpha, seed, bootstrap):
    """CI bounds per model with `bootstrap` drawing the replicate means."""
    rng = np.random.default_rng(seed)
    lo = np.full(m.shape[0], np.nan)
    hi = np.full(m.shape[0], np.nan)
    for u in range(m.shape[0]):
        finite = m[u][np.isfinite(m[u])]
        if finite.size >= 2:
            means = bootstrap(finite, replicates, rng)
            lo[u], hi[u] = np.percentile(means, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return lo, hi


def gap_sep_composite(win, lo, hi):
    """docs/scoring.md 4.3-4.5, vectorised."""
    terms = hi[:, None] - lo[None, :]
    np.fill_diagonal(terms, np.nan)
    count = (~np.isnan(terms)).sum(axis=1)
    gap = np.divide(np.nansum(terms, axis=1), count, out=np.zeros(win.size), where=count > 0)
    low, high = gap.min(), gap.max()
    if gap.size < 2 or high - low <= 1e-12 * max(1.0, abs(high)):
        sep = np.ones_like(gap)
    else:
        sep = np.nan_to_num((gap - high) / (low - high), nan=0.0)
    return gap, sep, np.nan_to_num(win * sep, nan=0.0)


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def job_score(args):
    m = score_inputs(np.random.default_rng(args.seed), args.models, args.series)
    win, win_s = timed(win_rates, m)
    (lo, hi), loop_s = timed(bounds, m, args.bootstrap, args.ci_alpha, args.seed, bootstrap_loop)
    _, vec_s = timed(bounds, m, args.bootstrap, args.ci_alpha, args.seed, bootstrap_vectorised)
    (_, _, composite), rest_s = timed(gap_sep_composite, win, lo, hi)
    print(json.dumps({
        "job": "score", "models": args.models, "series": args.series,
        "bootstrap": args.bootstrap, "win_rate_seconds": win_s,
        "bootstrap_loop_seconds": loop_s, "bootstrap_vectorised_seconds": vec_s,
        "gap_sep_composite_seconds": rest_s,
        "seconds_loop": win_s + loop_s + rest_s, "seconds_vectorised": win_s + vec_s + rest_s,
        "checksum": float(composite.sum()),
    }))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--job", choices=("loss", "score"), required=True)
    parser.add_argument("--models", type=int, default=256)
    parser.add_argument("--series", type=int, default=None,
                        help="series count (default 256 for loss, 1000 for score)")
    parser.add_argument("--horizon", type=int, default=512)
    parser.add_argument("--quantiles", type=int, default=9)
    parser.add_argument("--max-series", type=int, default=None,
                        help="loss: time only the first N (model, series) pairs")
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--ci-alpha", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.series is None:
        args.series = 256 if args.job == "loss" else 1000
    (job_loss if args.job == "loss" else job_score)(args)


if __name__ == "__main__":
    main()
