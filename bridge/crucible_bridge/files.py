"""File helpers: atomic JSON writes, appending records, tailing a JSONL file."""

from __future__ import annotations

import json
import logging
import os
import tempfile

log = logging.getLogger("crucible_bridge.files")


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
    """Yields the complete new lines of an appended-to file as (line_number, raw
    bytes without the newline), and survives the file being rotated, truncated
    or missing for a while.

    The file being read stays open between calls. A last line without its
    newline yet is left for the next call. When the path names another file
    than the open one (rotated: renamed away, a new file started), the complete
    lines left in the old file are read first, then the new file from its
    start. When the open file shrinks (truncated), it is read again from its
    start. While the path names no file, the open one (if any) is still read.
    Line numbers are 1-based within the file read; after a rotation or a
    truncation they start again at 1."""

    def __init__(self, path: str):
        self.path = path
        self.file = None  # the open file, or None before the path first names one
        self.offset = 0  # bytes of self.file read, up to the end of its last complete line
        self.line_number = 0

    def read_new(self) -> list[tuple[int, bytes]]:
        lines = []
        if self.file is not None:
            # Looked at before reading: lines appended to the old file before
            # its rename are then read below, before we move on.
            rotated = self._path_names_another_file()
            lines += self._read_lines()
            if rotated:
                self._close_rotated()
        if self.file is None:
            try:
                self.file = open(self.path, "rb")
            except FileNotFoundError:
                return lines
            self.offset, self.line_number = 0, 0
            lines += self._read_lines()
        return lines

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def _path_names_another_file(self) -> bool:
        try:
            named = os.stat(self.path)
        except FileNotFoundError:
            return False  # no new file yet: keep reading the open one
        current = os.fstat(self.file.fileno())
        return (named.st_dev, named.st_ino) != (current.st_dev, current.st_ino)

    def _read_lines(self) -> list[tuple[int, bytes]]:
        """The complete lines of the open file past self.offset."""
        if os.fstat(self.file.fileno()).st_size < self.offset:
            log.info("%s was truncated: reading it again from its start", self.path)
            self.offset, self.line_number = 0, 0
        self.file.seek(self.offset)
        data = self.file.read()
        end = data.rfind(b"\n")
        if end < 0:
            return []
        lines = []
        for raw in data[:end].split(b"\n"):
            self.line_number += 1
            lines.append((self.line_number, raw))
        self.offset += end + 1
        return lines

    def _close_rotated(self) -> None:
        left = os.fstat(self.file.fileno()).st_size - self.offset
        if left > 0:
            log.warning("%s was replaced by a new file; the old one ends in %d bytes "
                        "without a newline, which are not read", self.path, left)
        else:
            log.info("%s was replaced by a new file: reading the new one from its start",
                     self.path)
        self.close()
