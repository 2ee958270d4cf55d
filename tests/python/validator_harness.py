"""Shared parts of the end-to-end validator tests: JSON files written
atomically; readers for metrics.jsonl, weights.jsonl and the saved state; the
EMA update; a local chain (its block advancing with wall time, or moved by
the test) and a local hub of native baseline models (fast, in process); a
validator process whose output goes to a file; waiting for a condition.
"""
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples"))
from make_demo_chain import content_hash, sha256_b64  # noqa: E402

sys.path.insert(0, os.path.join(HERE, "..", "..", "bridge"))
from crucible_bridge.fake_chain import FakeChain  # noqa: E402
from crucible_bridge.health import Heartbeat  # noqa: E402
from crucible_bridge.weights import WeightsSubmitter  # noqa: E402

EMA_ALPHA = 0.2  # the schedule's ema alpha and alpha_init (NativeSetup and the integration test)
WEIGHTS_KEYS = {"block", "time", "uids", "weights", "version_key", "hotkey"}
WINDOW = 150  # blocks per task window: a validator scores each queued model once per window


def write_json(path, document):
    with open(path + ".tmp", "w") as f:
        json.dump(document, f)
    os.replace(path + ".tmp", path)


def read_lines(path):
    """The complete lines of a JSON-lines file. A last line without its newline
    is an append in progress (or one being cut back after a failed write), not
    yet a record: left out."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.endswith("\n") and line.strip()]


def jsonl_problems(path, keys=None):
    """What breaks 'one JSON object per line' in a .jsonl file: lines that do
    not parse, are not objects, lack one of `keys`, or a last line without its
    newline. [] when the file is fine or missing."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    problems = []
    if data and not data.endswith(b"\n"):
        problems.append("last line has no newline: %r" % data[-80:])
    for number, raw in enumerate(data.split(b"\n")[:-1], start=1):
        try:
            document = json.loads(raw)
        except ValueError as e:
            problems.append("line %d is not JSON (%s): %r" % (number, e, raw[:80]))
            continue
        if not isinstance(document, dict):
            problems.append("line %d is not an object: %r" % (number, raw[:80]))
        elif keys and not keys <= set(document):
            problems.append("line %d lacks %s" % (number, sorted(keys - set(document))))
    return problems


def current_generation(state_dir):
    """The generation a restart loads, as StateStore::load finds it: the one
    CURRENT names, else (killed before the first CURRENT was written) the
    newest complete one; None before the first save."""
    folder = os.path.join(state_dir, "state")
    try:
        with open(os.path.join(folder, "CURRENT")) as f:
            named = f.read().strip()
        if re.fullmatch(r"state-\d+", named) and os.path.isdir(os.path.join(folder, named)):
            return named
    except FileNotFoundError:
        pass
    generations = sorted((n for n in os.listdir(folder) if re.fullmatch(r"state-\d+", n)),
                         key=lambda n: int(n[6:])) if os.path.isdir(folder) else []
    return generations[-1] if generations else None


def saved_state(state_dir, name):
    folder = os.path.join(state_dir, "state")
    with open(os.path.join(folder, current_generation(state_dir), name)) as f:
        return json.load(f)


def ema_of(state_dir, uid):
    for competition in saved_state(state_dir, "ema.json")["competitions"]:
        for entry in competition["uids"]:
            if entry["uid"] == uid:
                return entry.get("ema")
    return None


def ema_update(ema, score):
    """The EMA after one update with `score` (baseline 0): alpha * score for
    a first update (`ema` None), else alpha * score + (1 - alpha) * ema."""
    return EMA_ALPHA * score if ema is None else EMA_ALPHA * score + (1 - EMA_ALPHA) * ema


def step_score(row):
    """What a metrics.jsonl row enters into its EMA: the composite of an ok
    model (0 when it is not finite), else 0."""
    composite = row.get("composite")
    ok = row.get("status") == "ok" and isinstance(composite, (int, float))
    return composite if ok and math.isfinite(composite) else 0.0


# The statuses of a metrics.jsonl row whose model ran in the step (or was due
# and not installed); every other miner's row says why it did not run.
RUN_STATUSES = {"ok", "refused", "failed", "timeout", "crashed", "bad-output", "not-installed"}


def ran_rows(line):
    """The rows of a metrics.jsonl step record whose model ran in the step."""
    return [m for m in line["models"] if m.get("status") in RUN_STATUSES]


def window_of(block):
    """The first block of the task window holding `block`."""
    return block - block % WINDOW


def wait_for(predicate, seconds, interval=0.1):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def status_port(log_path):
    """The status endpoint's port a validator logged ("status: http://ADDR:PORT/..."), or None."""
    found = re.search(r"status: http://[^:/]+:(\d+)/", read_text(log_path))
    return int(found.group(1)) if found else None


