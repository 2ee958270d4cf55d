"""`python -m crucible_bridge commit`: the commitment check (the validator's
rules), publishing on the fake chain and the sync that follows, and the one
line (exit 2 or 1) for a bad string, a bad wallet and a failing chain."""

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest

BRIDGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, BRIDGE)

from crucible_bridge.cli import main  # noqa: E402
from crucible_bridge.commitment import CommitmentError, check_commitment  # noqa: E402
from crucible_bridge.fake_chain import FakeChain  # noqa: E402
from crucible_bridge.sync import sync_once  # noqa: E402

HOTKEY = "5FakeMinerHotkey"
# As `crucible models hash FOLDER --hotkey SS58 --repo acme/bolt-small --commit SHA
# --competition 1` prints it: a 40-hex commit, a base64 SHA-256 secure hash.
GOOD = "acme/bolt-small:0123456789abcdef0123456789abcdef01234567:" \
       "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=:1"


NOT_A_SEGMENT = ("is not letters, digits, '.', '_', '-' not starting with '.' "
                 "(the validator's hubs refuse it)")


class CommitmentCheckTest(unittest.TestCase):
    def refused(self, text):
        with self.assertRaises(CommitmentError) as caught:
            check_commitment(text)
        message = str(caught.exception)
        self.assertNotIn("\n", message)
        return message

    def test_accepted(self):
        for text in (GOOD, "a/b:c:h:0", "a/b:c:h:007", "a/b:c::", "a/b:c:h:",
                     "a.b/c_d-e:v1.0:SECURE+/=:9223372036854775807"):
            with self.subTest(text=text):
                self.assertEqual(check_commitment(text), text)

    def test_at_most_128_bytes(self):
        tail = ":c:h:1"
        longest = "ns/" + "n" * (128 - len("ns/") - len(tail)) + tail
        self.assertEqual(len(longest), 128)
        self.assertEqual(check_commitment(longest), longest)
        self.assertEqual(self.refused("n" + longest).split(": ", 1)[1],
                         "129 bytes, the chain holds at most 128")

    def test_refused_with_the_reason(self):
        cases = {
            "": "expected 4 ':'-separated fields (namespace/name:commit:secure_hash:"
                "competition_id), got 1",
            "a/b:c:h": "expected 4 ':'-separated fields (namespace/name:commit:secure_hash:"
                       "competition_id), got 3",
            "a/b:c:h:1:2": "expected 4 ':'-separated fields (namespace/name:commit:"
                           "secure_hash:competition_id), got 5",
            "ab:c:h:1": "repo id has no '/'",
            "a/b/c:c:h:1": "repo id has more than one '/'",
            "/b:c:h:1": "empty namespace",
            "a/:c:h:1": "empty name",
            "a/b::h:1": "empty commit",
            "a b/c:c:h:1": f"namespace 'a b' {NOT_A_SEGMENT}",
            "a/..:c:h:1": f"name '..' {NOT_A_SEGMENT}",
            "a/.b:c:h:1": f"name '.b' {NOT_A_SEGMENT}",
            "a/b:c~1:h:1": f"commit 'c~1' {NOT_A_SEGMENT}",
            "a/b:c:h h:1": "the secure hash holds a space or a control character",
            "a/b:c:h:-1": "competition id is not a non-negative integer that fits in int64",
            "a/b:c:h:1\n": "competition id is not a non-negative integer that fits in int64",
            "a/b:c:h:9223372036854775808":
                "competition id is not a non-negative integer that fits in int64",
            "a/b:c:h\u00e9:1": "not ASCII",
        }
        for text, reason in cases.items():
            with self.subTest(text=text):
                self.assertEqual(self.refused(text),
                                 f"invalid commitment {ascii(text)}: {reason}")

    def test_long_input_is_shortened_in_the_message(self):
        message = self.refused("x" * 500)
        self.assertLess(len(message), 200)
        self.assertIn("x" * 64 + "...", message)


