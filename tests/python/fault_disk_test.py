#!/usr/bin/python3
"""A validator whose disk fills up, then turns read-only, while it runs.

Usage: fault_disk_test.py CRUCIBLE_BINARY FAULT_SHIM_SO

A real validator (native baseline models, a local chain and hub) runs with the
LD_PRELOAD shim of tests/fault/fail_writes.c. It scores each queued model once
per task window, and each window has its own data, so a model's score differs
from step to step: the test moves the chain's block to the next window itself
(seconds_per_block 0), one step per move, and runs a twin validator without
faults on a copy of the chain (its own state folder), which scores the same
windows. The test turns faults on for three windows at a time, then off:
  1. disk full for the saved state (STATE/state), metrics.jsonl and the chain
     folder: every write is cut short (half written), then fails with ENOSPC;
  2. disk full for metrics.jsonl alone: the state saves, the step's line is cut
     short and fails;
  3. disk full reported at fsync (as with delayed allocation) for the same
     files as 1: whole lines and files written, then fsync fails;
  4. the same files read-only (EROFS on every write call);
  5. disk full for the whole state folder and the chain folder: a step's task
     files live in STATE/rounds/, so the step fails before it scores;
  6. the whole state folder and the chain folder read-only: likewise.
While a fault is on, it checks: each failed step is one log line naming the
file and the reason, and in 1-4 the step's number (a save that failed is
retried while the validator idles: each retry is one more such line naming
the same step); in 5-6 no step number is used; /healthz answers 503, and
still a second later (an idle poll is no step that succeeded); the
generation CURRENT named before the fault is still CURRENT, unchanged, and
parses (all but 2); metrics.jsonl and weights.jsonl are one JSON object per
line although the shim did cut writes to them short. Once the fault is off:
/healthz answers 200 again, the step numbering goes on after the failed
steps' numbers, and the EMA holds the failed steps' updates (kept in memory
and saved later; in 5-6 the windows whose steps could not run add nothing):
every logged EMA is exactly the fold of the twin's composites over the
windows of the validator's steps, failed ones included, and every logged
composite is the twin's for that window (the twin scored every window once).
At the end, after a clean stop: no temporary file, round folder or unfinished
generation is left (CURRENT and at most three generations), the saved step
is the last logged one, and a restart without the shim loads the state
without a warning, continues the step count, and its EMA is one update of
the saved one.
"""
import os
import re
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.request

from oracle import Report
from validator_harness import (NativeSetup, WEIGHTS_KEYS, WINDOW, current_generation, ema_of,
                               ema_update, jsonl_problems, read_lines, read_text, saved_state,
                               step_score, wait_for)

WAIT = 120  # seconds, at most, for anything the validator should do (CI machines are slow)
STATE_FILES = {"meta.json", "queues.json", "ema.json", "models.json"}

# A failed step's log message: which step, whether it was saved, the file, the reason.
FAILURE = re.compile(r"(?:state of step (\d+) not saved \(kept in memory; the next step saves "
                     r"it\)|step (\d+) saved but not logged \(kept; the next step writes it\)): (/[^:]+): "
                     r"([a-z ]+): (.+)")
REASONS = {"ENOSPC": "No space left on device", "EROFS": "Read-only file system"}


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


def failed_steps(log_path):
    """The numbers of the failed steps in the log, in order, each once (a
    save retried while idle names its step again)."""
    numbers = []
    for message, _ in failure_lines(log_path):
        match = FAILURE.fullmatch(message)
        number = match and int(match.group(1) or match.group(2))
        if number and number not in numbers:
            numbers.append(number)
    return numbers


def generation_files(state_dir, generation):
    folder = os.path.join(state_dir, "state", generation)
    files = {}
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as f:
            files[name] = f.read()
    return files