def stop(process, timeout=120):
    """Stops a validator as an operator would (SIGINT), killing it if it hangs."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def make_baselines(crucible, folder):
    """Writes the baselines of `crucible models make-baselines` into `folder`."""
    os.makedirs(folder)
    subprocess.run([crucible, "models", "make-baselines", "--out", folder], check=True,
                   stdout=subprocess.DEVNULL)
    return folder


def folder_files(folder):
    """Every file under `folder`: {relative '/'-separated path: bytes}."""
    files = {}
    for base, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(base, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, folder).replace(os.sep, "/")] = f.read()
    return files


def commitment(repo, commit, files, hotkey, competition=0):
    """A commitment to ns/repo@commit whose secure hash matches `files` for `hotkey`."""
    secure = sha256_b64((content_hash(files) + hotkey).encode())
    return "ns/%s:%s:%s:%d" % (repo, commit, secure, competition)


class NativeSetup:
    """A local hub and chain in `root`: uid 0 a validator, one miner per
    native baseline of `crucible models make-baselines` (Chronos-Bolt shaped,
    run in process), and a schedule with a small task.

    The chain's block starts at 1200 (a window's first block) at `self.time`
    and advances every `seconds_per_block` (0.01 s: a new task window, so a
    new round seed and new data, every 1.5 s; a validator scores each queued
    model once per window, so a model's composite differs from step to
    step). With `seconds_per_block=0` the block stays where `set_block` puts
    it: the validator scores its queue once, then idles until the test moves
    the block to another window."""

    NATIVE = ("6_bolt_gaussian", "7_bolt_random")
    FIRST_BLOCK = 1200

    def __init__(self, crucible, root, series=16, length=192, seconds_per_block=0.01):
        self.crucible, self.root = crucible, root
        self.hub, self.chain = os.path.join(root, "hub"), os.path.join(root, "chain")
        self.schedule = os.path.join(root, "schedule.json")
        models = make_baselines(crucible, os.path.join(root, "baselines"))
        neurons = [{"uid": 0, "hotkey": "validator0", "stake": 100.0, "validator_permit": True}]
        commitments = {}
        for uid, name in enumerate(self.NATIVE, start=1):
            files = {}
            for file in ("config.json", "model.safetensors"):
                with open(os.path.join(models, name, file), "rb") as f:
                    files[file] = f.read()
            repo = name.split("_", 1)[1].replace("_", "-")
            commit, hotkey = "c%d" % uid, "miner%d" % uid
            os.makedirs(os.path.join(self.hub, "ns", repo, commit))
            for file, data in files.items():
                with open(os.path.join(self.hub, "ns", repo, commit, file), "wb") as f:
                    f.write(data)
            neurons.append({"uid": uid, "hotkey": hotkey, "stake": 1.0, "validator_permit": False})
            commitments[hotkey] = {"commitment": commitment(repo, commit, files, hotkey),
                                   "block": 900 + uid}
        shutil.rmtree(models)
        self.uids = list(range(1, len(self.NATIVE) + 1))
        self.chains = [self.chain]
        self.seconds_per_block = seconds_per_block
        self.time = time.time()
        self.metagraph = {"netuid": 7, "block": self.FIRST_BLOCK,
                          "seconds_per_block": seconds_per_block, "time": self.time,
                          "neurons": neurons}
        os.makedirs(self.chain)
        write_json(os.path.join(self.chain, "metagraph.json"), self.metagraph)
        write_json(os.path.join(self.chain, "commitments.json"), commitments)
        write_json(self.schedule, {"schedule": [{
            "start_block": 0, "competitions": [{
                "id": 0, "name": "univariate", "reward_share": 1.0,
                "constraints": {"max_file_bytes": 10_000_000, "max_parameters": 10_000_000},
                "tasks": [{"name": "gp", "dataset": "synthetic", "series": series,
                           "length": length, "batch_size": series, "samples_per_kernel": 8}],
                "ema": {"alpha": EMA_ALPHA, "alpha_init": EMA_ALPHA, "baseline": 0.0},
                "sample_min": 10}]}]})

    FAILING = {"miner-not-found": "not-found", "miner-bad-hash": "hash-mismatch",
               "miner-garbage": "bad-commitment", "miner-silent": "missing-commitment"}

    def add_failing_miners(self):
        """One more miner per pre-evaluation failure (FAILING: hotkey -> the
        status the validator gives it): a commitment to a repository the hub
        lacks, one whose hash does not match the files, one that does not
        parse, and none at all. Returns {uid: status}."""
        with open(os.path.join(self.chain, "commitments.json")) as f:
            commitments = json.load(f)
        good = commitments["miner1"]["commitment"].split(":")
        made = {}
        for hotkey, status in self.FAILING.items():
            uid = len(self.metagraph["neurons"])
            self.metagraph["neurons"].append({"uid": uid, "hotkey": hotkey, "stake": 1.0,
                                              "validator_permit": False})
            text = {"not-found": "ns/absent:c9:%s:0" % good[2],
                    "hash-mismatch": "%s:%s:%s:0" % (good[0], good[1], "A" * 43 + "="),
                    "bad-commitment": "not a commitment"}.get(status)
            if text:
                commitments[hotkey] = {"commitment": text, "block": 950}
            made[uid] = status
        for folder in self.chains:
            write_json(os.path.join(folder, "commitments.json"), commitments)
            write_json(os.path.join(folder, "metagraph.json"), self.metagraph)
        return made

    def block_now(self):
        """The chain's current block, as the validator computes it."""
        if self.seconds_per_block <= 0:
            return self.metagraph["block"]
        elapsed = max(0.0, time.time() - self.time)
        return self.metagraph["block"] + int(math.floor(elapsed / self.seconds_per_block))

    def window_now(self):
        return window_of(self.block_now())

    def add_chain(self, name):
        """Another chain folder with the same metagraph and commitments (one
        validator per chain folder); `set_block` moves every one."""
        folder = os.path.join(self.root, name)
        os.makedirs(folder)
        for file in ("metagraph.json", "commitments.json"):
            shutil.copyfile(os.path.join(self.chain, file), os.path.join(folder, file))
        self.chains.append(folder)
        return folder

    def set_block(self, block):
        """Moves the block of a chain with `seconds_per_block=0` in every
        chain folder (a validator rereads metagraph.json within a second)."""
        assert self.seconds_per_block <= 0, "the block advances by itself"
        self.metagraph["block"] = block
        for folder in self.chains:
            write_json(os.path.join(folder, "metagraph.json"), self.metagraph)

    def start(self, state_dir, log_path, *extra, env=None, chain=None):
        """Starts a validator on `state_dir` (and `chain`, this setup's first
        chain folder by default); its output goes to `log_path`."""
        return start_validator(self.crucible, chain or self.chain, self.hub, state_dir,
                               self.schedule, log_path, "--timeout-per-model", "60", *extra,
                               env=env)


