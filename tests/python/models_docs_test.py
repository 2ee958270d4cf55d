#!/usr/bin/python3
"""What docs/models.md promises a miner, checked against the binary:

- the example model (examples/models/simple_forecaster.py, quoted in the doc)
  scripts with Debian's PyTorch 1.13, passes `crucible models inspect`, and
  `crucible eval` scores it with status ok; its per-series losses equal the CRPS
  of the same model run in Python on the same task (the contract: inputs
  [B, T, 1] right-padded with 0, lengths [B], H = the widest target);
- `crucible models ops` prints the allowlist, sorted, one op per line, and
  inspect refuses what the doc says it refuses (a disallowed op, the parameter
  limit, an archive format newer than LibTorch 1.13 reads), one line on stderr;
- `crucible models hash` prints the content and secure hashes that an
  independent hashlib/base64 computation (and examples/make_demo_chain.py)
  gives, and a commitment string that parses back, fits 128 bytes and is
  shortened as model_id.h says; it refuses a missing folder, a bad hotkey, a
  folder without model files and a link with one line and a non-zero exit;
- `crucible validator` installs and scores models committed with that string
  (a TorchScript and a native folder), and reports hash-mismatch for a
  commitment made with another hotkey.

    /usr/bin/python3 tests/python/models_docs_test.py PATH_TO_CRUCIBLE
"""
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "examples"))
import oracle  # noqa: E402
from make_demo_chain import content_hash as demo_content_hash  # noqa: E402
from validator_harness import folder_files  # noqa: E402

EXAMPLE = os.path.join(REPO, "examples", "models", "simple_forecaster.py")
MODELS_DOC = os.path.join(REPO, "docs", "models.md")
SCORING_DOC = os.path.join(REPO, "docs", "scoring.md")
PYTHON = "/usr/bin/python3"
LEVELS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]

# A model that prints: prim::Print is not on the allowlist.
PRINTING_MODEL = '''
import sys
from typing import List
import torch

class Printing(torch.nn.Module):
    @torch.jit.export
    def forecast(self, inputs: torch.Tensor, prediction_length: int,
                 quantiles: List[float]) -> torch.Tensor:
        print("hello")
        return inputs[:, :prediction_length, :].unsqueeze(-1).repeat(1, 1, 1, len(quantiles))

torch.jit.script(Printing()).save(sys.argv[1])
'''

# Runs a saved model on a `crucible synth` task folder as the workers call it.
RUN_ON_TASK = '''
import sys
import numpy as np
import torch
model_path, task, out = sys.argv[1:4]
inputs = torch.from_numpy(np.load(task + "/inputs.npy")).unsqueeze(-1)
lengths = torch.from_numpy(np.load(task + "/input_lengths.npy"))
horizon = np.load(task + "/targets.npy").shape[1]
model = torch.jit.load(model_path)
model.eval()
with torch.no_grad():
    forecasts = model.forecast(inputs, horizon, [%s], lengths)
np.save(out, forecasts.numpy())
''' % ", ".join(str(q) for q in LEVELS)


def run(binary, args, timeout=300):
    return subprocess.run([binary] + args, capture_output=True, text=True, timeout=timeout)


def one_line_error(result):
    lines = result.stderr.strip().splitlines()
    return result.returncode != 0 and len(lines) == 1


def fields(stdout):
    """`key  value` lines of `crucible models hash` -> {key: [values...]}."""
    out = {}
    for line in stdout.splitlines():
        match = re.match(r"^(folder|file|hotkey|content hash|secure hash|commitment) +(.*)$", line)
        if match:
            out.setdefault(match.group(1), []).append(match.group(2))
    return out