class Run:
    """The validator under test, its twin, and the window of each step that
    failed with a number (its line is missing, its update is not)."""

    def __init__(self, setup, paths, report):
        self.setup, self.paths, self.report = setup, paths, report
        self.failed_windows = {}
        self.checked = set()  # the logged steps checked against the twin

    def used(self):
        return [l["step"] for l in read_lines(self.paths["metrics"])] + failed_steps(
            self.paths["log"])

    def round_failures(self):
        """The failure lines of steps that could not write their task files."""
        rounds = os.path.join(self.paths["state"], "rounds") + "/"
        return [m for m, _ in failure_lines(self.paths["log"]) if m.startswith(rounds)]

    def next_window(self, what, expect="step"):
        """Moves the chain's block to the next window; waits for the twin's
        line there and the validator's step: logged or failed with a number
        (`expect` "step"), or failed before it scored ("round"). Returns the
        window."""
        last, rounds = max(self.used(), default=0), len(self.round_failures())
        window = self.setup.metagraph["block"] + WINDOW
        self.setup.set_block(window)
        if expect == "step":
            stepped = wait_for(lambda: max(self.used(), default=0) > last, WAIT)
        else:
            stepped = wait_for(lambda: len(self.round_failures()) > rounds, WAIT)
        twin = wait_for(lambda: any(l["window"] == window
                                    for l in read_lines(self.paths["twin_metrics"])), WAIT)
        for number in failed_steps(self.paths["log"]):
            self.failed_windows.setdefault(number, window)
        self.report.check("%s: window %d: a step (%s), and the twin's" % (what, window, expect),
                          stepped and twin, (stepped, twin, read_text(self.paths["log"])[-1500:]))
        return window

    def check_emas(self, when):
        """Each logged row not checked yet has the twin's composite for its
        window, and the EMA that folds the twin's composites over the windows
        of the validator's steps up to it, logged or failed with a number."""
        twin = {(l["window"], m["uid"]): m for l in read_lines(self.paths["twin_metrics"])
                for m in l["models"]}
        lines = read_lines(self.paths["metrics"])
        steps = {l["step"]: l["window"] for l in lines}
        steps.update({n: self.failed_windows.get(n) for n in failed_steps(self.paths["log"])})
        logged = {l["step"]: l for l in lines}
        emas = {}
        for step in sorted(steps):
            window = steps[step]
            if not self.report.check("step %d: its window is known" % step, window is not None):
                return
            uids = [m["uid"] for m in logged[step]["models"]] if step in logged else [
                uid for (w, uid) in twin if w == window]
            for uid in uids:
                other = twin.get((window, uid))
                emas[uid] = ema_update(emas.get(uid), step_score(other) if other else float("nan"))
            if step not in logged or step in self.checked:
                continue
            self.checked.add(step)
            for model in logged[step]["models"]:
                other = twin.get((window, model["uid"]))
                expected = emas[model["uid"]]
                self.report.check(
                    "uid %d: step %d (window %d) has the twin's composite, and the EMA of the "
                    "twin's composites over its steps' windows (%s)" % (
                        model["uid"], step, window, when),
                    other is not None and model["composite"] == other["composite"] and
                    model["ema"] is not None and abs(model["ema"] - expected) < 1e-12,
                    (model, other, expected))


def main():
    crucible, shim = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    report = Report()
    with tempfile.TemporaryDirectory() as root:
        root = os.path.realpath(root)
        setup = NativeSetup(crucible, root, seconds_per_block=0)
        twin_chain = setup.add_chain("twin-chain")
        state = os.path.join(root, "state")
        control = os.path.join(root, "fault-control")
        paths = {"state": state, "log": os.path.join(root, "validator.log"),
                 "faults": os.path.join(root, "faults.log"), "control": control,
                 "metrics": os.path.join(state, "metrics.jsonl"),
                 "weights": os.path.join(setup.chain, "weights.jsonl"),
                 "twin_log": os.path.join(root, "twin.log"),
                 "twin_metrics": os.path.join(root, "twin-state", "metrics.jsonl")}
        env = {"LD_PRELOAD": shim, "CRUCIBLE_FAULT_CONTROL": control,
               "CRUCIBLE_FAULT_UNDER": state + ":" + setup.chain,
               "CRUCIBLE_FAULT_LOG": paths["faults"]}
        validator = setup.start(state, paths["log"], "--http-port", "0", "--weights-interval",
                                "0.3", env=env)
        twin = setup.start(os.path.join(root, "twin-state"), paths["twin_log"], "--no-http",
                           "--weights-interval", "0.3", chain=twin_chain)
        try:
            run(Run(setup, paths, report), validator, twin)
        finally:
            for process in (validator, twin):
                if process.poll() is None:
                    process.kill()
                    process.wait()
        if report.failed:
            print("validator log (last 3000 characters):\n" + read_text(paths["log"])[-3000:])
            print("twin's log (last 1500 characters):\n" + read_text(paths["twin_log"])[-1500:])
    report.finish()


