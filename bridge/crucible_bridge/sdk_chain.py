"""Chain over the bittensor SDK, pinned at 10.x (bridge/requirements.txt).

Every SDK call the bridge makes is in this file, and SDK_CALLS lists them with
the keyword arguments passed, for the drift test (tests/test_sdk_drift.py)."""

from __future__ import annotations

import logging
from typing import Optional

from .chain import Chain, Commitment, NeuronRow, SubmitResult

log = logging.getLogger("crucible_bridge.sdk")

U16_MAX = 65535

# (object name in the bittensor module, method or None for the constructor, parameters passed)
SDK_CALLS = [
    ("Subtensor", None, ["network"]),
    ("Subtensor", "get_current_block", []),
    ("Subtensor", "get_block_hash", ["block"]),
    ("Subtensor", "metagraph", ["netuid", "mechid", "lite", "block"]),
    ("Subtensor", "weights", ["netuid", "mechid", "block"]),
    ("Subtensor", "query_map", ["module", "name", "params", "block"]),
    ("Subtensor", "get_uid_for_hotkey_on_subnet", ["hotkey_ss58", "netuid"]),
    ("Subtensor", "weights_rate_limit", ["netuid"]),
    ("Subtensor", "blocks_since_last_update", ["netuid", "uid"]),
    ("Subtensor", "set_weights", ["wallet", "netuid", "uids", "weights", "version_key",
                                  "max_attempts", "wait_for_inclusion",
                                  "wait_for_finalization"]),
    ("Subtensor", "set_commitment", ["wallet", "netuid", "data", "wait_for_inclusion",
                                     "wait_for_finalization"]),
    ("Wallet", None, ["name", "hotkey", "path"]),
]


def _plain(value):
    """A SCALE-decoded object's Python value (query_map yields either)."""
    return getattr(value, "value", value)


def import_sdk():
    import bittensor

    return bittensor


def _hotkey_address(wallet) -> str:
    """The wallet's hotkey ss58 address; ValueError when it does not load, with a
    message that quotes nothing of the file (the SDK's own can quote a key)."""
    try:
        return wallet.hotkey.ss58_address
    except Exception as error:
        raise ValueError(f"its content does not load as a hotkey ({type(error).__name__}; "
                         f"the SDK's message is not shown, it may quote the key)") from None


def quiet_sdk() -> None:
    """Turn the SDK's own console logging off: a failed extrinsic logs its message
    there, and the commit command says it once, in its own line."""
    import bittensor

    bittensor.logging.off()


def wallet_hotkey_address(name: str, hotkey: str, path: str) -> str:
    """The ss58 address of a wallet's hotkey, read by the SDK (wallet.check_wallet's
    loader); ValueError with a message that quotes no key material."""
    import bittensor as bt

    wallet = bt.Wallet(name=name, hotkey=hotkey, path=path)
    try:
        encrypted = wallet.hotkey_file.is_encrypted()
    except Exception as error:
        raise ValueError(f"its content cannot be read ({type(error).__name__})") from None
    if encrypted:  # the SDK would ask for a password on stdin
        raise ValueError("the hotkey file is encrypted: the bridge runs unattended and "
                         "cannot enter a password")
    return _hotkey_address(wallet)


class SdkChain(Chain):
    def __init__(self, network: str, wallet_name: Optional[str] = None,
                 wallet_hotkey: Optional[str] = None, wallet_path: Optional[str] = None):
        import bittensor as bt  # imported here so the rest of the bridge runs without it

        from bittensor.core.chain_data.utils import decode_metadata

        self._decode_metadata = decode_metadata
        self.subtensor = bt.Subtensor(network=network)
        self.wallet = None
        if wallet_name is not None:
            # The SDK reads the wallet files; the bridge never touches or logs keys.
            self.wallet = bt.Wallet(name=wallet_name, hotkey=wallet_hotkey, path=wallet_path)

    def current_block(self) -> int:
        return int(self.subtensor.get_current_block())

    def block_hash(self, block: int) -> str:
        return str(self.subtensor.get_block_hash(block=block))

    def hotkey_address(self) -> Optional[str]:
        return None if self.wallet is None else _hotkey_address(self.wallet)  # public only

    def neurons(self, netuid: int, block: int) -> list[NeuronRow]:
        mg = self.subtensor.metagraph(netuid=netuid, mechid=0, lite=True, block=block)
        n = len(mg.hotkeys)
        rows = [NeuronRow(uid=int(mg.uids[i]), hotkey=str(mg.hotkeys[i]),
                          stake=max(0.0, float(mg.S[i])),
                          validator_permit=bool(mg.validator_permit[i])) for i in range(n)]
        # Sparse (uid, u16) rows, only for neurons that set weights.
        for uid, pairs in self.subtensor.weights(netuid=netuid, mechid=0, block=block):
            if 0 <= uid < n and pairs:
                row = [0.0] * n
                for target, value in pairs:
                    if 0 <= target < n:
                        row[target] = float(value) / U16_MAX
                rows[uid].weights = row
        return rows

    def commitments(self, netuid: int, block: int) -> dict[str, Commitment]:
        result = {}
        query = self.subtensor.query_map(module="Commitments", name="CommitmentOf",
                                         params=[netuid], block=block)
        for key, value in query:
            hotkey, value = str(_plain(key)), _plain(value)
            try:
                text = self._decode_metadata(value)
                result[hotkey] = Commitment(text, int(value["block"]))
            except Exception as error:  # one bad record must not hide the others
                log.warning("commitment of %s does not decode: %s", hotkey, error)
        return result

    def own_uid(self, netuid: int) -> Optional[int]:
        if self.wallet is None:
            return None
        return self.subtensor.get_uid_for_hotkey_on_subnet(hotkey_ss58=self.hotkey_address(),
                                                           netuid=netuid)

    def weights_rate_limit(self, netuid: int) -> Optional[int]:
        return self.subtensor.weights_rate_limit(netuid=netuid)

    def blocks_since_last_update(self, netuid: int, uid: int) -> Optional[int]:
        return self.subtensor.blocks_since_last_update(netuid=netuid, uid=uid)

    def set_weights(self, netuid: int, uids: list[int], weights: list[float],
                    version_key: int) -> SubmitResult:
        if self.wallet is None:
            return SubmitResult(False, "no wallet configured (--wallet.name)")
        # Commit-reveal: the SDK commits instead of setting when the subnet has it on.
        # max_attempts=1: the bridge does its own retries with backoff.
        response = self.subtensor.set_weights(
            wallet=self.wallet, netuid=netuid, uids=uids, weights=weights,
            version_key=version_key, max_attempts=1, wait_for_inclusion=True,
            wait_for_finalization=False)
        return SubmitResult(bool(response.success), str(response.message or ""))

    def commit(self, netuid: int, commitment: str) -> SubmitResult:
        if self.wallet is None:
            return SubmitResult(False, "no wallet configured (--wallet.name)")
        # Signed by the hotkey; Commitments.set_commitment with a Raw<len> field.
        # Waits for finalization: a finalized commitment is what validators read.
        response = self.subtensor.set_commitment(
            wallet=self.wallet, netuid=netuid, data=commitment, wait_for_inclusion=True,
            wait_for_finalization=True)
        return SubmitResult(bool(response.success), str(response.message or ""))
