"""Chain to directory against the fake chain: format, block hashes, atomic replacement."""

import hashlib
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from crucible_bridge.fake_chain import FakeChain  # noqa: E402
from crucible_bridge.sync import SyncError, metagraph_document, sync_once  # noqa: E402
from crucible_bridge.chain import NeuronRow  # noqa: E402

COMMIT = "ns/model:0123abc:deadbeef:competition-1"


def validator_seed(metagraph: dict, block: int) -> int:
    """crucible's LocalChain::block_seed with block_hashes (validator/local_chain.cpp)."""
    digits = metagraph["block_hashes"][str(block)].lower()
    digits = digits[2:] if digits.startswith("0x") else digits
    message = f"crucible-block-hash:{metagraph['netuid']}:{block}:{digits}"
    return int.from_bytes(hashlib.sha256(message.encode()).digest()[:8], "big")


def make_chain():
    chain = FakeChain(block=4321)
    chain.add_neuron("hk-validator", stake=1000.5, permit=True)
    chain.add_neuron("hk-miner-a", stake=1.0)
    chain.add_neuron("hk-miner-b")
    chain.set_commitment("hk-miner-a", COMMIT)
    chain.commits["hk-gone"] = chain.commits["hk-miner-a"]  # deregistered hotkey
    chain.rows[0].weights = [0.0, 0.75, 0.25]
    return chain


class SyncTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def read(self, name):
        with open(os.path.join(self.dir, name)) as f:
            return json.load(f)

    def test_files_in_documented_format(self):
        chain = make_chain()
        block = sync_once(chain, self.dir, netuid=7, clock=lambda: 1700000000.25)
        self.assertEqual(block, 4321)
        mg = self.read("metagraph.json")
        self.assertEqual(set(mg), {"netuid", "block", "seconds_per_block", "time", "block_hashes",
                                   "neurons"})
        self.assertEqual((mg["netuid"], mg["block"], mg["seconds_per_block"], mg["time"]),
                         (7, 4321, 12, 1700000000.25))
        # The current window's first block (4321 -> 4200) and the 3 before it.
        self.assertEqual(mg["block_hashes"], {str(b): chain.block_hash(b)
                                              for b in (4200, 4050, 3900, 3750)})
        for value in mg["block_hashes"].values():  # crucible's rule: hex, even length <= 128
            digits = value[2:] if value.startswith("0x") else value
            self.assertRegex(digits, r"^([0-9a-f]{2}){1,64}$")
        # crucible's rules: uids exactly 0..n-1, distinct non-empty hotkeys, stake >= 0,
        # validator_permit a bool, weights (optional) finite numbers >= 0.
        self.assertEqual([n["uid"] for n in mg["neurons"]], [0, 1, 2])
        hotkeys = [n["hotkey"] for n in mg["neurons"]]
        self.assertEqual(len(set(hotkeys)), 3)
        for n in mg["neurons"]:
            self.assertTrue(set(n) <= {"uid", "hotkey", "stake", "validator_permit", "weights"})
            self.assertIsInstance(n["validator_permit"], bool)
            self.assertGreaterEqual(n["stake"], 0)
        self.assertEqual(mg["neurons"][0]["weights"], [0.0, 0.75, 0.25])
        self.assertNotIn("weights", mg["neurons"][1])
        commitments = self.read("commitments.json")
        self.assertEqual(commitments, {"hk-miner-a": {"commitment": COMMIT, "block": 4321}})

    def test_replaced_atomically_no_temp_files(self):
        chain = make_chain()
        sync_once(chain, self.dir, 7)
        inode = os.stat(os.path.join(self.dir, "metagraph.json")).st_ino
        chain.block += 5
        chain.add_neuron("hk-new")
        chain.set_commitment("hk-new", COMMIT)
        sync_once(chain, self.dir, 7)
        self.assertEqual(sorted(os.listdir(self.dir)), ["commitments.json", "metagraph.json"])
        # A rename gives a new inode: readers see the old file or the new one, never half.
        self.assertNotEqual(os.stat(os.path.join(self.dir, "metagraph.json")).st_ino, inode)
        mg = self.read("metagraph.json")
        self.assertEqual(mg["block"], 4326)
        self.assertEqual(len(mg["neurons"]), 4)
        self.assertEqual(self.read("commitments.json")["hk-new"]["block"], 4326)

    def test_bad_metagraph_keeps_last_good_files(self):
        chain = make_chain()
        sync_once(chain, self.dir, 7)
        before = self.read("metagraph.json")
        chain.rows[2].hotkey = "hk-miner-a"  # duplicate hotkey: crucible would reject it
        with self.assertRaises(SyncError):
            sync_once(chain, self.dir, 7)
        self.assertEqual(self.read("metagraph.json"), before)
        self.assertEqual(sorted(os.listdir(self.dir)), ["commitments.json", "metagraph.json"])

    def test_uid_gap_rejected(self):
        rows = [NeuronRow(0, "a", 1.0, False), NeuronRow(2, "b", 1.0, False)]
        with self.assertRaises(SyncError):
            metagraph_document(1, 1, 0.0, rows, {})

    def test_seed_cadence_sets_the_blocks_hashed(self):
        chain = make_chain()
        sync_once(chain, self.dir, 7, seed_cadence=100)
        self.assertEqual(sorted(self.read("metagraph.json")["block_hashes"], key=int),
                         ["4000", "4100", "4200", "4300"])
        chain.block = 200  # a young chain: no window starts below block 0
        sync_once(chain, self.dir, 7)
        self.assertEqual(sorted(self.read("metagraph.json")["block_hashes"], key=int),
                         ["0", "150"])
        chain.block = 300  # exactly a window start: its own hash
        sync_once(chain, self.dir, 7)
        self.assertEqual(sorted(self.read("metagraph.json")["block_hashes"], key=int),
                         ["0", "150", "300"])
        with self.assertRaises(ValueError):
            sync_once(chain, self.dir, 7, seed_cadence=0)

    def test_the_validators_seed_follows_the_hash_not_only_the_block(self):
        chain = make_chain()
        sync_once(chain, self.dir, 7)
        before = self.read("metagraph.json")
        chain.fork = "another history"  # same blocks, other hashes
        sync_once(chain, self.dir, 7)
        after = self.read("metagraph.json")
        self.assertEqual(after["block"], before["block"])
        self.assertNotEqual(after["block_hashes"]["4200"], before["block_hashes"]["4200"])
        self.assertNotEqual(validator_seed(after, 4200), validator_seed(before, 4200))
        self.assertEqual(validator_seed(after, 4200), validator_seed(self.read("metagraph.json"),
                                                                     4200))

    def test_seed_formula_matches_the_validators(self):
        # The hash and seed of tests/local_chain_test.cpp, BlockSeedComesFromTheBlockHash...
        hash900 = "0x54A11104c42a13845830cff84bfae7031d6d6ffd0dd1f33c644181dfc5a73ff3"
        self.assertEqual(validator_seed({"netuid": 1, "block_hashes": {"900": hash900}}, 900),
                         0x52f10c311940ef68)

    def test_unusable_block_hash_keeps_last_good_files(self):
        chain = make_chain()
        sync_once(chain, self.dir, 7)
        before = self.read("metagraph.json")
        chain.block_hash = lambda block: None  # e.g. a node that lost the block
        with self.assertRaises(SyncError):
            sync_once(chain, self.dir, 7)
        self.assertEqual(self.read("metagraph.json"), before)


if __name__ == "__main__":
    unittest.main()