def b64sha(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def python_hashes(files, hotkey):
    """The content and secure hash by their definition, with hashlib."""
    content = b64sha("".join(b64sha(files[p]) for p in sorted(files)).encode())
    return content, b64sha((content + hotkey).encode())


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def check_docs(report):
    with open(MODELS_DOC) as f:
        models_doc = f.read()
    with open(EXAMPLE) as f:
        example = f.read()
    blocks = re.findall(r"```python\n(.*?)```", models_doc, re.S)
    report.check("docs/models.md quotes the example's model class verbatim",
                 any("class SimpleForecaster" in b and b in example for b in blocks),
                 [b[:80] for b in blocks])
    for command in ("crucible models inspect", "crucible models ops", "crucible models hash",
                    "crucible eval", "torch.jit.script", "(native-models.md)",
                    "examples/models/simple_forecaster.py"):
        report.check("docs/models.md mentions " + command, command in models_doc)
    with open(SCORING_DOC) as f:
        scoring = f.read()
    sections = [int(n) for n in re.findall(r"^## (\d+)\. ", scoring, re.M)]
    report.check("docs/scoring.md has sections 1-7 in order", sections == list(range(1, 8)),
                 sections)
    for name, text in (("models.md", models_doc), ("scoring.md", scoring)):
        # Links are relative to docs/: one "../" reaches the repository root, no further.
        report.check(name + " refers to nothing outside the repository",
                     "../../" not in text and "shared/" not in text and "/work/" not in text)
        for link in re.findall(r"\]\(([^)#]+)", text):
            if link.startswith(("http://", "https://")):
                continue
            target = os.path.normpath(os.path.join(REPO, "docs", link))
            report.check("%s: link %s exists in the repository" % (name, link),
                         target.startswith(REPO + os.sep) and os.path.exists(target))


def build_example(report, models):
    os.makedirs(models)
    path = os.path.join(models, "0_simple.pt")
    built = subprocess.run([PYTHON, EXAMPLE, path], capture_output=True, text=True)
    report.check("the example scripts with " + PYTHON, built.returncode == 0 and
                 os.path.isfile(path), built.stderr[-2000:])
    return path


def check_inspect_and_eval(report, binary, tmp, model):
    inspected = run(binary, ["models", "inspect", model])
    report.check("inspect accepts the example", inspected.returncode == 0 and
                 re.search(r"^verdict +accepted$", inspected.stdout, re.M) is not None,
                 inspected.stdout + inspected.stderr)
    report.check("inspect: forecast takes the lengths",
                 re.search(r"^entry +forecast \(with input lengths\)$", inspected.stdout, re.M)
                 is not None, inspected.stdout)
    used = set(re.findall(r"^op +\d+  (\S+)", inspected.stdout, re.M))

    task = os.path.join(tmp, "task")
    synth = run(binary, ["synth", "--seed", "11", "--series", "12", "--length", "160",
                         "--device", "cpu", "--out", task])
    report.check("synth a task", synth.returncode == 0, synth.stderr)
    out = os.path.join(tmp, "result.json")
    evaluated = run(binary, ["eval", "--models", os.path.dirname(model), "--data", task,
                             "--seed", "11", "--device", "cpu", "--jobs", "1", "--out", out])
    report.check("eval runs the example", evaluated.returncode == 0,
                 evaluated.stdout + evaluated.stderr)
    if evaluated.returncode != 0:
        return used
    with open(out) as f:
        entry = json.load(f)["models"][0]
    report.check("eval: status ok", entry["status"] == "ok", entry)
    mean = entry["mean_loss"]
    report.check("eval: a finite mean loss",
                 isinstance(mean, float) and np.isfinite(mean), mean)

    # The same model run in Python on the same task: the contract is what eval does.
    forecasts_path = os.path.join(tmp, "python_forecasts.npy")
    ran = subprocess.run([PYTHON, "-c", RUN_ON_TASK, model, task, forecasts_path],
                         capture_output=True, text=True)
    if report.check("the example runs in Python on the task", ran.returncode == 0,
                    ran.stderr[-2000:]):
        forecasts = np.load(forecasts_path)
        targets = np.load(os.path.join(task, "targets.npy"))
        lengths = np.load(os.path.join(task, "target_lengths.npy"))
        report.check("the example returns [B, H, 1, Q]",
                     forecasts.shape == (targets.shape[0], targets.shape[1], 1, len(LEVELS)),
                     forecasts.shape)
        expected = oracle.series_losses("crps", targets, forecasts, lengths)
        actual = np.array([np.nan if v is None else v for v in entry["losses"]])
        report.check("eval's losses are the CRPS of the model's Python forecasts",
                     oracle.close(actual, expected, rtol=1e-5, atol=1e-7), (actual, expected))
    return used


def check_ops(report, binary, used):
    listed = run(binary, ["models", "ops"])
    ops = listed.stdout.splitlines()
    report.check("models ops exits 0", listed.returncode == 0, listed.stderr)
    report.check("models ops: sorted, distinct", ops == sorted(set(ops)) and len(ops) > 100,
                 ops[:5])
    report.check("models ops: qualified names only",
                 all(re.fullmatch(r"(aten|prim)::\w+", op) for op in ops),
                 [op for op in ops if not re.fullmatch(r"(aten|prim)::\w+", op)])
    report.check("models ops: holds every op of the example", used and used <= set(ops),
                 used - set(ops))
    report.check("models ops: no file, print or storage op",
                 not {"prim::Print", "aten::save", "aten::from_file", "aten::set_"} & set(ops))


def check_refusals(report, binary, tmp, model):
    script = os.path.join(tmp, "printing_model.py")
    with open(script, "w") as f:
        f.write(PRINTING_MODEL)
    printing = os.path.join(tmp, "printing.pt")
    built = subprocess.run([PYTHON, script, printing], capture_output=True, text=True)
    if report.check("script the printing model", built.returncode == 0, built.stderr[-2000:]):
        result = run(binary, ["models", "inspect", printing])
        report.check("a disallowed op: refused, one line naming it",
                     one_line_error(result) and
                     "refused: uses ops that are not allowed: prim::Print" in result.stderr,
                     result.stderr)
        report.check("a disallowed op: marked in the histogram",
                     re.search(r"prim::Print +<- not allowed", result.stdout) is not None,
                     result.stdout)

    result = run(binary, ["models", "inspect", model, "--max-parameters", "0"])
    report.check("over the parameter limit: refused, one line",
                 one_line_error(result) and "1 parameters, over the limit of 0" in result.stderr,
                 result.stderr)
    result = run(binary, ["models", "inspect", model, "--max-file-bytes", "100"])
    report.check("over the file limit: refused, one line",
                 one_line_error(result) and "over the limit of 100 bytes" in result.stderr,
                 result.stderr)

    # An archive whose format version is newer than LibTorch 1.13 reads (at most 10).
    newer = os.path.join(tmp, "newer.pt")
    with zipfile.ZipFile(model) as src, zipfile.ZipFile(newer, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            dst.writestr(info, b"11\n" if info.filename.endswith("/version") else data)
    result = run(binary, ["models", "inspect", newer])
    report.check("a newer archive format: refused, one line",
                 one_line_error(result) and
                 "refused: not a loadable TorchScript archive" in result.stderr and
                 "version 11" in result.stderr, result.stderr)


def hash_run(binary, folder, hotkey, *extra):
    return run(binary, ["models", "hash", folder, "--hotkey", hotkey] + list(extra))


def check_hash(report, binary, tmp, model):
    folder = os.path.join(tmp, "publish")
    with open(model, "rb") as f:
        write(os.path.join(folder, "model.pt"), f.read())
    write(os.path.join(folder, "README.md"), b"# simple forecaster\n")
    write(os.path.join(folder, ".gitattributes"), b"*.pt filter=lfs diff=lfs merge=lfs -text\n")
    write(os.path.join(folder, "extra", "notes.txt"), b"nested files are hashed too\n")
    write(os.path.join(folder, "extra.txt"), b"sorted before extra/notes.txt\n")
    files = folder_files(folder)
    hotkey = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"
    content, secure = python_hashes(files, hotkey)

    result = hash_run(binary, folder, hotkey)
    got = fields(result.stdout)
    report.check("hash exits 0", result.returncode == 0, result.stderr)
    report.check("hash lists every file, sorted",
                 [re.sub(r" \(\d+ bytes\)$", "", f) for f in got.get("file", [])] ==
                 sorted(files), got.get("file"))
    report.check("content hash = hashlib's", got.get("content hash") == [content],
                 (got.get("content hash"), content))
    report.check("content hash = make_demo_chain.py's",
                 got.get("content hash") == [demo_content_hash(files)])
    report.check("secure hash = hashlib's", got.get("secure hash") == [secure],
                 (got.get("secure hash"), secure))
    report.check("no commitment without --repo", "commitment" not in got, got)

    result = hash_run(binary, folder, hotkey, "--repo", "miner/simple-forecaster",
                      "--commit", "0123abcd", "--competition", "3")
    commitment = fields(result.stdout).get("commitment", [""])[0]
    report.check("commitment = ns/name:commit:secure_hash:competition",
                 commitment == "miner/simple-forecaster:0123abcd:%s:3" % secure, commitment)

    # A long repo id: the name is cut and suffixed with 8 hex of its SHA-256 to fit 128 bytes.
    name = "a-very-long-model-name-" * 4
    commit = "0123456789abcdef0123456789abcdef01234567"
    result = hash_run(binary, folder, hotkey, "--repo", "miner/" + name, "--commit", commit)
    commitment = fields(result.stdout).get("commitment", [""])[0]
    tail = ":%s:%s:0" % (commit, secure)
    keep = 128 - len("miner/") - len(tail) - 9
    expected = "miner/%s-%s%s" % (name[:keep], hashlib.sha256(name.encode()).hexdigest()[:8], tail)
    report.check("a long name is shortened as model_id.h says",
                 result.returncode == 0 and commitment == expected and len(commitment) == 128,
                 (commitment, expected))
    report.check("a shortened name is pointed out", "shortened" in result.stderr and
                 expected.split(":")[0] in result.stderr, result.stderr)
    return folder, hotkey


def check_hash_errors(report, binary, tmp, folder, hotkey):
    cases = [
        ("a missing folder", [os.path.join(tmp, "absent"), "--hotkey", hotkey], "absent"),
        ("a bad hotkey", [folder, "--hotkey", "not a hotkey"], "--hotkey"),
        ("an empty hotkey", [folder, "--hotkey", ""], "--hotkey"),
        ("--repo without --commit", [folder, "--hotkey", hotkey, "--repo", "a/b"], "--commit"),
        ("a repo id without '/'", [folder, "--hotkey", hotkey, "--repo", "ab", "--commit", "c"],
         "--repo"),
        ("a commit with ':'", [folder, "--hotkey", hotkey, "--repo", "a/b", "--commit", "c:d"],
         "--commit"),
    ]
    no_model = os.path.join(tmp, "no-model")
    write(os.path.join(no_model, "weights.bin"), b"\0" * 8)
    cases.append(("a folder without model files", [no_model, "--hotkey", hotkey], "model.pt"))
    linked = os.path.join(tmp, "linked")
    shutil.copytree(folder, linked)
    os.symlink(os.path.join(linked, "README.md"), os.path.join(linked, "link.md"))
    cases.append(("a folder holding a link", [linked, "--hotkey", hotkey], "link.md"))
    for name, args, named in cases:
        result = run(binary, ["models", "hash"] + args)
        report.check("hash refuses %s: one line naming %s" % (name, named),
                     one_line_error(result) and named in result.stderr and not result.stdout,
                     (result.returncode, result.stdout, result.stderr))


def check_validator_accepts(report, binary, tmp, folder, hotkey):
    """A local hub and chain committed with `crucible models hash` output: the
    validator installs and scores both formats and rejects the wrong hotkey's hash."""
    hub, chain = os.path.join(tmp, "hub"), os.path.join(tmp, "chain")
    baselines = os.path.join(tmp, "baselines")
    os.makedirs(baselines)
    made = run(binary, ["models", "make-baselines", "--out", baselines])
    report.check("make-baselines", made.returncode == 0, made.stderr)
    native = os.path.join(baselines, "6_bolt_gaussian")

    miners = [  # uid, hotkey, repo name, folder, hotkey whose hash is committed
        (1, hotkey, "simple", folder, hotkey),
        (2, "5NativeMinerHotkey", "bolt", native, "5NativeMinerHotkey"),
        (3, "5CopyMinerHotkey", "copied", folder, hotkey),
    ]
    neurons = [{"uid": 0, "hotkey": "5Validator", "stake": 100.0, "validator_permit": True}]
    commitments = {}
    for uid, miner, repo, source, hashed_with in miners:
        commit = "c%d" % uid
        shutil.copytree(source, os.path.join(hub, "miner", repo, commit))
        result = hash_run(binary, source, hashed_with, "--repo", "miner/" + repo,
                          "--commit", commit)
        commitment = fields(result.stdout).get("commitment", [""])[0]
        report.check("hash uid %d" % uid, result.returncode == 0 and commitment, result.stderr)
        neurons.append({"uid": uid, "hotkey": miner, "stake": 1.0, "validator_permit": False})
        commitments[miner] = {"commitment": commitment, "block": 900 + uid}
    os.makedirs(chain)
    with open(os.path.join(chain, "metagraph.json"), "w") as f:
        json.dump({"netuid": 1, "block": 1000, "seconds_per_block": 0, "neurons": neurons}, f)
    with open(os.path.join(chain, "commitments.json"), "w") as f:
        json.dump(commitments, f)
    schedule = os.path.join(tmp, "schedule.json")
    with open(schedule, "w") as f:
        json.dump({"schedule": [{"start_block": 0, "competitions": [{
            "id": 0, "reward_share": 1.0,
            "tasks": [{"series": 8, "length": 128, "batch_size": 8, "samples_per_kernel": 4}]}]}]},
            f)
    state = os.path.join(tmp, "state")
    result = run(binary, ["validator", "--chain", "local:" + chain, "--hub", hub,
                          "--state-dir", state, "--schedule", schedule, "--steps", "1",
                          "--no-http", "--device", "cpu", "--jobs", "1", "--idle-poll", "0.2"],
                 timeout=300)
    report.check("the validator runs a step", result.returncode == 0, result.stderr[-3000:])
    metrics = os.path.join(state, "metrics.jsonl")
    if not report.check("metrics.jsonl written", os.path.isfile(metrics)):
        return
    with open(metrics) as f:
        rows = {m["uid"]: m for line in f if line.strip() for m in json.loads(line)["models"]}
    for uid, kind in ((1, "TorchScript"), (2, "native")):
        row = rows.get(uid, {})
        report.check("the validator scores the %s model committed with hash's string" % kind,
                     row.get("status") == "ok" and row.get("mean_loss") is not None and
                     np.isfinite(row["mean_loss"]), row)
    with open(os.path.join(state, "state", "CURRENT")) as f:
        generation = f.read().strip()
    with open(os.path.join(state, "state", generation, "models.json")) as f:
        tracker = {h["hotkey"]: h.get("model", {}) for h in json.load(f)["hotkeys"]}
    failure = tracker.get("5CopyMinerHotkey", {}).get("failure", "")
    report.check("a secure hash made with another hotkey: hash-mismatch",
                 failure.startswith("hash-mismatch: "), failure)


def main():
    binary = oracle.binary_from_argv()
    report = oracle.Report()
    check_docs(report)
    with tempfile.TemporaryDirectory() as tmp:
        model = build_example(report, os.path.join(tmp, "models"))
        if os.path.isfile(model):
            used = check_inspect_and_eval(report, binary, tmp, model)
            check_ops(report, binary, used)
            check_refusals(report, binary, tmp, model)
            folder, hotkey = check_hash(report, binary, tmp, model)
            check_hash_errors(report, binary, tmp, folder, hotkey)
            check_validator_accepts(report, binary, tmp, folder, hotkey)
    report.finish()


if __name__ == "__main__":
    main()
