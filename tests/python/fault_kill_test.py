#!/usr/bin/python3
"""SIGKILL at random points of a running validator, then a restart, many times.

Usage: fault_kill_test.py CRUCIBLE_BINARY [--iterations N] [--seed S]

A validator (native baseline models, a local chain and hub, the block advancing
so that a task window, with its own seed and data, passes every 1.5 s; the
validator scores each queued model once per window) is started on one state
folder and killed with SIGKILL, N times. When to kill is drawn from a seeded
generator (the seed is printed; --seed replays the same draws, though what a
kill hits also depends on the machine's timing): at a random time after the
start (mostly start-up, some evaluations and saves), up to 10 ms after a save
is seen starting, up to 3 ms after a save's generation is renamed into place
(CURRENT switch, the metrics line), or at a random time within a step after a
step's line. After every kill it checks:
  - the process was still running (it did not crash on its own);
  - metrics.jsonl and weights.jsonl are one JSON object per line, the last
    line complete; the steps in metrics.jsonl strictly increase;
  - the generation a restart loads (CURRENT's; the newest complete one when
    the kill came before the first CURRENT) has four files that parse; its
    saved step S is the last logged step L or L + 1 (killed between the save
    and the line; after such kills in a row, S is one past the last step
    saved or logged before the run); S never goes backwards;
  - the EMAs replay: a model's score differs from window to window, so its
    expected EMA is the fold of the composites metrics.jsonl logged for it, in
    step order (alpha * s first, then alpha * s + (1 - alpha) * ema). Every
    logged EMA is exactly that fold; a step saved but not logged (killed
    between the save and its line; its saved EMAs are read right after the
    kill) has no logged composite, so its EMAs are checked for consistency:
    each is the EMA before it, or one update of it with some s in [0, 1]
    (and that s is the raw score saved with it); no saved EMA is missing. The
    saved EMAs of step S are exactly that replay's after step S (never reset,
    never an update lost or counted twice);
  - a uid's EMA moves at most once per task window (a restart in a window
    whose scores were saved scores nothing again);
  - the run's log shows no state warning (nothing moved aside or corrupt).
At the end a clean run must exit 0, resume from that generation, log the step
after the last one saved or logged; the step numbers missing from
metrics.jsonl must be exactly those saved but not logged when a kill landed
(no number reused); some model scored above 0 (so the EMA checks mean
something). Prints the kills per phase, steps completed and the wall time.
"""
import argparse
import os
import random
import sys
import tempfile
import time

from oracle import Report
from validator_harness import (EMA_ALPHA, NativeSetup, WEIGHTS_KEYS, current_generation,
                               WINDOW, ema_update, jsonl_problems, read_lines, read_text,
                               saved_state, step_score, wait_for)

STATE_FILES = ("meta.json", "queues.json", "ema.json", "models.json")
WAIT = 60  # seconds, at most, for a save or a step to show up


def state_entries(state_dir):
    folder = os.path.join(state_dir, "state")
    return os.listdir(folder) if os.path.isdir(folder) else []


def temporaries(state_dir):
    """An unfinished generation or CURRENT's temporary: a save in progress,
    or one a kill left (the next save removes it)."""
    return {name for name in state_entries(state_dir)
            if name.endswith(".tmp") or name.startswith("CURRENT.tmp.")}


def begin_run(log_path, title):
    """Writes a run's title into the shared log; returns where its output starts."""
    with open(log_path, "a") as f:
        f.write("== %s\n" % title)
    return os.path.getsize(log_path)


def read_text_from(path, offset):
    with open(path, errors="replace") as f:
        f.seek(offset)
        return f.read()


def calibrate(setup, root):
    """One clean run of 2 steps (2 task windows) on its own state folder: the
    seconds to the first step and between steps (a window)."""
    state, log = os.path.join(root, "calibration"), os.path.join(root, "calibration.log")
    start = time.time()
    process = setup.start(state, log, "--steps", "2", "--no-http")
    metrics = os.path.join(state, "metrics.jsonl")
    seen = []
    while process.poll() is None and len(seen) < 2:
        if len(read_lines(metrics)) > len(seen):
            seen.append(time.time() - start)
        time.sleep(0.005)
    process.wait(timeout=WAIT)
    lines = read_lines(metrics)
    if process.returncode != 0 or len(lines) != 2 or lines[0]["window"] == lines[1]["window"]:
        sys.exit("calibration run failed (2 steps in 2 windows expected):\n" +
                 read_text(log)[-3000:])
    # A step comes at the start of each window: the first one whenever the
    # validator is up, so the window's length is the time between steps.
    return seen[0] if seen else 1.0, WINDOW * setup.seconds_per_block


