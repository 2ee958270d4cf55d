"""`crucible score` against the numpy oracle: exact win rates, exact bootstrap
bounds (the oracle's own Philox4x32-10, the paired scheme of docs/scoring.md),
exact gap/sep/composite, determinism, permutation invariance, seed dependence,
scores that ignore the uids (copies score alike, swapped uids swap only the
labels), and bootstrap bounds that converge to the analytic ones.

    /usr/bin/python3 tests/python/score_oracle_test.py PATH_TO_CRUCIBLE
"""
import json
import math
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402

FIELDS = ("uids", "win_rate", "ci_lo", "ci_hi", "agg_gap", "sep_score", "composite")
SEED = 20240611
Z_975 = 1.959963984540054          # scipy.stats.norm.ppf(0.975)
PHI_Z_975 = math.exp(-Z_975 ** 2 / 2) / math.sqrt(2 * math.pi)


class ScoreCli:
    """Writes the inputs, runs `crucible score`, returns (scores dict, raw JSON bytes)."""

    def __init__(self, binary, tmp, report):
        self.binary, self.tmp, self.report = binary, tmp, report
        self.runs = 0

    def __call__(self, name, losses, uids=None, seed=SEED, extra=()):
        self.runs += 1
        base = os.path.join(self.tmp, f"run{self.runs}")
        args = ["score", "--losses", oracle.write_npy(base + "_m.npy", losses),
                "--seed", seed, "--out", base + ".json", *extra]
        if uids is not None:
            args += ["--uids", oracle.write_npy(base + "_u.npy", np.asarray(uids, np.int64))]
        result = oracle.run(self.binary, args)
        if not self.report.check(f"{name}: exit 0", result.returncode == 0,
                                 result.stderr.strip()):
            return None, None
        with open(base + ".json", "rb") as f:
            raw = f.read()
        scores = json.loads(raw)
        self.report.check(f"{name}: JSON fields", sorted(scores) == sorted(FIELDS),
                          str(sorted(scores)))
        return scores, raw


def finite_counts(losses):
    return np.isfinite(np.asarray(losses, dtype=np.float64)).sum(axis=1)


def check_philox(report):
    """The oracle's Philox4x32-10 against the Random123 known-answer vectors."""
    vectors = (((0, 0, 0, 0), (0, 0), (0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8)),
               ((0xffffffff,) * 4, (0xffffffff, 0xffffffff),
                (0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd)),
               ((0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344), (0xa4093822, 0x299f31d0),
                (0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1)))
    for counter, key, expected in vectors:
        got = tuple(int(w) for w in oracle.philox4x32_10(counter, key))
        report.check(f"oracle Philox known answer {key}", got == expected, str(got))


def check_against_oracle(report, name, losses, uids, scores, seed=SEED, replicates=100,
                         alpha=0.05):
    """Everything the oracle reproduces, exactly: win rates, bounds, gap, sep, composite."""
    models = losses.shape[0]
    expected_uids = list(range(models)) if uids is None else [int(u) for u in uids]
    report.check(f"{name}: uids", scores["uids"] == expected_uids, str(scores["uids"]))
    expected_win = oracle.win_rate(losses)
    report.check(f"{name}: win rate == oracle exactly", scores["win_rate"] == expected_win,
                 f"\n  cli    {scores['win_rate']}\n  oracle {expected_win}")

    lo, hi = oracle.json_floats(scores["ci_lo"]), oracle.json_floats(scores["ci_hi"])
    undefined = finite_counts(losses) < 2
    report.check(f"{name}: null bounds exactly where m < 2",
                 np.array_equal(np.isnan(lo), undefined) and
                 np.array_equal(np.isnan(hi), undefined), f"lo {lo} hi {hi}")
    m = np.where(np.isfinite(losses), losses, np.nan).astype(np.float64)
    with np.errstate(invalid="ignore"):   # NaN-only rows: fmin/fmax give NaN quietly
        inside = (lo <= hi) & (lo >= np.fmin.reduce(m, axis=1)) & (hi <= np.fmax.reduce(m, axis=1))
    report.check(f"{name}: min <= lo <= hi <= max of the finite losses",
                 bool(np.all(inside[~undefined])), f"lo {lo} hi {hi}")

    bounds = [oracle.bootstrap_bounds(row, replicates, alpha, seed) for row in losses]
    expected_lo, expected_hi = (np.array(b, dtype=np.float64) for b in zip(*bounds))
    gap, sep, comp = oracle.scores_from_bounds(expected_win, expected_lo, expected_hi)
    for field, expected in (("ci_lo", expected_lo), ("ci_hi", expected_hi), ("agg_gap", gap),
                            ("sep_score", sep), ("composite", comp)):
        got = oracle.json_floats(scores[field])
        report.check(f"{name}: {field} == oracle exactly", oracle.close(got, expected, 0.0),
                     f"\n  cli    {got}\n  oracle {expected}")