def run(ctx, validator, twin):
    setup, paths, report = ctx.setup, ctx.paths, ctx.report
    state, log, metrics = paths["state"], paths["log"], paths["metrics"]
    port_found = wait_for(lambda: re.search(r"status: http://127\.0\.0\.1:(\d+)/", read_text(log)),
                          WAIT)
    if not report.check("the status endpoint started", port_found, read_text(log)[-2000:]):
        return
    port = int(re.search(r"status: http://127\.0\.0\.1:(\d+)/", read_text(log)).group(1))
    # The first window's step comes by itself; each later one after a move.
    report.check("a step in the first window, and the twin's", wait_for(
        lambda: read_lines(metrics) and read_lines(paths["twin_metrics"]), WAIT),
        read_text(log)[-2000:])
    ctx.next_window("before any fault")
    if not report.check("two steps before any fault", len(read_lines(metrics)) >= 2,
                        read_text(log)[-2000:]):
        return
    report.check("healthy before any fault", wait_for(lambda: healthz(port) == 200, WAIT))
    ctx.check_emas("before any fault")

    saved = " ".join((os.path.join(state, "state"), metrics, setup.chain))
    everything = " ".join((state, setup.chain))
    phases = [("disk full", "ENOSPC write " + saved, "save",
               ["/queues.json.tmp.", "/weights.jsonl"]),
              ("disk full for metrics.jsonl", "ENOSPC write " + metrics, "metrics",
               ["/metrics.jsonl"]),
              ("disk full at fsync", "ENOSPC fsync " + saved, "save", ["/weights.jsonl"]),
              ("read-only", "EROFS " + saved, "save", ["/weights.jsonl"]),
              ("disk full for the whole state folder", "ENOSPC write " + everything, "round",
               ["/rounds/crucible-round.", "/weights.jsonl"]),
              ("the whole state folder read-only", "EROFS " + everything, "round",
               ["/rounds/crucible-round.", "/weights.jsonl"])]
    failed_numbers = []
    for name, words, kind, faulted_files in phases:
        failed_numbers += fault_phase(ctx, name, words, kind, faulted_files, port)

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
    saved_emas = {uid: ema_of(state, uid) for uid in setup.uids}
    restart_log = log + ".restart"
    restarted = setup.start(state, restart_log, "--steps", "1", "--no-http")
    ctx.paths = dict(paths, log=restart_log)
    window = ctx.next_window("after the restart")
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
    report.check("the restart scores window %d" % window, last["window"] == window,
                 last["window"])
    for model in last["models"]:
        expected = ema_update(saved_emas.get(model["uid"]), step_score(model))
        report.check("uid %d: the restart's EMA is one update of the saved one" % model["uid"],
                     model["ema"] is not None and abs(model["ema"] - expected) < 1e-12,
                     (model["ema"], expected, saved_emas))
    ctx.paths = paths  # the failed steps are in the first run's log
    ctx.check_emas("after the restart")

    twin.send_signal(signal.SIGTERM)
    twin.wait(timeout=WAIT)
    report.check("the twin stops cleanly", twin.returncode == 0,
                 read_text(paths["twin_log"])[-2000:])
    twin_lines = read_lines(paths["twin_metrics"])
    windows = [l["window"] for l in twin_lines]
    report.check("the twin scored every window once, in one step, with no step failed",
                 windows == list(range(windows[0], window + 1, WINDOW)) and
                 all(len(l["models"]) == len(setup.uids) for l in twin_lines) and
                 "step failed" not in read_text(paths["twin_log"]), windows)
    emas, folded = {}, True
    for line in twin_lines:
        for model in line["models"]:
            emas[model["uid"]] = ema_update(emas.get(model["uid"]), step_score(model))
            folded = folded and model["ema"] is not None and abs(
                model["ema"] - emas[model["uid"]]) < 1e-12
    report.check("the twin's EMAs are the fold of its composites", folded)
    report.check("a model scored above 0 (so the EMA checks mean something)",
                 any(step_score(m) > 0 for l in twin_lines for m in l["models"]))


