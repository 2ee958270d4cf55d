#!/usr/bin/python3
"""A validator whose disk fills up, then turns read-only, while it runs.

Usage: fault_disk_test.py CRUCIBLE_BINARY FAULT_SHIM_SO

A real validator (native baseline models, a local chain and hub) runs with the
LD_PRELOAD shim of tests/fault/fail_writes.c; the test turns faults on for a
few steps at a time, then off:
  1. disk full under the state and chain folders: every write is cut short
     (half written), then fails with ENOSPC;
  2. disk full for metrics.jsonl alone: the state saves, the step's line is cut
     short and fails;
  3. disk full reported at fsync (as with delayed allocation) under both
     folders: whole lines and files written, then fsync fails;
  4. the state and chain folders read-only (EROFS on every write call).
While a fault is on, it checks: each failed step is one log line naming the
step, the file and the reason; /healthz answers 503; the generation CURRENT
named before the fault is still CURRENT, unchanged, and parses (all but 2);
metrics.jsonl and weights.jsonl are one JSON object per line although the
shim did cut writes to them short. Once the fault is off: /healthz answers 200
again, the step numbering goes on after the failed steps' numbers, and the
EMA holds the failed steps' updates (they were kept in memory and saved later).
At the end, after a clean stop: no temporary file or unfinished generation is
left, the saved step is the last logged one, and a restart without the shim
loads the state without a warning and continues the step count and the EMA.
"""
import os
import re
import signal
import sys
import tempfile
import urllib.error
import urllib.request

from oracle import Report
from validator_harness import (NativeSetup, WEIGHTS_KEYS, current_generation, ema_after,
                               jsonl_problems, read_lines, read_text, saved_state, wait_for)

WAIT = 120  # seconds, at most, for anything the validator should do (CI machines are slow)
STATE_FILES = {"meta.json", "queues.json", "ema.json", "models.json"}


def set_fault(control, words):
    with open(control + ".new", "w") as f:
        f.write(words + "\n")
    os.replace(control + ".new", control)  # the shim never sees half a file


