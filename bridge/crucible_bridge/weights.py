"""Weights to chain: tail DIR/weights.jsonl and submit each new entry once.

Only entries whose "hotkey" is the wallet's own hotkey address are ours to
submit: the validator writes its hotkey (crucible validator --hotkey) into
every line, so the lines of another validator on the same folder, or of one
started without --hotkey, are never sent with our wallet.

An entry is known by its content, not its place in the file: its key is
  "sha256:" + the lowercase hex SHA-256 of the line's exact bytes (UTF-8),
  without the trailing newline
(entry_key). A line carries its block and time, so equal keys mean the same
entry. The validator computes the same key for the line it wrote, to find out
whether its latest weights reached the chain. Because of the key, rotating
weights.jsonl (renamed away, a new file started), truncating it, or a restart
neither loses an entry nor sends one twice (files.JsonlTail follows the file).

Every outcome is appended to DIR/weights-submitted.jsonl, one JSON object a
line: {"key", "line", "entry_block", "block", "success", "status", "message",
"time"}; "line" is the line number in the file it was read from (for people:
it starts again at 1 after a rotation), "entry_block" the entry's own "block"
(null when it has none or the line is malformed), "block" the chain's block
at the set-weights call (else null). status is one of
  submitting  written (fsynced) just before the set-weights call
  submitted   the SDK reported success                       (final)
  failed      the call failed or raised; retried with backoff
  superseded  a newer entry arrived before this one was sent (final)
  malformed   the line is not a valid entry; skipped          (final)
  not-ours    another hotkey's line, or one without a hotkey (final)
  unknown     the bridge stopped during the call; not resent (final)
On start the last record per key decides: final entries are never sent again
(at most once, even across a crash), failed ones are retried. Records without
a "key" (written by an older bridge, which counted lines) are ignored."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from typing import Callable, Optional

from .chain import Chain, SubmitResult
from .files import JsonlTail, append_record, read_records
from .sync import SECONDS_PER_BLOCK

log = logging.getLogger("crucible_bridge.weights")

WEIGHTS_FILE = "weights.jsonl"
SUBMITTED_FILE = "weights-submitted.jsonl"
FINAL = {"submitted", "superseded", "malformed", "not-ours", "unknown"}


def entry_key(raw: bytes) -> str:
    """The content key of a weights.jsonl line (its bytes without the newline)."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def parse_entry(text: str) -> dict:
    """A weights.jsonl entry, checked; raises ValueError naming what is wrong.
    Its "block" is the line's integer "block", or None."""
    entry = json.loads(text)
    if not isinstance(entry, dict):
        raise ValueError("expected a JSON object")
    uids, weights = entry.get("uids"), entry.get("weights")
    if not isinstance(uids, list) or not all(isinstance(u, int) and not isinstance(u, bool)
                                             and u >= 0 for u in uids):
        raise ValueError("uids: expected an array of integers >= 0")
    if len(set(uids)) != len(uids):
        raise ValueError("uids: a uid repeats")
    if not isinstance(weights, list) or not all(
            isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w)
            and w >= 0 for w in weights):
        raise ValueError("weights: expected an array of finite numbers >= 0")
    if len(uids) != len(weights):
        raise ValueError(f"{len(uids)} uids but {len(weights)} weights")
    key = entry.get("version_key", 0)
    if not isinstance(key, int) or isinstance(key, bool) or key < 0:
        raise ValueError("version_key: expected an integer >= 0")
    hotkey = entry.get("hotkey")
    if hotkey is not None and not isinstance(hotkey, str):
        raise ValueError("hotkey: expected a string or null")
    block = entry.get("block")
    if not isinstance(block, int) or isinstance(block, bool):
        block = None
    return {"uids": uids, "weights": [float(w) for w in weights], "version_key": key,
            "block": block, "hotkey": hotkey}


def not_ours(entry: dict, own_hotkey: str) -> Optional[str]:
    """Why the entry is not ours to submit, or None when it is."""
    hotkey = entry["hotkey"]
    if not hotkey:
        return (f"it names no hotkey, so it is not ours ({own_hotkey}): the validator "
                f"must be started with its hotkey (--hotkey {own_hotkey})")
    if hotkey != own_hotkey:
        return f"it is hotkey {hotkey}'s line, not ours ({own_hotkey})"
    return None


