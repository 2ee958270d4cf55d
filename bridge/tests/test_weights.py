"""Weights to chain against the fake chain: once, retries, malformed lines, rate limit,
only our own hotkey's lines, content keys across rotation, truncation and restarts."""

import hashlib
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from crucible_bridge.fake_chain import FakeChain  # noqa: E402
from fake_clock import Clock  # noqa: E402
from crucible_bridge.weights import WeightsSubmitter  # noqa: E402


def entry(block, uids, weights, key=7, hotkey="hk-me"):
    return json.dumps({"block": block, "time": 1.0, "uids": uids, "weights": weights,
                       "version_key": key, "hotkey": hotkey})


def key_of(line):
    """The documented content key: SHA-256 of the line's bytes without the newline."""
    return "sha256:" + hashlib.sha256(line.encode("utf-8")).hexdigest()


class SubmitterCase(unittest.TestCase):
    """A fake chain where we are uid 0 ("hk-me"), a chain folder, a fixed clock."""

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
        s = WeightsSubmitter(self.chain, self.dir, 3, clock=self.clock)
        self.addCleanup(s.close)
        return s

    def records(self):
        with open(os.path.join(self.dir, "weights-submitted.jsonl")) as f:
            return [json.loads(line) for line in f]


class WeightsTest(SubmitterCase):
    def test_submitted_once_even_across_restart(self):
        first = entry(100, [0, 1], [0.2, 0.8])
        self.append(first + "\n")
        s = self.submitter()
        self.assertEqual(s.poll(), key_of(first))
        self.assertEqual(self.chain.submitted, [([0, 1], [0.2, 0.8], 7, 500)])
        self.assertIsNone(s.poll())
        self.chain.block += 100
        restarted = self.submitter()
        self.assertIsNone(restarted.poll())
        self.assertEqual(len(self.chain.submitted), 1)
        last = self.records()[-1]
        self.assertEqual(last, {"key": key_of(first), "line": 1, "entry_block": 100,
                                "block": 500, "success": True, "status": "submitted",
                                "message": "fake: included", "time": 1000.0})
        # A new line after the restart is the next one submitted.
        second = entry(200, [1], [1.0])
        self.append(second + "\n")
        self.assertEqual(restarted.poll(), key_of(second))
        self.assertEqual(self.chain.submitted[-1][0], [1])

    def test_crash_during_submission_is_not_resent(self):
        line = entry(100, [1], [1.0])
        self.append(line + "\n")
        with open(os.path.join(self.dir, "weights-submitted.jsonl"), "w") as f:
            f.write(json.dumps({"key": key_of(line), "line": 1, "entry_block": 100,
                                "block": 500, "success": False, "status": "submitting",
                                "message": ""}) + "\n")
        s = self.submitter()
        self.assertIsNone(s.poll())
        self.assertEqual(self.chain.submitted, [])
        last = self.records()[-1]
        self.assertEqual((last["key"], last["line"], last["entry_block"], last["status"]),
                         (key_of(line), 1, 100, "unknown"))

    def test_records_of_an_older_bridge_without_key_are_ignored(self):
        line = entry(100, [1], [1.0])
        self.append(line + "\n")
        with open(os.path.join(self.dir, "weights-submitted.jsonl"), "w") as f:
            f.write(json.dumps({"line": 1, "block": 500, "success": True,
                                "status": "submitted", "message": ""}) + "\n")
        with self.assertLogs("crucible_bridge.weights", "WARNING") as logs:
            s = self.submitter()
        self.assertIn("1 records without a key (from an older bridge) are ignored",
                      logs.output[0])
        self.assertEqual(s.poll(), key_of(line))  # the line-numbered record does not count
        self.assertEqual(len(self.chain.submitted), 1)

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
        self.assertEqual(s.poll(), key_of(entry(100, [1], [1.0])))
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
            self.assertEqual(s.poll(), key_of(entry(100, [1], [1.0])))
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
        self.assertEqual(s.poll(), key_of(line))

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
        self.assertEqual(s.poll(), key_of(entry(100, [1], [1.0])))
        self.assertEqual(self.chain.submitted[0][3], 551)

    def test_only_newest_pending_entry_is_sent(self):
        old, new = entry(100, [1], [1.0]), entry(110, [0, 1], [0.5, 0.5])
        self.append(old + "\n" + new + "\n")
        s = self.submitter()
        self.assertEqual(s.poll(), key_of(new))
        self.assertEqual(self.chain.submitted[0][0], [0, 1])
        self.assertEqual([(r["key"], r["line"], r["entry_block"], r["status"], r["message"])
                          for r in self.records()],
                         [(key_of(old), 1, 100, "superseded", f"superseded by {key_of(new)}"),
                          (key_of(new), 2, 110, "submitting", ""),
                          (key_of(new), 2, 110, "submitted", "fake: included")])

    def test_only_our_hotkeys_lines_are_submitted(self):
        self.append(entry(100, [0], [1.0], hotkey="hk-me") + "\n")
        self.append(entry(101, [1], [1.0], hotkey="hk-other") + "\n")
        self.append(json.dumps({"block": 102, "uids": [1], "weights": [1.0]}) + "\n")
        self.append(entry(103, [1], [1.0], hotkey=None) + "\n")
        s = self.submitter()
        with self.assertLogs("crucible_bridge.weights", "WARNING") as logs:
            self.assertEqual(s.poll(), key_of(entry(100, [0], [1.0], hotkey="hk-me")))
            # (not superseded by the lines that are not ours)
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
            self.assertEqual(restarted.poll(), key_of(entry(110, [0, 1], [0.5, 0.5])))
        self.assertEqual([s[0] for s in self.chain.submitted], [[0], [0, 1]])

    def test_without_our_hotkey_address_no_line_is_read(self):
        self.chain.own_hotkey = None
        self.append(entry(100, [1], [1.0]) + "\n")
        s = self.submitter()
        with self.assertRaisesRegex(RuntimeError, "hotkey address is unknown"):
            s.poll()
        self.chain.own_hotkey = "hk-me"  # the line was left for when we know it
        self.assertEqual(s.poll(), key_of(entry(100, [1], [1.0])))


