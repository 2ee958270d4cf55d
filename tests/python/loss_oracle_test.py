"""`crucible loss` against independent references: the numpy oracle (all five
metrics), properscoring (CRPS, when installed), the committed golden vectors
(CRPS, always) and hand-worked CRPS values.

    /usr/bin/python3 tests/python/loss_oracle_test.py PATH_TO_CRUCIBLE
"""
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden",
                      "crps_golden.npz")
RTOL, ATOL = 1e-6, 1e-9
DEVICES = ("auto", "cpu")


class LossCli:
    """Writes the inputs of one case, runs `crucible loss`, loads the output."""

    def __init__(self, binary, tmp, report):
        self.binary, self.tmp, self.report = binary, tmp, report
        self.runs = 0

    def __call__(self, name, metric, targets, forecasts, lengths=None, quantiles=None,
                 device="auto"):
        self.runs += 1
        base = os.path.join(self.tmp, f"case{self.runs}")
        args = ["loss", "--metric", metric, "--device", device,
                "--targets", oracle.write_npy(base + "_t.npy", targets),
                "--forecasts", oracle.write_npy(base + "_f.npy", forecasts),
                "--out", base + "_out.npy"]
        if lengths is not None:
            args += ["--lengths", oracle.write_npy(base + "_n.npy", lengths)]
        if quantiles is not None:
            args += ["--quantiles", quantiles]
        result = oracle.run(self.binary, args)
        if not self.report.check(f"{name}: exit 0", result.returncode == 0,
                                 result.stderr.strip()):
            return None
        out = np.load(base + "_out.npy")
        self.report.check(f"{name}: float64 output", out.dtype == np.float64, str(out.dtype))
        return out


def poke(rng, array, value, fraction):
    """Puts `value` at a random `fraction` of the positions of `array` (in place)."""
    flat = array.reshape(-1)
    flat[rng.random(flat.size) < fraction] = value


def make_case(rng, models, series, horizon, q, nonfinite=True):
    """Targets [S, H], forecasts [U, S, H, Q] (unsorted along Q), int64 lengths [S]
    with a 0, a full length and lengths < H; with nonfinite, NaN/+inf/-inf
    scattered in both and series 1 all-NaN targets."""
    targets = rng.normal(0.0, 3.0, (series, horizon)).astype(np.float32)
    forecasts = (targets[None, :, :, None] +
                 rng.normal(0.3, 2.0, (models, series, horizon, q))).astype(np.float32)
    lengths = rng.integers(1, horizon + 1, series)
    lengths[0], lengths[-1] = 0, horizon
    if nonfinite:
        for value in (np.nan, np.inf, -np.inf):
            poke(rng, targets, value, 0.02)
            poke(rng, forecasts, value, 0.01)
        targets[1, :] = np.nan
    return targets, forecasts, lengths.astype(np.int64)


def level_string(levels):
    return ",".join(f"{level:.4f}" for level in levels)


def random_cases(rng):
    """(name, targets, forecasts as passed to the CLI, lengths or None, --quantiles or None)."""
    cases = []
    t, f, n = make_case(rng, 3, 8, 16, 9)
    cases.append(("U axis, Q=9", t, f, n, None))
    cases.append(("no U axis, Q=9", t, f[0], n, None))
    cases.append(("no U axis, size-1 axis before Q", t, f[1][:, :, None, :], n, None))
    cases.append(("U axis, size-1 axis before Q", t, f[:, :, :, None, :], n, None))
    cases.append(("int32 lengths", t, f, n.astype(np.int32), None))
    cases.append(("default lengths", t, f, None, None))

    t, f, n = make_case(rng, 2, 6, 10, 1)
    cases.append(("Q=1", t, f, n, "0.3"))
    t, f, n = make_case(rng, 2, 7, 12, 20)
    cases.append(("Q=20", t, f, n, level_string(np.linspace(0.02, 0.97, 20))))
    t, f, n = make_case(rng, 2, 5, 8, 3)
    cases.append(("unsorted, duplicated --quantiles", t, f, n, "0.9,0.5,0.1,0.5"))
    t, f, n = make_case(rng, 2, 5, 8, 2)
    cases.append(("median tie picks the lower level", t, f, n, "0.25,0.75"))

    # Ties: small integers, so forecasts repeat and often equal the target;
    # series 2 has all members equal, series 3 all members equal to the target.
    t, f, n = make_case(rng, 2, 6, 9, 9, nonfinite=False)
    t, f = np.round(t / 3), np.round(f / 3)
    f[:, 2] = f[:, 2, :, :1]
    f[:, 3] = t[3][None, :, None]
    cases.append(("ties and all-equal forecasts", t.astype(np.float32), f.astype(np.float32),
                  n, None))
    # Nonfinite values everywhere and short series.
    t, f, n = make_case(rng, 2, 6, 9, 9)
    poke(rng, f, np.nan, 0.2)
    poke(rng, t, np.inf, 0.2)
    cases.append(("dense NaN/inf", t, f, np.minimum(n, 2), None))
    return cases


