#!/usr/bin/python3
"""One verdict everywhere: a table of model folders, each run through
`crucible models inspect`, `crucible models hash`, `crucible eval` and a
validator on the same schedule, must get the same verdict (accepted or
refused) and the same reason from all four.

The folders are made from the native and TorchScript baselines of
`crucible models make-baselines`, the way miners save them: the folder as
saved, with a trainer's extra files (optimizer.pt, trainer_state.json,
README.md), a pickled pytorch_model.bin instead of safetensors, a config
alone, a TorchScript repository folder, and a config with a key the official
loader rejects. The schedule's competitions fit the native baseline with
3000 bytes to spare, so the extra files push it over; competition 1 also
allows one parameter fewer than it has.

A validator refuses an oversized repository before its download (status
too-large) and the rest after it (bad-files, or refused when the inspection
refuses); the test checks that the validator's sentence is the one the local
commands print (when a folder breaks both limits, the local commands list
both, the validator's download check names the size).

    /usr/bin/python3 tests/python/model_verdict_test.py CRUCIBLE_BINARY
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from oracle import Report
from validator_harness import (commitment, folder_files, make_baselines, start_validator, stop, verdict_rows,
                               wait_for, write_json)

REPORT = Report()


def check(condition, what):
    REPORT.check(what, condition)


def folder_bytes(folder):
    return sum(len(data) for data in folder_files(folder).values())


def make_cases(baselines, root):
    """{name: (folder, competition, phrase)}: phrase None when accepted, else
    a part of the reason every path must give."""
    native = os.path.join(baselines, "6_bolt_gaussian")
    cases = {}

    def case(name, competition, phrase, source=native):
        folder = os.path.join(root, name)
        shutil.copytree(source, folder)
        cases[name] = (folder, competition, phrase)
        return folder

    case("as-saved", 0, None)
    extra = case("extra-files", 0, "the repository's files total")
    with open(os.path.join(extra, "optimizer.pt"), "wb") as f:
        f.write(os.urandom(4000))
    write_json(os.path.join(extra, "trainer_state.json"), {"global_step": 100})
    with open(os.path.join(extra, "README.md"), "w") as f:
        f.write("# my model\n")
    case("over-parameters", 1, "(implied by config.json) is over the limit")
    both = case("both-limits", 1, "the repository's files total")
    shutil.copyfile(os.path.join(extra, "optimizer.pt"), os.path.join(both, "optimizer.pt"))
    pickle = case("pickled", 0, "pytorch_model.bin is a pickled checkpoint")
    os.rename(os.path.join(pickle, "model.safetensors"), os.path.join(pickle, "pytorch_model.bin"))
    config_only = case("config-only", 0, "config.json but no model.safetensors")
    os.remove(os.path.join(config_only, "model.safetensors"))
    unknown = case("unknown-key", 0, "chronos_config")
    with open(os.path.join(unknown, "config.json")) as f:
        config = json.load(f)
    config["chronos_config"]["patch_mode"] = "overlap"
    write_json(os.path.join(unknown, "config.json"), config)
    script = os.path.join(root, "torchscript-folder")
    os.makedirs(script)
    shutil.copyfile(os.path.join(baselines, "0_naive.pt"), os.path.join(script, "model.pt"))
    with open(os.path.join(script, "README.md"), "w") as f:
        f.write("# naive\n")
    cases["torchscript-folder"] = (script, 0, None)
    return cases


def write_schedule(path, native):
    """Both competitions allow the native baseline's bytes + 3000; competition
    1 one parameter fewer than it has. Both play one small synthetic task."""
    parameters = parameters_of(native)
    task = {"name": "gp", "dataset": "synthetic", "series": 12, "length": 160,
            "batch_size": 12, "samples_per_kernel": 4}
    competitions = []
    size = folder_bytes(native) + 3000
    for id_, params, share in ((0, 10_000_000, 0.5), (1, parameters - 1, 0.5)):
        competitions.append({"id": id_, "name": "c%d" % id_, "reward_share": share,
                             "constraints": {"max_file_bytes": size, "max_parameters": params},
                             "tasks": [task], "sample_min": 10})
    write_json(path, {"schedule": [{"start_block": 0, "competitions": competitions}]})


def parameters_of(native):
    out = subprocess.run([CRUCIBLE, "models", "inspect", native], capture_output=True, text=True)
    line = [x for x in out.stdout.splitlines() if x.startswith("parameters")][0]
    return int(line.split()[1])


def local_verdicts(name, folder, competition, schedule, work):
    """{path: reason or None} of inspect, hash and eval for one folder."""
    rules = ["--schedule", schedule, "--competition", str(competition)]
    verdicts = {}
    out = subprocess.run([CRUCIBLE, "models", "inspect", folder, *rules],
                         capture_output=True, text=True)
    verdicts["inspect"] = refusal_of(out, folder)
    out = subprocess.run([CRUCIBLE, "models", "hash", folder, "--hotkey", "miner-" + name, *rules],
                         capture_output=True, text=True)
    verdicts["hash"] = refusal_of(out, folder)
    check(out.returncode != 0 or "secure hash" in out.stdout, name + ": hash prints the hashes")
    result = os.path.join(work, name + ".json")
    out = subprocess.run([CRUCIBLE, "eval", "--models", folder, *rules, "--seed", "5", "--device",
                          "cpu", "--out", result], capture_output=True, text=True)
    check(out.returncode == 0, name + ": eval runs (exit %d: %s)" % (out.returncode,
                                                                    out.stderr.strip()[-300:]))
    with open(result) as f:
        [model] = json.load(f)["models"]
    verdicts["eval"] = None if model["status"] == "ok" else model["reason"]
    return verdicts


def refusal_of(completed, folder):
    """None when accepted (exit 0), else the reason of the one-line error."""
    if completed.returncode == 0:
        return None
    lines = completed.stderr.strip().splitlines()
    prefix = "crucible models: " + folder + ": refused: "
    check(len(lines) == 1 and lines[0].startswith(prefix),
          "%s: one-line refusal (%r)" % (folder, completed.stderr.strip()[-300:]))
    return lines[0][len(prefix):] if lines else completed.stderr


def validator_verdicts(cases, root):
    """{name: reason or None} from a validator scoring every case once."""
    hub, chain = os.path.join(root, "hub"), os.path.join(root, "chain")
    neurons = [{"uid": 0, "hotkey": "validator0", "stake": 100.0, "validator_permit": True}]
    commitments, uid_of = {}, {}
    for uid, (name, (folder, competition, _)) in enumerate(sorted(cases.items()), start=1):
        hotkey = "miner-" + name
        shutil.copytree(folder, os.path.join(hub, "ns", name, "c1"))
        commitments[hotkey] = {"commitment": commitment(name, "c1", folder_files(folder), hotkey,
                                                        competition), "block": 900}
        neurons.append({"uid": uid, "hotkey": hotkey, "stake": 1.0, "validator_permit": False})
        uid_of[name] = uid
    os.makedirs(chain)
    write_json(os.path.join(chain, "metagraph.json"),
               {"netuid": 7, "block": 1200, "seconds_per_block": 0, "time": time.time(),
                "neurons": neurons})
    write_json(os.path.join(chain, "commitments.json"), commitments)
    state = os.path.join(root, "state")
    process = start_validator(CRUCIBLE, chain, hub, state, os.path.join(root, "schedule.json"),
                              os.path.join(root, "validator.log"))
    seen = {}

    def all_seen():
        for row in verdict_rows(state):
            seen.setdefault(row["uid"], row)
        return len(seen) == len(cases)

    try:
        check(wait_for(all_seen, 300), "the validator gave every miner a verdict")
    finally:
        stop(process)
    verdicts = {}
    for name, uid in uid_of.items():
        row = seen.get(uid, {"status": "missing", "reason": "no row"})
        verdicts[name] = None if row["status"] == "ok" else (row["status"], row["reason"])
    return verdicts


def check_rules_flags(folder, schedule, work):
    """Rules flags that cannot go together: exit 2, one line naming the flag,
    no result.json."""
    out = os.path.join(work, "never.json")
    eval_ = ["eval", "--models", folder, "--seed", "1", "--out", out]
    cases = [
        (eval_ + ["--competition", "0"], "--competition: needs --schedule"),
        (eval_ + ["--block", "5"], "--block: needs --schedule"),
        (eval_ + ["--schedule", schedule], "--schedule: add --competition"),
        (eval_ + ["--schedule", schedule, "--competition", "7"], "has no competition 7"),
        (eval_ + ["--schedule", schedule, "--competition", "0", "--series", "5"],
         "--series: --schedule's competition sets this"),
        (eval_ + ["--schedule", schedule, "--competition", "0", "--max-file-bytes", "9"],
         "--max-file-bytes: --schedule's competition sets this"),
        (["models", "inspect", folder, "--competition", "1"], "--competition: needs --schedule"),
        (["models", "inspect", folder, "--schedule", schedule, "--competition", "0", "--block",
          "0", "--max-parameters", "3"], "--max-parameters: --schedule's competition sets this"),
    ]
    for args, words in cases:
        result = subprocess.run([CRUCIBLE, *args], capture_output=True, text=True)
        lines = result.stderr.strip().splitlines()
        check(result.returncode == 2 and len(lines) == 1 and words in lines[0] and
              not os.path.exists(out), "%s: refused with %r (%d: %s)" % (
                  " ".join(args[:1] + args[3:]), words, result.returncode, result.stderr.strip()))


def main():
    global CRUCIBLE
    CRUCIBLE = os.path.abspath(sys.argv[1])
    root = tempfile.mkdtemp(prefix="crucible-verdict-")
    try:
        baselines = make_baselines(CRUCIBLE, os.path.join(root, "baselines"))
        schedule = os.path.join(root, "schedule.json")
        write_schedule(schedule, os.path.join(baselines, "6_bolt_gaussian"))
        cases = make_cases(baselines, os.path.join(root, "cases"))
        check_rules_flags(cases["as-saved"][0], schedule, root)
        validator = validator_verdicts(cases, root)
        for name, (folder, competition, phrase) in sorted(cases.items()):
            local = local_verdicts(name, folder, competition, schedule, root)
            theirs = validator[name]
            for path, reason in local.items():
                if phrase is None:
                    check(reason is None, "%s: %s accepts it (%s)" % (name, path, reason))
                else:
                    check(reason is not None and phrase in reason,
                          "%s: %s refuses it with %r (%s)" % (name, path, phrase, reason))
            if phrase is None:
                check(theirs is None, "%s: the validator accepts it (%s)" % (name, theirs))
                continue
            # The validator's sentence, after the label of a refusal at download
            # ('repository "ns/x" at commit "c1": ').
            status, sentence = theirs or ("accepted", "")
            if sentence.startswith('repository "'):
                sentence = sentence.split('": ', 1)[-1]
            check(theirs is not None and phrase in sentence,
                  "%s: the validator refuses it with %r (%s)" % (name, phrase, theirs))
            for path, reason in local.items():
                check(bool(sentence) and reason is not None and sentence in reason,
                      "%s: %s says what the validator says (%r in %r)" % (name, path, sentence,
                                                                          reason))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    REPORT.finish()


if __name__ == "__main__":
    main()
