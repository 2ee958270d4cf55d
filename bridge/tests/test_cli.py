"""The command line: flag names, BT_* defaults, and one --once pass over the fake chain."""

import json
import os
import sys
import tempfile
import threading
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from crucible_bridge.cli import parse_args, run  # noqa: E402
from crucible_bridge.fake_chain import FakeChain  # noqa: E402


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
                           "--seed-cadence", "25", "--once"])
        self.assertEqual(run(args, chain, threading.Event()), 0)
        with open(os.path.join(directory, "metagraph.json")) as f:
            metagraph = json.load(f)
        self.assertEqual(metagraph["block"], 77)
        self.assertEqual(sorted(metagraph["block_hashes"], key=int), ["0", "25", "50", "75"])
        self.assertEqual(chain.submitted, [([1], [1.0], 1, 77)])


if __name__ == "__main__":
    unittest.main()