def matrices(rng):
    """(name, losses [U, S], uids or None)."""
    out = []
    m = rng.gamma(2.0, 0.5, (7, 60))
    m[rng.random(m.shape) < 0.1] = np.nan
    m[rng.random(m.shape) < 0.05] = np.inf
    m[:, 5] = np.nan                  # a whole-NaN column
    m[:, 9] = np.inf                  # a whole +inf column: all tie
    m[2, :] = np.inf                  # a failed model: +inf everywhere
    m[4, :] = np.nan
    m[4, 11] = 0.7                    # one finite loss: m < 2
    out.append(("mixed NaN/inf", m, None))
    out.append(("mixed NaN/inf, float32, sparse uids", m.astype(np.float32),
                [40, 3, 17, 250, 8, 99, 1000]))
    ties = rng.integers(0, 4, (5, 80)).astype(np.float64)
    ties[rng.random(ties.shape) < 0.15] = np.nan
    out.append(("integer losses: many ties", ties, None))
    out.append(("U=1", rng.gamma(2.0, 0.5, (1, 30)), [5]))
    sparse = np.full((4, 10), np.nan)
    sparse[np.arange(4), np.arange(4)] = [0.3, 0.1, np.inf, 0.2]
    out.append(("no model has two finite losses", sparse, None))
    return out


def check_matrices(cli, report, rng):
    for name, losses, uids in matrices(rng):
        scores, _ = cli(name, losses, uids)
        if scores is not None:
            check_against_oracle(report, name, np.asarray(losses, np.float64), uids, scores)


def by_uid(scores):
    return {uid: tuple(scores[f][i] for f in FIELDS[1:]) for i, uid in enumerate(scores["uids"])}


def check_invariances(cli, report, rng):
    m = rng.gamma(2.0, 0.5, (9, 120))
    m[rng.random(m.shape) < 0.1] = np.nan
    m[rng.random(m.shape) < 0.03] = np.inf
    uids = np.array([12, 7, 250, 3, 99, 41, 0, 18, 64])
    first, raw1 = cli("invariance base", m, uids)
    _, raw2 = cli("invariance rerun", m, uids)
    _, raw_cpu = cli("invariance --device cpu", m, uids, extra=["--device", "cpu"])
    if first is None:
        return
    report.check("determinism: same input -> byte-identical JSON", raw1 == raw2)
    report.check("device: --device cpu -> byte-identical JSON", raw1 == raw_cpu)

    order = rng.permutation(len(uids))
    permuted, _ = cli("invariance permuted", m[order], uids[order])
    if permuted is not None:
        report.check("permutation: rows follow their uids",
                     permuted["uids"] == [int(u) for u in uids[order]], str(permuted["uids"]))
        report.check("permutation: identical values per uid", by_uid(permuted) == by_uid(first))

    other, _ = cli("invariance other seed", m, uids, seed=SEED + 1)
    if other is not None:
        report.check("seed: another seed -> other CI bounds",
                     other["ci_lo"] != first["ci_lo"] and other["ci_hi"] != first["ci_hi"])
        report.check("seed: win rates do not depend on it", other["win_rate"] == first["win_rate"])