class Kills:
    """The loop's counters, the numbers of steps saved but not logged and
    their saved EMAs."""

    def __init__(self):
        self.phases = {}
        self.saved_not_logged = set()
        self.unlogged = {}  # step saved but not logged -> its saved ema.json
        self.last_saved = 0  # the saved step after the previous kill
        self.last_used = 0  # the last step number saved or logged before this run


def saved_emas(ema_document):
    """uid -> its entry in an ema.json (one competition)."""
    return {entry["uid"]: entry for competition in ema_document["competitions"]
            for entry in competition["uids"]}


def close(a, b):
    return (a is None and b is None) or (
        a is not None and b is not None and abs(a - b) < 1e-12)


def replay(lines, unlogged):
    """The EMA updates in step order: the logged steps' rows, and the steps
    saved but not logged (their saved ema.json). Returns the EMAs after each
    step ({step: {uid: ema}}), the findings (step, uid, what, ok, detail),
    and the (window, uid) of every EMA update."""
    logged = {line["step"]: line for line in lines}
    emas, after, findings, updates = {}, {}, [], []
    for step in sorted(set(logged) | set(unlogged)):
        if step in logged:
            line = logged[step]
            for row in line["models"]:
                uid, before = row["uid"], emas.get(row["uid"])
                moved = row["status"] != "not-installed"  # the validator's fault: no update
                expected = ema_update(before, step_score(row)) if moved else before
                findings.append((step, uid, "logged", close(row["ema"], expected),
                                 (row["ema"], expected, before, row["status"], row["composite"])))
                if moved:
                    updates.append((line["window"], uid))
                emas[uid] = row["ema"]
        else:
            document = unlogged[step]
            saved = {uid: entry.get("ema") for uid, entry in saved_emas(document).items()}
            windows = [c.get("window") for c in document["competitions"]]
            for uid in sorted(set(emas) | set(saved)):
                before, ema = emas.get(uid), saved.get(uid)
                if ema is None or ema == before:  # lost (when before is not None), or unchanged
                    findings.append((step, uid, "unlogged", ema is not None or before is None,
                                     (ema, before)))
                    continue
                score = (ema - (1 - EMA_ALPHA) * (before or 0.0)) / EMA_ALPHA
                raw = saved_emas(document)[uid].get("raw_score")
                ok = (-1e-9 <= score <= 1 + 1e-9 and raw is not None and
                      close(ema, ema_update(before, raw)))
                findings.append((step, uid, "unlogged", ok, (ema, before, score, raw)))
                updates += [(window, uid) for window in windows]
            emas.update(saved)
        after[step] = dict(emas)
    return after, findings, updates


def classify(log_text, new_temporaries, saved, logged, saved_before):
    if "state: " not in log_text:
        return "start-up (before the state loaded)"
    if new_temporaries:
        return "save (unfinished generation or CURRENT left)"
    if saved > logged and saved > saved_before:
        return "between the save and the metrics line"
    return "loop (evaluating or between steps)"


