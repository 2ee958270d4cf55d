"""bridge.json: what each sync attempt and weights poll writes, and check_health's verdicts."""

import json
import os
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from crucible_bridge.cli import parse_args, run  # noqa: E402
from crucible_bridge.fake_chain import FakeChain  # noqa: E402
from fake_clock import Clock  # noqa: E402
from crucible_bridge.health import Heartbeat, check_health  # noqa: E402
from crucible_bridge.weights import WeightsSubmitter  # noqa: E402


class HeartbeatTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.clock = Clock()
        self.heartbeat = Heartbeat(self.dir, 60, True, clock=self.clock)

    def read(self):
        with open(os.path.join(self.dir, "bridge.json")) as f:
            return json.load(f)

    def test_sync_failures_then_success(self):
        self.clock.t = 1010.0
        self.heartbeat.synced(None, ConnectionError("refused\nby peer"))
        self.clock.t = 1070.0
        self.heartbeat.synced(None, TimeoutError("x" * 400))
        sync = self.read()["sync"]
        self.assertEqual((sync["last_attempt_time"], sync["last_ok_time"], sync["last_ok_block"],
                          sync["consecutive_failures"]), (1070.0, None, None, 2))
        self.assertEqual(sync["last_error"], "TimeoutError: " + "x" * 283 + "...")  # 300 chars
        self.clock.t = 1130.0
        self.heartbeat.synced(4321)
        document = self.read()
        self.assertEqual(document["sync"], {"interval_seconds": 60.0, "last_attempt_time": 1130.0,
                                            "last_ok_time": 1130.0, "last_ok_block": 4321,
                                            "last_error": None, "consecutive_failures": 0})
        self.assertEqual((document["version"], document["pid"], document["time"],
                          document["started"]), (1, os.getpid(), 1130.0, 1000.0))

    def test_error_is_one_line(self):
        self.heartbeat.synced(None, ConnectionError("refused\nby peer"))
        self.assertEqual(self.read()["sync"]["last_error"], "ConnectionError: refused by peer")

    def test_weights_failures_count_failed_attempts_and_raising_polls(self):
        chain = FakeChain(block=500)
        chain.add_neuron("hk-me", 1.0, permit=True)
        chain.own_hotkey = "hk-me"
        submitter = WeightsSubmitter(chain, self.dir, 1, clock=self.clock)
        self.addCleanup(submitter.close)
        with open(os.path.join(self.dir, "weights.jsonl"), "w") as f:
            f.write(json.dumps({"block": 90, "uids": [0], "weights": [1.0],
                                "hotkey": "hk-me"}) + "\n")
        chain.fail_next = 1
        submitter.poll()
        self.heartbeat.polled(submitter)
        weights = self.read()["weights"]
        self.assertEqual((weights["pending"], weights["consecutive_failures"],
                          weights["last_poll_time"]), (1, 1, 1000.0))
        self.assertEqual(weights["last_submission"]["status"], "failed")
        self.assertEqual(weights["last_submission"]["message"], "fake: transaction failed")
        self.heartbeat.polled(submitter, RuntimeError("no hotkey"))
        self.assertEqual(self.read()["weights"]["consecutive_failures"], 2)
        self.clock.t += 12
        submitter.poll()
        self.heartbeat.polled(submitter)
        weights = self.read()["weights"]
        self.assertEqual((weights["pending"], weights["consecutive_failures"]), (0, 0))
        self.assertEqual({k: weights["last_submission"][k] for k in
                          ("time", "entry_block", "block", "status")},
                         {"time": 1012.0, "entry_block": 90, "block": 500,
                          "status": "submitted"})

    def test_unwritable_folder_is_not_fatal(self):
        blocker = os.path.join(self.dir, "file")
        open(blocker, "w").close()
        heartbeat = Heartbeat(os.path.join(blocker, "sub"), 60, False, clock=self.clock)
        with self.assertLogs("crucible_bridge.health", "ERROR"):
            heartbeat.synced(1)


class RunWritesHeartbeatTest(unittest.TestCase):
    def test_failed_sync_is_reported(self):
        directory = tempfile.mkdtemp()
        chain = FakeChain(block=10)
        chain.add_neuron("")  # an empty hotkey: crucible would reject the metagraph
        args = parse_args(["--netuid", "1", "--chain-dir", directory, "--once"])
        heartbeat = Heartbeat(directory, args.sync_interval, False, clock=lambda: 2000.0)
        with self.assertLogs("crucible_bridge", "ERROR"):
            self.assertEqual(run(args, chain, threading.Event(), heartbeat), 0)
        with open(os.path.join(directory, "bridge.json")) as f:
            document = json.load(f)
        self.assertEqual(document["sync"]["last_error"],
                         "SyncError: uid 0: empty or duplicate hotkey ''")
        self.assertEqual(document["sync"]["consecutive_failures"], 1)
        self.assertEqual(document["weights"], {"enabled": False, "hotkey": None,
                                               "last_poll_time": None, "pending": 0,
                                               "consecutive_failures": 0,
                                               "last_submission": None})
        healthy, message = check_health(directory, now=2001.0)
        self.assertEqual((healthy, message),
                         (False, "unhealthy: no good sync yet: SyncError: uid 0: empty or "
                                 "duplicate hotkey ''"))


class CheckHealthTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.path = os.path.join(self.dir, "bridge.json")

    def write(self, document):
        with open(self.path, "w") as f:
            f.write(document if isinstance(document, str) else json.dumps(document))

    def test_verdicts(self):
        base = {"version": 1, "time": 1000.0,
                "sync": {"interval_seconds": 10.0, "last_ok_time": 990.0, "last_ok_block": 7,
                         "last_error": None}}
        self.write(base)
        self.assertEqual(check_health(self.dir, now=1010.0),
                         (True, "healthy: heartbeat 10 s old, last good sync 20 s ago at block 7"))
        # Default max age: 3 x the recorded 10 s interval.
        self.assertEqual(check_health(self.dir, now=1031.0),
                         (False, "unhealthy: heartbeat 31 s old (max 30 s)"))
        self.assertEqual(check_health(self.dir, now=1031.0, max_age=45)[0], True)
        self.write({**base, "sync": {}})  # no interval recorded: 180 s
        self.assertEqual(check_health(self.dir, now=1179.0),
                         (False, "unhealthy: no good sync yet: no error recorded"))
        self.assertEqual(check_health(self.dir, now=1181.0),
                         (False, "unhealthy: heartbeat 181 s old (max 180 s)"))

    def test_unreadable_or_foreign(self):
        self.write("{torn")
        healthy, message = check_health(self.dir, now=0.0)
        self.assertFalse(healthy)
        self.assertTrue(message.startswith(f"unhealthy: cannot read {self.path}: JSONDecodeError"))
        self.write({"version": 2, "time": 0.0})
        self.assertEqual(check_health(self.dir, now=0.0),
                         (False, f"unhealthy: {self.path} is not a version 1 bridge.json"))


if __name__ == "__main__":
    unittest.main()