def check_uids_do_not_score(cli, report, rng):
    """Issue 19: scores are a function of the losses and the seed only. Copies of a
    model (one loss row under several uids) score alike; swapping two models' uids
    swaps the uid labels and nothing else."""
    m = rng.gamma(2.0, 0.5, (10, 90))
    m[rng.random(m.shape) < 0.1] = np.nan
    m[rng.random(m.shape) < 0.04] = np.inf
    m[[4, 7]] = m[0]
    m[8] = m[2]
    m[[6, 9]] = np.inf                # failed models
    copies = ([0, 4, 7], [2, 8], [6, 9])
    uids = np.array([500, 3, 77, 12, 9001, 41, 0, 18, 64, 2])
    swapped_uids = uids.copy()
    swapped_uids[[1, 3]] = uids[[3, 1]]
    base, _ = cli("copies", m, uids)
    swapped, _ = cli("copies, uids 3 and 12 swapped", m, swapped_uids)
    if base is None or swapped is None:
        return
    check_against_oracle(report, "copies", m, uids, base)
    for rows in copies:
        report.check(f"copies {rows}: identical scores",
                     all(len({repr(base[f][r]) for r in rows}) == 1 for f in FIELDS[1:]),
                     str({f: [base[f][r] for r in rows] for f in FIELDS[1:]}))
    report.check("swapped uids: the labels swap",
                 swapped["uids"] == [int(u) for u in swapped_uids], str(swapped["uids"]))
    report.check("swapped uids: every score stays with its row",
                 all(swapped[f] == base[f] for f in FIELDS[1:]))


def check_ci_convergence(cli, report, rng):
    """One model, m = 400 finite normal losses (plus NaN/inf the bootstrap must skip).
    The bootstrap distribution of the mean is nearly normal with mean mean(x) and
    sd std(x, ddof=0)/sqrt(m) (its skewness is skew(x)/20, ~0.006 for normal x,
    which moves the limits by ~0.003 sd), so the 2.5% / 97.5% limits are
    mean -/+ 1.95996 sd. The Monte Carlo error of a sample 2.5% quantile of B
    replicates is sqrt(p(1-p)/B)/phi(z) sd, ~0.012 sd for B = 50000; lo and hi
    are almost uncorrelated (rho ~0.026), so the half-width and the midpoint each
    have a standard error of ~0.72 of that, ~0.0086 sd. Allowing 4 standard
    errors gives ~0.034 sd, 1.7% of the half-width: tighter than 2%, and a
    correct engine fails it with probability ~1e-4."""
    replicates = 50000
    x = rng.normal(2.0, 0.5, 400)
    row = np.concatenate([x, np.full(30, np.nan), np.full(20, np.inf)])
    rng.shuffle(row)
    scores, _ = cli("CI convergence", row[None, :], extra=["--bootstrap-samples", replicates])
    if scores is None or scores["ci_lo"][0] is None or scores["ci_hi"][0] is None:
        report.check("CI convergence: bounds present", False, str(scores))
        return
    sd = np.std(x) / math.sqrt(x.size)
    quantile_se = math.sqrt(0.025 * 0.975 / replicates) / PHI_Z_975 * sd
    tolerance = 4 * 0.72 * quantile_se
    lo, hi = scores["ci_lo"][0], scores["ci_hi"][0]
    half, mid = (hi - lo) / 2, (hi + lo) / 2
    report.check("CI convergence: half-width", abs(half - Z_975 * sd) <= tolerance,
                 f"half-width {half}, analytic {Z_975 * sd}, tolerance {tolerance}")
    report.check("CI convergence: midpoint", abs(mid - x.mean()) <= tolerance,
                 f"midpoint {mid}, mean {x.mean()}, tolerance {tolerance}")


def check_options(cli, report, rng):
    """--ci-alpha: a wider level gives a wider interval around the same data."""
    m = rng.gamma(2.0, 0.5, (3, 200))
    narrow, _ = cli("--ci-alpha 0.2", m, extra=["--ci-alpha", 0.2, "--bootstrap-samples", 2000])
    wide, _ = cli("--ci-alpha 0.01", m, extra=["--ci-alpha", 0.01, "--bootstrap-samples", 2000])
    if narrow is not None and wide is not None:
        report.check("--ci-alpha: smaller alpha -> wider interval",
                     all(w_lo < n_lo and w_hi > n_hi for n_lo, n_hi, w_lo, w_hi in
                         zip(narrow["ci_lo"], narrow["ci_hi"], wide["ci_lo"], wide["ci_hi"])))
        check_against_oracle(report, "--ci-alpha 0.2", m, None, narrow, replicates=2000,
                             alpha=0.2)


def main():
    binary = oracle.binary_from_argv()
    report = oracle.Report()
    rng = np.random.default_rng(11)
    with tempfile.TemporaryDirectory() as tmp:
        cli = ScoreCli(binary, tmp, report)
        check_philox(report)
        check_matrices(cli, report, rng)
        check_invariances(cli, report, rng)
        check_uids_do_not_score(cli, report, rng)
        check_ci_convergence(cli, report, rng)
        check_options(cli, report, rng)
    report.finish()


if __name__ == "__main__":
    main()
