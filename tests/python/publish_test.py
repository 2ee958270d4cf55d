#!/usr/bin/python3
"""A miner's path to the chain, end to end, as docs/native-models.md walks it:

1. a native model folder (the `7_bolt_random` baseline) is uploaded to a hub
   (here a local hub folder, ns/bolt-random at commit c1);
2. `crucible models hash FOLDER --hotkey HK --repo ns/bolt-random --commit c1`
   prints the verdict and the commitment string;
3. `python -m crucible_bridge commit --commitment STRING ...` (the bridge's
   own command, on its fake chain: the SDK is not reached) publishes it;
4. the bridge's sync writes the chain folder, and a `crucible validator` on
   that folder downloads the model, checks its hash against the commitment
   and scores it (status ok).

    /usr/bin/python3 tests/python/publish_test.py CRUCIBLE_BINARY
"""
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile

from oracle import Report
from validator_harness import (make_baselines, start_validator, stop, verdict_rows, wait_for,
                               write_json)

from crucible_bridge.cli import main as bridge_main  # noqa: E402 (validator_harness's path)
from crucible_bridge.fake_chain import FakeChain  # noqa: E402
from crucible_bridge.sync import sync_once  # noqa: E402

MINER = "5MinerHotkeyOfTheWalkthrough"
REPORT = Report()


def check(condition, what):
    REPORT.check(what, condition)


def bridge_commit(chain, wallets, commitment):
    """`python -m crucible_bridge commit` on the fake chain; (exit, stdout, stderr)."""
    argv = ["commit", "--netuid", "7", "--wallet.name", "miner", "--wallet.hotkey", "hot",
            "--wallet.path", wallets, "--subtensor.network", "test", "--commitment", commitment]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = bridge_main(argv, load_hotkey_address=lambda name, hotkey, path: MINER,
                           connect=lambda network, name, hotkey, path: chain)
    return code, out.getvalue(), err.getvalue()


def main():
    crucible = os.path.abspath(sys.argv[1])
    root = tempfile.mkdtemp(prefix="crucible-publish-")
    try:
        models = make_baselines(crucible, os.path.join(root, "baselines"))
        folder = os.path.join(models, "7_bolt_random")
        hub = os.path.join(root, "hub")
        shutil.copytree(folder, os.path.join(hub, "ns", "bolt-random", "c1"))  # the upload

        out = subprocess.run([crucible, "models", "hash", folder, "--hotkey", MINER, "--repo",
                              "ns/bolt-random", "--commit", "c1"], capture_output=True, text=True)
        lines = dict(line.split(None, 1) for line in out.stdout.splitlines() if " " in line)
        commitment = lines.get("commitment", "").strip()
        check(out.returncode == 0 and commitment.startswith("ns/bolt-random:c1:"),
              "models hash prints a commitment (%s)" % (out.stderr.strip() or commitment))

        wallets = os.path.join(root, "wallets")
        os.makedirs(os.path.join(wallets, "miner", "hotkeys"))
        with open(os.path.join(wallets, "miner", "hotkeys", "hot"), "w") as f:
            f.write("{}")
        chain = FakeChain(block=1200)
        chain.add_neuron("validator0", 100.0, permit=True)
        chain.add_neuron(MINER, 1.0)
        chain.own_hotkey = MINER
        code, printed, errors = bridge_commit(chain, wallets, commitment)
        check(code == 0 and printed.startswith("committed " + commitment),
              "the bridge commits it (%d: %s%s)" % (code, printed.strip(), errors.strip()))

        chain_dir = os.path.join(root, "chain")
        sync_once(chain, chain_dir, 7)
        with open(os.path.join(chain_dir, "commitments.json")) as f:
            synced = json.load(f)
        check(synced.get(MINER, {}).get("commitment") == commitment,
              "the sync writes it into commitments.json (%s)" % synced)
        metagraph = os.path.join(chain_dir, "metagraph.json")
        with open(metagraph) as f:
            document = json.load(f)
        document["seconds_per_block"] = 0  # the block stays put: one window, one run
        write_json(metagraph, document)

        schedule = os.path.join(root, "schedule.json")
        write_json(schedule, {"schedule": [{"start_block": 0, "competitions": [{
            "id": 0, "name": "univariate", "reward_share": 1.0,
            "tasks": [{"name": "gp", "dataset": "synthetic", "series": 12, "length": 160,
                       "batch_size": 12, "samples_per_kernel": 4}]}]}]})
        state = os.path.join(root, "state")
        validator = start_validator(crucible, chain_dir, hub, state, schedule,
                                    os.path.join(root, "validator.log"))
        rows = []

        def scored():
            rows[:] = [row for row in verdict_rows(state) if row["hotkey"] == MINER]
            return bool(rows)

        try:
            check(wait_for(scored, 180), "the validator ran the committed model")
        finally:
            stop(validator)
        check(bool(rows) and rows[0]["status"] == "ok" and rows[0]["model"] == "ns/bolt-random@c1",
              "the validator scores it ok (%s)" % rows[:1])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    REPORT.finish()


if __name__ == "__main__":
    main()
