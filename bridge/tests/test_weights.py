"""Weights to chain against the fake chain: once, retries, malformed lines, rate limit,
only our own hotkey's lines."""

import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from crucible_bridge.fake_chain import FakeChain  # noqa: E402
from crucible_bridge.weights import WeightsSubmitter  # noqa: E402


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def entry(block, uids, weights, key=7, hotkey="hk-me"):
    return json.dumps({"block": block, "time": 1.0, "uids": uids, "weights": weights,
                       "version_key": key, "hotkey": hotkey})


class WeightsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        self.chain = FakeChain(block=500, rate_limit=0)
        self.chain.add_neuron("hk-me", 10.0, permit=True)
        self.chain.add_neuron("hk-miner")
        self.chain.own_hotkey = "hk-me"
        self.clock = Clock()

    def append(self, text):
        with open(os.path.join(self.dir, "weights.jsonl"), "a") as f:
            f.write(text)

    def submitter(self):
        return WeightsSubmitter(self.chain, self.dir, 3, clock=self.clock)

    def records(self):
        with open(os.path.join(self.dir, "weights-submitted.jsonl")) as f:
            return [json.loads(line) for line in f]

    def test_submitted_once_even_across_restart(self):
        self.append(entry(100, [0, 1], [0.2, 0.8]) + "\n")
        s = self.submitter()
        self.assertEqual(s.poll(), 1)
        self.assertEqual(self.chain.submitted, [([0, 1], [0.2, 0.8], 7, 500)])
        self.assertIsNone(s.poll())
        self.chain.block += 100
        restarted = self.submitter()
        self.assertIsNone(restarted.poll())
        self.assertEqual(len(self.chain.submitted), 1)
        last = self.records()[-1]
        self.assertEqual((last["line"], last["block"], last["success"], last["status"]),
                         (1, 500, True, "submitted"))
        # A new line after the restart is the next one submitted.
        self.append(entry(200, [1], [1.0]) + "\n")
        self.assertEqual(restarted.poll(), 2)
        self.assertEqual(self.chain.submitted[-1][0], [1])

    def test_crash_during_submission_is_not_resent(self):
        self.append(entry(100, [1], [1.0]) + "\n")
        with open(os.path.join(self.dir, "weights-submitted.jsonl"), "w") as f:
            f.write(json.dumps({"line": 1, "block": 500, "success": False,
                                "status": "submitting", "message": ""}) + "\n")
        s = self.submitter()
        self.assertIsNone(s.poll())
        self.assertEqual(self.chain.submitted, [])
        self.assertEqual(self.records()[-1]["status"], "unknown")

    def test_failure_is_retried_with_backoff_then_succeeds(self):
        self.append(entry(100, [1], [1.0]) + "\n")
        self.chain.fail_next, self.chain.raise_next = 1, 1
        s = self.submitter()
        self.assertIsNone(s.poll())  # raises inside: logged, not fatal
        self.assertIsNone(s.poll())  # within the backoff: no call
        self.clock.t += 12
        self.assertIsNone(s.poll())  # returns failure
        self.clock.t += 12
        self.assertIsNone(s.poll())  # second backoff is 24 s
        self.clock.t += 12
        self.assertEqual(s.poll(), 1)
        self.assertEqual(len(self.chain.submitted), 1)
        statuses = [r["status"] for r in self.records()]
        self.assertEqual(statuses, ["submitting", "failed", "submitting", "failed",
                                    "submitting", "submitted"])
        self.assertIn("ConnectionError", self.records()[1]["message"])

    def test_malformed_line_reported_and_skipped(self):
        self.append("{not json\n")
        self.append(json.dumps({"uids": [0, 1], "weights": [1.0]}) + "\n")
        self.append(entry(100, [1], [1.0]) + "\n")
        s = self.submitter()
        with self.assertLogs("crucible_bridge.weights", "WARNING") as logs:
            self.assertEqual(s.poll(), 3)
        self.assertTrue(any("line 1 is malformed" in m for m in logs.output))
        self.assertTrue(any("line 2 is malformed" in m for m in logs.output))
        by_line = {r["line"]: r["status"] for r in self.records()}
        self.assertEqual(by_line, {1: "malformed", 2: "malformed", 3: "submitted"})
        self.assertEqual(len(self.chain.submitted), 1)

    def test_partial_last_line_waits_for_its_newline(self):
        line = entry(100, [1], [1.0])
        self.append(line[:10])
        s = self.submitter()
        self.assertIsNone(s.poll())
        self.append(line[10:])
        self.assertIsNone(s.poll())
        self.assertEqual(self.chain.submitted, [])
        self.append("\n")
        self.assertEqual(s.poll(), 1)

    def test_rate_limit_delays_submission(self):
        self.chain.rate_limit = 100
        self.chain.last_update[0] = 450  # 50 blocks ago: 51 more to go
        self.append(entry(100, [1], [1.0]) + "\n")
        s = self.submitter()
        self.assertIsNone(s.poll())
        self.assertEqual(self.chain.submitted, [])
        self.chain.block += 51
        self.clock.t += 50 * 12
        self.assertIsNone(s.poll())  # not yet due by the bridge's own clock
        self.clock.t += 12
        self.assertEqual(s.poll(), 1)
        self.assertEqual(self.chain.submitted[0][3], 551)

    def test_only_newest_pending_entry_is_sent(self):
        self.append(entry(100, [1], [1.0]) + "\n" + entry(110, [0, 1], [0.5, 0.5]) + "\n")
        s = self.submitter()
        self.assertEqual(s.poll(), 2)
        self.assertEqual(self.chain.submitted[0][0], [0, 1])
        self.assertEqual({r["line"]: r["status"] for r in self.records()},
                         {1: "superseded", 2: "submitted"})

    def test_only_our_hotkeys_lines_are_submitted(self):
        self.append(entry(100, [0], [1.0], hotkey="hk-me") + "\n")
        self.append(entry(101, [1], [1.0], hotkey="hk-other") + "\n")
        self.append(json.dumps({"block": 102, "uids": [1], "weights": [1.0]}) + "\n")
        self.append(entry(103, [1], [1.0], hotkey=None) + "\n")
        s = self.submitter()
        with self.assertLogs("crucible_bridge.weights", "WARNING") as logs:
            self.assertEqual(s.poll(), 1)  # not superseded by the lines that are not ours
        self.assertEqual(self.chain.submitted, [([0], [1.0], 7, 500)])
        self.assertEqual(len(logs.output), 3)  # one line each
        self.assertIn("line 2 skipped: it is hotkey hk-other's line, not ours (hk-me)",
                      logs.output[0])
        for output, line in zip(logs.output[1:], (3, 4)):
            self.assertIn(f"line {line} skipped: it names no hotkey, so it is not ours (hk-me): "
                          "the validator must be started with its hotkey (--hotkey hk-me)",
                          output)
        self.assertEqual({r["line"]: r["status"] for r in self.records()},
                         {1: "submitted", 2: "not-ours", 3: "not-ours", 4: "not-ours"})
        # A restart neither sends them nor logs them again; our next line goes out.
        self.append(entry(110, [0, 1], [0.5, 0.5]) + "\n")
        self.chain.block += 10
        restarted = self.submitter()
        with self.assertNoLogs("crucible_bridge.weights", "WARNING"):
            self.assertEqual(restarted.poll(), 5)
        self.assertEqual([s[0] for s in self.chain.submitted], [[0], [0, 1]])

    def test_without_our_hotkey_address_no_line_is_read(self):
        self.chain.own_hotkey = None
        self.append(entry(100, [1], [1.0]) + "\n")
        s = self.submitter()
        with self.assertRaisesRegex(RuntimeError, "hotkey address is unknown"):
            s.poll()
        self.chain.own_hotkey = "hk-me"  # the line was left for when we know it
        self.assertEqual(s.poll(), 1)


if __name__ == "__main__":
    unittest.main()
