#!/usr/bin/python3
"""The validator end to end: a local chain, the misbehaving HTTP hub, several
steps, a commitment changed mid-run, SIGKILL, restart.

Usage: validator_integration_test.py CRUCIBLE_BINARY

Miners 1-3 commit honest baselines; miners 4-8 commit repositories the hub
serves badly (HTTP 500, truncated body, body over the size cap, wrong bytes,
404). The chain's block advances (a task window every 1.5 s; the validator
scores each queued model once per window, so every step is in a new window
or scores a model that joined the window). Checks: every bad download is a
failure reason in the tracker and leaves nothing in the store; honest models
are scored; a changed commitment restarts that uid's EMA (its first update
after the change is alpha * composite while its EMA before was positive);
after SIGKILL the restarted validator continues the step count, the EMA, the
queues and the tracker from the last saved state (the restart waits for a
window after the last one the killed run scored, so its step scores the
whole saved queue); weights.jsonl is one well-formed JSON object per line,
with a null hotkey (no --hotkey given); the hub's retries and a final
download-failed are warnings, each line with one "hub: " prefix; the chain
folder records no block hashes, which one warning says.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from oracle import Report
from validator_harness import (EMA_ALPHA, WEIGHTS_KEYS, content_hash, ema_of, ema_update, ran_rows,
                               make_baselines, read_lines, saved_state, sha256_b64, wait_for,
                               window_of, write_json)

HERE = os.path.dirname(os.path.abspath(__file__))

CAP = 100_000  # the schedule's max_file_bytes
BAD = {4: ("error500", "download-failed"), 5: ("truncated", "download-failed"),
       6: ("oversize", "too-large"), 7: ("wrongcontent", "hash-mismatch"),
       8: ("notfound", "not-found")}
SECONDS_PER_BLOCK = 0.01  # a task window (150 blocks) every 1.5 s


class Setup:
    def __init__(self, crucible, root):
        self.crucible, self.root = crucible, root
        self.hub, self.chain = os.path.join(root, "hub"), os.path.join(root, "chain")
        self.state = os.path.join(root, "state")
        self.time = time.time()  # when block 1200 was current
        models = make_baselines(crucible, os.path.join(root, "baselines"))
        self.bytes = {}
        for name in (n for n in os.listdir(models) if n.endswith(".pt")):
            with open(os.path.join(models, name), "rb") as f:
                self.bytes[name[:-3].split("_", 1)[1]] = f.read()
        self.neurons = [{"uid": 0, "hotkey": "validator0", "stake": 100.0,
                         "validator_permit": True}]
        self.commitments = {}
        for uid, name in ((1, "naive"), (2, "mean"), (3, "drift")):
            self.commit(uid, name, self.bytes[name])
        for uid, (repo, _) in BAD.items():
            data = os.urandom(2 * CAP) if repo == "oversize" else self.bytes["mean"]
            self.commit(uid, repo, data)
        write_json(os.path.join(root, "schedule.json"), {"schedule": [{
            "start_block": 0, "competitions": [{
                "id": 0, "name": "univariate", "reward_share": 1.0,
                "constraints": {"max_file_bytes": CAP, "max_parameters": 1000000},
                "tasks": [{"name": "gp", "dataset": "synthetic", "series": 20, "length": 256,
                           "batch_size": 20, "samples_per_kernel": 10}],
                "sample_min": 10}]}]})

    def commit(self, uid, repo, data, block=None):
        commit = "c%d%d" % (uid, len(data) % 97)
        folder = os.path.join(self.hub, "ns", repo, commit)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "model.pt"), "wb") as f:
            f.write(data)
        hotkey = "miner%d" % uid
        if uid >= len(self.neurons):
            self.neurons.append({"uid": uid, "hotkey": hotkey, "stake": 1.0,
                                 "validator_permit": False})
        secure = sha256_b64((content_hash({"model.pt": data}) + hotkey).encode())
        self.commitments[hotkey] = {"commitment": "ns/%s:%s:%s:0" % (repo, commit, secure),
                                    "block": block or 900 + uid}
        os.makedirs(self.chain, exist_ok=True)
        write_json(os.path.join(self.chain, "metagraph.json"),
                   {"netuid": 7, "block": 1200, "seconds_per_block": SECONDS_PER_BLOCK,
                    "time": self.time, "neurons": self.neurons})
        write_json(os.path.join(self.chain, "commitments.json"), self.commitments)

    def window_now(self):
        """The first block of the chain's current task window."""
        return window_of(1200 + int((time.time() - self.time) / SECONDS_PER_BLOCK))

    def validator(self, endpoint, steps):
        return subprocess.Popen(
            [self.crucible, "validator", "--chain", "local:" + self.chain, "--hub-endpoint",
             endpoint, "--state-dir", self.state, "--schedule",
             os.path.join(self.root, "schedule.json"), "--steps", str(steps), "--no-http",
             "--device", "cpu", "--idle-poll", "0.2", "--sync-interval", "0.3",
             "--retry-interval", "3600", "--weights-interval", "0.5", "--jobs", "2",
             "--timeout-per-model", "60"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def main():
    crucible = sys.argv[1]
    report = Report()
    with tempfile.TemporaryDirectory() as root:
        setup = Setup(crucible, root)
        hub = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "misbehaving_hub.py"),
                                setup.hub], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
        try:
            endpoint = "http://127.0.0.1:" + hub.stdout.readline().strip()
            run(setup, endpoint, report)
        finally:
            hub.kill()
    report.finish()


