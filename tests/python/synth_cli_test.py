"""`crucible synth` end to end: determinism, shapes and dtypes, the split rule,
groups with covariates, real-dataset windows, and bad input (one line,
non-zero exit, no output).

    /usr/bin/python3 tests/python/synth_cli_test.py PATH_TO_CRUCIBLE
"""
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FILES = ("inputs.npy", "input_lengths.npy", "targets.npy", "target_lengths.npy")


def load(folder):
    arrays = {name[:-4]: np.load(os.path.join(folder, name)) for name in FILES}
    with open(os.path.join(folder, "kernels.json")) as f:
        arrays["kernels"] = json.load(f)
    return arrays


def main(binary):
    report = oracle.Report()
    with tempfile.TemporaryDirectory() as tmp:
        def synth(name, *extra):
            out = os.path.join(tmp, name)
            result = oracle.run(binary, ["synth", "--out", out, *extra])
            return out, result

        args = ("--series", "60", "--length", "200", "--samples-per-kernel", "25")
        a, ra = synth("a", "--seed", "11", *args)
        b, rb = synth("b", "--seed", "11", *args)
        c, rc = synth("c", "--seed", "12", *args)
        report.check("synth runs", ra.returncode == rb.returncode == rc.returncode == 0,
                     ra.stderr + rb.stderr + rc.stderr)
        x, y, z = load(a), load(b), load(c)
        report.check("same seed, identical files",
                     all(open(os.path.join(a, n), "rb").read() == open(os.path.join(b, n), "rb").read()
                         for n in FILES + ("kernels.json",)))
        report.check("other seed, other data", not np.array_equal(x["inputs"], z["inputs"]))
        report.check("dtypes", x["inputs"].dtype == np.float32 and x["targets"].dtype == np.float32
                     and x["input_lengths"].dtype == np.int64)
        n_in, n_out = x["input_lengths"], x["target_lengths"]
        report.check("lengths add up to L", bool(np.all(n_in + n_out == 200)))
        report.check("split within [floor(L*0.5), floor(L*0.95)]",
                     bool(np.all((n_in >= 100) & (n_in <= 190))), str(n_in))
        report.check("widths are the longest lengths",
                     x["inputs"].shape == (60, n_in.max()) and x["targets"].shape == (60, n_out.max()))
        pad_in = np.arange(x["inputs"].shape[1])[None, :] >= n_in[:, None]
        pad_out = np.arange(x["targets"].shape[1])[None, :] >= n_out[:, None]
        report.check("padding is zero", bool(np.all(x["inputs"][pad_in] == 0)
                                             and np.all(x["targets"][pad_out] == 0)))
        report.check("one kernel per 25 series", len(set(x["kernels"][:25])) == 1
                     and x["kernels"][24] != x["kernels"][25] and len(x["kernels"]) == 60)

        group_args = ("--series", "20", "--length", "200", "--samples-per-kernel", "10",
                      "--group-targets", "2", "--past-covariates", "1", "--known-covariates", "1")
        g, rg = synth("groups", "--seed", "5", *group_args)
        g2, rg2 = synth("groups2", "--seed", "5", *group_args)
        report.check("grouped synth runs", rg.returncode == rg2.returncode == 0,
                     rg.stderr + rg2.stderr)
        if rg.returncode == 0 and rg2.returncode == 0:
            group_files = ("group_ids.npy", "roles.npy", "future_inputs.npy")
            report.check("grouped: same seed, identical files",
                         all(open(os.path.join(g, n), "rb").read()
                             == open(os.path.join(g2, n), "rb").read()
                             for n in FILES + group_files))
            t = load(g)
            ids, roles = (np.load(os.path.join(g, n)) for n in group_files[:2])
            future = np.load(os.path.join(g, "future_inputs.npy"))
            report.check("grouped: 20 groups of 4 rows", t["inputs"].shape[0] == 80
                         and ids.dtype == np.int64 and list(ids) == [i // 4 for i in range(80)])
            report.check("grouped: roles target, target, past, known",
                         list(roles) == [0, 0, 1, 2] * 20)
            lengths = t["input_lengths"].reshape(20, 4)
            report.check("grouped: one split per group", bool(np.all(lengths == lengths[:, :1])))
            known = roles == 2
            given = ~np.isnan(future)
            report.check("grouped: future inputs are the known covariates' targets",
                         future.shape == t["targets"].shape and not given[~known].any()
                         and np.array_equal(future[given], t["targets"][given])
                         and bool(np.all(given.sum(axis=1)[known] == t["target_lengths"][known])))
            report.check("grouped: descriptions name the role and group",
                         t["kernels"][5].startswith("target 1 of group 1: ")
                         and t["kernels"][7].startswith("known covariate 0 of group 1: "))

        sunspots = os.path.join(REPO, "examples", "data", "sunspots.csv")
        r, rr = synth("real", "--seed", "3", "--dataset", sunspots, "--series", "20",
                      "--length", "96", "--horizon", "16")
        report.check("real dataset windows", rr.returncode == 0, rr.stderr)
        if rr.returncode == 0:
            w = load(r)
            report.check("real targets are the horizon", bool(np.all(w["target_lengths"] == 16)))
            report.check("real contexts fit", bool(np.all(w["input_lengths"] <= 80)))

        bad_csv = os.path.join(tmp, "bad.csv")
        with open(bad_csv, "w") as f:
            f.write("a,b\n1,2\n3\n")
        for name, extra, mentions in (
                ("length 1", ("--seed", "1", "--length", "1"), "length"),
                ("bad fractions", ("--seed", "1", "--min-input-frac", "0.9", "--max-input-frac", "0.2"),
                 "fraction"),
                ("ragged csv", ("--seed", "1", "--dataset", bad_csv), "bad.csv"),
                ("missing dataset", ("--seed", "1", "--dataset", os.path.join(tmp, "nope.csv")),
                 "nope.csv"),
                ("no seed", (), "--seed")):
            out, result = synth("err-" + name.replace(" ", "-"), *extra)
            lines = result.stderr.strip().splitlines()
            report.check(f"{name}: refused with one line naming it",
                         result.returncode != 0 and len(lines) == 1 and mentions in lines[0],
                         result.stderr)
            report.check(f"{name}: no output folder", not os.path.exists(out))
        for name, extra, mentions in (
                ("no target", ("--group-targets", "0"), "--group-targets"),
                ("negative past", ("--past-covariates", "-1"), "--past-covariates"),
                ("known not a number", ("--known-covariates", "two"), "--known-covariates"),
                ("known too many", ("--known-covariates", "65"), "--known-covariates"),
                ("group too large", ("--group-targets", "40", "--past-covariates", "30"),
                 "rows per group"),
                ("groups of a real dataset", ("--known-covariates", "1", "--dataset", sunspots),
                 "synthetic only")):
            out, result = synth("err-" + name.replace(" ", "-"), "--seed", "1", *extra)
            lines = result.stderr.strip().splitlines()
            report.check(f"{name}: refused with one line naming it, exit 2",
                         result.returncode == 2 and len(lines) == 1 and mentions in lines[0],
                         result.stderr)
            report.check(f"{name}: no output folder", not os.path.exists(out))
    report.finish()


if __name__ == "__main__":
    main(oracle.binary_from_argv())
