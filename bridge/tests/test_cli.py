"""The command line: flag names, BT_* defaults, one --once pass over the fake chain,
the wallet check at start and --check-health."""

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from unittest import mock

BRIDGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, BRIDGE)

from crucible_bridge.cli import main, parse_args, run  # noqa: E402
from crucible_bridge.fake_chain import FakeChain  # noqa: E402
from crucible_bridge.health import Heartbeat  # noqa: E402


class CliTest(unittest.TestCase):
    def test_bittensor_flag_names(self):
        args = parse_args(["--netuid", "9", "--chain-dir", "d", "--subtensor.network", "test",
                           "--subtensor.chain_endpoint", "ws://x:9944", "--wallet.name", "w",
                           "--wallet.hotkey", "h", "--wallet.path", "/p",
                           "--sync-interval", "30", "--weights-poll-interval", "5"])
        self.assertEqual((args.netuid, args.network, args.chain_endpoint, args.wallet_name,
                          args.wallet_hotkey, args.wallet_path, args.sync_interval,
                          args.weights_poll_interval),
                         (9, "test", "ws://x:9944", "w", "h", "/p", 30.0, 5.0))

    def test_bt_environment_defaults(self):
        env = {"BT_SUBTENSOR_NETWORK": "local", "BT_WALLET_NAME": "vali",
               "BT_WALLET_HOTKEY": "hot", "BT_WALLET_PATH": "/wallets"}
        with mock.patch.dict(os.environ, env):
            args = parse_args(["--netuid", "1", "--chain-dir", "d"])
        self.assertEqual((args.network, args.wallet_name, args.wallet_hotkey, args.wallet_path),
                         ("local", "vali", "hot", "/wallets"))

    def test_seed_cadence(self):
        base = ["--netuid", "1", "--chain-dir", "d"]
        self.assertEqual(parse_args(base).seed_cadence, 150)
        self.assertEqual(parse_args(base + ["--seed-cadence", "100"]).seed_cadence, 100)
        for bad in ("0", "-150", "1.5", "x"):
            with self.subTest(bad=bad), mock.patch("sys.stderr"), self.assertRaises(SystemExit):
                parse_args(base + ["--seed-cadence", bad])

    def test_once_syncs_and_submits(self):
        directory = tempfile.mkdtemp()
        chain = FakeChain(block=77)
        chain.add_neuron("hk-me", 3.0, permit=True)
        chain.add_neuron("hk-miner")
        chain.own_hotkey = "hk-me"
        with open(os.path.join(directory, "weights.jsonl"), "w") as f:
            f.write(json.dumps({"block": 70, "time": 1, "uids": [1], "weights": [1.0],
                                "version_key": 1, "hotkey": "hk-me"}) + "\n")
        args = parse_args(["--netuid", "2", "--chain-dir", directory, "--wallet.name", "w",
                           "--seed-cadence", "25", "--sync-interval", "30", "--once"])
        heartbeat = Heartbeat(directory, args.sync_interval, True, clock=lambda: 5000.0)
        self.assertEqual(run(args, chain, threading.Event(), heartbeat), 0)
        with open(os.path.join(directory, "metagraph.json")) as f:
            metagraph = json.load(f)
        self.assertEqual(metagraph["block"], 77)
        self.assertEqual(sorted(metagraph["block_hashes"], key=int), ["0", "25", "50", "75"])
        self.assertEqual(chain.submitted, [([1], [1.0], 1, 77)])
        with open(os.path.join(directory, "bridge.json")) as f:
            health = json.load(f)
        with open(os.path.join(directory, "weights-submitted.jsonl")) as f:
            key = json.loads(f.readline())["key"]
        sent_at = health["weights"]["last_submission"].pop("time")  # the submitter's clock
        self.assertLess(abs(sent_at - time.time()), 60)
        self.assertEqual(health, {
            "version": 1, "pid": os.getpid(), "time": 5000.0, "started": 5000.0,
            "sync": {"interval_seconds": 30.0, "last_attempt_time": 5000.0,
                     "last_ok_time": 5000.0, "last_ok_block": 77, "last_error": None,
                     "consecutive_failures": 0},
            "weights": {"enabled": True, "hotkey": "hk-me", "last_poll_time": 5000.0,
                        "pending": 0, "consecutive_failures": 0,
                        "last_submission": {"key": key, "entry_block": 70,
                                            "block": 77, "status": "submitted",
                                            "message": "fake: included"}}})

    def test_netuid_is_required_except_for_check_health(self):
        with mock.patch("sys.stderr"), self.assertRaises(SystemExit):
            parse_args(["--chain-dir", "d"])
        args = parse_args(["--chain-dir", "d", "--check-health", "--max-age", "60"])
        self.assertEqual((args.check_health, args.max_age, args.netuid), (True, 60.0, None))