def run(setup, endpoint, report):
    metrics = os.path.join(setup.state, "metrics.jsonl")
    first = setup.validator(endpoint, 2)
    output, _ = first.communicate(timeout=300)
    report.check("first run exits 0", first.returncode == 0, output[-2000:])
    report.check("no doubled hub: prefix", "hub: hub:" not in output,
                 [l for l in output.splitlines() if "hub: hub:" in l][:3])
    retries = [l for l in output.splitlines() if "error500" in l and "retrying" in l]
    final = [l for l in output.splitlines() if "uid 4: download-failed: hub: ns/error500" in l]
    report.check("download retries are warnings", retries and
                 all("[warning]" in l for l in retries), retries[:3])
    report.check("the final download-failed is logged once, as a warning",
                 len(final) == 1 and "[warning]" in final[0], final)
    predictable = [l for l in output.splitlines() if "records no block hashes" in l]
    report.check("one warning that the local chain's seeds are predictable",
                 len(predictable) == 1 and "[warning]" in predictable[0], predictable)
    lines = read_lines(metrics)
    report.check("two steps logged", [l["step"] for l in lines] == [1, 2], lines)
    # A step scores the models not yet scored in its window: the second step
    # is in a later window, or scores models that joined the first's.
    scored = [(l["window"], m["uid"]) for l in lines for m in l["models"]
              if m["status"] != "not-installed"]
    report.check("every line names its window; a uid is scored once per window",
                 all(l["window"] == window_of(l["block"]) for l in lines) and
                 len(set(scored)) == len(scored),
                 [(l["block"], l.get("window"), [m["uid"] for m in l["models"]]) for l in lines])
    statuses = {m["uid"]: m["status"] for l in lines for m in l["models"]}  # each uid's last
    report.check("honest models scored", all(statuses.get(u) == "ok" for u in (1, 2, 3)),
                 statuses)

    # A long run: change miner 1's model once step 4 is logged and uid 1's
    # EMA is positive (so a restarted EMA shows), then SIGKILL.
    second = setup.validator(endpoint, 0)
    report.check("step 4 reached", wait_for(lambda: len(read_lines(metrics)) >= 4, 120))
    uid1_emas = lambda: [m["ema"] for l in read_lines(metrics)  # noqa: E731
                         for m in l["models"] if m["uid"] == 1]
    report.check("uid 1's EMA is positive before its model changes",
                 wait_for(lambda: (uid1_emas() or [0])[-1] > 0, 120), uid1_emas())
    before_change = len(read_lines(metrics))
    setup.commit(1, "mean-copy", setup.bytes["seasonal_naive"], block=1100)

    def first_update_after_change():
        """uid 1's first row logged after the change whose EMA moved away
        from a positive one to alpha * composite (a restarted EMA), or None."""
        ema = None
        for number, line in enumerate(read_lines(metrics)):
            for m in line["models"]:
                if m["uid"] != 1 or m["ema"] is None:
                    continue
                restarted = abs(m["ema"] - EMA_ALPHA * m["composite"]) < 1e-12
                if number >= before_change and restarted and ema is not None and ema > 0:
                    return m
                ema = m["ema"]
        return None
    changed = wait_for(lambda: first_update_after_change() is not None, 120)
    history = [(l["step"], m["composite"], m["ema"]) for l in read_lines(metrics)
               for m in l["models"] if m["uid"] == 1]
    report.check("a changed commitment restarts the uid's EMA", changed, history)
    # By now every miner was synced at least once and a step saved the tracker.
    tracker = {h["hotkey"]: h.get("model", {}) for h in saved_state(setup.state, "models.json")["hotkeys"]}
    for uid, (repo, reason) in BAD.items():
        failure = tracker.get("miner%d" % uid, {}).get("failure", "")
        report.check("uid %d (%s): tracker says %s" % (uid, repo, reason),
                     failure.startswith(reason + ": "), failure)
        report.check("uid %d: nothing in the store" % uid,
                     not os.path.exists(os.path.join(setup.state, "models", "miner%d" % uid)))
    temp = os.path.join(setup.state, "models", ".tmp")
    report.check("no download left in progress", not os.listdir(temp), os.listdir(temp))

    second.send_signal(signal.SIGKILL)
    second.wait()

    lines = read_lines(metrics)
    # A kill between a save and its metrics line leaves the saved step one ahead.
    killed_at = max(lines[-1]["step"], saved_state(setup.state, "meta.json")["step"])
    saved_emas = {uid: ema_of(setup.state, uid) for uid in (1, 2, 3)}
    queues = saved_state(setup.state, "queues.json")
    tracker = {h["hotkey"]: h.get("model", {}) for h in saved_state(setup.state, "models.json")["hotkeys"]}
    report.check("tracker holds the new commitment",
                 tracker["miner1"].get("commitment", "").startswith("ns/mean-copy:"), tracker["miner1"])

    # The restarted step scores the models without a score in its window: for
    # it to score the whole saved queue, restart in a window after the last
    # one the killed run scored (logged, or saved with the EMAs).
    scored_windows = [lines[-1]["window"]] + [
        c.get("window", 0) for c in saved_state(setup.state, "ema.json")["competitions"]]
    report.check("a new window begins", wait_for(
        lambda: setup.window_now() > max(scored_windows), 60), (scored_windows, setup.window_now()))
    third = setup.validator(endpoint, 1)
    output, _ = third.communicate(timeout=300)
    report.check("restart exits 0", third.returncode == 0, output[-2000:])
    lines = read_lines(metrics)
    report.check("the step count continues", lines[-1]["step"] == killed_at + 1,
                 (killed_at, [l["step"] for l in lines]))
    report.check("the restarted step is in a later window",
                 lines[-1]["window"] > max(scored_windows), (lines[-1]["window"], scored_windows))
    saved_queue = set()
    for competition in queues.get("competitions", []):
        saved_queue |= set(competition["active"]) | set(competition["pending"])
    report.check("the step evaluated the saved queue",
                 sorted(m["uid"] for m in ran_rows(lines[-1])) == sorted(saved_queue),
                 (queues, lines[-1]["models"]))
    continued = [m for m in lines[-1]["models"] if saved_emas.get(m["uid"]) is not None]
    report.check("the restarted step evaluated uids with a saved EMA", len(continued) >= 2,
                 (saved_emas, lines[-1]["models"]))
    for m in continued:
        expected = ema_update(saved_emas[m["uid"]], m["composite"])
        report.check("uid %d: the EMA continues from the saved state" % m["uid"],
                     abs(m["ema"] - expected) < 1e-12, (m["ema"], expected))

    weights = []
    with open(os.path.join(setup.chain, "weights.jsonl")) as f:
        for line in f:
            weights.append(json.loads(line))
    report.check("weights were set", len(weights) > 0)
    well_formed = all(set(w) == WEIGHTS_KEYS and w["hotkey"] is None and
                      len(w["uids"]) == len(w["weights"]) and
                      abs(sum(w["weights"]) - 1.0) < 1e-9 for w in weights)
    report.check("weights.jsonl is well-formed", well_formed, weights[-1] if weights else None)


if __name__ == "__main__":
    main()
