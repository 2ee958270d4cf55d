"""The native Chronos-2 forward against the official pipeline, live: when
.venv-chronos2 exists (scripts/make-chronos2-venv.sh), a fresh set of golden
cases with other random weights and inputs (make_chronos2_golden.py
--seed-offset) is made by chronos-forecasting 2.3.2 and the golden test
(engine_tests' Chronos2Golden, with its derived tolerance) runs on it.
Without the venv it says so and passes.

    chronos2_live_test.py <engine_tests binary> [<seed offset>]
"""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VENV_PYTHON = os.path.join(ROOT, ".venv-chronos2", "bin", "python")


def main():
    engine_tests = sys.argv[1]
    offset = sys.argv[2] if len(sys.argv) > 2 else "101"
    if not os.path.exists(VENV_PYTHON):
        print("skip: no .venv-chronos2 (scripts/make-chronos2-venv.sh makes it)")
        return
    with tempfile.TemporaryDirectory(prefix="chronos2_live_test.") as out:
        made = subprocess.run([VENV_PYTHON, os.path.join(ROOT, "tests", "python",
                                                         "make_chronos2_golden.py"),
                               "--out", out, "--seed-offset", offset],
                              capture_output=True, text=True, timeout=900)
        if made.returncode != 0:
            sys.exit("FAIL make_chronos2_golden.py --seed-offset %s: %s"
                     % (offset, (made.stderr or made.stdout).strip()[-600:]))
        cases = sorted(d for d in os.listdir(out) if os.path.isfile(os.path.join(out, d,
                                                                                   "case.json")))
        print("official pipeline wrote %d cases (seed offset %s)" % (len(cases), offset))
        ran = subprocess.run([engine_tests, "--gtest_filter=Cases/Chronos2Golden.*"],
                             env=dict(os.environ, CRUCIBLE_CHRONOS2_GOLDEN_DIR=out),
                             capture_output=True, text=True, timeout=900)
        print(ran.stdout[-1500:])
        if ran.returncode != 0 or "[  PASSED  ] %d tests" % len(cases) not in ran.stdout:
            sys.exit("FAIL the native forward differs from the official pipeline on a fresh set")
    print("all checks passed")


if __name__ == "__main__":
    main()
