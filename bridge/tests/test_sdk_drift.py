"""SDK drift: every SDK call the bridge makes exists with the parameters it passes.

Needs the pinned bittensor (bridge/requirements.txt); skipped, with the reason
printed, where it is not importable."""

import inspect
import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)

from crucible_bridge.sdk_chain import SDK_CALLS  # noqa: E402

try:
    import bittensor as bt
    IMPORT_ERROR = None
except Exception as error:  # noqa: BLE001 - any import failure means "not available"
    bt, IMPORT_ERROR = None, f"{type(error).__name__}: {error}"
    print(f"SKIP test_sdk_drift: bittensor is not importable ({IMPORT_ERROR})", file=sys.stderr)


def signature_of(obj):
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        # Extension types (bittensor_wallet.Wallet) carry __text_signature__ instead.
        text = getattr(obj, "__text_signature__", None)
        if not text:
            raise
        params = [part.split("=")[0].strip().lstrip("*$")
                  for part in text.strip("()").split(",") if part.strip() not in ("", "/", "*")]
        return inspect.Signature([inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                                  for p in params if p not in ("self", "module")])


@unittest.skipIf(bt is None, f"bittensor is not importable: {IMPORT_ERROR}")
class SdkDriftTest(unittest.TestCase):
    def test_pinned_major_version(self):
        with open(os.path.join(HERE, "requirements.txt")) as f:
            pin = re.search(r"^bittensor==(\d+)\.", f.read(), re.M).group(1)
        self.assertEqual(bt.__version__.split(".")[0], pin)

    def test_calls_and_parameters(self):
        for owner, method, passed in SDK_CALLS:
            with self.subTest(call=f"{owner}.{method or '__init__'}"):
                cls = getattr(bt, owner)
                target = cls if method is None else getattr(cls, method)
                self.assertTrue(callable(target))
                params = signature_of(target).parameters
                var_kw = any(p.kind == p.VAR_KEYWORD for p in params.values())
                for name in passed:
                    self.assertTrue(name in params or var_kw,
                                    f"{owner}.{method}: no parameter {name!r} in {list(params)}")

    def test_returned_shapes(self):
        from bittensor.core.chain_data.utils import decode_metadata
        from bittensor.core.types import CommitmentOfResponse, ExtrinsicResponse

        self.assertTrue(callable(decode_metadata))
        self.assertIn("block", CommitmentOfResponse.__annotations__)
        # block_hash() passes the SDK's hash on as the text of metagraph.json's block_hashes.
        self.assertIn(signature_of(bt.Subtensor.get_block_hash).return_annotation, (str, "str"))
        response = ExtrinsicResponse(success=False, message="x")
        self.assertEqual((response.success, response.message), (False, "x"))
        for attribute in ("uids", "hotkeys", "S", "validator_permit"):
            declared = any(attribute in vars(c) or attribute in getattr(c, "__annotations__", {})
                           for c in bt.Metagraph.__mro__)
            self.assertTrue(declared, f"Metagraph.{attribute}")



class _FakeSubtensor:
    """A Subtensor that answers as SDK 10.x does, offline: the input of
    SdkChain's conversions in the test below."""

    class _Metagraph:
        uids, hotkeys = [0, 1], ["hk-v", "hk-m"]
        S, validator_permit = [5.0, -0.0], [True, False]

    def metagraph(self, netuid, mechid, lite, block):
        return self._Metagraph()

    def weights(self, netuid, mechid, block):
        return [(0, [(1, 65535)])]

    def get_block_hash(self, block):
        return "0x" + f"{block:064x}"

    def query_map(self, module, name, params, block):
        info = {"fields": [{"Raw10": "0x" + b"ns/m:c:h:1".hex()}]}
        return [("hk-m", {"deposit": 0, "block": 42, "info": info})]


@unittest.skipIf(bt is None, f"bittensor is not importable: {IMPORT_ERROR}")
class SdkChainConversionTest(unittest.TestCase):
    def test_rows_and_commitments(self):
        from bittensor.core.chain_data.utils import decode_metadata
        from crucible_bridge.sdk_chain import SdkChain

        chain = SdkChain.__new__(SdkChain)
        chain.subtensor, chain.wallet, chain._decode_metadata = _FakeSubtensor(), None, decode_metadata
        rows = chain.neurons(1, 100)
        self.assertEqual([(r.uid, r.hotkey, r.stake, r.validator_permit) for r in rows],
                         [(0, "hk-v", 5.0, True), (1, "hk-m", 0.0, False)])
        self.assertEqual(rows[0].weights, [0.0, 1.0])
        self.assertIsNone(rows[1].weights)
        commitments = chain.commitments(1, 100)
        self.assertEqual((commitments["hk-m"].commitment, commitments["hk-m"].block),
                         ("ns/m:c:h:1", 42))
        self.assertEqual(chain.block_hash(150), "0x" + "0" * 61 + "096")
        self.assertIsNone(chain.hotkey_address())  # no wallet


if __name__ == "__main__":
    unittest.main()