class WeightsSubmitter:
    def __init__(self, chain: Chain, chain_dir: str, netuid: int,
                 clock: Callable[[], float] = time.time,
                 backoff_base: float = SECONDS_PER_BLOCK, backoff_max: float = 600.0):
        self.chain, self.netuid, self.clock = chain, netuid, clock
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self.tail = JsonlTail(os.path.join(chain_dir, WEIGHTS_FILE))
        self.log_path = os.path.join(chain_dir, SUBMITTED_FILE)
        # key -> (line number, entry) of our unsent entries, in the order read.
        self.pending: dict[str, tuple[int, dict]] = {}
        self.failures = 0  # failed attempts since the last success (sets the backoff)
        self.next_attempt = 0.0
        # The outcome of the latest set-weights call: {"time", "key", "entry_block",
        # "block", "status" ("submitted" or "failed"), "message"}, or None.
        self.last_submission: Optional[dict] = None
        self.done = self._load()

    def close(self) -> None:
        self.tail.close()

    def _load(self) -> set[str]:
        """The keys whose last record is final; a "submitting" last becomes "unknown"."""
        last: dict[str, dict] = {}
        keyless = 0
        for record in read_records(self.log_path):
            if isinstance(record.get("key"), str):
                last[record["key"]] = record
            else:
                keyless += 1
        if keyless:
            log.warning("%s: %d records without a key (from an older bridge) are ignored",
                        self.log_path, keyless)
        for key, record in last.items():
            if record.get("status") == "submitting":
                log.warning("weights.jsonl entry %s: the bridge stopped while submitting it; "
                            "the outcome is unknown and it is not sent again", key)
                self._record(key, record.get("line"), record.get("entry_block"), None, False,
                             "unknown", "stopped during submission")
                record["status"] = "unknown"
        return {key for key, r in last.items() if r.get("status") in FINAL}

    def _record(self, key: str, line: Optional[int], entry_block: Optional[int],
                block: Optional[int], success: bool, status: str, message: str) -> None:
        append_record(self.log_path, {"key": key, "line": line, "entry_block": entry_block,
                                      "block": block, "success": success, "status": status,
                                      "message": message, "time": self.clock()})

    def _read_new(self) -> None:
        own_hotkey = self.chain.hotkey_address()
        if not own_hotkey:  # before reading: the lines wait for a wallet that has a hotkey
            raise RuntimeError("the wallet's hotkey address is unknown: cannot tell our "
                               "weights.jsonl lines from others'")
        for line, raw in self.tail.read_new():
            key = entry_key(raw)
            if key in self.done:
                continue
            try:
                entry = parse_entry(raw.decode("utf-8"))
            except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                log.warning("weights.jsonl line %d is malformed, skipped: %s", line, error)
                self._record(key, line, None, None, False, "malformed", str(error))
                self.done.add(key)
                continue
            reason = not_ours(entry, own_hotkey)
            if reason:
                log.warning("weights.jsonl line %d skipped: %s", line, reason)
                self._record(key, line, entry["block"], None, False, "not-ours", reason)
                self.done.add(key)
                continue
            self.pending.pop(key, None)  # read again (a truncated file): now the newest
            self.pending[key] = (line, entry)

    def poll(self) -> Optional[str]:
        """One step: read new lines, submit the newest pending entry if due.

        Returns the key of the entry submitted successfully, else None."""
        self._read_new()
        if not self.pending:
            return None
        *older, latest = self.pending
        for key in older:
            line, entry = self.pending.pop(key)
            log.info("weights.jsonl line %d superseded by %s", line, latest)
            self._record(key, line, entry["block"], None, False, "superseded",
                         f"superseded by {latest}")
            self.done.add(key)
        now = self.clock()
        if now < self.next_attempt:
            return None
        line, entry = self.pending[latest]
        try:
            block, wait_blocks = self._rate_limit_wait()
        except Exception as error:
            self._fail(latest, line, entry, None, f"chain query failed: {error}")
            return None
        if wait_blocks > 0:
            self.next_attempt = now + wait_blocks * SECONDS_PER_BLOCK
            log.info("weights.jsonl line %d waits for the rate limit: %d blocks",
                     line, wait_blocks)
            return None
        self._record(latest, line, entry["block"], block, False, "submitting", "")
        try:
            result = self.chain.set_weights(self.netuid, entry["uids"], entry["weights"],
                                            entry["version_key"])
        except Exception as error:
            result = SubmitResult(False, f"{type(error).__name__}: {error}")
        status = "submitted" if result.success else "failed"
        self.last_submission = {"time": self.clock(), "key": latest,
                                "entry_block": entry["block"], "block": block,
                                "status": status, "message": result.message}
        if not result.success:
            self._fail(latest, line, entry, block, result.message)
            return None
        self._record(latest, line, entry["block"], block, True, "submitted", result.message)
        log.info("weights.jsonl line %d (%s) submitted at block %s", line, latest, block)
        self.done.add(latest)
        del self.pending[latest]
        self.failures, self.next_attempt = 0, 0.0
        return latest

    def _rate_limit_wait(self) -> tuple[int, int]:
        """(current block, blocks to wait before set_weights may go through)."""
        block = self.chain.current_block()
        uid = self.chain.own_uid(self.netuid)
        if uid is None:
            return block, 0  # not registered: let the call fail and say so
        limit = self.chain.weights_rate_limit(self.netuid)
        since = self.chain.blocks_since_last_update(self.netuid, uid)
        if not limit or since is None or since > limit:
            return block, 0
        return block, limit - since + 1

    def _fail(self, key: str, line: int, entry: dict, block: Optional[int],
              message: str) -> None:
        self.failures += 1
        delay = min(self.backoff_base * 2 ** (self.failures - 1), self.backoff_max)
        self.next_attempt = self.clock() + delay
        log.warning("weights.jsonl line %d: submission failed (%s); retry in %.0f s",
                    line, message, delay)
        self._record(key, line, entry["block"], block, False, "failed", message)
