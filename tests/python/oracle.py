"""Independent numpy references for `crucible loss` and `crucible score`.

Written from docs/scoring.md sections 3 and 4: every formula is the plain
definition (CRPS with the explicit O(Q^2) pairwise term, win rates by direct
comparison, the bootstrap with its own numpy Philox4x32-10 and np.quantile),
not the engine's faster equivalents. Some details follow the documented
engine so that comparisons can be exact: the win-rate mean sums the columns
left to right, a replicate sums its draws in draw order, gap terms are summed
in ascending order of lo, and "numerically equal" gaps means
max - min <= 1e-12 * max(1, |max|).
Also the small harness the command-line tests share: run(), write_npy(),
close() and Report.
"""
import importlib.util
import os
import subprocess
import sys

import numpy as np

METRICS = ("crps", "pinball", "wql", "mae", "mse")
DEFAULT_LEVELS = tuple(round(0.1 * i, 1) for i in range(1, 10))
SANITISED_LARGE = 1e9
HAVE_PROPERSCORING = importlib.util.find_spec("properscoring") is not None


# ---------------------------------------------------------------- losses ----

def sanitize(targets, forecasts):
    """float64 copies: non-finite target -> 0; NaN/+inf forecast -> 1e9, -inf -> -1e9."""
    y = np.asarray(targets, dtype=np.float64).copy()
    y[~np.isfinite(y)] = 0.0
    x = np.asarray(forecasts, dtype=np.float64).copy()
    x[np.isnan(x) | (x == np.inf)] = SANITISED_LARGE
    x[x == -np.inf] = -SANITISED_LARGE
    return y, x


