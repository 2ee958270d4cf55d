#!/usr/bin/python3
"""A validator reads a native model's weights once, not every round.

Usage: validator_resident_weights_test.py CRUCIBLE_BINARY

A real validator (two native baselines, a local chain and hub; the block moved
by the test, one task window at a time) runs three windows:
  1. the first window reads both models' weights: its metrics line reports
     weight_bytes_read equal to the tensor bytes of both model.safetensors
     (each file's size less its 8-byte length and JSON header);
  2. the next window runs both unchanged models again on new data, each ok,
     reading no weight byte (they stayed resident; their inspections too);
  3. miner 1 commits a changed model (its weights scaled): the third window
     reads that model's tensor bytes and nothing else (the old version may
     run once more before the new one is installed, reading nothing).
"""
import json
import os
import struct
import sys
import tempfile

from oracle import Report, binary_from_argv
from validator_harness import (NativeSetup, WINDOW, commitment, ran_rows, read_lines, wait_for,
                               write_json)

WAIT = 120  # seconds, at most, for a step (CI machines are slow)


def tensor_bytes(path):
    """The bytes of a safetensors file's data buffer: what loading its tensors reads."""
    with open(path, "rb") as f:
        header_length = struct.unpack("<Q", f.read(8))[0]
    return os.path.getsize(path) - 8 - header_length


def scaled_safetensors(path, factor):
    """The file's bytes with every float32 value multiplied by `factor`."""
    with open(path, "rb") as f:
        data = f.read()
    header_length = struct.unpack("<Q", data[:8])[0]
    start = 8 + header_length
    count = (len(data) - start) // 4
    values = struct.unpack("<%df" % count, data[start:start + 4 * count])
    return data[:start] + struct.pack("<%df" % count, *(v * factor for v in values))


def main():
    crucible = binary_from_argv()
    report = Report()
    with tempfile.TemporaryDirectory(prefix="crucible-resident-") as root:
        setup = NativeSetup(crucible, root, seconds_per_block=0)
        metrics = os.path.join(root, "state", "metrics.jsonl")
        files = {name: os.path.join(setup.hub, "ns", name.split("_", 1)[1].replace("_", "-"),
                                    "c%d" % uid, "model.safetensors")
                 for uid, name in enumerate(NativeSetup.NATIVE, start=1)}
        validator = setup.start(os.path.join(root, "state"), os.path.join(root, "log"))
        try:
            # A window's models may run over several steps (as they install).
            def window_lines(window):
                return [line for line in read_lines(metrics) if line["window"] == window]

            def ran_in(window):
                return {m["uid"]: m["status"] for line in window_lines(window)
                        for m in ran_rows(line)}

            def bytes_in(window):
                return sum(line.get("weight_bytes_read", 0) for line in window_lines(window))

            first = setup.FIRST_BLOCK
            report.check("window 1 ran both models",
                         wait_for(lambda: ran_in(first) == {1: "ok", 2: "ok"}, WAIT))
            expected = sum(tensor_bytes(path) for path in files.values())
            report.check("window 1 read both models' tensors (%d bytes, expected %d)"
                         % (bytes_in(first), expected), bytes_in(first) == expected)

            second = first + WINDOW
            setup.set_block(second)
            report.check("window 2 ran both unchanged models again",
                         wait_for(lambda: ran_in(second) == {1: "ok", 2: "ok"}, WAIT))
            report.check("window 2 read no weight byte (%d)" % bytes_in(second),
                         bytes_in(second) == 0)

            # Miner 1 commits a changed model: its weights scaled by 0.5.
            name = NativeSetup.NATIVE[0]
            repo = name.split("_", 1)[1].replace("_", "-")
            changed = {"config.json": open(files[name].replace("model.safetensors",
                                                               "config.json"), "rb").read(),
                       "model.safetensors": scaled_safetensors(files[name], 0.5)}
            folder = os.path.join(setup.hub, "ns", repo, "c9")
            os.makedirs(folder)
            for file, data in changed.items():
                with open(os.path.join(folder, file), "wb") as f:
                    f.write(data)
            commitments_path = os.path.join(setup.chain, "commitments.json")
            commitments = {"miner1": {"commitment": commitment(repo, "c9", changed, "miner1"),
                                      "block": second + 1},
                           "miner2": read_commitment(commitments_path, "miner2")}
            # The block moves first: a commitment is never from a block the
            # chain has not reached.
            setup.set_block(second + WINDOW)
            write_json(commitments_path, commitments)
            # The window may start before the new model is installed: the old
            # one then runs first (reading nothing), the new one in a later step.
            later_reads = lambda: bytes_in(second + WINDOW)  # noqa: E731
            report.check("the changed model ran", wait_for(lambda: later_reads() > 0, WAIT))
            changed_bytes = len(changed["model.safetensors"]) - (os.path.getsize(files[name])
                                                                 - tensor_bytes(files[name]))
            report.check("window 3 read only the changed model (%d bytes, expected %d)"
                         % (later_reads(), changed_bytes), later_reads() == changed_bytes)
        finally:
            validator.terminate()
            validator.wait(30)
    report.finish()


def read_commitment(path, hotkey):
    with open(path) as f:
        return json.load(f)[hotkey]


if __name__ == "__main__":
    main()
