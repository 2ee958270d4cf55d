"""The chain calls the bridge makes, behind one small interface.

SdkChain (sdk_chain.py) implements it over the bittensor SDK; FakeChain
(fake_chain.py) implements it in memory for the tests."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Optional


@dataclass
class NeuronRow:
    uid: int
    hotkey: str
    stake: float
    validator_permit: bool
    # The dense weight row (index = uid) this neuron last set; None when it set none.
    weights: Optional[list[float]] = None


@dataclass
class Commitment:
    commitment: str
    block: int


@dataclass
class SubmitResult:
    success: bool
    message: str = ""


@dataclass
class Snapshot:
    """What one sync reads, all at one block."""

    block: int
    neurons: list[NeuronRow] = field(default_factory=list)
    commitments: dict[str, Commitment] = field(default_factory=dict)


class Chain(abc.ABC):
    @abc.abstractmethod
    def current_block(self) -> int: ...

    @abc.abstractmethod
    def block_hash(self, block: int) -> str:
        """The hash of `block` (hex, "0x"-prefixed or not) on the chain's best fork."""

    @abc.abstractmethod
    def neurons(self, netuid: int, block: int) -> list[NeuronRow]: ...

    @abc.abstractmethod
    def commitments(self, netuid: int, block: int) -> dict[str, Commitment]: ...

    @abc.abstractmethod
    def hotkey_address(self) -> Optional[str]:
        """The ss58 address of the configured wallet's hotkey, or None without a wallet."""

    @abc.abstractmethod
    def own_uid(self, netuid: int) -> Optional[int]:
        """The uid of the configured wallet's hotkey on the subnet, or None."""

    @abc.abstractmethod
    def weights_rate_limit(self, netuid: int) -> Optional[int]: ...

    @abc.abstractmethod
    def blocks_since_last_update(self, netuid: int, uid: int) -> Optional[int]: ...

    @abc.abstractmethod
    def set_weights(self, netuid: int, uids: list[int], weights: list[float],
                    version_key: int) -> SubmitResult: ...

    @abc.abstractmethod
    def commit(self, netuid: int, commitment: str) -> SubmitResult:
        """Publish `commitment` as the configured wallet's hotkey's commitment on the
        subnet (what commitments() then returns for that hotkey)."""

    def snapshot(self, netuid: int) -> Snapshot:
        block = self.current_block()
        return Snapshot(block, self.neurons(netuid, block), self.commitments(netuid, block))