class CommitCommandTest(unittest.TestCase):
    def setUp(self):
        self.wallets = tempfile.mkdtemp()
        os.makedirs(os.path.join(self.wallets, "miner", "hotkeys"))
        with open(os.path.join(self.wallets, "miner", "hotkeys", "hot"), "w") as f:
            f.write("{}")
        self.chain = FakeChain(block=5000123)
        self.chain.add_neuron("hk-validator", 10.0, permit=True)
        self.chain.add_neuron(HOTKEY)
        self.chain.own_hotkey = HOTKEY
        self.connected = []

    def load(self, name, hotkey, path):
        return HOTKEY

    def connect(self, network, name, hotkey, path):
        self.connected.append((network, name, hotkey, path))
        return self.chain

    def commit(self, commitment=GOOD, *extra, wallet="miner", connect=None):
        argv = ["commit", "--netuid", "7", "--wallet.name", wallet, "--wallet.hotkey", "hot",
                "--wallet.path", self.wallets, "--subtensor.network", "test",
                "--commitment", commitment, *extra]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv, load_hotkey_address=self.load, connect=connect or self.connect)
        return code, out.getvalue(), err.getvalue()

    def assert_failed(self, reason, **commit_options):
        """One line on stderr, exit 1, and no commitment on the chain."""
        self.assertEqual(self.commit(**commit_options), (
            1, "", f"crucible-bridge: commit failed for hotkey {HOTKEY} on netuid 7 (test): "
                   f"{reason}\n"))
        self.assertEqual(self.chain.commitments(7, 0), {})

    def test_publishes_and_the_next_sync_writes_it(self):
        self.assertEqual(self.commit(), (
            0, f"committed {GOOD} as hotkey {HOTKEY} on netuid 7 (test)\n", ""))
        self.assertEqual(self.connected, [("test", "miner", "hot", self.wallets)])
        chain_dir = tempfile.mkdtemp()
        sync_once(self.chain, chain_dir, netuid=7)
        # What the validator's parse_local_commitments reads: hotkey -> commitment, block.
        with open(os.path.join(chain_dir, "commitments.json")) as f:
            self.assertEqual(json.load(f), {HOTKEY: {"commitment": GOOD, "block": 5000123}})

    def test_a_new_commitment_replaces_the_old(self):
        self.commit()
        self.chain.block += 10
        other = GOOD[:-1] + "0"
        self.assertEqual(self.commit(other)[0], 0)
        commitment = self.chain.commitments(7, self.chain.block)[HOTKEY]
        self.assertEqual((commitment.commitment, commitment.block), (other, 5000133))

    def test_endpoint_wins_over_the_network(self):
        code, out, _ = self.commit(GOOD, "--subtensor.chain_endpoint", "ws://127.0.0.1:9944")
        self.assertEqual(code, 0)
        self.assertEqual(self.connected[0][0], "ws://127.0.0.1:9944")
        self.assertTrue(out.endswith("(ws://127.0.0.1:9944)\n"))

    def test_bad_commitment_is_refused_before_the_wallet_and_the_chain(self):
        def never(*_):
            raise AssertionError("must not be called for a bad commitment")

        argv = ["commit", "--netuid", "7", "--wallet.name", "miner", "--commitment", "ns/m:c:h"]
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()) as out:
            code = main(argv, load_hotkey_address=never, connect=never)
        self.assertEqual((code, out.getvalue()), (2, ""))
        self.assertEqual(err.getvalue(), "crucible-bridge: invalid commitment 'ns/m:c:h': "
                                         "expected 4 ':'-separated fields (namespace/name:"
                                         "commit:secure_hash:competition_id), got 3\n")

    def test_wallet_problem(self):
        code, out, err = self.commit(GOOD, wallet="nobody")
        hotkey_file = os.path.join(self.wallets, "nobody", "hotkeys", "hot")
        self.assertEqual((code, out), (2, ""))
        self.assertEqual(err, f"crucible-bridge: wallet 'nobody', hotkey 'hot' ({hotkey_file}): "
                              "the hotkey file does not exist; check --wallet.path, "
                              "--wallet.name and --wallet.hotkey\n")
        self.assertEqual(self.connected, [])

    def test_wallet_and_netuid_are_required(self):
        for argv in (["commit", "--netuid", "7", "--commitment", GOOD],
                     ["commit", "--wallet.name", "w", "--commitment", GOOD],
                     ["commit", "--netuid", "-1", "--wallet.name", "w", "--commitment", GOOD]):
            with self.subTest(argv=argv), contextlib.redirect_stderr(io.StringIO()), \
                    self.assertRaises(SystemExit) as caught:
                main(argv, load_hotkey_address=self.load, connect=self.connect)
            self.assertEqual(caught.exception.code, 2)
        self.assertEqual(self.connected, [])

    def test_chain_refuses(self):
        self.chain.commit_error = "Commitments.TooManyFieldsInCommitmentInfo\n(details)"
        self.assert_failed("Commitments.TooManyFieldsInCommitmentInfo (details)")

    def test_unregistered_hotkey(self):
        self.chain.own_hotkey = "5SomeoneElse"
        self.assert_failed("the hotkey is not registered on netuid 7")

    def test_unreachable_chain(self):
        def refuse(*_):
            raise ConnectionError("[Errno 111] Connection refused")

        self.assert_failed("ConnectionError: [Errno 111] Connection refused", connect=refuse)

    def test_bad_commitment_in_a_fresh_interpreter(self):
        code = ("import sys; from crucible_bridge.cli import main; rc = main(sys.argv[1:]); "
                "assert 'bittensor' not in sys.modules, 'imported the SDK'; sys.exit(rc)")
        done = subprocess.run([sys.executable, "-c", code, "commit", "--netuid", "1",
                               "--wallet.name", "w", "--commitment", "ns/m:c:h:one"],
                              cwd=BRIDGE, capture_output=True, text=True, timeout=60)
        self.assertEqual((done.returncode, done.stdout), (2, ""))
        self.assertEqual(done.stderr, "crucible-bridge: invalid commitment 'ns/m:c:h:one': "
                                      "competition id is not a non-negative integer that fits "
                                      "in int64\n")


if __name__ == "__main__":
    unittest.main()