def check_random_cases(cli, report, rng):
    for name, targets, forecasts, lengths, quantiles in random_cases(rng):
        levels = oracle.DEFAULT_LEVELS if quantiles is None else oracle.parse_levels(quantiles)
        by_properscoring = oracle.properscoring_crps(targets, forecasts, lengths)
        for metric in oracle.METRICS:
            expected = oracle.series_losses(metric, targets, forecasts, lengths, levels)
            # CRPS ignores the levels: it runs without --quantiles whatever Q is.
            q_flag = None if metric == "crps" else quantiles
            for device in DEVICES:
                label = f"{name} [{metric}, --device {device}]"
                out = cli(label, metric, targets, forecasts, lengths, q_flag, device)
                if out is None:
                    continue
                report.check(f"{label}: matches oracle", oracle.close(out, expected, RTOL, ATOL),
                             f"\n  cli    {out}\n  oracle {expected}")
                if metric == "crps" and by_properscoring is not None:
                    report.check(f"{label}: matches properscoring",
                                 oracle.close(out, by_properscoring, RTOL, ATOL),
                                 f"\n  cli           {out}\n  properscoring {by_properscoring}")


def check_hand_cases(cli, report):
    nan, inf = np.nan, np.inf
    cases = [
        # Q=2. Series 0, n=1: y=1, x=[0,2]: (1/2)(1+1) - (1/8)(0+2+2+0) = 1 - 0.5 = 0.5
        #   (step 1, y=100, is past n and ignored).
        # Series 1, n=2: t=0: y=NaN->0, x=[0,2]: (1/2)(0+2) - (1/8)(4) = 0.5;
        #   t=1: y=0, x=[NaN,0]->[1e9,0]: (1/2)(1e9) - (1/8)(2e9) = 2.5e8;
        #   mean (0.5 + 2.5e8)/2 = 125000000.25.
        ("hand Q=2", [[1, 100], [nan, 0]], [[[0, 2], [0, 0]], [[0, 2], [nan, 0]]], [1, 2],
         [0.5, 125000000.25]),
        # Q=3, unsorted x=[5,0,1], y=2: (1/3)(3+2+1) = 2; pairs |5-0|+|5-1|+|0-1| = 10,
        #   both orders 20, 20/(2*9) = 10/9; 2 - 10/9 = 8/9.
        ("hand Q=3", [[2]], [[[5, 0, 1]]], [1], [8 / 9]),
        # Q=1: no spread term. t=0: |3 - (-1)| = 4; t=1: x=-inf->-1e9, y=3: 1e9+3;
        #   mean (4 + 1000000003)/2 = 500000003.5. Series 1 has n=0 -> NaN.
        ("hand Q=1", [[-1, 3], [inf, 1]], [[[3], [-inf]], [[1], [1]]], [2, 0],
         [500000003.5, nan]),
    ]
    for name, targets, forecasts, lengths, expected in cases:
        out = cli(name, "crps", np.array(targets, np.float32), np.array(forecasts, np.float32),
                  np.array(lengths, np.int64))
        if out is not None:
            report.check(f"{name}: value", oracle.close(out, expected, 1e-12, 1e-12),
                         f"got {out}, expected {expected}")


def check_golden(cli, report):
    golden = np.load(GOLDEN, allow_pickle=False)
    for case in golden["cases"]:
        arrays = [golden[f"{case}_{key}"] for key in ("targets", "forecasts", "lengths")]
        expected = golden[f"{case}_expected"]
        out = cli(f"golden {case}", "crps", *arrays)
        if out is not None:
            report.check(f"golden {case}: matches properscoring vectors",
                         oracle.close(out, expected, RTOL, ATOL),
                         f"\n  cli    {out}\n  golden {expected}")
        report.check(f"golden {case}: oracle agrees with the vectors",
                     oracle.close(oracle.series_losses("crps", *arrays), expected, 1e-12, 1e-9))


def main():
    binary = oracle.binary_from_argv()
    report = oracle.Report()
    rng = np.random.default_rng(7)
    if not oracle.HAVE_PROPERSCORING:
        print("note: properscoring not installed; CRPS checked against oracle and golden only")
    with tempfile.TemporaryDirectory() as tmp:
        cli = LossCli(binary, tmp, report)
        check_hand_cases(cli, report)
        check_golden(cli, report)
        check_random_cases(cli, report, rng)
    report.finish()


if __name__ == "__main__":
    main()