def crps_numpy(fc, y):
    """CRPS of the empirical distribution of fc[..., Q] against y[...], by definition:
    (1/Q) sum_i |x_i - y| - (1/(2 Q^2)) sum_i sum_k |x_i - x_k|."""
    fc = np.asarray(fc, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    q = fc.shape[-1]
    spread = np.abs(fc[..., :, None] - fc[..., None, :]).sum(axis=(-2, -1))
    return np.abs(fc - y[..., None]).sum(axis=-1) / q - spread / (2.0 * q * q)


def pinball_steps(fc, y, levels):
    """Per-step pinball loss averaged over the levels: fc[..., Q], y[...] -> [...]."""
    q = np.asarray(levels, dtype=np.float64)
    diff = y[..., None] - fc
    return np.maximum(q * diff, (q - 1.0) * diff).mean(axis=-1)


def median_index(levels):
    """Index of the level nearest 0.5; on a tie the lower level wins."""
    distances = [abs(level - 0.5) for level in levels]
    return distances.index(min(distances))


def parse_levels(text):
    """The --quantiles string as the engine should read it: sorted, deduplicated."""
    return sorted({float(part) for part in text.split(",")})


def model_axis_forecasts(forecasts, num_series, horizon):
    """F as [U, S, H, Q] plus whether the input had a U axis. [S, H, ...] shapes
    take precedence (they differ from [U, S, H, ...] only when S = H = U = 1)."""
    f = np.asarray(forecasts)
    series_first = f.ndim >= 3 and f.shape[:2] == (num_series, horizon)
    if f.ndim == 3 and series_first:
        return f[None], False
    if f.ndim == 4 and series_first and f.shape[2] == 1:
        return f[:, :, 0][None], False
    model_first = f.ndim >= 4 and f.shape[1:3] == (num_series, horizon)
    if f.ndim == 4 and model_first:
        return f, True
    if f.ndim == 5 and model_first and f.shape[3] == 1:
        return f[:, :, :, 0], True
    raise ValueError(f"forecasts {f.shape} do not fit targets [{num_series}, {horizon}]")


def series_losses(metric, targets, forecasts, lengths=None, levels=DEFAULT_LEVELS):
    """Per-series losses, float64 [S] (forecasts without a U axis) or [U, S]."""
    s, h = targets.shape
    f, has_model_axis = model_axis_forecasts(forecasts, s, h)
    y, x = sanitize(targets, f)
    n = np.full(s, h, dtype=np.int64) if lengths is None else np.asarray(lengths, np.int64)
    mask = np.arange(h)[None, :] < n[:, None]                       # [S, H]
    y = np.broadcast_to(y, x.shape[:-1])                              # [U, S, H]
    if metric != "crps" and x.shape[-1] != len(levels):
        raise ValueError("Q does not match the number of levels")

    if metric == "crps":
        steps = crps_numpy(x, y)
    elif metric in ("pinball", "wql"):
        steps = pinball_steps(x, y, levels)
    elif metric in ("mae", "mse"):
        err = x[..., median_index(levels)] - y
        steps = np.abs(err) if metric == "mae" else err * err
    else:
        raise ValueError(f"unknown metric {metric}")

    total = np.where(mask, steps, 0.0).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric == "wql":
            denominator = np.where(mask, np.abs(y), 0.0).sum(axis=-1)
            out = np.where(denominator > 0, 2.0 * total / denominator, np.nan)
        else:
            count = mask.sum(axis=-1)
            out = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return out if has_model_axis else out[0]


def properscoring_crps(targets, forecasts, lengths=None):
    """The same per-series CRPS from properscoring.crps_ensemble on the sanitised
    data (mean over t < n, NaN for n = 0); None when properscoring is missing."""
    if not HAVE_PROPERSCORING:
        return None
    import properscoring
    s, h = targets.shape
    f, has_model_axis = model_axis_forecasts(forecasts, s, h)
    y, x = sanitize(targets, f)
    n = np.full(s, h, dtype=np.int64) if lengths is None else np.asarray(lengths, np.int64)
    out = np.full(x.shape[:2], np.nan)
    for u in range(x.shape[0]):
        for j in range(s):
            if n[j] > 0:
                out[u, j] = properscoring.crps_ensemble(y[j, :n[j]], x[u, j, :n[j], :]).mean()
    return out if has_model_axis else out[0]


# ---------------------------------------------------------------- scores ----

def win_rate(losses):
    """Overall win rate per model (docs/scoring.md 4.1). Rates are averaged by a plain
    left-to-right sum over the columns, so the result is exact for a given order."""
    m = np.asarray(losses, dtype=np.float64)
    models, series = m.shape
    sums = [0.0] * models
    defined = [0] * models
    for j in range(series):
        column = m[:, j]
        present = ~np.isnan(column)
        n = int(present.sum())
        for u in np.flatnonzero(present):
            wins = int((column[u] < column[present]).sum())
            sums[u] += wins / (n - 1) if n >= 2 else 0.0
            defined[u] += 1
    return [sums[u] / defined[u] if defined[u] else 0.0 for u in range(models)]


PHILOX_MULTIPLIERS = (0xD2511F53, 0xCD9E8D57)
PHILOX_WEYL = (0x9E3779B9, 0xBB67AE85)
WORD = 0xFFFFFFFF


def philox4x32_10(counter, key):
    """Philox4x32-10 (Salmon et al., SC'11): counter is four uint32 arrays (broadcast
    together), key a pair of 32-bit ints; returns the four output word arrays."""
    c0, c1, c2, c3 = np.broadcast_arrays(*(np.asarray(c, dtype=np.uint64) for c in counter))
    k0, k1 = key
    for _ in range(10):
        p0 = np.uint64(PHILOX_MULTIPLIERS[0]) * c0        # < 2^64: exact in uint64
        p1 = np.uint64(PHILOX_MULTIPLIERS[1]) * c2
        c0, c1, c2, c3 = ((p1 >> np.uint64(32)) ^ c1 ^ np.uint64(k0), p1 & np.uint64(WORD),
                          (p0 >> np.uint64(32)) ^ c3 ^ np.uint64(k1), p0 & np.uint64(WORD))
        k0, k1 = (k0 + PHILOX_WEYL[0]) & WORD, (k1 + PHILOX_WEYL[1]) & WORD
    return c0, c1, c2, c3


def bootstrap_indices(m, replicates, seed):
    """[replicates, m] draws in [0, m): draw d of replicate r is floor(w * m / 2^32),
    w word d % 4 of Philox4x32-10 on counter (d // 4, r, 0, 0), key (seed low 32
    bits, seed high 32 bits). No model identity enters: the paired bootstrap."""
    blocks = (m + 3) // 4
    block = np.arange(blocks, dtype=np.uint64)[None, :]
    replicate = np.arange(replicates, dtype=np.uint64)[:, None]
    words = philox4x32_10((block, replicate, 0, 0), (seed & WORD, (seed >> 32) & WORD))
    bits = np.stack(words, axis=-1).reshape(replicates, 4 * blocks)[:, :m]
    return (bits * np.uint64(m)) >> np.uint64(32)


def bootstrap_bounds(values, replicates, alpha, seed):
    """The paired Philox bootstrap of the mean of the finite values (m < 2 -> NaN, NaN):
    each replicate sums its draws in draw order, then numpy's linear quantiles."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size < 2:
        return float("nan"), float("nan")
    idx = bootstrap_indices(finite.size, replicates, seed)
    sums = np.zeros(replicates)
    for d in range(finite.size):
        sums += finite[idx[:, d]]
    lo, hi = np.quantile(sums / finite.size, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def aggregate_gaps(lo, hi):
    """gap[u] = mean over k != u of hi[u] - lo[k], NaN terms ignored; none -> 0.
    Terms are added one by one in ascending order of lo[k]."""
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    gaps = []
    for u in range(lo.size):
        others = sorted((lo[k] for k in range(lo.size) if k != u and not np.isnan(lo[k])))
        total, count = 0.0, 0
        for term in (hi[u] - v for v in others):
            if not np.isnan(term):
                total, count = total + term, count + 1
        gaps.append(total / count if count else 0.0)
    return np.array(gaps)


def separation(gaps):
    """sep = (gap - max) / (min - max); all 1 for U < 2 or (numerically) equal gaps."""
    gaps = np.asarray(gaps, dtype=np.float64)
    if gaps.size < 2:
        return np.ones_like(gaps)
    low, high = gaps.min(), gaps.max()
    if high - low <= 1e-12 * max(1.0, abs(high)):
        return np.ones_like(gaps)
    sep = (gaps - high) / (low - high)
    return np.where(np.isnan(sep), 0.0, sep)


def composite(win, sep):
    c = np.asarray(win, dtype=np.float64) * np.asarray(sep, dtype=np.float64)
    return np.where(np.isnan(c), 0.0, c)


def scores_from_bounds(win, lo, hi):
    """gap, sep and composite given win rates and CI bounds."""
    gaps = aggregate_gaps(lo, hi)
    sep = separation(gaps)
    return gaps, sep, composite(win, sep)


# --------------------------------------------------------------- harness ----

def run(binary, args, timeout=300):
    """Runs `binary args...`, capturing text stdout/stderr."""
    return subprocess.run([binary] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def write_npy(path, array):
    np.save(path, array, allow_pickle=False)
    return path


def json_floats(values):
    """A JSON list with nulls as NaN, as float64."""
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def close(actual, expected, rtol, atol=0.0):
    """Same shape, NaN in the same places, elsewhere |a - e| <= atol + rtol * |e|."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape or not np.array_equal(np.isnan(a), np.isnan(e)):
        return False
    keep = ~np.isnan(e)
    return bool(np.all(np.abs(a[keep] - e[keep]) <= atol + rtol * np.abs(e[keep])))


class Report:
    """Counts checks, prints each failure, ends with 'N passed, N failed'."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL {name}" + (f": {detail}" if detail else ""), flush=True)
        return ok

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)


def binary_from_argv():
    if len(sys.argv) != 2 or not os.path.isfile(sys.argv[1]):
        sys.exit(f"usage: {os.path.basename(sys.argv[0])} PATH_TO_CRUCIBLE")
    return os.path.abspath(sys.argv[1])