def start_validator(crucible, chain, hub, state_dir, schedule, log_path, *extra, env=None):
    """A validator on the chain folder `chain` and the local hub folder `hub`,
    on the CPU, polling fast; its output goes to `log_path`. Its status
    endpoint takes a free port (status_port reads it from the log) unless
    `extra` chooses one or --no-http: validators of tests that ctest runs at
    the same time would otherwise collide on the default port."""
    port = [] if "--http-port" in extra or "--no-http" in extra else ["--http-port", "0"]
    command = [crucible, "validator", "--chain", "local:" + chain, "--hub", hub, "--state-dir",
               state_dir, "--schedule", schedule, "--device", "cpu", "--idle-poll", "0.2",
               "--sync-interval", "0.5", "--retry-interval", "3600", *port, *extra]
    with open(log_path, "ab") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                env=dict(os.environ, **(env or {})))


def verdict_rows(state_dir):
    """The metrics.jsonl rows, oldest first, that give a miner's verdict: its
    model ran (ok, refused, ...) or could not be fetched (too-large, ...);
    not the rows of a miner that is waiting or not looked at yet."""
    return [row for line in read_lines(os.path.join(state_dir, "metrics.jsonl"))
            for row in line.get("models", []) if row.get("status") not in ("waiting", "unknown")]


def read_text(path):
    if not os.path.exists(path):
        return ""
    with open(path, errors="replace") as f:
        return f.read()


# The validator's --hotkey and the fake wallet's hotkey address of Bridge: ss58-shaped.
HOTKEY = "5" + "F" * 47


class Bridge:
    """The bridge's own code (bridge/crucible_bridge: the heartbeat and the
    weights submitter) against its in-memory fake chain, run every 0.2 s as
    `python -m crucible_bridge` runs it against a subtensor: bridge.json,
    and each new weights.jsonl line of HOTKEY submitted once and recorded in
    weights-submitted.jsonl. The fake chain's block advances each round."""

    def __init__(self, chain_dir):
        self.chain = FakeChain(block=4321, rate_limit=0)
        self.chain.add_neuron(HOTKEY, 10.0, permit=True)
        self.chain.own_hotkey = HOTKEY
        self.heartbeat = Heartbeat(chain_dir, sync_interval=0.2, weights_enabled=True,
                                   hotkey=HOTKEY)
        self.submitter = WeightsSubmitter(self.chain, chain_dir, 7, backoff_base=0.05,
                                          backoff_max=0.2)
        self.running = False
        self.thread = None

    def start(self):
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            self.chain.block += 1
            self.heartbeat.synced(self.chain.block)
            try:
                self.submitter.poll()
                self.heartbeat.polled(self.submitter)
            except Exception as error:  # as the bridge's loop: logged, never fatal
                self.heartbeat.polled(self.submitter, error)
            time.sleep(0.2)

    def stop(self):
        self.running = False
        self.thread.join()
