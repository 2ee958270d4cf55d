"""DIR/bridge.json, the bridge's heartbeat, and the check that reads it
(python -m crucible_bridge --check-health). This module imports no SDK, so
the check starts fast.

bridge.json is replaced atomically after every sync attempt (a failed
connection at start counts as one) and every weights poll; the validator
reads it too, so the names are fixed (version 1):
  {"version": 1, "pid": int, "time": unix time written, "started": unix time,
   "sync": {"interval_seconds": float, "last_attempt_time": float|null,
            "last_ok_time": float|null, "last_ok_block": int|null,
            "last_error": str|null, "consecutive_failures": int},
   "weights": {"enabled": bool, "hotkey": str|null, "last_poll_time": float|null,
               "pending": int, "consecutive_failures": int,
               "last_submission": null | {"time": float, "key": str,
                   "entry_block": int|null, "block": int|null,
                   "status": "submitted"|"failed", "message": str}}}
sync.last_error is the latest attempt's error (null once one succeeds), one
line. weights.consecutive_failures counts the failed submission attempts since
the last success plus the polls in a row that raised (e.g. an unreadable
wallet). last_submission is the outcome of the latest set-weights call."""

from __future__ import annotations

import json
import logging
import math
import os
import time
from typing import Callable, Optional

from .files import atomic_write_json

log = logging.getLogger("crucible_bridge.health")

HEALTH_FILE = "bridge.json"
VERSION = 1
DEFAULT_MAX_AGE = 180.0  # seconds, when bridge.json records no sync interval
INTERVALS_OF_AGE = 3  # by default, healthy means a good sync within 3 sync intervals
ERROR_CHARS = 300


def one_line(error: BaseException) -> str:
    """"Type: message" on one line, at most ERROR_CHARS characters."""
    text = " ".join(f"{type(error).__name__}: {error}".split())
    return text if len(text) <= ERROR_CHARS else text[:ERROR_CHARS - 3] + "..."


class Heartbeat:
    """The state bridge.json reports; each update writes the file."""

    def __init__(self, chain_dir: str, sync_interval: float, weights_enabled: bool,
                 hotkey: Optional[str] = None, clock: Callable[[], float] = time.time):
        self.chain_dir = chain_dir
        self.path = os.path.join(chain_dir, HEALTH_FILE)
        self.clock = clock
        self.started = clock()
        self.sync = {"interval_seconds": float(sync_interval), "last_attempt_time": None,
                     "last_ok_time": None, "last_ok_block": None, "last_error": None,
                     "consecutive_failures": 0}
        self.weights = {"enabled": weights_enabled, "hotkey": hotkey, "last_poll_time": None,
                        "pending": 0, "consecutive_failures": 0, "last_submission": None}
        self.poll_errors = 0  # weights polls in a row that raised

    def synced(self, block: Optional[int], error: Optional[BaseException] = None) -> None:
        """After a sync attempt: the block synced, or the error."""
        now = self.clock()
        self.sync["last_attempt_time"] = now
        if error is None:
            self.sync.update(last_ok_time=now, last_ok_block=block, last_error=None,
                             consecutive_failures=0)
        else:
            self.sync["last_error"] = one_line(error)
            self.sync["consecutive_failures"] += 1
        self.write()

    def polled(self, submitter, error: Optional[BaseException] = None) -> None:
        """After a weights poll of `submitter` (a WeightsSubmitter) that returned or raised."""
        self.poll_errors = self.poll_errors + 1 if error is not None else 0
        self.weights.update(last_poll_time=self.clock(), pending=len(submitter.pending),
                            consecutive_failures=submitter.failures + self.poll_errors,
                            last_submission=submitter.last_submission)
        self.write()

    def document(self) -> dict:
        return {"version": VERSION, "pid": os.getpid(), "time": self.clock(),
                "started": self.started, "sync": dict(self.sync),
                "weights": dict(self.weights)}

    def write(self) -> None:
        """Replace bridge.json; a failure is logged, never fatal."""
        try:
            os.makedirs(self.chain_dir, exist_ok=True)
            atomic_write_json(self.path, self.document())
        except OSError as error:
            log.error("cannot write %s: %s", self.path, error)


def _number(value) -> Optional[float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def check_health(chain_dir: str, max_age: Optional[float] = None,
                 now: Optional[float] = None) -> tuple[bool, str]:
    """(healthy, one line saying why) from DIR/bridge.json: healthy when it was
    written and a sync succeeded, both within max_age seconds (default: 3 sync
    intervals as recorded there, else DEFAULT_MAX_AGE)."""
    path = os.path.join(chain_dir, HEALTH_FILE)
    now = time.time() if now is None else now
    try:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
    except FileNotFoundError:
        return False, f"unhealthy: no {path} yet"
    except (OSError, ValueError) as error:
        return False, f"unhealthy: cannot read {path}: {one_line(error)}"
    if not isinstance(document, dict) or document.get("version") != VERSION:
        return False, f"unhealthy: {path} is not a version {VERSION} bridge.json"
    sync = document.get("sync") if isinstance(document.get("sync"), dict) else {}
    if max_age is None:
        interval = _number(sync.get("interval_seconds"))
        max_age = INTERVALS_OF_AGE * interval if interval and interval > 0 else DEFAULT_MAX_AGE
    written = _number(document.get("time"))
    if written is None:
        return False, f"unhealthy: {path} has no heartbeat time"
    if now - written > max_age:
        return False, f"unhealthy: heartbeat {now - written:.0f} s old (max {max_age:.0f} s)"
    error = sync.get("last_error") or "no error recorded"
    last_ok = _number(sync.get("last_ok_time"))
    if last_ok is None:
        return False, f"unhealthy: no good sync yet: {error}"
    if now - last_ok > max_age:
        return False, (f"unhealthy: last good sync {now - last_ok:.0f} s ago "
                       f"(max {max_age:.0f} s): {error}")
    return True, (f"healthy: heartbeat {max(0.0, now - written):.0f} s old, last good sync "
                  f"{max(0.0, now - last_ok):.0f} s ago at block {sync.get('last_ok_block')}")