def healthz(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def failure_lines(log_path):
    """The 'step failed' log lines, and whether each is one line (the next
    line of the log starts a new record or the log ends there)."""
    lines = read_text(log_path).split("\n")
    found = []
    for i, line in enumerate(lines):
        if "step failed: " in line:
            one_line = i + 1 >= len(lines) or lines[i + 1] == "" or lines[i + 1].startswith("[")
            found.append((line.split("step failed: ", 1)[1], one_line))
    return found


def generation_files(state_dir, generation):
    folder = os.path.join(state_dir, "state", generation)
    files = {}
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as f:
            files[name] = f.read()
    return files


def main():
    crucible, shim = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    report = Report()
    with tempfile.TemporaryDirectory() as root:
        root = os.path.realpath(root)
        setup = NativeSetup(crucible, root)
        state = os.path.join(root, "state")
        control = os.path.join(root, "fault-control")
        paths = {"state": state, "log": os.path.join(root, "validator.log"),
                 "faults": os.path.join(root, "faults.log"), "control": control,
                 "metrics": os.path.join(state, "metrics.jsonl"),
                 "weights": os.path.join(setup.chain, "weights.jsonl")}
        env = {"LD_PRELOAD": shim, "CRUCIBLE_FAULT_CONTROL": control,
               "CRUCIBLE_FAULT_UNDER": state + ":" + setup.chain,
               "CRUCIBLE_FAULT_LOG": paths["faults"]}
        validator = setup.start(state, paths["log"], "--http-port", "0", "--weights-interval",
                                "0.3", env=env)
        try:
            run(setup, validator, paths, report)
        finally:
            if validator.poll() is None:
                validator.kill()
                validator.wait()
        if report.failed:
            print("validator log (last 3000 characters):\n" + read_text(paths["log"])[-3000:])
    report.finish()


def run(setup, validator, paths, report):
    state, log, metrics = paths["state"], paths["log"], paths["metrics"]
    port_found = wait_for(lambda: re.search(r"status: http://127\.0\.0\.1:(\d+)/", read_text(log)),
                          WAIT)
    if not report.check("the status endpoint started", port_found, read_text(log)[-2000:]):
        return
    port = int(re.search(r"status: http://127\.0\.0\.1:(\d+)/", read_text(log)).group(1))
    if not report.check("two steps before any fault",
                        wait_for(lambda: len(read_lines(metrics)) >= 2, WAIT),
                        read_text(log)[-2000:]):
        return
    report.check("healthy before any fault", wait_for(lambda: healthz(port) == 200, WAIT))
    first = read_lines(metrics)[0]
    scores = {m["uid"]: m["composite"] for m in first["models"]}
    report.check("the best model scores above 0 (so the EMA checks mean something)",
                 max(scores.values()) > 0, scores)

    phases = [("disk full", "ENOSPC write", None, ["/queues.json.tmp.", "/weights.jsonl"]),
              ("disk full for metrics.jsonl", "ENOSPC write " + metrics, metrics,
               ["/metrics.jsonl"]),
              ("disk full at fsync", "ENOSPC fsync", None, ["/weights.jsonl"]),
              ("read-only", "EROFS", None, ["/weights.jsonl"])]
    failed_numbers = []
    for name, words, only_file, faulted_files in phases:
        failed_numbers += fault_phase(name, words, only_file, faulted_files, port, paths, scores,
                                      report)

    # A clean stop, then nothing left over, and a restart without the shim.
    validator.send_signal(signal.SIGTERM)
    validator.wait(timeout=WAIT)
    report.check("the validator stops cleanly after the faults", validator.returncode == 0,
                 validator.returncode)
    check_leftovers(state, paths["weights"], report)
    steps = [l["step"] for l in read_lines(metrics)]
    report.check("metrics.jsonl steps strictly increase", all(
        a < b for a, b in zip(steps, steps[1:])), steps)
    report.check("every step number is used once: logged or failed",
                 sorted(steps + failed_numbers) == list(range(1, steps[-1] + 1)),
                 (steps, failed_numbers))
    saved_step = saved_state(state, "meta.json").get("step")
    report.check("the saved step is the last logged step", saved_step == steps[-1],
                 (saved_step, steps[-1]))

    generation = current_generation(state)
    restart_log = log + ".restart"
    restarted = setup.start(state, restart_log, "--steps", "1", "--no-http")
    restarted.wait(timeout=WAIT)
    output = read_text(restart_log)
    report.check("the restart without faults exits 0", restarted.returncode == 0, output[-2000:])
    report.check("the restart resumes from CURRENT (%s)" % generation,
                 "state: resumed from %s\n" % generation in output, output[:1000])
    report.check("the restart loads the state without a warning",
                 "[warning] state:" not in output, output[:2000])
    last = read_lines(metrics)[-1]
    report.check("the restart continues the step count", last["step"] == steps[-1] + 1,
                 (steps[-1], last["step"]))
    check_ema(last, scores, report, "after the restart")


def check_ema(line, scores, report, when):
    """Every step evaluates every model on the same task: after step k a
    model's EMA is that of k updates with its one score."""
    for model in line["models"]:
        expected = ema_after(scores[model["uid"]], line["step"])
        report.check("uid %d: EMA at step %d holds every step's update (%s)" % (
            model["uid"], line["step"], when),
            model["ema"] is not None and abs(model["ema"] - expected) < 1e-12,
            (model["ema"], expected))
        report.check("uid %d: the same score at step %d" % (model["uid"], line["step"]),
                     model["composite"] == scores[model["uid"]],
                     (model["composite"], scores[model["uid"]]))


# A failed step's log message: which step, whether it was saved, the file, the reason.
FAILURE = re.compile(r"(?:state of step (\d+) not saved \(kept in memory; the next step saves "
                     r"it\)|step (\d+) saved but not logged): (/[^:]+): ([a-z ]+): (.+)")
REASONS = {"ENOSPC": "No space left on device", "EROFS": "Read-only file system"}


def fault_phase(name, words, only_file, faulted_files, port, paths, scores, report):
    """Turns the fault on for a few failed steps, then off; returns the
    numbers of the steps that failed."""
    state, log, metrics = paths["state"], paths["log"], paths["metrics"]
    failures = len(failure_lines(log))
    faults = len(read_text(paths["faults"]).splitlines())

    set_fault(paths["control"], words)
    if not report.check("%s: steps fail" % name,
                        wait_for(lambda: len(failure_lines(log)) > failures, WAIT),
                        read_text(log)[-2000:]):
        os.remove(paths["control"])
        return []
    # Every save from now on fails: what CURRENT names now must stay.
    generation = current_generation(state)
    files = generation_files(state, generation)
    report.check("%s: two more steps fail" % name,
                 wait_for(lambda: len(failure_lines(log)) >= failures + 3, WAIT))
    shim_log = lambda: read_text(paths["faults"]).splitlines()[faults:]  # noqa: E731
    for file in faulted_files:
        report.check("%s: the shim failed a write to %s" % (name, file.strip("/.")),
                     wait_for(lambda: any(file in l for l in shim_log()), WAIT),
                     shim_log()[:10])
    if "ENOSPC write" in words:
        report.check("%s: the shim cut writes short first" % name,
                     any("(partial:" in l for l in shim_log()), shim_log()[:10])
    report.check("%s: /healthz answers 503" % name, wait_for(lambda: healthz(port) == 503, WAIT))
    report.check("%s: metrics.jsonl is one JSON object per line" % name,
                 not jsonl_problems(metrics, {"step"}), jsonl_problems(metrics, {"step"}))
    report.check("%s: weights.jsonl is one JSON object per line" % name,
                 not jsonl_problems(paths["weights"], WEIGHTS_KEYS),
                 jsonl_problems(paths["weights"], WEIGHTS_KEYS))
    if only_file is None:
        report.check("%s: CURRENT still names %s" % (name, generation),
                     current_generation(state) == generation, current_generation(state))
        report.check("%s: %s is unchanged and parses" % (name, generation),
                     generation_files(state, generation) == files and set(files) == STATE_FILES
                     and all(saved_state(state, f) is not None for f in STATE_FILES))
    logged = len(read_lines(metrics))

    os.remove(paths["control"])
    report.check("%s: a step is logged once the fault is off" % name,
                 wait_for(lambda: len(read_lines(metrics)) > logged, WAIT))
    report.check("%s: /healthz answers 200 again" % name,
                 wait_for(lambda: healthz(port) == 200, WAIT))

    numbers = []
    for message, one_line in failure_lines(log)[failures:]:
        match = FAILURE.fullmatch(message)
        report.check("%s: the failure names the step, the file and the reason" % name,
                     match and match.group(5) == REASONS[words.split()[0]] and
                     match.group(3).startswith(only_file or state + "/"), message)
        report.check("%s: the failure is one log line" % name, one_line, message)
        if match:
            numbers.append(int(match.group(1) or match.group(2)))
    after = [l for l in read_lines(metrics) if l["step"] > max(numbers, default=0)]
    report.check("%s: the step count goes on after the failed steps" % name,
                 numbers and after and after[0]["step"] == max(numbers) + 1,
                 (numbers, [l["step"] for l in after]))
    if after:
        check_ema(after[0], scores, report, "after " + name)
    return numbers


def check_leftovers(state, weights, report):
    folder = os.path.join(state, "state")
    names = set(os.listdir(folder))
    current = current_generation(state)
    generations = {n for n in names if re.fullmatch(r"state-\d{6}", n)}
    report.check("only CURRENT and at most two generations are left",
                 names == {"CURRENT"} | generations and current in generations
                 and len(generations) <= 2, sorted(names))
    for generation in generations:
        inside = set(os.listdir(os.path.join(folder, generation)))
        report.check("%s holds its four files and nothing else" % generation,
                     inside == STATE_FILES, sorted(inside))
    top = set(os.listdir(state))
    report.check("the state folder holds nothing unexpected",
                 top <= {"LOCK", "metrics.jsonl", "models", "state"}, sorted(top))
    chain = set(os.listdir(os.path.dirname(weights)))
    report.check("the chain folder holds no temporary file",
                 chain <= {"metagraph.json", "commitments.json", "weights.jsonl"}, sorted(chain))


if __name__ == "__main__":
    main()
