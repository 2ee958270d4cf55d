#!/usr/bin/python3
"""Bad inputs to `crucible validator` and `crucible eval`: each must exit
non-zero with one line on stderr naming the flag or file, before anything
runs; a TOML config file's options apply. A running validator: what it logs
when every miner fails (once per change, a start-up summary, the chain's
netuid), one validator per state directory, and SIGINT: a first one is
acknowledged at once and waits for the step, a second one kills the step's
workers and exits 130 with the last saved state.

    /usr/bin/python3 tests/python/validator_cli_test.py PATH_TO_CRUCIBLE
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples"))
import oracle  # noqa: E402
from make_demo_chain import content_hash, sha256_b64  # noqa: E402

# A TorchScript model whose forecast never ends (needs Python torch to build).
SLOW_MODEL = """
import sys
from typing import List
import torch


class Slow(torch.nn.Module):
    def forward(self, inputs: torch.Tensor, prediction_length: int,
                quantiles: List[float]) -> torch.Tensor:
        x = inputs.sum() * 0.0
        i = 0
        while i >= 0:
            x = x + 1.0
            i = i + 1
        return x.expand(inputs.size(0), prediction_length, 1, len(quantiles))


torch.jit.script(Slow()).save(sys.argv[1])
"""


def run(binary, args, timeout=60):
    return subprocess.run([binary] + args, capture_output=True, text=True, timeout=timeout)


def check_error(report, binary, name, args, words):
    result = run(binary, args)
    lines = [l for l in result.stderr.splitlines() if l.strip()]
    report.check(f"{name}: non-zero exit", result.returncode != 0, result.returncode)
    report.check(f"{name}: one line", len(lines) == 1, result.stderr)
    report.check(f"{name}: names {words}", bool(lines) and all(w in lines[0] for w in words),
                 result.stderr)


def write_json(path, document):
    with open(path + ".tmp", "w") as f:
        json.dump(document, f)
    os.replace(path + ".tmp", path)


class Chain:
    """A local chain (uid 0 a validator) and a local hub in `root`."""

    def __init__(self, root, netuid):
        self.chain, self.hub = os.path.join(root, "chain"), os.path.join(root, "hub")
        self.netuid = netuid
        self.neurons = [{"uid": 0, "hotkey": "validator", "stake": 10.0, "validator_permit": True}]
        self.commitments = {}
        os.makedirs(self.hub)
        self.write()

    def add_miner(self, data=None, publish=True):
        """A miner; with `data`, committed to a model.pt of those bytes (put at the
        hub when `publish`)."""
        uid = len(self.neurons)
        hotkey = "miner%d" % uid
        self.neurons.append({"uid": uid, "hotkey": hotkey, "stake": 1.0, "validator_permit": False})
        if data is not None:
            commit = "c%d" % uid
            if publish:
                folder = os.path.join(self.hub, "ns", "m%d" % uid, commit)
                os.makedirs(folder)
                with open(os.path.join(folder, "model.pt"), "wb") as f:
                    f.write(data)
            secure = sha256_b64((content_hash({"model.pt": data}) + hotkey).encode())
            self.commitments[hotkey] = {"commitment": "ns/m%d:%s:%s:0" % (uid, commit, secure),
                                        "block": 100 + uid}
        self.write()
        return uid

    def write(self):
        os.makedirs(self.chain, exist_ok=True)
        write_json(os.path.join(self.chain, "metagraph.json"),
                   {"netuid": self.netuid, "block": 1000, "seconds_per_block": 0,
                    "neurons": self.neurons})
        write_json(os.path.join(self.chain, "commitments.json"), self.commitments)


class Validator:
    """A validator process whose output goes to a file, read while it runs."""

    def __init__(self, binary, args, log_path):
        self.log_path = log_path
        with open(log_path, "w") as log:
            self.process = subprocess.Popen([binary, "validator"] + args, stdout=log,
                                            stderr=subprocess.STDOUT)

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def wait_for_output(self, text, seconds):
        return wait_for(lambda: text in self.output(), seconds)

    def wait(self, seconds):
        try:
            return self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def wait_for(predicate, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def children(pid):
    """The pids of the processes whose parent is `pid`."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat[stat.rfind(")") + 2:].split()[1]) == pid:
            found.append(int(name))
    return found


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def lines_with(output, text):
    return [line for line in output.splitlines() if text in line]


