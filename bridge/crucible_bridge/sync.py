"""Chain to directory: metagraph.json and commitments.json, in the format
crucible's local chain reads (README.md, "Local chain")."""

from __future__ import annotations

import logging
import math
import os
import time
from typing import Callable

from .chain import Chain
from .files import atomic_write_json

log = logging.getLogger("crucible_bridge.sync")

SECONDS_PER_BLOCK = 12
METAGRAPH_FILE = "metagraph.json"
COMMITMENTS_FILE = "commitments.json"


class SyncError(Exception):
    pass


def metagraph_document(netuid: int, block: int, when: float, neurons) -> dict:
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
            "time": when, "neurons": rows}


def sync_once(chain: Chain, chain_dir: str, netuid: int,
              clock: Callable[[], float] = time.time) -> int:
    """Read the subnet at the current block and replace both files; returns the block.

    commitments.json is replaced first, so a hotkey new in metagraph.json has
    its commitment there already. Only registered hotkeys' commitments are kept."""
    block = chain.current_block()
    when = clock()  # the unix time at which `block` was current (as near as we can tell)
    neurons = chain.neurons(netuid, block)
    commitments = chain.commitments(netuid, block)
    metagraph = metagraph_document(netuid, block, when, neurons)
    registered = {n["hotkey"] for n in metagraph["neurons"]}
    committed = {hotkey: {"commitment": c.commitment, "block": int(c.block)}
                 for hotkey, c in sorted(commitments.items()) if hotkey in registered}
    os.makedirs(chain_dir, exist_ok=True)
    atomic_write_json(os.path.join(chain_dir, COMMITMENTS_FILE), committed)
    atomic_write_json(os.path.join(chain_dir, METAGRAPH_FILE), metagraph)
    log.info("synced netuid %d at block %d: %d neurons, %d commitments",
             netuid, block, len(metagraph["neurons"]), len(committed))
    return block
