"""The model commitment a miner publishes, checked before it goes to the chain.

A commitment is `namespace/name:commit:secure_hash:competition_id`, as
`crucible models hash FOLDER --hotkey SS58 --repo ns/name --commit SHA` prints
it. check_commitment() refuses what the validator would refuse when it reads
the string back: ModelId::parse (validator/model_id.cpp) and the hubs'
repository check (validator/local_directory_hub.cpp, validator/http_hub.cpp;
docs/scoring.md section 7), the stricter of the two. Two rules are
the chain's and the SDK's: at most MAX_BYTES bytes (the Commitments pallet's
Raw0..Raw128 field, ModelId::kMaxCommitmentBytes), and ASCII only (the SDK
sizes the Raw field by the string's length in characters, not in bytes)."""

from __future__ import annotations

import re

MAX_BYTES = 128
SHOWN_CHARS = 64  # at most this much of the input in a message, like the validator
INT64_MAX = 2**63 - 1
# A hub namespace, name or commit, as the validator's hubs accept it.
SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


class CommitmentError(ValueError):
    """Why a commitment string is refused, in one line."""


def _quoted(text: str) -> str:
    shown = text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "..."
    return ascii(shown)  # one line, whatever the input holds


def _segment_problem(what: str, text: str) -> str | None:
    if not text:
        return f"empty {what}"
    if not SEGMENT.fullmatch(text):
        return (f"{what} {_quoted(text)} is not letters, digits, '.', '_', '-' not starting "
                f"with '.' (the validator's hubs refuse it)")
    return None


def check_commitment(text: str) -> str:
    """text, when the validator would accept it; CommitmentError saying why not."""

    def fail(reason: str):
        raise CommitmentError(f"invalid commitment {_quoted(text)}: {reason}")

    if not text.isascii():
        fail("not ASCII")
    if len(text) > MAX_BYTES:
        fail(f"{len(text)} bytes, the chain holds at most {MAX_BYTES}")
    fields = text.split(":")
    if len(fields) != 4:
        fail(f"expected 4 ':'-separated fields (namespace/name:commit:secure_hash:"
             f"competition_id), got {len(fields)}")
    repo, commit, secure_hash, competition = fields
    parts = repo.split("/")
    if len(parts) != 2:
        fail("repo id has no '/'" if len(parts) == 1 else "repo id has more than one '/'")
    for what, value in (("namespace", parts[0]), ("name", parts[1]), ("commit", commit)):
        problem = _segment_problem(what, value)
        if problem:
            fail(problem)
    if any(c.isspace() or not c.isprintable() for c in secure_hash):
        fail("the secure hash holds a space or a control character")
    if competition and not (competition.isdigit() and int(competition) <= INT64_MAX):
        fail("competition id is not a non-negative integer that fits in int64")
    return text