class FileChangesTest(SubmitterCase):
    """weights.jsonl rotated, truncated or gone for a while under a running
    submitter: no entry lost, none sent twice."""

    def path(self, name="weights.jsonl"):
        return os.path.join(self.dir, name)

    def sent_uids(self):
        return [s[0] for s in self.chain.submitted]  # the uids, one distinct per entry

    def next_block(self):
        self.chain.block += 1  # the fake chain rate-limits nothing at rate_limit 0

    def test_rotation_between_polls(self):
        a, b, c, d = (entry(100 + i, [i], [1.0]) for i in range(4))
        self.append(a + "\n")
        s = self.submitter()
        self.assertEqual(s.poll(), key_of(a))
        # Appended to the old file just before the rename: still read, first.
        self.append(b + "\n")
        os.rename(self.path(), self.path("weights.jsonl.1"))
        self.next_block()
        self.assertEqual(s.poll(), key_of(b))
        self.append(c + "\n")  # the new file: line 1 again, a new entry
        self.next_block()
        self.assertEqual(s.poll(), key_of(c))
        self.append(d + "\n")
        self.next_block()
        self.assertEqual(s.poll(), key_of(d))
        self.assertIsNone(s.poll())
        self.assertEqual(self.sent_uids(), [[0], [1], [2], [3]])
        submitted = [(r["key"], r["line"]) for r in self.records() if r["status"] == "submitted"]
        self.assertEqual(submitted, [(key_of(a), 1), (key_of(b), 2), (key_of(c), 1),
                                     (key_of(d), 2)])

    def test_rotation_reads_the_old_file_before_the_new(self):
        a, b, c = (entry(100 + i, [i], [1.0]) for i in range(3))
        self.append(a + "\n")
        s = self.submitter()
        self.assertEqual(s.poll(), key_of(a))
        self.append(b + "\n")
        os.rename(self.path(), self.path("weights.jsonl.1"))
        self.append(c + "\n")
        self.next_block()
        self.assertEqual(s.poll(), key_of(c))  # b was read first, so c is the newest
        self.assertEqual(self.sent_uids(), [[0], [2]])
        self.assertEqual({r["key"]: r["status"] for r in self.records()},
                         {key_of(a): "submitted", key_of(b): "superseded",
                          key_of(c): "submitted"})

    def test_rotation_drops_an_unfinished_last_line_of_the_old_file(self):
        a, b = entry(100, [0], [1.0]), entry(101, [1], [1.0])
        self.append(a + "\n" + b[:5])
        s = self.submitter()
        self.assertEqual(s.poll(), key_of(a))
        os.rename(self.path(), self.path("weights.jsonl.1"))
        self.append(b + "\n")
        self.next_block()
        with self.assertLogs("crucible_bridge.files", "WARNING") as logs:
            self.assertEqual(s.poll(), key_of(b))
        self.assertIn("ends in 5 bytes without a newline", logs.output[0])
        self.assertEqual(self.sent_uids(), [[0], [1]])

    def test_truncation(self):
        a, b, c = (entry(100 + i, [i], [1.0]) for i in range(3))
        self.append(a + "\n" + b + "\n")
        s = self.submitter()
        self.assertEqual(s.poll(), key_of(b))
        with open(self.path(), "w") as f:  # truncated, then a shorter new content
            f.write(c + "\n")
        self.next_block()
        self.assertEqual(s.poll(), key_of(c))
        # Truncated again and rewritten with an entry already final: not resent.
        with open(self.path(), "w") as f:
            f.write(b + "\n")
        self.next_block()
        self.assertIsNone(s.poll())
        self.assertEqual(self.sent_uids(), [[1], [2]])

    def test_restart_after_rotation(self):
        a, b, c = (entry(100 + i, [i], [1.0]) for i in range(3))
        self.append(a + "\n")
        self.assertEqual(self.submitter().poll(), key_of(a))
        os.rename(self.path(), self.path("weights.jsonl.1"))
        self.append(b + "\n")  # line 1 of the new file, as a was of the old
        self.next_block()
        restarted = self.submitter()
        self.assertEqual(restarted.poll(), key_of(b))
        self.append(c + "\n")
        self.next_block()
        again = self.submitter()  # b is final by its key: only c goes out
        self.assertEqual(again.poll(), key_of(c))
        self.assertEqual(self.sent_uids(), [[0], [1], [2]])

    def test_file_gone_for_a_while(self):
        a, b = entry(100, [0], [1.0]), entry(101, [1], [1.0])
        self.append(a + "\n")
        s = self.submitter()
        self.assertEqual(s.poll(), key_of(a))
        os.unlink(self.path())
        self.assertIsNone(s.poll())
        self.assertIsNone(s.poll())
        self.append(b + "\n")
        self.next_block()
        self.assertEqual(s.poll(), key_of(b))
        self.assertEqual(self.sent_uids(), [[0], [1]])

    def test_key_is_the_sha256_of_the_exact_line_bytes(self):
        line = '{"block": 7, "time": 1.5, "uids": [0], "weights": [1], "hotkey": "hk-me", ' \
               '"note": "caf\u00e9"}'
        self.append(line + "\n")
        self.assertEqual(self.submitter().poll(),
                         "sha256:" + hashlib.sha256(line.encode("utf-8")).hexdigest())
        self.assertEqual(self.records()[-1]["entry_block"], 7)


if __name__ == "__main__":
    unittest.main()
