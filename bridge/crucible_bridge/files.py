"""File helpers: atomic JSON writes, appending records, tailing a JSONL file."""

from __future__ import annotations

import json
import os
import tempfile


def atomic_write_json(path: str, document) -> None:
    """Write to a temp file in the same directory, fsync, rename over path."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(document, f, separators=(",", ":"))
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


def append_record(path: str, record: dict) -> None:
    """Append one JSON line and fsync it before returning."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, separators=(",", ":")) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_records(path: str) -> list[dict]:
    """The complete, parseable lines of a JSONL file we wrote (a torn last line is dropped)."""
    records = []
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return records
    for raw in data.split(b"\n")[:-1]:  # the part after the last newline is incomplete
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


class JsonlTail:
    """Yields the complete new lines of an append-only file as (line_number, text).

    Line numbers are 1-based. A last line without its newline yet is left for
    the next call. If the file shrinks (replaced or truncated), it is read again
    from the start."""

    def __init__(self, path: str):
        self.path = path
        self.offset = 0
        self.line_number = 0

    def read_new(self) -> list[tuple[int, str]]:
        try:
            with open(self.path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < self.offset:
                    self.offset, self.line_number = 0, 0
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n")
        if end < 0:
            return []
        lines = []
        for raw in data[:end].split(b"\n"):
            self.line_number += 1
            lines.append((self.line_number, raw.decode("utf-8", errors="replace")))
        self.offset += end + 1
        return lines