class WalletAtStartTest(unittest.TestCase):
    """A wrong wallet stops the start with one line and exit 2, before connecting."""

    def setUp(self):
        self.wallets = tempfile.mkdtemp()
        self.loaded = []

    def load(self, name, hotkey, path):
        self.loaded.append((name, hotkey, path))
        return "5Fake"

    def start(self):
        args = ["--netuid", "1", "--chain-dir", tempfile.mkdtemp(), "--wallet.name", "vali",
                "--wallet.hotkey", "hot", "--wallet.path", self.wallets]
        err = io.StringIO()
        # Whatever passes the check goes on to connect: stopped here by the mock.
        with contextlib.redirect_stderr(err), \
                mock.patch("crucible_bridge.sdk_chain.import_sdk",
                           side_effect=RuntimeError("went on to connect")):
            try:
                code = main(args, load_hotkey_address=self.load)
            except RuntimeError as error:
                code = str(error)
        return code, err.getvalue()

    def test_missing_hotkey_file(self):
        code, err = self.start()
        self.assertEqual(code, 2)
        hotkey_file = os.path.join(self.wallets, "vali", "hotkeys", "hot")
        self.assertEqual(err, f"crucible-bridge: wallet 'vali', hotkey 'hot' ({hotkey_file}): "
                              "the hotkey file does not exist; check --wallet.path, "
                              "--wallet.name and --wallet.hotkey\n")
        self.assertEqual(self.loaded, [])

    def test_good_wallet_goes_on_to_connect(self):
        os.makedirs(os.path.join(self.wallets, "vali", "hotkeys"))
        with open(os.path.join(self.wallets, "vali", "hotkeys", "hot"), "w") as f:
            f.write("{}")
        self.assertEqual(self.start(), ("went on to connect", ""))
        self.assertEqual(self.loaded, [("vali", "hot", self.wallets)])


class CheckHealthTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def write(self, age, ok_age, interval=60.0, error=None):
        now = time.time()
        Heartbeat(self.dir, interval, False, clock=lambda: now - age).write()
        with open(os.path.join(self.dir, "bridge.json")) as f:
            document = json.load(f)
        document["sync"].update(last_ok_time=None if ok_age is None else now - ok_age,
                                last_ok_block=None if ok_age is None else 1234,
                                last_error=error)
        with open(os.path.join(self.dir, "bridge.json"), "w") as f:
            json.dump(document, f)

    def check(self, *extra):
        """(exit code, stdout, stderr) of the real command, in a fresh interpreter."""
        code = ("import sys; from crucible_bridge.cli import main; rc = main(sys.argv[1:]); "
                "assert 'bittensor' not in sys.modules, 'imported the SDK'; sys.exit(rc)")
        done = subprocess.run([sys.executable, "-c", code, "--check-health", "--chain-dir",
                               self.dir, *extra], cwd=BRIDGE, capture_output=True, text=True,
                              timeout=60)
        return done.returncode, done.stdout, done.stderr

    def test_no_bridge_json_yet(self):
        path = os.path.join(self.dir, "bridge.json")
        self.assertEqual(self.check(), (1, "", f"unhealthy: no {path} yet\n"))

    def test_healthy(self):
        self.write(age=5, ok_age=20)
        code, out, err = self.check()
        self.assertEqual((code, err), (0, ""))
        self.assertRegex(out, r"^healthy: heartbeat [56] s old, last good sync 2[01] s ago "
                              r"at block 1234\n$")

    def test_old_heartbeat(self):
        self.write(age=200, ok_age=200)  # max age: 3 x the 60 s interval
        code, out, err = self.check()
        self.assertEqual((code, out), (1, ""))
        self.assertRegex(err, r"^unhealthy: heartbeat 20[01] s old \(max 180 s\)\n$")

    def test_old_good_sync_says_the_last_error(self):
        self.write(age=1, ok_age=100, error="ConnectionError: refused")
        code, out, err = self.check("--max-age", "90")
        self.assertEqual((code, out), (1, ""))
        self.assertRegex(err, r"^unhealthy: last good sync 10[01] s ago \(max 90 s\): "
                              r"ConnectionError: refused\n$")
        self.assertEqual(self.check("--max-age", "150")[0], 0)


if __name__ == "__main__":
    unittest.main()
