"""The command line as a whole: --version, unknown subcommands, --config TOML
files for every subcommand, and nonsense flag values refused with one line
(`crucible eval`, `synth`, `score`, `loss`) instead of being ignored.

    /usr/bin/python3 tests/python/cli_options_test.py PATH_TO_CRUCIBLE
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402
from validator_harness import make_baselines  # noqa: E402


def one_line_failure(report, binary, name, args, words, out=None):
    """A non-zero exit, one stderr line starting with 'crucible', holding every word."""
    result = oracle.run(binary, args)
    lines = result.stderr.strip().splitlines()
    first = lines[0] if lines else ""
    report.check(f"{name}: non-zero exit", result.returncode != 0, f"exit {result.returncode}")
    report.check(f"{name}: one line on stderr", len(lines) == 1, repr(result.stderr))
    report.check(f"{name}: says {words}", first.startswith("crucible")
                 and all(w in first for w in words), repr(first))
    if out:
        report.check(f"{name}: no out file", not os.path.exists(out))
    return result


def check_version_and_subcommands(report, binary):
    result = oracle.run(binary, ["--version"])
    report.check("--version: exit 0", result.returncode == 0, result.stderr)
    report.check("--version: names the version, commit, LibTorch and CUDA",
                 re.match(r"crucible \d+\.\d+\.\d+ \(commit [0-9a-z+]+\), LibTorch \d+\.\d+"
                          r".*CUDA kernels compiled: (yes|no), CUDA device: (available|none)$",
                          result.stdout.strip()) is not None, repr(result.stdout))
    one_line_failure(report, binary, "unknown subcommand", ["evaluate", "--seed", "1"],
                     ['unknown subcommand "evaluate"', "eval", "validator"])
    for command in ("eval", "validator", "synth"):
        result = oracle.run(binary, [command, "--help"])
        report.check(f"{command} --help mentions --config", "--config" in result.stdout,
                     result.stdout[-300:])


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def check_config_files(report, binary, tmp, models):
    out = os.path.join(tmp, "config-result.json")
    base = ["eval", "--models", models, "--out", out]
    one_line_failure(report, binary, "config: unknown key",
                     base + ["--config", write(os.path.join(tmp, "unknown.toml"),
                                                "[eval]\nseed = 1\nsede = 2\n")],
                     ["unknown.toml", "unknown key eval.sede"])
    one_line_failure(report, binary, "config: unquoted string is invalid TOML",
                     base + ["--config", write(os.path.join(tmp, "bad.toml"),
                                                "[eval]\nseed = 1\ndevice = cpu\n")],
                     ["bad.toml", "line 3"])
    one_line_failure(report, binary, "config: missing file names the OS reason",
                     base + ["--seed", "1", "--config", os.path.join(tmp, "absent.toml")],
                     ["absent.toml", "No such file or directory"])
    # Bare keys go to the subcommand being run; a flag wins over the file.
    config = write(os.path.join(tmp, "eval.toml"), "seed = 4\nseries = 6\nlength = 80\n")
    result = oracle.run(binary, base + ["--config", config, "--series", "5"])
    report.check("config: eval --config runs", result.returncode == 0, result.stderr)
    if result.returncode == 0:
        written = json.load(open(out))
        report.check("config: seed from the file", written["seed"] == 4, str(written["seed"]))
        report.check("result.json: the seed also as a string", written.get("seed_text") == "4",
                     str(written.get("seed_text")))
        report.check("config: --series flag wins over the file",
                     written["task"]["series"] == 5, str(written["task"]["series"]))
    # Dotted options (wallet.name) from a [validator] table: accepted, and the
    # run gets as far as the chain (which is missing here).
    config = write(os.path.join(tmp, "validator.toml"),
                   '[validator]\nwallet.name = "w"\nwallet.hotkey = "h"\nsteps = 1\n')
    result = oracle.run(binary, ["validator", "--config", config, "--chain",
                                 "local:" + os.path.join(tmp, "no-chain")])
    report.check("config: dotted keys accepted", "unknown key" not in result.stderr
                 and "no-chain" in result.stderr, result.stderr.strip())


def check_validator_flags(report, binary, tmp):
    """Validator options from a file or flags: each refusal names the file and
    line (for a file), the option and the reason, exits 2, and comes before
    the state folder is locked or created."""
    state = os.path.join(tmp, "validator-state")
    base = ["validator", "--chain", "local:" + os.path.join(tmp, "no-chain"), "--state-dir", state]
    cases = [
        ("config: a value of the wrong type", '[validator]\nidle-poll = 1\nsteps = "four"\n',
         ["steps.toml", "line 3", "validator.steps", "four"]),
        ("config: an unknown key names its line", "[validator]\n\nstepz = 4\n",
         ["steps.toml", "line 3", "unknown key validator.stepz"]),
        ("config: device = gpu", '[validator]\ndevice = "gpu"\n',
         ["steps.toml", "line 2", "--device", "gpu", "auto, cpu, cuda or cuda:N"]),
    ]
    for name, text, words in cases:
        result = one_line_failure(report, binary, name,
                                  base + ["--config", write(os.path.join(tmp, "steps.toml"), text)],
                                  words)
        report.check(f"{name}: exit 2", result.returncode == 2, str(result.returncode))
    for flag, value, words in (("--steps", "-1", ["--steps", "-1"]),
                               ("--chain-stale-after", "-5", ["--chain-stale-after", ">= 0"]),
                               ("--metrics-max-mib", "-1", ["--metrics-max-mib", ">= 0"]),
                               ("--device", "gpu", ["--device", "gpu"]),
                               ("--http-bind", "no-such-host.invalid",
                                ["--http-bind", "no-such-host.invalid", "cannot resolve"]),
                               ("--http-port", "70000", ["--http-port", "70000", "0..65535"])):
        result = one_line_failure(report, binary, f"validator {flag} {value}",
                                  base + [flag, value], words)
        report.check(f"validator {flag} {value}: exit 2", result.returncode == 2,
                     str(result.returncode))
    report.check("validator: refused flags leave no state folder", not os.path.exists(state))


def check_hub_token_file(report, binary, tmp):
    """HF_TOKEN_FILE (a Docker secret) that cannot be read: one line naming
    the variable and the file, never a token."""
    chain = os.path.join(tmp, "token-chain")
    os.makedirs(chain)
    write(os.path.join(chain, "metagraph.json"),
          '{"netuid": 1, "block": 10, "seconds_per_block": 12, "neurons": []}')
    missing = os.path.join(tmp, "no-such-token")
    env = dict(os.environ, HF_TOKEN_FILE=missing, HF_TOKEN="hf_secret_never_shown")
    result = subprocess.run([binary, "validator", "--chain", "local:" + chain, "--hub-endpoint",
                             "http://127.0.0.1:9", "--state-dir", os.path.join(tmp, "token-state")],
                            capture_output=True, text=True, env=env, timeout=60)
    lines = result.stderr.strip().splitlines()
    report.check("HF_TOKEN_FILE unreadable: exit 1, one line naming it",
                 result.returncode == 1 and len(lines) == 1 and "HF_TOKEN_FILE" in lines[0]
                 and missing in lines[0], repr(result.stderr))
    report.check("HF_TOKEN_FILE unreadable: no token in the output",
                 "hf_secret" not in result.stderr + result.stdout)


def check_make_baselines_creates_its_folder(report, binary, tmp):
    out = os.path.join(tmp, "new", "models")
    result = oracle.run(binary, ["models", "make-baselines", "--out", out])
    report.check("make-baselines --out into a missing folder: exit 0", result.returncode == 0,
                 result.stderr.strip())
    report.check("make-baselines --out into a missing folder: models written",
                 os.path.isdir(out) and len(os.listdir(out)) > 3, str(os.listdir(tmp)))


def check_nonsense_values(report, binary, tmp, models):
    out = os.path.join(tmp, "r.json")
    eval_args = ["eval", "--models", models, "--out", out, "--series", "4", "--length", "60"]
    for seed in ("-1", "18446744073709551616", "1e3"):
        one_line_failure(report, binary, f"eval --seed {seed}", eval_args + ["--seed", seed],
                         ["--seed", seed], out)
        one_line_failure(report, binary, f"synth --seed {seed}",
                         ["synth", "--seed", seed, "--out", os.path.join(tmp, "s")],
                         ["--seed", seed])
    for timeout in ("0", "-5"):
        one_line_failure(report, binary, f"--timeout-per-model {timeout}",
                         eval_args + ["--seed", "1", "--timeout-per-model", timeout],
                         ["--timeout-per-model", "> 0"], out)
    for precision, words in (("fp16", ["--precision", "fp16", "fp32", "tf32"]),
                             ("tf32", ["--precision", "tf32", "CUDA", "cpu"])):
        one_line_failure(report, binary, f"eval --precision {precision} on the CPU",
                         eval_args + ["--seed", "1", "--device", "cpu", "--precision", precision],
                         words, out)
    task = os.path.join(tmp, "task")
    oracle.run(binary, ["synth", "--seed", "1", "--series", "4", "--length", "60", "--out", task])
    one_line_failure(report, binary, "--series with --data",
                     ["eval", "--models", models, "--out", out, "--seed", "1", "--data", task,
                      "--series", "9"], ["--series", "--data"], out)
    one_line_failure(report, binary, "loss --quantiles with crps",
                     ["loss", "--metric", "crps", "--quantiles", "0.5", "--targets",
                      os.path.join(task, "targets.npy"), "--forecasts", "x.npy", "--out", out],
                     ["--quantiles", "crps"], out)
    result = one_line_failure(report, binary, "--memory-limit-mib too small",
                              eval_args + ["--seed", "1", "--memory-limit-mib", "100"],
                              ["--memory-limit-mib", "at least"], out)
    minimum = re.search(r"at least (\d+) MiB", result.stderr)
    if minimum:  # the minimum given is enough for a worker to run the model
        result = oracle.run(binary, eval_args + ["--seed", "1", "--memory-limit-mib",
                                                 minimum.group(1)])
        report.check("--memory-limit-mib at the stated minimum runs the model",
                     result.returncode == 0 and '"status": "ok"' in open(out).read(),
                     result.stderr.strip())
        os.remove(out)
    one_line_failure(report, binary, "--out in a missing folder",
                     ["eval", "--models", models, "--seed", "1", "--out",
                      os.path.join(tmp, "nope", "r.json")], ["--out", "nope", "no such folder"])
    duplicate = os.path.join(tmp, "duplicate")
    os.makedirs(duplicate)
    shutil.copy(os.path.join(models, "2_mean.pt"), os.path.join(duplicate, "2_a.pt"))
    shutil.copy(os.path.join(models, "2_mean.pt"), os.path.join(duplicate, "b2.pt"))
    one_line_failure(report, binary, "shared uid names the files",
                     ["eval", "--models", duplicate, "--out", out, "--seed", "1"],
                     ["uid 2", "2_a.pt", "b2.pt"], out)


def check_eval_output(report, binary, tmp, models):
    out = os.path.join(tmp, "ok.json")
    result = oracle.run(binary, ["eval", "--models", models, "--out", out, "--seed", "1",
                                 "--series", "6", "--length", "80"])
    report.check("eval: weight column explained", "softmax of this round" in result.stdout,
                 result.stdout[-400:])
    # Two models that fail the same way: a machine problem, so eval exits non-zero.
    broken = os.path.join(tmp, "broken")
    os.makedirs(broken)
    for name in ("1_a.pt", "2_b.pt"):
        write(os.path.join(broken, name), "not an archive")
    result = oracle.run(binary, ["eval", "--models", broken, "--out", out, "--seed", "1",
                                 "--isolation", "none", "--series", "4", "--length", "60"])
    report.check("eval: refusals alone are not a machine problem", result.returncode == 0,
                 result.stderr.strip())
    failing = os.path.join(tmp, "failing")
    os.makedirs(failing)
    script = ("import torch, sys\n"
              "from typing import List\n"
              "class Fails(torch.nn.Module):\n"
              "    def forward(self, x: torch.Tensor) -> torch.Tensor:\n"
              "        return x\n"
              "    @torch.jit.export\n"
              "    def forecast(self, inputs: torch.Tensor, prediction_length: int,\n"
              "                 quantiles: List[float]) -> torch.Tensor:\n"
              "        return inputs.view(7, 7, 7, 7)\n"
              "for path in sys.argv[1:]:\n"
              "    torch.jit.script(Fails()).save(path)\n")
    source = write(os.path.join(tmp, "make_failing.py"), script)  # TorchScript reads the source
    made = subprocess.run(["/usr/bin/python3", source, os.path.join(failing, "1_a.pt"),
                           os.path.join(failing, "2_b.pt")], capture_output=True, text=True)
    if made.returncode != 0:
        print(f"SKIP all-failed check: cannot script a model ({made.stderr.strip()[-200:]})")
        return
    result = oracle.run(binary, ["eval", "--models", failing, "--out", out, "--seed", "1",
                                 "--series", "4", "--length", "60"])
    report.check("eval: every model failing alike exits non-zero", result.returncode != 0
                 and "every model failed the same way" in result.stderr, result.stderr.strip())
    report.check("eval: result.json still written then", os.path.exists(out))

    # A 3-argument model on padded inputs: eval says it cannot see the lengths.
    three = os.path.join(tmp, "three")
    os.makedirs(three)
    script = script.replace("return inputs.view(7, 7, 7, 7)",
                            "return inputs.new_zeros([inputs.size(0), prediction_length, 1, "
                            "len(quantiles)])")
    source = write(os.path.join(tmp, "make_three.py"), script)
    subprocess.run(["/usr/bin/python3", source, os.path.join(three, "5_zero.pt")], check=True)
    shutil.copy(os.path.join(models, "2_mean.pt"), three)
    result = oracle.run(binary, ["eval", "--models", three, "--out", out, "--seed", "1",
                                 "--series", "6", "--length", "80"])
    hint = [line for line in result.stdout.splitlines() if line.startswith("hint:")]
    report.check("eval: one hint line names the 3-argument model only",
                 len(hint) == 1 and "uid 5 does not" in hint[0] and "lengths" in hint[0], repr(hint))


def main():
    binary = oracle.binary_from_argv()
    report = oracle.Report()
    with tempfile.TemporaryDirectory() as tmp:
        models = make_baselines(binary, os.path.join(tmp, "models"))
        for name in os.listdir(models):  # two small models are enough
            if name not in ("2_mean.pt", "0_naive.pt"):
                path = os.path.join(models, name)
                shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        check_version_and_subcommands(report, binary)
        check_config_files(report, binary, tmp, models)
        check_nonsense_values(report, binary, tmp, models)
        check_validator_flags(report, binary, tmp)
        check_make_baselines_creates_its_folder(report, binary, tmp)
        check_hub_token_file(report, binary, tmp)
        check_eval_output(report, binary, tmp, models)
    report.finish()


if __name__ == "__main__":
    main()