def check_after_kill(i, state_dir, chain_dir, kills, report):
    """The invariants after kill `i`; returns (saved step, last logged step)."""
    metrics = os.path.join(state_dir, "metrics.jsonl")
    name = "kill %s" % i
    problems = jsonl_problems(metrics, {"step"})
    report.check("%s: metrics.jsonl is one JSON object per line" % name, not problems, problems)
    lines = [] if problems else read_lines(metrics)
    problems = jsonl_problems(os.path.join(chain_dir, "weights.jsonl"), WEIGHTS_KEYS)
    report.check("%s: weights.jsonl is one JSON object per line" % name, not problems, problems)
    steps = [l["step"] for l in lines]
    report.check("%s: steps strictly increase" % name,
                 all(a < b for a, b in zip(steps, steps[1:])), steps[-10:])
    logged = steps[-1] if steps else 0

    generation = current_generation(state_dir)
    if generation is None:
        report.check("%s: nothing logged before the first save" % name,
                     logged == 0 and kills.last_saved == 0, (logged, kills.last_saved))
        return 0, logged
    documents = {}
    for file in STATE_FILES:
        try:
            documents[file] = saved_state(state_dir, file)
        except (OSError, ValueError) as e:
            report.check("%s: %s/%s parses" % (name, generation, file), False, e)
    if len(documents) != len(STATE_FILES):
        return kills.last_saved, logged
    saved = documents["meta.json"].get("step", 0)
    # S is the last logged step L or one ahead; after kills between the save
    # and the line in a row (each leaves its step without a line), S is the
    # saved step of before this run, or one past the last step used then.
    report.check("%s: the saved step is the last logged one or one step further" % name,
                 logged <= saved and saved in (logged, kills.last_saved,
                                               max(logged, kills.last_used) + 1),
                 (saved, logged, kills.last_saved, kills.last_used))
    report.check("%s: the saved step never goes backwards" % name, saved >= kills.last_saved,
                 (saved, kills.last_saved))
    if saved > logged:
        # Killed between the save and its line: the saved EMAs are all that
        # shows of that step's update; a generation never changes once saved.
        if saved in kills.unlogged:
            report.check("%s: the saved EMAs of step %d are unchanged" % (name, saved),
                         kills.unlogged[saved] == documents["ema.json"])
        kills.unlogged.setdefault(saved, documents["ema.json"])
        kills.saved_not_logged.add(saved)
    after, findings, updates = replay(lines, kills.unlogged)
    for step, uid, what, ok, detail in findings:
        if step <= kills.last_used:
            continue  # checked after an earlier kill
        if what == "logged":
            report.check("%s: step %d, uid %d: the logged EMA is the fold of the logged "
                         "composites" % (name, step, uid), ok, detail)
        else:
            report.check("%s: step %d (saved, not logged), uid %d: the saved EMA is that "
                         "before, or one update of it with a score in [0, 1] (its raw score)" % (
                             name, step, uid), ok, detail)
    expected = after.get(saved, {})
    emas = {uid: entry.get("ema") for uid, entry in saved_emas(documents["ema.json"]).items()}
    for uid in sorted(set(expected) | set(emas)):
        report.check("%s: uid %d's saved EMA is the replay's after step %d" % (name, uid, saved),
                     close(emas.get(uid), expected.get(uid)), (emas.get(uid), expected.get(uid)))
    repeated = sorted({u for u in updates if updates.count(u) > 1})
    report.check("%s: each uid's EMA moves at most once per window" % name, not repeated,
                 repeated)
    kills.last_saved = saved
    kills.last_used = max(saved, logged)
    return saved, logged


