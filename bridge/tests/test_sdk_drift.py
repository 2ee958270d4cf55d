"""SDK drift: every SDK call the bridge makes exists with the parameters it passes,
the wallet loader works on real wallet files, and the lock pins what
requirements.txt asks for.

Needs the pinned bittensor (bridge/requirements.lock); skipped, with the reason
printed, where it is not importable."""

import contextlib
import inspect
import io
import json
import os
import re
import sys
import tempfile
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

    def test_installed_version_is_the_locked_one(self):
        with open(os.path.join(HERE, "requirements.lock")) as f:
            locked = re.search(r"^bittensor==(\S+)", f.read(), re.M).group(1)
        self.assertEqual(bt.__version__, locked)

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



class LockTest(unittest.TestCase):
    """Needs no SDK: requirements.lock is requirements.txt's pin, hashed."""

    def test_lock_pins_the_requirement_with_hashes(self):
        with open(os.path.join(HERE, "requirements.txt")) as f:
            wanted = re.findall(r"^([A-Za-z0-9_.-]+==\S+)", f.read(), re.M)
        with open(os.path.join(HERE, "requirements.lock")) as f:
            lock = f.read()
        pins = re.findall(r"^([a-z0-9_.-]+)==(\S+) \\\n((?:    --hash=sha256:[0-9a-f]{64}.*\n)+)",
                          lock, re.M)
        self.assertEqual(len(pins), len(re.findall(r"^\S+==", lock, re.M)))  # each has hashes
        self.assertEqual(wanted, ["bittensor==10.5.0"])
        self.assertIn(("bittensor", "10.5.0"), [(name, version) for name, version, _ in pins])
        self.assertGreater(len(pins), 40)  # the SDK's whole dependency tree


@unittest.skipIf(bt is None, f"bittensor is not importable: {IMPORT_ERROR}")
class WalletLoaderTest(unittest.TestCase):
    """sdk_chain.wallet_hotkey_address on wallet files the SDK itself wrote."""

    def setUp(self):
        self.path = tempfile.mkdtemp()

    def wallet(self, name):
        return bt.Wallet(name=name, hotkey="hot", path=self.path)

    def test_hotkey_file_is_where_the_sdk_keeps_it(self):
        from crucible_bridge.wallet import hotkey_file

        self.assertEqual(self.wallet("vali").hotkey_file.path,
                         hotkey_file(self.path, "vali", "hot"))

    def test_commit_command_shows_no_key_material(self):
        from crucible_bridge.cli import main
        from crucible_bridge.fake_chain import FakeChain

        keypair = bt.Keypair.create_from_mnemonic(bt.Keypair.generate_mnemonic())
        hotkey_file = self.wallet("miner").hotkey_file
        hotkey_file.set_keypair(keypair, encrypt=False, overwrite=True)
        with open(hotkey_file.path) as f:
            secrets = [v for k, v in json.load(f).items() if k in (
                "secretPhrase", "privateKey", "secretSeed") and v]
        self.assertTrue(secrets)
        chain = FakeChain()
        chain.add_neuron(keypair.ss58_address)
        chain.own_hotkey = keypair.ss58_address
        chain.commit_error = "refused"
        argv = ["commit", "--netuid", "1", "--wallet.name", "miner", "--wallet.hotkey", "hot",
                "--wallet.path", self.path, "--commitment", "ns/m:c:h:1"]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            codes = [main(argv, connect=lambda *_: chain) for _ in range(2)]  # fails, then not
        where = f"hotkey {keypair.ss58_address} on netuid 1 (finney)"
        self.assertEqual((codes, out.getvalue(), err.getvalue()),
                         ([1, 0], f"committed ns/m:c:h:1 as {where}\n",
                          f"crucible-bridge: commit failed for {where}: refused\n"))
        for secret in secrets:
            words = secret.removeprefix("0x")
            self.assertNotIn(words[:16], out.getvalue() + err.getvalue())

    def test_good_encrypted_and_bad_hotkeys(self):
        from crucible_bridge.sdk_chain import wallet_hotkey_address

        keypair = bt.Keypair.create_from_mnemonic(bt.Keypair.generate_mnemonic())
        self.wallet("good").hotkey_file.set_keypair(keypair, encrypt=False, overwrite=True)
        self.assertEqual(wallet_hotkey_address("good", "hot", self.path), keypair.ss58_address)
        with contextlib.redirect_stdout(io.StringIO()):  # the SDK prints "Encrypting..."
            self.wallet("locked").hotkey_file.set_keypair(keypair, encrypt=True, overwrite=True,
                                                          password="a long password 1")
        with self.assertRaisesRegex(ValueError, "^the hotkey file is encrypted"):
            wallet_hotkey_address("locked", "hot", self.path)
        # The SDK's message for this one quotes a character of the private key.
        bad = self.wallet("bad").hotkey_file.path
        os.makedirs(os.path.dirname(bad))
        with open(bad, "w") as f:
            f.write('{"privateKey": "0xzz", "publicKey": "0x00", "ss58Address": "5x"}')
        with self.assertRaises(ValueError) as caught:
            wallet_hotkey_address("bad", "hot", self.path)
        self.assertEqual(str(caught.exception), "its content does not load as a hotkey "
                         "(KeyFileError; the SDK's message is not shown, it may quote the key)")


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

    def set_commitment(self, **kwargs):
        from bittensor.core.types import ExtrinsicResponse

        self.committed = kwargs
        return ExtrinsicResponse(success=False, message="Commitments.AccountNotAllowedCommit")


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

    def test_commit(self):
        from crucible_bridge.chain import SubmitResult
        from crucible_bridge.sdk_chain import SdkChain

        chain = SdkChain.__new__(SdkChain)
        chain.subtensor, chain.wallet = _FakeSubtensor(), None
        self.assertEqual(chain.commit(1, "ns/m:c:h:1"),
                         SubmitResult(False, "no wallet configured (--wallet.name)"))
        chain.wallet = wallet = object()
        self.assertEqual(chain.commit(3, "ns/m:c:h:1"),
                         SubmitResult(False, "Commitments.AccountNotAllowedCommit"))
        self.assertEqual(chain.subtensor.committed,
                         {"wallet": wallet, "netuid": 3, "data": "ns/m:c:h:1",
                          "wait_for_inclusion": True, "wait_for_finalization": True})


if __name__ == "__main__":
    unittest.main()
