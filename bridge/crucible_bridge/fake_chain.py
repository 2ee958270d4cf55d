"""An in-memory Chain for the tests: commitments and weights round-trip."""

from __future__ import annotations

import hashlib
from typing import Optional

from .chain import Chain, Commitment, NeuronRow, SubmitResult


class FakeChain(Chain):
    def __init__(self, block: int = 1000, rate_limit: int = 0):
        self.block = block
        self.rate_limit = rate_limit
        self.rows: list[NeuronRow] = []
        self.commits: dict[str, Commitment] = {}
        self.own_hotkey: Optional[str] = None  # the wallet's hotkey address
        self.fork = ""  # salts every block hash: set it to model a fork (another history)
        self.last_update: dict[int, int] = {}
        self.submitted: list[tuple[list[int], list[float], int, int]] = []  # uids, weights, key, block
        self.fail_next = 0  # number of coming set_weights calls that fail
        self.raise_next = 0  # number of coming set_weights calls that raise
        self.commit_error: Optional[str] = None  # the next commit fails with this message

    def add_neuron(self, hotkey: str, stake: float = 0.0, permit: bool = False) -> int:
        uid = len(self.rows)
        self.rows.append(NeuronRow(uid, hotkey, stake, permit))
        return uid

    def set_commitment(self, hotkey: str, text: str) -> None:
        """Any hotkey's commitment, as if that miner had committed it now."""
        self.commits[hotkey] = Commitment(text, self.block)

    def current_block(self) -> int:
        return self.block

    def block_hash(self, block: int) -> str:
        if block > self.block:
            raise ValueError(f"fake: block {block} does not exist yet (at {self.block})")
        return "0x" + hashlib.sha256(f"fake-block:{self.fork}:{block}".encode()).hexdigest()

    def hotkey_address(self) -> Optional[str]:
        return self.own_hotkey

    def neurons(self, netuid: int, block: int) -> list[NeuronRow]:
        return [NeuronRow(r.uid, r.hotkey, r.stake, r.validator_permit,
                          list(r.weights) if r.weights is not None else None) for r in self.rows]

    def commitments(self, netuid: int, block: int) -> dict[str, Commitment]:
        return dict(self.commits)

    def own_uid(self, netuid: int) -> Optional[int]:
        for row in self.rows:
            if row.hotkey == self.own_hotkey:
                return row.uid
        return None

    def weights_rate_limit(self, netuid: int) -> Optional[int]:
        return self.rate_limit

    def blocks_since_last_update(self, netuid: int, uid: int) -> Optional[int]:
        return self.block - self.last_update.get(uid, 0)

    def set_weights(self, netuid, uids, weights, version_key) -> SubmitResult:
        if self.raise_next:
            self.raise_next -= 1
            raise ConnectionError("fake: connection lost")
        if self.fail_next:
            self.fail_next -= 1
            return SubmitResult(False, "fake: transaction failed")
        uid = self.own_uid(netuid)
        if uid is None:
            return SubmitResult(False, "fake: hotkey not registered")
        if self.block - self.last_update.get(uid, 0) <= self.rate_limit:
            return SubmitResult(False, "fake: rate limited")
        self.submitted.append((list(uids), list(weights), version_key, self.block))
        self.last_update[uid] = self.block
        row = [0.0] * len(self.rows)
        for u, w in zip(uids, weights):
            if 0 <= u < len(row):
                row[u] = float(w)
        self.rows[uid].weights = row
        return SubmitResult(True, "fake: included")

    def commit(self, netuid: int, commitment: str) -> SubmitResult:
        """The wallet's hotkey commits, when registered (the chain's rule)."""
        if self.commit_error is not None:
            message, self.commit_error = self.commit_error, None
            return SubmitResult(False, message)
        if self.own_uid(netuid) is None:
            return SubmitResult(False, "fake: hotkey not registered")
        self.set_commitment(self.own_hotkey, commitment)
        return SubmitResult(True, "fake: included")
