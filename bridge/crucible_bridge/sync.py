"""Chain to directory: metagraph.json and commitments.json, in the format
crucible's local chain reads (README.md, "Local chain").

metagraph.json carries "block_hashes": the chain's hashes of the last
SEED_WINDOWS window-start blocks (multiples of the seed cadence) at or below
the current block. The validator's round seed for a window is derived from its
first block's hash, so nobody can compute a round's tasks before that block
exists."""

from __future__ import annotations

import logging
import math
import os
import re
import time
from typing import Callable

from .chain import Chain
from .files import atomic_write_json

log = logging.getLogger("crucible_bridge.sync")

SECONDS_PER_BLOCK = 12
SEED_CADENCE = 150  # the validator's: a round's seed comes from the block at its window start
SEED_WINDOWS = 4  # the current window's first block and the 3 before it
HEX_HASH = re.compile(r"(0[xX])?([0-9a-fA-F]{2}){1,64}")  # what crucible accepts
METAGRAPH_FILE = "metagraph.json"
COMMITMENTS_FILE = "commitments.json"


class SyncError(Exception):
    pass


def seed_blocks(block: int, cadence: int) -> list[int]:
    """The window-start blocks whose hashes metagraph.json carries, newest first."""
    if cadence <= 0:
        raise ValueError(f"seed cadence {cadence}: expected an integer > 0")
    first = block - block % cadence
    return [first - k * cadence for k in range(SEED_WINDOWS) if first - k * cadence >= 0]


def block_hashes(chain: Chain, block: int, cadence: int) -> dict[str, str]:
    """{"<block>": "<hash>"} for seed_blocks(); SyncError for a hash crucible would reject."""
    hashes = {}
    for seed_block in seed_blocks(block, cadence):
        value = chain.block_hash(seed_block)
        if not isinstance(value, str) or not HEX_HASH.fullmatch(value):
            raise SyncError(f"block {seed_block}: the chain returned no usable hash ({value!r})")
        hashes[str(seed_block)] = value
    return hashes


def metagraph_document(netuid: int, block: int, when: float, neurons,
                       hashes: dict[str, str]) -> dict:
    """The metagraph.json object; raises SyncError where crucible would reject it."""
    rows, hotkeys = [], set()
    for n in sorted(neurons, key=lambda n: n.uid):
        if not n.hotkey or n.hotkey in hotkeys:
            raise SyncError(f"uid {n.uid}: empty or duplicate hotkey {n.hotkey!r}")
        hotkeys.add(n.hotkey)
        if not math.isfinite(n.stake) or n.stake < 0:
            raise SyncError(f"uid {n.uid}: stake {n.stake} is not a finite number >= 0")
        row = {"uid": n.uid, "hotkey": n.hotkey, "stake": n.stake,
               "validator_permit": bool(n.validator_permit)}
        if n.validator_permit and n.weights:
            row["weights"] = [w if math.isfinite(w) and w > 0 else 0.0 for w in n.weights]
        rows.append(row)
    if [r["uid"] for r in rows] != list(range(len(rows))):
        raise SyncError("the uids are not exactly 0..n-1")
    return {"netuid": netuid, "block": block, "seconds_per_block": SECONDS_PER_BLOCK,
            "time": when, "block_hashes": hashes, "neurons": rows}


def sync_once(chain: Chain, chain_dir: str, netuid: int,
              clock: Callable[[], float] = time.time, seed_cadence: int = SEED_CADENCE) -> int:
    """Read the subnet at the current block and replace both files; returns the block.

    commitments.json is replaced first, so a hotkey new in metagraph.json has
    its commitment there already. Only registered hotkeys' commitments are kept.
    Every sync reads the window starts' hashes anew, so a hash that a fork
    replaced is replaced in the file too."""
    block = chain.current_block()
    when = clock()  # the unix time at which `block` was current (as near as we can tell)
    hashes = block_hashes(chain, block, seed_cadence)
    neurons = chain.neurons(netuid, block)
    commitments = chain.commitments(netuid, block)
    metagraph = metagraph_document(netuid, block, when, neurons, hashes)
    registered = {n["hotkey"] for n in metagraph["neurons"]}
    committed = {hotkey: {"commitment": c.commitment, "block": int(c.block)}
                 for hotkey, c in sorted(commitments.items()) if hotkey in registered}
    os.makedirs(chain_dir, exist_ok=True)
    atomic_write_json(os.path.join(chain_dir, COMMITMENTS_FILE), committed)
    atomic_write_json(os.path.join(chain_dir, METAGRAPH_FILE), metagraph)
    log.info("synced netuid %d at block %d: %d neurons, %d commitments, hashes of blocks %s",
             netuid, block, len(metagraph["neurons"]), len(committed), ", ".join(hashes))
    return block