def check_failing_miners_and_lock(report, binary, root):
    """Every miner fails: each reason is logged once, with a start-up summary;
    a second validator on the same state directory is refused; one SIGINT
    while idle stops it at once."""
    chain = Chain(root, netuid=5)
    chain.add_miner()                            # 1: no commitment
    chain.add_miner(b"missing", publish=False)   # 2: not at the hub
    state = os.path.join(root, "state")
    args = ["--chain", "local:" + chain.chain, "--hub", chain.hub, "--state-dir", state,
            "--no-http", "--idle-poll", "0.2", "--sync-interval", "0.2", "--retry-interval",
            "0.2", "--log-level", "debug"]
    for run in ("first run", "restart"):  # a restart logs the saved failures again, once
        first = Validator(binary, args, os.path.join(root, run + ".log"))
        try:
            report.check(run + ": first model sync summarised",
                         first.wait_for_output("first model sync: ", 60), first.output()[-2000:])
            time.sleep(1.5)  # several more walks over the miners
            output = first.output()
            report.check(run + ": summary names miners, installs and failures by reason",
                         "first model sync: 2 miners, 0 models installed, 2 failed "
                         "(missing-commitment 1, not-found 1)" in output, output[-2000:])
            missing = lines_with(output, "uid 1: missing-commitment")
            report.check(run + ": missing commitment logged once, at info",
                         len(missing) == 1 and "[info]" in missing[0], missing)
            not_found = lines_with(output, "uid 2: not-found")
            report.check(run + ": not-found logged once, at warning",
                         len(not_found) == 1 and "[warning]" in not_found[0], not_found)
            report.check(run + ": the chain's netuid is logged",
                         "crucible validator: netuid 5 (" in output and "(from the chain)" not in
                         output, output[:1000])
            report.check(run + ": idling is logged at debug",
                         "idle: every queued model is scored in this window" in output, output[-2000:])

            if run == "first run":
                second = run_validator_once(binary, args)
                lines = [l for l in second.stderr.splitlines() if l.strip()]
                report.check("second validator on the state dir: non-zero exit",
                             second.returncode != 0, second.returncode)
                report.check("second validator: one line naming the holder's pid",
                             len(lines) == 1 and "in use by another validator (pid %d" %
                             first.process.pid in lines[0], second.stderr)
                with open(os.path.join(state, "LOCK")) as f:
                    report.check("the lock file holds the pid",
                                 f.read().strip() == str(first.process.pid))

            first.process.send_signal(signal.SIGINT)
            report.check(run + ": SIGINT while idle exits 0", first.wait(20) == 0,
                         first.output()[-2000:])
            report.check(run + ": the stop is acknowledged",
                         "stop requested (SIGINT): no step in progress" in first.output(),
                         first.output()[-2000:])
        finally:
            first.kill()


def run_validator_once(binary, args):
    return subprocess.run([binary, "validator"] + args, capture_output=True, text=True,
                          timeout=60)


def check_second_sigint(report, binary, root, models):
    """SIGINT during a step that never ends: acknowledged at once; a second
    SIGINT kills the worker and exits 130, the saved state the last step's."""
    slow_path, script = os.path.join(root, "slow.pt"), os.path.join(root, "make_slow.py")
    with open(script, "w") as f:
        f.write(SLOW_MODEL)  # TorchScript compiles from the source file
    built = subprocess.run(["/usr/bin/python3", script, slow_path], capture_output=True, text=True)
    if built.returncode != 0:
        print("SKIP second SIGINT: no Python torch to build a slow model (%s)" %
              built.stderr.strip().splitlines()[-1:])
        return
    with open(slow_path, "rb") as f:
        slow = f.read()
    with open(os.path.join(models, "0_naive.pt"), "rb") as f:
        naive = f.read()
    chain = Chain(root, netuid=3)
    chain.add_miner(naive)
    schedule = os.path.join(root, "schedule.json")
    write_json(schedule, {"schedule": [{"start_block": 0, "competitions": [{
        "id": 0, "name": "univariate", "reward_share": 1.0,
        "constraints": {"max_file_bytes": 1000000, "max_parameters": 1000000},
        "tasks": [{"name": "gp", "dataset": "synthetic", "series": 8, "length": 128,
                   "batch_size": 8, "samples_per_kernel": 4}],
        "sample_min": 10}]}]})
    state = os.path.join(root, "state")
    args = ["--chain", "local:" + chain.chain, "--hub", chain.hub, "--state-dir", state,
            "--schedule", schedule, "--no-http", "--idle-poll", "0.2", "--device", "cpu",
            "--jobs", "1", "--timeout-per-model", "600"]
    done = run_validator_once(binary, args + ["--steps", "1"])
    report.check("one step with a fast model", done.returncode == 0, done.stderr[-2000:])
    metrics = os.path.join(state, "metrics.jsonl")
    current = os.path.join(state, "state", "CURRENT")

    def saved():
        with open(current) as f, open(metrics) as g:
            return f.read(), g.read()

    before = saved()
    chain.add_miner(slow)
    # uid 1 excluded, so the step waits for the slow model's install and runs it alone.
    run = Validator(binary, args + ["--exclude-uids", "1"], os.path.join(root, "slow.log"))
    try:
        pid = run.process.pid
        report.check("a worker runs the step", wait_for(lambda: children(pid), 60),
                     run.output()[-2000:])
        workers = children(pid)
        time.sleep(1.0)
        run.process.send_signal(signal.SIGINT)
        report.check("first SIGINT: acknowledged at once, naming the step",
                     run.wait_for_output("stop requested (SIGINT): waiting for step 2 "
                                         "(competition 0, 1 model, running for ", 3),
                     run.output()[-2000:])
        report.check("first SIGINT: the step goes on", run.wait(1.5) is None,
                     run.output()[-2000:])
        run.process.send_signal(signal.SIGINT)
        code = run.wait(10)
        report.check("second SIGINT: exits 130 at once", code == 128 + signal.SIGINT,
                     (code, run.output()[-2000:]))
        report.check("second SIGINT: says what it aborted",
                     "second stop signal (SIGINT): aborted step 2" in run.output(),
                     run.output()[-2000:])
        report.check("second SIGINT: the workers are killed",
                     wait_for(lambda: not any(alive(w) for w in workers), 10), workers)
        report.check("second SIGINT: the saved state is the last completed step's",
                     saved() == before, saved())
    finally:
        run.kill()


