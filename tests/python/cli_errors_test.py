"""Bad inputs to `crucible loss` and `crucible score`: each must exit non-zero,
print one line on stderr that names the offending file (or flag), and leave no
--out file behind. Valid runs must still work.

    /usr/bin/python3 tests/python/cli_errors_test.py PATH_TO_CRUCIBLE
"""
import os
import re
import struct
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402

S, H, Q = 4, 6, 9
LEVELS_9 = [f"0.{i}" for i in range(1, 10)]


def targets():
    return np.random.default_rng(0).normal(size=(S, H)).astype(np.float32)


def forecasts(shape=(S, H, Q)):
    return np.random.default_rng(1).normal(size=shape).astype(np.float32)


def npy_version_3(array):
    """The bytes of `array` as a format 3.0 .npy file (hand-made header)."""
    header = (f"{{'descr': '{array.dtype.str}', 'fortran_order': False, "
              f"'shape': {tuple(array.shape)}, }}")
    prefix_len = 6 + 2 + 4
    padding = -(prefix_len + len(header) + 1) % 64
    header = (header + " " * padding + "\n").encode("utf-8")
    return b"\x93NUMPY\x03\x00" + struct.pack("<I", len(header)) + header + array.tobytes()


def slug(name):
    return re.sub(r"[^A-Za-z0-9.-]+", "_", name)


def write_inputs(tmp, name, args, inputs):
    """Writes each role's content (an array, raw bytes, or a path string used as
    is) into a directory of its own and appends `--role path` to args.
    Returns (args, {role: path})."""
    folder = os.path.join(tmp, slug(name))
    os.makedirs(folder)
    paths = {}
    for role, content in inputs.items():
        path = os.path.join(folder, f"{role}.npy")
        if isinstance(content, str):
            path = content
        elif isinstance(content, bytes):
            with open(path, "wb") as f:
                f.write(content)
        else:
            oracle.write_npy(path, content)
        args += [f"--{role}", path]
        paths[role] = path
    return args, paths


def loss_case(tmp, name, metric="crps", quantiles=None, **files):
    """A valid loss input with `files` replacing roles: (args, out path, paths)."""
    inputs = {"targets": targets(), "forecasts": forecasts(),
              "lengths": np.array([0, 3, 6, 5], np.int64), **files}
    out = os.path.join(tmp, slug(name) + ".out.npy")
    args = ["loss", "--metric", metric, "--out", out]
    if quantiles is not None:
        args += ["--quantiles", quantiles]
    args, paths = write_inputs(tmp, name, args, inputs)
    return args, out, paths


def score_case(tmp, name, extra=(), **files):
    """A valid score input with `files` replacing or adding roles: (args, out, paths)."""
    inputs = {"losses": np.random.default_rng(2).gamma(2.0, 0.5, (3, 20)), **files}
    out = os.path.join(tmp, slug(name) + ".scores.json")
    args = ["score", "--seed", 1, "--out", out, *extra]
    args, paths = write_inputs(tmp, name, args, inputs)
    return args, out, paths


