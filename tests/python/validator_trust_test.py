#!/usr/bin/python3
"""The validator's weights can be trusted after faults, end to end.

Usage: validator_trust_test.py CRUCIBLE_BINARY

On the demo's local chain (examples/make_demo_chain.py: a task window every
3 s, three TorchScript baselines and a broken model):
  - a validator killed with SIGKILL while a step runs leaves its round
    working folder in STATE/rounds (not in the system's temporary folder);
    the next start removes it and says how many it removed;
  - the current generation's ema.json truncated and 100 random bytes written
    into its models.json: the restart restores both from the previous
    generation, says so in plain UTF-8 warnings, holds the weights (no line
    is appended to weights.jsonl) until a window is scored, then releases
    them; the restored EMAs are the previous generation's, exactly;
  - a second validator on the same chain folder (its own state folder) exits
    at once with one line naming the first one's pid;
  - --hotkey is written into every weights line; a malformed one is refused.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from oracle import Report, binary_from_argv
from validator_harness import wait_for as harness_wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO_CHAIN = os.path.join(HERE, "..", "..", "examples", "make_demo_chain.py")
HOTKEY = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"  # a well-known dev address
KEEP = ("0_naive.pt", "2_mean.pt", "3_drift.pt")


def setup(crucible, root):
    baselines = os.path.join(root, "baselines")
    os.makedirs(baselines)
    subprocess.run([crucible, "models", "make-baselines", "--out", baselines], check=True,
                   stdout=subprocess.DEVNULL)
    models = os.path.join(root, "models")
    os.makedirs(models)
    for name in KEEP:
        shutil.copy(os.path.join(baselines, name), models)
    subprocess.run(["/usr/bin/python3", DEMO_CHAIN, models, os.path.join(root, "hub"),
                    os.path.join(root, "chain")], check=True, stdout=subprocess.DEVNULL)


def command(crucible, root, state, *extra):
    return [crucible, "validator", "--chain", "local:" + os.path.join(root, "chain"), "--hub",
            os.path.join(root, "hub"), "--state-dir", os.path.join(root, state), "--no-http",
            "--device", "cpu", "--idle-poll", "0.2", "--sync-interval", "0.5",
            "--weights-interval", "0.3", "--timeout-per-model", "60", *extra]


def wait_for(predicate, seconds):
    return harness_wait_for(predicate, seconds, interval=0.02)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def weights_lines(root):
    path = os.path.join(root, "chain", "weights.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def emas(document):
    return {(c["id"], u["uid"]): u.get("ema") for c in document["competitions"]
            for u in c["uids"]}


def main():
    crucible = binary_from_argv()
    report = Report()
    with tempfile.TemporaryDirectory() as root:
        setup(crucible, root)
        state = os.path.join(root, "state")
        rounds = os.path.join(state, "rounds")

        # Two scoring steps (two windows), with our hotkey.
        first = subprocess.run(command(crucible, root, "state", "--steps", "2", "--hotkey",
                                       HOTKEY), capture_output=True, text=True, timeout=300)
        report.check("first run exits 0", first.returncode == 0, first.stderr[-2000:])
        lines = weights_lines(root)
        report.check("weights lines carry the hotkey",
                     lines and all(line.get("hotkey") == HOTKEY for line in lines), lines[-1:])

        # Killed in a step: its working folder stays behind, in STATE/rounds.
        runner = subprocess.Popen(command(crucible, root, "state", "--hotkey", HOTKEY),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        in_step = wait_for(lambda: os.path.isdir(rounds) and any(
            name.startswith("crucible-round.") for name in os.listdir(rounds)), 60)
        report.check("a step's working folder is in STATE/rounds", in_step)

        # A second validator on the same chain folder is refused.
        second = subprocess.run(command(crucible, root, "other-state"), capture_output=True,
                                text=True, timeout=60)
        refusal = [line for line in second.stderr.splitlines() if line.strip()]
        report.check("a second validator on the chain folder exits non-zero",
                     second.returncode != 0, second.returncode)
        report.check("its one line names the first one's pid",
                     len(refusal) == 1 and "in use by another validator writing weights.jsonl "
                     "(pid %d" % runner.pid in refusal[0], refusal)
        runner.send_signal(signal.SIGKILL)
        runner.communicate()
        left = [n for n in os.listdir(rounds) if n.startswith("crucible-round.")]
        report.check("the killed step left its folder", len(left) >= 1, left)

        # Damage the current generation's ema.json and models.json.
        folder = os.path.join(state, "state")
        with open(os.path.join(folder, "CURRENT")) as f:
            current = f.read().strip()
        generations = sorted(n for n in os.listdir(folder) if n.startswith("state-") and
                             not n.endswith(".tmp"))
        previous = generations[generations.index(current) - 1]
        previous_emas = emas(read_json(os.path.join(folder, previous, "ema.json")))
        with open(os.path.join(folder, current, "ema.json"), "r+b") as f:
            f.truncate(50)
        generator = random.Random(19)
        with open(os.path.join(folder, current, "models.json"), "r+b") as f:
            f.seek(20)
            f.write(bytes(generator.randrange(256) for _ in range(100)))
        lines_before = len(weights_lines(root))

        # The restart: restored, held, scored, released.
        restart = subprocess.Popen(command(crucible, root, "state", "--steps", "1", "--hotkey",
                                           HOTKEY), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
        output, _ = restart.communicate(timeout=300)
        report.check("restart exits 0", restart.returncode == 0, output[-2000:])
        try:
            text = output.decode("utf-8")
            utf8 = True
        except UnicodeDecodeError:
            text, utf8 = output.decode("utf-8", "replace"), False
        report.check("the log is plain UTF-8", utf8)
        log = text.splitlines()

        def first_line(*needles):
            for i, line in enumerate(log):
                if all(n in line for n in needles):
                    return i
            return -1

        report.check("leftover folder removed and counted",
                     first_line("removed %d round working folder" % len(left)) >= 0, text[-3000:])
        for part in ("ema.json", "models.json"):
            report.check(part + ": damage named",
                         first_line("[warning]", part + " of " + current, "is damaged") >= 0,
                         text[-3000:])
            report.check(part + ": restored from the previous generation",
                         first_line("[warning]", part + ": no intact copy in " + current,
                                    "restored from " + previous) >= 0, text[-3000:])
        held = first_line("[warning]", "weights held until a full window is scored",
                          "restored from an older step (" + previous)
        released = first_line("[info]", "weights released")
        report.check("weights held, then released", 0 <= held < released, (held, released))
        no_raw_bytes = all(ch == "\n" or ch == "\t" or ord(ch) >= 32 for ch in text)
        report.check("no control bytes in the log", no_raw_bytes)
        report.check("no round folder left", not any(
            n.startswith("crucible-round.") for n in os.listdir(rounds)), os.listdir(rounds))

        # The restored EMAs were the previous generation's: the step moved
        # only the uids it scored, once, from those values.
        step = json.loads(open(os.path.join(state, "metrics.jsonl")).read().splitlines()[-1])
        for model in step["models"]:
            before = previous_emas.get((0, model["uid"]))
            if before is None or model["ema"] is None:
                continue
            expected = 0.2 * model["composite"] + 0.8 * before
            report.check("uid %d: the EMA went on from the previous generation" % model["uid"],
                         abs(model["ema"] - expected) < 1e-12, (model["ema"], expected))
        # Held weights are not submitted: the lines appended by the restart
        # come from after the release (the final set_weights at least).
        appended = weights_lines(root)[lines_before:]
        report.check("weights set after the release", len(appended) >= 1, appended)
        if released >= 0:
            stamp = log[released][1:log[released].index("]")]  # local time, milliseconds
            release_time = time.mktime(time.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S")) + \
                float(stamp[19:])
            report.check("no weights set while held",
                         all(line["time"] >= release_time - 0.002 for line in appended),
                         ([line["time"] for line in appended], release_time))

        refused = subprocess.run(command(crucible, root, "state", "--hotkey", "not-an-address"),
                                 capture_output=True, text=True, timeout=60)
        report.check("a malformed --hotkey is refused", refused.returncode != 0 and
                     "--hotkey: expected an ss58 address" in refused.stderr, refused.stderr)
    report.finish()


if __name__ == "__main__":
    main()