def kill_once(i, setup, state_dir, log_path, rng, timing, kills, report):
    start_seconds, step_seconds = timing
    metrics = os.path.join(state_dir, "metrics.jsonl")
    mode = rng.choices(["random", "save-start", "save-end", "after-line"], weights=[4, 2, 2, 2])[0]
    lines_before = len(read_lines(metrics))
    left_before = temporaries(state_dir)
    log_start = begin_run(log_path, "run %d (%s)" % (i, mode))
    started = time.time()
    process = setup.start(state_dir, log_path, "--no-http", "--weights-interval", "0.2")
    if mode == "random":
        time.sleep(rng.uniform(0, start_seconds + 2 * step_seconds))
    elif mode.startswith("save"):
        # A save writes its generation folder (a few ms), renames it, then
        # switches CURRENT and appends the step's line (about a ms each).
        new = lambda: temporaries(state_dir) - left_before  # noqa: E731
        report.check("run %d: a save starts" % i, wait_for(
            lambda: new() or process.poll() is not None, WAIT, interval=0.0005))
        if mode == "save-end":
            saving = new()
            wait_for(lambda: not (saving & temporaries(state_dir)), WAIT, interval=0.0005)
        time.sleep(rng.uniform(0, 0.01 if mode == "save-start" else 0.003))
    else:
        report.check("run %d: a step is logged" % i, wait_for(
            lambda: len(read_lines(metrics)) > lines_before or process.poll() is not None, WAIT,
            interval=0.002))
        time.sleep(rng.uniform(0, step_seconds))
    alive = process.poll() is None
    process.kill()
    killed_after = time.time() - started
    process.wait()
    output = read_text_from(log_path, log_start)
    report.check("run %d: still running when killed (no crash)" % i, alive, output[-2000:])
    warnings = [l for l in output.splitlines() if "[warning] state:" in l or "[error]" in l]
    report.check("run %d: the state loads without a warning" % i, not warnings, warnings)
    if kills.last_saved > 0 and "state: " in output:
        report.check("run %d: resumed from a saved state" % i, "state: resumed from" in output,
                     output[:500])
    saved_before = kills.last_saved
    saved, logged = check_after_kill(i, state_dir, setup.chain, kills, report)
    phase = classify(output, temporaries(state_dir) - left_before, saved, logged, saved_before)
    kills.phases[phase] = kills.phases.get(phase, 0) + 1
    print("kill %d (%s): after %.3f s, %s; saved step %d, logged step %d" % (
        i, mode, killed_after, phase, saved, logged), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("crucible")
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    print("seed %d (replay with --seed %d --iterations %d)" % (seed, seed, args.iterations),
          flush=True)
    rng = random.Random(seed)
    report = Report()
    began = time.time()
    with tempfile.TemporaryDirectory() as root:
        setup = NativeSetup(os.path.abspath(args.crucible), root)
        start_seconds, step_seconds = calibrate(setup, root)
        print("calibration: first step after %.2f s, then a step every %.2f s" % (
            start_seconds, step_seconds), flush=True)
        state_dir, log_path = os.path.join(root, "state"), os.path.join(root, "validator.log")
        kills = Kills()
        timing = (start_seconds, step_seconds)
        for i in range(1, args.iterations + 1):
            failed = report.failed
            kill_once(i, setup, state_dir, log_path, rng, timing, kills, report)
            if report.failed > failed:
                print("kill %d of seed %d failed; its run's log is above" % (i, seed), flush=True)

        final_run(setup, state_dir, log_path, kills, report)
        lines = read_lines(os.path.join(state_dir, "metrics.jsonl"))
        steps = [l["step"] for l in lines]
        rows = [m for l in lines for m in l["models"]]
        report.check("some model scored above 0 (so the EMA checks mean something)",
                     any(step_score(m) > 0 and m["ema"] > 0 for m in rows),
                     [(m["composite"], m["ema"]) for m in rows[-6:]])
        if report.failed:
            print("validator log (last 4000 characters):\n" + read_text(log_path)[-4000:])
    print("iterations: %d; kills per phase: %s" % (args.iterations, ", ".join(
        "%s %d" % item for item in sorted(kills.phases.items()))))
    print("steps completed: %d logged, last step %d, %d saved but not logged when killed" % (
        len(steps), steps[-1] if steps else 0, len(kills.saved_not_logged)))
    print("wall time: %.1f s; seed %d" % (time.time() - began, seed))
    report.finish()


def final_run(setup, state_dir, log_path, kills, report):
    metrics = os.path.join(state_dir, "metrics.jsonl")
    generation = current_generation(state_dir)
    expected_step = kills.last_used + 1
    log_start = begin_run(log_path, "final run")
    process = setup.start(state_dir, log_path, "--steps", "1", "--no-http")
    process.wait(timeout=WAIT)
    output = read_text_from(log_path, log_start)
    report.check("the final run exits 0", process.returncode == 0, output[-2000:])
    if generation is not None:
        report.check("the final run resumes from %s" % generation,
                     "state: resumed from %s\n" % generation in output, output[:1000])
    report.check("the final run loads the state without a warning",
                 "[warning] state:" not in output, output[:2000])
    lines = read_lines(metrics)
    report.check("the final run logs the step after the saved one",
                 lines and lines[-1]["step"] == expected_step,
                 (expected_step, [l["step"] for l in lines[-3:]]))
    check_after_kill("final", state_dir, setup.chain, kills, report)
    steps = [l["step"] for l in lines]
    missing = set(range(1, steps[-1] + 1)) - set(steps) if steps else set()
    report.check("the step numbers missing from metrics.jsonl are those saved but not logged",
                 missing == kills.saved_not_logged,
                 (sorted(missing), sorted(kills.saved_not_logged)))


if __name__ == "__main__":
    main()