def truncated(array):
    """npy bytes cut halfway through the data."""
    with tempfile.TemporaryFile() as f:
        np.save(f, array)
        f.seek(0)
        data = f.read()
    return data[: len(data) - array.nbytes // 2]


def object_array():
    with tempfile.TemporaryFile() as f:
        np.save(f, np.array([1.5, "x", None], dtype=object), allow_pickle=True)
        f.seek(0)
        return f.read()


def nine_levels_ending_in(level):
    return ",".join(LEVELS_9[:-1] + [level])


def bad_loss_inputs(tmp):
    """(name, args, out, words: the first stderr line must contain one of them)."""
    cases = []

    def add(name, words, **kwargs):
        args, out, paths = loss_case(tmp, name, **kwargs)
        cases.append((name, args, out, [paths.get(w, w) for w in words]))

    add("fortran-order targets", ["targets"], targets=np.asfortranarray(targets()))
    add("big-endian targets", ["targets"], targets=targets().astype(">f4"))
    add("float16 targets", ["targets"], targets=targets().astype(np.float16))
    add("1-D targets", ["targets"], targets=targets().reshape(-1))
    add("npy version 3.0 targets", ["targets"], targets=npy_version_3(targets()))
    add("object-array forecasts", ["forecasts"], forecasts=object_array())
    add("truncated forecasts", ["forecasts"], forecasts=truncated(forecasts()))
    add("float64 forecasts", ["forecasts"], forecasts=forecasts().astype(np.float64))
    add("forecasts H != targets H", ["forecasts"], forecasts=forecasts((S, H + 1, Q)))
    add("forecasts S != targets S", ["forecasts"], forecasts=forecasts((3, S - 1, H, Q)))
    add("lengths [S+1]", ["lengths"], lengths=np.full(S + 1, H, np.int64))
    add("lengths > H", ["lengths"], lengths=np.array([1, H + 1, 2, 3], np.int64))
    add("lengths < 0", ["lengths"], lengths=np.array([1, -1, 2, 3], np.int32))
    add("float lengths", ["lengths"], lengths=np.full(S, 2.0))
    add("missing targets file", ["targets"], targets=os.path.join(tmp, "no_such_file.npy"))
    add("unknown metric", ["--metric"], metric="crpss")
    for level in ("0", "1", "1.5", "-0.2", "abc", "nan"):
        add(f"quantile {level}", ["--quantiles"], metric="pinball", quantiles=nine_levels_ending_in(level))
    for metric in ("pinball", "wql", "mae", "mse"):
        add(f"{metric} with Q != number of levels", ["forecasts", "--quantiles"],
            metric=metric, quantiles="0.25,0.5,0.75")
    return cases


def bad_score_inputs(tmp):
    cases = []

    def add(name, words, **kwargs):
        args, out, paths = score_case(tmp, name, **kwargs)
        cases.append((name, args, out, [paths.get(w, w) for w in words]))

    gamma = np.random.default_rng(3).gamma(2.0, 0.5, (3, 20, 2))
    add("3-D losses", ["losses"], losses=gamma)
    add("int losses", ["losses"], losses=np.ones((3, 20), np.int64))
    add("truncated losses", ["losses"], losses=truncated(gamma[:, :, 0]))
    add("missing losses file", ["losses"], losses=os.path.join(tmp, "no_such_losses.npy"))
    add("duplicate uids", ["uids"], uids=np.array([4, 9, 4], np.int64))
    add("uids length mismatch", ["uids"], uids=np.array([4, 9], np.int64))
    add("2-D uids", ["uids"], uids=np.array([[4, 9, 5]], np.int64))
    for value in ("0", "-5"):
        add(f"--bootstrap-samples {value}", ["--bootstrap-samples"],
            extra=["--bootstrap-samples", value])
    for value in ("0", "1", "-0.1", "1.5"):
        add(f"--ci-alpha {value}", ["--ci-alpha"], extra=["--ci-alpha", value])
    return cases


def check_failure(report, binary, name, args, out, words):
    result = oracle.run(binary, args)
    lines = result.stderr.strip().splitlines()
    first = lines[0] if lines else ""
    report.check(f"{name}: non-zero exit", result.returncode != 0, f"exit {result.returncode}")
    report.check(f"{name}: one line on stderr", len(lines) == 1, repr(result.stderr))
    report.check(f"{name}: stderr names {' or '.join(map(os.path.basename, words))}",
                 any(w in first for w in words), repr(first))
    report.check(f"{name}: no out file", not os.path.exists(out))


def check_valid_runs(report, binary, tmp):
    for name, (args, out, _) in (
            ("valid loss", loss_case(tmp, "valid loss")),
            ("valid pinball with --quantiles", loss_case(tmp, "valid pinball", "pinball",
                                                         ",".join(LEVELS_9))),
            ("valid score", score_case(tmp, "valid score",
                                       uids=np.array([7, 3, 11], np.int64)))):
        result = oracle.run(binary, args)
        report.check(f"{name}: exit 0", result.returncode == 0, result.stderr.strip())
        report.check(f"{name}: out file written", os.path.exists(out))


def main():
    binary = oracle.binary_from_argv()
    report = oracle.Report()
    with tempfile.TemporaryDirectory() as tmp:
        check_valid_runs(report, binary, tmp)
        for case in bad_loss_inputs(tmp) + bad_score_inputs(tmp):
            check_failure(report, binary, *case)
    report.finish()


if __name__ == "__main__":
    main()