def fault_phase(ctx, name, words, kind, faulted_files, port):
    """Turns the fault on for three windows, then off; returns the numbers of
    the steps that failed. `kind`: "save" (the state is not saved), "metrics"
    (saved, not logged), "round" (the step cannot write its task files)."""
    paths, report = ctx.paths, ctx.report
    state, log, metrics = paths["state"], paths["log"], paths["metrics"]
    failures = len(failure_lines(log))
    failed_before = set(failed_steps(log))
    used_before = max(ctx.used(), default=0)
    faults = len(read_text(paths["faults"]).splitlines())
    new_failed = lambda: [n for n in failed_steps(log) if n not in failed_before]  # noqa: E731
    expect = "round" if kind == "round" else "step"

    set_fault(paths["control"], words)
    ctx.next_window(name, expect)
    if kind != "round" and not report.check("%s: the step fails" % name, len(new_failed()) == 1,
                                            read_text(log)[-2000:]):
        os.remove(paths["control"])
        return []
    # Every save from now on fails: what CURRENT names now must stay.
    generation = current_generation(state)
    files = generation_files(state, generation)
    windows = [ctx.next_window(name, expect) for _ in range(2)]
    if kind == "round":
        report.check("%s: no step number is used" % name,
                     max(ctx.used(), default=0) == used_before, ctx.used()[-5:])
    else:
        report.check("%s: two more steps fail" % name, len(new_failed()) == 3, new_failed())
    shim_log = lambda: read_text(paths["faults"]).splitlines()[faults:]  # noqa: E731
    for file in faulted_files:
        report.check("%s: the shim failed a write to %s" % (name, file.strip("/.")),
                     wait_for(lambda: any(file in l for l in shim_log()), WAIT),
                     shim_log()[:10])
    if "ENOSPC write" in words:
        report.check("%s: the shim cut writes short first" % name,
                     any("(partial:" in l for l in shim_log()), shim_log()[:10])
    # The failed step made the validator unhealthy; idle polls since (the
    # window is scored) are no step that succeeded.
    report.check("%s: /healthz answers 503" % name, healthz(port) == 503)
    time.sleep(1.0)  # five idle polls
    report.check("%s: /healthz still answers 503 a second later (idle polls are no step that "
                 "succeeded)" % name, healthz(port) == 503)
    report.check("%s: metrics.jsonl is one JSON object per line" % name,
                 not jsonl_problems(metrics, {"step"}), jsonl_problems(metrics, {"step"}))
    report.check("%s: weights.jsonl is one JSON object per line" % name,
                 not jsonl_problems(paths["weights"], WEIGHTS_KEYS),
                 jsonl_problems(paths["weights"], WEIGHTS_KEYS))
    if kind != "metrics":
        report.check("%s: CURRENT still names %s" % (name, generation),
                     current_generation(state) == generation, current_generation(state))
        report.check("%s: %s is unchanged and parses" % (name, generation),
                     generation_files(state, generation) == files and set(files) == STATE_FILES
                     and all(saved_state(state, f) is not None for f in STATE_FILES))
    logged = len(read_lines(metrics))

    os.remove(paths["control"])
    if kind == "round":
        # Retried at the next idle poll, in the same window.
        report.check("%s: the window whose step could not run is scored" % name, wait_for(
            lambda: any(l["window"] == windows[-1] for l in read_lines(metrics)), WAIT),
            [l["window"] for l in read_lines(metrics)][-3:])
    ctx.next_window(name + ", fault off")
    report.check("%s: a step is logged once the fault is off" % name,
                 len(read_lines(metrics)) > logged)
    report.check("%s: /healthz answers 200 again" % name,
                 wait_for(lambda: healthz(port) == 200, WAIT))

    reason = REASONS[words.split()[0]]
    for message, one_line in failure_lines(log)[failures:]:
        if kind == "round":
            ok = message.startswith(os.path.join(state, "rounds") + "/") and message.endswith(
                ": " + reason)
        else:
            match = FAILURE.fullmatch(message)
            ok = match and match.group(5) == reason and (
                match.group(3) == metrics if kind == "metrics" else
                match.group(3).startswith((state + "/", paths["weights"])))
        report.check("%s: the failure names %sthe file and the reason" % (
            name, "" if kind == "round" else "the step, "), ok, message)
        report.check("%s: the failure is one log line" % name, one_line, message)
    numbers = new_failed()
    after = [l["step"] for l in read_lines(metrics) if l["step"] > used_before]
    if kind == "metrics":
        # A line that could not be written is kept and written, in order, by
        # the next step that can: the failed steps are logged late, then the
        # count goes on.
        report.check("%s: the lines not written are written late, in order, and the step "
                     "count goes on" % name,
                     after[:len(numbers)] == numbers and len(after) > len(numbers) and
                     after[len(numbers)] == max(numbers) + 1, (numbers, after))
        ctx.check_emas("after " + name)
        return []  # logged after all: not failed step numbers
    report.check("%s: the step count goes on after the failed steps" % name,
                 after and after[0] == max(numbers, default=used_before) + 1,
                 (numbers, after))
    ctx.check_emas("after " + name)
    return numbers


def check_leftovers(state, weights, report):
    folder = os.path.join(state, "state")
    names = set(os.listdir(folder))
    current = current_generation(state)
    generations = {n for n in names if re.fullmatch(r"state-\d{6}", n)}
    report.check("only CURRENT and at most three generations are left",
                 names == {"CURRENT"} | generations and current in generations
                 and len(generations) <= 3, sorted(names))
    for generation in generations:
        inside = set(os.listdir(os.path.join(folder, generation)))
        report.check("%s holds its four files and nothing else" % generation,
                     inside == STATE_FILES, sorted(inside))
    top = set(os.listdir(state))
    report.check("the state folder holds nothing unexpected",
                 top <= {"LOCK", "metrics.jsonl", "models", "rounds", "state"}, sorted(top))
    rounds = os.path.join(state, "rounds")
    report.check("no round working folder is left",
                 not os.path.isdir(rounds) or not os.listdir(rounds),
                 os.path.isdir(rounds) and os.listdir(rounds))
    chain = set(os.listdir(os.path.dirname(weights)))
    report.check("the chain folder holds no temporary file",
                 chain <= {"metagraph.json", "commitments.json", "weights.jsonl", "weights.lock"},
                 sorted(chain))


if __name__ == "__main__":
    main()
