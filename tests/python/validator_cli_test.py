#!/usr/bin/python3
"""Bad inputs to `crucible validator` and `crucible eval`: each must exit
non-zero with one line on stderr naming the flag or file, before anything
runs; a TOML config file's options apply.

    /usr/bin/python3 tests/python/validator_cli_test.py PATH_TO_CRUCIBLE
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402


def run(binary, args, timeout=60):
    return subprocess.run([binary] + args, capture_output=True, text=True, timeout=timeout)


def check_error(report, binary, name, args, words):
    result = run(binary, args)
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    report.check(f"{name}: non-zero exit", result.returncode != 0, result.returncode)
    report.check(f"{name}: one line", len(lines) == 1, result.stderr)
    report.check(f"{name}: names {words}", bool(lines) and all(w in lines[0] for w in words),
                 result.stderr)


def main():
    binary = oracle.binary_from_argv()
    report = oracle.Report()
    with tempfile.TemporaryDirectory() as tmp:
        chain, hub, empty = (os.path.join(tmp, d) for d in ("chain", "hub", "empty"))
        for d in (chain, hub, empty):
            os.makedirs(d)
        with open(os.path.join(chain, "metagraph.json"), "w") as f:
            json.dump({"netuid": 1, "block": 10, "seconds_per_block": 0, "neurons": [
                {"uid": 0, "hotkey": "v", "stake": 1.0, "validator_permit": True}]}, f)
        bad_chain = os.path.join(tmp, "bad_chain")
        os.makedirs(bad_chain)
        with open(os.path.join(bad_chain, "metagraph.json"), "w") as f:
            f.write('{"netuid": 1, "block": 10, "seconds_per_block": 0, "neurons": [{"uid": 5}]}')
        schedule = os.path.join(tmp, "schedule.json")
        with open(schedule, "w") as f:
            f.write('{"schedule": 3}')
        config = os.path.join(tmp, "bad.toml")
        with open(config, "w") as f:
            f.write("[validator]\nstepz = 3\n")
        state = os.path.join(tmp, "state")
        base = ["validator", "--chain", "local:" + chain, "--hub", hub, "--state-dir", state,
                "--no-http"]

        check_error(report, binary, "chain spec", ["validator", "--chain", chain, "--hub", hub],
                    ["--chain", "local:DIR"])
        check_error(report, binary, "missing chain", ["validator", "--chain", "local:" + empty,
                                                       "--hub", hub], ["metagraph.json"])
        check_error(report, binary, "malformed metagraph",
                    ["validator", "--chain", "local:" + bad_chain, "--hub", hub],
                    ["metagraph.json", "$.neurons[0]"])
        check_error(report, binary, "no hub", ["validator", "--chain", "local:" + chain],
                    ["--hub", "--hub-endpoint"])
        check_error(report, binary, "hub not a folder", base[:3] + ["--hub", schedule],
                    ["--hub", schedule])
        check_error(report, binary, "bad schedule", base + ["--schedule", schedule],
                    [schedule, "$.schedule"])
        check_error(report, binary, "bad isolation", base + ["--isolation", "maybe"],
                    ["--isolation"])
        check_error(report, binary, "zero sync interval", base + ["--sync-interval", "0"],
                    ["--sync-interval", "> 0"])
        check_error(report, binary, "negative step timeout", base + ["--step-timeout", "-1"],
                    ["--step-timeout"])
        check_error(report, binary, "bad log level", base + ["--log-level", "loud"],
                    ["--log-level"])
        check_error(report, binary, "unknown config key", base + ["--config", config],
                    ["stepz"])
        check_error(report, binary, "eval: empty models folder",
                    ["eval", "--models", empty, "--seed", "1", "--out", os.path.join(tmp, "r.json")],
                    [empty, "no models in the folder"])
        check_error(report, binary, "eval: negative budget",
                    ["eval", "--models", empty, "--seed", "1", "--gpu-memory-budget", "-1",
                     "--out", os.path.join(tmp, "r.json")], ["--gpu-memory-budget"])
        report.check("no result file", not os.path.exists(os.path.join(tmp, "r.json")))

        # A config file's options apply: one step (a chain with one miner), no HTTP.
        models = os.path.join(tmp, "models")
        os.makedirs(models)
        run(binary, ["models", "make-baselines", "--out", models])
        subprocess.run(["/usr/bin/python3", os.path.join(os.path.dirname(__file__), "..", "..",
                                                         "examples", "make_demo_chain.py"),
                        models, hub, chain], check=True, capture_output=True)
        good = os.path.join(tmp, "good.toml")
        with open(good, "w") as f:
            f.write("[validator]\nsteps = 1\nno-http = true\nidle-poll = 0.2\n")
        result = run(binary, ["validator", "--config", good, "--chain", "local:" + chain,
                              "--hub", hub, "--state-dir", state], timeout=300)
        report.check("config: exits 0", result.returncode == 0, result.stderr[-1000:])
        report.check("config: stopped after one step",
                     "stopped after 1 evaluated steps" in result.stdout + result.stderr,
                     result.stdout[-1000:])
    report.finish()


if __name__ == "__main__":
    main()