def main():
    binary = oracle.binary_from_argv()
    report = oracle.Report()
    with tempfile.TemporaryDirectory() as tmp:
        chain, hub, empty = (os.path.join(tmp, d) for d in ("chain", "hub", "empty"))
        for d in (chain, hub, empty):
            os.makedirs(d)
        with open(os.path.join(chain, "metagraph.json"), "w") as f:
            json.dump({"netuid": 1, "block": 10, "seconds_per_block": 0, "neurons": [
                {"uid": 0, "hotkey": "v", "stake": 1.0, "validator_permit": True}]}, f)
        bad_chain = os.path.join(tmp, "bad_chain")
        os.makedirs(bad_chain)
        with open(os.path.join(bad_chain, "metagraph.json"), "w") as f:
            f.write('{"netuid": 1, "block": 10, "seconds_per_block": 0, "neurons": [{"uid": 5}]}')
        schedule = os.path.join(tmp, "schedule.json")
        with open(schedule, "w") as f:
            f.write('{"schedule": 3}')
        config = os.path.join(tmp, "bad.toml")
        with open(config, "w") as f:
            f.write("[validator]\nstepz = 3\n")
        state = os.path.join(tmp, "state")
        base = ["validator", "--chain", "local:" + chain, "--hub", hub, "--state-dir", state,
                "--no-http"]

        check_error(report, binary, "chain spec", ["validator", "--chain", chain, "--hub", hub],
                    ["--chain", "local:DIR"])
        check_error(report, binary, "missing chain", ["validator", "--chain", "local:" + empty,
                                                       "--hub", hub], ["metagraph.json"])
        check_error(report, binary, "malformed metagraph",
                    ["validator", "--chain", "local:" + bad_chain, "--hub", hub],
                    ["metagraph.json", "$.neurons[0]"])
        check_error(report, binary, "no hub", ["validator", "--chain", "local:" + chain],
                    ["--hub", "--hub-endpoint"])
        check_error(report, binary, "hub not a folder", base[:3] + ["--hub", schedule],
                    ["--hub", schedule])
        check_error(report, binary, "bad schedule", base + ["--schedule", schedule],
                    [schedule, "$.schedule"])
        check_error(report, binary, "bad isolation", base + ["--isolation", "maybe"],
                    ["--isolation"])
        check_error(report, binary, "zero sync interval", base + ["--sync-interval", "0"],
                    ["--sync-interval", "> 0"])
        check_error(report, binary, "negative step timeout", base + ["--step-timeout", "-1"],
                    ["--step-timeout"])
        check_error(report, binary, "bad log level", base + ["--log-level", "loud"],
                    ["--log-level"])
        check_error(report, binary, "unknown config key", base + ["--config", config],
                    ["stepz"])
        check_error(report, binary, "eval: empty models folder",
                    ["eval", "--models", empty, "--seed", "1", "--out", os.path.join(tmp, "r.json")],
                    [empty, "no models in the folder"])
        check_error(report, binary, "eval: negative budget",
                    ["eval", "--models", empty, "--seed", "1", "--gpu-memory-budget", "-1",
                     "--out", os.path.join(tmp, "r.json")], ["--gpu-memory-budget"])
        report.check("no result file", not os.path.exists(os.path.join(tmp, "r.json")))

        # A config file's options apply: one step (a chain with one miner), no HTTP.
        models = os.path.join(tmp, "models")
        os.makedirs(models)
        run(binary, ["models", "make-baselines", "--out", models])
        subprocess.run(["/usr/bin/python3", os.path.join(os.path.dirname(__file__), "..", "..",
                                                         "examples", "make_demo_chain.py"),
                        models, hub, chain], check=True, capture_output=True)
        good = os.path.join(tmp, "good.toml")
        with open(good, "w") as f:
            f.write("[validator]\nsteps = 1\nno-http = true\nidle-poll = 0.2\n")
        result = run(binary, ["validator", "--config", good, "--chain", "local:" + chain,
                              "--hub", hub, "--state-dir", state], timeout=300)
        report.check("config: exits 0", result.returncode == 0, result.stderr[-1000:])
        report.check("config: stopped after one step",
                     "stopped after 1 evaluated steps" in result.stdout + result.stderr,
                     result.stdout[-1000:])

        for name in ("failing", "slow"):
            os.makedirs(os.path.join(tmp, name))
        check_failing_miners_and_lock(report, binary, os.path.join(tmp, "failing"))
        check_second_sigint(report, binary, os.path.join(tmp, "slow"), models)
    report.finish()


if __name__ == "__main__":
    main()
